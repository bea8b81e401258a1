"""A `provided.al2023` function as a Rust user writes one: tests/compat/rust_function/ is a tiny
crate on AWS's `lambda_runtime`, built here once (release, its own lockfile, a target
directory under ~/.cache/rampart keyed by that lockfile, so later runs only relink nothing),
zipped with its binary as `bootstrap`, then created, invoked (its result, its error, a warm
reuse, the log tail), updated and deleted through boto3.

The build needs cargo and crates.io (or the crates already in cargo's cache: it retries
offline). Outside CI a failed build skips these tests; under CI (`CI=true`) it fails them."""

import base64
import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import start_server
from functions_support import (
    LAMBDA_TRUST,
    NO_RETRY,
    create,
    error_of,
    invoke,
    make_zip,
    unique,
    wait_updated,
)

CRATE = Path(__file__).resolve().parent / "rust_function"
TARGET_ROOT = Path(os.environ.get("RAMPART_RUST_FUNCTION_TARGET",
                                  Path.home() / ".cache" / "rampart" / "rust-function-target"))


def build_bootstrap():
    """The crate's release binary, built unless cargo finds it current. Answers its path, or
    fails (CI) / skips (elsewhere) with cargo's output."""
    lock = (CRATE / "Cargo.lock").read_bytes()
    target = TARGET_ROOT / hashlib.sha256(lock).hexdigest()[:16]
    command = ["cargo", "build", "--release", "--locked", "--manifest-path", str(CRATE / "Cargo.toml")]
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    attempts = []
    for extra in ([], ["--offline"]):
        try:
            done = subprocess.run(command + extra, env=env, capture_output=True, text=True, timeout=1200)
        except (OSError, subprocess.TimeoutExpired) as e:
            attempts.append(str(e))
            continue
        if done.returncode == 0:
            return target / "release" / "bootstrap"
        attempts.append(done.stderr[-3000:])
    why = "the Rust function could not be built:\n" + "\n---\n".join(attempts)
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def bootstrap():
    return build_bootstrap().read_bytes()


def package(bootstrap, greeting):
    return make_zip({"bootstrap": (bootstrap, 0o755), "greeting.txt": greeting + "\n"})


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("functions-rust") / "data")
    yield server
    server.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda", config=NO_RETRY)


@pytest.fixture(scope="module")
def role(srv):
    return srv.client("iam").create_role(RoleName=unique("rust-exec"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]


def test_rust_function_lifecycle(lam, role, bootstrap, srv):
    zip_v1 = package(bootstrap, "hello from v1")
    created = create(lam, role, zip_bytes=zip_v1, Runtime="provided.al2023", Handler="rust.handler",
                     Architectures=["x86_64"] if os.uname().machine == "x86_64" else ["arm64"], Timeout=5)
    name = created["FunctionName"]
    assert created["Runtime"] == "provided.al2023"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_v1).digest()).decode()
    assert lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active"

    # A cold start: the runtime asks the Runtime API for the event and answers it.
    started_ms = time.time() * 1000
    answer, result = invoke(lam, name, {"hello": "rust", "n": [1, 2]}, LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer, result
    assert answer["ExecutedVersion"] == "$LATEST"
    assert result["echo"] == {"hello": "rust", "n": [1, 2]}
    assert result["greeting"] == "hello from v1"
    assert re.fullmatch(r"[0-9a-f-]{36}", result["request_id"])
    assert result["function_arn"].endswith(f":function:{name}")
    assert started_ms < result["deadline_ms"] <= started_ms + 5000 + 1000
    assert result["function_name"] == name and result["handler"] == "rust.handler"
    assert result["memory"] == "128" and result["region"] == srv.region
    assert result["key_prefix"] == "ASIA"
    log = base64.b64decode(answer["LogResult"]).decode()
    assert re.search(r"^REPORT RequestId: [0-9a-f-]{36}\tDuration: [\d.]+ ms.*Init Duration: [\d.]+ ms", log, re.M), log

    # Warm: the same process answers the next event.
    _, again = invoke(lam, name, {"second": True})
    assert again["environment"] == result["environment"] and again["echo"] == {"second": True}
    assert again["request_id"] != result["request_id"]

    # The function's error, in the runtime's own error shape.
    answer, error = invoke(lam, name, {"fail": "on purpose"})
    assert answer["FunctionError"] == "Unhandled"
    assert "asked to fail: on purpose" in error["errorMessage"], error
    assert error["errorType"], error

    # New code runs in a new environment.
    zip_v2 = package(bootstrap, "hello from v2")
    updated = lam.update_function_code(FunctionName=name, ZipFile=zip_v2)
    assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_v2).digest()).decode()
    wait_updated(lam, name)
    _, after = invoke(lam, name, {"third": 3})
    assert after["greeting"] == "hello from v2" and after["echo"] == {"third": 3}
    assert after["environment"] != result["environment"]

    lam.delete_function(FunctionName=name)
    code, _, status, _ = error_of(lam.get_function, FunctionName=name)
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, _, status, _ = error_of(lam.invoke, FunctionName=name, Payload=b"{}")
    assert (code, status) == ("ResourceNotFoundException", 404)
