"""Secrets Manager resource policies driven by boto3 and the AWS CLI: Put/Get/Delete/
ValidateResourcePolicy with their shapes and errors, and the stored policy evaluated with IAM
on every request on the secret — an explicit Deny blocks even the administrator, an Allow
naming another user or role of the account grants without any identity policy,
`BlockPublicPolicy` refuses a wildcard principal (PublicPolicyException) — plus the acceptance
of issue #14: a role allowed GetSecretValue on exactly one secret ARN reads it and is refused
another."""

import json
import os
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import ClientError
from secrets_support import DENIED, NO_VALIDATION, doc, error, refused, unique



@pytest.fixture(scope="module")
def sm(server):
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def loose(server):
    return server.client("secretsmanager", config=NO_VALIDATION)


@pytest.fixture(scope="module")
def account(server):
    return server.client("sts").get_caller_identity()["Account"]


@pytest.fixture(scope="module")
def admin_arn(server):
    return server.client("sts").get_caller_identity()["Arn"]


class Principals:
    """Users (and roles) with one inline policy each, cleaned up at the end."""

    def __init__(self, server):
        self.server = server
        self.iam = server.client("iam")
        self.users, self.roles = [], []

    def client(self, key, secret, token=None):
        return boto3.client(
            "secretsmanager", endpoint_url=self.server.endpoint, region_name=self.server.region,
            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
            config=NO_VALIDATION)

    def user(self, policy=None):
        name = unique("smp-user")
        arn = self.iam.create_user(UserName=name)["User"]["Arn"]
        self.users.append(name)
        if policy:
            self.iam.put_user_policy(UserName=name, PolicyName="grant", PolicyDocument=policy)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return arn, self.client(key["AccessKeyId"], key["SecretAccessKey"])

    def role(self, policy, trusted):
        name = unique("smp-role")
        trust = doc({"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"})
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.roles.append(name)
        if policy:
            self.iam.put_role_policy(RoleName=name, PolicyName="grant", PolicyDocument=policy)
        return arn

    def assume(self, role_arn):
        creds = self.server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="reader")["Credentials"]
        return self.client(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

    def cleanup(self):
        for name in self.users:
            for k in self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                self.iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
            for p in self.iam.list_user_policies(UserName=name)["PolicyNames"]:
                self.iam.delete_user_policy(UserName=name, PolicyName=p)
            self.iam.delete_user(UserName=name)
        for name in self.roles:
            for p in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
                self.iam.delete_role_policy(RoleName=name, PolicyName=p)
            self.iam.delete_role(RoleName=name)


@pytest.fixture(scope="module")
def principals(server):
    p = Principals(server)
    yield p
    p.cleanup()


@pytest.fixture
def secret(sm):
    """A fresh secret (name, ARN), force-deleted afterwards."""
    name = unique("smp")
    arn = sm.create_secret(Name=name, SecretString=f"value-of-{name}")["ARN"]
    yield name, arn
    try:
        sm.delete_resource_policy(SecretId=arn)
    except ClientError:
        pass
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


# ---------------------------------------------------------------------------------------------
# The operations and their shapes


def test_put_get_delete_and_nothing_in_describe_or_list(sm, secret, account):
    name, arn = secret
    assert sm.get_resource_policy(SecretId=name).keys() - {"ResponseMetadata"} == {"ARN", "Name"}
    described_before = sm.describe_secret(SecretId=arn)
    listed_before = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"][0]

    policy = doc({"Sid": "Read by the account", "Effect": "Allow",
                  "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                  "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    put = sm.put_resource_policy(SecretId=name, ResourcePolicy=policy, BlockPublicPolicy=True)
    assert (put["ARN"], put["Name"], put["PolicyName"]) == (arn, name, "default")
    got = sm.get_resource_policy(SecretId=arn)
    assert (got["ARN"], got["Name"], got["PolicyName"]) == (arn, name, "default")
    assert json.loads(got["ResourcePolicy"]) == json.loads(policy)
    assert sm.get_resource_policy(SecretId=arn, PolicyName="default")["ResourcePolicy"] == got["ResourcePolicy"]

    # DescribeSecret and ListSecrets show nothing of it: the same members as before.
    described = sm.describe_secret(SecretId=arn)
    assert described.keys() == described_before.keys()
    assert "ResourcePolicy" not in json.dumps(described, default=str)
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"][0]
    assert listed.keys() == listed_before.keys()

    deleted = sm.delete_resource_policy(SecretId=arn)
    assert (deleted["ARN"], deleted["Name"], deleted["PolicyName"]) == (arn, name, "default")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=arn)
    # Deleting again answers the same.
    assert sm.delete_resource_policy(SecretId=name)["ARN"] == arn


def test_malformed_policies_names_and_missing_secrets(sm, loose, secret, account):
    name, _ = secret
    cases = [
        "not json at all",
        json.dumps({"Version": "2012-10-17"}),
        # A resource policy must name its principals.
        doc({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}),
        doc({"Effect": "Permit", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}),
        doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "GetSecretValue", "Resource": "*"}),
    ]
    for policy in cases:
        assert refused(sm.put_resource_policy, SecretId=name, ResourcePolicy=policy) == \
            "MalformedPolicyDocumentException", policy
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)

    good = doc({"Effect": "Allow", "Principal": {"AWS": account}, "Action": "secretsmanager:*", "Resource": "*"})
    assert refused(sm.put_resource_policy, SecretId=name, ResourcePolicy=good, PolicyName="other") == \
        "InvalidParameterException"
    assert refused(sm.delete_resource_policy, SecretId=name, PolicyName="other") == "InvalidParameterException"
    assert refused(sm.get_resource_policy, SecretId=name, PolicyName="other") == "ResourceNotFoundException"
    assert refused(loose.put_resource_policy, SecretId=name, ResourcePolicy=good, PolicyName="bad name!") == \
        "ValidationException"
    assert refused(loose.put_resource_policy, SecretId=name, ResourcePolicy="") == "ValidationException"
    assert refused(loose.put_resource_policy, SecretId=name, ResourcePolicy=" " * 20481) == "ValidationException"
    assert refused(loose.put_resource_policy, SecretId=name) == "ValidationException"
    assert refused(loose.put_resource_policy, SecretId=name, ResourcePolicy=good, BlockPublicPolicy="yes") == \
        "SerializationException"

    missing = unique("smp-missing")
    for call in (sm.put_resource_policy, sm.get_resource_policy, sm.delete_resource_policy):
        extra = {"ResourcePolicy": good} if call == sm.put_resource_policy else {}
        assert refused(call, SecretId=missing, **extra) == "ResourceNotFoundException"

    # A secret scheduled for deletion takes no new policy; its policy can still be read.
    sm.put_resource_policy(SecretId=name, ResourcePolicy=good)
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    try:
        assert refused(sm.put_resource_policy, SecretId=name, ResourcePolicy=good) == "InvalidRequestException"
        assert refused(sm.delete_resource_policy, SecretId=name) == "InvalidRequestException"
        assert "ResourcePolicy" in sm.get_resource_policy(SecretId=name)
    finally:
        sm.restore_secret(SecretId=name)


def test_block_public_policy(sm, secret, account):
    name, _ = secret
    public = [
        {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "secretsmanager:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "secretsmanager:GetSecretValue", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalAccount": account}}},
        {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
    ]
    for statement in public:
        code, message = error(sm.put_resource_policy, SecretId=name, ResourcePolicy=doc(statement),
                              BlockPublicPolicy=True)
        assert code == "PublicPolicyException", statement
        assert "Statement[0]" in message
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)

    # Pinned to the account, the wildcard is not public.
    pinned = {**public[0], "Condition": {"StringEquals": {"aws:PrincipalAccount": account}}}
    sm.put_resource_policy(SecretId=name, ResourcePolicy=doc(pinned), BlockPublicPolicy=True)
    # Without BlockPublicPolicy a public policy is accepted, as on AWS.
    sm.put_resource_policy(SecretId=name, ResourcePolicy=doc(public[0]))
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"])["Statement"][0]["Principal"] == "*"


def test_validate_resource_policy(sm, loose, secret, account):
    name, _ = secret
    ok = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:role/MyRole"},
              "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    for kwargs in ({}, {"SecretId": name}):
        answer = sm.validate_resource_policy(ResourcePolicy=ok, **kwargs)
        assert (answer["PolicyValidationPassed"], answer["ValidationErrors"]) == (True, [])

    public = doc({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
                 {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:DeleteSecret", "Resource": "*"},
                 {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "secretsmanager:DescribeSecret",
                  "Resource": "*"})
    answer = sm.validate_resource_policy(ResourcePolicy=public, SecretId=name)
    assert answer["PolicyValidationPassed"] is False
    [entry] = answer["ValidationErrors"]
    assert entry["CheckName"] and "Statement[0], Statement[2]" in entry["ErrorMessage"]

    no_statement = sm.validate_resource_policy(ResourcePolicy=json.dumps({"Version": "2012-10-17"}))
    assert no_statement["PolicyValidationPassed"] is False
    [entry] = no_statement["ValidationErrors"]
    assert entry["CheckName"] != answer["ValidationErrors"][0]["CheckName"] and entry["ErrorMessage"]

    assert refused(sm.validate_resource_policy, ResourcePolicy="{nope") == "MalformedPolicyDocumentException"
    assert refused(sm.validate_resource_policy, ResourcePolicy=ok, SecretId=unique("smp-missing")) == \
        "ResourceNotFoundException"
    assert refused(loose.validate_resource_policy, ResourcePolicy="") == "ValidationException"
    assert refused(loose.validate_resource_policy, SecretId=name) == "ValidationException"
    # Validation stores nothing.
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


# ---------------------------------------------------------------------------------------------
# Evaluated with IAM


def test_explicit_deny_blocks_even_the_administrator(sm, secret, admin_arn):
    name, arn = secret
    assert sm.get_secret_value(SecretId=name)["SecretString"] == f"value-of-{name}"
    for principal in ("*", {"AWS": admin_arn}):
        sm.put_resource_policy(SecretId=arn, ResourcePolicy=doc(
            {"Effect": "Deny", "Principal": principal, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
        code, message = error(sm.get_secret_value, SecretId=name)
        assert code == DENIED
        assert message.endswith("with an explicit deny in a resource-based policy"), message
        assert f"on resource: {name} " in message
        # Only what the policy denies: the rest still works.
        assert sm.describe_secret(SecretId=name)["ARN"] == arn
        sm.delete_resource_policy(SecretId=arn)
        assert sm.get_secret_value(SecretId=name)["SecretString"] == f"value-of-{name}"

    # A Deny of writes blocks writes (by any identifier), and nothing changes.
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=doc(
        {"Effect": "Deny", "Principal": "*", "Action": ["secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret",
                                                        "secretsmanager:TagResource"], "Resource": arn}))
    assert refused(sm.put_secret_value, SecretId=name, SecretString="overwritten") == DENIED
    assert refused(sm.delete_secret, SecretId=arn, ForceDeleteWithoutRecovery=True) == DENIED
    assert refused(sm.tag_resource, SecretId=arn[:-7], Tags=[{"Key": "k", "Value": "v"}]) == DENIED
    assert sm.get_secret_value(SecretId=name)["SecretString"] == f"value-of-{name}"
    assert "Tags" not in sm.describe_secret(SecretId=name)


def test_allow_grants_another_user_without_identity_policy(sm, secret, principals, account):
    name, arn = secret
    other_name = unique("smp-other")
    other = sm.create_secret(Name=other_name, SecretString="other")["ARN"]
    try:
        user_arn, client = principals.user(doc({"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}))
        assert refused(client.get_secret_value, SecretId=arn) == DENIED
        sm.put_resource_policy(SecretId=arn, ResourcePolicy=doc(
            {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "secretsmanager:GetSecretValue",
             "Resource": "*"}), BlockPublicPolicy=True)
        assert client.get_secret_value(SecretId=arn)["SecretString"] == f"value-of-{name}"
        assert client.get_secret_value(SecretId=name)["SecretString"] == f"value-of-{name}"
        # Only that action, only on that secret.
        assert refused(client.describe_secret, SecretId=arn) == DENIED
        assert refused(client.put_secret_value, SecretId=arn, SecretString="x") == DENIED
        assert refused(client.get_secret_value, SecretId=other) == DENIED

        # An Allow naming only the account delegates to IAM and grants nothing by itself.
        sm.put_resource_policy(SecretId=arn, ResourcePolicy=doc(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
             "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
        assert refused(client.get_secret_value, SecretId=arn) == DENIED

        # A role named in the policy: its sessions read the secret without an identity policy.
        me = principals.server.client("sts").get_caller_identity()["Arn"]
        role = principals.role(None, me)
        sm.put_resource_policy(SecretId=arn, ResourcePolicy=doc(
            {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "secretsmanager:GetSecretValue",
             "Resource": arn}))
        session = principals.assume(role)
        assert session.get_secret_value(SecretId=arn)["SecretString"] == f"value-of-{name}"
        assert refused(session.get_secret_value, SecretId=other) == DENIED
    finally:
        sm.delete_secret(SecretId=other, ForceDeleteWithoutRecovery=True)


def test_block_public_policy_condition_key(sm, secret, principals):
    name, arn = secret
    _, client = principals.user(doc(
        {"Effect": "Allow", "Action": "secretsmanager:PutResourcePolicy", "Resource": arn,
         "Condition": {"Bool": {"secretsmanager:BlockPublicPolicy": "true"}}}))
    policy = doc({"Effect": "Allow", "Principal": {"AWS": arn.split(":")[4]}, "Action": "secretsmanager:*",
                  "Resource": "*"})
    assert refused(client.put_resource_policy, SecretId=arn, ResourcePolicy=policy) == DENIED
    assert refused(client.put_resource_policy, SecretId=arn, ResourcePolicy=policy, BlockPublicPolicy=False) == DENIED
    client.put_resource_policy(SecretId=arn, ResourcePolicy=policy, BlockPublicPolicy=True)
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == json.loads(policy)


def test_validate_needs_put_resource_policy_too(sm, secret, principals):
    name, arn = secret
    ok = doc({"Effect": "Allow", "Principal": {"AWS": arn.split(":")[4]}, "Action": "secretsmanager:*",
              "Resource": "*"})
    _, validate_only = principals.user(doc(
        {"Effect": "Allow", "Action": "secretsmanager:ValidateResourcePolicy", "Resource": "*"}))
    code, message = error(validate_only.validate_resource_policy, SecretId=arn, ResourcePolicy=ok)
    assert code == DENIED and "secretsmanager:PutResourcePolicy" in message
    _, both = principals.user(doc(
        {"Effect": "Allow", "Action": ["secretsmanager:ValidateResourcePolicy", "secretsmanager:PutResourcePolicy"],
         "Resource": arn}))
    assert both.validate_resource_policy(SecretId=arn, ResourcePolicy=ok)["PolicyValidationPassed"] is True
    # Granted on the secret only: validating for no secret in particular is another resource.
    assert refused(both.validate_resource_policy, ResourcePolicy=ok) == DENIED


def test_role_allowed_on_exactly_one_secret_arn(sm, principals):
    """Issue #14's acceptance: a role whose policy allows secretsmanager:GetSecretValue on
    exactly one secret ARN reads that secret and gets AccessDeniedException for another."""
    mine = sm.create_secret(Name=unique("smp-role-mine"), SecretString="for the role")["ARN"]
    other = sm.create_secret(Name=unique("smp-role-other"), SecretString="not for the role")["ARN"]
    try:
        me = principals.server.client("sts").get_caller_identity()["Arn"]
        role = principals.role(doc(
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": mine}), me)
        session = principals.assume(role)
        assert session.get_secret_value(SecretId=mine)["SecretString"] == "for the role"
        code, message = error(session.get_secret_value, SecretId=other)
        assert code == DENIED and ":assumed-role/" in message and "secretsmanager:GetSecretValue" in message
        assert refused(session.describe_secret, SecretId=mine) == DENIED
    finally:
        for arn in (mine, other):
            sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


# ---------------------------------------------------------------------------------------------
# The AWS CLI


def aws(server, *args):
    cli = os.path.join(os.path.dirname(sys.executable), "aws")
    out = subprocess.run([cli, "--endpoint-url", server.endpoint, "--output", "json", *args], env=server.cli_env(),
                         capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout, out.stderr


def test_aws_cli_put_and_get_resource_policy(server, sm, secret, account, tmp_path):
    name, arn = secret
    policy = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                  "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    path = tmp_path / "policy.json"
    path.write_text(policy)
    rc, out, err = aws(server, "secretsmanager", "put-resource-policy", "--secret-id", name,
                       "--resource-policy", f"file://{path}", "--block-public-policy")
    assert rc == 0, err
    assert json.loads(out)["ARN"] == arn
    rc, out, err = aws(server, "secretsmanager", "get-resource-policy", "--secret-id", arn)
    assert rc == 0, err
    assert json.loads(json.loads(out)["ResourcePolicy"]) == json.loads(policy)
    path.write_text(doc({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                         "Resource": "*"}))
    rc, out, err = aws(server, "secretsmanager", "put-resource-policy", "--secret-id", name,
                       "--resource-policy", f"file://{path}", "--block-public-policy")
    assert rc != 0 and "PublicPolicyException" in err
    rc, out, err = aws(server, "secretsmanager", "validate-resource-policy", "--resource-policy", f"file://{path}")
    assert rc == 0, err
    assert json.loads(out)["PolicyValidationPassed"] is False
