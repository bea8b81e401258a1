"""Reserved concurrency through boto3: PutFunctionConcurrency/GetFunctionConcurrency/
DeleteFunctionConcurrency (and GetFunction's `Concurrency`), the rule that a tenth of the
account limit (AWS: 100 of 1000) stays unreserved, and Invoke throttled with
TooManyRequestsException 429 and the `Reason` botocore parses: a reservation of 0 throttles
every invocation, a reservation of 1 a second concurrent one
(ReservedFunctionConcurrentInvocationLimitExceeded), and functions without a reservation share
what is left of the account limit (ConcurrentInvocationLimitExceeded). The server runs with
`--functions-account-concurrency 20`: 2 always unreserved."""

import json
import signal
import sys
import threading
import time

import pytest

from conftest import start_server
from functions_support import (
    LAMBDA_TRUST,
    NO_RETRY,
    NO_VALIDATION,
    create,
    error_of,
    invoke,
    unique,
)

ACCOUNT_LIMIT = 20
MINIMUM_UNRESERVED = 2


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("functions-concurrency") / "data",
                          ["--functions-python", sys.executable,
                           "--functions-account-concurrency", str(ACCOUNT_LIMIT)])
    yield server
    server.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda", config=NO_RETRY)


@pytest.fixture(scope="module")
def role(srv):
    return srv.client("iam").create_role(RoleName=unique("fn-exec"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]


def throttled(lam, name, reason):
    code, _, status, response = error_of(lam.invoke, FunctionName=name, Payload=b"{}")
    assert (code, status) == ("TooManyRequestsException", 429)
    assert response.get("Reason") == reason, response


def while_running(lam, name, seconds, count=1):
    """Starts `count` invocations that each hold an execution for `seconds`; answers the
    threads and their results."""
    results = []

    def run():
        results.append(invoke(lam, name, {"sleep": seconds}))
    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    return threads, results


def test_put_get_delete_function_concurrency(lam, role):
    name = create(lam, role)["FunctionName"]
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)
    put = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    assert put["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    deleted = lam.delete_function_concurrency(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    for call in (lam.get_function_concurrency, lam.delete_function_concurrency):
        code, _, status, _ = error_of(call, FunctionName=unique("missing"))
        assert (code, status) == ("ResourceNotFoundException", 404)


def test_reservations_keep_a_tenth_unreserved(lam, role, srv):
    a = create(lam, role)["FunctionName"]
    b = create(lam, role)["FunctionName"]
    most = ACCOUNT_LIMIT - MINIMUM_UNRESERVED
    lam.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=most - 1)
    code, message, status, _ = error_of(lam.put_function_concurrency, FunctionName=b, ReservedConcurrentExecutions=2)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert f"minimum value of [{MINIMUM_UNRESERVED}]" in message
    lam.put_function_concurrency(FunctionName=b, ReservedConcurrentExecutions=1)
    # Changing a's own reservation counts a's old one out.
    lam.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=most - 1)
    code, _, _, _ = error_of(srv.client("lambda", config=NO_VALIDATION).put_function_concurrency, FunctionName=a,
                             ReservedConcurrentExecutions=-1)
    assert code == "ValidationException"
    lam.delete_function_concurrency(FunctionName=a)
    lam.delete_function_concurrency(FunctionName=b)


def test_reserved_zero_throttles_every_invocation(lam, role):
    name = create(lam, role)["FunctionName"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    for _ in range(2):
        throttled(lam, name, "ReservedFunctionConcurrentInvocationLimitExceeded")
    lam.delete_function_concurrency(FunctionName=name)
    answer, result = invoke(lam, name, {"n": 1})
    assert "FunctionError" not in answer and result["event"] == {"n": 1}


def test_reserved_one_throttles_a_second_concurrent_invocation(lam, role):
    name = create(lam, role, Timeout=10)["FunctionName"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    try:
        invoke(lam, name)  # warm, so the held invocation starts at once
        threads, results = while_running(lam, name, 3)
        time.sleep(1)
        throttled(lam, name, "ReservedFunctionConcurrentInvocationLimitExceeded")
        for t in threads:
            t.join()
        assert results and "FunctionError" not in results[0][0], results
        # Released once the first ended.
        assert invoke(lam, name)[1]["event"] == {}
    finally:
        lam.delete_function_concurrency(FunctionName=name)


def test_unreserved_functions_share_what_is_left(lam, role):
    """With 18 of 20 reserved elsewhere, two unreserved invocations run at once and a third
    is throttled; the reserved function itself is not."""
    reserved = create(lam, role)["FunctionName"]
    shared = create(lam, role, Timeout=10)["FunctionName"]
    lam.put_function_concurrency(FunctionName=reserved, ReservedConcurrentExecutions=ACCOUNT_LIMIT - MINIMUM_UNRESERVED)
    try:
        threads, results = while_running(lam, shared, 4, count=MINIMUM_UNRESERVED)
        time.sleep(2)
        throttled(lam, shared, "ConcurrentInvocationLimitExceeded")
        answer, _ = invoke(lam, reserved)
        assert "FunctionError" not in answer
        for t in threads:
            t.join()
        assert len(results) == MINIMUM_UNRESERVED
        assert all("FunctionError" not in a for a, _ in results), results
    finally:
        lam.delete_function_concurrency(FunctionName=reserved)
    assert invoke(lam, shared)[1]["event"] == {}


def test_throttled_error_as_botocore_models_it(lam, role):
    name = create(lam, role)["FunctionName"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException) as e:
        lam.invoke(FunctionName=name, Payload=json.dumps({}).encode())
    assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert e.value.response["Type"] == "User"
    lam.delete_function_concurrency(FunctionName=name)


def test_a_deleted_functions_reservation_is_given_back(lam, role):
    """18 of 20 reserved by a function that is then deleted: unreserved functions may use
    more than the 2 left while it existed."""
    gone = create(lam, role)["FunctionName"]
    shared = create(lam, role, Timeout=10)["FunctionName"]
    lam.put_function_concurrency(FunctionName=gone, ReservedConcurrentExecutions=ACCOUNT_LIMIT - MINIMUM_UNRESERVED)
    lam.delete_function(FunctionName=gone)
    threads, results = while_running(lam, shared, 3, count=MINIMUM_UNRESERVED + 1)
    for t in threads:
        t.join()
    assert len(results) == MINIMUM_UNRESERVED + 1
    assert all("FunctionError" not in a for a, _ in results), results
