"""Asynchronous invocation through boto3: Invoke with InvocationType Event answers 202 once the
event is queued in the store, and the function runs; a failing function runs three times (two
retries, waiting the base and then twice the base) and its OnFailure destination receives AWS's
invocation record; MaximumRetryAttempts=0 runs it once; an OnSuccess destination receives the
record of a success; the Put/Get/Update/Delete/ListFunctionEventInvokeConfig operations and their
errors; payloads past 256 KB and bad configurations are refused as AWS refuses them; a
throttled event waits in the queue without a byte of its payload in the clear on disk; a queued
event survives SIGKILL and a restart (its attempts counted once); two nodes on one PostgreSQL
store run each event once.

Functions record each run as a new secret (`<prefix>-<random>`, the event, the request id and
the time) through Secrets Manager under their own role: the sandbox lets them reach only
Rampart. The server runs with `--functions-async-retry-base-ms 1000` (AWS: one minute)."""

import json
import signal
import sys
import time
import uuid

import pytest

from conftest import start_server
from functions_support import LAMBDA_TRUST, NO_RETRY, NO_VALIDATION, create, error_of, make_zip, unique

BASE_MS = 1000

# Records the run, then fails, sleeps or answers as the event asks.
RECORDING = '''
import json, os, time, uuid
import boto3

def handler(event, context):
    text = json.dumps(event)
    # A secret holds at most 64 KB: a large event is recorded by its size.
    recorded = event if len(text) < 16384 else {"size": len(text)}
    boto3.client("secretsmanager").create_secret(
        Name=os.environ["MARK_PREFIX"] + "-" + uuid.uuid4().hex[:12],
        SecretString=json.dumps({"event": recorded, "request_id": context.aws_request_id, "at": time.time()}))
    if isinstance(event, dict):
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise Exception("boom")
    return {"answered": event}
'''


def role_policy(*destinations):
    statements = [{"Effect": "Allow", "Action": "secretsmanager:CreateSecret", "Resource": "*"}]
    if destinations:
        statements.append({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": list(destinations)})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def make_role(srv, *destinations):
    iam = srv.client("iam")
    role = iam.create_role(RoleName=unique("async-exec"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="p", PolicyDocument=role_policy(*destinations))
    return role


def recording_function(srv, role, **kwargs):
    """A recording function; answers its name and its marker prefix."""
    prefix = unique("mark")
    name = create(srv.client("lambda", config=NO_RETRY), role, zip_bytes=make_zip({"app.py": RECORDING}),
                  Environment={"Variables": {"MARK_PREFIX": prefix}}, Timeout=30, **kwargs)["FunctionName"]
    return name, prefix


def markers(srv, prefix):
    """What the runs recorded under `prefix`, oldest first."""
    sm = srv.client("secretsmanager")
    found = []
    for page in sm.get_paginator("list_secrets").paginate():
        for s in page["SecretList"]:
            if s["Name"].startswith(prefix + "-"):
                found.append(json.loads(sm.get_secret_value(SecretId=s["ARN"])["SecretString"]))
    return sorted(found, key=lambda m: m["at"])


def wait_markers(srv, prefix, count, timeout=60):
    deadline = time.time() + timeout
    while True:
        found = markers(srv, prefix)
        if len(found) >= count:
            return found
        assert time.time() < deadline, f"{len(found)} of {count} runs recorded under {prefix}"
        time.sleep(0.5)


def invoke_event(lam, name, event):
    answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    assert answer["StatusCode"] == 202, answer
    assert answer["Payload"].read() == b""
    return answer["ResponseMetadata"]["RequestId"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("functions-async") / "data",
                          ["--functions-python", sys.executable, "--functions-async-retry-base-ms", str(BASE_MS)])
    yield server
    server.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda", config=NO_RETRY)


@pytest.fixture(scope="module")
def destination(srv):
    """A recording function that destinations point at, and its prefix."""
    return recording_function(srv, make_role(srv))


def arn_of(lam, name):
    return lam.get_function_configuration(FunctionName=name)["FunctionArn"]


def test_event_invoke_answers_202_and_the_function_runs(srv, lam):
    name, prefix = recording_function(srv, make_role(srv))
    request_id = invoke_event(lam, name, {"n": 1})
    (run,) = wait_markers(srv, prefix, 1)
    assert run["event"] == {"n": 1}
    # The function sees the Invoke request's id as its own.
    assert run["request_id"] == request_id
    time.sleep(2 * BASE_MS / 1000)
    assert len(markers(srv, prefix)) == 1, "a success is not retried"


def test_a_failing_function_runs_three_times_then_its_destination_gets_the_record(srv, lam, destination):
    dest_name, dest_prefix = destination
    dest_arn = arn_of(lam, dest_name)
    name, prefix = recording_function(srv, make_role(srv, dest_arn))
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    event = {"fail": True, "order": str(uuid.uuid4())}
    request_id = invoke_event(lam, name, event)
    runs = wait_markers(srv, prefix, 3)
    assert [r["request_id"] for r in runs] == [request_id] * 3
    # Retried after the base, then after twice the base (AWS: one minute, then two).
    first_wait, second_wait = runs[1]["at"] - runs[0]["at"], runs[2]["at"] - runs[1]["at"]
    assert first_wait >= 0.9 * BASE_MS / 1000, first_wait
    assert second_wait >= 1.9 * BASE_MS / 1000, second_wait
    record = next(m["event"] for m in wait_markers(srv, dest_prefix, 1, timeout=30)
                  if m["event"].get("requestContext", {}).get("requestId") == request_id)
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    assert record["requestContext"] == {"requestId": request_id, "functionArn": arn_of(lam, name) + ":$LATEST",
                                        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["requestPayload"] == event
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "boom"
    time.sleep(3 * BASE_MS / 1000)
    assert len(markers(srv, prefix)) == 3, "no fourth attempt"


def test_no_retries_runs_a_failing_function_once(srv, lam, destination):
    dest_name, dest_prefix = destination
    dest_arn = arn_of(lam, dest_name)
    name, prefix = recording_function(srv, make_role(srv, dest_arn))
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    request_id = invoke_event(lam, name, {"fail": True})
    deadline = time.time() + 60
    while True:
        records = [m["event"] for m in markers(srv, dest_prefix)
                   if m["event"].get("requestContext", {}).get("requestId") == request_id]
        if records:
            break
        assert time.time() < deadline, "no record reached the destination"
        time.sleep(0.5)
    assert records[0]["requestContext"]["approximateInvokeCount"] == 1
    time.sleep(3 * BASE_MS / 1000)
    assert len(markers(srv, prefix)) == 1


def test_a_success_goes_to_the_on_success_destination(srv, lam, destination):
    dest_name, dest_prefix = destination
    dest_arn = arn_of(lam, dest_name)
    name, prefix = recording_function(srv, make_role(srv, dest_arn))
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": dest_arn}})
    request_id = invoke_event(lam, name, {"ok": 1})
    deadline = time.time() + 60
    while True:
        records = [m["event"] for m in markers(srv, dest_prefix)
                   if m["event"].get("requestContext", {}).get("requestId") == request_id]
        if records:
            break
        assert time.time() < deadline, "no record reached the destination"
        time.sleep(0.5)
    record = records[0]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"answered": {"ok": 1}}


def test_event_invoke_config_operations(srv, lam, destination):
    dest_arn = arn_of(lam, destination[0])
    name, _ = recording_function(srv, make_role(srv, dest_arn))
    arn = arn_of(lam, name)
    code, message, status, _ = error_of(lam.get_function_event_invoke_config, FunctionName=name)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == f"The function {arn}:$LATEST doesn't have an EventInvokeConfig"
    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                               DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    assert put["FunctionArn"] == arn + ":$LATEST"
    assert put["MaximumRetryAttempts"] == 1 and "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": dest_arn}}
    assert abs(put["LastModified"].timestamp() - time.time()) < 60
    got = lam.get_function_event_invoke_config(FunctionName=arn)
    assert {k: got[k] for k in ("FunctionArn", "MaximumRetryAttempts", "DestinationConfig")} == \
        {k: put[k] for k in ("FunctionArn", "MaximumRetryAttempts", "DestinationConfig")}
    # Update changes what it is given and keeps the rest.
    updated = lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=120)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 120)
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": dest_arn}
    # Put replaces the whole configuration.
    replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in replaced
    assert replaced["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["MaximumEventAgeInSeconds"] for c in listed] == [60]
    assert lam.delete_function_event_invoke_config(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []
    for call in (lam.get_function_event_invoke_config, lam.delete_function_event_invoke_config):
        assert error_of(call, FunctionName=name)[0] == "ResourceNotFoundException"
    code, message, _, _ = error_of(lam.update_function_event_invoke_config, FunctionName=name, MaximumRetryAttempts=0)
    assert code == "ResourceNotFoundException" and "doesn't have an EventInvokeConfig" in message
    # The configuration goes with its function.
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.delete_function(FunctionName=name)
    lam.create_function(FunctionName=name, Role=lam.get_function_configuration(FunctionName=destination[0])["Role"],
                        Runtime="python3.12", Handler="app.handler", Code={"ZipFile": make_zip({"app.py": RECORDING})})
    assert error_of(lam.get_function_event_invoke_config, FunctionName=name)[0] == "ResourceNotFoundException"


def test_bad_configurations_are_refused(srv, lam, destination):
    unchecked = srv.client("lambda", config=NO_VALIDATION)
    dest_arn = arn_of(lam, destination[0])
    name, _ = recording_function(srv, make_role(srv))  # its role may invoke nothing
    cases = [
        (dict(MaximumRetryAttempts=3), "ValidationException", "maximumRetryAttempts"),
        (dict(MaximumRetryAttempts=-1), "ValidationException", "maximumRetryAttempts"),
        (dict(MaximumEventAgeInSeconds=59), "ValidationException", "maximumEventAgeInSeconds"),
        (dict(MaximumEventAgeInSeconds=21601), "ValidationException", "maximumEventAgeInSeconds"),
        (dict(), "InvalidParameterValueException", "at least one of error handling or destination"),
        (dict(DestinationConfig={"OnFailure": {"Destination": "not-an-arn"}}), "ValidationException",
         "destinationConfig.onFailure.destination"),
        (dict(DestinationConfig={"OnFailure": {"Destination": arn_of(lam, name)}}),
         "InvalidParameterValueException", "destination for itself"),
        (dict(DestinationConfig={"OnFailure": {"Destination": dest_arn + "-missing"}}),
         "InvalidParameterValueException", "is invalid"),
        (dict(DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}}),
         "InvalidParameterValueException", "not supported"),
        # The function's role may not invoke the destination.
        (dict(DestinationConfig={"OnFailure": {"Destination": dest_arn}}), "InvalidParameterValueException",
         "execution role does not have permissions to call InvokeFunction"),
    ]
    for kwargs, expected, words in cases:
        code, message, status, _ = error_of(unchecked.put_function_event_invoke_config, FunctionName=name, **kwargs)
        assert (code, status) == (expected, 400), (kwargs, code, message)
        assert words in message, (kwargs, message)
    assert error_of(lam.get_function_event_invoke_config, FunctionName=name)[0] == "ResourceNotFoundException"
    missing = unique("missing")
    for call in (lam.put_function_event_invoke_config, lam.update_function_event_invoke_config):
        code, message, status, _ = error_of(call, FunctionName=missing, MaximumRetryAttempts=1)
        assert (code, status, message) == ("ResourceNotFoundException", 404, "The function doesn't exist.")
    assert error_of(lam.list_function_event_invoke_configs, FunctionName=missing)[0] == "ResourceNotFoundException"
    code, _, status, _ = error_of(lam.put_function_event_invoke_config, FunctionName=name, Qualifier="7",
                                  MaximumRetryAttempts=1)
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, _, _, _ = error_of(unchecked.list_function_event_invoke_configs, FunctionName=name, MaxItems=51)
    assert code == "ValidationException"


def test_bad_event_invocations_are_refused_and_queue_nothing(srv, lam):
    name, prefix = recording_function(srv, make_role(srv))
    too_big = json.dumps({"pad": "x" * (256 * 1024)}).encode()
    code, message, status, _ = error_of(lam.invoke, FunctionName=name, InvocationType="Event", Payload=too_big)
    assert (code, status) == ("RequestEntityTooLargeException", 413)
    assert f"{len(too_big)} byte payload is too large for the Event invocation type (limit 262144 bytes)" == message
    code, _, status, _ = error_of(lam.invoke, FunctionName=name, InvocationType="Event", Payload=b"{not json")
    assert (code, status) == ("InvalidRequestContentException", 400)
    code, _, status, _ = error_of(lam.invoke, FunctionName=unique("missing"), InvocationType="Event", Payload=b"{}")
    assert (code, status) == ("ResourceNotFoundException", 404)
    # Exactly 256 KB is accepted.
    exact = json.dumps({"pad": ""}).encode()
    exact = json.dumps({"pad": "y" * (256 * 1024 - len(exact))}).encode()
    assert len(exact) == 256 * 1024
    invoke_event(lam, name, json.loads(exact))
    (run,) = wait_markers(srv, prefix, 1)
    assert run["event"] == {"size": len(exact)}
    time.sleep(1)
    assert len(markers(srv, prefix)) == 1, "only the accepted event ran"


def test_a_queued_payload_is_sealed_at_rest_and_a_throttled_event_waits(srv, lam):
    """With reserved concurrency 0 the event stays queued (a throttle spends no attempt); the
    store holds no byte of its secret. Once the reservation is removed it runs, once."""
    name, prefix = recording_function(srv, make_role(srv))
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    secret = "sealed-" + uuid.uuid4().hex
    invoke_event(lam, name, {"password": secret})
    time.sleep(3)
    assert markers(srv, prefix) == []
    for path in srv.data_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert secret.encode() not in path.read_bytes(), f"the payload is in the clear in {path}"
    lam.delete_function_concurrency(FunctionName=name)
    (run,) = wait_markers(srv, prefix, 1, timeout=30)
    assert run["event"] == {"password": secret}


RESTART_ARGS = ["--functions-python", sys.executable, "--functions-async-retry-base-ms", "4000"]


def record_for(srv, dest_prefix, request_id, timeout=90):
    deadline = time.time() + timeout
    while True:
        for m in markers(srv, dest_prefix):
            if m["event"].get("requestContext", {}).get("requestId") == request_id:
                return m["event"]
        assert time.time() < deadline, "no record reached the destination"
        time.sleep(0.5)


def test_a_queued_event_survives_sigkill_and_its_attempts_are_counted_once(fresh_server):
    """A failing function's first attempt runs, Rampart is SIGKILLed while the retry waits, and
    the restarted server makes exactly the two attempts left, then sends the record."""
    srv = fresh_server(RESTART_ARGS)
    lam = srv.client("lambda", config=NO_RETRY)
    dest, dest_prefix = recording_function(srv, make_role(srv))
    dest_arn = arn_of(lam, dest)
    name, prefix = recording_function(srv, make_role(srv, dest_arn))
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    request_id = invoke_event(lam, name, {"fail": True})
    wait_markers(srv, prefix, 1)
    srv.kill(signal.SIGKILL)
    srv = fresh_server(RESTART_ARGS, data_dir=srv.data_dir)
    runs = wait_markers(srv, prefix, 3, timeout=90)
    assert {r["request_id"] for r in runs} == {request_id}
    record = record_for(srv, dest_prefix, request_id)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    time.sleep(3)
    assert len(markers(srv, prefix)) == 3, "no attempt was lost or repeated"


def test_an_event_whose_node_died_mid_invocation_runs_again(fresh_server):
    """Rampart is SIGKILLed while the function runs: the event's lease runs out and the
    restarted server runs it again — the lost attempt counted."""
    srv = fresh_server(RESTART_ARGS)
    lam = srv.client("lambda", config=NO_RETRY)
    dest, dest_prefix = recording_function(srv, make_role(srv))
    dest_arn = arn_of(lam, dest)
    name, prefix = recording_function(srv, make_role(srv, dest_arn))
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": dest_arn}})
    request_id = invoke_event(lam, name, {"sleep": 4})
    wait_markers(srv, prefix, 1)
    srv.kill(signal.SIGKILL)
    srv = fresh_server(RESTART_ARGS, data_dir=srv.data_dir)
    runs = wait_markers(srv, prefix, 2, timeout=60)
    assert {r["request_id"] for r in runs} == {request_id}
    record = record_for(srv, dest_prefix, request_id)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert len(markers(srv, prefix)) == 2


def test_two_nodes_on_one_store_run_each_event_once(fresh_server, pg_store_url):
    args = ["--store", pg_store_url, "--functions-python", sys.executable]
    a = fresh_server(args)
    b = fresh_server(args, data_dir=a.data_dir)
    name, prefix = recording_function(a, make_role(a))
    clients = [a.client("lambda", config=NO_RETRY), b.client("lambda", config=NO_RETRY)]
    ids = [invoke_event(clients[i % 2], name, {"i": i}) for i in range(12)]
    wait_markers(a, prefix, len(ids), timeout=90)
    time.sleep(3)
    runs = markers(a, prefix)
    assert sorted(r["request_id"] for r in runs) == sorted(ids), "each event ran exactly once"
