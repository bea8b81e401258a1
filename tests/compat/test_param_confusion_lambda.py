"""Parameter confusion in Lambda: authorization must decide over the function (and the execution
role) an operation touches, and nothing else a request names — the other suites' idea over
rest-json, with hand-signed requests. The cases and the world: confusion_lambda.py.

What this module proves:

1. For EVERY operation in the server's `functions_operations!` table (a test fails if the table
   and this suite drift apart), a request aimed at a victim function — by name, full ARN,
   partial ARN and qualified name — is refused with AccessDeniedException (an asynchronous
   Invoke too, before anything is queued); so is the same
   request with the decoy named where the operation does not read it (a query member, a body
   member, a header), and with the decoy tag among them.
2. CreateFunction's second check: a name the caller may create, with a role it may not pass,
   is refused; request tags carrying the decoy tag do not stand for the resource's own.
3. None of those requests changed anything: each victim's configuration, its tags, its
   resource policy and reserved concurrency and the invocations it recorded, and the functions under this suite's names, are the same before
   and after — and the snapshot is shown to catch each kind of change.
4. Positive controls: the caller reads, invokes, creates, updates (code, configuration),
   changes the policy and the reservation of, and deletes decoy functions, with victims named
   where the operation does not read them.
"""

import signal
import sys
import time
import uuid

import pytest

from confusion_cases import DECOY_TAG_KEY, differences, make_caller
from conftest import start_server
from confusion_lambda import (
    VICTIM_RESERVATION,
    VICTIM_RETRIES,
    VICTIM_SID,
    LAMBDA_CASES,
    LAMBDA_CASES_BY_OP,
    LAMBDA_TRUST,
    LambdaWorld,
    _code_body,
    _create_body,
    caller_policy,
    concurrency_path,
    decoy_members,
    event_config_path,
    fn_path,
    lambda_snapshot,
    marker_policy,
    send_rest,
    table_operations,
    with_decoy,
)


def wait_active(lam, name):
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})


def wait_updated(lam, name):
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})


def create_function(lam, w, name, tags=None, role=None, mark=None):
    import base64

    body = _create_body(w, name, role=role, tags=tags, mark=mark)
    lam.create_function(FunctionName=name, Role=body["Role"], Runtime="python3.12", Handler="app.handler",
                        Code={"ZipFile": base64.b64decode(body["Code"]["ZipFile"])},
                        Environment=body["Environment"], Tags=tags or {})
    wait_active(lam, name)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of its own whose Python functions run with this interpreter (and its boto3)."""
    srv = start_server(tmp_path_factory.mktemp("lambda-confusion") / "data",
                       ["--functions-python", sys.executable])
    yield srv
    srv.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def world(server):
    iam, lam, sm = server.client("iam"), server.client("lambda"), server.client("secretsmanager")
    account = server.client("sts").get_caller_identity()["Account"]
    s = uuid.uuid4().hex[:8]
    decoy_tag_value = f"decoy-{s}"
    mark = sm.create_secret(Name=f"cv-fn-mark-{s}", SecretString="start")["ARN"]
    decoy_mark = sm.create_secret(Name=f"cv-fn-decoy-mark-{s}", SecretString="start")["ARN"]
    scratch_mark = sm.create_secret(Name=f"cv-fn-scratch-mark-{s}", SecretString="start")["ARN"]
    roles = {}
    for which in ("decoy", "victim"):
        roles[which] = iam.create_role(RoleName=f"cv-fn-{which}-role-{s}", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
        iam.put_role_policy(RoleName=roles[which]["RoleName"], PolicyName="mark",
                            PolicyDocument=marker_policy(mark, decoy_mark, scratch_mark))
    w = LambdaWorld(region=server.region, account=account, suffix=s, caller=None, role_arn=roles["decoy"]["Arn"],
                    victim_role_arn=roles["victim"]["Arn"],
                    victims={"plain": f"cv-fn-victim-{s}", "tagged": f"cv-fn-victim-tagged-{s}"},
                    d_name=f"cv-fn-decoy-{s}", mark_secret=mark, decoy_mark=decoy_mark)
    w.created["decoy_tag_value"] = decoy_tag_value
    w.created["scratch_mark"] = scratch_mark
    create_function(lam, w, w.victims["plain"], role=w.victim_role_arn)
    create_function(lam, w, w.victims["tagged"], role=w.victim_role_arn, tags={"team": "victim"})
    create_function(lam, w, w.d_name, tags={DECOY_TAG_KEY: decoy_tag_value}, mark=decoy_mark)
    # The victims work: an invocation is recorded (and is part of the baseline).
    assert lam.invoke(FunctionName=w.victims["plain"], Payload=b'{"baseline": 1}').get("FunctionError") is None
    # Each victim has a policy statement and a reservation a confused request could remove.
    for victim in w.victims.values():
        lam.add_permission(FunctionName=victim, StatementId=VICTIM_SID, Action="lambda:InvokeFunction",
                           Principal=account)
        lam.put_function_concurrency(FunctionName=victim, ReservedConcurrentExecutions=VICTIM_RESERVATION)
        lam.put_function_event_invoke_config(FunctionName=victim, MaximumRetryAttempts=VICTIM_RETRIES)
    w.caller = make_caller(iam, f"cv-fn-caller-{s}", caller_policy(w, decoy_tag_value))
    w.created["caller_arn"] = iam.get_user(UserName=f"cv-fn-caller-{s}")["User"]["Arn"]
    w.created["before"] = lambda_snapshot(lam, sm, w)
    yield w


def denied(r):
    return r.code == "AccessDeniedException" and 400 <= r.status < 500


def refused(op, r):
    """Denied — or, for DeleteFunction naming `$LATEST`, refused from the input alone before
    anything is looked up (AWS deletes no version `$LATEST` apart from its function)."""
    return denied(r) or (op == "DeleteFunction" and r.code == "InvalidParameterValueException"
                         and "$LATEST" in r.body and r.status == 400)


def send(server, w, request):
    method, path, query, body, headers = request
    return send_rest(server, w.caller, method, path, query=query, body=body, headers=headers)


# ---------------------------------------------------------------------------------------------
# 1. The generated suite


def test_lambda_table_covers_every_operation():
    ops = table_operations()
    assert len(ops) == len(set(ops)) and len(ops) >= 6
    in_table = {c.op for c in LAMBDA_CASES}
    assert set(ops) - in_table == set(), "Lambda operations the server offers with no confusion case"
    assert in_table - set(ops) == set(), "confusion cases for operations the server does not offer"


FORMS = ("name", "arn", "partial-arn", "qualified")
VICTIM_CASES = [(c.op, v, f) for c in LAMBDA_CASES for v in ("plain", "tagged")
                for f in (FORMS if c.takes_function and c.op != "CreateFunction" else ("name",))]


@pytest.mark.parametrize("op,victim,form", VICTIM_CASES, ids=[f"{o}-{v}-{f}" for o, v, f in VICTIM_CASES])
def test_lambda_victim_request_is_denied(server, world, op, victim, form):
    case = LAMBDA_CASES_BY_OP[op]
    r = send(server, world, case.request(world, world.victim_ids(victim)[form]))
    assert refused(op, r), f"{op} on the {victim} victim by {form}: {r}"


DECOY_PLACES = ("query-FunctionName", "query-Qualifier-decoy", "body-FunctionName", "header-function")
DECOY_CASES = [(c.op, place) for c in LAMBDA_CASES for place in DECOY_PLACES]


@pytest.mark.parametrize("op,place", DECOY_CASES, ids=[f"{o}+{p}" for o, p in DECOY_CASES])
def test_lambda_decoy_member_grants_nothing(server, world, op, place):
    case = LAMBDA_CASES_BY_OP[op]
    where, extra = decoy_members(world, world.created["decoy_tag_value"])[place]
    request = with_decoy(case.request(world, world.victims["plain"]), where, extra)
    r = send(server, world, request)
    assert refused(op, r), f"{op} on the victim with the decoy in {place}: {r}"


# ---------------------------------------------------------------------------------------------
# 2. CreateFunction's checks: the role, and request tags


def test_create_function_with_a_role_the_caller_may_not_pass(server, world):
    name = f"{world.decoy_prefix}-victim-role"
    r = send_rest(server, world.caller, "POST", "/2015-03-31/functions",
                  body=_create_body(world, name, role=world.victim_role_arn))
    assert denied(r) and "iam:PassRole" in r.body, r


def test_update_configuration_with_a_role_the_caller_may_not_pass(server, world):
    """The decoy's configuration, which the caller may update, with the victim role: the
    second check (`iam:PassRole`) refuses it, and the decoy keeps its role."""
    r = send_rest(server, world.caller, "PUT", fn_path(world.d_name, "/configuration"),
                  body={"Role": world.victim_role_arn})
    assert denied(r) and "iam:PassRole" in r.body, r
    got = server.client("lambda").get_function_configuration(FunctionName=world.d_name)
    assert got["Role"] == world.role_arn


def test_request_tags_do_not_stand_for_resource_tags(server, world):
    name = f"cv-fn-tagged-new-{world.suffix}"
    r = send_rest(server, world.caller, "POST", "/2015-03-31/functions",
                  body=_create_body(world, name, tags={DECOY_TAG_KEY: world.created["decoy_tag_value"]}))
    assert denied(r), r


@pytest.mark.parametrize("form", FORMS)
def test_event_invoke_of_a_victim_is_denied_and_queues_nothing(server, world, form):
    """Invoke with `InvocationType: Event` decides the same check before anything is queued
    (the marker secret in the snapshot would show a queued event running)."""
    r = send_rest(server, world.caller, "POST", fn_path(world.victim_ids("plain")[form], "/invocations"),
                  body={"confused": "event"}, headers={"X-Amz-Invocation-Type": "Event"})
    assert denied(r), r


def test_duplicated_qualifier_does_not_reach_a_victim(server, world):
    """A function name with one qualifier and a Qualifier member with another is refused, in
    either order."""
    for path_q, member_q in (("$LATEST", "1"), ("1", "$LATEST")):
        r = send_rest(server, world.caller, "GET", fn_path(f"{world.victims['plain']}:{path_q}"),
                      query=[("Qualifier", member_q)])
        assert not r.ok and 400 <= r.status < 500, r


# ---------------------------------------------------------------------------------------------
# 3. No change


def test_lambda_unchanged_by_confusion_requests(server, world):
    after = lambda_snapshot(server.client("lambda"), server.client("secretsmanager"), world)
    diff = differences(world.created["before"], after)
    assert not diff, "Lambda confusion requests changed the victims:\n" + "\n".join(diff)


def invoke_event_and_wait(lam, sm, name, mark):
    """An asynchronous invocation of `name`, once it ran (its marker secret has a new version)."""
    def versions():
        return {v["VersionId"] for v in sm.list_secret_version_ids(SecretId=mark, IncludeDeprecated=True)["Versions"]}
    before = versions()
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"y": 1}')["StatusCode"] == 202
    deadline = time.time() + 30
    while versions() == before:
        assert time.time() < deadline, "the queued invocation did not run"
        time.sleep(0.3)


def test_lambda_snapshot_detects_each_kind_of_change(server, world):
    lam, sm = server.client("lambda"), server.client("secretsmanager")
    scratch = f"cv-fn-scratch-{world.suffix}"
    w = LambdaWorld(region=world.region, account=world.account, suffix=world.suffix, caller=world.caller,
                    role_arn=world.role_arn, victim_role_arn=world.victim_role_arn,
                    victims={"scratch": scratch}, d_name=world.d_name, mark_secret=world.created["scratch_mark"])
    create_function(lam, w, scratch, tags={"team": "scratch"})
    changes = [
        ("invoked", lambda: lam.invoke(FunctionName=scratch, Payload=b'{"x": 1}')),
        ("permission added", lambda: lam.add_permission(FunctionName=scratch, StatementId="s",
                                                        Action="lambda:InvokeFunction", Principal=world.account)),
        ("reserved", lambda: lam.put_function_concurrency(FunctionName=scratch, ReservedConcurrentExecutions=1)),
        ("async configured", lambda: lam.put_function_event_invoke_config(FunctionName=scratch,
                                                                         MaximumRetryAttempts=0)),
        ("invoked asynchronously", lambda: invoke_event_and_wait(lam, sm, scratch, w.mark_secret)),
        ("configuration updated", lambda: (lam.update_function_configuration(FunctionName=scratch, Description="x"),
                                           wait_updated(lam, scratch))),
        ("new function", lambda: create_function(lam, w, f"cv-fn-scratch-new-{world.suffix}")),
        ("deleted", lambda: lam.delete_function(FunctionName=scratch)),
    ]
    for what, do in changes:
        base = lambda_snapshot(lam, sm, w)
        assert not differences(base, lambda_snapshot(lam, sm, w)), f"the snapshot is unstable before: {what}"
        do()
        assert differences(base, lambda_snapshot(lam, sm, w)), f"the snapshot missed a change: {what}"


# ---------------------------------------------------------------------------------------------
# 4. Positive controls


def test_lambda_positive_controls_on_decoy(server, world):
    lam, sm = server.client("lambda"), server.client("secretsmanager")
    before = lambda_snapshot(lam, sm, world)
    victim = world.victims["plain"]
    d = world.d_name
    r = send_rest(server, world.caller, "GET", fn_path(d), query=[("FunctionName", victim)])
    assert r.ok and r.json()["Configuration"]["FunctionName"] == d, r
    r = send_rest(server, world.caller, "GET", fn_path(world.arn(d), "/configuration"))
    assert r.ok, r
    r = send_rest(server, world.caller, "POST", fn_path(d, "/invocations"), body={"FunctionName": victim})
    assert r.ok and r.json() == {"ran": d}, r
    r = send_rest(server, world.caller, "POST", fn_path(d, "/invocations"), headers={"X-Amz-Invocation-Type": "DryRun"})
    assert r.status == 204, r
    # The new operations on the decoy, each with the victim named where it is not read.
    r = send_rest(server, world.caller, "POST", fn_path(d, "/policy"), query=[("FunctionName", victim)],
                  body={"StatementId": "control", "Action": "lambda:InvokeFunction", "Principal": world.account})
    assert r.status == 201, r
    r = send_rest(server, world.caller, "GET", fn_path(d, "/policy"), query=[("FunctionName", victim)])
    assert r.ok and "control" in r.json()["Policy"], r
    r = send_rest(server, world.caller, "DELETE", fn_path(d, "/policy/control"), query=[("FunctionName", victim)])
    assert r.status == 204, r
    r = send_rest(server, world.caller, "PUT", concurrency_path(d), body={"ReservedConcurrentExecutions": 3,
                                                                        "FunctionName": victim})
    assert r.ok and r.json() == {"ReservedConcurrentExecutions": 3}, r
    r = send_rest(server, world.caller, "GET", concurrency_path(d, "2019-09-30"), query=[("FunctionName", victim)])
    assert r.ok and r.json() == {"ReservedConcurrentExecutions": 3}, r
    r = send_rest(server, world.caller, "DELETE", concurrency_path(d), query=[("FunctionName", victim)])
    assert r.status == 204, r
    r = send_rest(server, world.caller, "PUT", event_config_path(d), query=[("FunctionName", victim)],
                  body={"MaximumRetryAttempts": 0, "FunctionName": victim})
    assert r.ok and r.json()["MaximumRetryAttempts"] == 0, r
    r = send_rest(server, world.caller, "POST", event_config_path(d), body={"MaximumEventAgeInSeconds": 120,
                                                                          "FunctionName": victim})
    assert r.ok and r.json()["MaximumEventAgeInSeconds"] == 120 and r.json()["MaximumRetryAttempts"] == 0, r
    r = send_rest(server, world.caller, "GET", event_config_path(d), query=[("FunctionName", victim)])
    assert r.ok and r.json()["FunctionArn"] == world.arn(d) + ":$LATEST", r
    r = send_rest(server, world.caller, "GET", event_config_path(d, "/list"), query=[("FunctionName", victim)])
    assert r.ok and len(r.json()["FunctionEventInvokeConfigs"]) == 1, r
    r = send_rest(server, world.caller, "DELETE", event_config_path(d), query=[("FunctionName", victim)])
    assert r.status == 204, r
    r = send_rest(server, world.caller, "POST", fn_path(d, "/invocations"), body={"FunctionName": victim},
                  headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status == 202 and r.body == "", r
    r = send_rest(server, world.caller, "PUT", fn_path(d, "/configuration"),
                  body={"Description": "control", "FunctionName": victim})
    assert r.ok and r.json()["Description"] == "control", r
    wait_updated(lam, d)
    r = send_rest(server, world.caller, "PUT", fn_path(d, "/code"), body={**_code_body(), "FunctionName": victim})
    assert r.ok and r.json()["FunctionName"] == d, r
    wait_updated(lam, d)
    name = f"{world.decoy_prefix}-new"
    r = send_rest(server, world.caller, "POST", "/2015-03-31/functions", body=_create_body(world, name))
    assert r.status == 201, r
    deadline = time.time() + 20
    while lam.get_function(FunctionName=name)["Configuration"]["State"] != "Active" and time.time() < deadline:
        time.sleep(0.2)
    r = send_rest(server, world.caller, "DELETE", fn_path(name), query=[("FunctionName", victim)])
    assert r.status == 204, r
    after = lambda_snapshot(lam, sm, world)
    diff = differences(before, after)
    assert not diff, "the controls changed a victim or left a function behind:\n" + "\n".join(diff)
