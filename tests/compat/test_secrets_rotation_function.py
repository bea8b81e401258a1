"""Secrets Manager rotation with a real rotation function: a Python function created through
the Lambda API, run by Rampart's functions service under its own role, rotating the secret
through boto3 against Rampart (the four steps of AWS's rotation template: createSecret,
setSecret, testSecret, finishSecret). Secrets Manager invokes it in process as
`secretsmanager.amazonaws.com`, only when the function's resource policy allows that (for the
secret being rotated, when the statement names one with SourceArn), as on AWS."""

import json
import signal
import sys
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import start_server
from functions_support import LAMBDA_TRUST, NO_RETRY, create, make_zip, unique

# AWS's rotation template reduced to a secret with no database behind it: a new random
# password staged AWSPENDING, tested by reading it back, then made AWSCURRENT. A "fail" key in
# the secret's JSON makes the testSecret step raise.
ROTATOR = '''
import json
import boto3

sm = boto3.client("secretsmanager")

def handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    meta = sm.describe_secret(SecretId=arn)
    stages = meta["VersionIdsToStages"]
    if token not in stages:
        raise ValueError("version %s is not staged for rotation" % token)
    if "AWSCURRENT" in stages[token]:
        return
    if step == "createSecret":
        current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            current["password"] = sm.get_random_password(ExcludePunctuation=True, PasswordLength=24)["RandomPassword"]
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current),
                                VersionStages=["AWSPENDING"])
    elif step == "setSecret":
        pass
    elif step == "testSecret":
        pending = json.loads(sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"])
        if pending.get("fail"):
            raise RuntimeError("the new password does not work")
    elif step == "finishSecret":
        current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
        sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                       RemoveFromVersionId=current)
    else:
        raise ValueError("unknown step " + step)
'''


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("rotation-fn") / "data",
                          ["--functions-python", sys.executable])
    yield server
    server.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def sm(srv):
    return srv.client("secretsmanager", config=NO_RETRY)


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda", config=NO_RETRY)


@pytest.fixture(scope="module")
def rotator(srv, lam):
    """The rotation function, whose role may manage secrets under rotated/ only."""
    iam = srv.client("iam")
    role = iam.create_role(RoleName=unique("rotator"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="rotate", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Resource": "arn:aws:secretsmanager:*:*:secret:rotated/*", "Action": [
                "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]},
            {"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
        ]}))
    return create(lam, role, zip_bytes=make_zip({"app.py": ROTATOR}), Timeout=30)


def stages(sm, secret):
    return {v: sorted(s) for v, s in sm.describe_secret(SecretId=secret)["VersionIdsToStages"].items()}


def wait_rotation(sm, secret, timeout=60):
    """DescribeSecret once no rotation is running any more (no AWSPENDING left, or it failed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = sm.describe_secret(SecretId=secret)
        pending = [v for v, s in described["VersionIdsToStages"].items() if "AWSPENDING" in s]
        if not pending and "LastRotatedDate" in described:
            return described
        time.sleep(0.3)
    raise AssertionError(f"rotation did not finish: {sm.describe_secret(SecretId=secret)}")


def refusal(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_without_a_permission_secrets_manager_cannot_invoke_the_function(sm, rotator):
    name = "rotated/" + unique("noperm")
    v1 = sm.create_secret(Name=name, SecretString=json.dumps({"password": "old"}))["VersionId"]
    code, message = refusal(sm.rotate_secret, SecretId=name, RotationLambdaARN=rotator["FunctionArn"],
                            RotationRules={"AutomaticallyAfterDays": 30})
    assert code == "AccessDeniedException" and "cannot invoke the specified Lambda function" in message
    assert "RotationEnabled" not in sm.describe_secret(SecretId=name)
    assert stages(sm, name) == {v1: ["AWSCURRENT"]}


def test_a_permission_for_another_secret_is_not_one_for_this_one(srv, sm, lam):
    iam = srv.client("iam")
    role = iam.create_role(RoleName=unique("rot-other"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    fn = create(lam, role, zip_bytes=make_zip({"app.py": ROTATOR}))
    other = sm.create_secret(Name="rotated/" + unique("other"), SecretString="{}")["ARN"]
    lam.add_permission(FunctionName=fn["FunctionName"], StatementId="sm", Action="lambda:InvokeFunction",
                       Principal="secretsmanager.amazonaws.com", SourceArn=other)
    name = "rotated/" + unique("this")
    sm.create_secret(Name=name, SecretString="{}")
    code, _ = refusal(sm.rotate_secret, SecretId=name, RotationLambdaARN=fn["FunctionArn"])
    assert code == "AccessDeniedException"


def test_the_function_rotates_the_secret(srv, sm, lam, rotator):
    account = srv.client("sts").get_caller_identity()["Account"]
    name = "rotated/" + unique("db")
    created = sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "old"}))
    v1 = created["VersionId"]
    lam.add_permission(FunctionName=rotator["FunctionName"], StatementId="sm-" + uuid.uuid4().hex[:6],
                       Action="lambda:InvokeFunction", Principal="secretsmanager.amazonaws.com",
                       SourceAccount=account)
    token = str(uuid.uuid4())
    answer = sm.rotate_secret(SecretId=name, RotationLambdaARN=rotator["FunctionArn"], ClientRequestToken=token,
                              RotationRules={"AutomaticallyAfterDays": 30})
    assert answer["VersionId"] == token
    described = wait_rotation(sm, name)
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == rotator["FunctionArn"]
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], token: ["AWSCURRENT"]}
    new = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert new["username"] == "app" and new["password"] != "old" and len(new["password"]) == 24
    old = json.loads(sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"])
    assert old["password"] == "old"

    # The function did it under its own role: the trail shows its role session writing.
    role_name = rotator["Role"].rsplit("/", 1)[-1]
    records = [json.loads(line) for line in srv.audit("--json").splitlines()]
    writes = [r for r in records if r["operation"] == "PutSecretValue" and r["outcome"] == "success"
              and any(c["resource"] == described["ARN"] for c in r.get("checks", []))]
    assert writes and all(f":assumed-role/{role_name}/" in (r["principal_arn"] or "") for r in writes), writes

    # Its role allows rotated/* only: rotating another secret is refused inside the function.
    outside = sm.create_secret(Name=unique("elsewhere"), SecretString=json.dumps({"password": "x"}))
    sm.rotate_secret(SecretId=outside["ARN"], RotationLambdaARN=rotator["FunctionArn"])
    deadline = time.time() + 60
    while True:
        records = [json.loads(line) for line in srv.audit("--json").splitlines()]
        denied = [r for r in records if r["error_code"] == "AccessDeniedException"
                  and f":assumed-role/{role_name}/" in (r["principal_arn"] or "")
                  and any(c["resource"] == outside["ARN"] for c in r.get("checks", []))]
        if denied:
            break
        assert time.time() < deadline, "the function never tried the secret outside its role"
        time.sleep(0.5)
    assert json.loads(sm.get_secret_value(SecretId=outside["ARN"])["SecretString"])["password"] == "x"


def test_a_failing_step_leaves_the_current_version_alone(sm, lam, rotator, srv):
    account = srv.client("sts").get_caller_identity()["Account"]
    name = "rotated/" + unique("failing")
    v1 = sm.create_secret(Name=name, SecretString=json.dumps({"password": "keep", "fail": True}))["VersionId"]
    try:
        lam.add_permission(FunctionName=rotator["FunctionName"], StatementId="sm-fail",
                           Action="lambda:InvokeFunction", Principal="secretsmanager.amazonaws.com",
                           SourceAccount=account)
    except ClientError as e:  # already added by another test
        assert e.response["Error"]["Code"] == "ResourceConflictException"
    token = str(uuid.uuid4())
    arn = sm.rotate_secret(SecretId=name, RotationLambdaARN=rotator["FunctionArn"], ClientRequestToken=token)["ARN"]
    # Secrets Manager records the run's end in the trail: wait for its RotationFailed.
    deadline = time.time() + 60
    while True:
        records = [json.loads(line) for line in srv.audit("--json").splitlines()]
        ended = [r["operation"] for r in records if r["operation"] in ("RotationFailed", "RotationSucceeded")
                 and any(c["resource"] == arn for c in r.get("checks", []))]
        if ended:
            break
        assert time.time() < deadline, "the rotation never ended"
        time.sleep(0.5)
    assert ended == ["RotationFailed"]
    assert stages(sm, name) == {v1: ["AWSCURRENT"], token: ["AWSPENDING"]}
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"] == "keep"
