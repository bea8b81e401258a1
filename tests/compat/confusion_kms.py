"""The KMS half of the parameter-confusion suite (test_param_confusion_kms.py): the same suite
over the JSON protocol. Keys are named by id, key ARN, alias name or alias ARN; a ciphertext
blob names its own key. Victims are keys and aliases the caller may do nothing with; the decoy
key (and aliases under the decoy prefix) it may do anything with.

The world these functions take is confusion_iam.World, whose `kms` is the KmsWorld built here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from confusion_cases import DECOY_TAG_KEY, doc, or_error, quietly, send_json

if TYPE_CHECKING:
    from confusion_iam import World

# The members that name a key or an alias somewhere in KMS; a blob names the key that sealed it.
KMS_ENTITY_PARAMS = ("KeyId", "DestinationKeyId", "SourceKeyId", "AliasName", "TargetKeyId", "CiphertextBlob")


def b64(raw: bytes) -> str:
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


# ---------------------------------------------------------------------------------------------
# The operation table


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


# ---------------------------------------------------------------------------------------------
# Snapshots and cleanup


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
            "metadata": or_error(kms.describe_key, KeyId=key).get("KeyMetadata"),
            "policy": or_error(kms.get_key_policy, KeyId=key).get("Policy"),
            "rotation": _strip(or_error(kms.get_key_rotation_status, KeyId=key)),
            "aliases": sorted(a["AliasName"] for a in kms.list_aliases(KeyId=key)["Aliases"]),
        }
        probe = or_error(kms.encrypt, KeyId=key, Plaintext=b"probe")
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
            quietly(kms.delete_alias, AliasName=alias["AliasName"])
    for key in [k.v_key, k.v_key2, k.d_key]:
        quietly(kms.schedule_key_deletion, KeyId=key, PendingWindowInDays=7)


# ---------------------------------------------------------------------------------------------
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
