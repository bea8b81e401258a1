"""Helpers the user-pool compat tests share: pools and clients made and removed, IAM users with
their own cognito-idp client, error codes, unsigned clients, the JavaScript client libraries, and
a server on a port known before it starts (so `--public-url` can name it)."""

import configparser
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BIN, Server

NO_VALIDATION = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error(call, **kwargs):
    """The error code and message `call` is refused with."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def refused(call, **kwargs):
    return error(call, **kwargs)[0]


def idp(server):
    return server.client("cognito-idp", config=NO_VALIDATION)


def idp_user(server, policy_statements):
    """A new IAM user allowed `policy_statements`, and its cognito-idp client."""
    iam = server.client("iam")
    name = unique("idp-user")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="grant",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": policy_statements}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=NO_VALIDATION,
    )


def pool(client, **kwargs):
    kwargs.setdefault("PoolName", unique("pool"))
    return client.create_user_pool(**kwargs)["UserPool"]


PASSWORD = "Corr3ct-Horse-Battery!"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def public(server, **config):
    """An unsigned cognito-idp client, as a browser or app has."""
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.endpoint,
        region_name=server.region,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1, "mode": "standard"}),
        **config,
    )


def pool_with_users(server, users=("alice",), flows=FLOWS, secret=False, client_args=None, pool_args=None, **clients):
    """A pool with one app client and confirmed users whose password is PASSWORD:
    (admin client, pool id, app client)."""
    c = server.client("cognito-idp", config=NO_VALIDATION, **clients)
    pid = pool(c, **(pool_args or {}))["Id"]
    client = c.create_user_pool_client(
        UserPoolId=pid, ClientName=unique("app"), ExplicitAuthFlows=flows, GenerateSecret=secret, **(client_args or {})
    )["UserPoolClient"]
    for name in users:
        c.admin_create_user(UserPoolId=pid, Username=name, UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}], MessageAction="SUPPRESS")
        c.admin_set_user_password(UserPoolId=pid, Username=name, Password=PASSWORD, Permanent=True)
    return c, pid, client


JS = Path(__file__).resolve().parent / "js"


def node_modules(tmp_path_factory):
    """node_modules with the JS clients: RAMPART_COMPAT_JS_DIR (test.sh installs it outside the
    repository), else `npm ci` from the lockfile into a temporary directory."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are not installed: the JavaScript clients cannot run")
    installed = os.environ.get("RAMPART_COMPAT_JS_DIR")
    if installed and (Path(installed) / "node_modules" / "amazon-cognito-identity-js").exists():
        return Path(installed) / "node_modules"
    target = tmp_path_factory.mktemp("compat-js")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(JS / name, target / name)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, check=True)
    return target / "node_modules"


def run_node(script, modules, payload, env=None):
    """Runs tests/compat/js/<script> with `payload` on stdin; its stdout, as JSON."""
    done = subprocess.run(
        ["node", str(JS / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=dict(os.environ, NODE_PATH=str(modules), **(env or {})),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server_at(data_dir, port, extra_args=()):
    """`rampart serve` on 127.0.0.1:`port`, so the URL it is served at is known before it starts
    (conftest's servers take a free port, unknown until the banner)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    stdout_path = data_dir.parent / f"{data_dir.name}-{run}.stdout"
    stderr_path = data_dir.parent / f"{data_dir.name}-{run}.stderr"
    proc = subprocess.Popen(
        [str(BIN), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir), *extra_args],
        stdout=open(stdout_path, "w"),
        stderr=open(stderr_path, "w"),
        env=dict(os.environ, RAMPART_LOG="debug"),
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        m = re.search(r"Rampart listening on (\S+)", stdout_path.read_text())
        if m:
            break
        if proc.poll() is not None:
            pytest.fail(f"rampart exited early:\n{stdout_path.read_text()}\n{stderr_path.read_text()}")
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("rampart did not start within 60 s")
    profile = configparser.ConfigParser()
    profile.read(data_dir / "admin-credentials")
    section = profile["profile rampart"]
    return Server(
        data_dir=data_dir,
        endpoint=m.group(1),
        access_key_id=section["aws_access_key_id"],
        secret_access_key=section["aws_secret_access_key"],
        region=section["region"],
        proc=proc,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        extra_args=list(extra_args),
    )
