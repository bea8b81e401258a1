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

    # Clients first: creating eight boto3 clients at once takes longer than the burst on a
    # loaded 2-core machine, and a burst that sent nothing tests nothing.
    clients = [srv.client("sts") for _ in range(threads)]

    def worker(sts):
        while not stop.is_set():
            try:
                rid = sts.get_caller_identity()["ResponseMetadata"]["RequestId"]
            except Exception:
                return  # the server died under us: later answers were never acknowledged
            with lock:
                acknowledged.append(rid)

    pool = [threading.Thread(target=worker, args=(sts,)) for sts in clients]
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


def writes_then_kill(srv, prefix, writes=500, threads=16, kill_after=None):
    """Sends `writes` CreateUser requests from `threads` threads and SIGKILLs the server at a
    random moment while they are in flight."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    iam = srv.client("iam")
    names = [f"{prefix}-{i}" for i in range(writes)]

    def create(name):
        try:
            iam.create_user(UserName=name)
        except Exception:
            pass  # refused, or the server died under us

    pool = ThreadPoolExecutor(max_workers=threads)
    futures = [pool.submit(create, n) for n in names]
    time.sleep(kill_after if kill_after is not None else random.uniform(0.3, 1.5))
    srv.kill()
    for f in futures:
        f.result(timeout=60)
    pool.shutdown()
    return names


def check_every_change_has_its_record(srv, data, extra_args, prefix):
    """After a restart: every user that exists has the audit record of the request that
    created it, naming the user as the resource it acted on."""
    again = start_server(data, extra_args)
    try:
        iam = again.client(
            "iam",
            aws_access_key_id=srv.access_key_id,
            aws_secret_access_key=srv.secret_access_key,
        )
        created = set()
        for page in iam.get_paginator("list_users").paginate():
            created |= {u["Arn"] for u in page["Users"] if u["UserName"].startswith(prefix)}
        records = [json.loads(line) for line in again.audit("--json", "--action", "iam:CreateUser").splitlines()]
        recorded = {
            c["resource"]
            for r in records
            if r["outcome"] == "success"
            for c in r["checks"]
            if c["action"] == "iam:CreateUser"
        }
        assert created, "the kill came before any write: nothing was tested"
        missing = created - recorded
        assert not missing, f"{len(missing)} of {len(created)} committed users have no audit record"
        # The other way round: a success record for a user that does not exist would be a
        # record of a change that never happened.
        phantom = {arn for arn in recorded if arn.split("/")[-1].startswith(prefix)} - created
        assert not phantom, f"records of changes that did not happen: {sorted(phantom)[:5]}"
        return len(created)
    finally:
        again.kill()


@pytest.mark.parametrize("round_", range(3))
def test_sigkill_during_writes_leaves_no_change_without_record_sqlite(tmp_path, round_):
    data = tmp_path / "data"
    srv = start_server(data)
    prefix = f"k{round_}"
    writes_then_kill(srv, prefix)
    check_every_change_has_its_record(srv, data, [], prefix)


@pytest.mark.parametrize("round_", range(2))
def test_sigkill_during_writes_leaves_no_change_without_record_postgres(tmp_path, pg_store_url, round_):
    data = tmp_path / "data"
    args = ["--store", pg_store_url]
    srv = start_server(data, args)
    prefix = f"p{round_}"
    writes_then_kill(srv, prefix)
    check_every_change_has_its_record(srv, data, args, prefix)
