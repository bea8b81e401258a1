"""Parameter confusion for cognito-idp: a caller allowed `cognito-idp:*` on the decoy pool
only (by ARN and by the decoy tag) can never act on the victim pool, whatever members it sends.
The operation table and botocore's model generate the requests (confusion_cognito.py).

What this module proves:

1. The suite covers every operation in the server's `user_pools_operations!` table: every
   signed one has a generated request, every public one a pool-confusion case (a test fails
   when the table grows an operation this module cannot build a request for).
2. Every signed operation aimed at the victim pool (its clients, users, groups) is refused with
   AccessDeniedException; so is the same request with each pool (id or ARN)/client/user/group-naming member
   the operation does not take added, naming the decoy, before or after the real members; and
   request tags carrying the decoy tag grant nothing (CreateUserPool, UpdateUserPool).
3. Aimed at the decoy pool with the victim's client, user or group named: the victim's
   entities are looked up in the decoy pool only — not found, or a new entity in the decoy —
   and nothing of the victim comes back.
4. Public operations with the decoy's app client and the victim's names (a victim user, the
   victim pool as an extra `UserPoolId`) act on the decoy pool only.
5. Duplicated `UserPoolId` members (victim and decoy, either order) are refused.
6. None of it changed the victim pool (its configuration, clients and their secrets, users,
   groups, memberships, outbox) — and the snapshot is shown to catch each kind of change.
7. Positive controls: the same caller succeeds on the decoy, with victim names in the members
   the operation does not take.
"""

import json

import pytest

from confusion_cases import differences, send_json
from confusion_cognito import (
    CREATES,
    DEFAULTS,
    IDP,
    build_world,
    decoy_member,
    missing_values,
    named_entity_params,
    public_operations,
    purge,
    request,
    send,
    send_unsigned,
    signed_operations,
    snapshot,
    takes,
    unused_entity_params,
    victim_member,
)
from outbox_support import outbox


@pytest.fixture(scope="module")
def world(server):
    w = build_world(server, outbox)
    try:
        w.created["before"] = snapshot(server, w)
    except BaseException:
        purge(server, w)
        raise
    yield w
    purge(server, w)


def denied(r):
    return r.code == "AccessDeniedException" and 400 <= r.status < 500


def leaks(w, r):
    """Whether an answer carries something of the victim's."""
    return any(secret in r.body for secret in (w.victim_sub, w.secret, w.victim_email, "victim user"))


# ---------------------------------------------------------------------------------------------
# 1. Coverage


def test_suite_covers_every_operation():
    signed, public = signed_operations(), public_operations()
    assert len(signed) >= 29 and len(set(signed)) == len(signed)
    assert {"SignUp", "ConfirmSignUp", "ForgotPassword"} <= set(public)
    missing = {op: missing_values(op) for op in signed + public if missing_values(op)}
    assert not missing, f"operations with required members confusion_cognito.py has no value for: {missing}"


# ---------------------------------------------------------------------------------------------
# 2. Signed operations aimed at the victim


@pytest.mark.parametrize("op", signed_operations())
def test_victim_request_is_denied(server, world, op):
    r = send(server, world.caller, op, request(world, op))
    assert denied(r), f"{op} on the victim pool: {r}"
    assert not leaks(world, r), f"{op} leaked the victim: {r}"


DECOY_CASES = [(op, m, where) for op in signed_operations() for m in unused_entity_params(op) for where in ("after", "before")]


@pytest.mark.parametrize("op,member,where", DECOY_CASES, ids=[f"{o}+{m}-{w}" for o, m, w in DECOY_CASES])
def test_decoy_member_grants_nothing(server, world, op, member, where):
    victim, decoy = request(world, op), [decoy_member(world, member)]
    r = send(server, world.caller, op, victim + decoy if where == "after" else decoy + victim)
    assert denied(r), f"{op} on the victim with {member} naming the decoy ({where}): {r}"


# ---------------------------------------------------------------------------------------------
# 3. Aimed at the decoy, naming the victim's entities

# A creating operation given a victim's name makes a namesake in the decoy (no confusion, but it
# would be found by the cases after it): creation is covered by the positive controls.
CROSS_CASES = [(op, m) for op in signed_operations() for m in named_entity_params(op) if CREATES.get(op) != m]


@pytest.mark.parametrize("op,member", CROSS_CASES, ids=[f"{o}-victim-{m}" for o, m in CROSS_CASES])
def test_victim_names_under_the_decoy_pool_reach_nothing(server, world, op, member):
    params = [victim_member(world, member) if k == member else (k, v) for k, v in request(world, op, "decoy")]
    r = send(server, world.caller, op, params)
    assert not denied(r), f"{op} on the decoy pool was refused: the case proves nothing: {r}"
    assert not leaks(world, r), f"{op} on the decoy naming the victim's {member} leaked the victim: {r}"
    assert not r.ok, f"{op} found the victim's {member} in the decoy pool: {r}"


# ---------------------------------------------------------------------------------------------
# 4. Public operations: the client decides the pool


@pytest.mark.parametrize("op", public_operations())
def test_public_operation_stays_in_the_clients_pool(server, world, op):
    # The decoy's client; the victim's user wherever a user is named (auth parameters too).
    params = [(k, DEFAULTS[k](world, "victim") if k in ("AuthParameters", "ChallengeResponses") else v)
              for k, v in request(world, op, "decoy") if k not in ("Username", "UserPoolId")]
    username = world.user["victim"] if op != "SignUp" else f"cv-signup-{world.suffix}"
    for extra in ([("Username", username), ("UserPoolId", world.pool["victim"])],
                  [("UserPoolId", world.pool["victim"]), ("Username", world.victim_email if op != "SignUp" else username + "-2")]):
        extra = [(k, v) for k, v in extra if k in takes(op) or k == "UserPoolId"]
        r = send_unsigned(server, op, params + extra)
        if op == "SignUp":
            assert r.ok, f"SignUp with the decoy's client: {r}"
        assert not leaks(world, r), f"{op} with the decoy's client leaked the victim: {r}"
        if op in ("ConfirmSignUp", "ConfirmForgotPassword"):
            assert r.code in ("UserNotFoundException", "CodeMismatchException"), f"{op} found the victim's user: {r}"
        # Only these may answer 200 here: SignUp creates its user in the decoy, the next two
        # answer unknown users as known ones when the client hides them, and RevokeToken
        # answers an unknown token as revoked (RFC 7009 §2.2: no oracle for valid tokens; the
        # victim snapshot shows nothing changed). A token, a session or a change for the
        # victim's user through the decoy's client would be a confusion.
        if op not in ("SignUp", "ResendConfirmationCode", "ForgotPassword", "RevokeToken"):
            assert not r.ok, f"{op} with the decoy's client acted for the victim's user: {r}"
    if op == "SignUp":
        admin = server.client(IDP)
        assert admin.admin_get_user(UserPoolId=world.pool["decoy"], Username=username)["Username"] == username


# ---------------------------------------------------------------------------------------------
# 5. Duplicated members


@pytest.mark.parametrize("order", ["victim-first", "decoy-first"])
@pytest.mark.parametrize("op", ["DescribeUserPool", "AdminGetUser", "AdminDeleteUser", "UpdateUserPool", "ListUsers"])
def test_duplicated_pool_id_is_refused(server, world, op, order):
    first, second = (world.pool["victim"], world.pool["decoy"])[:: 1 if order == "victim-first" else -1]
    rest = [(k, v) for k, v in request(world, op, "decoy") if k != "UserPoolId"]
    items = [f'"UserPoolId": {json.dumps(first)}', f'"UserPoolId": {json.dumps(second)}']
    items += [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in rest]
    r = send_json(server, world.caller, op, ("{" + ", ".join(items) + "}").encode(), service=IDP)
    assert not r.ok and 400 <= r.status < 500, f"{op} with UserPoolId twice ({order}): {r}"


# ---------------------------------------------------------------------------------------------
# 6. No change


def test_victim_unchanged_by_confusion_requests(server, world):
    """Runs after every case above."""
    diff = differences(world.created["before"], snapshot(server, world))
    assert not diff, "cognito-idp confusion requests changed the victim pool:\n" + "\n".join(diff)


def test_snapshot_sees_the_victim(world):
    snap = world.created["before"]
    assert set(snap["users"]) == {world.user["victim"], world.unconfirmed}
    assert snap["users"][world.user["victim"]]["groups"]["Groups"][0]["GroupName"] == world.group["victim"]
    assert any(c.get("UserPoolClient", {}).get("ClientSecret") == world.secret for c in snap["clients"].values())
    assert len(snap["outbox"]) == 1 and world.unconfirmed in snap["outbox"][0]


def test_snapshot_detects_each_kind_of_change(server, world):
    """Each change an administrator can make to a pool is caught, on a scratch copy of the
    world's snapshot function aimed at a pool of its own."""
    admin = server.client(IDP)
    scratch = admin.create_user_pool(PoolName=f"cv-scratch-{world.suffix}", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    saved = dict(world.pool)
    try:
        world.pool = {**saved, "victim": scratch}
        cid = admin.create_user_pool_client(UserPoolId=scratch, ClientName="c")["UserPoolClient"]["ClientId"]
        admin.admin_create_user(UserPoolId=scratch, Username="u", MessageAction="SUPPRESS", TemporaryPassword=PASSWORD_SCRATCH,
                                UserAttributes=[{"Name": "email", "Value": "u@example.com"}, {"Name": "email_verified", "Value": "true"}])
        admin.create_group(UserPoolId=scratch, GroupName="g")
        changes = [
            ("pool updated", lambda: admin.update_user_pool(UserPoolId=scratch, AutoVerifiedAttributes=[])),
            ("client added", lambda: admin.create_user_pool_client(UserPoolId=scratch, ClientName="c2")),
            ("client updated", lambda: admin.update_user_pool_client(UserPoolId=scratch, ClientId=cid, ClientName="c3")),
            ("user added", lambda: admin.admin_create_user(UserPoolId=scratch, Username="v", MessageAction="SUPPRESS")),
            ("attribute changed", lambda: admin.admin_update_user_attributes(UserPoolId=scratch, Username="u", UserAttributes=[{"Name": "name", "Value": "x"}])),
            ("user disabled", lambda: admin.admin_disable_user(UserPoolId=scratch, Username="u")),
            ("password set", lambda: admin.admin_set_user_password(UserPoolId=scratch, Username="u", Password=PASSWORD_SCRATCH, Permanent=True)),
            ("member added", lambda: admin.admin_add_user_to_group(UserPoolId=scratch, Username="u", GroupName="g")),
            ("code sent", lambda: admin.admin_reset_user_password(UserPoolId=scratch, Username="u")),
            ("group added", lambda: admin.create_group(UserPoolId=scratch, GroupName="g2")),
            ("user deleted", lambda: admin.admin_delete_user(UserPoolId=scratch, Username="v")),
            ("client deleted", lambda: admin.delete_user_pool_client(UserPoolId=scratch, ClientId=cid)),
            ("pool created", lambda: admin.create_user_pool(PoolName=f"cv-confused-pool-{world.suffix}")),
        ]
        for what, do in changes:
            base = snapshot(server, world)
            assert not differences(base, snapshot(server, world)), f"the snapshot is unstable before: {what}"
            do()
            assert differences(base, snapshot(server, world)), f"the snapshot missed a change: {what}"
    finally:
        world.pool = saved
        admin.delete_user_pool(UserPoolId=scratch)
        for p in admin.list_user_pools(MaxResults=60)["UserPools"]:
            if p["Name"] == f"cv-confused-pool-{world.suffix}":
                admin.delete_user_pool(UserPoolId=p["Id"])


PASSWORD_SCRATCH = "Scratch-Passw0rd!"


# ---------------------------------------------------------------------------------------------
# 7. Positive controls


CONTROL_OPS = ["DescribeUserPool", "ListUsers", "AdminGetUser", "DescribeUserPoolClient", "ListUserPoolClients",
               "GetGroup", "ListGroups", "ListUsersInGroup", "AdminListGroupsForUser", "AdminDisableUser",
               "AdminEnableUser", "AdminUpdateUserAttributes", "CreateGroup", "AdminCreateUser"]


@pytest.mark.parametrize("op", CONTROL_OPS)
def test_positive_control_on_decoy(server, world, op):
    before = snapshot(server, world)
    params = request(world, op, "decoy") + [victim_member(world, m) for m in unused_entity_params(op) if m != "UserPoolId"]
    r = send(server, world.caller, op, params)
    assert r.ok, f"{op} on the decoy: {r}"
    assert not leaks(world, r), f"{op} on the decoy leaked the victim: {r}"
    diff = differences(before, snapshot(server, world))
    assert not diff, f"{op} on the decoy changed the victim:\n" + "\n".join(diff)
