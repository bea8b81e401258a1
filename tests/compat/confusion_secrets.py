"""The Secrets Manager half of the parameter-confusion suite (test_param_confusion_secrets.py):
the same suite over JSON 1.1 (`X-Amz-Target: secretsmanager.<Op>`). A secret is named by its
name, its full ARN or a partial ARN (without the six-character suffix); a version by
`VersionId` or, when it is created, by `ClientRequestToken` (and, for a staging label, by
`MoveToVersionId`/`RemoveFromVersionId`); its key by `KmsKeyId`; several secrets by `SecretIdList`
(BatchGetSecretValue); its rotation function by `RotationLambdaARN` (a Lambda function ARN: none
exists, but `RotateSecret` declares `lambda:InvokeFunction` on it, and the caller may invoke only
the decoy function).

Victims are secrets the caller may do nothing with: one under the AWS-managed key (three
versions, AWSCURRENT/AWSPREVIOUS and a custom stage, and a resource policy that grants the
caller nothing), one under a customer KMS key of its own (a binary value), one scheduled for
deletion. The decoy secret is sealed under the KMS decoy
key and tagged like every decoy; the caller may do `secretsmanager:*` on it (by ARN, by the
decoy-name prefix, and by tag) and `kms:*` on the decoy key (confusion_kms.py's grant), and `secretsmanager:BatchGetSecretValue` (which has no
resource), so a batch naming a victim runs and must answer that victim with an
AccessDeniedException entry, never its value.

The world these functions take is confusion_iam.World, with `sm` set to the SecretsWorld built
here and the caller's extra inline policy `secrets-grant`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from confusion_cases import DECOY_TAG_KEY, doc, or_error, quietly, send_json

if TYPE_CHECKING:
    from confusion_iam import World

# The members that name a secret, a version or a key somewhere in Secrets Manager; the tag
# list and the secret list count as one each.
SECRETS_ENTITY_PARAMS = ("SecretId", "Name", "KmsKeyId", "VersionId", "ClientRequestToken", "Tags",
                         "MoveToVersionId", "RemoveFromVersionId", "RotationLambdaARN", "SecretIdList")
SM = "secretsmanager"
VICTIM_TAGS = [{"Key": "team", "Value": "victim"}]
CUSTOM_STAGE = "cv-stage"


def sm_send(server, caller, op, params):
    return send_json(server, caller, op, params, service=SM)


@dataclass
class SecretsWorld:
    """`v_managed` (AWS-managed key; versions `v_versions` = [previous, current, custom-stage]),
    `v_cmk` (customer key `v_key`, binary value), `v_pending` (scheduled for deletion); `d_*`
    the decoy (under the KMS decoy key, tagged). Names, ARNs and partial ARNs of each."""

    region: str
    account: str
    suffix: str
    v_managed: str
    v_managed_arn: str
    v_versions: list
    v_cmk: str
    v_cmk_arn: str
    v_cmk_version: str
    v_key: str
    v_key_arn: str
    v_pending: str
    v_pending_arn: str
    d_name: str
    d_arn: str
    d_version: str
    d_value: str
    d_prefix_arn: str
    new_name: str
    d_function: str
    v_function: str

    def partial(self, name):
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{name}"

    @property
    def victims(self):
        """Victim label -> its name (the snapshot's keys)."""
        return {"managed": self.v_managed, "cmk": self.v_cmk, "pending": self.v_pending}

    def victim_ids(self, label):
        """The three identifiers of a victim: name, full ARN, partial ARN."""
        name = self.victims[label]
        arn = {"managed": self.v_managed_arn, "cmk": self.v_cmk_arn, "pending": self.v_pending_arn}[label]
        return {"name": name, "arn": arn, "partial-arn": self.partial(name)}


def token():
    return str(uuid.uuid4())


def victim_policy(account):
    return doc({"Sid": "Delegate to IAM", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "secretsmanager:DescribeSecret", "Resource": "*"})


def grant_policy(w: World, resources="*"):
    """What a confused PutResourcePolicy would attach: everything, to the caller."""
    return doc({"Effect": "Allow", "Principal": {"AWS": w.caller.arn}, "Action": "secretsmanager:*",
                "Resource": resources})


def build_secrets_world(server, w: World) -> SecretsWorld:
    sm, kms = server.client(SM), server.client("kms")
    s, account, region = w.suffix, w.account, server.region
    decoy_tags = [{"Key": DECOY_TAG_KEY, "Value": w.decoy_tag_value}]
    v_key = kms.create_key(Description=f"cv-sm-victim-{s}")["KeyMetadata"]

    versions = [token(), token(), token()]
    managed = sm.create_secret(Name=f"cv-victim-{s}", SecretString=f"hush-managed-1-{s}",
                               ClientRequestToken=versions[0], Tags=VICTIM_TAGS, Description="victim")
    sm.put_secret_value(SecretId=managed["ARN"], SecretString=f"hush-managed-2-{s}", ClientRequestToken=versions[1])
    sm.put_secret_value(SecretId=managed["ARN"], SecretString=f"hush-managed-3-{s}", ClientRequestToken=versions[2],
                        VersionStages=[CUSTOM_STAGE])
    cmk_version = token()
    cmk = sm.create_secret(Name=f"cv-victim-cmk-{s}", SecretBinary=f"hush-cmk-{s}".encode() + bytes(range(8)),
                           KmsKeyId=v_key["Arn"], ClientRequestToken=cmk_version, Tags=VICTIM_TAGS)
    # A policy that delegates to the account's IAM policies: it grants the caller nothing, and a
    # confused Put/DeleteResourcePolicy would show in the snapshot.
    sm.put_resource_policy(SecretId=managed["ARN"], ResourcePolicy=victim_policy(account))
    pending = sm.create_secret(Name=f"cv-victim-pending-{s}", SecretString=f"hush-pending-{s}", Tags=VICTIM_TAGS)
    sm.delete_secret(SecretId=pending["ARN"], RecoveryWindowInDays=30)

    d_version, d_value = token(), f"decoy-value-{s}"
    decoy = sm.create_secret(Name=f"cv-decoy-{s}", SecretString=d_value, KmsKeyId=w.kms.d_key,
                             ClientRequestToken=d_version, Tags=decoy_tags)
    return SecretsWorld(
        region=region, account=account, suffix=s,
        v_managed=managed["Name"], v_managed_arn=managed["ARN"], v_versions=versions,
        v_cmk=cmk["Name"], v_cmk_arn=cmk["ARN"], v_cmk_version=cmk_version,
        v_key=v_key["KeyId"], v_key_arn=v_key["Arn"],
        v_pending=pending["Name"], v_pending_arn=pending["ARN"],
        d_name=decoy["Name"], d_arn=decoy["ARN"], d_version=d_version, d_value=d_value,
        d_prefix_arn=f"arn:aws:secretsmanager:{region}:{account}:secret:cv-decoy-{s}*",
        new_name=f"cv-confused-{s}",
        d_function=f"arn:aws:lambda:{region}:{account}:function:cv-decoy-rotation-{s}",
        v_function=f"arn:aws:lambda:{region}:{account}:function:cv-victim-rotation-{s}",
    )


def secrets_caller_policy(w: World) -> str:
    """`secretsmanager:*` on the decoy's ARN and on secrets named under the decoy's name (so
    the controls may create one), and on whatever carries the decoy tag (only the decoy does).
    The caller's `kms:*` on the decoy key comes from the world's KMS statements."""
    m = w.sm
    return doc(
        {"Sid": "SecretsDecoyByArn", "Effect": "Allow", "Action": "secretsmanager:*", "Resource": [m.d_arn, m.d_prefix_arn]},
        {"Sid": "SecretsDecoyByTag", "Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/{DECOY_TAG_KEY}": w.decoy_tag_value}}},
        {"Sid": "InvokeDecoyRotation", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": m.d_function},
        {"Sid": "SecretsBatch", "Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
    )


def secrets_decoy_params(param, w: World):
    m = w.sm
    return {
        "SecretId": [("SecretId", m.d_arn)],
        "Name": [("Name", m.d_name)],
        "KmsKeyId": [("KmsKeyId", w.kms.d_key)],
        "VersionId": [("VersionId", m.d_version)],
        "ClientRequestToken": [("ClientRequestToken", m.d_version)],
        "Tags": [("Tags", [{"Key": DECOY_TAG_KEY, "Value": w.decoy_tag_value}])],
        "MoveToVersionId": [("MoveToVersionId", m.d_version)],
        "RemoveFromVersionId": [("RemoveFromVersionId", m.d_version)],
        "RotationLambdaARN": [("RotationLambdaARN", m.d_function)],
        "SecretIdList": [("SecretIdList", [m.d_arn])],
    }[param]


# ---------------------------------------------------------------------------------------------
# The operation table


@dataclass(frozen=True)
class SecretsCase:
    op: str
    uses: frozenset
    params: Callable  # (World, victim SecretId) -> [(member, JSON value)]
    victim: str = "managed"  # the victim the generated cases aim at

    @property
    def decoys(self):
        return [p for p in SECRETS_ENTITY_PARAMS if p not in self.uses]

    @property
    def takes_secret(self):
        return bool({"SecretId", "SecretIdList"} & self.uses)

    def request(self, w: World, secret_id=None):
        return self.params(w, secret_id or w.sm.victims[self.victim])


def _sm_case(op, uses, params, victim="managed"):
    unknown = set(uses) - set(SECRETS_ENTITY_PARAMS)
    assert not unknown, f"{op}: {unknown}"
    return SecretsCase(op, frozenset(uses), params, victim)


S = "SecretId"
CONFUSED = ("SecretString", "confused")

SECRETS_CASES = [
    _sm_case("CreateSecret", ["Name", "KmsKeyId", "ClientRequestToken", "Tags"], lambda w, v: [("Name", w.sm.new_name), CONFUSED]),
    _sm_case("DescribeSecret", [S], lambda w, v: [(S, v)]),
    _sm_case("ListSecrets", [], lambda w, v: [("IncludePlannedDeletion", True)]),
    _sm_case("UpdateSecret", [S, "KmsKeyId", "ClientRequestToken"], lambda w, v: [(S, v), ("Description", "confused"), CONFUSED]),
    _sm_case("DeleteSecret", [S], lambda w, v: [(S, v), ("ForceDeleteWithoutRecovery", True)]),
    _sm_case("RestoreSecret", [S], lambda w, v: [(S, v)], victim="pending"),
    _sm_case("GetSecretValue", [S, "VersionId"], lambda w, v: [(S, v)]),
    _sm_case("PutSecretValue", [S, "ClientRequestToken"], lambda w, v: [(S, v), CONFUSED, ("VersionStages", ["AWSCURRENT"])]),
    _sm_case("ListSecretVersionIds", [S], lambda w, v: [(S, v), ("IncludeDeprecated", True)]),
    _sm_case("TagResource", [S, "Tags"], lambda w, v: [(S, v), ("Tags", [{"Key": "confused", "Value": "yes"}])]),
    _sm_case("UntagResource", [S], lambda w, v: [(S, v), ("TagKeys", ["team"])]),
    _sm_case("GetRandomPassword", [], lambda w, v: [("PasswordLength", 16)]),
    _sm_case("UpdateSecretVersionStage", [S, "MoveToVersionId", "RemoveFromVersionId"], lambda w, v: [
        (S, v), ("VersionStage", "AWSCURRENT"), ("MoveToVersionId", w.sm.v_versions[2]),
        ("RemoveFromVersionId", w.sm.v_versions[1])]),
    _sm_case("RotateSecret", [S, "ClientRequestToken", "RotationLambdaARN"], lambda w, v: [
        (S, v), ("RotationLambdaARN", w.sm.d_function), ("RotationRules", {"AutomaticallyAfterDays": 7})]),
    _sm_case("CancelRotateSecret", [S], lambda w, v: [(S, v)]),
    _sm_case("PutResourcePolicy", [S], lambda w, v: [(S, v), ("ResourcePolicy", grant_policy(w))]),
    _sm_case("GetResourcePolicy", [S], lambda w, v: [(S, v)]),
    _sm_case("DeleteResourcePolicy", [S], lambda w, v: [(S, v)]),
    _sm_case("ValidateResourcePolicy", [S], lambda w, v: [(S, v), ("ResourcePolicy", grant_policy(w))]),
    _sm_case("BatchGetSecretValue", ["SecretIdList"], lambda w, v: [("SecretIdList", [v])]),
]
SECRETS_CASES_BY_OP = {c.op: c for c in SECRETS_CASES}

DENIED_ONLY = ("AccessDeniedException",)


def _decoy_tag(w):
    return [{"Key": DECOY_TAG_KEY, "Value": w.decoy_tag_value}]


# Members an operation takes, naming the decoy (or the victim by a name the decoy lends it),
# where authorization must still be decided on the victim: (op, params, codes accepted).
SECRETS_CROSS_CASES = {
    # Request tags, keys and tokens are not the resource.
    "CreateSecret:decoy-tag": ("CreateSecret", lambda w: [("Name", w.sm.new_name), CONFUSED, ("Tags", _decoy_tag(w))], DENIED_ONLY),
    "CreateSecret:decoy-key": ("CreateSecret", lambda w: [("Name", w.sm.new_name), CONFUSED, ("KmsKeyId", w.kms.d_key)], DENIED_ONLY),
    "CreateSecret:decoy-token": ("CreateSecret", lambda w: [
        ("Name", w.sm.new_name), CONFUSED, ("ClientRequestToken", w.sm.d_version)], DENIED_ONLY),
    # An existing victim's name: refused, not ResourceExistsException (which would tell).
    "CreateSecret:victim-name": ("CreateSecret", lambda w: [("Name", w.sm.v_managed), CONFUSED], DENIED_ONLY),
    "CreateSecret:victim-name-decoy-tag": ("CreateSecret", lambda w: [
        ("Name", w.sm.v_cmk), ("Tags", _decoy_tag(w)), ("KmsKeyId", w.kms.d_key)], DENIED_ONLY),
    "TagResource:victim-decoy-tag": ("TagResource", lambda w: [(S, w.sm.v_managed), ("Tags", _decoy_tag(w))], DENIED_ONLY),
    "TagResource:pending-decoy-tag": ("TagResource", lambda w: [(S, w.sm.v_pending_arn), ("Tags", _decoy_tag(w))], DENIED_ONLY),
    # Moving a victim to the decoy key, or giving it a version id the decoy has.
    "UpdateSecret:victim-to-decoy-key": ("UpdateSecret", lambda w: [(S, w.sm.v_cmk), ("KmsKeyId", w.kms.d_key)], DENIED_ONLY),
    "UpdateSecret:victim-to-decoy-key-with-value": ("UpdateSecret", lambda w: [
        (S, w.sm.v_cmk_arn), ("KmsKeyId", w.kms.d_key_arn), CONFUSED], DENIED_ONLY),
    "UpdateSecret:victim-decoy-token": ("UpdateSecret", lambda w: [
        (S, w.sm.v_managed), CONFUSED, ("ClientRequestToken", w.sm.d_version)], DENIED_ONLY),
    "PutSecretValue:victim-decoy-token": ("PutSecretValue", lambda w: [
        (S, w.sm.v_cmk), CONFUSED, ("ClientRequestToken", w.sm.d_version)], DENIED_ONLY),
    "GetSecretValue:victim-decoy-version": ("GetSecretValue", lambda w: [(S, w.sm.v_managed), ("VersionId", w.sm.d_version)], DENIED_ONLY),
    "GetSecretValue:victim-cmk-decoy-version": ("GetSecretValue", lambda w: [
        (S, w.sm.v_cmk_arn), ("VersionId", w.sm.d_version), ("VersionStage", "AWSCURRENT")], DENIED_ONLY),
    # The decoy named, a victim's version asked for: looked up in the decoy, so not found.
    "GetSecretValue:decoy-victim-version": ("GetSecretValue", lambda w: [
        (S, w.sm.d_arn), ("VersionId", w.sm.v_versions[1])], ("ResourceNotFoundException",)),
    "GetSecretValue:decoy-victim-cmk-version": ("GetSecretValue", lambda w: [
        (S, w.sm.d_name), ("VersionId", w.sm.v_cmk_version)], ("ResourceNotFoundException",)),
    # A victim's name under the decoy's ARN suffix names nothing: authorized on that ARN.
    "GetSecretValue:victim-name-decoy-suffix": ("GetSecretValue", lambda w: [
        (S, w.sm.partial(w.sm.v_managed) + w.sm.d_arn[-7:])], DENIED_ONLY),
    "DeleteSecret:victim-name-decoy-suffix": ("DeleteSecret", lambda w: [
        (S, w.sm.partial(w.sm.v_managed) + w.sm.d_arn[-7:]), ("ForceDeleteWithoutRecovery", True)], DENIED_ONLY),
    # The decoy's version ids name nothing in a victim; a victim's name nothing in the decoy.
    "UpdateSecretVersionStage:victim-decoy-versions": ("UpdateSecretVersionStage", lambda w: [
        (S, w.sm.v_managed_arn), ("VersionStage", "AWSCURRENT"), ("MoveToVersionId", w.sm.d_version),
        ("RemoveFromVersionId", w.sm.v_versions[1])], DENIED_ONLY),
    "UpdateSecretVersionStage:decoy-victim-version": ("UpdateSecretVersionStage", lambda w: [
        (S, w.sm.d_arn), ("VersionStage", "cv-stage"), ("MoveToVersionId", w.sm.v_versions[0])],
        ("ResourceNotFoundException",)),
    # The second check: the decoy secret, but a function the caller may not invoke.
    "RotateSecret:decoy-victim-function": ("RotateSecret", lambda w: [
        (S, w.sm.d_arn), ("RotationLambdaARN", w.sm.v_function)], DENIED_ONLY),
    "RotateSecret:victim-decoy-token": ("RotateSecret", lambda w: [
        (S, w.sm.v_managed), ("RotationLambdaARN", w.sm.d_function), ("ClientRequestToken", w.sm.d_version)],
        DENIED_ONLY),
    # A policy for the victim naming the decoy, or one that blocks public access: still the victim's.
    "PutResourcePolicy:victim-policy-on-decoy-arn": ("PutResourcePolicy", lambda w: [
        (S, w.sm.v_cmk), ("ResourcePolicy", grant_policy(w, w.sm.d_arn)), ("BlockPublicPolicy", True)], DENIED_ONLY),
    "DeleteResourcePolicy:victim-default-name": ("DeleteResourcePolicy", lambda w: [
        (S, w.sm.v_managed_arn), ("PolicyName", "default")], DENIED_ONLY),
    # Validating for no secret in particular is not validating for the decoy.
    "ValidateResourcePolicy:no-secret": ("ValidateResourcePolicy", lambda w: [
        ("ResourcePolicy", grant_policy(w, w.sm.d_arn))], DENIED_ONLY),
    # Filters choose secrets through ListSecrets, which the caller may not call.
    "BatchGetSecretValue:filters": ("BatchGetSecretValue", lambda w: [
        ("Filters", [{"Key": "name", "Values": ["cv-"]}])], DENIED_ONLY),
    "BatchGetSecretValue:filters-decoy-tag": ("BatchGetSecretValue", lambda w: [
        ("Filters", [{"Key": "tag-value", "Values": [w.decoy_tag_value]}])], DENIED_ONLY),
}


def batch_refused_every_item(r):
    """Whether a BatchGetSecretValue answer served nothing and refused every secret it was asked
    for with AccessDeniedException (the per-item denial)."""
    body = r.json() if r.ok else None
    if not isinstance(body, dict):
        return False
    errors = body.get("Errors") or []
    return body.get("SecretValues") == [] and bool(errors) and all(
        e.get("ErrorCode") == "AccessDeniedException" for e in errors)


# ---------------------------------------------------------------------------------------------
# Snapshots and cleanup


def _strip(reply):
    return {k: v for k, v in reply.items() if k != "ResponseMetadata"}


def _listed_names(sm, suffix):
    names, token_ = [], None
    while True:
        page = sm.list_secrets(IncludePlannedDeletion=True, **({"NextToken": token_} if token_ else {}))
        names += [x["Name"] for x in page["SecretList"]]
        token_ = page.get("NextToken")
        if not token_:
            return sorted(n for n in names if suffix in n)


def secret_state(sm, name):
    """One secret as the administrator sees it: DescribeSecret, ListSecretVersionIds (with
    deprecated versions), and the value at each stage and of each version."""
    describe = or_error(sm.describe_secret, SecretId=name)
    versions = or_error(sm.list_secret_version_ids, SecretId=name, IncludeDeprecated=True)
    stages = sorted({st for sts in describe.get("VersionIdsToStages", {}).values() for st in sts})
    ids = sorted(v["VersionId"] for v in versions.get("Versions", []))
    return {
        "describe": _strip(describe),
        "policy": _strip(or_error(sm.get_resource_policy, SecretId=name)),
        "versions": _strip(versions),
        "by_stage": {st: _strip(or_error(sm.get_secret_value, SecretId=name, VersionStage=st)) for st in stages},
        "by_version": {v: _strip(or_error(sm.get_secret_value, SecretId=name, VersionId=v)) for v in ids},
    }


def secrets_snapshot(sm, suffix, names):
    """The secret names under `suffix` (a confused CreateSecret or forced DeleteSecret shows
    here) and the state of each of `names`."""
    return {"names": _listed_names(sm, suffix), "secret": {n: secret_state(sm, n) for n in names}}


def secrets_world_snapshot(sm, w: World):
    return secrets_snapshot(sm, w.suffix, list(w.sm.victims.values()))


def purge_secrets(server, m: SecretsWorld):
    """Force-deletes every secret named under the world's suffix and schedules the victim key's
    deletion."""
    sm = server.client(SM)
    for name in _listed_names(sm, m.suffix):
        quietly(sm.delete_secret, SecretId=name, ForceDeleteWithoutRecovery=True)
    quietly(server.client("kms").schedule_key_deletion, KeyId=m.v_key, PendingWindowInDays=7)


# ---------------------------------------------------------------------------------------------
# Positive controls: the caller on the decoy, with victims named in every member the
# operation does not take (ignored). Each leaves the victims as they were.


def _victim_extras(w: World, skip=()):
    m = w.sm
    extras = [("SecretId", m.v_managed_arn), ("Name", m.v_cmk), ("KmsKeyId", m.v_key), ("VersionId", m.v_versions[1]),
              ("ClientRequestToken", m.v_cmk_version), ("Tags", VICTIM_TAGS), ("MoveToVersionId", m.v_versions[0]),
              ("RemoveFromVersionId", m.v_versions[1]), ("RotationLambdaARN", m.v_function),
              ("SecretIdList", [m.v_managed, m.v_cmk_arn])]
    return [(k, v) for k, v in extras if k not in skip]


def _ok(r, what):
    assert r.ok, f"{what}: {r}"
    return r.json()


def _no_victim(r, w, what):
    for needle in ("cv-victim", "hush-managed", "hush-cmk", *w.sm.v_versions):
        assert needle not in r.body, f"{what} answered about a victim: {r}"


def secrets_control_reads(server, w, sm):
    m, c = w.sm, w.caller
    r = sm_send(server, c, "DescribeSecret", [(S, m.d_arn), *_victim_extras(w, skip=[S])])
    assert _ok(r, "describe the decoy")["ARN"] == m.d_arn
    _no_victim(r, w, "DescribeSecret")
    for ident in (m.d_name, m.partial(m.d_name)):
        r = sm_send(server, c, "GetSecretValue", [(S, ident), *_victim_extras(w, skip=[S, "VersionId"])])
        assert _ok(r, f"read the decoy by {ident}")["SecretString"] == m.d_value
        _no_victim(r, w, "GetSecretValue")
    r = sm_send(server, c, "GetSecretValue", [(S, m.d_arn), ("VersionId", m.d_version), *_victim_extras(w, skip=[S, "VersionId"])])
    assert _ok(r, "read the decoy's version")["VersionId"] == m.d_version
    r = sm_send(server, c, "ListSecretVersionIds", [(S, m.d_name), *_victim_extras(w, skip=[S])])
    assert m.d_version in [v["VersionId"] for v in _ok(r, "list the decoy's versions")["Versions"]]
    _no_victim(r, w, "ListSecretVersionIds")


def secrets_control_values(server, w, sm):
    m, c = w.sm, w.caller
    version, value = token(), f"decoy-new-{m.suffix}-{uuid.uuid4().hex[:6]}"
    _ok(sm_send(server, c, "PutSecretValue", [(S, m.d_arn), ("SecretString", value), ("ClientRequestToken", version),
                                              *_victim_extras(w, skip=[S, "ClientRequestToken"])]), "put a decoy value")
    got = sm.get_secret_value(SecretId=m.d_arn)
    assert (got["VersionId"], got["SecretString"]) == (version, value)
    kms_arns = {k for v in sm.list_secret_version_ids(SecretId=m.d_arn)["Versions"] for k in v["KmsKeyIds"]}
    assert kms_arns == {w.kms.d_key_arn}, kms_arns
    _ok(sm_send(server, c, "UpdateSecret", [(S, m.d_name), ("Description", "decoy updated"), ("SecretString", m.d_value),
                                            *_victim_extras(w, skip=[S, "KmsKeyId", "ClientRequestToken"])]), "update the decoy")
    assert sm.get_secret_value(SecretId=m.d_arn)["SecretString"] == m.d_value
    assert sm.describe_secret(SecretId=m.d_arn)["Description"] == "decoy updated"


def secrets_control_tags(server, w, sm):
    m, c = w.sm, w.caller
    extras = _victim_extras(w, skip=[S, "Tags"])
    _ok(sm_send(server, c, "TagResource", [(S, m.d_arn), ("Tags", [{"Key": "cv-extra", "Value": "1"}]), *extras]), "tag the decoy")
    assert {"Key": "cv-extra", "Value": "1"} in sm.describe_secret(SecretId=m.d_arn)["Tags"]
    _ok(sm_send(server, c, "UntagResource", [(S, m.d_arn), ("TagKeys", ["cv-extra"]), *_victim_extras(w, skip=[S])]), "untag it")
    assert [t["Key"] for t in sm.describe_secret(SecretId=m.d_arn)["Tags"]] == [DECOY_TAG_KEY]


def secrets_control_lifecycle(server, w, sm):
    m, c = w.sm, w.caller
    extras = _victim_extras(w, skip=[S])
    _ok(sm_send(server, c, "DeleteSecret", [(S, m.d_arn), ("RecoveryWindowInDays", 7), *extras]), "schedule the decoy's deletion")
    assert "DeletedDate" in sm.describe_secret(SecretId=m.d_arn)
    _ok(sm_send(server, c, "RestoreSecret", [(S, m.d_arn), *extras]), "restore it")
    assert "DeletedDate" not in sm.describe_secret(SecretId=m.d_arn)
    name = f"cv-decoy-{m.suffix}-control"
    out = _ok(sm_send(server, c, "CreateSecret", [
        ("Name", name), ("SecretString", "control"), ("KmsKeyId", w.kms.d_key), ("Tags", _decoy_tag(w)),
        *_victim_extras(w, skip=["Name", "KmsKeyId", "Tags", "ClientRequestToken"])]), "create a decoy-named secret")
    try:
        assert sm.describe_secret(SecretId=out["ARN"])["KmsKeyId"] == w.kms.d_key
    finally:
        _ok(sm_send(server, c, "DeleteSecret", [(S, out["ARN"]), ("ForceDeleteWithoutRecovery", True), *_victim_extras(w, skip=[S])]),
            "delete it")


def secrets_control_rotation(server, w, sm):
    """Labels move on the decoy; RotateSecret on it with the decoy function passes both checks
    and is refused only because no function exists; CancelRotateSecret turns rotation off."""
    m, c = w.sm, w.caller
    skip = [S, "MoveToVersionId", "RemoveFromVersionId"]
    _ok(sm_send(server, c, "UpdateSecretVersionStage", [(S, m.d_arn), ("VersionStage", "cv-control"),
                                                         ("MoveToVersionId", m.d_version), *_victim_extras(w, skip=skip)]),
        "label the decoy")
    current = sm.get_secret_value(SecretId=m.d_arn)["VersionId"]
    assert sm.get_secret_value(SecretId=m.d_arn, VersionStage="cv-control")["VersionId"] == m.d_version
    _ok(sm_send(server, c, "UpdateSecretVersionStage", [(S, m.d_name), ("VersionStage", "cv-control"),
                                                         ("RemoveFromVersionId", m.d_version), *_victim_extras(w, skip=skip)]),
        "unlabel the decoy")
    assert "cv-control" not in str(sm.describe_secret(SecretId=m.d_arn)["VersionIdsToStages"])
    assert sm.get_secret_value(SecretId=m.d_arn)["VersionId"] == current
    r = sm_send(server, c, "RotateSecret", [(S, m.d_arn), ("RotationLambdaARN", m.d_function),
                                            ("RotationRules", {"AutomaticallyAfterDays": 7}),
                                            *_victim_extras(w, skip=[S, "RotationLambdaARN", "ClientRequestToken"])])
    assert r.code == "AccessDeniedException" and "cannot invoke the specified Lambda function" in r.body, r
    _ok(sm_send(server, c, "CancelRotateSecret", [(S, m.d_arn), *_victim_extras(w, skip=[S])]), "cancel the decoy's rotation")
    assert sm.describe_secret(SecretId=m.d_arn)["RotationEnabled"] is False


def secrets_control_policies(server, w, sm):
    m, c = w.sm, w.caller
    extras = _victim_extras(w, skip=[S])
    # The decoy's policy names the victims too: it is evaluated on the decoy alone.
    grant = grant_policy(w, [m.d_arn, m.v_managed_arn, m.v_cmk_arn])
    answer = _ok(sm_send(server, c, "ValidateResourcePolicy", [(S, m.d_arn), ("ResourcePolicy", grant), *extras]),
                 "validate a policy for the decoy")
    assert answer["PolicyValidationPassed"] is True, answer
    _ok(sm_send(server, c, "PutResourcePolicy", [(S, m.d_arn), ("ResourcePolicy", grant), ("BlockPublicPolicy", True),
                                                 *extras]), "attach it")
    try:
        got = _ok(sm_send(server, c, "GetResourcePolicy", [(S, m.d_name), *extras]), "read it back")
        assert json.loads(got["ResourcePolicy"]) == json.loads(grant)
        for victim in (m.v_managed_arn, m.v_cmk_arn):
            r = sm_send(server, c, "GetSecretValue", [(S, victim)])
            assert r.code == "AccessDeniedException", f"the decoy's policy reached a victim: {r}"
    finally:
        _ok(sm_send(server, c, "DeleteResourcePolicy", [(S, m.d_arn), *extras]), "delete it")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=m.d_arn)


def secrets_control_batch(server, w, sm):
    m, c = w.sm, w.caller
    victims = [m.v_managed, m.v_cmk_arn, m.partial(m.v_pending)]
    r = sm_send(server, c, "BatchGetSecretValue", [("SecretIdList", [m.d_arn, *victims]),
                                                   *_victim_extras(w, skip=["SecretIdList"])])
    body = _ok(r, "a batch of the decoy and the victims")
    assert [(v["ARN"], v["SecretString"]) for v in body["SecretValues"]] == [(m.d_arn, m.d_value)], body
    assert {e["SecretId"]: e["ErrorCode"] for e in body["Errors"]} == {v: "AccessDeniedException" for v in victims}
    assert "hush-" not in r.body, f"a victim's value in the batch answer: {r}"


SECRETS_CONTROLS = {f.__name__.removeprefix("secrets_control_"): f for f in [
    secrets_control_reads, secrets_control_values, secrets_control_tags, secrets_control_lifecycle,
    secrets_control_rotation, secrets_control_policies, secrets_control_batch,
]}

