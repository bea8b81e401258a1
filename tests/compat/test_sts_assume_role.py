"""STS AssumeRole / GetSessionToken end to end with boto3: trust policies, role policies,
permissions boundaries and session policies cut exactly as AWS documents; temporary
credentials carry their session and expire."""

import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def session_client(server, service, creds):
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=NO_RETRY,
    )


@pytest.fixture
def world(server):
    """A user `dev` with no policies of its own, and helpers to make roles it may assume."""
    iam = server.client("iam")
    suffix = uuid.uuid4().hex[:6]
    user = iam.create_user(UserName=f"dev-{suffix}")["User"]
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    dev_sts = server.client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])

    def make_role(name, trust_principal=None, inline=None, condition=None, **kwargs):
        statement = {"Effect": "Allow", "Principal": {"AWS": trust_principal or user["Arn"]}, "Action": "sts:AssumeRole"}
        if condition:
            statement["Condition"] = condition
        role = iam.create_role(RoleName=f"{name}-{suffix}", AssumeRolePolicyDocument=doc(statement), **kwargs)["Role"]
        if inline:
            iam.put_role_policy(RoleName=role["RoleName"], PolicyName="inline", PolicyDocument=doc(*inline))
        return role

    return {"iam": iam, "user": user, "dev_sts": dev_sts, "make_role": make_role, "suffix": suffix}


def test_assumed_session_can_do_exactly_what_its_policy_allows(server, world):
    role = world["make_role"]("reader")
    world["iam"].put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="get-self",
        PolicyDocument=doc({"Effect": "Allow", "Action": "iam:GetRole", "Resource": role["Arn"]}),
    )
    other = world["make_role"]("other")
    # The trust policy names dev's ARN, so dev needs no identity policy of its own (AWS docs:
    # a same-account resource-based policy that names the principal grants on its own).
    out = world["dev_sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    account = role["Arn"].split(":")[4]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role['RoleName']}/s1"
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:s1"
    sts = session_client(server, "sts", creds)
    assert sts.get_caller_identity()["Arn"] == out["AssumedRoleUser"]["Arn"]
    iam = session_client(server, "iam", creds)
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=other["RoleName"])
    assert code_of(e) == "AccessDenied"
    message = e.value.response["Error"]["Message"]
    assert message == (
        f"User: {out['AssumedRoleUser']['Arn']} is not authorized to perform: iam:GetRole on resource: "
        f"{other['Arn']} because no identity-based policy allows the iam:GetRole action"
    )
    with pytest.raises(ClientError) as e:
        iam.list_users()
    assert code_of(e) == "AccessDenied"


def test_permissions_boundary_cuts_an_allowed_action(server, world):
    iam = world["iam"]
    boundary = iam.create_policy(
        PolicyName=f"only-get-{world['suffix']}",
        PolicyDocument=doc({"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}),
    )["Policy"]
    role = world["make_role"](
        "bounded",
        inline=[{"Effect": "Allow", "Action": ["iam:GetRole", "iam:ListRoles"], "Resource": "*"}],
        PermissionsBoundary=boundary["Arn"],
    )
    creds = world["dev_sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="bounded")["Credentials"]
    iam_s = session_client(server, "iam", creds)
    iam_s.get_role(RoleName=role["RoleName"])
    with pytest.raises(ClientError) as e:
        iam_s.list_roles()
    assert code_of(e) == "AccessDenied"
    assert "because no permissions boundary allows the iam:ListRoles action" in e.value.response["Error"]["Message"]


def test_session_policy_cuts_further(server, world):
    role = world["make_role"]("wide", inline=[{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}])
    creds = world["dev_sts"].assume_role(
        RoleArn=role["Arn"],
        RoleSessionName="narrow",
        Policy=doc({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}),
    )["Credentials"]
    iam_s = session_client(server, "iam", creds)
    assert any(r["Arn"] == role["Arn"] for r in iam_s.list_roles()["Roles"])
    with pytest.raises(ClientError) as e:
        iam_s.get_role(RoleName=role["RoleName"])
    assert code_of(e) == "AccessDenied"
    assert "because no session policy allows the iam:GetRole action" in e.value.response["Error"]["Message"]


def test_trust_policy_must_allow_even_an_administrator(server, world):
    role = world["make_role"]("devonly")
    with pytest.raises(ClientError) as e:
        server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="admin")
    assert code_of(e) == "AccessDenied"
    # A role that does not exist answers the same way: nothing to learn from the difference.
    with pytest.raises(ClientError) as e2:
        server.client("sts").assume_role(RoleArn=role["Arn"] + "-nope", RoleSessionName="admin")
    assert code_of(e2) == "AccessDenied"


def test_external_id_condition(server, world):
    role = world["make_role"]("thirdparty", condition={"StringEquals": {"sts:ExternalId": "xyz-123"}})
    with pytest.raises(ClientError) as e:
        world["dev_sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="xx")
    assert code_of(e) == "AccessDenied"
    with pytest.raises(ClientError):
        world["dev_sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="xx", ExternalId="wrong")
    assert world["dev_sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="xx", ExternalId="xyz-123")["Credentials"]


def test_duration_bounds(server, world):
    role = world["make_role"]("durations", MaxSessionDuration=3600)
    # botocore would refuse 899 itself; switch its validation off so the server is tested.
    creds = world["dev_sts"]._request_signer._credentials
    sts = server.client(
        "sts",
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    for bad in (899, 3601):
        with pytest.raises(ClientError) as e:
            sts.assume_role(RoleArn=role["Arn"], RoleSessionName="dd", DurationSeconds=bad)
        assert code_of(e) == "ValidationError"


def test_tampered_or_missing_session_token_is_refused(server, world):
    role = world["make_role"]("tokens", inline=[{"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}])
    creds = world["dev_sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="tt")["Credentials"]
    tampered = dict(creds, SessionToken=creds["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as e:
        session_client(server, "iam", tampered).list_roles()
    assert code_of(e) == "InvalidClientTokenId"
    missing = boto3.client(
        "iam", endpoint_url=server.endpoint, region_name=server.region,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], config=NO_RETRY,
    )
    with pytest.raises(ClientError) as e:
        missing.list_roles()
    assert code_of(e) == "InvalidClientTokenId"


def test_get_session_token_acts_as_the_user_but_not_on_iam(server, world):
    creds = world["dev_sts"].get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert session_client(server, "sts", creds).get_caller_identity()["Arn"] == world["user"]["Arn"]
    with pytest.raises(ClientError) as e:
        session_client(server, "iam", creds).list_users()
    assert code_of(e) == "InvalidClientTokenId"


def test_credentials_expire(fresh_server):
    # A shortened minimum behind a test-only flag, so expiry is observed in seconds.
    server = fresh_server(["--test-min-session-seconds", "2"])
    iam = server.client("iam")
    role = iam.create_role(
        RoleName="short",
        AssumeRolePolicyDocument=doc(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.client('sts').get_caller_identity()['Account']}:root"}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]
    unvalidated = server.client("sts", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    creds = unvalidated.assume_role(RoleArn=role["Arn"], RoleSessionName="brief", DurationSeconds=2)["Credentials"]
    sts = session_client(server, "sts", creds)
    assert sts.get_caller_identity()["Arn"].endswith(":assumed-role/short/brief")
    time.sleep(2.5)
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert code_of(e) == "ExpiredToken"
