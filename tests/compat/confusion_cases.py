"""Helpers for test_param_confusion.py: hand-signed query and JSON requests, the tables of IAM,
STS and KMS operations with minimal valid parameters naming a victim entity, account and key
snapshots, and cleanup.

The table is the heart of the suite. Each entry names one operation, the entity-naming
parameters it really takes (`uses`), and a function from the test world to its minimal valid
parameters aimed at a victim. Every entity-naming parameter NOT in `uses` becomes one confusion
case: the same request plus that parameter naming a decoy the caller is allowed on.
"""

import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15"}
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})

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
# The tag every decoy carries; the caller is allowed on anything that carries it (see
# caller_policy). Request tags with this key must never stand in for the resource's own.
DECOY_TAG_KEY = "cv-access"


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
HARMLESS = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})


def trust(principal) -> str:
    return doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"})


# ---------------------------------------------------------------------------------------------
# Hand-signed requests


@dataclass
class Reply:
    status: int
    body: str

    def _root(self):
        try:
            return ET.fromstring(self.body)
        except ET.ParseError:
            return None

    def text(self, name):
        """Text of the first element named `name` (any namespace), or None."""
        root = self._root()
        if root is None:
            return None
        for el in root.iter():
            if el.tag == name or el.tag.endswith("}" + name):
                return el.text or ""
        return None

    @property
    def code(self):
        return self.text("Code")

    @property
    def ok(self):
        return self.status == 200

    def __str__(self):
        return f"HTTP {self.status} {self.code or ''}: {self.body[:600]}"


@dataclass
class Caller:
    """A user with an access key, as the requests of a test sign."""

    name: str
    arn: str
    key: str
    secret: str

    def client(self, server, service):
        return boto3.client(
            service,
            endpoint_url=server.endpoint,
            region_name=server.region,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            config=NO_RETRY,
        )


def send(server, caller, action, params, service="iam", query=None) -> Reply:
    """POSTs `Action=<action>&Version=...&<params>` signed with SigV4 as `caller`.

    `params` is a list of (name, value) pairs, sent in that order (duplicates allowed);
    `query` optionally puts more pairs in the URL's query string (signed too)."""
    body = urlencode([("Action", action), ("Version", VERSIONS[service]), *params]).encode()
    url = server.endpoint + "/" + (("?" + urlencode(query)) if query else "")
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": FORM})
    SigV4Auth(Credentials(caller.key, caller.secret), service, server.region).add_auth(request)
    raw = urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as resp:
            return Reply(resp.status, resp.read().decode())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.read().decode())


@dataclass
class JsonReply:
    """The answer of a JSON-protocol request: the error code from `__type` (or
    `x-amzn-ErrorType`), as botocore reads it."""

    status: int
    body: str
    error_type: str = ""

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def code(self):
        if self.status == 200:
            return None
        parsed = self.json()
        code = (parsed or {}).get("__type") if isinstance(parsed, dict) else None
        code = code or self.error_type.split(":")[0] or None
        return code.rsplit("#", 1)[-1] if code else None

    @property
    def ok(self):
        return self.status == 200

    def __str__(self):
        return f"HTTP {self.status} {self.code or ''}: {self.body[:600]}"


JSON_TARGETS = {"kms": ("TrentService", "1.1")}


def send_json(server, caller, action, body, service="kms") -> JsonReply:
    """POSTs a JSON-protocol request (`X-Amz-Target: <prefix>.<action>`) signed with SigV4 as
    `caller`. `body` is a list of (member, value) pairs, sent in that order (serialized as one
    JSON object; a member twice is refused here — pass `bytes` for a body written by hand), a
    dict, or raw bytes."""
    prefix, version = JSON_TARGETS[service]
    if isinstance(body, bytes):
        data = body
    else:
        pairs = list(body.items()) if isinstance(body, dict) else list(body)
        names = [k for k, _ in pairs]
        assert len(names) == len(set(names)), f"duplicate members {names}: write the body by hand"
        data = json.dumps(dict(pairs)).encode()
    headers = {
        "Content-Type": f"application/x-amz-json-{version}",
        "X-Amz-Target": f"{prefix}.{action}",
    }
    url = server.endpoint + "/"
    request = AWSRequest(method="POST", url=url, data=data, headers=headers)
    SigV4Auth(Credentials(caller.key, caller.secret), service, server.region).add_auth(request)
    raw = urllib.request.Request(url, data=data, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as resp:
            return JsonReply(resp.status, resp.read().decode(), resp.headers.get("x-amzn-ErrorType", ""))
    except urllib.error.HTTPError as e:
        return JsonReply(e.code, e.read().decode(), e.headers.get("x-amzn-ErrorType", ""))


def make_caller(iam, name, policy=None, **create_kwargs) -> Caller:
    """A user with an inline policy (if given) and an access key."""
    user = iam.create_user(UserName=name, **create_kwargs)["User"]
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="grant", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Caller(name, user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])


def denied(call, *args, **kwargs) -> bool:
    """Whether a boto3 call is refused with AccessDenied."""
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"] == "AccessDenied"
    return False


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


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
    kms: "KmsWorld" = None
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


def table_operations(service):
    """The operations the server's source declares for `service`."""
    if service == "iam":
        text = (REPO / "crates/iam/src/api/mod.rs").read_text()
        block = text[text.index("iam_operations! {"):]
        block = block[: block.index("\n}")]
        return re.findall(r'^\s*(?:read|write)\s+"(\w+)"', block, re.M)
    if service == "kms":
        text = (REPO / "crates/kms/src/api/mod.rs").read_text()
        block = text[text.index("\nkms_operations! {"):]
        block = block[: block.index("\n}")]
        return re.findall(r'^\s*(?:read|write)\s+"(\w+)"', block, re.M)
    for path in ("crates/iam/src/sts/mod.rs", "crates/iam/src/sts.rs"):
        if (REPO / path).exists():
            text = (REPO / path).read_text()
            block = text[text.index("const OPERATIONS"):]
            block = block[: block.index("];")]
            return re.findall(r'OperationSpec::signed\(\s*"(\w+)"', block)
    raise AssertionError("STS source not found")


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


def _missing(call, **kwargs):
    try:
        return call(**kwargs)
    except ClientError as e:
        return {"error": e.response["Error"]["Code"]}


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
        keys = _missing(iam.list_access_keys, UserName=u).get("AccessKeyMetadata")
        snap["keys"][u] = sorted((k["AccessKeyId"], k["Status"]) for k in keys or [])
        snap["user_tags"][u] = _missing(iam.list_user_tags, UserName=u).get("Tags")
    for r in roles:
        role = _missing(iam.get_role, RoleName=r).get("Role")
        snap["roles"][r] = role
        snap["role_tags"][r] = _missing(iam.list_role_tags, RoleName=r).get("Tags")
    for p in policies:
        snap["policies"][p] = _missing(iam.get_policy, PolicyArn=p).get("Policy")
        snap["policy_tags"][p] = _missing(iam.list_policy_tags, PolicyArn=p).get("Tags")
    return snap


def world_snapshot(iam, w: World):
    return snapshot(
        iam,
        users=w.key_holders(),
        roles=[*w.victim_roles, w.d_role],
        policies=[*w.victim_policies, w.d_policy_arn],
    )


def differences(before, after, path="", limit=40):
    """Human-readable paths where two snapshots differ."""
    out = []
    if isinstance(before, dict) and isinstance(after, dict):
        for k in sorted(set(before) | set(after), key=str):
            if k not in after:
                out.append(f"{path}/{k}: removed")
            elif k not in before:
                out.append(f"{path}/{k}: added {str(after[k])[:200]}")
            else:
                out += differences(before[k], after[k], f"{path}/{k}", limit)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after)):
            out += differences(b, a, f"{path}[{i}]", limit)
    elif before != after:
        out.append(f"{path}: {str(before)[:200]} -> {str(after)[:200]}")
    return out[:limit]


def only(snap, names):
    """The parts of a snapshot about entities whose name or ARN contains one of `names`."""
    def keep(key):
        return any(n in str(key) for n in names)

    out = {}
    for section, value in snap.items():
        if section == "details":
            out[section] = {k: {a: v for a, v in items.items() if keep(a)} for k, items in value.items()}
        else:
            out[section] = {k: v for k, v in value.items() if keep(k)}
    return out


# ---------------------------------------------------------------------------------------------
# Cleanup (administrator; tolerant of what is already gone)


def _quiet(call, **kwargs):
    try:
        return call(**kwargs)
    except ClientError:
        return None


def purge_user(iam, name):
    for k in (_quiet(iam.list_access_keys, UserName=name) or {}).get("AccessKeyMetadata", []):
        _quiet(iam.delete_access_key, UserName=name, AccessKeyId=k["AccessKeyId"])
    for p in (_quiet(iam.list_user_policies, UserName=name) or {}).get("PolicyNames", []):
        _quiet(iam.delete_user_policy, UserName=name, PolicyName=p)
    for p in (_quiet(iam.list_attached_user_policies, UserName=name) or {}).get("AttachedPolicies", []):
        _quiet(iam.detach_user_policy, UserName=name, PolicyArn=p["PolicyArn"])
    for g in (_quiet(iam.list_groups_for_user, UserName=name) or {}).get("Groups", []):
        _quiet(iam.remove_user_from_group, GroupName=g["GroupName"], UserName=name)
    _quiet(iam.delete_user, UserName=name)


def purge_role(iam, name):
    for p in (_quiet(iam.list_role_policies, RoleName=name) or {}).get("PolicyNames", []):
        _quiet(iam.delete_role_policy, RoleName=name, PolicyName=p)
    for p in (_quiet(iam.list_attached_role_policies, RoleName=name) or {}).get("AttachedPolicies", []):
        _quiet(iam.detach_role_policy, RoleName=name, PolicyArn=p["PolicyArn"])
    _quiet(iam.delete_role, RoleName=name)


def purge_group(iam, name):
    group = _quiet(iam.get_group, GroupName=name) or {}
    for u in group.get("Users", []):
        _quiet(iam.remove_user_from_group, GroupName=name, UserName=u["UserName"])
    for p in (_quiet(iam.list_group_policies, GroupName=name) or {}).get("PolicyNames", []):
        _quiet(iam.delete_group_policy, GroupName=name, PolicyName=p)
    for p in (_quiet(iam.list_attached_group_policies, GroupName=name) or {}).get("AttachedPolicies", []):
        _quiet(iam.detach_group_policy, GroupName=name, PolicyArn=p["PolicyArn"])
    _quiet(iam.delete_group, GroupName=name)


def purge_policy(iam, arn):
    entities = _quiet(iam.list_entities_for_policy, PolicyArn=arn) or {}
    for u in entities.get("PolicyUsers", []):
        _quiet(iam.detach_user_policy, UserName=u["UserName"], PolicyArn=arn)
    for g in entities.get("PolicyGroups", []):
        _quiet(iam.detach_group_policy, GroupName=g["GroupName"], PolicyArn=arn)
    for r in entities.get("PolicyRoles", []):
        _quiet(iam.detach_role_policy, RoleName=r["RoleName"], PolicyArn=arn)
    for v in (_quiet(iam.list_policy_versions, PolicyArn=arn) or {}).get("Versions", []):
        if not v["IsDefaultVersion"]:
            _quiet(iam.delete_policy_version, PolicyArn=arn, VersionId=v["VersionId"])
    _quiet(iam.delete_policy, PolicyArn=arn)


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


# ---------------------------------------------------------------------------------------------
# KMS: the same suite over the JSON protocol. Keys are named by id, key ARN, alias name or alias
# ARN; a ciphertext blob names its own key. Victims are keys and aliases the caller may do
# nothing with; the decoy key (and aliases under the decoy prefix) it may do anything with.

# The members that name a key or an alias somewhere in KMS; a blob names the key that sealed it.
KMS_ENTITY_PARAMS = ("KeyId", "DestinationKeyId", "SourceKeyId", "AliasName", "TargetKeyId", "CiphertextBlob")


def b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def relabel_blob(blob: bytes, key_id: str) -> bytes:
    """A Rampart ciphertext blob (crates/kms/src/blob.rs) with its header naming `key_id`
    instead: what an attacker would try to move a ciphertext to a key it may use."""
    n = blob[1]
    kid = key_id.encode()
    return bytes([blob[0], len(kid)]) + kid + blob[2 + n:]


@dataclass
class KmsWorld:
    """The KMS part of the world. `v_*` victims: `v_key` (rotation on, aliased by `v_alias`),
    `v_key2` (disabled), `v_pending` (scheduled for deletion); `d_*` the decoy key (tagged
    like the IAM decoys) and its alias. Blobs are raw bytes sealed under the named key."""

    region: str
    v_key: str
    v_key_arn: str
    v_key2: str
    v_pending: str
    v_alias: str
    v_alias_arn: str
    v_blob: bytes
    d_key: str
    d_key_arn: str
    d_alias: str
    d_alias_arn: str
    d_alias_prefix_arn: str
    d_blob: bytes
    d_policy: str
    new_alias: str
    plaintext: bytes = b"confused deputy"

    @property
    def watched(self):
        """Every key whose state the snapshot compares."""
        return [self.v_key, self.v_key2, self.v_pending, self.d_key]


def build_kms_world(server, suffix, account, decoy_tags) -> KmsWorld:
    kms = server.client("kms")
    s, region = suffix, server.region
    alias_arn = lambda name: f"arn:aws:kms:{region}:{account}:{name}"  # noqa: E731
    tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in decoy_tags]
    d_key = kms.create_key(Description=f"cv-decoy-{s}", Tags=tags)["KeyMetadata"]
    v_key = kms.create_key(Description=f"cv-victim-{s}", Tags=[{"TagKey": "team", "TagValue": "victim"}])["KeyMetadata"]
    v_key2 = kms.create_key(Description=f"cv-victim2-{s}")["KeyMetadata"]
    v_pending = kms.create_key(Description=f"cv-victim-pending-{s}")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=v_key["KeyId"])
    kms.disable_key(KeyId=v_key2["KeyId"])
    kms.schedule_key_deletion(KeyId=v_pending["KeyId"], PendingWindowInDays=30)
    v_alias, d_alias = f"alias/cv-victim-{s}", f"alias/cv-decoy-{s}"
    kms.create_alias(AliasName=v_alias, TargetKeyId=v_key["KeyId"])
    kms.create_alias(AliasName=d_alias, TargetKeyId=d_key["KeyId"])
    plaintext = KmsWorld.plaintext
    return KmsWorld(
        region=region,
        v_key=v_key["KeyId"],
        v_key_arn=v_key["Arn"],
        v_key2=v_key2["KeyId"],
        v_pending=v_pending["KeyId"],
        v_alias=v_alias,
        v_alias_arn=alias_arn(v_alias),
        v_blob=kms.encrypt(KeyId=v_key["KeyId"], Plaintext=plaintext)["CiphertextBlob"],
        d_key=d_key["KeyId"],
        d_key_arn=d_key["Arn"],
        d_alias=d_alias,
        d_alias_arn=alias_arn(d_alias),
        d_alias_prefix_arn=alias_arn(d_alias) + "*",
        d_blob=kms.encrypt(KeyId=d_key["KeyId"], Plaintext=plaintext)["CiphertextBlob"],
        d_policy=kms.get_key_policy(KeyId=d_key["KeyId"])["Policy"],
        new_alias=f"alias/cv-new-{s}",
    )


def kms_caller_statements(k: KmsWorld, tag_value):
    """`kms:*` on the decoy key's ARN and on aliases under the decoy's name (so alias
    operations on the decoy side are allowed too), and on whatever carries the decoy tag
    (only the decoy key does)."""
    return [
        {"Sid": "KmsDecoyByArn", "Effect": "Allow", "Action": "kms:*", "Resource": [k.d_key_arn, k.d_alias_prefix_arn]},
        {"Sid": "KmsDecoyByTag", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/{DECOY_TAG_KEY}": tag_value}}},
    ]


def kms_decoy_params(param, w: World):
    k = w.kms
    return {
        "KeyId": [("KeyId", k.d_key)],
        "DestinationKeyId": [("DestinationKeyId", k.d_key)],
        "SourceKeyId": [("SourceKeyId", k.d_key)],
        "AliasName": [("AliasName", k.d_alias)],
        "TargetKeyId": [("TargetKeyId", k.d_key)],
        "CiphertextBlob": [("CiphertextBlob", b64(k.d_blob))],
    }[param]


@dataclass(frozen=True)
class KmsCase:
    op: str
    uses: frozenset
    params: Callable  # World -> [(member, JSON value)]
    service: str = "kms"

    @property
    def decoys(self):
        return [p for p in KMS_ENTITY_PARAMS if p not in self.uses]


def _kms_case(op, uses, params):
    unknown = set(uses) - set(KMS_ENTITY_PARAMS)
    assert not unknown, f"{op}: {unknown}"
    return KmsCase(op, frozenset(uses), params)


def kms_open_policy(w: World) -> str:
    """A key policy a confused PutKeyPolicy would plant: the caller may do anything."""
    return doc(
        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{w.account}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Caller", "Effect": "Allow", "Principal": {"AWS": w.caller.arn}, "Action": "kms:*", "Resource": "*"},
    )


K = "KeyId"
PLAIN = ("Plaintext", b64(KmsWorld.plaintext))

KMS_CASES = [
    # Keys.
    _kms_case("CreateKey", [], lambda w: [("Description", f"cv-confused-{w.suffix}")]),
    _kms_case("DescribeKey", [K], lambda w: [(K, w.kms.v_key)]),
    _kms_case("ListKeys", [], lambda w: []),
    _kms_case("EnableKey", [K], lambda w: [(K, w.kms.v_key2)]),
    _kms_case("DisableKey", [K], lambda w: [(K, w.kms.v_key)]),
    _kms_case("ScheduleKeyDeletion", [K], lambda w: [(K, w.kms.v_key), ("PendingWindowInDays", 7)]),
    _kms_case("CancelKeyDeletion", [K], lambda w: [(K, w.kms.v_pending)]),
    # Aliases.
    _kms_case("CreateAlias", ["AliasName", "TargetKeyId"], lambda w: [("AliasName", w.kms.new_alias), ("TargetKeyId", w.kms.v_key)]),
    _kms_case("UpdateAlias", ["AliasName", "TargetKeyId"], lambda w: [("AliasName", w.kms.v_alias), ("TargetKeyId", w.kms.v_key2)]),
    _kms_case("DeleteAlias", ["AliasName"], lambda w: [("AliasName", w.kms.v_alias)]),
    _kms_case("ListAliases", [K], lambda w: [(K, w.kms.v_key)]),
    # Cryptography.
    _kms_case("Encrypt", [K], lambda w: [(K, w.kms.v_key), PLAIN]),
    _kms_case("Decrypt", ["CiphertextBlob", K], lambda w: [("CiphertextBlob", b64(w.kms.v_blob))]),
    _kms_case("ReEncrypt", ["CiphertextBlob", "SourceKeyId", "DestinationKeyId"], lambda w: [
        ("CiphertextBlob", b64(w.kms.v_blob)), ("DestinationKeyId", w.kms.v_key)]),
    _kms_case("GenerateDataKey", [K], lambda w: [(K, w.kms.v_key), ("KeySpec", "AES_256")]),
    _kms_case("GenerateDataKeyWithoutPlaintext", [K], lambda w: [(K, w.kms.v_key), ("KeySpec", "AES_256")]),
    _kms_case("GenerateRandom", [], lambda w: [("NumberOfBytes", 16)]),
    # Rotation.
    _kms_case("EnableKeyRotation", [K], lambda w: [(K, w.kms.v_key), ("RotationPeriodInDays", 90)]),
    _kms_case("DisableKeyRotation", [K], lambda w: [(K, w.kms.v_key)]),
    _kms_case("GetKeyRotationStatus", [K], lambda w: [(K, w.kms.v_key)]),
    _kms_case("RotateKeyOnDemand", [K], lambda w: [(K, w.kms.v_key)]),
    # Key policies.
    _kms_case("GetKeyPolicy", [K], lambda w: [(K, w.kms.v_key), ("PolicyName", "default")]),
    _kms_case("PutKeyPolicy", [K], lambda w: [(K, w.kms.v_key), ("PolicyName", "default"), ("Policy", kms_open_policy(w))]),
]
KMS_CASES_BY_OP = {c.op: c for c in KMS_CASES}

# Members an operation takes, naming the decoy (or the victim by another of its names), where
# authorization must still be decided on the victim: (op, params, codes accepted).
DENIED_ONLY = ("AccessDeniedException",)
KMS_CROSS_CASES = {
    # The key a blob names is the key Decrypt is authorized on, not the KeyId the caller adds.
    "Decrypt:decoy-key-id": ("Decrypt", lambda w: [("CiphertextBlob", b64(w.kms.v_blob)), (K, w.kms.d_key)], DENIED_ONLY),
    "Decrypt:decoy-alias-key-id": ("Decrypt", lambda w: [("CiphertextBlob", b64(w.kms.v_blob)), (K, w.kms.d_alias)], DENIED_ONLY),
    "Decrypt:decoy-key-arn-key-id": ("Decrypt", lambda w: [(K, w.kms.d_key_arn), ("CiphertextBlob", b64(w.kms.v_blob))], DENIED_ONLY),
    # A victim blob relabelled as the decoy's is authorized on the decoy, and does not open.
    "Decrypt:victim-blob-relabelled-as-decoy": ("Decrypt", lambda w: [
        ("CiphertextBlob", b64(relabel_blob(w.kms.v_blob, w.kms.d_key)))], ("InvalidCiphertextException",)),
    "Decrypt:decoy-blob-relabelled-as-victim": ("Decrypt", lambda w: [
        ("CiphertextBlob", b64(relabel_blob(w.kms.d_blob, w.kms.v_key))), (K, w.kms.d_key)], DENIED_ONLY),
    # ReEncrypt needs ReEncryptFrom on the blob's key and ReEncryptTo on the destination.
    "ReEncrypt:victim-blob-to-decoy": ("ReEncrypt", lambda w: [
        ("CiphertextBlob", b64(w.kms.v_blob)), ("SourceKeyId", w.kms.d_key), ("DestinationKeyId", w.kms.d_key)], DENIED_ONLY),
    "ReEncrypt:decoy-blob-to-victim": ("ReEncrypt", lambda w: [
        ("CiphertextBlob", b64(w.kms.d_blob)), ("SourceKeyId", w.kms.d_key), ("DestinationKeyId", w.kms.v_key)], DENIED_ONLY),
    "ReEncrypt:decoy-blob-to-victim-alias": ("ReEncrypt", lambda w: [
        ("CiphertextBlob", b64(w.kms.d_blob)), ("DestinationKeyId", w.kms.v_alias)], DENIED_ONLY),
    # The victim by its other names.
    "Encrypt:victim-alias": ("Encrypt", lambda w: [(K, w.kms.v_alias), PLAIN], DENIED_ONLY),
    "Encrypt:victim-alias-arn": ("Encrypt", lambda w: [(K, w.kms.v_alias_arn), PLAIN], DENIED_ONLY),
    "GenerateDataKey:victim-key-arn": ("GenerateDataKey", lambda w: [(K, w.kms.v_key_arn), ("NumberOfBytes", 32)], DENIED_ONLY),
    "PutKeyPolicy:victim-alias": ("PutKeyPolicy", lambda w: [(K, w.kms.v_alias), ("Policy", kms_open_policy(w))], DENIED_ONLY),
    # Alias changes are authorized on the alias and on both keys.
    "UpdateAlias:victim-alias-to-decoy-key": ("UpdateAlias", lambda w: [("AliasName", w.kms.v_alias), ("TargetKeyId", w.kms.d_key)], DENIED_ONLY),
    "UpdateAlias:decoy-alias-to-victim-key": ("UpdateAlias", lambda w: [("AliasName", w.kms.d_alias), ("TargetKeyId", w.kms.v_key)], DENIED_ONLY),
    "CreateAlias:allowed-name-on-victim-key": ("CreateAlias", lambda w: [
        ("AliasName", f"{w.kms.d_alias}-confused"), ("TargetKeyId", w.kms.v_key)], DENIED_ONLY),
    "CreateAlias:allowed-name-on-victim-key-arn": ("CreateAlias", lambda w: [
        ("AliasName", f"{w.kms.d_alias}-confused"), ("TargetKeyId", w.kms.v_key_arn)], DENIED_ONLY),
    # Request tags are not resource tags.
    "CreateKey:decoy-tag": ("CreateKey", lambda w: [("Tags", [{"TagKey": DECOY_TAG_KEY, "TagValue": w.decoy_tag_value}])], DENIED_ONLY),
    "ListAliases:decoy-key": ("ListAliases", lambda w: [(K, w.kms.d_key)], DENIED_ONLY),
}


def _pages(call, field, **kwargs):
    items, marker = [], None
    while True:
        page = call(**kwargs, **({"Marker": marker} if marker else {}))
        items += page[field]
        if not page.get("Truncated"):
            return items
        marker = page["NextMarker"]


def _strip(reply):
    return {k: v for k, v in reply.items() if k != "ResponseMetadata"}


def kms_snapshot(kms, keys):
    """KMS as the administrator sees it: every key id, every alias and its target, and for
    each of `keys` its metadata, key policy, rotation status, aliases and the backing-key
    version a new ciphertext would name (so an on-demand rotation shows)."""
    snap = {
        "keys": sorted(k["KeyId"] for k in _pages(kms.list_keys, "Keys")),
        "aliases": {a["AliasName"]: a.get("TargetKeyId") for a in _pages(kms.list_aliases, "Aliases")},
        "key": {},
    }
    for key in keys:
        state = {
            "metadata": _missing(kms.describe_key, KeyId=key).get("KeyMetadata"),
            "policy": _missing(kms.get_key_policy, KeyId=key).get("Policy"),
            "rotation": _strip(_missing(kms.get_key_rotation_status, KeyId=key)),
            "aliases": sorted(a["AliasName"] for a in kms.list_aliases(KeyId=key)["Aliases"]),
        }
        probe = _missing(kms.encrypt, KeyId=key, Plaintext=b"probe")
        if "CiphertextBlob" in probe:
            blob = probe["CiphertextBlob"]
            state["backing_version"] = int.from_bytes(blob[2 + blob[1]: 6 + blob[1]], "big")
        else:
            state["backing_version"] = probe
        snap["key"][key] = state
    return snap


def kms_world_snapshot(kms, w: World):
    return kms_snapshot(kms, w.kms.watched)


def purge_kms(kms, k: KmsWorld, suffix):
    """Deletes the aliases the world made (and any under its names) and schedules its keys for
    deletion — KMS keys are never deleted at once."""
    for alias in _pages(kms.list_aliases, "Aliases"):
        if alias["AliasName"].endswith(suffix) or f"-{suffix}-" in alias["AliasName"]:
            _quiet(kms.delete_alias, AliasName=alias["AliasName"])
    for key in [k.v_key, k.v_key2, k.d_key]:
        _quiet(kms.schedule_key_deletion, KeyId=key, PendingWindowInDays=7)


# Positive controls: the caller on the decoy key, with victims named in every member the
# operation does not take (ignored). Each undoes what it did.

def _victim_extras(w: World, skip=()):
    k = w.kms
    extras = [("KeyId", k.v_key), ("DestinationKeyId", k.v_key), ("SourceKeyId", k.v_key),
              ("AliasName", k.v_alias), ("TargetKeyId", k.v_key), ("CiphertextBlob", b64(k.v_blob))]
    return [(m, v) for m, v in extras if m not in skip]


def _kms_ok(r, what):
    assert r.ok, f"{what}: {r}"
    return r.json()


def kms_control_crypto(server, w, kms):
    import base64

    k, c = w.kms, w.caller
    out = _kms_ok(send_json(server, c, "Encrypt", [(K, k.d_key), PLAIN, *_victim_extras(w, skip=[K])]), "encrypt under the decoy")
    assert out["KeyId"] == k.d_key_arn
    blob = out["CiphertextBlob"]
    out = _kms_ok(send_json(server, c, "Decrypt", [("CiphertextBlob", blob), *_victim_extras(w, skip=[K, "CiphertextBlob"])]), "decrypt it")
    assert (out["KeyId"], base64.b64decode(out["Plaintext"])) == (k.d_key_arn, k.plaintext)
    out = _kms_ok(send_json(server, c, "Decrypt", [("CiphertextBlob", b64(k.d_blob)), (K, k.d_alias)]), "decrypt by alias")
    assert out["KeyId"] == k.d_key_arn
    out = _kms_ok(send_json(server, c, "ReEncrypt", [("CiphertextBlob", b64(k.d_blob)), ("DestinationKeyId", k.d_alias),
                                                     (K, k.v_key), ("AliasName", k.v_alias), ("TargetKeyId", k.v_key)]), "re-encrypt")
    assert (out["SourceKeyId"], out["KeyId"]) == (k.d_key_arn, k.d_key_arn)
    for op in ("GenerateDataKey", "GenerateDataKeyWithoutPlaintext"):
        out = _kms_ok(send_json(server, c, op, [(K, k.d_key), ("KeySpec", "AES_256"), *_victim_extras(w, skip=[K])]), op)
        assert out["KeyId"] == k.d_key_arn


def kms_control_reads(server, w, kms):
    k, c = w.kms, w.caller
    for op, params in [
        ("DescribeKey", [(K, k.d_alias), *_victim_extras(w, skip=[K])]),
        ("GetKeyPolicy", [(K, k.d_key_arn), *_victim_extras(w, skip=[K])]),
        ("GetKeyRotationStatus", [(K, k.d_key), *_victim_extras(w, skip=[K])]),
    ]:
        r = send_json(server, c, op, params)
        _kms_ok(r, op)
        for victim in (k.v_key, k.v_key2, k.v_pending, "cv-victim"):
            assert victim not in r.body, f"{op} answered about a victim: {r}"


def kms_control_state(server, w, kms):
    k, c = w.kms, w.caller
    extras = _victim_extras(w, skip=[K])
    _kms_ok(send_json(server, c, "DisableKey", [(K, k.d_key), *extras]), "disable the decoy")
    assert kms.describe_key(KeyId=k.d_key)["KeyMetadata"]["KeyState"] == "Disabled"
    _kms_ok(send_json(server, c, "EnableKey", [(K, k.d_key), *extras]), "enable it")
    _kms_ok(send_json(server, c, "ScheduleKeyDeletion", [(K, k.d_key), ("PendingWindowInDays", 7), *extras]), "schedule its deletion")
    _kms_ok(send_json(server, c, "CancelKeyDeletion", [(K, k.d_key), *extras]), "cancel it")
    _kms_ok(send_json(server, c, "EnableKey", [(K, k.d_key), *extras]), "enable it again")
    _kms_ok(send_json(server, c, "EnableKeyRotation", [(K, k.d_key), *extras]), "rotation on")
    _kms_ok(send_json(server, c, "DisableKeyRotation", [(K, k.d_key), *extras]), "rotation off")
    _kms_ok(send_json(server, c, "PutKeyPolicy", [(K, k.d_key), ("Policy", k.d_policy), *extras]), "its own policy again")
    assert kms.describe_key(KeyId=k.d_key)["KeyMetadata"]["KeyState"] == "Enabled"


def kms_control_aliases(server, w, kms):
    k, c = w.kms, w.caller
    extra = f"{k.d_alias}-control"
    _kms_ok(send_json(server, c, "UpdateAlias", [("AliasName", k.d_alias), ("TargetKeyId", k.d_key), (K, k.v_key)]), "update the decoy alias")
    _kms_ok(send_json(server, c, "CreateAlias", [("AliasName", extra), ("TargetKeyId", k.d_key_arn), (K, k.v_key)]), "create a decoy alias")
    assert kms.describe_key(KeyId=extra)["KeyMetadata"]["KeyId"] == k.d_key
    _kms_ok(send_json(server, c, "DeleteAlias", [("AliasName", extra), (K, k.v_key), ("TargetKeyId", k.v_key)]), "delete it")


KMS_CONTROLS = {f.__name__.removeprefix("kms_control_"): f for f in [
    kms_control_crypto, kms_control_reads, kms_control_state, kms_control_aliases,
]}
