"""Compatibility harness: start a real `rampart serve` and drive it with real AWS clients.

Each server runs on an ephemeral loopback port with a temporary data directory. Its stdout and
stderr are captured to files so tests can check what it printed (and what it must never print).
"""

import configparser
import os
import re
import secrets
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("RAMPART_BIN", REPO / "target" / "debug" / "rampart"))
PG_URL = os.environ.get("RAMPART_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")


@dataclass
class Server:
    """A running `rampart serve` and the administrator credentials it bootstrapped."""

    data_dir: Path
    endpoint: str
    access_key_id: str
    secret_access_key: str
    region: str
    proc: subprocess.Popen
    stdout_path: Path
    stderr_path: Path
    extra_args: list = field(default_factory=list)

    def client(self, service, **kwargs):
        kwargs.setdefault("aws_access_key_id", self.access_key_id)
        kwargs.setdefault("aws_secret_access_key", self.secret_access_key)
        kwargs.setdefault("region_name", self.region)
        kwargs.setdefault("config", Config(retries={"max_attempts": 1, "mode": "standard"}))
        return boto3.client(service, endpoint_url=self.endpoint, **kwargs)

    def logs(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def cli_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_CONFIG_FILE"] = str(self.data_dir / "admin-credentials")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.data_dir / "no-such-credentials")
        env["AWS_PROFILE"] = "rampart"
        return env

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def audit(self, *args) -> str:
        store_args = []
        for i, a in enumerate(self.extra_args):
            if a == "--store":
                store_args = ["--store", self.extra_args[i + 1]]
        out = subprocess.run(
            [str(BIN), "audit", "--data-dir", str(self.data_dir), *store_args, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout


def start_server(data_dir: Path, extra_args=(), env=None) -> Server:
    """Starts `rampart serve` and waits for its banner."""
    if not BIN.exists():
        pytest.fail(f"rampart binary not found at {BIN}; build it first (./test.sh does)")
    data_dir.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    stdout_path = data_dir.parent / f"{data_dir.name}-{run}.stdout"
    stderr_path = data_dir.parent / f"{data_dir.name}-{run}.stderr"
    proc_env = dict(os.environ, RAMPART_LOG="debug")
    proc_env.update(env or {})
    proc = subprocess.Popen(
        [str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *extra_args],
        stdout=open(stdout_path, "w"),
        stderr=open(stderr_path, "w"),
        env=proc_env,
    )
    deadline = time.time() + 60
    endpoint = None
    while time.time() < deadline:
        m = re.search(r"Rampart listening on (\S+)", stdout_path.read_text())
        if m:
            endpoint = m.group(1)
            break
        if proc.poll() is not None:
            pytest.fail(f"rampart exited early:\n{stdout_path.read_text()}\n{stderr_path.read_text()}")
        time.sleep(0.05)
    if endpoint is None:
        proc.kill()
        pytest.fail("rampart did not start within 60 s")
    profile = configparser.ConfigParser()
    profile.read(data_dir / "admin-credentials")
    section = profile["profile rampart"]
    return Server(
        data_dir=data_dir,
        endpoint=endpoint,
        access_key_id=section["aws_access_key_id"],
        secret_access_key=section["aws_secret_access_key"],
        region=section["region"],
        proc=proc,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        extra_args=list(extra_args),
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("rampart") / "data")
    yield srv
    srv.kill(signal.SIGTERM)


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own, for tests that kill or restart it."""
    servers = []

    def make(extra_args=(), data_dir=None):
        srv = start_server(data_dir or tmp_path / f"data{len(servers)}", extra_args)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.kill()


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgres://", "postgresql://"), connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture
def pg_store_url():
    """A PostgreSQL store URL in a schema of its own, dropped afterwards."""
    if not postgres_available():
        if os.environ.get("RAMPART_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL unreachable at {PG_URL} and RAMPART_REQUIRE_POSTGRES=1")
        pytest.skip(f"SKIPPED: PostgreSQL unreachable at {PG_URL}")
    schema = "rampart_compat_" + secrets.token_hex(4)
    yield f"{PG_URL}?schema={schema}"
    import psycopg

    with psycopg.connect(PG_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
