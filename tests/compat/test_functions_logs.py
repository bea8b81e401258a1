"""Functions' logs through `rampart logs`, as CloudWatch Logs keeps them for Lambda: boto3
creates and invokes a Python function that prints; `rampart logs NAME` shows the invocation
framed by Lambda's START/END/REPORT lines under the request id boto3 got, with `aws logs
tail`'s timestamps and log stream; `--since` filters, `--follow` shows a later invocation
within seconds, the log survives a restart and is deleted with its function, what a function
prints is sealed at rest, `LogType: Tail` still answers; and `rampart logs --api` prints a
deployed API's access log (request id, route, status, latencies)."""

import base64
import datetime
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import BIN, start_server
from functions_support import LAMBDA_TRUST, NO_RETRY, create, invoke, make_zip, unique
from gateway_support import call, create_function as gateway_function

# Prints at initialization, and on each invocation to stdout and stderr; a line made of two
# halves of the event, so the whole never crosses the wire: only the log holds it.
HANDLER = '''
import os, sys

print("initializing " + os.environ["AWS_LAMBDA_FUNCTION_NAME"])

def handler(event, context):
    print(f"MARK-{event.get('mark')} in {context.aws_request_id}")
    print("to stderr", file=sys.stderr)
    if "half1" in event:
        print("printed secret " + event["half1"] + event["half2"])
    return {"request_id": context.aws_request_id}
'''
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00"
STREAM = r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}"
LINE = re.compile(rf"^({TIME}) ({STREAM}) (.*)$")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("functions-logs") / "data",
                          ["--functions-python", sys.executable])
    yield server
    server.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda", config=NO_RETRY)


@pytest.fixture(scope="module")
def role(srv):
    return srv.client("iam").create_role(RoleName=unique("fn-logs"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]


def printing_function(lam, role):
    return create(lam, role, zip_bytes=make_zip({"app.py": HANDLER}))["FunctionName"]


def rampart_logs(srv, *args, check=True):
    out = subprocess.run([str(BIN), "logs", "--data-dir", str(srv.data_dir), *args],
                         capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def logs_until(srv, args, predicate, timeout=15):
    """`rampart logs ARGS`'s output once `predicate` holds for it (lines are stored within
    half a second of being printed)."""
    deadline = time.time() + timeout
    while True:
        out = rampart_logs(srv, *args).stdout
        if predicate(out):
            return out
        if time.time() > deadline:
            raise AssertionError(f"not in the log after {timeout} s:\n{out}")
        time.sleep(0.3)


def events(out):
    """(time, stream, message) of each line `rampart logs` printed."""
    parsed = []
    for line in out.splitlines():
        m = LINE.match(line)
        assert m, f"not an `aws logs tail` line: {line!r}"
        parsed.append(m.groups())
    return parsed


def index_of(messages, text):
    return next(i for i, m in enumerate(messages) if m == text)


def test_each_invocation_is_framed_under_the_request_id_boto3_got(srv, lam, role):
    name = printing_function(lam, role)
    mark = uuid.uuid4().hex
    answer, body = invoke(lam, name, {"mark": mark})
    rid = answer["ResponseMetadata"]["RequestId"]
    assert body["request_id"] == rid, "the function ran under another request id"
    out = logs_until(srv, [name], lambda o: f"REPORT RequestId: {rid}" in o)
    parsed = events(out)
    messages = [m for _, _, m in parsed]
    start = index_of(messages, f"START RequestId: {rid} Version: $LATEST")
    line = index_of(messages, f"MARK-{mark} in {rid}")
    stderr = index_of(messages, "to stderr")
    end = index_of(messages, f"END RequestId: {rid}")
    report = next(i for i, m in enumerate(messages) if m.startswith(f"REPORT RequestId: {rid}\t"))
    assert index_of(messages, f"initializing {name}") < start < line < stderr < end < report
    # A cold start: Lambda's fields, tab-separated, Init Duration last, the line ending in a tab.
    m = re.fullmatch(rf"REPORT RequestId: {rid}\tDuration: ([\d.]+) ms\tBilled Duration: (\d+) ms\t"
                     r"Memory Size: 128 MB\tMax Memory Used: (\d+) MB\tInit Duration: ([\d.]+) ms\t",
                     messages[report])
    assert m, messages[report]
    duration, billed, used, init = float(m[1]), int(m[2]), int(m[3]), float(m[4])
    assert billed >= duration + init and billed < duration + init + 1.01
    assert 5 <= used <= 128, "a Python runtime uses some memory, and no more than it may"
    # One environment: one stream; times in order.
    assert len({s for _, s, _ in parsed}) == 1
    assert [t for t, _, _ in parsed] == sorted(t for t, _, _ in parsed)

    # Warm: no Init Duration; the same stream; the peak memory never goes down.
    answer, _ = invoke(lam, name, {"mark": "warm"})
    rid2 = answer["ResponseMetadata"]["RequestId"]
    out = logs_until(srv, [name], lambda o: f"REPORT RequestId: {rid2}" in o)
    warm = next(m for _, _, m in events(out) if m.startswith(f"REPORT RequestId: {rid2}\t"))
    m2 = re.fullmatch(rf"REPORT RequestId: {rid2}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                      r"Memory Size: 128 MB\tMax Memory Used: (\d+) MB\t", warm)
    assert m2, warm
    assert int(m2[1]) >= used
    assert len({s for _, s, _ in events(out)}) == 1

    # --format short: the time to the second, then the message.
    short = rampart_logs(srv, name, "--format", "short").stdout.splitlines()
    assert f"MARK-{mark} in {rid}" in [l[20:] for l in short]
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ", l) for l in short)


def test_since_filters_by_time(srv, lam, role):
    name = printing_function(lam, role)
    invoke(lam, name, {"mark": "before"})
    logs_until(srv, [name], lambda o: "MARK-before" in o)
    time.sleep(1.2)
    boundary = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    time.sleep(0.2)
    invoke(lam, name, {"mark": "after"})
    out = logs_until(srv, [name, "--since", boundary], lambda o: "MARK-after" in o)
    assert "MARK-before" not in out
    both = rampart_logs(srv, name, "--since", "1h").stdout
    assert "MARK-before" in both and "MARK-after" in both
    # Nothing from the future; a malformed --since is refused.
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).isoformat()
    assert rampart_logs(srv, name, "--since", future).stdout == ""
    bad = rampart_logs(srv, name, "--since", "yesterday", check=False)
    assert bad.returncode != 0 and "--since" in bad.stderr


def test_follow_shows_a_later_invocation(srv, lam, role):
    name = printing_function(lam, role)
    invoke(lam, name, {"mark": "earlier"})
    logs_until(srv, [name], lambda o: "MARK-earlier" in o)
    follower = subprocess.Popen([str(BIN), "logs", name, "--follow", "--data-dir", str(srv.data_dir)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in follower.stdout], daemon=True).start()
    try:
        seen = []
        deadline = time.time() + 10
        while not any("MARK-earlier" in l for l in seen) and time.time() < deadline:
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                pass
        assert any("MARK-earlier" in l for l in seen), seen
        mark = uuid.uuid4().hex
        invoked = time.time()
        invoke(lam, name, {"mark": mark})
        while time.time() < invoked + 5:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(line)
            if f"MARK-{mark}" in line:
                break
        assert any(f"MARK-{mark}" in l for l in seen), f"not followed within 5 s: {seen}"
        assert sum("MARK-earlier" in l for l in seen) == 1, "an event was printed twice"
        assert follower.poll() is None, "--follow stopped by itself"
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=10)
    assert follower.returncode == 0, follower.stderr.read()


def test_log_type_tail_still_answers(srv, lam, role):
    name = printing_function(lam, role)
    answer, _ = invoke(lam, name, {"mark": "tail"}, LogType="Tail")
    rid = answer["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(answer["LogResult"]).decode()
    assert f"START RequestId: {rid} Version: $LATEST\n" in tail
    assert f"MARK-tail in {rid}\n" in tail and f"END RequestId: {rid}\n" in tail
    assert re.search(rf"^REPORT RequestId: {rid}\tDuration: [\d.]+ ms\t.*Init Duration: [\d.]+ ms\t$", tail, re.M)


def test_printed_secrets_are_sealed_at_rest(srv, lam, role):
    name = printing_function(lam, role)
    half1, half2 = uuid.uuid4().hex, uuid.uuid4().hex
    secret = half1 + half2
    invoke(lam, name, {"mark": "secret", "half1": half1, "half2": half2})
    # Stored, and readable with the root key…
    logs_until(srv, [name], lambda o: f"printed secret {secret}" in o)
    # …but nowhere in the data directory (database, WAL, keys) nor the server's own logs.
    files = [p for p in srv.data_dir.rglob("*") if p.is_file()] + [srv.stdout_path, srv.stderr_path]
    needles = [secret.encode(), base64.b64encode(secret.encode()), secret.encode().hex().encode()]
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{path} holds what the function printed"
    # Positive control: the same scan finds what is stored in the clear (the function's name).
    assert any(name.encode() in p.read_bytes() for p in files)


def test_logs_survive_a_restart(fresh_server):
    first = fresh_server(["--functions-python", sys.executable])
    lam = first.client("lambda", config=NO_RETRY)
    role = first.client("iam").create_role(RoleName=unique("fn-logs"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    name = printing_function(lam, role)
    invoke(lam, name, {"mark": "before-restart"})
    # Stopped at once: what the node still buffers is stored on the way out.
    first.kill(signal.SIGTERM)
    out = rampart_logs(first, name).stdout
    assert "MARK-before-restart" in out and "REPORT RequestId:" in out
    second = start_server(first.data_dir, first.extra_args)
    try:
        invoke(second.client("lambda", config=NO_RETRY), name, {"mark": "after-restart"})
        out = logs_until(second, [name], lambda o: "MARK-after-restart" in o)
        assert "MARK-before-restart" in out
        # Two environments, one per run: two streams.
        assert len({s for _, s, _ in events(out)}) == 2
    finally:
        second.kill(signal.SIGTERM)


def test_deleting_a_function_deletes_its_log(srv, lam, role):
    name = printing_function(lam, role)
    invoke(lam, name, {"mark": "doomed"})
    logs_until(srv, [name], lambda o: "MARK-doomed" in o)
    lam.delete_function(FunctionName=name)
    logs_until(srv, [name], lambda o: o == "")
    assert f"no function named {name}" in rampart_logs(srv, name).stderr
    # A function created again under the name starts a log of its own.
    create(lam, role, name=name, zip_bytes=make_zip({"app.py": HANDLER}))
    invoke(lam, name, {"mark": "reborn"})
    out = logs_until(srv, [name], lambda o: "MARK-reborn" in o)
    assert "MARK-doomed" not in out


def test_retention_is_set_per_function_and_audited(srv, lam, role):
    name = printing_function(lam, role)
    out = rampart_logs(srv, name, "--retention-days", "3")
    assert "3 days" in out.stdout
    trail = srv.audit("--action", "logs:PutRetentionPolicy")
    assert f"log-group:/aws/lambda/{name}" in trail and "local-operator/" in trail
    assert "--functions-log-retention-days" in rampart_logs(srv, name, "--retention-days", "0").stdout
    assert f"log-group:/aws/lambda/{name}" in srv.audit("--action", "logs:DeleteRetentionPolicy")
    refused = rampart_logs(srv, name, "--retention-days", "4000", check=False)
    assert refused.returncode != 0 and "3653" in refused.stderr
    missing = rampart_logs(srv, "no-such-function", "--retention-days", "3", check=False)
    assert missing.returncode != 0 and "no function named no-such-function" in missing.stderr


def test_api_access_log(srv):
    gw = srv.client("apigatewayv2")
    fn = gateway_function(srv)
    api_id = gw.create_api(Name=unique("logs-api"), ProtocolType="HTTP", Target=fn)["ApiId"]
    other = gw.create_api(Name=unique("logs-api"), ProtocolType="HTTP", Target=fn)["ApiId"]
    reply = call(srv, api_id, "/items/7?x=1")
    assert reply.status == 200, reply.body
    request_id = reply.headers["apigw-requestid"]
    assert call(srv, other, "/elsewhere").status == 200
    out = rampart_logs(srv, "--api", api_id).stdout
    lines = out.splitlines()
    assert len(lines) == 1, out
    m = re.match(rf"^({TIME}) {api_id}/\$default (\{{.*\}})$", lines[0])
    assert m, lines[0]
    entry = json.loads(m[2])
    assert entry["requestId"] == request_id
    assert entry["ip"] == "127.0.0.1" and entry["httpMethod"] == "GET"
    assert entry["routeKey"] == "$default" and entry["status"] == 200
    assert entry["path"] == "/items/7" and entry["protocol"] == "HTTP/1.1"
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", entry["requestTime"])
    assert 0 <= entry["integrationLatency"] <= entry["responseLatency"] < 30000
    # --stage filters; the other API's request is its own.
    assert rampart_logs(srv, "--api", api_id, "--stage", "$default").stdout == out
    assert rampart_logs(srv, "--api", api_id, "--stage", "prod").stdout == ""
    assert request_id not in rampart_logs(srv, "--api", other).stdout
    # Neither a function nor an API: refused by the command line.
    assert rampart_logs(srv, check=False).returncode != 0
