"""STS enforced as AWS enforces it, driven by boto3: session tags and TransitiveTagKeys need
`sts:TagSession`, SourceIdentity needs `sts:SetSourceIdentity` (in the role's trust policy);
role chaining is capped at one hour and carries the source identity and transitive tags;
invalid tags are refused; sessions are bound to the role's and user's unique ids, so a role
or user deleted and re-created under the same name does not inherit live sessions; a
credential scoped to a region the endpoint does not serve is refused."""

import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

# Client-side validation off: the server, not botocore, must refuse malformed members.
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def client(server, service, creds, region=None):
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region or server.region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=NO_RETRY,
    )


@pytest.fixture
def dev(server):
    """A user with a long-term key and no policies of its own."""
    iam = server.client("iam")
    name = f"dev-{uuid.uuid4().hex[:8]}"
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"iam": iam, "user": user, "key": key, "sts": client(server, "sts", key)}


def make_role(iam, principal, actions=("sts:AssumeRole",), name=None, inline=None):
    name = name or f"role-{uuid.uuid4().hex[:8]}"
    trust = doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": list(actions)})
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=doc(*inline))
    return role


def test_session_tags_need_sts_tag_session(dev):
    plain = make_role(dev["iam"], dev["user"]["Arn"])
    tags = [{"Key": "team", "Value": "blue"}]
    with pytest.raises(ClientError) as e:
        dev["sts"].assume_role(RoleArn=plain["Arn"], RoleSessionName="s1", Tags=tags)
    assert code_of(e) == "AccessDenied"
    assert "sts:TagSession" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        dev["sts"].assume_role(
            RoleArn=plain["Arn"], RoleSessionName="s1", Tags=tags, TransitiveTagKeys=["team"]
        )
    assert code_of(e) == "AccessDenied"
    # Untagged, the same role is assumed.
    dev["sts"].assume_role(RoleArn=plain["Arn"], RoleSessionName="s1")
    tagging = make_role(dev["iam"], dev["user"]["Arn"], ("sts:AssumeRole", "sts:TagSession"))
    out = dev["sts"].assume_role(RoleArn=tagging["Arn"], RoleSessionName="s1", Tags=tags)
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_source_identity_needs_sts_set_source_identity(dev):
    plain = make_role(dev["iam"], dev["user"]["Arn"])
    with pytest.raises(ClientError) as e:
        dev["sts"].assume_role(RoleArn=plain["Arn"], RoleSessionName="s1", SourceIdentity="alice")
    assert code_of(e) == "AccessDenied"
    assert "sts:SetSourceIdentity" in e.value.response["Error"]["Message"]
    allowed = make_role(dev["iam"], dev["user"]["Arn"], ("sts:AssumeRole", "sts:SetSourceIdentity"))
    out = dev["sts"].assume_role(RoleArn=allowed["Arn"], RoleSessionName="s1", SourceIdentity="alice")
    assert out["SourceIdentity"] == "alice"


@pytest.mark.parametrize(
    "tags,keys",
    [
        ([{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}], None),
        ([{"Key": "bad!key", "Value": "1"}], None),
        ([{"Key": "k", "Value": "x" * 257}], None),
        ([{"Key": "k", "Value": "1"}], ["not-a-tag"]),
    ],
    ids=["duplicate-case-insensitive", "bad-key-characters", "value-too-long", "transitive-not-a-tag"],
)
def test_invalid_session_tags_are_refused(dev, tags, keys):
    role = make_role(dev["iam"], dev["user"]["Arn"], ("sts:AssumeRole", "sts:TagSession"))
    kwargs = {"RoleArn": role["Arn"], "RoleSessionName": "s1", "Tags": tags}
    if keys:
        kwargs["TransitiveTagKeys"] = keys
    with pytest.raises(ClientError) as e:
        dev["sts"].assume_role(**kwargs)
    assert code_of(e) in ("ValidationError", "InvalidParameterValue")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_role_chaining_is_capped_and_carries_lineage(server, dev):
    iam = dev["iam"]
    account = dev["user"]["Arn"].split(":")[4]
    second = make_role(iam, f"arn:aws:iam::{account}:root", ("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"))
    first = make_role(
        iam,
        dev["user"]["Arn"],
        ("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"),
        # The next role trusts the account, so the session's own policy must allow each action.
        inline=[
            {
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                "Resource": second["Arn"],
            }
        ],
    )
    iam.put_role_policy(
        RoleName=second["RoleName"],
        PolicyName="read-if-tagged",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "iam:GetRole",
                "Resource": second["Arn"],
                "Condition": {
                    "StringEquals": {"aws:PrincipalTag/team": "blue", "aws:SourceIdentity": "alice"}
                },
            }
        ),
    )
    out = dev["sts"].assume_role(
        RoleArn=first["Arn"],
        RoleSessionName="link1",
        SourceIdentity="alice",
        Tags=[{"Key": "team", "Value": "blue"}, {"Key": "local", "Value": "x"}],
        TransitiveTagKeys=["team"],
    )
    link1 = client(server, "sts", out["Credentials"])
    with pytest.raises(ClientError) as e:
        link1.assume_role(RoleArn=second["Arn"], RoleSessionName="link2", DurationSeconds=3601)
    assert code_of(e) == "ValidationError"
    assert "role chaining" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        link1.assume_role(RoleArn=second["Arn"], RoleSessionName="link2", SourceIdentity="mallory")
    assert code_of(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        link1.assume_role(
            RoleArn=second["Arn"], RoleSessionName="link2", Tags=[{"Key": "team", "Value": "red"}]
        )
    assert code_of(e) == "InvalidParameterValue"
    out2 = link1.assume_role(RoleArn=second["Arn"], RoleSessionName="link2")
    assert out2["SourceIdentity"] == "alice"
    # The chained session carries team=blue and the source identity: the conditions hold.
    link2_iam = client(server, "iam", out2["Credentials"])
    assert link2_iam.get_role(RoleName=second["RoleName"])["Role"]["Arn"] == second["Arn"]

    # A next role whose trust policy lacks sts:TagSession / sts:SetSourceIdentity refuses the
    # session that would carry them on.
    strict = make_role(iam, f"arn:aws:iam::{account}:root")
    iam.put_role_policy(
        RoleName=first["RoleName"],
        PolicyName="inline",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                "Resource": [second["Arn"], strict["Arn"]],
            }
        ),
    )
    with pytest.raises(ClientError) as e:
        link1.assume_role(RoleArn=strict["Arn"], RoleSessionName="link2")
    assert code_of(e) == "AccessDenied"


def test_old_session_of_deleted_and_recreated_role_is_refused(server, dev):
    iam = dev["iam"]
    name = f"phoenix-{uuid.uuid4().hex[:8]}"
    read_self = [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]
    make_role(iam, dev["user"]["Arn"], name=name, inline=read_self)
    creds = dev["sts"].assume_role(RoleArn=iam.get_role(RoleName=name)["Role"]["Arn"], RoleSessionName="old")[
        "Credentials"
    ]
    old = client(server, "iam", creds)
    assert old.get_role(RoleName=name)["Role"]["RoleName"] == name
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    iam.delete_role(RoleName=name)
    make_role(iam, dev["user"]["Arn"], name=name, inline=read_self)
    with pytest.raises(ClientError) as e:
        old.get_role(RoleName=name)
    assert code_of(e) == "InvalidClientTokenId"
    # A fresh session of the new role works.
    fresh = dev["sts"].assume_role(RoleArn=iam.get_role(RoleName=name)["Role"]["Arn"], RoleSessionName="new")
    assert client(server, "iam", fresh["Credentials"]).get_role(RoleName=name)


def test_old_session_token_of_deleted_and_recreated_user_is_refused(server):
    iam = server.client("iam")
    name = f"lazarus-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="sts",
        PolicyDocument=doc({"Effect": "Allow", "Action": "sts:*", "Resource": "*"}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    session = client(server, "sts", key).get_session_token(DurationSeconds=900)["Credentials"]
    assert client(server, "sts", session).get_caller_identity()["Arn"].endswith(f":user/{name}")
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="sts")
    iam.delete_user(UserName=name)
    iam.create_user(UserName=name)
    with pytest.raises(ClientError) as e:
        client(server, "sts", session).get_caller_identity()
    assert code_of(e) == "InvalidClientTokenId"


def test_credential_scoped_to_another_region_is_refused(server, dev):
    other = "eu-central-1" if server.region != "eu-central-1" else "eu-west-1"
    with pytest.raises(ClientError) as e:
        client(server, "sts", dev["key"], region=other).get_caller_identity()
    assert code_of(e) == "SignatureDoesNotMatch"
    assert "scoped to a valid region" in e.value.response["Error"]["Message"]
    assert client(server, "sts", dev["key"]).get_caller_identity()["Arn"] == dev["user"]["Arn"]


def test_requested_region_is_the_served_region(server, dev):
    iam = dev["iam"]
    name = dev["user"]["UserName"]
    iam.put_user_policy(
        UserName=name,
        PolicyName="region",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "iam:GetUser",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": server.region}},
            }
        ),
    )
    assert client(server, "iam", dev["key"]).get_user()["User"]["UserName"] == name
    # The same grant conditioned on another region allows nothing: the key is really the served
    # region, not merely present.
    other = "eu-central-1" if server.region != "eu-central-1" else "eu-west-1"
    iam.put_user_policy(
        UserName=name,
        PolicyName="region",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "iam:GetUser",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": other}},
            }
        ),
    )
    with pytest.raises(ClientError) as e:
        client(server, "iam", dev["key"]).get_user()
    assert code_of(e) == "AccessDenied"


def test_audit_records_name_the_resources_checked(server, dev):
    iam = dev["iam"]
    role = make_role(iam, dev["user"]["Arn"], ("sts:AssumeRole", "sts:TagSession"))
    dev["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="s1", Tags=[{"Key": "k", "Value": "v"}])
    deadline = time.time() + 10
    while True:
        records = [json.loads(line) for line in server.audit("--json", "--action", "sts:AssumeRole").splitlines() if line.strip()]
        mine = [r for r in records if r.get("principal_arn") == dev["user"]["Arn"]]
        if mine or time.time() > deadline:
            break
        time.sleep(0.2)
    assert mine, records[-3:]
    checks = mine[-1]["checks"]
    assert [c["action"] for c in checks] == ["sts:AssumeRole", "sts:TagSession"]
    assert all(c["resource"] == role["Arn"] and c["decision"] == "allowed" for c in checks)
