"""IAM users, groups and access keys through boto3 and the AWS CLI (botocore parses every
field of every answer, so a shape it cannot read fails the test)."""

import datetime
import json
import os
import subprocess

from iam_helpers import ADMIN_POLICY, error_of, identity_policy, unique


def test_create_get_update_delete_user(server):
    iam = server.client("iam")
    name, path = unique("bob"), "/eng/"
    created = iam.create_user(UserName=name, Path=path, Tags=[{"Key": "team", "Value": "core"}])["User"]
    account = server.client("sts").get_caller_identity()["Account"]
    assert created["Arn"] == f"arn:aws:iam::{account}:user/eng/{name}"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    assert created["Path"] == path
    assert isinstance(created["CreateDate"], datetime.datetime)
    assert created["Tags"] == [{"Key": "team", "Value": "core"}]

    got = iam.get_user(UserName=name)["User"]
    assert got["UserId"] == created["UserId"] and got["Tags"] == created["Tags"]

    new_name = unique("robert")
    iam.update_user(UserName=name, NewUserName=new_name, NewPath="/ops/")
    got = iam.get_user(UserName=new_name)["User"]
    assert got["Arn"].endswith(f":user/ops/{new_name}") and got["UserId"] == created["UserId"]
    assert error_of(iam.get_user, UserName=name)[0] == "NoSuchEntity"

    iam.delete_user(UserName=new_name)
    code, message, status = error_of(iam.get_user, UserName=new_name)
    assert (code, status) == ("NoSuchEntity", 404)
    assert message == f"The user with name {new_name} cannot be found."


def test_get_user_without_name_is_the_caller(server):
    user = server.client("iam").get_user()["User"]
    assert user["UserName"] == "admin" and user["Arn"].endswith(":user/admin")


def test_user_errors(server):
    iam = server.client("iam")
    name = unique("dup")
    iam.create_user(UserName=name)
    code, message, status = error_of(iam.create_user, UserName=name)
    assert (code, status) == ("EntityAlreadyExists", 409)
    assert name in message
    assert error_of(iam.create_user, UserName="bad name")[0] == "ValidationError"
    assert error_of(iam.create_user, UserName=unique("p"), Path="nope")[0] == "ValidationError"
    assert error_of(iam.delete_user, UserName=unique("ghost"))[0] == "NoSuchEntity"
    assert error_of(iam.update_user, UserName=name, NewUserName="admin")[0] == "EntityAlreadyExists"
    bad_boundary = error_of(iam.create_user, UserName=unique("b"), PermissionsBoundary="not-an-arn-but-long-enough")
    assert bad_boundary[0] == "InvalidInput"
    iam.delete_user(UserName=name)


def test_delete_user_conflicts_until_everything_is_gone(server):
    iam = server.client("iam")
    name, group = unique("busy"), unique("grp")
    iam.create_user(UserName=name)
    iam.create_group(GroupName=group)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=identity_policy())
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY)
    iam.add_user_to_group(UserName=name, GroupName=group)

    steps = [
        lambda: iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"]),
        lambda: iam.delete_user_policy(UserName=name, PolicyName="inline"),
        lambda: iam.detach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY),
        lambda: iam.remove_user_from_group(UserName=name, GroupName=group),
    ]
    for step in steps:
        code, message, status = error_of(iam.delete_user, UserName=name)
        assert (code, status) == ("DeleteConflict", 409), message
        assert message.startswith("Cannot delete entity")
        step()
    iam.delete_user(UserName=name)
    iam.delete_group(GroupName=group)


def test_user_tags_and_boundary(server):
    iam = server.client("iam")
    name = unique("tagged")
    iam.create_user(UserName=name)
    iam.tag_user(UserName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.tag_user(UserName=name, Tags=[{"Key": "A", "Value": "3"}])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "A", "Value": "3"}, {"Key": "b", "Value": "2"}]
    page = iam.list_user_tags(UserName=name, MaxItems=1)
    assert page["IsTruncated"] and len(page["Tags"]) == 1
    rest = iam.list_user_tags(UserName=name, Marker=page["Marker"])
    assert [t["Key"] for t in rest["Tags"]] == ["b"] and not rest["IsTruncated"]
    iam.untag_user(UserName=name, TagKeys=["a"])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "b", "Value": "2"}]
    dup = error_of(iam.tag_user, UserName=name, Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}])
    assert dup[0] == "InvalidInput"

    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=ADMIN_POLICY)
    boundary = iam.get_user(UserName=name)["User"]["PermissionsBoundary"]
    assert boundary == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": ADMIN_POLICY}
    missing = f"arn:aws:iam::{server.client('sts').get_caller_identity()['Account']}:policy/{unique('none')}"
    assert error_of(iam.put_user_permissions_boundary, UserName=name, PermissionsBoundary=missing)[0] == "NoSuchEntity"
    iam.delete_user_permissions_boundary(UserName=name)
    assert "PermissionsBoundary" not in iam.get_user(UserName=name)["User"]
    iam.delete_user(UserName=name)


def test_list_users_paginates_with_max_items(server):
    iam = server.client("iam")
    prefix = f"/{unique('page')}/"
    names = sorted(unique(f"u{i}") for i in range(5))
    for n in names:
        iam.create_user(UserName=n, Path=prefix)
    for max_items in (1, 2):
        seen, marker = [], None
        while True:
            kwargs = {"PathPrefix": prefix, "MaxItems": max_items}
            if marker:
                kwargs["Marker"] = marker
            page = iam.list_users(**kwargs)
            assert len(page["Users"]) <= max_items
            seen += [u["UserName"] for u in page["Users"]]
            if not page["IsTruncated"]:
                assert "Marker" not in page
                break
            marker = page["Marker"]
        assert seen == names
    # boto3's paginator drives the same markers.
    paginated = [
        u["UserName"]
        for p in iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2})
        for u in p["Users"]
    ]
    assert paginated == names
    assert error_of(iam.list_users, Marker="not base64!")[0] == "ValidationError"
    for n in names:
        iam.delete_user(UserName=n)


def test_groups_and_membership(server):
    iam = server.client("iam")
    group, users = unique("devs"), [unique("m1"), unique("m2")]
    created = iam.create_group(GroupName=group, Path="/teams/")["Group"]
    assert created["GroupId"].startswith("AGPA") and created["Arn"].endswith(f":group/teams/{group}")
    assert error_of(iam.create_group, GroupName=group)[0] == "EntityAlreadyExists"
    for u in users:
        iam.create_user(UserName=u)
        iam.add_user_to_group(GroupName=group, UserName=u)
    iam.add_user_to_group(GroupName=group, UserName=users[0])  # idempotent, as AWS

    got = iam.get_group(GroupName=group)
    assert got["Group"]["GroupName"] == group
    assert sorted(u["UserName"] for u in got["Users"]) == sorted(users)
    first = iam.get_group(GroupName=group, MaxItems=1)
    assert first["IsTruncated"] and len(first["Users"]) == 1
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=users[0])["Groups"]] == [group]
    assert group in [g["GroupName"] for g in iam.list_groups(PathPrefix="/teams/")["Groups"]]

    code, message, _ = error_of(iam.delete_group, GroupName=group)
    assert code == "DeleteConflict"
    renamed = unique("renamed")
    iam.update_group(GroupName=group, NewGroupName=renamed)
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=users[1])["Groups"]] == [renamed]
    for u in users:
        iam.remove_user_from_group(GroupName=renamed, UserName=u)
        iam.delete_user(UserName=u)
    assert error_of(iam.remove_user_from_group, GroupName=renamed, UserName=users[0])[0] == "NoSuchEntity"
    iam.delete_group(GroupName=renamed)
    assert error_of(iam.get_group, GroupName=renamed)[0] == "NoSuchEntity"


def test_access_key_lifecycle_and_limit(server):
    iam = server.client("iam")
    name = unique("keys")
    iam.create_user(UserName=name)
    k1 = iam.create_access_key(UserName=name)["AccessKey"]
    assert k1["AccessKeyId"].startswith("AKIA") and len(k1["SecretAccessKey"]) == 40
    assert k1["Status"] == "Active" and k1["UserName"] == name
    k2 = iam.create_access_key(UserName=name)["AccessKey"]
    code, message, status = error_of(iam.create_access_key, UserName=name)
    assert (code, status) == ("LimitExceeded", 409) and "AccessKeysPerUser" in message

    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([k1["AccessKeyId"], k2["AccessKeyId"]])
    assert all("SecretAccessKey" not in k for k in listed)
    iam.update_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert statuses[k1["AccessKeyId"]] == "Inactive"

    last = iam.get_access_key_last_used(AccessKeyId=k1["AccessKeyId"])
    assert last["UserName"] == name and "LastUsedDate" not in last["AccessKeyLastUsed"]
    assert error_of(iam.get_access_key_last_used, AccessKeyId="AKIANOSUCHKEY0000000")[0] == "NoSuchEntity"
    # A key of another user cannot be touched through this user's name.
    assert error_of(iam.delete_access_key, UserName="admin", AccessKeyId=k1["AccessKeyId"])[0] == "NoSuchEntity"
    for k in (k1, k2):
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    iam.delete_user(UserName=name)


def test_new_users_key_authenticates_and_is_authorized_by_its_policies(server):
    iam = server.client("iam")
    name = unique("worker")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    # Authenticated at once; GetCallerIdentity needs no permission.
    assert server.client("sts", **creds).get_caller_identity()["Arn"] == arn
    # No policy: denied, with the caller's ARN in AWS's message.
    code, message, status = error_of(server.client("iam", **creds).list_users)
    assert (code, status) == ("AccessDenied", 403)
    assert arn in message and "iam:ListUsers" in message

    # Attaching a policy on this node takes effect immediately (no 5 s cache wait).
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY)
    assert "Users" in server.client("iam", **creds).list_users(MaxItems=1)
    iam.detach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY)
    assert error_of(server.client("iam", **creds).list_users)[0] == "AccessDenied"

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert error_of(server.client("sts", **creds).get_caller_identity)[0] == "InvalidClientTokenId"
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert server.client("sts", **creds).get_caller_identity()["Arn"] == arn
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert error_of(server.client("sts", **creds).get_caller_identity)[0] == "InvalidClientTokenId"
    iam.delete_user(UserName=name)


def test_access_keys_default_to_the_caller(server):
    iam = server.client("iam")
    name = unique("self")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY)
    first = iam.create_access_key(UserName=name)["AccessKey"]
    own = server.client(
        "iam", aws_access_key_id=first["AccessKeyId"], aws_secret_access_key=first["SecretAccessKey"]
    )
    second = own.create_access_key()["AccessKey"]
    assert second["UserName"] == name
    ids = {k["AccessKeyId"] for k in own.list_access_keys()["AccessKeyMetadata"]}
    assert ids == {first["AccessKeyId"], second["AccessKeyId"]}
    own.delete_access_key(AccessKeyId=second["AccessKeyId"])
    iam.delete_access_key(UserName=name, AccessKeyId=first["AccessKeyId"])
    iam.detach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY)
    iam.delete_user(UserName=name)


def test_aws_cli_create_and_list_users(server):
    aws = os.path.join(os.path.dirname(os.sys.executable), "aws")
    name = unique("cli")
    out = subprocess.run(
        [aws, "iam", "create-user", "--user-name", name, "--output", "json"],
        env=server.cli_env(), capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["User"]["UserName"] == name
    out = subprocess.run(
        [aws, "iam", "list-users", "--output", "json"],
        env=server.cli_env(), capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert name in [u["UserName"] for u in json.loads(out.stdout)["Users"]]
    server.client("iam").delete_user(UserName=name)


def test_names_are_unique_regardless_of_case(server):
    iam = server.client("iam")
    name = unique("Case")
    iam.create_user(UserName=name)
    assert error_of(iam.create_user, UserName=name.lower())[0] == "EntityAlreadyExists"
    # Changing only the case of a name is a rename of the same user.
    iam.update_user(UserName=name, NewUserName=name.upper())
    assert iam.get_user(UserName=name.upper())["User"]["UserName"] == name.upper()
    other = unique("other")
    iam.create_user(UserName=other)
    assert error_of(iam.update_user, UserName=other, NewUserName=name.lower())[0] == "EntityAlreadyExists"
    group = unique("Grp")
    iam.create_group(GroupName=group)
    assert error_of(iam.create_group, GroupName=group.upper())[0] == "EntityAlreadyExists"
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=other)
    iam.delete_user(UserName=name.upper())
