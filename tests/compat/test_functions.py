"""Lambda through boto3, with real functions running on the server: CreateFunction from an
in-memory zip with an execution role (which must trust lambda.amazonaws.com, and which the
caller must be allowed to pass: `iam:PassRole`), GetFunction/GetFunctionConfiguration/
ListFunctions/DeleteFunction, and Invoke — results, handler errors (`FunctionError`), timeouts
(the whole process tree killed), `LogType: Tail`, DryRun, warm reuse, the role's credentials
inside the function (boto3 there, configured with nothing, is its own role session), the
`provided` runtime's bootstrap, the Runtime API refusing processes outside the environment,
and bad input (zips that are not zips or would write outside the code directory, payloads).

The server runs `python3.x` functions with this test's own interpreter (`--functions-python`),
so the function's boto3 is the one the test uses; the runtime is `awslambdaric` when that
interpreter can import it, Rampart's own loop otherwise."""

import base64
import hashlib
import http.client
import io
import json
import os
import re
import signal
import stat
import sys
import time
import uuid
import zipfile

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import start_server

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
NO_VALIDATION = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)
LAMBDA_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})

HANDLER = '''
import json, os, subprocess, sys, time

calls = 0


def probe(kind, arg):
    """What an injected command could try; answers "ok" or the error's name."""
    import ctypes, socket
    try:
        if kind == "read":
            with open(arg, "rb") as f:
                f.read(1)
        elif kind == "list":
            os.listdir(arg)
        elif kind == "write":
            if arg == "TMPDIR":
                arg = os.path.join(os.environ["TMPDIR"], "own-file")
            with open(arg, "w") as f:
                f.write("x")
        elif kind == "connect":
            socket.create_connection(("127.0.0.1", arg), timeout=2).close()
        elif kind == "signal":
            os.kill(arg, 0)
        elif kind == "ptrace":
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.ptrace(16, arg, None, None) != 0:  # PTRACE_ATTACH
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        elif kind == "unshare":
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return "ok"
    except OSError as e:
        return type(e).__name__

def handler(event, context):
    global calls
    calls += 1
    action = event.get("action")
    if action == "fail":
        raise ValueError("boom: " + event.get("why", ""))
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "spawn-and-hang":
        child = subprocess.Popen(["sleep", event.get("marker", "300")])
        print("child-pid", child.pid, flush=True)
        time.sleep(300)
    if action == "probe":
        return {name: probe(kind, arg) for name, (kind, arg) in event["probes"].items()}
    if action == "whoami":
        import boto3
        return {"arn": boto3.client("sts").get_caller_identity()["Arn"],
                "key_in_env": os.environ.get("AWS_ACCESS_KEY_ID", "")[:4]}
    if action == "runtime-api":
        return {"runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"]}
    if action == "write-code":
        try:
            with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "app.py"), "a") as f:
                f.write("# changed")
            return {"wrote": True}
        except OSError as e:
            return {"wrote": False, "error": type(e).__name__}
    print("handling", json.dumps(event))
    return {
        "echo": event,
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "greeting": os.environ.get("GREETING"),
        "region": os.environ.get("AWS_REGION"),
        "memory": os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "handler": os.environ.get("_HANDLER"),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "tmp": os.environ.get("TMPDIR"),
        "pid": os.getpid(),
        "calls": calls,
    }
'''


def make_zip(files):
    """A zip of {name: (text or bytes, unix mode)} (mode 0o644 if only content is given)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            body, mode = content if isinstance(content, tuple) else (content, 0o644)
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, body)
    return buf.getvalue()


APP_ZIP = make_zip({"app.py": HANDLER})


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", ""), e.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """A server of its own that runs Python functions with this interpreter."""
    server = start_server(tmp_path_factory.mktemp("functions") / "data",
                          ["--functions-python", sys.executable])
    yield server
    server.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda", config=NO_RETRY)


@pytest.fixture(scope="module")
def account(srv):
    return srv.client("sts").get_caller_identity()["Account"]


@pytest.fixture(scope="module")
def role(srv):
    iam = srv.client("iam")
    return iam.create_role(RoleName=unique("fn-exec"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]


def create(lam, role, name=None, zip_bytes=APP_ZIP, wait=True, **kwargs):
    kwargs.setdefault("Runtime", "python3.12")
    kwargs.setdefault("Handler", "app.handler")
    name = name or unique("fn")
    created = lam.create_function(FunctionName=name, Role=role["Arn"], Code={"ZipFile": zip_bytes}, **kwargs)
    if wait:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    return created


def invoke(lam, name, event=None, **kwargs):
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    payload = answer["Payload"].read()
    return answer, json.loads(payload) if payload else None


@pytest.fixture(scope="module")
def app(lam, role):
    """One Python function most tests invoke."""
    return create(lam, role, Environment={"Variables": {"GREETING": "hello"}}, Timeout=2, MemorySize=256,
                  Description="the app")["FunctionName"]


# ---------------------------------------------------------------------------------------------
# The API


def test_create_function_answers_its_configuration(lam, role, account, srv):
    name = unique("fn")
    created = create(lam, role, name=name, wait=False, Environment={"Variables": {"A_KEY": "a value"}},
                     Tags={"team": "blue"}, Architectures=["x86_64"])
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == f"arn:aws:lambda:{srv.region}:{account}:function:{name}"
    assert created["Runtime"] == "python3.12" and created["Handler"] == "app.handler"
    assert created["Role"] == role["Arn"]
    assert created["CodeSize"] == len(APP_ZIP)
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(APP_ZIP).digest()).decode()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", created["LastModified"])
    assert created["Timeout"] == 3 and created["MemorySize"] == 128 and created["Version"] == "$LATEST"
    assert created["State"] in ("Pending", "Active")
    assert created["Environment"]["Variables"] == {"A_KEY": "a value"}
    assert created["PackageType"] == "Zip" and created["Architectures"] == ["x86_64"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    assert got["Configuration"]["CodeSha256"] == created["CodeSha256"]
    assert got["Configuration"]["Environment"]["Variables"] == {"A_KEY": "a value"}
    assert got["Tags"] == {"team": "blue"}
    by_arn = lam.get_function_configuration(FunctionName=created["FunctionArn"])
    assert by_arn["RevisionId"] == got["Configuration"]["RevisionId"]
    assert lam.get_function_configuration(FunctionName=f"{account}:function:{name}")["FunctionName"] == name
    assert lam.get_function_configuration(FunctionName=name, Qualifier="$LATEST")["FunctionName"] == name
    code, _, status = error_of(lam.create_function, FunctionName=name, Role=role["Arn"], Runtime="python3.12",
                               Handler="app.handler", Code={"ZipFile": APP_ZIP})
    assert (code, status) == ("ResourceConflictException", 409)


def test_environment_variables_are_not_stored_in_the_clear(lam, role, srv):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    name = create(lam, role, Environment={"Variables": {"DB_PASSWORD": secret}})["FunctionName"]
    assert lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]["DB_PASSWORD"] == secret
    for path in srv.data_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"{path} holds the variable in the clear"


def test_list_functions_pages(lam, role):
    names = {create(lam, role, name=unique("page"), wait=False)["FunctionName"] for _ in range(3)}
    first = lam.list_functions(MaxItems=1)
    assert len(first["Functions"]) == 1 and "NextMarker" in first
    seen = set()
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        seen |= {f["FunctionName"] for f in page["Functions"]}
    assert names <= seen


def test_delete_function(lam, role):
    name = create(lam, role, wait=False)["FunctionName"]
    answer = lam.delete_function(FunctionName=name)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    for call in (lam.get_function, lam.get_function_configuration, lam.delete_function, lam.invoke):
        code, message, status = error_of(call, FunctionName=name)
        assert (code, status) == ("ResourceNotFoundException", 404), call
        assert name in message
    code, _, _ = error_of(lam.delete_function, FunctionName=name, Qualifier="$LATEST")
    assert code == "InvalidParameterValueException"


def test_unknown_and_malformed_names(lam, account):
    code, message, status = error_of(lam.get_function, FunctionName="no-such-function")
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert f"arn:aws:lambda:us-east-1:{account}:function:no-such-function" in message


# ---------------------------------------------------------------------------------------------
# The role: it must trust Lambda, and the caller must be allowed to pass it


def test_role_must_exist_and_trust_lambda(srv, lam, account):
    iam = srv.client("iam")
    ec2_trust = LAMBDA_TRUST.replace("lambda.amazonaws.com", "ec2.amazonaws.com")
    ec2_role = iam.create_role(RoleName=unique("ec2"), AssumeRolePolicyDocument=ec2_trust)["Role"]
    for arn in (ec2_role["Arn"], f"arn:aws:iam::{account}:role/no-such-role-{uuid.uuid4().hex[:6]}"):
        code, message, status = error_of(lam.create_function, FunctionName=unique("fn"), Role=arn,
                                         Runtime="python3.12", Handler="app.handler", Code={"ZipFile": APP_ZIP})
        assert (code, status) == ("InvalidParameterValueException", 400), arn
        assert "cannot be assumed by Lambda" in message


def test_create_function_needs_pass_role(srv, role):
    """A user allowed lambda:* but not iam:PassRole cannot give a function a role; allowed to
    pass that one role, it can."""
    iam = srv.client("iam")
    user = unique("deployer")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="lambda", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    deployer = srv.client("lambda", aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"], config=NO_RETRY)
    name = unique("passrole")
    kwargs = dict(FunctionName=name, Role=role["Arn"], Runtime="python3.12", Handler="app.handler",
                  Code={"ZipFile": APP_ZIP})
    code, message, status = error_of(deployer.create_function, **kwargs)
    assert (code, status) == ("AccessDeniedException", 403)
    assert "iam:PassRole" in message and role["Arn"] in message
    with pytest.raises(ClientError):
        srv.client("lambda").get_function(FunctionName=name)
    iam.put_user_policy(UserName=user, PolicyName="pass", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": role["Arn"],
                                                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}]}))
    deadline = time.time() + 10
    while True:
        try:
            assert deployer.create_function(**kwargs)["FunctionName"] == name
            break
        except ClientError as e:
            # IAM changes reach a credential's cached policies within seconds.
            if e.response["Error"]["Code"] != "AccessDeniedException" or time.time() > deadline:
                raise
            time.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# Invoke


def test_invoke_returns_the_result(lam, app, srv, account):
    answer, result = invoke(lam, app, {"hello": "world", "n": [1, 2]})
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    assert result["echo"] == {"hello": "world", "n": [1, 2]}
    assert result["function_name"] == app
    assert result["arn"] == f"arn:aws:lambda:{srv.region}:{account}:function:{app}"
    assert re.fullmatch(r"[0-9a-f-]{36}", result["request_id"])
    assert 0 < result["remaining_ms"] <= 2000
    assert result["greeting"] == "hello" and result["region"] == srv.region
    assert result["memory"] == "256" and result["handler"] == "app.handler"
    assert result["task_root"] != result["tmp"]


def test_warm_environment_is_reused(lam, app):
    _, first = invoke(lam, app, {})
    _, second = invoke(lam, app, {})
    assert second["tmp"] == first["tmp"]
    assert second["calls"] == first["calls"] + 1
    assert second["request_id"] != first["request_id"]


def test_code_directory_is_read_only(lam, app):
    """Read-only twice over: the files' modes (0444, which root ignores) and Landlock (which it
    does not)."""
    _, result = invoke(lam, app, {"action": "write-code"})
    assert result == {"wrote": False, "error": "PermissionError"}


def test_handler_exception_is_a_function_error(lam, app):
    answer, error = invoke(lam, app, {"action": "fail", "why": "bad input"})
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom: bad input"
    # The environment survives a handler's exception.
    answer, result = invoke(lam, app, {"ok": 1})
    assert "FunctionError" not in answer and result["echo"] == {"ok": 1}


def test_log_tail(lam, app):
    answer, _ = invoke(lam, app, {"marker": "tail-me"}, LogType="Tail")
    log = base64.b64decode(answer["LogResult"]).decode()
    request_id = answer["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")
    assert request_id
    assert re.search(r"^START RequestId: [0-9a-f-]{36} Version: \$LATEST$", log, re.M), log
    assert 'handling {"marker": "tail-me"}' in log
    assert re.search(r"^END RequestId: [0-9a-f-]{36}$", log, re.M), log
    assert re.search(r"^REPORT RequestId: [0-9a-f-]{36}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                     r"Memory Size: 256 MB\tMax Memory Used: \d+ MB", log, re.M), log
    assert len(base64.b64decode(answer["LogResult"])) <= 4096
    answer, _ = invoke(lam, app, {})
    assert "LogResult" not in answer


def host_pids_running(argv):
    """Host pids of the processes whose command line is `argv` (a function's own pids are
    those of its PID namespace, when it has one)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:-1] == [a.encode() for a in argv]:
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_timeout_kills_the_whole_tree(lam, app):
    import threading

    marker = f"300.{uuid.uuid4().int % 10**6:06d}"
    started = time.time()
    done = {}
    running = threading.Thread(target=lambda: done.update(zip(("answer", "error"), invoke(
        lam, app, {"action": "spawn-and-hang", "marker": marker}, LogType="Tail"))))
    running.start()
    seen = False
    while running.is_alive() and not seen:
        seen = bool(host_pids_running(["sleep", marker]))
        time.sleep(0.05)
    running.join()
    assert seen, "the handler's child was never seen running"
    answer, error = done["answer"], done["error"]
    elapsed = time.time() - started
    assert answer["FunctionError"] == "Unhandled"
    assert "Task timed out after 2.00 seconds" in error["errorMessage"], error
    assert elapsed < 8, elapsed
    log = base64.b64decode(answer["LogResult"]).decode()
    assert "Task timed out after 2.00 seconds" in log
    assert re.search(r"child-pid (\d+)", log), log
    deadline = time.time() + 5
    while time.time() < deadline:
        # A killed child is gone once reaped; a zombie's command line reads empty.
        if not host_pids_running(["sleep", marker]):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the handler's child (sleep {marker}) outlived the timeout")
    # The next invocation gets a new environment.
    answer, result = invoke(lam, app, {"after": "timeout"})
    assert "FunctionError" not in answer and result["echo"] == {"after": "timeout"}


def test_function_calls_rampart_as_its_own_role(lam, role, app, account):
    """boto3 inside the function, configured with nothing, signs with the role session Lambda
    gave the environment, and reaches Rampart."""
    answer, result = invoke(lam, app, {"action": "whoami"})
    assert "FunctionError" not in answer, result
    assert result["arn"] == f"arn:aws:sts::{account}:assumed-role/{role['RoleName']}/{app}"
    assert result["key_in_env"] == "ASIA"


def test_dry_run(lam, app):
    answer = lam.invoke(FunctionName=app, InvocationType="DryRun")
    assert answer["StatusCode"] == 204
    code, _, status = error_of(lam.invoke, FunctionName="no-such-fn", InvocationType="DryRun")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_invoke_refuses_bad_payloads(lam, app):
    code, _, status = error_of(lam.invoke, FunctionName=app, Payload=b"{not json")
    assert (code, status) == ("InvalidRequestContentException", 400)
    code, _, status = error_of(lam.invoke, FunctionName=app, Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert (code, status) == ("RequestTooLargeException", 413)


def test_invoke_needs_invoke_function(srv, app, lam):
    iam = srv.client("iam")
    user = unique("reader")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = srv.client("lambda", aws_access_key_id=key["AccessKeyId"],
                        aws_secret_access_key=key["SecretAccessKey"], config=NO_RETRY)
    assert reader.get_function(FunctionName=app)["Configuration"]["FunctionName"] == app
    code, message, status = error_of(reader.invoke, FunctionName=app, Payload=b"{}")
    assert (code, status) == ("AccessDeniedException", 403)
    assert "lambda:InvokeFunction" in message


def test_runtime_api_refuses_processes_outside_the_environment(lam, app):
    """The environment's Runtime API port is on loopback; this test process (not in the
    environment's process group) connecting to it is dropped without an answer."""
    _, result = invoke(lam, app, {"action": "runtime-api"})
    host, port = result["runtime_api"].rsplit(":", 1)
    assert host == "127.0.0.1"
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, OSError)):
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        conn.getresponse()
    # The environment is unharmed.
    answer, result = invoke(lam, app, {"still": "fine"})
    assert result["echo"] == {"still": "fine"}


# ---------------------------------------------------------------------------------------------
# The provided runtime


def bootstrap_script(body):
    """A `provided` bootstrap: a shell script that runs a Runtime API client in this test's
    Python (the function's own executable, as a Rust or Go bootstrap would be)."""
    return f"#!/bin/sh\nexec {sys.executable} -c '{body}'\n"


PROVIDED_CLIENT = """
import http.client, json, os
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
base = "/2018-06-01/runtime/invocation/"
while True:
    c = http.client.HTTPConnection(api)
    c.request("GET", base + "next")
    r = c.getresponse()
    event = json.loads(r.read())
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    deadline = r.getheader("Lambda-Runtime-Deadline-Ms")
    arn = r.getheader("Lambda-Runtime-Invoked-Function-Arn")
    answer = json.dumps({"got": event, "rid": rid, "deadline": deadline, "arn": arn,
                         "handler": os.environ["_HANDLER"]})
    c.request("POST", base + rid + "/response", body=answer)
    c.getresponse().read()
"""


def test_provided_runtime_runs_the_bootstrap(lam, role):
    zip_bytes = make_zip({"bootstrap": (bootstrap_script(PROVIDED_CLIENT), 0o755)})
    name = create(lam, role, zip_bytes=zip_bytes, Runtime="provided.al2023", Handler="my.handler")["FunctionName"]
    started_ms = time.time() * 1000
    answer, result = invoke(lam, name, {"x": 1})
    assert "FunctionError" not in answer, result
    assert result["got"] == {"x": 1} and result["handler"] == "my.handler"
    assert result["arn"].endswith(f":function:{name}")
    assert started_ms < int(result["deadline"]) <= started_ms + 3000 + 1000


def test_bootstrap_that_is_not_executable(lam, role):
    """As Lambda answers it: `Runtime.InvalidEntrypoint`, `fork/exec <bootstrap>: permission
    denied` — under root too, since the environment runs as its function's own uid."""
    zip_bytes = make_zip({"bootstrap": (bootstrap_script(PROVIDED_CLIENT), 0o644)})
    name = create(lam, role, zip_bytes=zip_bytes, Runtime="provided.al2023", Handler="x")["FunctionName"]
    answer, error = invoke(lam, name, {})
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.InvalidEntrypoint", error
    assert re.search(r"fork/exec /\S+/bootstrap: permission denied$", error["errorMessage"]), error
    # The function is not broken for good: each invocation answers the same.
    assert invoke(lam, name, {})[1]["errorType"] == "Runtime.InvalidEntrypoint"


def test_bootstrap_that_is_not_a_program(lam, role):
    zip_bytes = make_zip({"bootstrap": ("this is not a program\n", 0o755)})
    name = create(lam, role, zip_bytes=zip_bytes, Runtime="provided.al2023", Handler="x")["FunctionName"]
    answer, error = invoke(lam, name, {})
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.InvalidEntrypoint", error
    assert error["errorMessage"].endswith("bootstrap: exec format error"), error


def test_runtime_that_exits(lam, role):
    zip_bytes = make_zip({"bootstrap": ("#!/bin/sh\necho starting; exit 3\n", 0o755)})
    name = create(lam, role, zip_bytes=zip_bytes, Runtime="provided.al2", Handler="x")["FunctionName"]
    answer, error = invoke(lam, name, {}, LogType="Tail")
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError" and "exit status 3" in error["errorMessage"], error
    assert "starting" in base64.b64decode(answer["LogResult"]).decode()


# ---------------------------------------------------------------------------------------------
# Bad input


def test_bad_zips_are_refused(lam, role):
    for label, zip_bytes in [
        ("not a zip", b"this is not a zip file"),
        ("zip slip", make_zip({"../evil.py": "x = 1"})),
        ("nested zip slip", make_zip({"lib/../../evil.py": "x = 1"})),
        ("absolute", make_zip({"/tmp/evil.py": "x = 1"})),
    ]:
        code, _, status = error_of(lam.create_function, FunctionName=unique("bad"), Role=role["Arn"],
                                   Runtime="python3.12", Handler="app.handler", Code={"ZipFile": zip_bytes})
        assert (code, status) == ("InvalidParameterValueException", 400), label


def test_invalid_configuration_is_refused(lam, role, srv):
    raw = srv.client("lambda", config=NO_VALIDATION)
    base = dict(Role=role["Arn"], Runtime="python3.12", Handler="app.handler", Code={"ZipFile": APP_ZIP})
    cases = [
        (dict(MemorySize=64), "ValidationException"),
        (dict(Timeout=0), "ValidationException"),
        (dict(Timeout=901), "InvalidParameterValueException"),
        (dict(Runtime="cobol"), "ValidationException"),
        (dict(Runtime="nodejs20.x"), "InvalidParameterValueException"),
        (dict(Environment={"Variables": {"AWS_REGION": "x"}}), "InvalidParameterValueException"),
        (dict(Role="not-a-role"), "ValidationException"),
        (dict(Code={"S3Bucket": "b", "S3Key": "k"}), "InvalidParameterValueException"),
    ]
    for change, expected in cases:
        kwargs = {**base, **change, "FunctionName": unique("invalid")}
        code, _, _ = error_of(raw.create_function, **kwargs)
        assert code == expected, change
    kwargs = {k: v for k, v in base.items() if k != "Handler"}
    code, message, _ = error_of(raw.create_function, FunctionName=unique("nohandler"), **kwargs)
    assert code == "InvalidParameterValueException" and "Handler" in message
    code, _, _ = error_of(raw.create_function, FunctionName="bad name!", **base)
    assert code == "ValidationException"


# ---------------------------------------------------------------------------------------------
# Containment: what an injected command inside a function cannot do


def test_injected_code_is_contained(lam, app, srv):
    """The seed's RCE scenario, one probe each: the function's own code could run anything, and
    still cannot read Rampart's data directory (store, root key, administrator credentials) or
    another function's code, read Rampart's environment through /proc, write outside its tmp,
    connect anywhere but Rampart's port, signal or ptrace Rampart, or make namespaces."""
    import socket

    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(1)
    rampart_port = int(srv.endpoint.rsplit(":", 1)[1])
    data = srv.data_dir
    probes = {
        "root key": ("read", str(data / "root.key")),
        "store": ("read", str(data / "rampart.db")),
        "admin credentials": ("read", str(data / "admin-credentials")),
        "data dir listing": ("list", str(data)),
        "other code": ("list", str(data / "functions" / "code")),
        "rampart environ": ("read", f"/proc/{srv.proc.pid}/environ"),
        "write /tmp": ("write", f"/tmp/injected-{uuid.uuid4().hex}"),
        "write code": ("write", str(data / "functions" / "injected")),
        "other port": ("connect", other.getsockname()[1]),
        "postgres": ("connect", 5432),
        "signal rampart": ("signal", srv.proc.pid),
        "ptrace rampart": ("ptrace", srv.proc.pid),
        "user namespace": ("unshare", 0),
        # What it may do, so the probes above are known to work.
        "read system": ("read", "/etc/hostname" if os.path.exists("/etc/hostname") else "/etc/passwd"),
        "write own tmp": ("write", "TMPDIR"),
        "rampart port": ("connect", rampart_port),
    }
    answer, result = invoke(lam, app, {"action": "probe", "probes": probes})
    other.close()
    assert "FunctionError" not in answer, result
    allowed = {"read system", "rampart port", "write own tmp"}
    assert set(result) == set(probes)
    for name, outcome in result.items():
        if name in allowed:
            assert outcome == "ok", (name, outcome)
        else:
            assert outcome != "ok", f"{name}: the function could do it"
