"""The cognito-idp half of the parameter-confusion suite (test_param_confusion_cognito.py), over
JSON 1.1 (`X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`).

A pool is named by `UserPoolId`; inside it, an app client by `ClientId`, a user by `Username`
(or an email alias), a group by `GroupName`. The caller may do `cognito-idp:*` on the decoy
pool only (by its ARN, and by the decoy tag it carries); the victim pool — two clients (one
with a secret), a confirmed user with a verified email alias, an unconfirmed one with a
pending code, a group with a member — is someone else's.

Requests are generated from the server's operation table (`user_pools_operations!`, read at
test time, so operations added later are covered or fail the coverage test) and botocore's
model of each operation: its required members, filled by the values below, plus a few optional
members that sharpen a case. A required member this module has no value for fails the
coverage test, naming it.

Public operations (SignUp, ConfirmSignUp, …) take no SigV4 by design: their confusion is the
pool. The app client decides it, so a request with the decoy's client and victim names (a
victim user, the victim pool as an extra `UserPoolId`) must never reach the victim.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

import botocore.session

from confusion_cases import DECOY_TAG_KEY, REPO, JsonReply, doc, make_caller, or_error, send_json

IDP = "cognito-idp"
TARGET = "AWSCognitoIdentityProviderService"
# The members that name a pool (by id or ARN), an app client, a user or a group.
ENTITY_PARAMS = ("UserPoolId", "ResourceArn", "ClientId", "Username", "GroupName")
# Those that name the pool itself.
POOL_PARAMS = ("UserPoolId", "ResourceArn")
PASSWORD = "Vict1m-Password!"
CONFUSED_PASSWORD = "Confus3d-Passw0rd!"


def model():
    return botocore.session.get_session().get_service_model(IDP)


def _table():
    text = (REPO / "crates/user-pools/src/api/mod.rs").read_text()
    block = text[text.index("\nuser_pools_operations! {"):]
    block = block[: block.index("\n}")]
    return re.findall(r'^\s*(read|write|public)\s+"(\w+)"', block, re.M)


def signed_operations():
    return [op for kind, op in _table() if kind != "public"]


def public_operations():
    return [op for kind, op in _table() if kind == "public"]


@dataclass
class CognitoWorld:
    suffix: str
    region: str
    account: str
    pool: dict  # side ("victim"/"decoy") -> pool id
    arn: dict
    client: dict  # side -> client id without a secret
    secret_client: str  # the victim's client with a secret
    secret: str
    user: dict  # side -> a confirmed user with a verified email (a sign-in alias)
    unconfirmed: str  # the victim's user with a pending sign-up code
    group: dict
    victim_sub: str
    caller: object = None
    tag_value: str = ""
    created: dict = field(default_factory=dict)

    @property
    def victim_email(self):
        return f"{self.user['victim']}@victim.example"


def _new(w, member):
    """The name an operation that creates `member` is given (never an existing one)."""
    return {"Username": f"cv-new-user-{w.suffix}", "GroupName": f"cv-new-group-{w.suffix}"}[member]


# The operations that create the entity a member names: they get a new name.
CREATES = {"AdminCreateUser": "Username", "CreateGroup": "GroupName", "SignUp": "Username"}


def entity(w, member, side, op=None):
    if CREATES.get(op) == member:
        return _new(w, member)
    return {"UserPoolId": w.pool, "ResourceArn": w.arn, "ClientId": w.client, "Username": w.user,
            "GroupName": w.group}[member][side]


# Values of the other required members (callables take the world and the side).
DEFAULTS = {
    "PoolName": lambda w, side: f"cv-confused-pool-{w.suffix}",
    "ClientName": lambda w, side: f"cv-confused-client-{w.suffix}",
    "MaxResults": lambda w, side: 10,
    "Password": lambda w, side: CONFUSED_PASSWORD,
    "PreviousPassword": lambda w, side: PASSWORD,
    "ProposedPassword": lambda w, side: CONFUSED_PASSWORD,
    "Tags": lambda w, side: {DECOY_TAG_KEY: w.tag_value},
    "TagKeys": lambda w, side: ["team"],
    "UserAttributes": lambda w, side: [{"Name": "name", "Value": "confused"}],
    "UserAttributeNames": lambda w, side: ["name"],
    "ConfirmationCode": lambda w, side: "123456",
    "AuthParameters": lambda w, side: {"USERNAME": w.user[side], "PASSWORD": PASSWORD},
    "ChallengeResponses": lambda w, side: {"USERNAME": w.user[side], "NEW_PASSWORD": CONFUSED_PASSWORD},
    "ChallengeName": lambda w, side: "NEW_PASSWORD_REQUIRED",
    "AccessToken": lambda w, side: "not-a-token",
    "Token": lambda w, side: "not-a-token",
    "Session": lambda w, side: "not-a-session-" + "x" * 20,
    "UserCode": lambda w, side: "123456",
    "AttributeName": lambda w, side: "email",
    "Code": lambda w, side: "123456",
}

# Optional members that make a case sharper, per operation (or for any operation: "*").
EXTRAS = {
    "CreateUserPool": {"UserPoolTags": lambda w, side: {DECOY_TAG_KEY: w.tag_value}},
    "UpdateUserPool": {"UserPoolTags": lambda w, side: {DECOY_TAG_KEY: w.tag_value},
                       "AutoVerifiedAttributes": lambda w, side: []},
    "CreateUserPoolClient": {"GenerateSecret": lambda w, side: True},
    "UpdateUserPoolClient": {"ClientName": lambda w, side: "confused",
                             "PreventUserExistenceErrors": lambda w, side: "ENABLED"},
    "AdminCreateUser": {"TemporaryPassword": lambda w, side: CONFUSED_PASSWORD,
                        "MessageAction": lambda w, side: "SUPPRESS"},
    "AdminSetUserPassword": {"Permanent": lambda w, side: True},
    # Well-formed sign-ins (AuthParameters is optional in the model), so that the request
    # reaches authorization rather than stopping at a missing USERNAME.
    "AdminInitiateAuth": {"AuthFlow": lambda w, side: "ADMIN_USER_PASSWORD_AUTH",
                          "AuthParameters": DEFAULTS["AuthParameters"]},
    "InitiateAuth": {"AuthFlow": lambda w, side: "USER_PASSWORD_AUTH",
                     "AuthParameters": DEFAULTS["AuthParameters"]},
    "AdminRespondToAuthChallenge": {"ChallengeResponses": DEFAULTS["ChallengeResponses"],
                                    "Session": DEFAULTS["Session"]},
    "RespondToAuthChallenge": {"ChallengeResponses": DEFAULTS["ChallengeResponses"],
                               "Session": DEFAULTS["Session"]},
    "SignUp": {"Password": lambda w, side: CONFUSED_PASSWORD},
}


def missing_values(op):
    """The required members of `op` this module cannot fill."""
    shape = model().operation_model(op).input_shape
    required = shape.required_members if shape else []
    extras = EXTRAS.get(op, {})
    return [m for m in required if m not in ENTITY_PARAMS and m not in DEFAULTS and m not in extras]


def request(w, op, side="victim"):
    """The members of `op` aimed at `side`: (member, value) pairs, required ones first."""
    shape = model().operation_model(op).input_shape
    required = list(shape.required_members) if shape else []
    pairs = []
    for member in required:
        if member in ENTITY_PARAMS:
            pairs.append((member, entity(w, member, side, op)))
        elif member in EXTRAS.get(op, {}):
            pairs.append((member, EXTRAS[op][member](w, side)))
        else:
            pairs.append((member, DEFAULTS[member](w, side)))
    for member, value in EXTRAS.get(op, {}).items():
        if member not in required:
            pairs.append((member, value(w, side)))
    return pairs


def takes(op):
    shape = model().operation_model(op).input_shape
    return set(shape.members) if shape else set()


def unused_entity_params(op):
    """The entity-naming members `op` does not take."""
    return [m for m in ENTITY_PARAMS if m not in takes(op)]


def named_entity_params(op):
    """The entity-naming members `op` takes, besides the pool."""
    return [m for m in ENTITY_PARAMS if m in takes(op) and m not in POOL_PARAMS]


def decoy_member(w, member):
    return (member, entity(w, member, "decoy"))


def victim_member(w, member):
    return (member, entity(w, member, "victim"))


def send(server, caller, op, params):
    return send_json(server, caller, op, params, service=IDP)


def send_unsigned(server, op, params) -> JsonReply:
    data = json.dumps(dict(params)).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET}.{op}"}
    raw = urllib.request.Request(server.endpoint + "/", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as resp:
            return JsonReply(resp.status, resp.read().decode(), resp.headers.get("x-amzn-ErrorType", ""))
    except urllib.error.HTTPError as e:
        return JsonReply(e.code, e.read().decode(), e.headers.get("x-amzn-ErrorType", ""))


# ---------------------------------------------------------------------------------------------
# The world


def caller_policy(w):
    return doc(
        {"Effect": "Allow", "Action": "cognito-idp:*", "Resource": w.arn["decoy"]},
        {"Effect": "Allow", "Action": "cognito-idp:*", "Resource": "*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/{DECOY_TAG_KEY}": w.tag_value}}},
    )


def build_world(server, outbox_reader) -> CognitoWorld:
    admin = server.client(IDP)
    iam = server.client("iam")
    s = uuid.uuid4().hex[:8]
    tag_value = f"decoy-{s}"
    pools, arns, clients, users, groups = {}, {}, {}, {}, {}
    for side, tags in [("victim", {"team": "victim"}), ("decoy", {DECOY_TAG_KEY: tag_value})]:
        p = admin.create_user_pool(PoolName=f"cv-{side}-{s}", AliasAttributes=["email"],
                                   AutoVerifiedAttributes=["email"], UserPoolTags=tags)["UserPool"]
        pools[side], arns[side] = p["Id"], p["Arn"]
        clients[side] = admin.create_user_pool_client(UserPoolId=p["Id"], ClientName=f"cv-{side}")["UserPoolClient"]["ClientId"]
        users[side] = f"cv-{side}-user-{s}"
        groups[side] = f"cv-{side}-group-{s}"
        admin.admin_create_user(UserPoolId=p["Id"], Username=users[side], MessageAction="SUPPRESS",
                                TemporaryPassword=PASSWORD,
                                UserAttributes=[{"Name": "email", "Value": f"{users[side]}@{side}.example"},
                                                {"Name": "email_verified", "Value": "true"},
                                                {"Name": "name", "Value": f"{side} user"}])
        admin.admin_set_user_password(UserPoolId=p["Id"], Username=users[side], Password=PASSWORD, Permanent=True)
        admin.create_group(UserPoolId=p["Id"], GroupName=groups[side], Description=side)
        admin.admin_add_user_to_group(UserPoolId=p["Id"], Username=users[side], GroupName=groups[side])
    secret_client = admin.create_user_pool_client(UserPoolId=pools["victim"], ClientName="cv-victim-secret",
                                                  GenerateSecret=True)["UserPoolClient"]
    unconfirmed = f"cv-victim-unconfirmed-{s}"
    admin_public = server.client(IDP)
    admin_public.sign_up(ClientId=clients["victim"], Username=unconfirmed, Password=PASSWORD,
                         UserAttributes=[{"Name": "email", "Value": f"{unconfirmed}@victim.example"}])
    sub = {a["Name"]: a["Value"] for a in admin.admin_get_user(UserPoolId=pools["victim"], Username=users["victim"])["UserAttributes"]}["sub"]
    w = CognitoWorld(
        suffix=s, region=server.region, account=arns["victim"].split(":")[4], pool=pools, arn=arns,
        client=clients, secret_client=secret_client["ClientId"], secret=secret_client["ClientSecret"],
        user=users, unconfirmed=unconfirmed, group=groups, victim_sub=sub, tag_value=tag_value,
    )
    w.caller = make_caller(iam, f"cv-idp-caller-{s}", caller_policy(w))
    w.created["outbox"] = outbox_reader
    return w


def all_pools(admin):
    pools, token = [], None
    while True:
        page = admin.list_user_pools(MaxResults=60, **({"NextToken": token} if token else {}))
        pools += page["UserPools"]
        token = page.get("NextToken")
        if not token:
            return pools


def purge(server, w):
    admin = server.client(IDP)
    for p in all_pools(admin):
        if w.suffix in p["Name"]:
            or_error(admin.delete_user_pool, UserPoolId=p["Id"])


# ---------------------------------------------------------------------------------------------
# The snapshot of the victim pool


def _clean(answer):
    if isinstance(answer, dict):
        answer = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    return answer


def snapshot(server, w):
    """Everything observable of the victim pool: its configuration, every client (secrets
    included), every user with its attributes, status and groups, every group with its
    members, the messages its outbox holds (codes included), and any pool named by this
    world's suffix besides the two (a pool a confused CreateUserPool made)."""
    admin = server.client(IDP)
    pid = w.pool["victim"]
    snap = {"pool": _clean(or_error(admin.describe_user_pool, UserPoolId=pid))}
    clients = or_error(admin.list_user_pool_clients, UserPoolId=pid, MaxResults=60)
    snap["clients"] = {c["ClientId"]: _clean(or_error(admin.describe_user_pool_client, UserPoolId=pid, ClientId=c["ClientId"]))
                       for c in clients.get("UserPoolClients", [])}
    users = or_error(admin.list_users, UserPoolId=pid)
    snap["users"] = {}
    for u in users.get("Users", []):
        name = u["Username"]
        snap["users"][name] = {
            "user": _clean(or_error(admin.admin_get_user, UserPoolId=pid, Username=name)),
            "groups": _clean(or_error(admin.admin_list_groups_for_user, UserPoolId=pid, Username=name)),
        }
    groups = or_error(admin.list_groups, UserPoolId=pid)
    snap["groups"] = {g["GroupName"]: {"group": g, "members": _clean(or_error(admin.list_users_in_group, UserPoolId=pid, GroupName=g["GroupName"]))}
                      for g in groups.get("Groups", [])}
    snap["outbox"] = [json.dumps(m, sort_keys=True) for m in w.created["outbox"](server, pid)]
    snap["other pools"] = sorted(p["Name"] for p in all_pools(admin)
                                 if w.suffix in p["Name"] and p["Id"] not in w.pool.values())
    return snap
