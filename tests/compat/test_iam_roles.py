"""IAM roles and inline policies through boto3: trust policies, session limits, tags,
boundaries, and inline documents (returned URL-encoded; botocore decodes them to dicts)."""

import json

import pytest

from iam_helpers import ADMIN_POLICY, error_of, identity_policy, trust_policy, unique


def test_role_lifecycle(server):
    iam = server.client("iam")
    name = unique("svc")
    trust = trust_policy()
    role = iam.create_role(
        RoleName=name,
        Path="/app/",
        AssumeRolePolicyDocument=trust,
        Description="runs the app",
        MaxSessionDuration=7200,
        Tags=[{"Key": "env", "Value": "test"}],
    )["Role"]
    assert role["RoleId"].startswith("AROA") and role["Arn"].endswith(f":role/app/{name}")
    assert role["AssumeRolePolicyDocument"] == json.loads(trust)
    assert role["MaxSessionDuration"] == 7200 and role["Description"] == "runs the app"

    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == json.loads(trust)
    assert got["Tags"] == [{"Key": "env", "Value": "test"}]

    iam.update_role(RoleName=name, Description="new", MaxSessionDuration=43200)
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("new", 43200)
    other = trust_policy("arn:aws:iam::210987654321:root")
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=other)
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(other)

    iam.tag_role(RoleName=name, Tags=[{"Key": "owner", "Value": "me"}])
    assert {t["Key"] for t in iam.list_role_tags(RoleName=name)["Tags"]} == {"env", "owner"}
    iam.untag_role(RoleName=name, TagKeys=["env"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "owner", "Value": "me"}]

    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=ADMIN_POLICY)
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == ADMIN_POLICY
    iam.delete_role_permissions_boundary(RoleName=name)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=name)["Role"]

    iam.attach_role_policy(RoleName=name, PolicyArn=ADMIN_POLICY)
    assert error_of(iam.delete_role, RoleName=name)[0] == "DeleteConflict"
    iam.detach_role_policy(RoleName=name, PolicyArn=ADMIN_POLICY)
    iam.delete_role(RoleName=name)
    code, message, status = error_of(iam.get_role, RoleName=name)
    assert (code, status) == ("NoSuchEntity", 404) and message == f"The role with name {name} cannot be found."


def test_role_validation(server):
    iam = server.client("iam")
    name = unique("bad")
    # A trust policy must name a principal.
    code, message, status = error_of(iam.create_role, RoleName=name, AssumeRolePolicyDocument=identity_policy())
    assert (code, status) == ("MalformedPolicyDocument", 400) and message
    assert error_of(iam.create_role, RoleName=name, AssumeRolePolicyDocument="{not json")[0] == "MalformedPolicyDocument"
    too_long = error_of(iam.create_role, RoleName=name, AssumeRolePolicyDocument=trust_policy(), MaxSessionDuration=43201)
    assert too_long[0] == "ValidationError"
    assert error_of(iam.create_role, RoleName="a" * 65, AssumeRolePolicyDocument=trust_policy())[0] == "ValidationError"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy())
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600
    assert error_of(iam.create_role, RoleName=name, AssumeRolePolicyDocument=trust_policy())[0] == "EntityAlreadyExists"
    bad_trust = error_of(iam.update_assume_role_policy, RoleName=name, PolicyDocument=identity_policy())
    assert bad_trust[0] == "MalformedPolicyDocument"
    iam.delete_role(RoleName=name)


def test_list_roles_paginates(server):
    iam = server.client("iam")
    prefix = f"/{unique('roles')}/"
    names = sorted(unique("r") for _ in range(3))
    for n in names:
        iam.create_role(RoleName=n, Path=prefix, AssumeRolePolicyDocument=trust_policy())
    first = iam.list_roles(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and [r["RoleName"] for r in first["Roles"]] == names[:2]
    assert first["Roles"][0]["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
    rest = iam.list_roles(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert [r["RoleName"] for r in rest["Roles"]] == names[2:] and not rest["IsTruncated"]
    for n in names:
        iam.delete_role(RoleName=n)


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_inline_policies(server, kind):
    iam = server.client("iam")
    Kind = kind.capitalize()
    owner = unique(kind)
    member = {f"{Kind}Name": owner}
    if kind == "user":
        iam.create_user(UserName=owner)
    elif kind == "group":
        iam.create_group(GroupName=owner)
    else:
        iam.create_role(RoleName=owner, AssumeRolePolicyDocument=trust_policy())
    put = getattr(iam, f"put_{kind}_policy")
    get = getattr(iam, f"get_{kind}_policy")
    lst = getattr(iam, f"list_{kind}_policies")
    delete = getattr(iam, f"delete_{kind}_policy")

    doc = identity_policy("s3:GetObject", "arn:aws:s3:::bucket/*")
    put(PolicyName="read", PolicyDocument=doc, **member)
    put(PolicyName="write", PolicyDocument=identity_policy("s3:PutObject"), **member)
    got = get(PolicyName="read", **member)
    assert got[f"{Kind}Name"] == owner and got["PolicyName"] == "read"
    assert got["PolicyDocument"] == json.loads(doc)
    assert lst(**member)["PolicyNames"] == ["read", "write"]
    page = lst(MaxItems=1, **member)
    assert page["IsTruncated"] and page["PolicyNames"] == ["read"]
    assert lst(Marker=page["Marker"], **member)["PolicyNames"] == ["write"]

    # Replacing keeps one entry.
    put(PolicyName="read", PolicyDocument=identity_policy("s3:ListBucket"), **member)
    assert get(PolicyName="read", **member)["PolicyDocument"]["Statement"][0]["Action"] == "s3:ListBucket"

    code, message, status = error_of(put, PolicyName="bad", PolicyDocument='{"Version":"2012-10-17"}', **member)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    with_principal = json.loads(trust_policy())
    with_principal["Statement"][0]["Resource"] = "*"
    assert error_of(put, PolicyName="bad", PolicyDocument=json.dumps(with_principal), **member)[0] == "MalformedPolicyDocument"
    huge = identity_policy([f"s3:GetObject{i:04d}" for i in range(800)])
    code, message, status = error_of(put, PolicyName="huge", PolicyDocument=huge, **member)
    assert (code, status) == ("LimitExceeded", 409)
    assert error_of(get, PolicyName="nope", **member)[0] == "NoSuchEntity"

    delete(PolicyName="read", **member)
    delete(PolicyName="write", **member)
    assert lst(**member)["PolicyNames"] == []
    assert error_of(delete, PolicyName="read", **member)[0] == "NoSuchEntity"
    getattr(iam, f"delete_{kind}")(**member)
    assert error_of(lst, **member)[0] == "NoSuchEntity"


def test_role_names_are_unique_regardless_of_case(server):
    iam = server.client("iam")
    name = unique("Svc")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy())
    code, message, status = error_of(iam.create_role, RoleName=name.lower(), AssumeRolePolicyDocument=trust_policy())
    assert (code, status) == ("EntityAlreadyExists", 409)
    iam.delete_role(RoleName=name)


def test_update_role_description_answers_the_role(server):
    iam = server.client("iam")
    name = unique("desc")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy())
    role = iam.update_role_description(RoleName=name, Description="described")["Role"]
    assert role["RoleName"] == name and role["Description"] == "described"
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "described"
    iam.delete_role(RoleName=name)
