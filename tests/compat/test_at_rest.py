"""Nothing sensitive at rest, and a store that only its own root key opens.

Secrets (SecretString and SecretBinary, several versions), a KMS data key and an IAM
access-key secret are created through boto3; then every file of the data directory (SQLite
database, WAL, shared memory, everything) — or a `pg_dump` of the PostgreSQL schema — is
scanned for each value raw, in base64 and in hex: no hit. Starting with another root key (from
a file, `RAMPART_ROOT_KEY` or `--root-key-cmd`) or none exits non-zero with a message naming
both keys, and leaves the store byte-for-byte as it was (the SQLite database file and every
other file identical, no WAL frame written; only an empty `-wal` and the `-shm` index that
opening the database may leave are not compared); starting with the right key reads every
value back."""

import base64
import os
import signal
import uuid

import pytest

from conftest import start_server
from root_key_helpers import (hits, keyring_ids, pg_dump, root_key_id, serve_once,
                              settle_sqlite, sqlite_store_state, with_bytea_decoded,
                              write_key_file)


def _store_values(srv):
    """Creates distinctive secrets of every kind; answers what must never be at rest and what
    must read back."""
    sm, kms, iam = srv.client("secretsmanager"), srv.client("kms"), srv.client("iam")
    marker = uuid.uuid4().hex
    text = f"at-rest-text-{marker}"
    text2 = f"at-rest-text-v2-{marker}"
    binary = b"at-rest-binary-" + os.urandom(40)
    binary2 = b"at-rest-binary-v2-" + os.urandom(40)
    names = [f"at-rest-a-{marker[:8]}", f"at-rest-b-{marker[:8]}"]
    key_id = kms.create_key(Description="at rest")["KeyMetadata"]["KeyId"]
    a = sm.create_secret(Name=names[0], SecretString=text)["ARN"]
    sm.put_secret_value(SecretId=a, SecretString=text2)
    b = sm.create_secret(Name=names[1], SecretBinary=binary, KmsKeyId=key_id)["ARN"]
    sm.put_secret_value(SecretId=b, SecretBinary=binary2)
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    user = f"at-rest-user-{marker[:8]}"
    iam.create_user(UserName=user)
    access_key = iam.create_access_key(UserName=user)["AccessKey"]
    never = {
        "text": text.encode(), "text v2": text2.encode(), "marker": marker.encode(),
        "binary": binary, "binary tail": binary[-40:], "binary v2": binary2,
        "binary v2 tail": binary2[-40:], "data key": data_key["Plaintext"],
        "access key secret": access_key["SecretAccessKey"].encode(),
    }
    readback = {
        "a": a, "b": b, "text": text, "text2": text2, "binary": binary, "binary2": binary2,
        "blob": data_key["CiphertextBlob"], "plaintext": data_key["Plaintext"],
        "access_key_id": access_key["AccessKeyId"],
        "secret_access_key": access_key["SecretAccessKey"], "user": user,
    }
    # Positive controls: what is stored in the clear (names) must be found by the same scan.
    visible = [n.encode() for n in names] + [user.encode()]
    _read_back(srv, readback)
    return never, readback, visible


def _read_back(srv, r):
    sm, kms = srv.client("secretsmanager"), srv.client("kms")
    assert sm.get_secret_value(SecretId=r["a"])["SecretString"] == r["text2"]
    assert sm.get_secret_value(SecretId=r["a"], VersionStage="AWSPREVIOUS")["SecretString"] == r["text"]
    assert sm.get_secret_value(SecretId=r["b"])["SecretBinary"] == r["binary2"]
    assert sm.get_secret_value(SecretId=r["b"], VersionStage="AWSPREVIOUS")["SecretBinary"] == r["binary"]
    assert kms.decrypt(CiphertextBlob=r["blob"])["Plaintext"] == r["plaintext"]
    sts = srv.client("sts", aws_access_key_id=r["access_key_id"],
                     aws_secret_access_key=r["secret_access_key"])
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{r['user']}")


def _data_dir_bytes(srv):
    files = [p for p in srv.data_dir.rglob("*") if p.is_file()]
    return files, b"\n".join(p.read_bytes() for p in files + [srv.stdout_path, srv.stderr_path])


def _refusals(data_dir, right_id, extra_args=()):
    """Every way of starting with a wrong key or none: each exits non-zero with a clear message."""
    other = os.urandom(32)
    other_id = root_key_id(other)
    other_file = write_key_file(data_dir.parent / f"other-{uuid.uuid4().hex[:6]}.key", other)
    b64 = base64.b64encode(other).decode()
    wrong = [
        ("--root-key-file", [*extra_args, "--root-key-file", str(other_file)], None),
        ("RAMPART_ROOT_KEY", list(extra_args), {"RAMPART_ROOT_KEY": b64}),
        ("--root-key-cmd", [*extra_args, "--root-key-cmd", f"printf '%s\\n' {b64}"], None),
    ]
    for how, args, env in wrong:
        out = serve_once(data_dir, *args, env=env)
        assert out.returncode != 0, (how, out.stdout, out.stderr)
        assert "Rampart listening" not in out.stdout
        message = (f"the root key {other_id} does not open this store (sealed under root key "
                   f"{right_id}); pass the right --root-key-file / RAMPART_ROOT_KEY / --root-key-cmd")
        assert message in out.stderr, (how, out.stderr)
        assert b64 not in out.stderr + out.stdout
    # No key at all for a store that has one: refused, and no key is created.
    absent = data_dir.parent / f"absent-{uuid.uuid4().hex[:6]}.key"
    out = serve_once(data_dir, *extra_args, "--root-key-file", str(absent))
    assert out.returncode != 0
    assert "holds sealed data but the root key file" in out.stderr and "no new key was created" in out.stderr, out.stderr
    assert not absent.exists()
    # A key file others may read: refused.
    loose = write_key_file(data_dir.parent / f"loose-{uuid.uuid4().hex[:6]}.key", os.urandom(32))
    os.chmod(loose, 0o644)
    out = serve_once(data_dir, *extra_args, "--root-key-file", str(loose))
    assert out.returncode != 0 and "chmod 600" in out.stderr, out.stderr


def test_sqlite_at_rest_and_only_the_right_root_key_opens_it(tmp_path):
    data_dir = tmp_path / "data"
    srv = start_server(data_dir)
    try:
        never, readback, visible = _store_values(srv)
        # While it runs (the WAL holds the latest writes) …
        files, blob = _data_dir_bytes(srv)
        assert any(p.name.endswith("-wal") for p in files), [p.name for p in files]
        assert all(v in blob for v in visible), "the scan must see what is stored in the clear"
        assert hits(blob, never) == []
    finally:
        srv.kill(signal.SIGTERM)
    # … and after a clean stop.
    files, blob = _data_dir_bytes(srv)
    assert all(v in blob for v in visible)
    assert hits(blob, never) == []

    right_id = keyring_ids(data_dir / "root.key")[0]
    assert (data_dir / "root.key").stat().st_mode & 0o777 == 0o600
    settle_sqlite(data_dir / "rampart.db")
    before = sqlite_store_state(data_dir)
    assert set(before) == {"admin-credentials", "rampart.db", "root.key"}, before
    _refusals(data_dir, right_id)
    # The default key file missing: refused too, and not re-created.
    (data_dir / "root.key").rename(tmp_path / "root.key.aside")
    out = serve_once(data_dir)
    assert out.returncode != 0 and "no new key was created" in out.stderr, out.stderr
    assert not (data_dir / "root.key").exists()
    (tmp_path / "root.key.aside").rename(data_dir / "root.key")
    assert sqlite_store_state(data_dir) == before, "a refused start changed the data directory"

    # The right key, named by the deprecated --master-key-file: everything reads back.
    srv = start_server(data_dir, ["--master-key-file", str(data_dir / "root.key")])
    try:
        _read_back(srv, readback)
    finally:
        srv.kill(signal.SIGTERM)


def test_postgres_at_rest_and_only_the_right_root_key_opens_it(tmp_path, pg_store_url):
    data_dir = tmp_path / "pgdata"
    args = ["--store", pg_store_url]
    srv = start_server(data_dir, args)
    try:
        never, readback, visible = _store_values(srv)
    finally:
        srv.kill(signal.SIGTERM)
    dump = pg_dump(pg_store_url)
    decoded = with_bytea_decoded(dump)
    assert len(dump) > 1000
    assert all(v in decoded for v in visible), "the dump must be of the store that holds them"
    assert hits(decoded, never) == []
    _, logs = _data_dir_bytes(srv)
    assert hits(logs, never) == []

    right_id = keyring_ids(data_dir / "root.key")[0]
    _refusals(data_dir, right_id, args)
    assert pg_dump(pg_store_url) == dump, "a refused start changed the PostgreSQL store"

    srv = start_server(data_dir, args)
    try:
        _read_back(srv, readback)
    finally:
        srv.kill(signal.SIGTERM)


def test_root_key_from_the_environment_is_not_left_in_it(tmp_path):
    """`RAMPART_ROOT_KEY` bootstraps a store without a key file, and the process wipes it from
    its environment (nothing it starts inherits it; /proc shows no trace)."""
    raw = os.urandom(32)
    b64 = base64.b64encode(raw).decode()
    data_dir = tmp_path / "envdata"
    srv = start_server(data_dir, env={"RAMPART_ROOT_KEY": b64})
    try:
        assert not (data_dir / "root.key").exists()
        environ = open(f"/proc/{srv.proc.pid}/environ", "rb").read()
        assert b64.encode() not in environ
        assert b"RAMPART_LOG=debug" in environ, "the environment is readable (positive control)"
        sm = srv.client("secretsmanager")
        arn = sm.create_secret(Name="env-" + uuid.uuid4().hex[:8], SecretString="from env")["ARN"]
        assert b64 not in srv.logs()
    finally:
        srv.kill(signal.SIGTERM)
    out = serve_once(data_dir)
    assert out.returncode != 0 and "no new key was created" in out.stderr, out.stderr
    srv = start_server(data_dir, env={"RAMPART_ROOT_KEY": b64})
    try:
        assert srv.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"] == "from env"
    finally:
        srv.kill(signal.SIGTERM)
