"""`rampart keys rotate-root` while servers are running: reads (GetSecretValue, Decrypt, a
signature by an IAM user's key) never fail during or after the rotation, writes made meanwhile
stay readable, a rotation waits for (and refuses without) every running server holding the new
key, `--retire-previous` drops the old key once nothing uses it, and after a restart with only
the new key everything still reads. On SQLite, on two PostgreSQL nodes asking `--root-key-cmd`,
and on two PostgreSQL nodes with keyring files of their own."""

import base64
import json
import os
import signal
import threading
import time
import uuid

from conftest import start_server
from root_key_helpers import keyring_ids, rampart, root_key_id, write_key_file


class Readers:
    """Reads in a loop on their own threads until stopped, counting successes and failures."""

    def __init__(self, servers, values):
        self.servers, self.values = servers, values
        self.ok, self.failures = 0, []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.loop, args=(srv,)) for srv in servers]

    def loop(self, srv):
        sm, kms = srv.client("secretsmanager"), srv.client("kms")
        v = self.values
        sts = srv.client("sts", aws_access_key_id=v["access_key_id"],
                         aws_secret_access_key=v["secret_access_key"])
        while not self.stop.is_set():
            try:
                assert sm.get_secret_value(SecretId=v["secret"])["SecretString"] == v["text"]
                assert kms.decrypt(CiphertextBlob=v["blob"])["Plaintext"] == v["plaintext"]
                assert sts.get_caller_identity()["Arn"].endswith(f":user/{v['user']}")
                self.ok += 1
            except Exception as e:  # noqa: BLE001 — every failure is the finding
                self.failures.append(repr(e))
            time.sleep(0.02)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def _values(srv):
    sm, kms, iam = srv.client("secretsmanager"), srv.client("kms"), srv.client("iam")
    marker = uuid.uuid4().hex[:10]
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    text = f"rotate-{marker}"
    secret = sm.create_secret(Name=f"rotate-{marker}", SecretString=text, KmsKeyId=key_id)["ARN"]
    user = f"rotate-{marker}"
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    access_key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"secret": secret, "text": text, "blob": data_key["CiphertextBlob"],
            "plaintext": data_key["Plaintext"], "user": user,
            "access_key_id": access_key["AccessKeyId"],
            "secret_access_key": access_key["SecretAccessKey"]}


def _writes_meanwhile(srv):
    """Writes that seal under whichever root key the server seals under at that moment."""
    kms, sm, iam = srv.client("kms"), srv.client("secretsmanager"), srv.client("iam")
    marker = uuid.uuid4().hex[:10]
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"written meanwhile")["CiphertextBlob"]
    arn = sm.create_secret(Name=f"meanwhile-{marker}", SecretString=marker)["ARN"]
    user = f"meanwhile-{marker}"
    iam.create_user(UserName=user)
    access_key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"blob": blob, "arn": arn, "marker": marker, "user": user,
            "access_key_id": access_key["AccessKeyId"],
            "secret_access_key": access_key["SecretAccessKey"]}


def _check_meanwhile(srv, written):
    for w in written:
        assert srv.client("kms").decrypt(CiphertextBlob=w["blob"])["Plaintext"] == b"written meanwhile"
        assert srv.client("secretsmanager").get_secret_value(SecretId=w["arn"])["SecretString"] == w["marker"]
        sts = srv.client("sts", aws_access_key_id=w["access_key_id"],
                         aws_secret_access_key=w["secret_access_key"])
        assert sts.get_caller_identity()["Arn"].endswith(f":user/{w['user']}")


def _status(*args):
    out = rampart("keys", "status", "--json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _read_everything(srv, values, written):
    sm = srv.client("secretsmanager")
    assert sm.get_secret_value(SecretId=values["secret"])["SecretString"] == values["text"]
    assert srv.client("kms").decrypt(CiphertextBlob=values["blob"])["Plaintext"] == values["plaintext"]
    _check_meanwhile(srv, written)


def test_rotate_root_without_downtime_on_sqlite(tmp_path):
    data_dir = tmp_path / "data"
    srv = start_server(data_dir)
    store_args = ["--data-dir", str(data_dir)]
    old_id = keyring_ids(data_dir / "root.key")[0]
    values = _values(srv)
    written = [_writes_meanwhile(srv)]
    try:
        with Readers([srv], values) as readers:
            time.sleep(1)
            rotated = rampart("keys", "rotate-root", *store_args)
            assert rotated.returncode == 0, rotated.stderr
            ids = keyring_ids(data_dir / "root.key")
            new_id = ids[0]
            assert ids == [new_id, old_id] and new_id != old_id
            assert f"Re-wrapped" in rotated.stdout and f"under root key {new_id}" in rotated.stdout
            # Writes right after the rotation (the server may not have switched yet) and
            # after it follows the store's new key.
            written.append(_writes_meanwhile(srv))
            time.sleep(6)
            written.append(_writes_meanwhile(srv))
            retired = rampart("keys", "rotate-root", "--retire-previous", *store_args)
            assert retired.returncode == 0, retired.stdout + retired.stderr
            assert f"Retired root keys {old_id}" in retired.stdout
            assert keyring_ids(data_dir / "root.key") == [new_id]
            written.append(_writes_meanwhile(srv))
            time.sleep(2.5)  # past the key source re-read interval
            _check_meanwhile(srv, written)
        assert readers.failures == [], readers.failures[:5]
        assert readers.ok > 20, readers.ok
        assert "sealing under the new root key" in srv.logs()
        status = _status(*store_args)
        assert status["root_key_id"] == new_id
        assert set(status["sealed_values"]) == {new_id}, status
        assert [n["sealing"] for n in status["nodes"]] == [new_id]
    finally:
        srv.kill(signal.SIGTERM)

    # Restarted with only the new key: everything reads; the old key alone is refused.
    srv = start_server(data_dir)
    try:
        _read_everything(srv, values, written)
    finally:
        srv.kill(signal.SIGTERM)


def test_rotate_root_across_two_nodes_with_a_key_command(tmp_path, pg_store_url):
    """Two servers on one PostgreSQL store, each asking `--root-key-cmd` for its key (as an
    HSM or a cloud KMS would answer). The operator makes the source yield the new key first,
    rotates on a third machine's behalf with the same source, and retires the old key."""
    keys_file = tmp_path / "keys.txt"
    old = os.urandom(32)
    keys_file.write_text(base64.b64encode(old).decode() + "\n")
    os.chmod(keys_file, 0o600)
    source = ["--root-key-cmd", f"cat {keys_file}"]
    args = ["--store", pg_store_url, *source]
    a = start_server(tmp_path / "a", args)
    # Same data dir for the admin profile; the key comes from the command on both.
    b = start_server(tmp_path / "a", args)
    old_id, new = root_key_id(old), os.urandom(32)
    new_id = root_key_id(new)
    tool_args = ["--data-dir", str(tmp_path / "a"), "--store", pg_store_url, *source]
    try:
        values = _values(a)
        written = [_writes_meanwhile(b)]
        with Readers([a, b], values) as readers:
            # Without the new key in the source, rotation refuses to start.
            refused = rampart("keys", "rotate-root", *tool_args)
            assert refused.returncode != 0 and "make it yield the new key first" in refused.stderr, refused.stderr
            keys_file.write_text(f"{base64.b64encode(new).decode()}\n{base64.b64encode(old).decode()}\n")
            rotated = rampart("keys", "rotate-root", *tool_args)
            assert rotated.returncode == 0, rotated.stderr
            assert f"under root key {new_id}" in rotated.stdout
            written.append(_writes_meanwhile(a))
            written.append(_writes_meanwhile(b))
            retired = rampart("keys", "rotate-root", "--retire-previous", *tool_args)
            assert retired.returncode == 0, retired.stdout + retired.stderr
            assert f"Nothing in the store is sealed under root keys {old_id} any more" in retired.stdout
            keys_file.write_text(base64.b64encode(new).decode() + "\n")
            written.append(_writes_meanwhile(b))
            time.sleep(2.5)
            _check_meanwhile(a, written)
            _check_meanwhile(b, written)
        assert readers.failures == [], readers.failures[:5]
        assert readers.ok > 20, readers.ok
        status = _status(*tool_args)
        assert set(status["sealed_values"]) == {new_id}, status
        assert sorted(n["sealing"] for n in status["nodes"]) == [new_id, new_id]
    finally:
        a.kill(signal.SIGTERM)
        b.kill(signal.SIGTERM)

    # Both restarted with only the new key: everything reads.
    a = start_server(tmp_path / "a", args)
    try:
        _read_everything(a, values, written)
    finally:
        a.kill(signal.SIGTERM)
    # The old key alone no longer opens the store.
    old_only = write_key_file(tmp_path / "old.key", old)
    out = rampart("keys", "status", "--data-dir", str(tmp_path / "a"), "--store", pg_store_url,
                  "--root-key-file", str(old_only))
    assert out.returncode != 0
    assert f"the root key {old_id} does not open this store (sealed under root key {new_id})" in out.stderr


def test_nodes_with_their_own_keyring_files_must_all_hold_the_new_key(tmp_path, pg_store_url):
    """Two servers on one PostgreSQL store, each with a keyring file of its own. A rotation
    waits for every running server to hold the new key: while one does not, it refuses and the
    store stays sealed under the old key; once the key is staged there (`add-root`), running it
    again finishes, and each node's file drops the old key with `--retire-previous`."""
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a = start_server(a_dir, ["--store", pg_store_url])
    b_dir.mkdir()
    for name in ("root.key", "admin-credentials"):
        (b_dir / name).write_bytes((a_dir / name).read_bytes())
        os.chmod(b_dir / name, 0o600)
    b = start_server(b_dir, ["--store", pg_store_url])
    old_id = keyring_ids(a_dir / "root.key")[0]
    new = os.urandom(32)
    new_id = root_key_id(new)
    new_file = write_key_file(tmp_path / "new.key", new)
    on_a = ["--data-dir", str(a_dir), "--store", pg_store_url]
    on_b = ["--data-dir", str(b_dir), "--store", pg_store_url]
    try:
        values = _values(a)
        with Readers([a, b], values) as readers:
            refused = rampart("keys", "rotate-root", "--new-root-key-file", str(new_file),
                              "--wait-seconds", "8", *on_a)
            assert refused.returncode != 0
            assert f"running servers do not hold root key {new_id}" in refused.stderr, refused.stderr
            assert f"pid {b.proc.pid} " in refused.stderr and f"pid {a.proc.pid} " not in refused.stderr
            status = _status(*on_a)
            assert status["root_key_id"] == old_id and set(status["sealed_values"]) == {old_id}

            staged = rampart("keys", "add-root", "--key-file", str(new_file), *on_b)
            assert staged.returncode == 0, staged.stderr
            assert keyring_ids(b_dir / "root.key") == [old_id, new_id]
            rotated = rampart("keys", "rotate-root", *on_a)
            assert rotated.returncode == 0, rotated.stderr
            assert f"Resuming the rotation to root key {new_id}" in rotated.stdout
            written = [_writes_meanwhile(a), _writes_meanwhile(b)]
            for side in (on_a, on_b):
                retired = rampart("keys", "rotate-root", "--retire-previous", *side)
                assert retired.returncode == 0, retired.stdout + retired.stderr
            assert keyring_ids(a_dir / "root.key") == [new_id]
            assert keyring_ids(b_dir / "root.key") == [new_id]
            _check_meanwhile(a, written)
            _check_meanwhile(b, written)
        assert readers.failures == [], readers.failures[:5]
        assert readers.ok > 20, readers.ok
        assert set(_status(*on_b)["sealed_values"]) == {new_id}
    finally:
        a.kill(signal.SIGTERM)
        b.kill(signal.SIGTERM)
    b = start_server(b_dir, ["--store", pg_store_url])
    try:
        _read_everything(b, values, written)
    finally:
        b.kill(signal.SIGTERM)


def test_a_new_key_can_be_staged_on_each_node_first(tmp_path):
    """Nodes with keyring files of their own: `add-root` stages the key, `rotate-root
    --new-root-key-file` makes it the store's."""
    data_dir = tmp_path / "data"
    srv = start_server(data_dir)
    store_args = ["--data-dir", str(data_dir)]
    old_id = keyring_ids(data_dir / "root.key")[0]
    new = os.urandom(32)
    new_file = write_key_file(tmp_path / "new.key", new)
    try:
        values = _values(srv)
        staged = rampart("keys", "add-root", "--key-file", str(new_file), *store_args)
        assert staged.returncode == 0, staged.stderr
        assert keyring_ids(data_dir / "root.key") == [old_id, root_key_id(new)]
        # Staging changes nothing in the store.
        assert set(_status(*store_args)["sealed_values"]) == {old_id}
        with Readers([srv], values) as readers:
            rotated = rampart("keys", "rotate-root", "--new-root-key-file", str(new_file), *store_args)
            assert rotated.returncode == 0, rotated.stderr
            time.sleep(1)
        assert readers.failures == [] and readers.ok > 5
        assert keyring_ids(data_dir / "root.key") == [root_key_id(new), old_id]
        assert set(_status(*store_args)["sealed_values"]) == {root_key_id(new)}
        # Rotating to the key that already seals the store is refused.
        again = rampart("keys", "rotate-root", "--new-root-key-file", str(new_file), *store_args)
        assert again.returncode != 0 and "already seals this store" in again.stderr
    finally:
        srv.kill(signal.SIGTERM)
