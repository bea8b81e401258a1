#!/usr/bin/env python3
"""Differential test of rampart-policy against two oracles (see README.md here).

Generates identity-policy cases from a fixed seed, has Rampart decide them all in one
process (`crates/policy/examples/decide.rs`), has @cloud-copilot/iam-simulate decide them over
a process boundary (`iam_simulate.mjs`), and has moto's IAMPolicy decide the subset moto
supports (in this process). Prints "N passed, M failed" and exits 1 on any disagreement
that DIFFERENTIAL.md does not explain (see `explained`).

usage: differential.py DECIDE_BINARY [--cases N] [--seed S] [--dump DIR]
"""
import argparse
import copy
import datetime
import json
import os
import random
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "111122223333"

# (action, resource) pairs the oracle accepts: real actions, ARNs of a resource type the
# action takes (iam-simulate validates both against its IAM data).
REQUESTS = [
    ("s3:GetObject", "arn:aws:s3:::bucket-a/home/alice/notes.txt"),
    ("s3:GetObject", "arn:aws:s3:::bucket-b/data/x.csv"),
    ("s3:PutObject", "arn:aws:s3:::bucket-a/home/bob/todo.txt"),
    ("s3:DeleteObject", "arn:aws:s3:::bucket-a/locked/a.bin"),
    ("s3:ListBucket", "arn:aws:s3:::bucket-a"),
    ("s3:ListBucket", "arn:aws:s3:::Bucket-A"),
    ("dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders"),
    ("dynamodb:PutItem", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/Users"),
    ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue-1"),
    ("sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:444455556666:queue-2"),
    ("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/app/Role1"),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/Admin"),
    ("ec2:DescribeInstances", "*"),
    ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf"),
    ("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn-1"),
    ("sns:Publish", f"arn:aws:sns:us-east-1:{ACCOUNT}:topic-a"),
]

ACTION_PATTERNS = [
    "*", "s3:*", "s3:Get*", "s3:*Object", "s3:GetObject", "s3:PutObject", "s3:ListBucket",
    "s3:List*", "s3:Delete*", "dynamodb:*", "dynamodb:GetItem", "dynamodb:*Item",
    "sqs:*", "sqs:SendMessage", "sqs:*Message", "iam:Get*", "iam:PassRole", "iam:*",
    "ec2:Describe*", "ec2:*", "secretsmanager:*", "secretsmanager:Get*", "lambda:Invoke*", "sns:Publish",
    "s3:*Obj*", "sns:*",
]
# Patterns outside moto's subset: `?` (moto builds a regex from the pattern) and a case
# other than the action's (moto matches actions case-sensitively).
ACTION_PATTERNS_EXTRA = [
    "s3:getobject", "S3:GETOBJECT", "s3:Get?bject", "dynamodb:Get?tem", "s3:get*",
    "SQS:sendmessage", "s3:?ist*", "iam:*ROLE",
]

RESOURCE_PATTERNS = [
    "*", "arn:aws:s3:::bucket-a/*", "arn:aws:s3:::bucket-a", "arn:aws:s3:::*",
    "arn:aws:s3:::bucket-*/*", "arn:aws:s3:::bucket-a/home/*", "arn:aws:s3:::bucket-a/home/*/notes.txt",
    "arn:aws:s3:::bucket-b/data/x.csv", "arn:aws:s3:::Bucket-A", "arn:aws:s3:::bucket-a*",
    f"arn:aws:dynamodb:*:{ACCOUNT}:table/*", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders",
    "arn:aws:dynamodb:us-east-1:*:table/Ord*", "arn:aws:sqs:*:*:queue-*",
    f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue-1", f"arn:aws:iam::{ACCOUNT}:role/*",
    "arn:aws:iam::*:role/app/*", f"arn:aws:iam::{ACCOUNT}:role/Admin",
    f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:db-*", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:*",
    f"arn:aws:sns:us-east-1:{ACCOUNT}:topic-a", "arn:aws:*:*:*:*", "arn:aws:s3:::*/home/*",
]
RESOURCE_PATTERNS_EXTRA = [
    "arn:aws:s3:::bucket-?/*", "arn:aws:s3:::bucket-a/home/?????/*", "arn:aws:sqs:us-east-?:*:queue-?",
]

# Condition keys: (key, candidate request values, candidate policy values per operator family).
CONDITION_KEYS = {
    "aws:RequestedRegion": {
        "request": ["us-east-1", "eu-west-1", "ap-south-1"],
        "String": ["us-east-1", "eu-west-1", "us-*", "*-west-?", "US-EAST-1"],
    },
    "aws:PrincipalTag/team": {
        "request": ["blue", "red", "Blue", ""],
        "String": ["blue", "red", "bl*", "*", "Blue"],
    },
    "aws:MultiFactorAuthAge": {
        "request": ["50", "3600", "7200", "0"],
        "Numeric": ["100", "3600", "7200.5", "-1", "0"],
    },
    "aws:SecureTransport": {"request": ["true", "false"], "Bool": ["true", "false"]},
    "aws:MultiFactorAuthPresent": {"request": ["true", "false"], "Bool": ["true", "false"]},
    "aws:SourceIp": {
        "request": ["10.1.2.3", "192.0.2.44", "203.0.113.5", "198.51.100.1", "2001:db8::1"],
        "Ip": ["10.0.0.0/8", "192.0.2.0/24", "203.0.113.5/32", "2001:db8::/32", "203.0.113.5"],
    },
    "aws:CurrentTime": {
        "request": ["2023-05-01T00:00:00Z", "2024-06-01T12:00:00Z", "2026-01-01T00:00:00Z"],
        "Date": ["2024-01-01T00:00:00Z", "2025-06-01", "2024-06-01T12:00:00Z", "1717243200"],
    },
    "aws:SourceArn": {
        "request": [f"arn:aws:sns:us-east-1:{ACCOUNT}:topic-a", "arn:aws:sns:eu-west-1:444455556666:topic-b"],
        "Arn": [f"arn:aws:sns:us-east-1:{ACCOUNT}:*", "arn:aws:sns:*:*:topic-a", "arn:aws:sns:*:*:*",
                f"arn:aws:sns:us-east-1:{ACCOUNT}:topic-a", "arn:aws:sqs:*:*:*"],
    },
}
MULTI_KEY = "aws:TagKeys"
MULTI_REQUEST = [[], ["Project"], ["Project", "Owner"], ["CostCenter"], ["project"]]
MULTI_POLICY = ["Project", "Owner", "Cost*", "project"]

OPERATORS = {
    "String": ["StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "StringEqualsIgnoreCase"],
    "Numeric": ["NumericLessThan", "NumericGreaterThanEquals", "NumericEquals", "NumericNotEquals"],
    "Bool": ["Bool"],
    "Ip": ["IpAddress", "NotIpAddress"],
    "Date": ["DateGreaterThan", "DateLessThan", "DateEquals"],
    "Arn": ["ArnLike", "ArnNotLike", "ArnEquals"],
}


def one_or_list(rng, values):
    return values[0] if len(values) == 1 and rng.random() < 0.5 else values


def condition(rng):
    cond = {}
    for _ in range(rng.choice([1, 1, 1, 2])):
        r = rng.random()
        if r < 0.12:
            op = rng.choice(["ForAnyValue:StringEquals", "ForAnyValue:StringLike",
                             "ForAllValues:StringEquals", "ForAllValues:StringLike",
                             "ForAnyValue:StringNotEquals", "ForAllValues:StringNotLike"])
            cond.setdefault(op, {})[MULTI_KEY] = one_or_list(rng, rng.sample(MULTI_POLICY, rng.randint(1, 2)))
        elif r < 0.22:
            key = rng.choice(list(CONDITION_KEYS) + [MULTI_KEY])
            cond.setdefault("Null", {})[key] = rng.choice(["true", "false"])
        else:
            key = rng.choice(list(CONDITION_KEYS))
            family = next(f for f in CONDITION_KEYS[key] if f != "request")
            op = rng.choice(OPERATORS[family])
            if rng.random() < 0.25:
                op += "IfExists"
            values = rng.sample(CONDITION_KEYS[key][family], rng.randint(1, 2))
            cond.setdefault(op, {})[key] = one_or_list(rng, values)
    return cond


def statement(rng, plain):
    s = {}
    if rng.random() < 0.3:
        s["Sid"] = f"S{rng.randint(0, 99)}"  # made unique per policy in policy()
    s["Effect"] = "Deny" if rng.random() < 0.35 else "Allow"
    actions = ACTION_PATTERNS if plain else ACTION_PATTERNS + ACTION_PATTERNS_EXTRA
    resources = RESOURCE_PATTERNS if plain else RESOURCE_PATTERNS + RESOURCE_PATTERNS_EXTRA
    key = "NotAction" if rng.random() < 0.2 else "Action"
    s[key] = one_or_list(rng, rng.sample(actions, rng.randint(1, 3)))
    key = "NotResource" if not plain and rng.random() < 0.15 else "Resource"
    s[key] = one_or_list(rng, rng.sample(resources, rng.randint(1, 3)))
    if not plain and rng.random() < 0.6:
        s["Condition"] = condition(rng)
    return s


def policy(rng, plain):
    statements = [statement(rng, plain) for _ in range(rng.randint(1, 4))]
    for i, s in enumerate(statements):
        if "Sid" in s:  # IAM refuses duplicate Sids in one policy
            s["Sid"] += f"n{i}"
    doc = {"Version": "2012-10-17"}
    doc["Statement"] = statements[0] if len(statements) == 1 and rng.random() < 0.3 else statements
    return doc


def request_context(rng):
    ctx = {}
    for key, spec in CONDITION_KEYS.items():
        if rng.random() < 0.6:
            ctx[key] = rng.choice(spec["request"])
    if rng.random() < 0.6:
        ctx[MULTI_KEY] = rng.choice(MULTI_REQUEST)
    return ctx


def make_case(rng, i, plain):
    action, resource = rng.choice(REQUESTS)
    policies = [policy(rng, plain) for _ in range(rng.choice([1, 1, 1, 2]))]
    fields = resource.split(":")
    account = fields[4] if len(fields) > 4 and fields[4] else ACCOUNT
    return {"id": i, "policies": policies, "action": action, "resource": resource,
            "resource_account": account, "context": request_context(rng)}


def in_moto_subset(case):
    """moto's IAMPolicy: Action/NotAction and Resource with `*` wildcards, no Condition
    (moto ignores every operator but StringEquals, treats a missing key as a match and a
    false condition as a Deny), no NotResource (a statement without Resource is PERMITTED),
    no `?` (a regex quantifier to moto), action patterns in the action's own case, and
    requests in the caller's account (moto has no cross-account evaluation)."""
    if case["resource_account"] != ACCOUNT:
        return False
    for doc in case["policies"]:
        statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        for s in statements:
            if "Condition" in s or "NotResource" in s:
                return False
            for key in ("Action", "NotAction"):
                for p in [s[key]] if isinstance(s.get(key), str) else s.get(key, []):
                    if p not in ACTION_PATTERNS:
                        return False
            for p in [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]:
                if "?" in p:
                    return False
    return True


def moto_decide(case):
    from moto.iam.access_control import IAMPolicy, PermissionResult

    permitted = False
    for doc in case["policies"]:
        result = IAMPolicy(json.dumps(doc)).is_action_permitted(case["action"], case["resource"])
        if result == PermissionResult.DENIED:
            return "explicitDeny"
        if result == PermissionResult.PERMITTED:
            permitted = True
    return "allowed" if permitted else "implicitDeny"


def run_lines(cmd, cases, cwd=None):
    payload = "".join(json.dumps(c) + "\n" for c in cases)
    proc = subprocess.run(cmd, input=payload, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    answers = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            a = json.loads(line)
            answers[a["id"]] = a
    return answers


# Known oracle errors, each documented in crates/policy/DIFFERENTIAL.md. A disagreement counts
# as explained only if rewriting the case into an equivalent one (equivalent by the AWS
# documentation cited there) that avoids the oracle's error makes the oracle agree with
# Rampart, and Rampart answers the rewritten case as it answered the original.
IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
EPOCH = re.compile(r"^-?\d+$")


def _conditions(case):
    for doc in case["policies"]:
        statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        for st in statements:
            for op, block in st.get("Condition", {}).items():
                yield op, block


def _map_values(case, op_test, fn):
    for op, block in _conditions(case):
        if op_test(op):
            for key, values in block.items():
                block[key] = [fn(v) for v in values] if isinstance(values, list) else fn(values)


def rewrite_bare_ipv4(case):
    """iam-simulate: a bare IPv4 address (no /prefix) never matches an IPv6 request value,
    not even for NotIpAddress. Same address as a /32 CIDR."""
    _map_values(case, lambda op: "IpAddress" in op,
                lambda v: v + "/32" if IPV4.match(v) else v)


def rewrite_epoch_dates(case):
    """iam-simulate: an epoch-seconds policy value is compared as seconds against
    milliseconds from Date.parse. Same instant in ISO 8601."""
    iso = lambda v: (datetime.datetime.fromtimestamp(int(v), datetime.timezone.utc)
                     .strftime("%Y-%m-%dT%H:%M:%SZ")) if EPOCH.match(v) else v
    _map_values(case, lambda op: op.startswith("Date"), iso)


def rewrite_empty_set(case):
    """iam-simulate: a multivalued key sent with no values is present to `Null`; AWS treats
    a key that resolves to an empty set as absent. Same request without the key."""
    for key in [k for k, v in case["context"].items() if v == []]:
        del case["context"][key]


REWRITES = [
    ("bare IPv4 address vs an IPv6 request", rewrite_bare_ipv4),
    ("epoch seconds as a Date policy value", rewrite_epoch_dates),
    ("an empty multivalued key is absent", rewrite_empty_set),
]


def explain_with_rewrites(decide, failures):
    """Splits iam-simulate disagreements into (explained: {why: n}, unexplained: [...])."""
    candidates = []
    for failure in failures:
        name, case, mine, theirs = failure
        if name != "iam-simulate" or "error" in str(mine):
            continue
        whys = []
        rewritten = copy.deepcopy(case)
        for why, rewrite in REWRITES:
            before = json.dumps(rewritten, sort_keys=True)
            rewrite(rewritten)
            if json.dumps(rewritten, sort_keys=True) != before:
                whys.append(why)
        if whys:
            candidates.append((failure, rewritten, whys))
    if not candidates:
        return {}, failures
    ours = run_lines([decide], [c[1] for c in candidates])
    sim = run_lines(["node", os.path.join(HERE, "iam_simulate.mjs")], [c[1] for c in candidates], cwd=HERE)
    explained, done = {}, set()
    for failure, rewritten, whys in candidates:
        _, case, mine, _ = failure
        again = ours[rewritten["id"]].get("decision")
        oracle = sim[rewritten["id"]].get("decision")
        if again == mine and oracle == mine:
            why = " + ".join(whys)
            explained[why] = explained.get(why, 0) + 1
            done.add(id(failure))
    return explained, [f for f in failures if id(f) not in done]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("decide")
    ap.add_argument("--cases", type=int, default=12000)
    ap.add_argument("--plain", type=int, default=11000, help="extra cases inside moto's subset")
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--dump", help="write cases and disagreements here")
    ap.add_argument("--show", type=int, default=10)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    cases = [make_case(rng, i, plain=False) for i in range(args.cases)]
    cases += [make_case(rng, args.cases + i, plain=True) for i in range(args.plain)]

    t = time.time()
    ours = run_lines([args.decide], cases)
    t_ours = time.time() - t
    t = time.time()
    sim = run_lines(["node", os.path.join(HERE, "iam_simulate.mjs")], cases, cwd=HERE)
    t_sim = time.time() - t

    stats = {"iam-simulate": [0, 0, 0, 0], "moto": [0, 0, 0, 0]}  # compared, agreed, explained, skipped
    failures = []
    explained_counts = {}
    t = time.time()
    for case in cases:
        mine = ours[case["id"]]
        oracles = [("iam-simulate", sim[case["id"]])]
        if in_moto_subset(case):
            oracles.append(("moto", {"decision": moto_decide(case)}))
        for name, answer in oracles:
            s = stats[name]
            if "error" in answer and "error" in mine:
                s[3] += 1  # both refuse the case
                continue
            s[0] += 1
            if answer.get("decision", answer.get("error")) == mine.get("decision", mine.get("error")):
                s[1] += 1
                continue
            failures.append((name, case, mine.get("decision", mine.get("error")),
                             answer.get("decision", answer.get("error"))))
    t_moto = time.time() - t
    explained_counts, failures = explain_with_rewrites(args.decide, failures)
    stats["iam-simulate"][2] = sum(explained_counts.values())

    print(f"seed {args.seed}: {len(cases)} generated cases; rampart {t_ours:.1f}s, "
          f"iam-simulate {t_sim:.1f}s, moto {t_moto:.1f}s")
    spread = {}
    for a in ours.values():
        spread[a.get("decision", "error")] = spread.get(a.get("decision", "error"), 0) + 1
    print("  rampart's decisions: " + ", ".join(f"{n} {d}" for d, n in sorted(spread.items())))
    for name, (compared, agreed, expl, skipped) in stats.items():
        print(f"  {name}: {compared} compared, {agreed} agree, {expl} disagree as DIFFERENTIAL.md "
              f"explains, {skipped} refused by both")
    for why, n in sorted(explained_counts.items()):
        print(f"    iam-simulate: {n} x {why} (DIFFERENTIAL.md)")
    for name, case, mine, theirs in failures[: args.show]:
        print(f"\nDISAGREEMENT with {name}: rampart {mine}, {name} {theirs}\n  {json.dumps(case)}")
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        with open(os.path.join(args.dump, "failures.jsonl"), "w") as f:
            for name, case, mine, theirs in failures:
                f.write(json.dumps({"oracle": name, "rampart": mine, "theirs": theirs, "case": case}) + "\n")
        with open(os.path.join(args.dump, "refused.jsonl"), "w") as f:
            for case in cases:
                if "error" in sim[case["id"]]:
                    f.write(json.dumps({"error": sim[case["id"]]["error"], "case": case}) + "\n")
    total = sum(s[0] for s in stats.values())
    passed = total - len(failures)
    print(f"\n{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
