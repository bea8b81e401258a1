#!/usr/bin/env python3
"""Builds the seed corpus for policy_evaluate from crates/policy/tests/cases/*.json: each
policy document of each case, followed by a NUL and the case's request (action, resource,
`key=value` lines) in the fuzz target's layout. The corpus is not committed."""
import glob, hashlib, json, os

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus", "policy_evaluate")
os.makedirs(out, exist_ok=True)


def document(entry):
    if "document" in entry:
        d = entry["document"]
        return d if isinstance(d, str) else json.dumps(d)
    doc = {}
    if entry.get("version", "2012-10-17") is not None:
        doc["Version"] = entry.get("version", "2012-10-17")
    doc["Statement"] = entry["statements"]
    return json.dumps(doc)


def scalar(v):
    return json.dumps(v) if isinstance(v, bool) else str(v)


count = 0
for path in sorted(glob.glob(os.path.join(here, "..", "crates", "policy", "tests", "cases", "*.json"))):
    table = json.load(open(path))
    defaults = table.get("default_context") or {}
    for case in table.get("cases", []):
        ctx = dict(defaults)
        ctx.update(case.get("context") or {})
        lines = [ctx.get("action", "s3:GetObject"), ctx.get("resource", "*")]
        for k, v in (ctx.get("keys") or {}).items():
            if v is None:
                lines.append("-" + k)
            elif isinstance(v, list):
                lines.append(k + "=" + "|".join(scalar(x) for x in v) + ("|" if len(v) == 1 else ""))
            else:
                lines.append(k + "=" + scalar(v))
        tail = "\n".join(lines).encode()
        entries = case.get("policies") or ([{"document": case["document"]}] if "document" in case else [])
        for entry in entries:
            flags = 0x08 if any(isinstance(v, (int, float)) for v in (ctx.get("keys") or {}).values()) else 0
            blob = bytes([flags]) + document(entry).encode() + b"\0" + tail
            name = hashlib.sha1(blob).hexdigest()
            with open(os.path.join(out, name), "wb") as f:
                f.write(blob)
            count += 1
print(count, "seeds in", out)
