"""Helpers for the key-custody tests: root key files and ids, running `rampart` to completion,
and scanning stores for values that must never be there."""

import base64
import hashlib
import hmac
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from conftest import BIN


def root_key_id(raw: bytes) -> str:
    """A root key's id as Rampart derives it: HKDF-SHA-256 (empty salt) under a fixed label,
    8 bytes, hex."""
    prk = hmac.new(b"", raw, hashlib.sha256).digest()
    return hmac.new(prk, b"rampart root key: id\x01", hashlib.sha256).digest()[:8].hex()


def write_key_file(path: Path, raw: bytes) -> Path:
    """A private file holding one raw 32-byte key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    return path


def keyring_ids(path: Path) -> list:
    """The key ids listed in a keyring file, in order."""
    return [line.split()[0] for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def keyring_keys(path: Path) -> list:
    """The raw keys of a keyring file, in order."""
    return [base64.b64decode(line.split()[1]) for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def rampart(*args, env=None, timeout=120):
    """Runs `rampart <args>` to completion."""
    proc_env = {k: v for k, v in os.environ.items() if k != "RAMPART_ROOT_KEY"}
    proc_env.update(env or {})
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=timeout,
                          env=proc_env)


def serve_once(data_dir: Path, *args, env=None, timeout=60):
    """`rampart serve` that is expected to exit by itself (refusing to start)."""
    return rampart("serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *args,
                   env=env, timeout=timeout)


def file_hashes(directory: Path) -> dict:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def settle_sqlite(db: Path):
    """Folds a WAL a previous process left into the database and removes it, as SQLite does on
    a clean last close, so that the database file alone holds the store."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    assert not Path(f"{db}-wal").exists()


def sqlite_store_state(directory: Path) -> dict:
    """Every file's hash, less SQLite's bookkeeping: a `-shm` file (the WAL's index, no data)
    and an empty `-wal` (no frame written) that opening the database may leave behind."""
    state = {}
    for name, digest in file_hashes(directory).items():
        if name.endswith("-shm"):
            continue
        if name.endswith("-wal") and (directory / name).stat().st_size == 0:
            continue
        state[name] = digest
    return state


def encodings(raw: bytes) -> dict:
    """`raw` as a store might hold it: itself, base64 (whole, and its distinctive middle at each
    alignment, so a value embedded in a longer base64 string is caught), hex."""
    out = {"raw": raw, "base64": base64.b64encode(raw), "hex": raw.hex().encode()}
    for shift in range(3):
        middle = base64.b64encode(raw[shift: shift + 24])[:28]
        if len(middle) >= 16:
            out[f"base64+{shift}"] = middle
    return out


def hits(haystack: bytes, needles: dict) -> list:
    """Which (needle, form) pairs occur in `haystack` (hex compared case-insensitively)."""
    lowered = haystack.lower()
    found = []
    for what, value in needles.items():
        for form, encoded in encodings(value).items():
            if encoded in (lowered if form == "hex" else haystack):
                found.append((what, form))
    return found


def pg_dump(store_url: str) -> bytes:
    """`pg_dump --data-only` of the store URL's schema, less the random `\\restrict` key
    recent pg_dump versions put in every dump (so that two dumps of the same data are equal)."""
    parts = urlsplit(store_url)
    schema = parse_qs(parts.query)["schema"][0]
    url = urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))
    out = subprocess.run(["pg_dump", f"--schema={schema}", "--data-only", url],
                         capture_output=True, timeout=120, check=True).stdout
    return b"".join(line for line in out.splitlines(keepends=True)
                    if not line.startswith((b"\\restrict ", b"\\unrestrict ")))


def with_bytea_decoded(dump: bytes) -> bytes:
    """The dump with every bytea literal (`\\x…`) also appended decoded, so that a value
    inside a bytea column is matched in every form."""
    decoded = [bytes.fromhex(m.decode()) for m in re.findall(rb"\\{1,2}x((?:[0-9a-f]{2})+)", dump)]
    return dump + b"\n" + b"\n".join(decoded)
