"""Durability: SIGKILL in the middle of a burst of audited requests loses nothing that was
acknowledged — on the embedded SQLite store and on PostgreSQL."""

import json
import threading
import time

import pytest

from conftest import start_server


def burst_then_kill(srv, threads=8, seconds=1.5):
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker():
        sts = srv.client("sts")
        while not stop.is_set():
            try:
                rid = sts.get_caller_identity()["ResponseMetadata"]["RequestId"]
            except Exception:
                return  # the server died under us: later answers were never acknowledged
            with lock:
                acknowledged.append(rid)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    time.sleep(seconds)
    srv.kill()  # SIGKILL: no shutdown hooks, no flush
    stop.set()
    for t in pool:
        t.join(timeout=30)
    return acknowledged


def check_all_present(srv, acknowledged):
    assert len(acknowledged) > 50, f"burst too small to mean anything: {len(acknowledged)}"
    stored = {json.loads(line)["request_id"] for line in srv.audit("--json").splitlines()}
    missing = [rid for rid in acknowledged if rid not in stored]
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged requests lost"


def test_sigkill_loses_no_acknowledged_write_sqlite(tmp_path):
    data = tmp_path / "data"
    srv = start_server(data)
    acknowledged = burst_then_kill(srv)
    check_all_present(srv, acknowledged)
    # And the server comes back on the same store with the same account.
    again = start_server(data)
    try:
        assert again.client("sts", aws_access_key_id=srv.access_key_id, aws_secret_access_key=srv.secret_access_key).get_caller_identity()
    finally:
        again.kill()


def test_sigkill_loses_no_acknowledged_write_postgres(tmp_path, pg_store_url):
    data = tmp_path / "data"
    srv = start_server(data, ["--store", pg_store_url])
    acknowledged = burst_then_kill(srv)
    check_all_present(srv, acknowledged)
    again = start_server(data, ["--store", pg_store_url])
    try:
        ident = again.client(
            "sts", aws_access_key_id=srv.access_key_id, aws_secret_access_key=srv.secret_access_key
        ).get_caller_identity()
        assert ident["Arn"].endswith(":user/admin")
    finally:
        again.kill()
