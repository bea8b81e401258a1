"""Parameter confusion in Secrets Manager: authorization must decide over the secret (and the KMS
key) an operation touches, and nothing else a request names — the KMS suite
(test_param_confusion_kms.py) over `secretsmanager`, with hand-signed JSON 1.1 requests. The
cases: confusion_secrets.py; the world and its caller (granted `secretsmanager:*` on the decoy
secret only, `kms:*` on the decoy key, `iam:*` on the IAM decoys): confusion_iam.py.

What this module proves:

1. For EVERY operation in the server's `secrets_operations!` table (a test fails if the table
   and this suite drift apart), a request aimed at a victim secret — each victim, by name, full
   ARN and partial ARN — is refused with AccessDeniedException; so is the same request with
   each entity-naming member it does not take (SecretId, Name, KmsKeyId, VersionId,
   ClientRequestToken, Tags, MoveToVersionId, RemoveFromVersionId, RotationLambdaARN,
   SecretIdList) added, before or after the real members, naming the decoy.
   BatchGetSecretValue, which the caller may call, refuses each victim it is asked for with an
   AccessDeniedException entry and serves nothing of it (the per-item check). Members it does
   take that name the decoy (request tags, the decoy key, the decoy's version id as token,
   VersionId or MoveToVersionId, the decoy's ARN suffix on a victim's name, the decoy's rotation
   function) grant nothing either; RotateSecret's second check (`lambda:InvokeFunction`) refuses
   the decoy secret with a function the caller may not invoke.
2. The second declared check: a caller allowed `secretsmanager:GetSecretValue` (or
   PutSecretValue) on the customer-key victim but not `kms:Decrypt` (`kms:GenerateDataKey`) on
   its key is refused; the same caller given the KMS action reads it.
3. Duplicated JSON members (SecretId twice, victim and decoy, either order) are refused.
4. None of those requests changed anything: DescribeSecret, ListSecretVersionIds and every
   value (by stage and by version) of each victim, and the secret names, are the same before
   and after — and the snapshot is shown to catch each kind of change.
5. Positive controls: the caller succeeds on the decoy with victims named in the members the
   operation does not take (which are ignored).
"""

import json
import uuid

import pytest

from confusion_cases import differences, doc, make_caller, send_json, table_operations
from confusion_iam import build_world, purge_suffix
from confusion_secrets import (
    SECRETS_CASES,
    SECRETS_CASES_BY_OP,
    SECRETS_CONTROLS,
    SECRETS_CROSS_CASES,
    batch_refused_every_item,
    build_secrets_world,
    purge_secrets,
    secrets_caller_policy,
    secrets_decoy_params,
    secrets_snapshot,
    secrets_world_snapshot,
    sm_send,
)


@pytest.fixture(scope="module")
def world(server):
    """The world of test_param_confusion.py (under a suffix of its own) plus the secrets, the
    caller's `secrets-grant` policy, and a snapshot of the victims taken before any case."""
    iam, sm = server.client("iam"), server.client("secretsmanager")
    suffix = uuid.uuid4().hex[:8]
    w = None
    try:
        w = build_world(server, suffix)
        w.sm = build_secrets_world(server, w)
        iam.put_user_policy(UserName=w.caller.name, PolicyName="secrets-grant", PolicyDocument=secrets_caller_policy(w))
        w.created["sm_before"] = secrets_world_snapshot(sm, w)
    except BaseException:
        purge_suffix(iam, f"-{suffix}")
        if w is not None and getattr(w, "sm", None):
            purge_secrets(server, w.sm)
        raise
    yield w
    purge_secrets(server, w.sm)
    purge_suffix(iam, f"-{suffix}")


def sm_denied(r):
    return r.code == "AccessDeniedException" and 400 <= r.status < 500


def sm_refused(op, r):
    """Refused: the whole request, or — for a batch — every secret it named."""
    return sm_denied(r) or (op == "BatchGetSecretValue" and batch_refused_every_item(r))


# ---------------------------------------------------------------------------------------------
# 1. The generated suite


def test_secrets_table_covers_every_operation():
    ops = table_operations("secretsmanager")
    assert len(ops) == len(set(ops)) and len(ops) >= 12
    in_table = {c.op for c in SECRETS_CASES}
    assert set(ops) - in_table == set(), "Secrets Manager operations the server offers with no confusion case"
    assert in_table - set(ops) == set(), "confusion cases for operations the server does not offer"


VICTIM_CASES = [(c.op, label, form) for c in SECRETS_CASES
                for label, form in ([(v, f) for v in ("managed", "cmk", "pending") for f in ("name", "arn", "partial-arn")]
                                    if c.takes_secret else [(c.victim, "name")])]


@pytest.mark.parametrize("op,victim,form", VICTIM_CASES, ids=[f"{o}-{v}-{f}" for o, v, f in VICTIM_CASES])
def test_secrets_victim_request_is_denied(server, world, op, victim, form):
    case = SECRETS_CASES_BY_OP[op]
    r = sm_send(server, world.caller, op, case.request(world, world.sm.victim_ids(victim)[form]))
    assert sm_refused(op, r), f"{op} on the {victim} victim by {form}: {r}"


DECOY_CASES = [(c.op, param, where) for c in SECRETS_CASES for param in c.decoys for where in ("after", "before")]


@pytest.mark.parametrize("op,param,where", DECOY_CASES, ids=[f"{o}+{p}-{w}" for o, p, w in DECOY_CASES])
def test_secrets_decoy_member_grants_nothing(server, world, op, param, where):
    case = SECRETS_CASES_BY_OP[op]
    victim, decoy = case.request(world), secrets_decoy_params(param, world)
    params = victim + decoy if where == "after" else decoy + victim
    r = sm_send(server, world.caller, op, params)
    assert sm_refused(op, r), f"{op} on the victim with {param} naming the decoy ({where}): {r}"


@pytest.mark.parametrize("name", sorted(SECRETS_CROSS_CASES))
def test_secrets_member_naming_decoy_grants_nothing(server, world, name):
    op, params, codes = SECRETS_CROSS_CASES[name]
    r = sm_send(server, world.caller, op, params(world))
    assert r.code in codes and 400 <= r.status < 500, f"{name}: {r}"
    for secret in ("hush-managed", "hush-cmk"):
        assert secret not in r.body, f"{name} leaked a victim value: {r}"


# ---------------------------------------------------------------------------------------------
# 2. The second declared check: the customer key


def test_customer_key_needs_the_kms_action_too(server, world):
    """GetSecretValue needs `kms:Decrypt` on a customer key, PutSecretValue
    `kms:GenerateDataKey`; the AWS-managed key needs neither."""
    iam, m = server.client("iam"), world.sm
    reader = make_caller(iam, f"cv-reader-{world.suffix}", doc({
        "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
        "Resource": [m.v_cmk_arn, m.v_managed_arn]}))
    r = sm_send(server, reader, "GetSecretValue", [("SecretId", m.v_cmk_arn)])
    assert sm_denied(r), f"GetSecretValue without kms:Decrypt on the customer key: {r}"
    r = sm_send(server, reader, "GetSecretValue", [("SecretId", m.v_cmk), ("KmsKeyId", world.kms.d_key)])
    assert sm_denied(r), f"... with a KmsKeyId the reader might use: {r}"
    r = sm_send(server, reader, "PutSecretValue", [("SecretId", m.v_cmk_arn), ("SecretString", "confused"),
                                                   ("KmsKeyId", world.kms.d_key)])
    assert sm_denied(r), f"PutSecretValue without kms:GenerateDataKey on the customer key: {r}"
    r = sm_send(server, reader, "GetSecretValue", [("SecretId", m.v_managed_arn)])
    assert r.ok and r.json()["SecretString"] == f"hush-managed-2-{world.suffix}", f"the AWS-managed key: {r}"
    # The same reader allowed kms:Decrypt on the key: the first check was not what refused.
    iam.put_user_policy(UserName=reader.name, PolicyName="decrypt", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": m.v_key_arn}))
    r = sm_send(server, reader, "GetSecretValue", [("SecretId", m.v_cmk_arn)])
    assert r.ok and r.json()["VersionId"] == m.v_cmk_version, f"with kms:Decrypt: {r}"
    r = sm_send(server, reader, "PutSecretValue", [("SecretId", m.v_cmk_arn), ("SecretString", "confused")])
    assert sm_denied(r), f"kms:Decrypt does not grant kms:GenerateDataKey: {r}"


# ---------------------------------------------------------------------------------------------
# 3. Duplicated members


def _duplicated(member, first, second, rest):
    """A JSON body with `member` twice (json.dumps cannot write one)."""
    items = [json.dumps(member) + ": " + json.dumps(first), json.dumps(member) + ": " + json.dumps(second)]
    items += [json.dumps(k) + ": " + json.dumps(v) for k, v in rest]
    return ("{" + ", ".join(items) + "}").encode()


DUP_OPS = {
    "DescribeSecret": [],
    "CancelRotateSecret": [],
    "GetSecretValue": [],
    "PutSecretValue": [("SecretString", "confused")],
    "DeleteSecret": [("ForceDeleteWithoutRecovery", True)],
    "TagResource": [("Tags", [{"Key": "confused", "Value": "yes"}])],
    "PutResourcePolicy": [("ResourcePolicy", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}]}))],
    "DeleteResourcePolicy": [],
}
DUP_CASES = [(op, order) for op in DUP_OPS for order in ("victim-first", "decoy-first")]


@pytest.mark.parametrize("op,order", DUP_CASES, ids=[f"{o}-{d}" for o, d in DUP_CASES])
def test_secrets_duplicated_member_is_refused(server, world, op, order):
    m = world.sm
    first, second = (m.v_managed_arn, m.d_arn) if order == "victim-first" else (m.d_arn, m.v_managed_arn)
    body = _duplicated("SecretId", first, second, DUP_OPS[op])
    r = send_json(server, world.caller, op, body, service="secretsmanager")
    assert not r.ok and 400 <= r.status < 500, f"{op} with SecretId twice ({order}): {r}"


# ---------------------------------------------------------------------------------------------
# 4. No change


def test_secrets_unchanged_by_confusion_requests(server, world):
    """Runs after every case above: the victims are what the fixture left."""
    after = secrets_world_snapshot(server.client("secretsmanager"), world)
    diff = differences(world.created["sm_before"], after)
    assert not diff, "Secrets Manager confusion requests changed the victims:\n" + "\n".join(diff)


def test_secrets_snapshot_detects_each_kind_of_change(server, world):
    """The comparison above would have caught what a confused request could do — shown on
    secrets of their own, each change against a fresh baseline."""
    sm, kms, s = server.client("secretsmanager"), server.client("kms"), world.suffix
    name, other = f"cv-scratch-{s}", f"cv-scratch-new-{s}"
    key = kms.create_key(Description=f"cv-scratch-{s}")["KeyMetadata"]["Arn"]

    def policy(action):
        return doc({"Effect": "Allow", "Principal": {"AWS": world.account}, "Action": f"secretsmanager:{action}",
                    "Resource": "*"})

    sm.create_secret(Name=name, SecretString="scratch", Tags=[{"Key": "team", "Value": "scratch"}], Description="scratch")
    changes = [
        ("description", lambda: sm.update_secret(SecretId=name, Description="changed")),
        ("tag added", lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "more", "Value": "1"}])),
        ("tag value", lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "more", "Value": "2"}])),
        ("tag removed", lambda: sm.untag_resource(SecretId=name, TagKeys=["more"])),
        ("key changed", lambda: sm.update_secret(SecretId=name, KmsKeyId=key)),
        ("new value", lambda: sm.put_secret_value(SecretId=name, SecretString="scratch-2")),
        ("new version at a custom stage", lambda: sm.put_secret_value(SecretId=name, SecretString="scratch-3",
                                                                       VersionStages=["cv-stage"])),
        ("stage moved", lambda: sm.update_secret_version_stage(
            SecretId=name, VersionStage="cv-stage", MoveToVersionId=sm.get_secret_value(SecretId=name)["VersionId"],
            RemoveFromVersionId=sm.get_secret_value(SecretId=name, VersionStage="cv-stage")["VersionId"])),
        ("stage removed", lambda: sm.update_secret_version_stage(
            SecretId=name, VersionStage="cv-stage",
            RemoveFromVersionId=sm.get_secret_value(SecretId=name, VersionStage="cv-stage")["VersionId"])),
        ("rotation turned off", lambda: sm.cancel_rotate_secret(SecretId=name)),
        ("existing value replaced at a stage", lambda: sm.update_secret(SecretId=name, SecretString="scratch-4")),
        ("policy attached", lambda: sm.put_resource_policy(SecretId=name, ResourcePolicy=policy("DescribeSecret"))),
        ("policy replaced", lambda: sm.put_resource_policy(SecretId=name, ResourcePolicy=policy("GetSecretValue"))),
        ("policy deleted", lambda: sm.delete_resource_policy(SecretId=name)),
        ("deletion scheduled", lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)),
        ("restored", lambda: sm.restore_secret(SecretId=name)),
        ("new secret", lambda: sm.create_secret(Name=other, SecretString="new")),
        ("forced deletion", lambda: sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)),
    ]
    try:
        for what, do in changes:
            base = secrets_snapshot(sm, s, [name])
            assert not differences(base, secrets_snapshot(sm, s, [name])), f"the snapshot is unstable before: {what}"
            do()
            assert differences(base, secrets_snapshot(sm, s, [name])), f"the snapshot missed a change: {what}"
    finally:
        for n in (name, other):
            try:
                sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)
            except Exception:
                pass
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)


def test_secrets_snapshot_sees_values(server, world):
    """The values themselves are compared, not only the metadata: a victim's value read by
    stage and by version is in the snapshot."""
    snap = world.created["sm_before"]["secret"]
    m, s = world.sm, world.suffix
    managed = snap[m.v_managed]
    assert managed["by_stage"]["AWSCURRENT"]["SecretString"] == f"hush-managed-2-{s}"
    assert managed["by_stage"]["AWSPREVIOUS"]["SecretString"] == f"hush-managed-1-{s}"
    assert managed["by_stage"]["cv-stage"]["SecretString"] == f"hush-managed-3-{s}"
    assert set(managed["by_version"]) == set(m.v_versions)
    assert snap[m.v_cmk]["by_stage"]["AWSCURRENT"]["SecretBinary"].startswith(f"hush-cmk-{s}".encode())
    assert snap[m.v_pending]["by_stage"]["AWSCURRENT"] == {"error": "InvalidRequestException"}
    assert "Delegate to IAM" in managed["policy"]["ResourcePolicy"]
    assert "ResourcePolicy" not in snap[m.v_cmk]["policy"]


# ---------------------------------------------------------------------------------------------
# 5. Positive controls: the caller's grant and the harness work


@pytest.mark.parametrize("name", list(SECRETS_CONTROLS))
def test_secrets_positive_control_on_decoy(server, world, name):
    sm = server.client("secretsmanager")
    before = secrets_world_snapshot(sm, world)
    SECRETS_CONTROLS[name](server, world, sm)
    diff = differences(before, secrets_world_snapshot(sm, world))
    assert not diff, f"{name} changed a victim, or left a secret behind:\n" + "\n".join(diff)

