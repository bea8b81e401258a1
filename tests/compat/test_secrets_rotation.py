"""Secrets Manager staging labels and rotation through boto3: UpdateSecretVersionStage (moving
AWSCURRENT pushes AWSPREVIOUS, AWS's refusals), RotateSecret's validation of RotationRules
(rate/cron expressions, rotation windows), what RotateSecret answers while no functions
service exists (AWS's answer for a Lambda function Secrets Manager cannot invoke: nothing is
configured), the two checks it declares (secretsmanager:RotateSecret and lambda:InvokeFunction),
and CancelRotateSecret with the describe fields it leaves. The rotation run itself, with a
rotation function, is proven in crates/secrets/tests/rotation.rs."""

import json
import subprocess
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_VALIDATION = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)
FUNCTION = "arn:aws:lambda:{region}:{account}:function:rotate-{suffix}"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response["Error"]
    return err["Code"], err["Message"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def sm(server):
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def raw(server):
    """A client that sends what botocore would refuse, to see the server's own checks."""
    return server.client("secretsmanager", config=NO_VALIDATION)


@pytest.fixture(scope="module")
def function(server):
    account = server.client("sts").get_caller_identity()["Account"]
    return FUNCTION.format(region=server.region, account=account, suffix=uuid.uuid4().hex[:6])


def stages(sm, secret):
    return {v: sorted(s) for v, s in sm.describe_secret(SecretId=secret)["VersionIdsToStages"].items()}


# ---------------------------------------------------------------------------------------------
# UpdateSecretVersionStage


def test_update_secret_version_stage_moves_labels_as_aws_does(sm):
    name = unique("stages")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    v3 = sm.put_secret_value(SecretId=name, SecretString="three", VersionStages=["AWSPENDING"])["VersionId"]
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"], v3: ["AWSPENDING"]}

    out = sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v3,
                                         RemoveFromVersionId=v2)
    assert out["Name"] == name and out["ARN"].startswith("arn:aws:secretsmanager:")
    # AWSPREVIOUS follows the version AWSCURRENT left; v1 is deprecated.
    assert stages(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT", "AWSPENDING"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "three"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "two"
    listed = {v["VersionId"]: v.get("VersionStages") for v in
              sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]}
    assert listed[v1] == []

    # A custom label goes to a deprecated version and comes off again.
    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", MoveToVersionId=v1)
    assert sm.get_secret_value(SecretId=name, VersionStage="blue")["SecretString"] == "one"
    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", RemoveFromVersionId=v1)
    assert v1 not in stages(sm, name)
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=v3)
    assert stages(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_update_secret_version_stage_refusals(sm, raw):
    name = unique("stages-refused")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two", VersionStages=["green"])["VersionId"]
    before = stages(sm, name)

    # A label attached elsewhere must be named where it is.
    code, message, status = error(sm.update_secret_version_stage, SecretId=name, VersionStage="AWSCURRENT",
                                  MoveToVersionId=v2)
    assert (code, status) == ("InvalidParameterException", 400) and v1 in message, message
    code, _, _ = error(sm.update_secret_version_stage, SecretId=name, VersionStage="AWSCURRENT",
                       MoveToVersionId=v2, RemoveFromVersionId=v2)
    assert code == "InvalidParameterException"
    # AWSCURRENT can only move, never be removed.
    code, message, _ = error(sm.update_secret_version_stage, SecretId=name, VersionStage="AWSCURRENT",
                             RemoveFromVersionId=v1)
    assert code == "InvalidParameterException" and "AWSCURRENT" in message
    # A label a version does not carry cannot be taken off it.
    assert error(sm.update_secret_version_stage, SecretId=name, VersionStage="green",
                 RemoveFromVersionId=v1)[0] == "InvalidParameterException"
    missing = str(uuid.uuid4())
    assert error(sm.update_secret_version_stage, SecretId=name, VersionStage="green",
                 MoveToVersionId=missing, RemoveFromVersionId=v2)[0] == "ResourceNotFoundException"
    assert error(sm.update_secret_version_stage, SecretId=unique("nope"), VersionStage="green",
                 MoveToVersionId=v1)[0] == "ResourceNotFoundException"
    # The model's constraints, checked by the server too: ValidationException, as AWS's front end.
    assert error(raw.update_secret_version_stage, SecretId=name, VersionStage="green",
                 MoveToVersionId="short")[0] == "ValidationException"
    assert error(raw.update_secret_version_stage, SecretId=name, VersionStage="")[0] == "ValidationException"
    assert error(raw.update_secret_version_stage, SecretId=name, VersionStage="green")[0] == "InvalidParameterException"
    assert stages(sm, name) == before, "a refused request changed the labels"

    # At most 20 labels on a version.
    for i in range(19):
        sm.update_secret_version_stage(SecretId=name, VersionStage=f"l{i}", MoveToVersionId=v1)
    assert len(stages(sm, name)[v1]) == 20
    code, _, status = error(sm.update_secret_version_stage, SecretId=name, VersionStage="l-too-many",
                            MoveToVersionId=v1)
    assert (code, status) == ("LimitExceededException", 400)

    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert error(sm.update_secret_version_stage, SecretId=name, VersionStage="green",
                 MoveToVersionId=v1, RemoveFromVersionId=v2)[0] == "InvalidRequestException"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_update_secret_version_stage_through_the_cli(server):
    sm = server.client("secretsmanager")
    name = unique("stages-cli")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two", VersionStages=["green"])["VersionId"]
    out = subprocess.run(
        ["aws", "--endpoint-url", server.endpoint, "secretsmanager", "update-secret-version-stage",
         "--secret-id", name, "--version-stage", "AWSCURRENT", "--move-to-version-id", v2,
         "--remove-from-version-id", v1, "--output", "json"],
        env=server.cli_env(), capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["Name"] == name
    assert stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT", "green"]}
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


# ---------------------------------------------------------------------------------------------
# RotateSecret


MODEL_CONSTRAINTS = ("automaticallyAfterDays", "regular expression", "[0-9]+h")


@pytest.mark.parametrize("rules,fragment", [
    ({"AutomaticallyAfterDays": 7, "ScheduleExpression": "rate(7 days)"}, "both rotation frequency"),
    ({"AutomaticallyAfterDays": 0}, "automaticallyAfterDays"),
    ({"AutomaticallyAfterDays": 1001}, "automaticallyAfterDays"),
    ({"ScheduleExpression": "rate(3 hours)"}, "4 and 23"),
    ({"ScheduleExpression": "rate(1000 days)"}, "999"),
    ({"ScheduleExpression": "rate(2 weeks)"}, "unit"),
    ({"ScheduleExpression": "cron(30 8 * * ? *)"}, "minutes"),
    ({"ScheduleExpression": "cron(0 8 * * ? 2030)"}, "year"),
    ({"ScheduleExpression": "cron(0 8 * * * *)"}, "?"),
    ({"ScheduleExpression": "cron(0 0,2 * * ? *)"}, "four hours"),
    ({"ScheduleExpression": "cron(0 8 31 2 ? *)"}, "never"),
    ({"ScheduleExpression": "every day"}, "rate() or cron()"),
    ({"ScheduleExpression": "rate(1 day);"}, "regular expression"),
    ({"ScheduleExpression": "cron(0 20 * * ? *)", "Duration": "5h"}, "next UTC day"),
    ({"ScheduleExpression": "rate(6 hours)", "Duration": "7h"}, "next rotation window"),
    ({"AutomaticallyAfterDays": 1, "Duration": "3"}, "[0-9]+h"),
    ({"AutomaticallyAfterDays": 1, "Duration": "0h"}, "1 hour"),
    ({"Duration": "2h"}, "AutomaticallyAfterDays or ScheduleExpression"),
])
def test_rotate_secret_validates_rotation_rules(sm, raw, function, rules, fragment):
    name = unique("rotate-rules")
    sm.create_secret(Name=name, SecretString="v")
    code, message, status = error(raw.rotate_secret, SecretId=name, RotationLambdaARN=function, RotationRules=rules)
    # A value outside the service model's constraints (ranges, patterns) is AWS's front end's
    # ValidationException; the service's own schedule rules are InvalidParameterException.
    expected = "ValidationException" if fragment in MODEL_CONSTRAINTS else "InvalidParameterException"
    assert (code, status) == (expected, 400), (code, message)
    assert fragment in message, message
    assert "RotationEnabled" not in sm.describe_secret(SecretId=name)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_rotate_secret_refusals(sm, raw, function):
    name = unique("rotate-refused")
    sm.create_secret(Name=name, SecretString="v")
    code, message, _ = error(sm.rotate_secret, SecretId=name)
    assert (code, message) == ("InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
    assert error(sm.rotate_secret, SecretId=unique("missing"), RotationLambdaARN=function)[0] == "ResourceNotFoundException"
    assert error(raw.rotate_secret, SecretId=name, RotationLambdaARN=function,
                 ClientRequestToken="short")[0] == "ValidationException"
    assert error(raw.rotate_secret, SecretId=name, RotationLambdaARN=function,
                 RotationRules={"AutomaticallyAfterDays": "x"})[0] == "SerializationException"
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    code, message, _ = error(sm.rotate_secret, SecretId=name, RotationLambdaARN=function)
    assert code == "InvalidRequestException" and "marked for deletion" in message
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.mark.parametrize("rules", [
    {"AutomaticallyAfterDays": 30},
    {"ScheduleExpression": "rate(10 days)", "Duration": "3h"},
    {"ScheduleExpression": "rate(4 hours)"},
    {"ScheduleExpression": "cron(0 16 L * ? *)", "Duration": "8h"},
    {"ScheduleExpression": "cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)"},
    {"ScheduleExpression": "cron(0 4/12 * * ? *)", "Duration": "2h"},
])
def test_rotate_secret_with_no_invocable_function_configures_nothing(sm, function, rules):
    """The function does not exist, so it cannot be invoked: AWS answers a function Secrets
    Manager cannot invoke with AccessDeniedException and configures nothing (a real rotation
    function: test_secrets_rotation_function.py)."""
    name = unique("rotate-nofn")
    v1 = sm.create_secret(Name=name, SecretString="v")["VersionId"]
    code, message, status = error(sm.rotate_secret, SecretId=name, RotationLambdaARN=function, RotationRules=rules,
                                  ClientRequestToken=str(uuid.uuid4()))
    assert (code, status) == ("AccessDeniedException", 400)
    assert "cannot invoke the specified Lambda function" in message, message
    described = sm.describe_secret(SecretId=name)
    for field in ("RotationEnabled", "RotationLambdaARN", "RotationRules", "LastRotatedDate", "NextRotationDate"):
        assert field not in described, field
    assert stages(sm, name) == {v1: ["AWSCURRENT"]}, "no pending version was left"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_rotate_secret_needs_lambda_invoke_function(server, sm, function):
    """Two checks, as AWS documents: secretsmanager:RotateSecret on the secret and
    lambda:InvokeFunction on the rotation function."""
    iam = server.client("iam")
    name = unique("rotate-authz")
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    user = unique("rotator")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="rotate", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:RotateSecret", "Resource": arn}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    client = server.client("secretsmanager", aws_access_key_id=key["AccessKeyId"],
                           aws_secret_access_key=key["SecretAccessKey"])
    try:
        code, message, _ = error(client.rotate_secret, SecretId=arn, RotationLambdaARN=function)
        assert code == "AccessDeniedException" and "lambda:InvokeFunction" in message, message
        iam.put_user_policy(UserName=user, PolicyName="invoke", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function}]}))
        # Both allowed: what refuses now is the missing function, not authorization.
        code, message, _ = error(client.rotate_secret, SecretId=arn, RotationLambdaARN=function)
        assert code == "AccessDeniedException" and "cannot invoke the specified Lambda function" in message, message
        # Another function than the one allowed: refused by the second check.
        code, message, _ = error(client.rotate_secret, SecretId=arn, RotationLambdaARN=function + "-other")
        assert "lambda:InvokeFunction" in message, message
    finally:
        for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
        for p in iam.list_user_policies(UserName=user)["PolicyNames"]:
            iam.delete_user_policy(UserName=user, PolicyName=p)
        iam.delete_user(UserName=user)
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


# ---------------------------------------------------------------------------------------------
# CancelRotateSecret and what DescribeSecret/ListSecrets show


def test_cancel_rotate_secret_turns_rotation_off(sm):
    name = unique("rotate-cancel")
    created = sm.create_secret(Name=name, SecretString="v")
    described = sm.describe_secret(SecretId=name)
    assert "RotationEnabled" not in described, "never configured: no rotation fields"

    out = sm.cancel_rotate_secret(SecretId=name)
    assert (out["ARN"], out["Name"]) == (created["ARN"], name)
    assert "VersionId" not in out, "no rotation was in progress"
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is False
    for field in ("LastRotatedDate", "NextRotationDate", "RotationLambdaARN", "RotationRules"):
        assert field not in described, field
    listed = [s for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"] if s["Name"] == name]
    assert listed[0]["RotationEnabled"] is False
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"

    assert error(sm.cancel_rotate_secret, SecretId=unique("missing"))[0] == "ResourceNotFoundException"
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert error(sm.cancel_rotate_secret, SecretId=name)[0] == "InvalidRequestException"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
