"""UpdateFunctionCode and UpdateFunctionConfiguration through boto3, with real functions: a new
revision answered `LastUpdateStatus: InProgress` and `Successful` once ready (botocore's
`function_updated_v2` waiter), the new code or configuration running in a new environment (the
old revision's warm one is never reused), DryRun changing nothing, `RevisionId` as a
precondition, environment variables re-sealed, the role re-checked (trust and
`iam:PassRole`); and bad input — zips that are not zips or would write outside the code
directory, a `provided` package without its bootstrap, payloads past 6 MB — answered with
AWS's errors, leaving no half-written function."""

import base64
import hashlib
import io
import signal
import sys
import time
import uuid
import zipfile

import pytest

from conftest import start_server
from functions_support import (
    LAMBDA_TRUST,
    NO_RETRY,
    NO_VALIDATION,
    app_zip,
    create,
    error_of,
    invoke,
    make_zip,
    unique,
    user_client,
    wait_updated,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("functions-updates") / "data",
                          ["--functions-python", sys.executable])
    yield server
    server.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda", config=NO_RETRY)


@pytest.fixture(scope="module")
def role(srv):
    return srv.client("iam").create_role(RoleName=unique("fn-exec"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]


def sha(zip_bytes):
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def test_update_function_code_runs_the_new_code_in_a_new_environment(lam, role):
    name = create(lam, role)["FunctionName"]
    _, first = invoke(lam, name)
    assert first["version"] == "v1"
    before = lam.get_function_configuration(FunctionName=name)
    v2 = app_zip("v2")
    updated = lam.update_function_code(FunctionName=name, ZipFile=v2)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert updated["CodeSha256"] == sha(v2) and updated["CodeSize"] == len(v2)
    assert updated["RevisionId"] != before["RevisionId"]
    assert updated["LastUpdateStatus"] == "InProgress" and updated["State"] == "Active"
    assert updated["LastUpdateStatusReasonCode"] == "Creating"
    wait_updated(lam, name)
    got = lam.get_function(FunctionName=name)["Configuration"]
    assert got["LastUpdateStatus"] == "Successful" and "LastUpdateStatusReason" not in got
    assert got["CodeSha256"] == sha(v2) and got["RevisionId"] == updated["RevisionId"]
    _, second = invoke(lam, name)
    assert second["version"] == "v2"
    assert second["environment"] != first["environment"], "the old revision's warm environment served the new code"


def test_update_function_code_dry_run_changes_nothing(lam, role):
    name = create(lam, role)["FunctionName"]
    before = lam.get_function_configuration(FunctionName=name)
    v9 = app_zip("v9")
    dry = lam.update_function_code(FunctionName=name, ZipFile=v9, DryRun=True)
    assert dry["CodeSha256"] == sha(v9)
    assert dry["RevisionId"] == before["RevisionId"]
    after = lam.get_function_configuration(FunctionName=name)
    assert after["CodeSha256"] == before["CodeSha256"] and after["RevisionId"] == before["RevisionId"]
    assert invoke(lam, name)[1]["version"] == "v1"


def test_revision_id_is_a_precondition(lam, role):
    name = create(lam, role)["FunctionName"]
    current = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    stale = str(uuid.uuid4())
    for call, kwargs in ((lam.update_function_code, dict(ZipFile=app_zip("v2"))),
                         (lam.update_function_configuration, dict(Description="x"))):
        code, message, status, _ = error_of(call, FunctionName=name, RevisionId=stale, **kwargs)
        assert (code, status) == ("PreconditionFailedException", 412), call
        assert "Revision Id" in message
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == current
    _, before = invoke(lam, name)
    updated = lam.update_function_configuration(FunctionName=name, RevisionId=current, Description="now")
    assert updated["Description"] == "now" and updated["RevisionId"] != current
    wait_updated(lam, name)
    # Even an update no environment reads retires the old revision's environments.
    assert invoke(lam, name)[1]["environment"] != before["environment"]


def test_update_function_configuration(lam, role, srv):
    two_handlers = make_zip({"app.py": "def handler(e, c):\n    return 'app'\n",
                             "other.py": "import os\n\ndef main(e, c):\n    return {'greeting': os.environ.get('GREETING'),"
                                         " 'memory': os.environ.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE'), 'environment': os.environ['TMPDIR']}\n"})
    name = create(lam, role, zip_bytes=two_handlers, Environment={"Variables": {"GREETING": "hello"}})["FunctionName"]
    assert invoke(lam, name)[1] == "app"
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    updated = lam.update_function_configuration(
        FunctionName=name, Handler="other.main", Timeout=7, MemorySize=256, Description="updated",
        Runtime="python3.11", Environment={"Variables": {"GREETING": secret}})
    assert updated["Handler"] == "other.main" and updated["Timeout"] == 7 and updated["MemorySize"] == 256
    assert updated["Description"] == "updated" and updated["Runtime"] == "python3.11"
    assert updated["Environment"]["Variables"] == {"GREETING": secret}
    assert updated["LastUpdateStatus"] == "InProgress"
    wait_updated(lam, name)
    _, result = invoke(lam, name)
    assert result["greeting"] == secret and result["memory"] == "256"
    # Re-sealed: the new value is nowhere on disk in the clear.
    for path in srv.data_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"{path} holds the variable in the clear"
    cleared = lam.update_function_configuration(FunctionName=name, Environment={"Variables": {}})
    assert "Environment" not in cleared
    wait_updated(lam, name)
    assert invoke(lam, name)[1]["greeting"] is None
    # What the request leaves out is kept.
    got = lam.get_function_configuration(FunctionName=name)
    assert got["Handler"] == "other.main" and got["Timeout"] == 7 and got["Description"] == "updated"


def test_update_configuration_checks_the_role(srv, lam, role):
    iam = srv.client("iam")
    name = create(lam, role)["FunctionName"]
    ec2 = iam.create_role(RoleName=unique("ec2"),
                          AssumeRolePolicyDocument=LAMBDA_TRUST.replace("lambda.amazonaws.com", "ec2.amazonaws.com"))["Role"]
    code, message, status, _ = error_of(lam.update_function_configuration, FunctionName=name, Role=ec2["Arn"])
    assert (code, status) == ("InvalidParameterValueException", 400) and "cannot be assumed by Lambda" in message
    other = iam.create_role(RoleName=unique("fn-other"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    deployer, _ = user_client(srv, "lambda", [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}])
    code, message, status, _ = error_of(deployer.update_function_configuration, FunctionName=name, Role=other["Arn"])
    assert (code, status) == ("AccessDeniedException", 403)
    assert "iam:PassRole" in message and other["Arn"] in message
    # Without a role, lambda:UpdateFunctionConfiguration alone is enough.
    assert deployer.update_function_configuration(FunctionName=name, Description="ok")["Description"] == "ok"
    wait_updated(lam, name)
    assert lam.get_function_configuration(FunctionName=name)["Role"] == role["Arn"]
    updated = lam.update_function_configuration(FunctionName=name, Role=other["Arn"])
    assert updated["Role"] == other["Arn"]
    wait_updated(lam, name)
    answer, result = invoke(lam, name)
    assert "FunctionError" not in answer and result["key_id"] == "ASIA"


def test_update_of_a_missing_function(lam):
    for call, kwargs in ((lam.update_function_code, dict(ZipFile=app_zip())),
                         (lam.update_function_configuration, dict(Timeout=5))):
        code, _, status, _ = error_of(call, FunctionName=unique("missing"), **kwargs)
        assert (code, status) == ("ResourceNotFoundException", 404)


def test_invalid_configuration_updates_are_refused(lam, role, srv):
    raw = srv.client("lambda", config=NO_VALIDATION)
    name = create(lam, role)["FunctionName"]
    before = lam.get_function_configuration(FunctionName=name)
    for change, expected in [
        (dict(MemorySize=64), "ValidationException"),
        (dict(Timeout=901), "InvalidParameterValueException"),
        (dict(Runtime="cobol"), "ValidationException"),
        (dict(Environment={"Variables": {"AWS_REGION": "x"}}), "InvalidParameterValueException"),
        (dict(Role="not-a-role"), "ValidationException"),
        (dict(Handler="has space"), "ValidationException"),
    ]:
        code, _, _, _ = error_of(raw.update_function_configuration, FunctionName=name, **change)
        assert code == expected, change
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == before["RevisionId"]


# ---------------------------------------------------------------------------------------------
# Bad input: AWS's errors, and nothing half written


def symlink_zip(target):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("app.py")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, target)
    return buf.getvalue()


BAD_ZIPS = [
    ("not a zip", b"PK\x03\x04 this is not a zip file"),
    ("zip slip", make_zip({"../evil.py": "x = 1"})),
    ("nested zip slip", make_zip({"lib/../../evil.py": "x = 1"})),
    ("absolute path", make_zip({"/tmp/evil.py": "x = 1"})),
    ("escaping symlink", symlink_zip("../../../../etc/passwd")),
]


@pytest.mark.parametrize("label,zip_bytes", BAD_ZIPS, ids=[b[0] for b in BAD_ZIPS])
def test_bad_zip_on_create_leaves_no_function(lam, role, label, zip_bytes):
    name = unique("bad")
    code, _, status, _ = error_of(lam.create_function, FunctionName=name, Role=role["Arn"], Runtime="python3.12",
                                  Handler="app.handler", Code={"ZipFile": zip_bytes})
    assert (code, status) == ("InvalidParameterValueException", 400), label
    code, _, status, _ = error_of(lam.get_function, FunctionName=name)
    assert (code, status) == ("ResourceNotFoundException", 404), label


@pytest.mark.parametrize("label,zip_bytes", BAD_ZIPS, ids=[b[0] for b in BAD_ZIPS])
def test_bad_zip_on_update_leaves_the_function_as_it_was(lam, role, label, zip_bytes):
    name = create(lam, role)["FunctionName"]
    before = lam.get_function_configuration(FunctionName=name)
    code, _, status, _ = error_of(lam.update_function_code, FunctionName=name, ZipFile=zip_bytes)
    assert (code, status) == ("InvalidParameterValueException", 400), label
    after = lam.get_function_configuration(FunctionName=name)
    assert (after["CodeSha256"], after["RevisionId"]) == (before["CodeSha256"], before["RevisionId"]), label
    assert invoke(lam, name)[1]["version"] == "v1"


def test_provided_package_without_bootstrap(lam, role):
    """Created as AWS creates it; every invocation answers Runtime.InvalidEntrypoint."""
    name = create(lam, role, zip_bytes=make_zip({"main.py": "x = 1"}), Runtime="provided.al2023",
                  Handler="x")["FunctionName"]
    answer, error = invoke(lam, name)
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.InvalidEntrypoint", error
    assert "bootstrap" in error["errorMessage"]


def test_provided_bootstrap_made_non_executable_by_an_update(lam, role):
    script = f"#!/bin/sh\nexec {sys.executable} -c 'print(1)'\n"
    name = create(lam, role, zip_bytes=make_zip({"bootstrap": (script, 0o755)}), Runtime="provided.al2",
                  Handler="x")["FunctionName"]
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"bootstrap": (script, 0o644)}))
    wait_updated(lam, name)
    answer, error = invoke(lam, name)
    assert answer["FunctionError"] == "Unhandled" and error["errorType"] == "Runtime.InvalidEntrypoint", error


def test_payload_past_six_megabytes(lam, role):
    name = create(lam, role)["FunctionName"]
    limit = 6 * 1024 * 1024
    just_over = b'"' + b"x" * (limit - 1) + b'"'
    code, message, status, response = error_of(lam.invoke, FunctionName=name, Payload=just_over)
    # botocore's model: RequestTooLargeException, 413, members Type and message.
    assert (code, status) == ("RequestTooLargeException", 413)
    assert response["Type"] == "User", response
    assert str(limit) in message
    # The function was not touched: its next invocation is an ordinary one.
    assert invoke(lam, name, {"after": 1})[1]["event"] == {"after": 1}


# ---------------------------------------------------------------------------------------------
# Unpacked code on the node: removed once no function names it


def unpacked(srv):
    """The packages unpacked on the server's node, by SHA-256 hex."""
    code = srv.data_dir / "functions" / "code"
    return {p.name for p in code.iterdir() if not p.name.startswith(".")} if code.is_dir() else set()


def eventually_true(check, seconds=10):
    deadline = time.time() + seconds
    while not check():
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_unpacked_code_goes_with_the_last_function_using_it(lam, role, srv):
    shared = app_zip(f"shared-{uuid.uuid4().hex}")
    digest = hashlib.sha256(shared).hexdigest()
    a = create(lam, role, zip_bytes=shared)["FunctionName"]
    b = create(lam, role, zip_bytes=shared)["FunctionName"]
    assert invoke(lam, a)[1]["version"].startswith("shared-") and invoke(lam, b)[1]
    assert digest in unpacked(srv)
    lam.delete_function(FunctionName=a)
    # b still runs from it: the sweep after the delete leaves it.
    time.sleep(1)
    assert digest in unpacked(srv)
    assert invoke(lam, b)[1]["version"].startswith("shared-")
    lam.delete_function(FunctionName=b)
    assert eventually_true(lambda: digest not in unpacked(srv)), "the deleted functions' code is still unpacked"


def test_old_code_goes_after_an_update(lam, role, srv):
    v1, v2 = app_zip(f"old-{uuid.uuid4().hex}"), app_zip(f"new-{uuid.uuid4().hex}")
    old, new = hashlib.sha256(v1).hexdigest(), hashlib.sha256(v2).hexdigest()
    name = create(lam, role, zip_bytes=v1)["FunctionName"]
    assert invoke(lam, name)[1]["version"].startswith("old-")
    assert old in unpacked(srv)
    lam.update_function_code(FunctionName=name, ZipFile=v2)
    wait_updated(lam, name)
    assert invoke(lam, name)[1]["version"].startswith("new-")
    assert eventually_true(lambda: old not in unpacked(srv)), "the replaced code is still unpacked"
    assert new in unpacked(srv)
