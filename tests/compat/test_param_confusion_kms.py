"""Parameter confusion in KMS: authorization must decide over the key an operation touches, and
nothing else a request names — the IAM and STS suite (test_param_confusion.py) over the JSON
protocol, with hand-signed requests (so nothing in boto3 drops or reorders members). The cases:
confusion_kms.py; the world and its caller (granted `kms:*` on the decoy key only, and `iam:*`
on the IAM decoys): confusion_iam.py, as the IAM suite builds it.

What this module proves:

1. For EVERY operation in the server's `kms_operations!` table (a test fails if the table and
   this suite drift apart), a request aimed at a victim key or alias is refused with
   AccessDeniedException — alone, and with each member naming a key (KeyId,
   DestinationKeyId, SourceKeyId, AliasName, TargetKeyId, a CiphertextBlob sealed under
   another key) the operation does not take added, before or after the real members, naming
   the decoy key the caller may do anything with. Members it does take that name the decoy
   where AWS authorizes on something else (a Decrypt KeyId, a blob relabelled with another
   key's id, an alias moved between keys, request tags) grant nothing either.
2. Duplicated JSON members (the target member twice, naming the victim and the decoy, in
   either order) are refused, never acted on.
3. None of those requests changed anything: keys, aliases, key policies, rotation and
   backing-key versions are the same before and after — and the snapshot is shown to catch
   each such change.
4. Positive controls: the caller succeeds on the decoy key with victims named in members the
   operation does not take (which are ignored).
"""

import json
import uuid

import pytest

from confusion_cases import differences, send_json, table_operations
from confusion_iam import build_world, purge_suffix
from confusion_kms import (
    KMS_CASES,
    KMS_CASES_BY_OP,
    KMS_CONTROLS,
    KMS_CROSS_CASES,
    b64,
    kms_decoy_params,
    kms_open_policy,
    kms_snapshot,
    kms_world_snapshot,
    purge_kms,
)


@pytest.fixture(scope="module")
def world(server):
    """The world of test_param_confusion.py (built afresh, under a suffix of its own), with a
    snapshot of KMS taken before any case runs."""
    iam, kms = server.client("iam"), server.client("kms")
    suffix = uuid.uuid4().hex[:8]
    try:
        w = build_world(server, suffix)
        w.created["kms_before"] = kms_world_snapshot(kms, w)
    except BaseException:
        purge_suffix(iam, f"-{suffix}")
        raise
    yield w
    purge_suffix(iam, f"-{suffix}")
    purge_kms(kms, w.kms, suffix)


def kms_denied(r):
    # AWS KMS answers AccessDeniedException with 400, Rampart's request path with 403 (see
    # test_kms.py); the code is what clients read.
    return r.code == "AccessDeniedException" and 400 <= r.status < 500


# ---------------------------------------------------------------------------------------------
# 1. The generated suite


def test_kms_table_covers_every_operation():
    ops = table_operations("kms")
    assert len(ops) == len(set(ops)) and len(ops) >= 23
    in_table = {c.op for c in KMS_CASES}
    assert set(ops) - in_table == set(), "KMS operations the server offers with no confusion case"
    assert in_table - set(ops) == set(), "KMS confusion cases for operations the server does not offer"


@pytest.mark.parametrize("op", [c.op for c in KMS_CASES])
def test_kms_victim_request_is_denied(server, world, op):
    case = KMS_CASES_BY_OP[op]
    r = send_json(server, world.caller, op, case.params(world))
    assert kms_denied(r), f"{op} on the victim: {r}"


KMS_DECOY_CASES = [(c.op, param, where) for c in KMS_CASES for param in c.decoys for where in ("after", "before")]


@pytest.mark.parametrize("op,param,where", KMS_DECOY_CASES, ids=[f"{o}+{p}-{w}" for o, p, w in KMS_DECOY_CASES])
def test_kms_decoy_member_grants_nothing(server, world, op, param, where):
    case = KMS_CASES_BY_OP[op]
    victim, decoy = case.params(world), kms_decoy_params(param, world)
    params = victim + decoy if where == "after" else decoy + victim
    r = send_json(server, world.caller, op, params)
    assert kms_denied(r), f"{op} on the victim with {param} naming the decoy ({where}): {r}"


@pytest.mark.parametrize("name", sorted(KMS_CROSS_CASES))
def test_kms_member_naming_decoy_grants_nothing(server, world, name):
    op, params, codes = KMS_CROSS_CASES[name]
    r = send_json(server, world.caller, op, params(world))
    assert r.code in codes and 400 <= r.status < 500, f"{name}: {r}"

# ---------------------------------------------------------------------------------------------
# 2. Duplicated members


def _duplicated(member, first, second, rest):
    """A JSON body with `member` twice (json.dumps cannot write one)."""
    items = [json.dumps(member) + ": " + json.dumps(first), json.dumps(member) + ": " + json.dumps(second)]
    items += [json.dumps(k) + ": " + json.dumps(v) for k, v in rest]
    return ("{" + ", ".join(items) + "}").encode()


def _kms_duplicates(w):
    """(op, member, victim value, decoy value, other members)."""
    k = w.kms
    return {
        "DisableKey": ("KeyId", k.v_key, k.d_key, []),
        "ScheduleKeyDeletion": ("KeyId", k.v_key, k.d_key, [("PendingWindowInDays", 7)]),
        "PutKeyPolicy": ("KeyId", k.v_key, k.d_key, [("Policy", kms_open_policy(w))]),
        "Encrypt": ("KeyId", k.v_key, k.d_key, [("Plaintext", b64(k.plaintext))]),
        "Decrypt": ("CiphertextBlob", b64(k.v_blob), b64(k.d_blob), []),
        "UpdateAlias": ("TargetKeyId", k.v_key2, k.d_key, [("AliasName", k.v_alias)]),
        "DeleteAlias": ("AliasName", k.v_alias, k.d_alias, []),
    }


KMS_DUP_CASES = [(op, order) for op in ["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "Encrypt", "Decrypt",
                                          "UpdateAlias", "DeleteAlias"] for order in ("victim-first", "decoy-first")]


@pytest.mark.parametrize("op,order", KMS_DUP_CASES, ids=[f"{o}-{d}" for o, d in KMS_DUP_CASES])
def test_kms_duplicated_member_is_refused(server, world, op, order):
    """A JSON object with the target member twice: refused as malformed, never acted on."""
    member, victim, decoy, rest = _kms_duplicates(world)[op]
    first, second = (victim, decoy) if order == "victim-first" else (decoy, victim)
    r = send_json(server, world.caller, op, _duplicated(member, first, second, rest))
    assert not r.ok and 400 <= r.status < 500, f"{op} with {member} twice ({order}): {r}"

# ---------------------------------------------------------------------------------------------
# 3. No change


def test_kms_state_unchanged_by_confusion_requests(server, world):
    """Runs after every KMS case above: keys, aliases and policies are what the fixture left."""
    after = kms_world_snapshot(server.client("kms"), world)
    diff = differences(world.created["kms_before"], after)
    assert not diff, "KMS confusion requests changed KMS:\n" + "\n".join(diff)


def test_kms_snapshot_detects_each_kind_of_change(server, world):
    """The comparison above would have caught what a confused request could do — shown on a
    key of its own, so nothing the other tests watch moves."""
    kms, s = server.client("kms"), world.suffix
    key = kms.create_key(Description=f"cv-scratch-{s}")["KeyMetadata"]["KeyId"]
    other = kms.create_key(Description=f"cv-scratch2-{s}")["KeyMetadata"]["KeyId"]
    alias = f"alias/cv-scratch-{s}"
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    policy = kms.get_key_policy(KeyId=key)["Policy"]
    changes = [
        ("disable", lambda: kms.disable_key(KeyId=key), lambda: kms.enable_key(KeyId=key)),
        ("deletion", lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7),
         lambda: (kms.cancel_key_deletion(KeyId=key), kms.enable_key(KeyId=key))),
        ("rotation", lambda: kms.enable_key_rotation(KeyId=key), lambda: kms.disable_key_rotation(KeyId=key)),
        ("policy", lambda: kms.put_key_policy(KeyId=key, Policy=kms_open_policy(world)),
         lambda: kms.put_key_policy(KeyId=key, Policy=policy)),
        ("alias moved", lambda: kms.update_alias(AliasName=alias, TargetKeyId=other),
         lambda: kms.update_alias(AliasName=alias, TargetKeyId=key)),
        ("alias deleted", lambda: kms.delete_alias(AliasName=alias),
         lambda: kms.create_alias(AliasName=alias, TargetKeyId=key)),
        ("new alias", lambda: kms.create_alias(AliasName=f"{alias}-new", TargetKeyId=other),
         lambda: kms.delete_alias(AliasName=f"{alias}-new")),
    ]
    try:
        base = kms_snapshot(kms, [key])
        for name, do, undo in changes:
            do()
            try:
                assert differences(base, kms_snapshot(kms, [key])), f"the snapshot missed a change: {name}"
            finally:
                undo()
        left = differences(base, kms_snapshot(kms, [key]))
        assert not left, "undoing the changes left a difference:\n" + "\n".join(left)
        # What cannot be undone: a rotation and a new key.
        kms.rotate_key_on_demand(KeyId=key)
        assert differences(base, kms_snapshot(kms, [key])), "the snapshot missed an on-demand rotation"
        before_new = kms_snapshot(kms, [])
        extra = kms.create_key(Description=f"cv-scratch3-{s}")["KeyMetadata"]["KeyId"]
        assert differences(before_new, kms_snapshot(kms, [])), "the snapshot missed a new key"
        kms.schedule_key_deletion(KeyId=extra, PendingWindowInDays=7)
    finally:
        for a in (alias, f"{alias}-new"):
            try:
                kms.delete_alias(AliasName=a)
            except Exception:
                pass
        for k in (key, other):
            kms.schedule_key_deletion(KeyId=k, PendingWindowInDays=7)

# ---------------------------------------------------------------------------------------------
# 4. Positive controls: the caller's grant and the harness work


@pytest.mark.parametrize("name", list(KMS_CONTROLS))
def test_kms_positive_control_on_decoy(server, world, name):
    kms = server.client("kms")
    before = kms_world_snapshot(kms, world)
    KMS_CONTROLS[name](server, world, kms)
    diff = differences(before, kms_world_snapshot(kms, world))
    assert not diff, f"{name} changed more than the decoy, or did not clean up:\n" + "\n".join(diff)
