"""Function resource policies through boto3: AddPermission (account, IAM ARN and service
principals; SourceArn, SourceAccount, PrincipalOrgID; RevisionId), GetPolicy (the policy as a
JSON string, its RevisionId), RemovePermission — and Invoke deciding with the function's policy
beside the caller's IAM policies as AWS does within an account: a statement naming a user
grants it without an identity policy, one naming the account delegates to IAM and grants
nothing by itself, and removing the statement takes the grant back. (Cross-account callers do
not exist on a single-account Rampart; the policy engine's cross-account rule is tested in
crates/policy.)"""

import json
import signal
import sys
import uuid

import pytest

from conftest import start_server
from functions_support import (
    LAMBDA_TRUST,
    NO_RETRY,
    NO_VALIDATION,
    create,
    error_of,
    eventually,
    invoke,
    unique,
    user_client,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("functions-policy") / "data",
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
    return srv.client("iam").create_role(RoleName=unique("fn-exec"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]


@pytest.fixture()
def fn(lam, role):
    return create(lam, role)


def test_add_get_remove_permission(lam, fn, account, srv):
    name, arn = fn["FunctionName"], fn["FunctionArn"]
    code, _, status, _ = error_of(lam.get_policy, FunctionName=name)
    assert (code, status) == ("ResourceNotFoundException", 404)
    api_arn = f"arn:aws:execute-api:{srv.region}:{account}:abc123/*/GET/items"
    added = lam.add_permission(FunctionName=name, StatementId="api-gw", Action="lambda:InvokeFunction",
                               Principal="apigateway.amazonaws.com", SourceArn=api_arn, SourceAccount=account)
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "api-gw", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": arn,
        "Condition": {"ArnLike": {"AWS:SourceArn": api_arn}, "StringEquals": {"AWS:SourceAccount": account}},
    }
    lam.add_permission(FunctionName=arn, StatementId="acct", Action="lambda:*", Principal=account)
    lam.add_permission(FunctionName=name, StatementId="org", Action="lambda:InvokeFunction",
                       Principal="*", PrincipalOrgID="o-abcdefghij")
    got = lam.get_policy(FunctionName=name)
    policy = json.loads(got["Policy"])
    assert policy["Version"] == "2012-10-17"
    assert [s["Sid"] for s in policy["Statement"]] == ["api-gw", "acct", "org"]
    assert policy["Statement"][1]["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert policy["Statement"][2]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    assert got["RevisionId"] == lam.get_function_configuration(FunctionName=name)["RevisionId"]
    code, message, status, _ = error_of(lam.add_permission, FunctionName=name, StatementId="acct",
                                        Action="lambda:InvokeFunction", Principal=account)
    assert (code, status) == ("ResourceConflictException", 409) and "already exists" in message
    assert lam.remove_permission(FunctionName=name, StatementId="acct")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [s["Sid"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]] == ["api-gw", "org"]
    code, _, status, _ = error_of(lam.remove_permission, FunctionName=name, StatementId="acct")
    assert (code, status) == ("ResourceNotFoundException", 404)
    lam.remove_permission(FunctionName=name, StatementId="api-gw")
    lam.remove_permission(FunctionName=name, StatementId="org")
    code, _, status, _ = error_of(lam.get_policy, FunctionName=name)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_revision_id_guards_policy_changes(lam, fn, account):
    name = fn["FunctionName"]
    current = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    stale = str(uuid.uuid4())
    code, _, status, _ = error_of(lam.add_permission, FunctionName=name, StatementId="s", Action="lambda:InvokeFunction",
                                  Principal=account, RevisionId=stale)
    assert (code, status) == ("PreconditionFailedException", 412)
    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal=account,
                       RevisionId=current)
    revision = lam.get_policy(FunctionName=name)["RevisionId"]
    assert revision != current
    code, _, status, _ = error_of(lam.remove_permission, FunctionName=name, StatementId="s", RevisionId=current)
    assert (code, status) == ("PreconditionFailedException", 412)
    lam.remove_permission(FunctionName=name, StatementId="s", RevisionId=revision)


def test_invalid_permissions_are_refused(lam, fn, srv):
    raw = srv.client("lambda", config=NO_VALIDATION)
    name = fn["FunctionName"]
    base = dict(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="123456789012")
    for change, expected in [
        (dict(Principal="nobody"), "InvalidParameterValueException"),
        (dict(Action="s3:GetObject"), "ValidationException"),
        (dict(StatementId="has space"), "ValidationException"),
        (dict(SourceAccount="12"), "ValidationException"),
        (dict(SourceArn="not-an-arn"), "ValidationException"),
        (dict(PrincipalOrgID="org"), "ValidationException"),
    ]:
        code, _, _, _ = error_of(raw.add_permission, **{**base, **change})
        assert code == expected, change
    code, _, status, _ = error_of(lam.get_policy, FunctionName=name)
    assert status == 404, "a refused permission was stored"
    code, _, status, _ = error_of(lam.add_permission, **{**base, "FunctionName": unique("missing")})
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_policy_size_limit(lam, fn):
    name = fn["FunctionName"]
    long_arn = "arn:aws:execute-api:us-east-1:123456789012:" + "a" * 1900
    code = None
    for i in range(20):
        try:
            lam.add_permission(FunctionName=name, StatementId=f"s{i}", Action="lambda:InvokeFunction",
                               Principal="apigateway.amazonaws.com", SourceArn=long_arn)
        except lam.exceptions.PolicyLengthExceededException as e:
            code = e.response["Error"]["Code"]
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            break
    assert code == "PolicyLengthExceededException"
    assert len(lam.get_policy(FunctionName=name)["Policy"]) <= 20 * 1024


def test_function_policy_grants_invoke_within_the_account(srv, lam, fn, account):
    """A user without any identity policy is refused; a statement naming the user lets it
    invoke (and nothing else); a statement naming only the account grants nothing by itself;
    removing the statement takes the grant back."""
    name = fn["FunctionName"]
    caller, user_arn = user_client(srv, "lambda", [])
    code, message, status, _ = error_of(caller.invoke, FunctionName=name, Payload=b"{}")
    assert (code, status) == ("AccessDeniedException", 403) and "lambda:InvokeFunction" in message
    lam.add_permission(FunctionName=name, StatementId="account-only", Action="lambda:InvokeFunction",
                       Principal=account)
    code, _, status, _ = error_of(caller.invoke, FunctionName=name, Payload=b"{}")
    assert (code, status) == ("AccessDeniedException", 403), "a policy naming the account granted by itself"
    lam.add_permission(FunctionName=name, StatementId="the-user", Action="lambda:InvokeFunction",
                       Principal=user_arn)
    answer = eventually(lambda: caller.invoke(FunctionName=name, Payload=b'{"via": "policy"}'))
    assert json.loads(answer["Payload"].read())["event"] == {"via": "policy"}
    # The statement grants invocation only.
    code, _, status, _ = error_of(caller.get_function, FunctionName=name)
    assert (code, status) == ("AccessDeniedException", 403)
    lam.remove_permission(FunctionName=name, StatementId="the-user")

    def refused_again():
        code, _, status, _ = error_of(caller.invoke, FunctionName=name, Payload=b"{}")
        assert (code, status) == ("AccessDeniedException", 403)
    eventually(refused_again)


def test_identity_deny_wins_over_the_function_policy(srv, lam, fn):
    name = fn["FunctionName"]
    caller, user_arn = user_client(srv, "lambda", [
        {"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": fn["FunctionArn"]}])
    lam.add_permission(FunctionName=name, StatementId="the-user", Action="lambda:*", Principal=user_arn)
    code, message, status, _ = error_of(caller.invoke, FunctionName=name, Payload=b"{}")
    assert (code, status) == ("AccessDeniedException", 403)
    assert "explicit deny" in message
    # Not denied: other actions the policy grants.
    assert caller.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_policy_change_keeps_the_function_warm(lam, fn, account):
    """A new policy is a new RevisionId, but no environment reads the policy: the warm one
    keeps serving."""
    name = fn["FunctionName"]
    _, before = invoke(lam, name)
    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal=account)
    answer, result = invoke(lam, name, {"n": 1})
    assert "FunctionError" not in answer and result["event"] == {"n": 1}
    assert result["environment"] == before["environment"]


def test_permission_added_while_the_function_is_created(lam, role, account):
    """AddPermission right after CreateFunction (as deployment tools do) neither fails nor
    keeps the function from becoming Active."""
    from functions_support import wait_active

    name = create(lam, role, wait=False)["FunctionName"]
    lam.add_permission(FunctionName=name, StatementId="early", Action="lambda:InvokeFunction", Principal=account)
    wait_active(lam, name)
    assert [s["Sid"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]] == ["early"]
    assert invoke(lam, name, {"n": 2})[1]["event"] == {"n": 2}
