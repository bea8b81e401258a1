"""The IAM and STS half of the parameter-confusion suite (test_param_confusion.py): the test
world, the operation table, positive controls, the account snapshot and cleanup.

The table is the heart of the suite. Each entry names one operation, the entity-naming
parameters it really takes (`uses`), and a function from the test world to its minimal valid
parameters aimed at a victim. Every entity-naming parameter NOT in `uses` becomes one confusion
case: the same request plus that parameter naming a decoy the caller is allowed on.

The world also holds the KMS victims and decoy (confusion_kms.py), and its caller is granted
on both, so each test module runs against the same caller.
"""

from dataclasses import dataclass, field
from typing import Callable

from confusion_cases import (
    ADMIN_POLICY,
    ALLOW_ALL,
    DECOY_TAG_KEY,
    HARMLESS,
    Caller,
    doc,
    make_caller,
    or_error,
    quietly,
    send,
    trust,
)
from confusion_kms import KmsWorld, build_kms_world, kms_caller_statements

# The members that name an entity somewhere in IAM or STS. The tag pair counts as one.
ENTITY_PARAMS = (
    "UserName",
    "RoleName",
    "GroupName",
    "PolicyArn",
    "PolicySourceArn",
    "PermissionsBoundary",
    "InstanceProfileName",
    "RoleArn",
    "Tags",
)


# ---------------------------------------------------------------------------------------------
# The world the cases run in


@dataclass
class World:
    """Everything the module fixture created. `v_*` are victims (the caller may do nothing to
    them), `d_*` decoys (the caller may do anything to them), `new_*` names that must not
    come to exist."""

    account: str
    suffix: str
    admin_user: str
    caller: Caller
    v_user: str
    v_user_arn: str
    v_bare_user: str
    v_group: str
    v_bare_group: str
    v_role: str
    v_role_arn: str
    v_bare_role: str
    v_policy_arn: str
    v_bare_policy_arn: str
    v_inline: str
    v_key: str
    new_user: str
    new_group: str
    new_role: str
    new_policy: str
    d_user: str
    d_user_arn: str
    d_group: str
    d_group_arn: str
    d_role: str
    d_role_arn: str
    d_role_trust: str
    d_policy_arn: str
    d_instance_profile: str
    d_instance_profile_arn: str
    decoy_tag_value: str
    kms: KmsWorld = None
    created: dict = field(default_factory=dict)

    @property
    def victim_users(self):
        return [self.v_user, self.v_bare_user]

    @property
    def victim_roles(self):
        return [self.v_role, self.v_bare_role]

    @property
    def victim_policies(self):
        return [self.v_policy_arn, self.v_bare_policy_arn]

    def key_holders(self):
        return [self.admin_user, *self.victim_users, self.d_user, self.caller.name]


def caller_policy(w_arns, tag_value, extra=()) -> str:
    """`iam:*` and `sts:AssumeRole` on the decoys' ARNs, and on whatever carries the decoy
    tag (only the decoys do) — so a server that took request tags for resource tags, or any
    entity-naming parameter for the target, would let a confused request through. `extra`:
    more statements (KMS's, see kms_caller_statements)."""
    return doc(
        *extra,
        {"Sid": "DecoysByArn", "Effect": "Allow", "Action": ["iam:*", "sts:AssumeRole"], "Resource": w_arns},
        {
            "Sid": "DecoysByTag",
            "Effect": "Allow",
            "Action": ["iam:*", "sts:AssumeRole"],
            "Resource": "*",
            "Condition": {"StringEquals": {f"aws:ResourceTag/{DECOY_TAG_KEY}": tag_value}},
        },
    )


def build_world(server, suffix) -> World:
    iam = server.client("iam")
    account = server.client("sts").get_caller_identity()["Account"]
    admin_user = iam.get_user()["User"]["UserName"]
    s = suffix
    victim_tags = [{"Key": "team", "Value": "victim"}]
    decoy_value = f"decoy-{s}"
    decoy_tags = [{"Key": DECOY_TAG_KEY, "Value": decoy_value}]
    root = f"arn:aws:iam::{account}:root"

    # Decoys.
    d_policy = iam.create_policy(PolicyName=f"cv-decoy-{s}", PolicyDocument=HARMLESS, Tags=decoy_tags)["Policy"]
    d_user = iam.create_user(UserName=f"cv-decoy-{s}", Tags=decoy_tags)["User"]
    d_group = iam.create_group(GroupName=f"cv-decoy-{s}")["Group"]
    d_role_trust = trust(root)
    d_role = iam.create_role(RoleName=f"cv-decoy-{s}", AssumeRolePolicyDocument=d_role_trust, Tags=decoy_tags)["Role"]
    d_ip = f"cv-decoy-{s}"
    d_ip_arn = f"arn:aws:iam::{account}:instance-profile/{d_ip}"

    # Victims. The victim policy has two versions and is attached everywhere; the decoy policy
    # is attached to the victims too, so detaching it from them is a visible change.
    v_policy = iam.create_policy(PolicyName=f"cv-victim-{s}", PolicyDocument=HARMLESS, Tags=victim_tags)["Policy"]
    iam.create_policy_version(PolicyArn=v_policy["Arn"], PolicyDocument=doc({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}))
    v_bare_policy = iam.create_policy(PolicyName=f"cv-victim-bare-{s}", PolicyDocument=HARMLESS)["Policy"]
    inline = "victim-inline"

    v_user = iam.create_user(UserName=f"cv-victim-{s}", Tags=victim_tags, PermissionsBoundary=v_policy["Arn"])["User"]
    v_bare_user = iam.create_user(UserName=f"cv-victim-bare-{s}", Tags=victim_tags)["User"]
    v_group = iam.create_group(GroupName=f"cv-victim-{s}")["Group"]
    v_bare_group = iam.create_group(GroupName=f"cv-victim-bare-{s}")["Group"]
    v_role = iam.create_role(
        RoleName=f"cv-victim-{s}", AssumeRolePolicyDocument=trust(root), Tags=victim_tags,
        PermissionsBoundary=v_policy["Arn"], Description="victim",
    )["Role"]
    v_bare_role = iam.create_role(RoleName=f"cv-victim-bare-{s}", AssumeRolePolicyDocument=trust(root))["Role"]
    for arn in (v_policy["Arn"], d_policy["Arn"]):
        iam.attach_user_policy(UserName=v_user["UserName"], PolicyArn=arn)
        iam.attach_group_policy(GroupName=v_group["GroupName"], PolicyArn=arn)
        iam.attach_role_policy(RoleName=v_role["RoleName"], PolicyArn=arn)
    iam.put_user_policy(UserName=v_user["UserName"], PolicyName=inline, PolicyDocument=HARMLESS)
    iam.put_group_policy(GroupName=v_group["GroupName"], PolicyName=inline, PolicyDocument=HARMLESS)
    iam.put_role_policy(RoleName=v_role["RoleName"], PolicyName=inline, PolicyDocument=HARMLESS)
    iam.add_user_to_group(GroupName=v_group["GroupName"], UserName=v_user["UserName"])
    iam.add_user_to_group(GroupName=v_group["GroupName"], UserName=d_user["UserName"])
    v_key = iam.create_access_key(UserName=v_user["UserName"])["AccessKey"]["AccessKeyId"]

    decoy_arns = [d_user["Arn"], d_group["Arn"], d_role["Arn"], d_policy["Arn"], d_ip_arn]
    kms_world = build_kms_world(server, s, account, decoy_tags)
    caller = make_caller(iam, f"cv-caller-{s}", caller_policy(
        decoy_arns, decoy_value, kms_caller_statements(kms_world, decoy_value)))

    return World(
        account=account,
        suffix=s,
        admin_user=admin_user,
        caller=caller,
        v_user=v_user["UserName"],
        v_user_arn=v_user["Arn"],
        v_bare_user=v_bare_user["UserName"],
        v_group=v_group["GroupName"],
        v_bare_group=v_bare_group["GroupName"],
        v_role=v_role["RoleName"],
        v_role_arn=v_role["Arn"],
        v_bare_role=v_bare_role["RoleName"],
        v_policy_arn=v_policy["Arn"],
        v_bare_policy_arn=v_bare_policy["Arn"],
        v_inline=inline,
        v_key=v_key,
        new_user=f"cv-new-{s}",
        new_group=f"cv-new-{s}",
        new_role=f"cv-new-{s}",
        new_policy=f"cv-new-{s}",
        d_user=d_user["UserName"],
        d_user_arn=d_user["Arn"],
        d_group=d_group["GroupName"],
        d_group_arn=d_group["Arn"],
        d_role=d_role["RoleName"],
        d_role_arn=d_role["Arn"],
        d_role_trust=d_role_trust,
        d_policy_arn=d_policy["Arn"],
        d_instance_profile=d_ip,
        d_instance_profile_arn=d_ip_arn,
        decoy_tag_value=decoy_value,
        kms=kms_world,
    )


def decoy_params(param, w: World):
    """The pairs that make `param` name a decoy."""
    return {
        "UserName": [("UserName", w.d_user)],
        "RoleName": [("RoleName", w.d_role)],
        "GroupName": [("GroupName", w.d_group)],
        "PolicyArn": [("PolicyArn", w.d_policy_arn)],
        "PolicySourceArn": [("PolicySourceArn", w.d_user_arn)],
        "PermissionsBoundary": [("PermissionsBoundary", w.d_policy_arn)],
        "InstanceProfileName": [("InstanceProfileName", w.d_instance_profile)],
        "RoleArn": [("RoleArn", w.d_role_arn)],
        "Tags": [("Tags.member.1.Key", DECOY_TAG_KEY), ("Tags.member.1.Value", w.decoy_tag_value)],
    }[param]


# ---------------------------------------------------------------------------------------------
# The operation table


@dataclass(frozen=True)
class Case:
    op: str
    uses: frozenset
    params: Callable  # World -> [(name, value)]
    service: str = "iam"

    @property
    def decoys(self):
        return [p for p in ENTITY_PARAMS if p not in self.uses]


def _case(op, uses, params, service="iam"):
    unknown = set(uses) - set(ENTITY_PARAMS)
    assert not unknown, f"{op}: {unknown}"
    return Case(op, frozenset(uses), params, service)


def _tag(key, value):
    return [("Tags.member.1.Key", key), ("Tags.member.1.Value", value)]


U, R, G, P = "UserName", "RoleName", "GroupName", "PolicyArn"

CASES = [
    # Policy simulation.
    _case("SimulateCustomPolicy", [], lambda w: [
        ("PolicyInputList.member.1", ALLOW_ALL), ("ActionNames.member.1", "iam:CreateUser"),
        ("ResourceArns.member.1", w.v_user_arn)]),
    _case("SimulatePrincipalPolicy", ["PolicySourceArn"], lambda w: [
        ("PolicySourceArn", w.v_user_arn), ("ActionNames.member.1", "iam:GetUser")]),
    # Users.
    _case("CreateUser", [U, "PermissionsBoundary", "Tags"], lambda w: [(U, w.new_user)]),
    _case("GetUser", [U], lambda w: [(U, w.v_user)]),
    _case("ListUsers", [], lambda w: []),
    _case("UpdateUser", [U], lambda w: [(U, w.v_user), ("NewPath", "/moved/")]),
    _case("DeleteUser", [U], lambda w: [(U, w.v_bare_user)]),
    _case("TagUser", [U, "Tags"], lambda w: [(U, w.v_user), *_tag("injected", "yes")]),
    _case("UntagUser", [U], lambda w: [(U, w.v_user), ("TagKeys.member.1", "team")]),
    _case("ListUserTags", [U], lambda w: [(U, w.v_user)]),
    _case("PutUserPermissionsBoundary", [U, "PermissionsBoundary"], lambda w: [
        (U, w.v_user), ("PermissionsBoundary", ADMIN_POLICY)]),
    _case("DeleteUserPermissionsBoundary", [U], lambda w: [(U, w.v_user)]),
    # Access keys.
    _case("CreateAccessKey", [U], lambda w: [(U, w.v_user)]),
    _case("ListAccessKeys", [U], lambda w: [(U, w.v_user)]),
    _case("UpdateAccessKey", [U], lambda w: [(U, w.v_user), ("AccessKeyId", w.v_key), ("Status", "Inactive")]),
    _case("DeleteAccessKey", [U], lambda w: [(U, w.v_user), ("AccessKeyId", w.v_key)]),
    _case("GetAccessKeyLastUsed", [], lambda w: [("AccessKeyId", w.v_key)]),
    # Groups.
    _case("CreateGroup", [G], lambda w: [(G, w.new_group)]),
    _case("GetGroup", [G], lambda w: [(G, w.v_group)]),
    _case("ListGroups", [], lambda w: []),
    _case("UpdateGroup", [G], lambda w: [(G, w.v_group), ("NewPath", "/moved/")]),
    _case("DeleteGroup", [G], lambda w: [(G, w.v_bare_group)]),
    _case("AddUserToGroup", [G, U], lambda w: [(G, w.v_group), (U, w.v_bare_user)]),
    _case("RemoveUserFromGroup", [G, U], lambda w: [(G, w.v_group), (U, w.v_user)]),
    _case("ListGroupsForUser", [U], lambda w: [(U, w.v_user)]),
    # Roles.
    _case("CreateRole", [R, "PermissionsBoundary", "Tags"], lambda w: [
        (R, w.new_role), ("AssumeRolePolicyDocument", trust(w.caller.arn))]),
    _case("GetRole", [R], lambda w: [(R, w.v_role)]),
    _case("ListRoles", [], lambda w: []),
    _case("UpdateRole", [R], lambda w: [(R, w.v_role), ("Description", "pwned"), ("MaxSessionDuration", "7200")]),
    _case("UpdateRoleDescription", [R], lambda w: [(R, w.v_role), ("Description", "pwned")]),
    _case("UpdateAssumeRolePolicy", [R], lambda w: [(R, w.v_role), ("PolicyDocument", trust(w.caller.arn))]),
    _case("DeleteRole", [R], lambda w: [(R, w.v_bare_role)]),
    _case("TagRole", [R, "Tags"], lambda w: [(R, w.v_role), *_tag("injected", "yes")]),
    _case("UntagRole", [R], lambda w: [(R, w.v_role), ("TagKeys.member.1", "team")]),
    _case("ListRoleTags", [R], lambda w: [(R, w.v_role)]),
    _case("PutRolePermissionsBoundary", [R, "PermissionsBoundary"], lambda w: [
        (R, w.v_role), ("PermissionsBoundary", ADMIN_POLICY)]),
    _case("DeleteRolePermissionsBoundary", [R], lambda w: [(R, w.v_role)]),
    # Inline policies.
    _case("PutUserPolicy", [U], lambda w: [(U, w.v_user), ("PolicyName", "injected"), ("PolicyDocument", ALLOW_ALL)]),
    _case("GetUserPolicy", [U], lambda w: [(U, w.v_user), ("PolicyName", w.v_inline)]),
    _case("ListUserPolicies", [U], lambda w: [(U, w.v_user)]),
    _case("DeleteUserPolicy", [U], lambda w: [(U, w.v_user), ("PolicyName", w.v_inline)]),
    _case("PutGroupPolicy", [G], lambda w: [(G, w.v_group), ("PolicyName", "injected"), ("PolicyDocument", ALLOW_ALL)]),
    _case("GetGroupPolicy", [G], lambda w: [(G, w.v_group), ("PolicyName", w.v_inline)]),
    _case("ListGroupPolicies", [G], lambda w: [(G, w.v_group)]),
    _case("DeleteGroupPolicy", [G], lambda w: [(G, w.v_group), ("PolicyName", w.v_inline)]),
    _case("PutRolePolicy", [R], lambda w: [(R, w.v_role), ("PolicyName", "injected"), ("PolicyDocument", ALLOW_ALL)]),
    _case("GetRolePolicy", [R], lambda w: [(R, w.v_role), ("PolicyName", w.v_inline)]),
    _case("ListRolePolicies", [R], lambda w: [(R, w.v_role)]),
    _case("DeleteRolePolicy", [R], lambda w: [(R, w.v_role), ("PolicyName", w.v_inline)]),
    # Managed policies and their versions.
    _case("CreatePolicy", ["Tags"], lambda w: [("PolicyName", w.new_policy), ("PolicyDocument", ALLOW_ALL)]),
    _case("GetPolicy", [P], lambda w: [(P, w.v_policy_arn)]),
    _case("ListPolicies", [], lambda w: []),
    _case("DeletePolicy", [P], lambda w: [(P, w.v_bare_policy_arn)]),
    _case("TagPolicy", [P, "Tags"], lambda w: [(P, w.v_policy_arn), *_tag("injected", "yes")]),
    _case("UntagPolicy", [P], lambda w: [(P, w.v_policy_arn), ("TagKeys.member.1", "team")]),
    _case("ListPolicyTags", [P], lambda w: [(P, w.v_policy_arn)]),
    _case("CreatePolicyVersion", [P], lambda w: [(P, w.v_policy_arn), ("PolicyDocument", ALLOW_ALL), ("SetAsDefault", "true")]),
    _case("GetPolicyVersion", [P], lambda w: [(P, w.v_policy_arn), ("VersionId", "v1")]),
    _case("ListPolicyVersions", [P], lambda w: [(P, w.v_policy_arn)]),
    _case("DeletePolicyVersion", [P], lambda w: [(P, w.v_policy_arn), ("VersionId", "v2")]),
    _case("SetDefaultPolicyVersion", [P], lambda w: [(P, w.v_policy_arn), ("VersionId", "v2")]),
    # Attachments.
    _case("AttachUserPolicy", [U, P], lambda w: [(U, w.v_user), (P, ADMIN_POLICY)]),
    _case("DetachUserPolicy", [U, P], lambda w: [(U, w.v_user), (P, w.v_policy_arn)]),
    _case("ListAttachedUserPolicies", [U], lambda w: [(U, w.v_user)]),
    _case("AttachGroupPolicy", [G, P], lambda w: [(G, w.v_group), (P, ADMIN_POLICY)]),
    _case("DetachGroupPolicy", [G, P], lambda w: [(G, w.v_group), (P, w.v_policy_arn)]),
    _case("ListAttachedGroupPolicies", [G], lambda w: [(G, w.v_group)]),
    _case("AttachRolePolicy", [R, P], lambda w: [(R, w.v_role), (P, ADMIN_POLICY)]),
    _case("DetachRolePolicy", [R, P], lambda w: [(R, w.v_role), (P, w.v_policy_arn)]),
    _case("ListAttachedRolePolicies", [R], lambda w: [(R, w.v_role)]),
    _case("ListEntitiesForPolicy", [P], lambda w: [(P, w.v_policy_arn)]),
    _case("GetAccountAuthorizationDetails", [], lambda w: []),
    # STS.
    _case("AssumeRole", ["RoleArn", "Tags"], lambda w: [("RoleArn", w.v_role_arn), ("RoleSessionName", "confused")], service="sts"),
]

CASES_BY_OP = {c.op: c for c in CASES}

# Requests whose *other* entity member names the decoy while the member AWS authorizes on
# names the victim: the decoy member is real but is not the resource, so it must grant nothing.
# (op, params) — expected AccessDenied.
CROSS_CASES = {
    "AttachUserPolicy:decoy-policy": ("AttachUserPolicy", lambda w: [(U, w.v_user), (P, w.d_policy_arn)]),
    "AttachGroupPolicy:decoy-policy": ("AttachGroupPolicy", lambda w: [(G, w.v_group), (P, w.d_policy_arn)]),
    "AttachRolePolicy:decoy-policy": ("AttachRolePolicy", lambda w: [(R, w.v_role), (P, w.d_policy_arn)]),
    "DetachUserPolicy:decoy-policy": ("DetachUserPolicy", lambda w: [(U, w.v_user), (P, w.d_policy_arn)]),
    "DetachGroupPolicy:decoy-policy": ("DetachGroupPolicy", lambda w: [(G, w.v_group), (P, w.d_policy_arn)]),
    "DetachRolePolicy:decoy-policy": ("DetachRolePolicy", lambda w: [(R, w.v_role), (P, w.d_policy_arn)]),
    "AddUserToGroup:decoy-user": ("AddUserToGroup", lambda w: [(G, w.v_group), (U, w.d_user)]),
    "RemoveUserFromGroup:decoy-user": ("RemoveUserFromGroup", lambda w: [(G, w.v_group), (U, w.d_user)]),
    "PutUserPermissionsBoundary:decoy-boundary": ("PutUserPermissionsBoundary", lambda w: [
        (U, w.v_user), ("PermissionsBoundary", w.d_policy_arn)]),
    "PutRolePermissionsBoundary:decoy-boundary": ("PutRolePermissionsBoundary", lambda w: [
        (R, w.v_role), ("PermissionsBoundary", w.d_policy_arn)]),
    "CreateUser:decoy-boundary": ("CreateUser", lambda w: [(U, w.new_user), ("PermissionsBoundary", w.d_policy_arn)]),
    "CreateRole:decoy-boundary": ("CreateRole", lambda w: [
        (R, w.new_role), ("AssumeRolePolicyDocument", trust(w.caller.arn)), ("PermissionsBoundary", w.d_policy_arn)]),
    # A rename: AWS requires permission on the old and the new name (groups carry no tags, so
    # only the decoy's ARN grants anything).
    "UpdateGroup:rename-decoy": ("UpdateGroup", lambda w: [(G, w.d_group), ("NewGroupName", w.new_group)]),
    # A victim's key named next to the decoy user: the key is not the decoy's.
    "UpdateAccessKey:decoy-user": ("UpdateAccessKey", lambda w: [(U, w.d_user), ("AccessKeyId", w.v_key), ("Status", "Inactive")]),
    "DeleteAccessKey:decoy-user": ("DeleteAccessKey", lambda w: [(U, w.d_user), ("AccessKeyId", w.v_key)]),
    # Session policies by ARN are not the role.
    "AssumeRole:decoy-policy-arns": ("AssumeRole", lambda w: [
        ("RoleArn", w.v_role_arn), ("RoleSessionName", "confused"), ("PolicyArns.member.1.arn", w.d_policy_arn)]),
}
# Cross cases where the authorized member names the decoy and the operation must then find
# nothing of the victim's to act on: NoSuchEntity is as good as AccessDenied.
CROSS_NOT_FOUND_OK = {"UpdateAccessKey:decoy-user", "DeleteAccessKey:decoy-user"}


# ---------------------------------------------------------------------------------------------
# Positive controls: the caller acting on the decoys, with victims named in members the
# operation does not take (ignored). Each undoes what it did.


def attached_user(iam, name):
    return sorted(p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"])


def attached_role(iam, name):
    return sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"])


def expect_ok(r, what):
    assert r.ok, f"{what}: {r}"
    return r


def control_attach_user_policy(server, w, iam):
    extra = [("RoleName", w.v_role), ("GroupName", w.v_group)]
    params = [("UserName", w.d_user), ("PolicyArn", ADMIN_POLICY), *extra]
    expect_ok(send(server, w.caller, "AttachUserPolicy", params), "attach to the decoy")
    assert ADMIN_POLICY in attached_user(iam, w.d_user)
    expect_ok(send(server, w.caller, "DetachUserPolicy", params), "detach from the decoy")
    assert ADMIN_POLICY not in attached_user(iam, w.d_user)


def control_put_role_policy(server, w, iam):
    params = [("RoleName", w.d_role), ("PolicyName", "control"), ("UserName", w.v_user), ("GroupName", w.v_group)]
    expect_ok(send(server, w.caller, "PutRolePolicy", [*params, ("PolicyDocument", HARMLESS)]), "put on the decoy")
    assert iam.list_role_policies(RoleName=w.d_role)["PolicyNames"] == ["control"]
    expect_ok(send(server, w.caller, "DeleteRolePolicy", params), "delete from the decoy")


def control_add_user_to_group(server, w, iam):
    params = [("GroupName", w.d_group), ("UserName", w.d_user), ("RoleName", w.v_role)]
    expect_ok(send(server, w.caller, "AddUserToGroup", params), "join the decoy group")
    assert [u["UserName"] for u in iam.get_group(GroupName=w.d_group)["Users"]] == [w.d_user]
    expect_ok(send(server, w.caller, "RemoveUserFromGroup", params), "leave the decoy group")


def control_create_access_key(server, w, iam):
    extra = [("RoleName", w.v_role), ("GroupName", w.v_group), ("PolicyArn", w.v_policy_arn)]
    r = expect_ok(send(server, w.caller, "CreateAccessKey", [("UserName", w.d_user), *extra]), "key for the decoy")
    assert r.text("UserName") == w.d_user
    key_id = r.text("AccessKeyId")
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=w.d_user)["AccessKeyMetadata"]] == [key_id]
    expect_ok(send(server, w.caller, "DeleteAccessKey", [("UserName", w.d_user), ("AccessKeyId", key_id), *extra]), "delete it")


def control_update_assume_role_policy(server, w, iam):
    extra = [("UserName", w.v_user), ("RoleArn", w.v_role_arn)]
    expect_ok(send(server, w.caller, "UpdateAssumeRolePolicy",
             [("RoleName", w.d_role), ("PolicyDocument", trust(w.caller.arn)), *extra]), "trust on the decoy")
    statement = iam.get_role(RoleName=w.d_role)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"]["AWS"] == w.caller.arn
    expect_ok(send(server, w.caller, "UpdateAssumeRolePolicy",
             [("RoleName", w.d_role), ("PolicyDocument", w.d_role_trust), *extra]), "restore it")


def control_assume_role(server, w, iam):
    extra = [("RoleName", w.v_role), ("UserName", w.v_user), ("PolicyArn", ADMIN_POLICY)]
    r = expect_ok(send(server, w.caller, "AssumeRole",
                 [("RoleArn", w.d_role_arn), ("RoleSessionName", "control"), *extra], service="sts"), "assume the decoy")
    assert r.text("Arn") == f"arn:aws:sts::{w.account}:assumed-role/{w.d_role}/control"


def control_tag_user(server, w, iam):
    extra = [("RoleName", w.v_role), ("PolicyArn", w.v_policy_arn)]
    tag = [("Tags.member.1.Key", "control"), ("Tags.member.1.Value", "1")]
    expect_ok(send(server, w.caller, "TagUser", [("UserName", w.d_user), *tag, *extra]), "tag the decoy")
    assert {"Key": "control", "Value": "1"} in iam.list_user_tags(UserName=w.d_user)["Tags"]
    expect_ok(send(server, w.caller, "UntagUser", [("UserName", w.d_user), ("TagKeys.member.1", "control"), *extra]), "untag")


def control_create_policy_version(server, w, iam):
    extra = [("UserName", w.v_user), ("RoleName", w.v_role)]
    r = expect_ok(send(server, w.caller, "CreatePolicyVersion",
                 [("PolicyArn", w.d_policy_arn), ("PolicyDocument", HARMLESS), *extra]), "version of the decoy")
    version = r.text("VersionId")
    expect_ok(send(server, w.caller, "DeletePolicyVersion", [("PolicyArn", w.d_policy_arn), ("VersionId", version), *extra]), "delete it")


def control_reads(server, w, iam):
    for op, params in [
        ("GetUser", [("UserName", w.d_user), ("RoleName", w.v_role)]),
        ("GetRole", [("RoleName", w.d_role), ("UserName", w.v_user)]),
        ("GetGroup", [("GroupName", w.d_group), ("UserName", w.v_user)]),
        ("GetPolicy", [("PolicyArn", w.d_policy_arn), ("UserName", w.v_user)]),
        ("ListAttachedRolePolicies", [("RoleName", w.d_role), ("GroupName", w.v_group)]),
    ]:
        r = expect_ok(send(server, w.caller, op, params), op)
        assert "cv-victim" not in r.body, f"{op} answered about a victim: {r}"


CONTROLS = {f.__name__.removeprefix("control_"): f for f in [
    control_attach_user_policy, control_put_role_policy, control_add_user_to_group, control_create_access_key,
    control_update_assume_role_policy, control_assume_role, control_tag_user, control_create_policy_version,
    control_reads,
]}


# ---------------------------------------------------------------------------------------------
# Snapshots

GAAD_LISTS = {"UserDetailList": "Arn", "GroupDetailList": "Arn", "RoleDetailList": "Arn", "Policies": "Arn"}


def snapshot(iam, users=(), roles=(), policies=()):
    """The account as the administrator sees it: GetAccountAuthorizationDetails (every filter,
    every page), plus what it leaves out — access keys, tags, role settings, policy tags."""
    details = {k: [] for k in GAAD_LISTS}
    pages = iam.get_paginator("get_account_authorization_details").paginate(
        Filter=["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]
    )
    for page in pages:
        for k in GAAD_LISTS:
            details[k].extend(page.get(k, []))
    for k, key in GAAD_LISTS.items():
        details[k] = {item[key]: item for item in details[k]}
    snap = {"details": details, "keys": {}, "user_tags": {}, "roles": {}, "role_tags": {}, "policies": {}, "policy_tags": {}}
    for u in users:
        keys = or_error(iam.list_access_keys, UserName=u).get("AccessKeyMetadata")
        snap["keys"][u] = sorted((k["AccessKeyId"], k["Status"]) for k in keys or [])
        snap["user_tags"][u] = or_error(iam.list_user_tags, UserName=u).get("Tags")
    for r in roles:
        role = or_error(iam.get_role, RoleName=r).get("Role")
        snap["roles"][r] = role
        snap["role_tags"][r] = or_error(iam.list_role_tags, RoleName=r).get("Tags")
    for p in policies:
        snap["policies"][p] = or_error(iam.get_policy, PolicyArn=p).get("Policy")
        snap["policy_tags"][p] = or_error(iam.list_policy_tags, PolicyArn=p).get("Tags")
    return snap


def world_snapshot(iam, w: World):
    return snapshot(
        iam,
        users=w.key_holders(),
        roles=[*w.victim_roles, w.d_role],
        policies=[*w.victim_policies, w.d_policy_arn],
    )


# ---------------------------------------------------------------------------------------------
# Cleanup (administrator; tolerant of what is already gone)


def purge_user(iam, name):
    for k in (quietly(iam.list_access_keys, UserName=name) or {}).get("AccessKeyMetadata", []):
        quietly(iam.delete_access_key, UserName=name, AccessKeyId=k["AccessKeyId"])
    for p in (quietly(iam.list_user_policies, UserName=name) or {}).get("PolicyNames", []):
        quietly(iam.delete_user_policy, UserName=name, PolicyName=p)
    for p in (quietly(iam.list_attached_user_policies, UserName=name) or {}).get("AttachedPolicies", []):
        quietly(iam.detach_user_policy, UserName=name, PolicyArn=p["PolicyArn"])
    for g in (quietly(iam.list_groups_for_user, UserName=name) or {}).get("Groups", []):
        quietly(iam.remove_user_from_group, GroupName=g["GroupName"], UserName=name)
    quietly(iam.delete_user, UserName=name)


def purge_role(iam, name):
    for p in (quietly(iam.list_role_policies, RoleName=name) or {}).get("PolicyNames", []):
        quietly(iam.delete_role_policy, RoleName=name, PolicyName=p)
    for p in (quietly(iam.list_attached_role_policies, RoleName=name) or {}).get("AttachedPolicies", []):
        quietly(iam.detach_role_policy, RoleName=name, PolicyArn=p["PolicyArn"])
    quietly(iam.delete_role, RoleName=name)


def purge_group(iam, name):
    group = quietly(iam.get_group, GroupName=name) or {}
    for u in group.get("Users", []):
        quietly(iam.remove_user_from_group, GroupName=name, UserName=u["UserName"])
    for p in (quietly(iam.list_group_policies, GroupName=name) or {}).get("PolicyNames", []):
        quietly(iam.delete_group_policy, GroupName=name, PolicyName=p)
    for p in (quietly(iam.list_attached_group_policies, GroupName=name) or {}).get("AttachedPolicies", []):
        quietly(iam.detach_group_policy, GroupName=name, PolicyArn=p["PolicyArn"])
    quietly(iam.delete_group, GroupName=name)


def purge_policy(iam, arn):
    entities = quietly(iam.list_entities_for_policy, PolicyArn=arn) or {}
    for u in entities.get("PolicyUsers", []):
        quietly(iam.detach_user_policy, UserName=u["UserName"], PolicyArn=arn)
    for g in entities.get("PolicyGroups", []):
        quietly(iam.detach_group_policy, GroupName=g["GroupName"], PolicyArn=arn)
    for r in entities.get("PolicyRoles", []):
        quietly(iam.detach_role_policy, RoleName=r["RoleName"], PolicyArn=arn)
    for v in (quietly(iam.list_policy_versions, PolicyArn=arn) or {}).get("Versions", []):
        if not v["IsDefaultVersion"]:
            quietly(iam.delete_policy_version, PolicyArn=arn, VersionId=v["VersionId"])
    quietly(iam.delete_policy, PolicyArn=arn)


def purge_suffix(iam, suffix):
    """Deletes every user, role, group and local policy whose name ends with `suffix` (users
    first, so boundaries and memberships are released before the policies go)."""
    def mine(name):
        return name.endswith(suffix)

    users = [u["UserName"] for p in iam.get_paginator("list_users").paginate() for u in p["Users"]]
    roles = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate() for r in p["Roles"]]
    groups = [g["GroupName"] for p in iam.get_paginator("list_groups").paginate() for g in p["Groups"]]
    policies = [
        (x["PolicyName"], x["Arn"])
        for p in iam.get_paginator("list_policies").paginate(Scope="Local")
        for x in p["Policies"]
    ]
    for u in filter(mine, users):
        purge_user(iam, u)
    for r in filter(mine, roles):
        purge_role(iam, r)
    for g in filter(mine, groups):
        purge_group(iam, g)
    for name, arn in policies:
        if mine(name):
            purge_policy(iam, arn)
