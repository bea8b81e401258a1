"""Reading a server's user-pool outbox with `rampart identity outbox --json`, and a cognito-idp
client that sends unsigned requests (the public operations, as an app in a browser does)."""

import json
import subprocess

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from conftest import BIN


def outbox(server, pool_id=None):
    """The undelivered messages (oldest first), as dicts."""
    store_args = []
    for i, a in enumerate(server.extra_args):
        if a == "--store":
            store_args = ["--store", server.extra_args[i + 1]]
    args = [str(BIN), "identity", "outbox", "--data-dir", str(server.data_dir), *store_args, "--json"]
    if pool_id:
        args += ["--pool", pool_id]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def last_code(server, pool_id, username=None, kind=None):
    """The newest code sent in `pool_id` (to `username`, of `kind`)."""
    messages = [
        m
        for m in outbox(server, pool_id)
        if (username is None or m["username"] == username) and (kind is None or m["kind"] == kind)
    ]
    assert messages, f"no message in the outbox of {pool_id} for {username} ({kind})"
    return messages[-1]["code"]


def public_idp(server):
    """A cognito-idp client without credentials: every request unsigned."""
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.endpoint,
        region_name=server.region,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1, "mode": "standard"}),
    )
