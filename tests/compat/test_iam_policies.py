"""Managed policies through boto3: versions, attachments and their counts, the entities a
policy is attached to, listing with scopes and pages, and GetAccountAuthorizationDetails."""

import json

from iam_helpers import ADMIN_POLICY, error_of, identity_policy, trust_policy, unique


def test_managed_policy_versions(server):
    iam = server.client("iam")
    name = unique("pol")
    doc = identity_policy("s3:GetObject")
    policy = iam.create_policy(PolicyName=name, Path="/team/", PolicyDocument=doc, Description="reads")["Policy"]
    assert policy["PolicyId"].startswith("ANPA") and policy["Arn"].endswith(f":policy/team/{name}")
    assert (policy["DefaultVersionId"], policy["AttachmentCount"], policy["IsAttachable"]) == ("v1", 0, True)
    arn = policy["Arn"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "reads"
    assert error_of(iam.create_policy, PolicyName=name, Path="/team/", PolicyDocument=doc)[0] == "EntityAlreadyExists"

    v1 = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert v1["Document"] == json.loads(doc) and v1["IsDefaultVersion"]

    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=identity_policy("s3:PutObject"), SetAsDefault=True)
    assert v2["PolicyVersion"]["VersionId"] == "v2" and v2["PolicyVersion"]["IsDefaultVersion"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc)
    code, message, status = error_of(iam.create_policy_version, PolicyArn=arn, PolicyDocument=doc)
    assert (code, status) == ("LimitExceeded", 409)

    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v1", "v2", "v3", "v4", "v5"]
    assert [v["IsDefaultVersion"] for v in versions] == [False, True, False, False, False]
    page = iam.list_policy_versions(PolicyArn=arn, MaxItems=2)
    assert page["IsTruncated"] and len(page["Versions"]) == 2

    assert error_of(iam.delete_policy_version, PolicyArn=arn, VersionId="v2")[0] == "DeleteConflict"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert error_of(iam.get_policy_version, PolicyArn=arn, VersionId="v2")[0] == "NoSuchEntity"
    # Version ids are never reused.
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc)["PolicyVersion"]["VersionId"] == "v6"

    code, message, _ = error_of(iam.delete_policy, PolicyArn=arn)
    assert code == "DeleteConflict" and "versions" in message
    for v in ("v1", "v3", "v4", "v6"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    code, message, status = error_of(iam.get_policy, PolicyArn=arn)
    assert (code, status) == ("NoSuchEntity", 404) and arn in message


def test_policy_document_errors(server):
    iam = server.client("iam")
    assert error_of(iam.create_policy, PolicyName=unique("p"), PolicyDocument="[]")[0] == "MalformedPolicyDocument"
    assert error_of(iam.create_policy, PolicyName=unique("p"), PolicyDocument=trust_policy())[0] == "MalformedPolicyDocument"
    huge = identity_policy([f"s3:GetObject{i:05d}" for i in range(400)])
    assert error_of(iam.create_policy, PolicyName=unique("p"), PolicyDocument=huge)[0] == "LimitExceeded"
    account = server.client("sts").get_caller_identity()["Account"]
    assert error_of(iam.get_policy, PolicyArn=f"arn:aws:iam::{account}:user/not-a-policy")[0] == "InvalidInput"
    assert error_of(iam.attach_user_policy, UserName="admin", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")[0] == "NoSuchEntity"


def test_aws_managed_policy_is_built_in(server):
    iam = server.client("iam")
    policy = iam.get_policy(PolicyArn=ADMIN_POLICY)["Policy"]
    assert policy["PolicyName"] == "AdministratorAccess" and policy["AttachmentCount"] >= 1
    version = iam.get_policy_version(PolicyArn=ADMIN_POLICY, VersionId="v1")["PolicyVersion"]
    assert version["Document"]["Statement"][0]["Action"] == "*"
    aws = iam.list_policies(Scope="AWS")["Policies"]
    assert ADMIN_POLICY in [p["Arn"] for p in aws]
    assert error_of(iam.delete_policy, PolicyArn=ADMIN_POLICY)[0] == "InvalidInput"


def test_attachments_counts_and_entities(server):
    iam = server.client("iam")
    user, group, role = unique("u"), unique("g"), unique("r")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy())
    arn = iam.create_policy(PolicyName=unique("shared"), PolicyDocument=identity_policy())["Policy"]["Arn"]

    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)  # idempotent
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=ADMIN_POLICY)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3

    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == sorted([arn, ADMIN_POLICY])
    assert {p["PolicyName"] for p in attached} == {arn.rsplit("/", 1)[1], "AdministratorAccess"}
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"][0]["PolicyArn"] == arn
    assert iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"][0]["PolicyArn"] == arn
    page = iam.list_attached_role_policies(RoleName=role, MaxItems=1)
    assert page["IsTruncated"] and len(page["AttachedPolicies"]) == 1

    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == [group]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    assert entities["PolicyUsers"][0]["UserId"].startswith("AIDA")
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and len(only_roles["PolicyRoles"]) == 1
    first = iam.list_entities_for_policy(PolicyArn=arn, MaxItems=2)
    assert first["IsTruncated"]
    rest = iam.list_entities_for_policy(PolicyArn=arn, MaxItems=2, Marker=first["Marker"])
    total = sum(len(x[k]) for x in (first, rest) for k in ("PolicyUsers", "PolicyGroups", "PolicyRoles"))
    assert total == 3 and not rest["IsTruncated"]

    local_attached = [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    assert arn in local_attached
    assert error_of(iam.delete_policy, PolicyArn=arn)[0] == "DeleteConflict"
    assert error_of(iam.detach_group_policy, GroupName=group, PolicyArn=ADMIN_POLICY)[0] == "NoSuchEntity"

    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=ADMIN_POLICY)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    assert arn not in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    iam.delete_policy(PolicyArn=arn)
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_role(RoleName=role)


def test_list_policies_paginates(server):
    iam = server.client("iam")
    prefix = f"/{unique('pp')}/"
    arns = sorted(
        iam.create_policy(PolicyName=unique("lp"), Path=prefix, PolicyDocument=identity_policy())["Policy"]["Arn"]
        for _ in range(5)
    )
    for max_items in (1, 2):
        seen, marker = [], None
        while True:
            kwargs = {"Scope": "Local", "PathPrefix": prefix, "MaxItems": max_items}
            if marker:
                kwargs["Marker"] = marker
            page = iam.list_policies(**kwargs)
            assert len(page["Policies"]) <= max_items
            seen += [p["Arn"] for p in page["Policies"]]
            if not page["IsTruncated"]:
                break
            marker = page["Marker"]
        assert seen == arns
    # Scope All pages through the account's policies and then the AWS-managed ones.
    everything = [
        p["Arn"] for page in iam.get_paginator("list_policies").paginate(PaginationConfig={"PageSize": 2})
        for p in page["Policies"]
    ]
    assert set(arns) <= set(everything) and everything[-1] == ADMIN_POLICY
    assert len(everything) == len(set(everything))
    for arn in arns:
        iam.delete_policy(PolicyArn=arn)


def test_account_authorization_details(server):
    iam = server.client("iam")
    user, group, role = unique("du"), unique("dg"), unique("dr")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=identity_policy())
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy())
    iam.put_role_policy(RoleName=role, PolicyName="rp", PolicyDocument=identity_policy("sqs:*"))
    arn = iam.create_policy(PolicyName=unique("dp"), PolicyDocument=identity_policy())["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)

    details = iam.get_account_authorization_details()
    users = {u["UserName"]: u for u in details["UserDetailList"]}
    assert users[user]["GroupList"] == [group]
    assert users[user]["UserPolicyList"][0]["PolicyDocument"] == json.loads(identity_policy())
    assert users["admin"]["AttachedManagedPolicies"][0]["PolicyArn"] == ADMIN_POLICY
    groups = {g["GroupName"]: g for g in details["GroupDetailList"]}
    assert groups[group]["AttachedManagedPolicies"][0]["PolicyArn"] == arn
    roles = {r["RoleName"]: r for r in details["RoleDetailList"]}
    assert roles[role]["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
    assert roles[role]["RolePolicyList"][0]["PolicyDocument"]["Statement"][0]["Action"] == "sqs:*"
    policies = {p["Arn"]: p for p in details["Policies"]}
    assert policies[arn]["PolicyVersionList"][0]["Document"] == json.loads(identity_policy())
    assert ADMIN_POLICY in policies

    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and only_roles["Policies"] == []
    assert role in [r["RoleName"] for r in only_roles["RoleDetailList"]]

    seen, marker = [], None
    while True:
        kwargs = {"Filter": ["User", "Group"], "MaxItems": 1}
        if marker:
            kwargs["Marker"] = marker
        page = iam.get_account_authorization_details(**kwargs)
        items = page["UserDetailList"] + page["GroupDetailList"]
        assert len(items) == 1
        seen.append(items[0].get("UserName") or items[0].get("GroupName"))
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert user in seen and group in seen and len(seen) == len(set(seen))

    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_user_policy(UserName=user, PolicyName="inline")
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_role_policy(RoleName=role, PolicyName="rp")
    iam.delete_role(RoleName=role)


def test_boundary_usage_is_counted(server):
    iam = server.client("iam")
    user, role = unique("bu"), unique("br")
    policy = iam.create_policy(
        PolicyName=unique("boundary"), PolicyDocument=identity_policy("s3:*"), Tags=[{"Key": "k", "Value": "v"}]
    )["Policy"]
    assert policy["Tags"] == [{"Key": "k", "Value": "v"}]
    arn = policy["Arn"]
    iam.create_user(UserName=user, PermissionsBoundary=arn)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy(), PermissionsBoundary=arn)
    assert iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn
    counted = iam.get_policy(PolicyArn=arn)["Policy"]
    assert (counted["PermissionsBoundaryUsageCount"], counted["AttachmentCount"]) == (2, 0)
    used = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [u["UserName"] for u in used["PolicyUsers"]] == [user]
    assert [r["RoleName"] for r in used["PolicyRoles"]] == [role]
    assert iam.list_entities_for_policy(PolicyArn=arn)["PolicyUsers"] == []
    assert error_of(iam.delete_policy, PolicyArn=arn)[0] == "DeleteConflict"
    iam.delete_user_permissions_boundary(UserName=user)
    iam.delete_role(RoleName=role)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 0
    iam.delete_policy(PolicyArn=arn)
    iam.delete_user(UserName=user)


def test_group_and_version_changes_take_effect_at_once(server):
    iam = server.client("iam")
    user, group = unique("member"), unique("admins")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    mine = server.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert error_of(mine.list_groups)[0] == "AccessDenied"

    # Through a group: joining and leaving change what the key may do, with no cache delay.
    iam.attach_group_policy(GroupName=group, PolicyArn=ADMIN_POLICY)
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert "Groups" in mine.list_groups(MaxItems=1)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    assert error_of(mine.list_groups)[0] == "AccessDenied"

    # A customer-managed policy: a new default version changes what it allows, at once.
    arn = iam.create_policy(PolicyName=unique("lg"), PolicyDocument=identity_policy("iam:ListGroups"))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    mine.list_groups(MaxItems=1)
    assert error_of(mine.list_roles)[0] == "AccessDenied"
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=identity_policy("iam:ListRoles"), SetAsDefault=True)
    mine.list_roles(MaxItems=1)
    assert error_of(mine.list_groups)[0] == "AccessDenied"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    mine.list_groups(MaxItems=1)

    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    iam.delete_policy(PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=ADMIN_POLICY)
    iam.delete_group(GroupName=group)
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user)


def test_policy_tags(server):
    iam = server.client("iam")
    arn = iam.create_policy(PolicyName=unique("tp"), PolicyDocument=identity_policy())["Policy"]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    page = iam.list_policy_tags(PolicyArn=arn, MaxItems=1)
    assert page["IsTruncated"] and page["Tags"] == [{"Key": "a", "Value": "1"}]
    iam.untag_policy(PolicyArn=arn, TagKeys=["a"])
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == [{"Key": "b", "Value": "2"}]
    assert iam.list_policy_tags(PolicyArn=ADMIN_POLICY)["Tags"] == []
    assert error_of(iam.tag_policy, PolicyArn=ADMIN_POLICY, Tags=[{"Key": "x", "Value": "y"}])[0] == "InvalidInput"
    iam.delete_policy(PolicyArn=arn)
    assert error_of(iam.list_policy_tags, PolicyArn=arn)[0] == "NoSuchEntity"
