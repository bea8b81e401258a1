"""Parameter confusion in IAM and STS: authorization must decide over the entity an operation
touches, and nothing else a request names. (The same for KMS: test_param_confusion_kms.py.
The cases and the world: confusion_iam.py, over the shared harness in confusion_cases.py.)

The report this guards against: a user allowed only `iam:AttachUserPolicy` on
`role/team-x` sent one hand-signed `AttachUserPolicy` with `UserName=<itself>`,
`RoleName=team-x` and `PolicyArn=AdministratorAccess`, and got a 200 — authorization had read
RoleName, the handler UserName.

What this module proves, with hand-signed query requests (so nothing in boto3 drops or
reorders members):

1. For EVERY IAM operation in the server's `iam_operations!` table and for STS AssumeRole
   (a test fails if the table and this suite drift apart), a request aimed at a victim entity
   is refused with AccessDenied — alone, and with each entity-naming member the operation does
   not take (UserName, RoleName, GroupName, PolicyArn, PolicySourceArn, PermissionsBoundary,
   InstanceProfileName, RoleArn, Tags.member.1) added, before or after the real members,
   naming a decoy the caller may do anything to. Members the operation does take but AWS
   does not authorize on (the policy of an attachment, the user joining a group, a boundary,
   session policy ARNs) naming the decoy grant nothing either.
2. None of those requests changed anything: the account (GetAccountAuthorizationDetails with
   every filter and page, access keys, tags, role settings) is the same before and after —
   and the comparison is shown to catch each kind of change it is meant to catch.
3. Positive controls: the same caller, with the same harness, succeeds when the decoy is the
   target (even with victims named in members the operation does not take, which are ignored).
4. The reported escalation verbatim, its variants (trust policy, self-attached policy
   versions, inline role policies, boundaries, the administrator's access keys) and duplicated
   members (body twice, body and query string): refused, or applied only to what was
   authorized; nothing else changes.
5. AWS's delegated-administrator pattern with `iam:PermissionsBoundary` (IAM User Guide,
   permissions boundaries): current boundary for Attach/Detach/Put/Delete*Policy and
   Delete*PermissionsBoundary, requested boundary for CreateUser/Put*PermissionsBoundary.
6. Guardrails: a Deny on `aws:ResourceTag/protected` is decided by the stored tag, and a Deny
   on `Null aws:MultiFactorAuthPresent` blocks long-term access keys.

GetCallerIdentity and GetSessionToken need no permission; they are checked to act only on
the caller, whatever the request names.
"""

import json
import uuid

import boto3
import pytest

from confusion_cases import (
    ADMIN_POLICY,
    ALLOW_ALL,
    HARMLESS,
    Caller,
    denied,
    differences,
    doc,
    error_code,
    make_caller,
    send,
    table_operations,
    trust,
)
from confusion_iam import (
    CASES,
    CASES_BY_OP,
    CONTROLS,
    CROSS_CASES,
    CROSS_NOT_FOUND_OK,
    attached_role,
    attached_user,
    build_world,
    decoy_params,
    expect_ok,
    purge_suffix,
    purge_user,
    snapshot,
    world_snapshot,
)
from confusion_kms import purge_kms


@pytest.fixture(scope="module")
def world(server):
    """The victims and decoys, IAM and KMS alike (build_world makes both, and one caller
    granted on all the decoys), and a snapshot of the account taken before any case runs."""
    iam, kms = server.client("iam"), server.client("kms")
    suffix = uuid.uuid4().hex[:8]
    try:
        w = build_world(server, suffix)
        w.created["before"] = world_snapshot(iam, w)
    except BaseException:
        purge_suffix(iam, f"-{suffix}")
        raise
    yield w
    purge_suffix(iam, f"-{suffix}")
    purge_kms(kms, w.kms, suffix)


# ---------------------------------------------------------------------------------------------
# 1. The generated suite


def test_table_covers_every_operation():
    iam_ops = table_operations("iam")
    assert len(iam_ops) == len(set(iam_ops)) and len(iam_ops) >= 70
    in_table = {c.op for c in CASES if c.service == "iam"}
    assert set(iam_ops) - in_table == set(), "operations the server offers with no confusion case"
    assert in_table - set(iam_ops) == set(), "confusion cases for operations the server does not offer"
    # STS: AssumeRole is authorized; the other two need no permission (tested below).
    assert set(table_operations("sts")) == {"AssumeRole", "GetCallerIdentity", "GetSessionToken"}
    assert {c.op for c in CASES if c.service == "sts"} == {"AssumeRole"}


@pytest.mark.parametrize("op", [c.op for c in CASES])
def test_victim_request_is_denied(server, world, op):
    case = CASES_BY_OP[op]
    r = send(server, world.caller, op, case.params(world), service=case.service)
    assert (r.status, r.code) == (403, "AccessDenied"), f"{op} on the victim: {r}"


DECOY_CASES = [(c.op, param, where) for c in CASES for param in c.decoys for where in ("after", "before")]


@pytest.mark.parametrize("op,param,where", DECOY_CASES, ids=[f"{o}+{p}-{w}" for o, p, w in DECOY_CASES])
def test_decoy_member_grants_nothing(server, world, op, param, where):
    case = CASES_BY_OP[op]
    victim, decoy = case.params(world), decoy_params(param, world)
    params = victim + decoy if where == "after" else decoy + victim
    r = send(server, world.caller, op, params, service=case.service)
    assert (r.status, r.code) == (403, "AccessDenied"), f"{op} on the victim with {param} naming a decoy ({where}): {r}"


@pytest.mark.parametrize("name", sorted(CROSS_CASES))
def test_non_resource_member_naming_decoy_grants_nothing(server, world, name):
    op, params = CROSS_CASES[name]
    case = CASES_BY_OP[op]
    r = send(server, world.caller, op, params(world), service=case.service)
    allowed = {("AccessDenied", 403)} | ({("NoSuchEntity", 404)} if name in CROSS_NOT_FOUND_OK else set())
    assert (r.code, r.status) in allowed, f"{name}: {r}"


# ---------------------------------------------------------------------------------------------
# 2. No change


def test_account_state_unchanged_by_confusion_requests(server, world):
    """Runs after every case above: the account is exactly what the fixture left."""
    after = world_snapshot(server.client("iam"), world)
    diff = differences(world.created["before"], after)
    assert not diff, "confusion requests changed the account:\n" + "\n".join(diff)


def test_snapshot_detects_each_kind_of_change(server, world):
    """The comparison above would have caught what a confused request could do."""
    iam, w = server.client("iam"), world
    key = {}

    def new_key():
        key["id"] = iam.create_access_key(UserName=w.v_user)["AccessKey"]["AccessKeyId"]

    changes = [
        ("tag", lambda: iam.tag_user(UserName=w.v_user, Tags=[{"Key": "x", "Value": "1"}]),
         lambda: iam.untag_user(UserName=w.v_user, TagKeys=["x"])),
        ("untag", lambda: iam.untag_role(RoleName=w.v_role, TagKeys=["team"]),
         lambda: iam.tag_role(RoleName=w.v_role, Tags=[{"Key": "team", "Value": "victim"}])),
        ("attach", lambda: iam.attach_role_policy(RoleName=w.v_role, PolicyArn=ADMIN_POLICY),
         lambda: iam.detach_role_policy(RoleName=w.v_role, PolicyArn=ADMIN_POLICY)),
        ("inline", lambda: iam.put_group_policy(GroupName=w.v_group, PolicyName="x", PolicyDocument=HARMLESS),
         lambda: iam.delete_group_policy(GroupName=w.v_group, PolicyName="x")),
        ("membership", lambda: iam.add_user_to_group(GroupName=w.v_group, UserName=w.v_bare_user),
         lambda: iam.remove_user_from_group(GroupName=w.v_group, UserName=w.v_bare_user)),
        ("description", lambda: iam.update_role(RoleName=w.v_role, Description="changed"),
         lambda: iam.update_role(RoleName=w.v_role, Description="victim")),
        ("trust", lambda: iam.update_assume_role_policy(RoleName=w.v_bare_role, PolicyDocument=trust(w.caller.arn)),
         lambda: iam.update_assume_role_policy(RoleName=w.v_bare_role, PolicyDocument=trust(f"arn:aws:iam::{w.account}:root"))),
        ("boundary", lambda: iam.delete_user_permissions_boundary(UserName=w.v_user),
         lambda: iam.put_user_permissions_boundary(UserName=w.v_user, PermissionsBoundary=w.v_policy_arn)),
        ("key", new_key, lambda: iam.delete_access_key(UserName=w.v_user, AccessKeyId=key["id"])),
        ("key status", lambda: iam.update_access_key(UserName=w.v_user, AccessKeyId=w.v_key, Status="Inactive"),
         lambda: iam.update_access_key(UserName=w.v_user, AccessKeyId=w.v_key, Status="Active")),
        ("policy tag", lambda: iam.tag_policy(PolicyArn=w.v_policy_arn, Tags=[{"Key": "x", "Value": "1"}]),
         lambda: iam.untag_policy(PolicyArn=w.v_policy_arn, TagKeys=["x"])),
        ("default version", lambda: iam.set_default_policy_version(PolicyArn=w.v_policy_arn, VersionId="v2"),
         lambda: iam.set_default_policy_version(PolicyArn=w.v_policy_arn, VersionId="v1")),
        ("new user", lambda: iam.create_user(UserName=w.new_user), lambda: iam.delete_user(UserName=w.new_user)),
    ]
    base = world_snapshot(iam, w)
    for name, do, undo in changes:
        do()
        try:
            assert differences(base, world_snapshot(iam, w)), f"the snapshot missed a change: {name}"
        finally:
            undo()
    left = [d for d in differences(base, world_snapshot(iam, w)) if "/UpdateDate:" not in d]
    assert not left, "undoing the changes left a difference:\n" + "\n".join(left)


# ---------------------------------------------------------------------------------------------
# 3. Positive controls: the caller's grant and the harness work


@pytest.mark.parametrize("name", list(CONTROLS))
def test_positive_control_on_decoy(server, world, name):
    iam = server.client("iam")
    before = world_snapshot(iam, world)
    CONTROLS[name](server, world, iam)
    # Victims untouched, decoys back as they were (version changes move a policy's UpdateDate).
    diff = [d for d in differences(before, world_snapshot(iam, world))
            if not ("/UpdateDate:" in d and world.d_policy_arn in d)]
    assert not diff, f"{name} changed more than the decoy, or did not clean up:\n" + "\n".join(diff)


def test_caller_identity_and_session_token_act_on_the_caller(server, world):
    w = world
    named = [("UserName", w.v_user), ("RoleArn", w.v_role_arn), ("RoleName", w.v_role),
             ("PolicyArn", ADMIN_POLICY), ("RoleSessionName", "confused")]
    r = expect_ok(send(server, w.caller, "GetCallerIdentity", named, service="sts"), "GetCallerIdentity")
    assert (r.text("Arn"), r.text("Account")) == (w.caller.arn, w.account)
    r = expect_ok(send(server, w.caller, "GetSessionToken", [*named, ("DurationSeconds", "900")], service="sts"), "GetSessionToken")
    session = boto3.client(
        "sts", endpoint_url=server.endpoint, region_name=server.region,
        aws_access_key_id=r.text("AccessKeyId"), aws_secret_access_key=r.text("SecretAccessKey"),
        aws_session_token=r.text("SessionToken"),
    )
    assert session.get_caller_identity()["Arn"] == w.caller.arn


# ---------------------------------------------------------------------------------------------
# 4. The report, its variants, duplicated members


@pytest.fixture(scope="module")
def targets(server, world):
    """Entities an attacker would want: a powerful role with a boundary, a policy attached to
    the attacker itself, and a user granted only what the report's user had."""
    iam, s = server.client("iam"), world.suffix
    root = f"arn:aws:iam::{world.account}:root"
    bound = iam.create_policy(PolicyName=f"cv-opsbound-{s}", PolicyDocument=HARMLESS)["Policy"]["Arn"]
    ops = iam.create_role(RoleName=f"cv-ops-{s}", AssumeRolePolicyDocument=trust(root), PermissionsBoundary=bound)["Role"]
    iam.attach_role_policy(RoleName=ops["RoleName"], PolicyArn=ADMIN_POLICY)
    team_x = iam.create_role(RoleName=f"team-x-{s}", AssumeRolePolicyDocument=trust(root))["Role"]
    other = iam.create_role(RoleName=f"cv-other-{s}", AssumeRolePolicyDocument=trust(root))["Role"]
    attacker = make_caller(iam, f"cv-attacker-{s}", doc(
        {"Effect": "Allow", "Action": ["iam:AttachUserPolicy", "iam:AttachRolePolicy"], "Resource": team_x["Arn"]}))
    # A user holding the decoy grant plus a managed policy attached to itself.
    self_policy = iam.create_policy(PolicyName=f"cv-selfpol-{s}", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": f"arn:aws:iam::{world.account}:user/cv-selfpol-{s}"}))["Policy"]["Arn"]
    grant = iam.get_user_policy(UserName=world.caller.name, PolicyName="grant")["PolicyDocument"]
    self_user = make_caller(iam, f"cv-selfpol-{s}", json.dumps(grant))
    iam.attach_user_policy(UserName=self_user.name, PolicyArn=self_policy)
    return {"ops": ops["RoleName"], "ops_boundary": bound, "team_x": team_x, "other": other["RoleName"],
            "attacker": attacker, "self_policy": self_policy, "self_user": self_user}


def test_reported_escalation(server, world, targets):
    iam, t = server.client("iam"), targets
    attacker: Caller = t["attacker"]
    team_x = t["team_x"]["RoleName"]
    before = snapshot(iam, users=[attacker.name], roles=[team_x])
    me, role, admin = ("UserName", attacker.name), ("RoleName", team_x), ("PolicyArn", ADMIN_POLICY)
    for body, query in [
        ([me, role, admin], None),  # the report, verbatim
        ([role, me, admin], None),
        ([admin, role, me], None),
        ([role, admin], [me]),  # the target in the query string, the grant in the body
        ([me, admin], [role]),
    ]:
        r = send(server, attacker, "AttachUserPolicy", body, query=query)
        assert (r.status, r.code) == (403, "AccessDenied"), f"AttachUserPolicy body={body} query={query}: {r}"
    assert attached_user(iam, attacker.name) == []
    diff = differences(before, snapshot(iam, users=[attacker.name], roles=[team_x]))
    assert not diff, "\n".join(diff)
    client = attacker.client(server, "iam")
    assert denied(client.create_user, UserName=f"cv-escalated-{world.suffix}")
    assert denied(client.attach_user_policy, UserName=attacker.name, PolicyArn=ADMIN_POLICY)
    # The grant itself works, on the role it names.
    expect_ok(send(server, attacker, "AttachRolePolicy", [role, admin, me]), "attach to team-x")
    assert attached_role(iam, team_x) == [ADMIN_POLICY]
    iam.detach_role_policy(RoleName=team_x, PolicyArn=ADMIN_POLICY)


LAYOUTS = {
    # name: (body role members, query role members), "T" = the granted role, "O" = another
    "granted-first": (["T", "O"], []),
    "granted-last": (["O", "T"], []),
    "other-in-query": (["T"], ["O"]),
    "granted-in-query": (["O"], ["T"]),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_duplicated_role_member_acts_only_on_what_was_authorized(server, targets, layout):
    """RoleName twice: the server may refuse, or pick one — but it must act on the role it
    authorized (team-x), never on the other one."""
    iam, t = server.client("iam"), targets
    names = {"T": t["team_x"]["RoleName"], "O": t["other"]}
    body_roles, query_roles = LAYOUTS[layout]
    body = [("RoleName", names[x]) for x in body_roles] + [("PolicyArn", ADMIN_POLICY)]
    query = [("RoleName", names[x]) for x in query_roles] or None
    r = send(server, t["attacker"], "AttachRolePolicy", body, query=query)
    try:
        assert attached_role(iam, t["other"]) == [], f"{layout}: the unauthorized role was changed: {r}"
        if r.ok:
            assert attached_role(iam, names["T"]) == [ADMIN_POLICY]
        else:
            assert r.status < 500, r
            assert attached_role(iam, names["T"]) == []
    finally:
        for role in names.values():
            if ADMIN_POLICY in attached_role(iam, role):
                iam.detach_role_policy(RoleName=role, PolicyArn=ADMIN_POLICY)


def _variants(w, t):
    """(caller, op, params aimed at the target, entity members to add naming decoys)."""
    return {
        "UpdateAssumeRolePolicy-ops-role": (w.caller, "UpdateAssumeRolePolicy",
            [("RoleName", t["ops"]), ("PolicyDocument", trust(w.caller.arn))],
            ["UserName", "GroupName", "RoleArn", "PolicyArn", "InstanceProfileName", "Tags"]),
        "CreatePolicyVersion-self-attached": (t["self_user"], "CreatePolicyVersion",
            [("PolicyArn", t["self_policy"]), ("PolicyDocument", ALLOW_ALL), ("SetAsDefault", "true")],
            ["UserName", "RoleName", "GroupName"]),
        "PutRolePolicy-ops-role": (w.caller, "PutRolePolicy",
            [("RoleName", t["ops"]), ("PolicyName", "pwn"), ("PolicyDocument", ALLOW_ALL)],
            ["UserName", "GroupName", "PolicyArn", "RoleArn"]),
        "DeleteRolePermissionsBoundary-ops-role": (w.caller, "DeleteRolePermissionsBoundary",
            [("RoleName", t["ops"])],
            ["UserName", "GroupName", "PolicyArn", "PermissionsBoundary", "RoleArn"]),
        "CreateAccessKey-administrator": (w.caller, "CreateAccessKey",
            [("UserName", w.admin_user)],
            ["RoleName", "GroupName", "PolicyArn"]),
    }


VARIANT_CASES = [
    ("UpdateAssumeRolePolicy-ops-role", p) for p in ["UserName", "GroupName", "RoleArn", "PolicyArn", "InstanceProfileName", "Tags"]
] + [("CreatePolicyVersion-self-attached", p) for p in ["UserName", "RoleName", "GroupName"]] + [
    ("PutRolePolicy-ops-role", p) for p in ["UserName", "GroupName", "PolicyArn", "RoleArn"]
] + [("DeleteRolePermissionsBoundary-ops-role", p) for p in ["UserName", "GroupName", "PolicyArn", "PermissionsBoundary", "RoleArn"]] + [
    ("CreateAccessKey-administrator", p) for p in ["RoleName", "GroupName", "PolicyArn"]
]


@pytest.mark.parametrize("variant,param", VARIANT_CASES, ids=[f"{v}+{p}" for v, p in VARIANT_CASES])
def test_report_variants(server, world, targets, variant, param):
    iam, w, t = server.client("iam"), world, targets
    caller, op, params, decoyable = _variants(w, t)[variant]
    assert param in decoyable
    watched = dict(users=[w.admin_user, t["self_user"].name], roles=[t["ops"]], policies=[t["self_policy"], t["ops_boundary"]])
    before = snapshot(iam, **watched)
    for where in ("after", "before"):
        decoy = decoy_params(param, w)
        r = send(server, caller, op, params + decoy if where == "after" else decoy + params)
        assert (r.status, r.code) == (403, "AccessDenied"), f"{variant} with {param} naming a decoy ({where}): {r}"
    diff = differences(before, snapshot(iam, **watched))
    assert not diff, f"{variant}:\n" + "\n".join(diff)
    if variant.startswith("CreatePolicyVersion"):
        assert denied(caller.client(server, "iam").create_user, UserName=f"cv-escalated-{w.suffix}")


DUPLICATES = ["decoy-first", "decoy-last", "decoy-in-query", "target-in-query"]


def _duplicate_targets(w, t):
    """(op, member, target, decoy, other params, undo on the decoy given the reply)."""
    return {
        "UpdateAssumeRolePolicy": ("RoleName", t["ops"], w.d_role, [("PolicyDocument", trust(w.caller.arn))],
            lambda iam, r: iam.update_assume_role_policy(RoleName=w.d_role, PolicyDocument=w.d_role_trust)),
        "PutRolePolicy": ("RoleName", t["ops"], w.d_role, [("PolicyName", "pwn"), ("PolicyDocument", ALLOW_ALL)],
            lambda iam, r: iam.delete_role_policy(RoleName=w.d_role, PolicyName="pwn")),
        "CreateAccessKey": ("UserName", w.admin_user, w.d_user, [],
            lambda iam, r: iam.delete_access_key(UserName=w.d_user, AccessKeyId=r.text("AccessKeyId"))),
        "DeleteRolePermissionsBoundary": ("RoleName", t["ops"], w.d_role, [], lambda iam, r: None),
    }


DUP_CASES = [(op, layout) for op in ["UpdateAssumeRolePolicy", "PutRolePolicy", "CreateAccessKey", "DeleteRolePermissionsBoundary"]
             for layout in DUPLICATES]


@pytest.mark.parametrize("op,layout", DUP_CASES, ids=[f"{o}-{l}" for o, l in DUP_CASES])
def test_duplicated_target_member_never_reaches_the_target(server, world, targets, op, layout):
    """The target member twice, once naming the decoy: refused, or applied to the decoy only."""
    iam, w, t = server.client("iam"), world, targets
    member, target, decoy, rest, undo = _duplicate_targets(w, t)[op]
    first, second = (decoy, target) if layout == "decoy-first" else (target, decoy)
    if layout == "decoy-in-query":
        body, query = [(member, target), *rest], [(member, decoy)]
    elif layout == "target-in-query":
        body, query = [(member, decoy), *rest], [(member, target)]
    else:
        body, query = [(member, first), (member, second), *rest], None
    watched = dict(users=[w.admin_user], roles=[t["ops"]], policies=[t["ops_boundary"]])
    before = snapshot(iam, **watched)
    r = send(server, w.caller, op, body, query=query)
    try:
        if not r.ok:
            assert r.status < 500, r
        elif op == "CreateAccessKey":
            assert r.text("UserName") == w.d_user, r
    finally:
        if r.ok:
            undo(iam, r)
    diff = [d for d in differences(before, snapshot(iam, **watched)) if w.d_role not in d and w.d_user not in d]
    assert not diff, f"{op} ({layout}) reached the target: {r}\n" + "\n".join(diff)


# ---------------------------------------------------------------------------------------------
# 5. Delegated administration with a permissions boundary


def test_delegated_admin_boundary_pattern(server, world):
    iam, s, acct = server.client("iam"), world.suffix, world.account
    boundary = lambda name: iam.create_policy(PolicyName=name, PolicyDocument=doc(  # noqa: E731
        {"Effect": "Allow", "Action": ["s3:*", "cloudwatch:*"], "Resource": "*"}))["Policy"]["Arn"]
    x, y = boundary(f"cv-XBoundary-{s}"), boundary(f"cv-YBoundary-{s}")
    z = iam.create_policy(PolicyName=f"cv-Zperm-{s}", PolicyDocument=HARMLESS)["Policy"]["Arn"]
    delegate_name = f"cv-delegate-{s}"
    delegate_arn = f"arn:aws:iam::{acct}:user/{delegate_name}"
    # The IAM User Guide's delegation example, with this account's names.
    policy = doc(
        {"Sid": "CreateOrChangeOnlyWithBoundary", "Effect": "Allow",
         "Action": ["iam:CreateUser", "iam:DeleteUserPolicy", "iam:AttachUserPolicy", "iam:DetachUserPolicy",
                    "iam:PutUserPermissionsBoundary", "iam:PutUserPolicy"],
         "Resource": "*", "Condition": {"StringEquals": {"iam:PermissionsBoundary": x}}},
        {"Sid": "CloudWatchAndOtherIAMTasks", "Effect": "Allow",
         "Action": ["iam:GetUser", "iam:ListUsers", "iam:DeleteUser", "iam:UpdateUser", "iam:CreateAccessKey",
                    "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                    "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicies", "iam:ListPolicyVersions",
                    "iam:ListEntitiesForPolicy", "iam:ListUserPolicies", "iam:ListAttachedUserPolicies",
                    "iam:SetDefaultPolicyVersion"],
         "NotResource": delegate_arn},
        {"Sid": "NoBoundaryPolicyEdit", "Effect": "Deny",
         "Action": ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"],
         "Resource": [x]},
        {"Sid": "NoBoundaryUserDelete", "Effect": "Deny", "Action": "iam:DeleteUserPermissionsBoundary", "Resource": "*"},
    )
    delegate = make_caller(iam, delegate_name, policy)
    d = delegate.client(server, "iam")
    plain = iam.create_user(UserName=f"cv-plain-{s}")["User"]["UserName"]
    other = iam.create_user(UserName=f"cv-otherbound-{s}", PermissionsBoundary=y)["User"]["UserName"]
    iam.attach_user_policy(UserName=other, PolicyArn=z)

    # Allowed: a user that carries X, and its policies.
    bounded = d.create_user(UserName=f"cv-bounded-{s}", PermissionsBoundary=x)["User"]["UserName"]
    d.attach_user_policy(UserName=bounded, PolicyArn=z)
    d.put_user_policy(UserName=bounded, PolicyName="inline", PolicyDocument=HARMLESS)
    assert attached_user(iam, bounded) == [z]
    d.delete_user_policy(UserName=bounded, PolicyName="inline")

    # Refused: users without X, existing users without X or with another boundary.
    assert denied(d.create_user, UserName=f"cv-unbounded-{s}")
    assert denied(d.create_user, UserName=f"cv-ybounded-{s}", PermissionsBoundary=y)
    for name in (f"cv-unbounded-{s}", f"cv-ybounded-{s}"):
        assert error_code(iam.get_user, UserName=name) == "NoSuchEntity"
    assert denied(d.attach_user_policy, UserName=plain, PolicyArn=z)
    assert denied(d.attach_user_policy, UserName=other, PolicyArn=ADMIN_POLICY)
    assert denied(d.put_user_policy, UserName=plain, PolicyName="inline", PolicyDocument=ALLOW_ALL)
    assert denied(d.detach_user_policy, UserName=other, PolicyArn=z)
    # The boundary a request names is not the boundary the user has.
    for op, params in [
        ("AttachUserPolicy", [("UserName", plain), ("PolicyArn", ADMIN_POLICY), ("PermissionsBoundary", x)]),
        ("PutUserPolicy", [("UserName", plain), ("PolicyName", "x"), ("PolicyDocument", ALLOW_ALL), ("PermissionsBoundary", x)]),
        ("DetachUserPolicy", [("PermissionsBoundary", x), ("UserName", other), ("PolicyArn", z)]),
    ]:
        r = send(server, delegate, op, params)
        assert (r.status, r.code) == (403, "AccessDenied"), f"{op} with a claimed boundary: {r}"
    assert attached_user(iam, plain) == [] and iam.list_user_policies(UserName=plain)["PolicyNames"] == []
    assert attached_user(iam, other) == [z]

    # The boundary stays: no swap to Y, no removal.
    assert denied(d.put_user_permissions_boundary, UserName=bounded, PermissionsBoundary=y)
    assert denied(d.delete_user_permissions_boundary, UserName=bounded)
    assert iam.get_user(UserName=bounded)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == x
    assert denied(d.put_user_permissions_boundary, UserName=other, PermissionsBoundary=y)

    # X itself cannot be edited, though other policies can.
    versions = iam.list_policy_versions(PolicyArn=x)["Versions"]
    assert denied(d.create_policy_version, PolicyArn=x, PolicyDocument=ALLOW_ALL, SetAsDefault=True)
    assert denied(d.delete_policy, PolicyArn=x)
    assert iam.list_policy_versions(PolicyArn=x)["Versions"] == versions
    v2 = d.create_policy_version(PolicyArn=z, PolicyDocument=HARMLESS)["PolicyVersion"]["VersionId"]
    d.delete_policy_version(PolicyArn=z, VersionId=v2)

    # Putting X on a user is what the delegate may do; then that user's policies are its to manage.
    d.put_user_permissions_boundary(UserName=plain, PermissionsBoundary=x)
    d.attach_user_policy(UserName=plain, PolicyArn=z)
    d.detach_user_policy(UserName=plain, PolicyArn=z)
    # NotResource: the delegate is not its own administrator.
    assert denied(d.create_access_key, UserName=delegate.name)
    d.detach_user_policy(UserName=bounded, PolicyArn=z)


# ---------------------------------------------------------------------------------------------
# 6. Guardrails


def test_resource_tag_guardrail_uses_stored_tags(server, world):
    iam, s = server.client("iam"), world.suffix
    root = f"arn:aws:iam::{world.account}:root"
    guarded = make_caller(iam, f"cv-guarded-{s}", doc(
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/protected": "true"}}},
    ))
    g = guarded.client(server, "iam")
    protected = iam.create_role(RoleName=f"cv-protected-{s}", AssumeRolePolicyDocument=trust(root),
                                Tags=[{"Key": "protected", "Value": "true"}])["Role"]["RoleName"]
    plain = iam.create_role(RoleName=f"cv-unprotected-{s}", AssumeRolePolicyDocument=trust(root))["Role"]["RoleName"]
    assert denied(g.delete_role, RoleName=protected)
    # The request's own tags do not stand in for the role's.
    for params in ([("RoleName", protected), ("Tags.member.1.Key", "protected"), ("Tags.member.1.Value", "false")],
                   [("Tags.member.1.Key", "protected"), ("Tags.member.1.Value", "false"), ("RoleName", protected)]):
        r = send(server, guarded, "DeleteRole", params)
        assert (r.status, r.code) == (403, "AccessDenied"), f"DeleteRole {params}: {r}"
    assert iam.get_role(RoleName=protected)["Role"]["RoleName"] == protected
    g.delete_role(RoleName=plain)
    assert error_code(iam.get_role, RoleName=plain) == "NoSuchEntity"


def test_mfa_null_condition_blocks_long_term_keys(server, world):
    iam, s = server.client("iam"), world.suffix
    caller = make_caller(iam, f"cv-nomfa-{s}", doc(
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*",
         "Condition": {"Null": {"aws:MultiFactorAuthPresent": "true"}}},
    ))
    c = caller.client(server, "iam")
    # Long-term access keys carry no aws:MultiFactorAuthPresent, so the Deny applies...
    assert denied(c.create_user, UserName=f"cv-nomfa-made-{s}")
    assert error_code(iam.get_user, UserName=f"cv-nomfa-made-{s}") == "NoSuchEntity"
    # ...to that action only.
    c.create_group(GroupName=f"cv-nomfa-group-{s}")
    c.delete_group(GroupName=f"cv-nomfa-group-{s}")
    purge_user(iam, caller.name)
