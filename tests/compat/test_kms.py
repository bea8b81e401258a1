"""KMS driven by boto3 and the AWS CLI: keys and their life (create, describe, list with paging,
disable/enable, scheduled deletion and its cancellation), aliases wherever a key id is taken,
encryption bound to its encryption context, decryption that finds the key in the blob,
rotation that keeps old ciphertexts readable, data keys, random bytes, re-encryption, key
policies evaluated together with IAM as AWS evaluates them, malformed input answered with
AWS's 4xx errors, and nothing sensitive in the store's files."""

import base64
import json
import os
import subprocess
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from confusion_cases import Caller, send_json

# Client-side validation off: the server, not botocore, must refuse malformed members.
NO_VALIDATION = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# AWS KMS answers AccessDeniedException with HTTP 400, as every JSON service does here.
DENIED = "AccessDeniedException"


def refused(call, **kwargs):
    """(code, HTTP status) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return code_of(e), status_of(e)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def loose(server):
    """The administrator's client without botocore's parameter validation."""
    return server.client("kms", config=NO_VALIDATION)


@pytest.fixture(scope="module")
def account(server):
    return server.client("sts").get_caller_identity()["Account"]


def new_key(kms, **kwargs):
    kwargs.setdefault("Description", "compat")
    return kms.create_key(**kwargs)["KeyMetadata"]


class Users:
    """Users with one inline policy and an access key each; deleted at the end."""

    def __init__(self, server):
        self.server = server
        self.iam = server.client("iam")
        self.names = []

    def make(self, policy=None, managed=()):
        name = unique("kms-user")
        user = self.iam.create_user(UserName=name)["User"]
        self.names.append(name)
        if policy:
            self.iam.put_user_policy(UserName=name, PolicyName="grant", PolicyDocument=policy)
        for arn in managed:
            self.iam.attach_user_policy(UserName=name, PolicyArn=arn)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return Caller(name, user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])

    def client(self, caller, service="kms"):
        return boto3.client(
            service,
            endpoint_url=self.server.endpoint,
            region_name=self.server.region,
            aws_access_key_id=caller.key,
            aws_secret_access_key=caller.secret,
            config=NO_VALIDATION,
        )

    def cleanup(self):
        for name in self.names:
            for k in self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                self.iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
            for p in self.iam.list_user_policies(UserName=name)["PolicyNames"]:
                self.iam.delete_user_policy(UserName=name, PolicyName=p)
            for p in self.iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
                self.iam.detach_user_policy(UserName=name, PolicyArn=p["PolicyArn"])
            self.iam.delete_user(UserName=name)


@pytest.fixture(scope="module")
def users(server):
    u = Users(server)
    yield u
    u.cleanup()


def blob_version(blob):
    """The backing-key version a Rampart ciphertext blob names (see crates/kms/src/blob.rs)."""
    n = blob[1]
    return int.from_bytes(blob[2 + n : 6 + n], "big")


# ---------------------------------------------------------------------------------------------
# Keys


def test_create_describe_and_list_keys_with_paging(kms, account, server):
    made = [new_key(kms, Description=f"paging-{i}") for i in range(3)]
    for meta in made:
        assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
        assert meta["KeyManager"] == "CUSTOMER" and meta["KeyUsage"] == "ENCRYPT_DECRYPT"
        assert meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
        assert meta["AWSAccountId"] == account
        assert meta["Arn"] == f"arn:aws:kms:{server.region}:{account}:key/{meta['KeyId']}"
        for ref in (meta["KeyId"], meta["Arn"]):
            described = kms.describe_key(KeyId=ref)["KeyMetadata"]
            assert (described["KeyId"], described["Description"]) == (meta["KeyId"], meta["Description"])
    seen, marker, pages = [], None, 0
    while True:
        page = kms.list_keys(Limit=1, **({"Marker": marker} if marker else {}))
        assert len(page["Keys"]) <= 1
        seen += [k["KeyId"] for k in page["Keys"]]
        pages += 1
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert pages >= 3 and len(seen) == len(set(seen))
    assert {m["KeyId"] for m in made} <= set(seen)
    # boto3's paginator walks the same pages.
    paged = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}) for k in p["Keys"]]
    assert paged == seen
    arns = {k["KeyId"]: k["KeyArn"] for k in kms.list_keys()["Keys"]}
    assert all(arns[m["KeyId"]] == m["Arn"] for m in made)


def test_unknown_keys_are_not_found(kms, loose, server, account):
    missing = str(uuid.uuid4())
    for ref in (missing, f"arn:aws:kms:{server.region}:{account}:key/{missing}", "alias/no-such-alias"):
        assert refused(kms.describe_key, KeyId=ref) == ("NotFoundException", 400)
    assert refused(kms.encrypt, KeyId="alias/no-such-alias", Plaintext=b"x")[0] == "NotFoundException"
    assert refused(loose.describe_key, KeyId="")[0] == "ValidationException"


# ---------------------------------------------------------------------------------------------
# Aliases


def test_aliases_name_keys_wherever_a_key_id_is_taken(kms, server, account):
    a, b = new_key(kms), new_key(kms)
    name = f"alias/{unique('compat')}"
    alias_arn = f"arn:aws:kms:{server.region}:{account}:{name}"
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    assert refused(kms.create_alias, AliasName=name, TargetKeyId=b["KeyId"])[0] == "AlreadyExistsException"
    for ref in (name, alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == a["KeyId"]
    blob = kms.encrypt(KeyId=name, Plaintext=b"via alias")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=alias_arn)["Plaintext"] == b"via alias"
    listed = kms.list_aliases(KeyId=a["KeyId"])["Aliases"]
    assert [(x["AliasName"], x["AliasArn"], x["TargetKeyId"]) for x in listed] == [(name, alias_arn, a["KeyId"])]
    everything = [x["AliasName"] for p in kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 1}) for x in p["Aliases"]]
    assert name in everything and len(everything) == len(set(everything))

    kms.update_alias(AliasName=name, TargetKeyId=b["Arn"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == b["KeyId"]
    assert kms.list_aliases(KeyId=a["KeyId"])["Aliases"] == []
    assert [x["AliasName"] for x in kms.list_aliases(KeyId=b["KeyId"])["Aliases"]] == [name]
    # The old ciphertext still names key A; decrypting it with the alias (now B) is refused.
    assert refused(kms.decrypt, CiphertextBlob=blob, KeyId=name)[0] == "IncorrectKeyException"
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == a["Arn"]
    # An alias is not a TargetKeyId.
    assert refused(kms.update_alias, AliasName=name, TargetKeyId=name) in (("ValidationException", 400), ("NotFoundException", 400))

    kms.delete_alias(AliasName=name)
    assert refused(kms.describe_key, KeyId=name) == ("NotFoundException", 400)
    assert refused(kms.delete_alias, AliasName=name)[0] == "NotFoundException"
    assert name not in [x["AliasName"] for p in kms.get_paginator("list_aliases").paginate() for x in p["Aliases"]]


def test_reserved_and_malformed_alias_names_are_refused(kms, loose):
    key = new_key(kms)
    assert refused(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=key["KeyId"])[1] == 400
    assert refused(loose.create_alias, AliasName="no-prefix", TargetKeyId=key["KeyId"]) == ("ValidationException", 400)
    assert refused(loose.create_alias, AliasName="alias/bad name!", TargetKeyId=key["KeyId"]) == ("ValidationException", 400)


# ---------------------------------------------------------------------------------------------
# Encryption


def test_encrypt_decrypt_round_trip_bound_to_the_context(kms):
    key = new_key(kms)
    context = {"tenant": "acme", "purpose": "compat"}
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"attack at dawn", EncryptionContext=context)
    assert out["KeyId"] == key["Arn"] and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = out["CiphertextBlob"]
    assert b"attack at dawn" not in blob
    # No KeyId: the key comes from the blob. The context's order does not matter.
    plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext=dict(reversed(list(context.items()))))
    assert (plain["Plaintext"], plain["KeyId"]) == (b"attack at dawn", key["Arn"])
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=key["KeyId"])["Plaintext"] == b"attack at dawn"
    for wrong in ({}, {"tenant": "acme"}, {"tenant": "other", "purpose": "compat"},
                  {**context, "extra": "1"}, {"Tenant": "acme", "purpose": "compat"}):
        kwargs = {"EncryptionContext": wrong} if wrong else {}
        assert refused(kms.decrypt, CiphertextBlob=blob, **kwargs) == ("InvalidCiphertextException", 400), wrong
    # Two encryptions of the same plaintext differ.
    assert kms.encrypt(KeyId=key["KeyId"], Plaintext=b"attack at dawn", EncryptionContext=context)["CiphertextBlob"] != blob
    # A KeyId naming another key than the blob's.
    other = new_key(kms)
    assert refused(kms.decrypt, CiphertextBlob=blob, EncryptionContext=context, KeyId=other["KeyId"])[0] == "IncorrectKeyException"


def test_aws_cli_encrypt_and_decrypt(server, kms, tmp_path):
    key = new_key(kms)
    alias = f"alias/{unique('cli')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    aws = os.path.join(os.path.dirname(os.sys.executable), "aws")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"from the aws cli \x00\xff")
    run = lambda *args: subprocess.run([aws, "kms", *args, "--output", "json"], env=server.cli_env(),  # noqa: E731
                                       capture_output=True, text=True, timeout=60)
    out = run("encrypt", "--key-id", alias, "--plaintext", f"fileb://{plain}", "--encryption-context", "app=cli")
    assert out.returncode == 0, out.stderr
    encrypted = json.loads(out.stdout)
    assert encrypted["KeyId"] == key["Arn"]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(base64.b64decode(encrypted["CiphertextBlob"]))
    out = run("decrypt", "--ciphertext-blob", f"fileb://{blob}", "--encryption-context", "app=cli")
    assert out.returncode == 0, out.stderr
    assert base64.b64decode(json.loads(out.stdout)["Plaintext"]) == plain.read_bytes()
    out = run("decrypt", "--ciphertext-blob", f"fileb://{blob}", "--encryption-context", "app=other")
    assert out.returncode != 0 and "InvalidCiphertextException" in out.stderr
    # raw-in-base64-out: a text plaintext on the command line (CLI v1 has no such option: raw
    # text in, base64 out is what it always does).
    args = ("encrypt", "--key-id", key["KeyId"], "--plaintext", "hello cli")
    out = run(*args, "--cli-binary-format", "raw-in-base64-out")
    if "Unknown options: --cli-binary-format" in out.stderr:
        out = run(*args)
    assert out.returncode == 0, out.stderr
    raw = base64.b64decode(json.loads(out.stdout)["CiphertextBlob"])
    assert kms.decrypt(CiphertextBlob=raw)["Plaintext"] == b"hello cli"


def test_disabled_key_refuses_until_enabled(kms):
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    assert refused(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x") == ("DisabledException", 400)
    assert refused(kms.decrypt, CiphertextBlob=blob)[0] == "DisabledException"
    assert refused(kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256")[0] == "DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"after")


def test_rotation_keeps_old_ciphertexts_readable(kms, loose):
    key = new_key(kms)
    kid = key["KeyId"]
    status = kms.get_key_rotation_status(KeyId=kid)
    assert status["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=kid)
    status = kms.get_key_rotation_status(KeyId=kid)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365
    assert "NextRotationDate" in status
    kms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=90)
    assert kms.get_key_rotation_status(KeyId=kid)["RotationPeriodInDays"] == 90
    assert refused(loose.enable_key_rotation, KeyId=kid, RotationPeriodInDays=89)[0] == "ValidationException"

    context = {"k": "v"}
    old = kms.encrypt(KeyId=kid, Plaintext=b"old secret", EncryptionContext=context)["CiphertextBlob"]
    assert kms.rotate_key_on_demand(KeyId=kid)["KeyId"] == kid
    new = kms.encrypt(KeyId=kid, Plaintext=b"new secret", EncryptionContext=context)["CiphertextBlob"]
    assert blob_version(new) == blob_version(old) + 1
    kms.rotate_key_on_demand(KeyId=kid)
    assert kms.decrypt(CiphertextBlob=old, EncryptionContext=context)["Plaintext"] == b"old secret"
    assert kms.decrypt(CiphertextBlob=new, EncryptionContext=context)["Plaintext"] == b"new secret"
    assert refused(kms.decrypt, CiphertextBlob=old)[0] == "InvalidCiphertextException"
    kms.disable_key_rotation(KeyId=kid)
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False
    assert kms.decrypt(CiphertextBlob=old, EncryptionContext=context)["Plaintext"] == b"old secret"


# ---------------------------------------------------------------------------------------------
# Data keys, random bytes, re-encryption


def test_generate_data_key_plaintext_is_what_its_blob_decrypts_to(kms):
    key = new_key(kms)
    context = {"bucket": "photos"}
    for kwargs, length in (({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16), ({"NumberOfBytes": 64}, 64)):
        out = kms.generate_data_key(KeyId=key["KeyId"], EncryptionContext=context, **kwargs)
        assert len(out["Plaintext"]) == length and out["KeyId"] == key["Arn"]
        opened = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=context)
        assert opened["Plaintext"] == out["Plaintext"]
        assert refused(kms.decrypt, CiphertextBlob=out["CiphertextBlob"])[0] == "InvalidCiphertextException"
    first = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    assert first != kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]


def test_generate_data_key_without_plaintext(kms):
    key = new_key(kms)
    out = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"a": "b"})
    assert "Plaintext" not in out and out["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"a": "b"})["Plaintext"]) == 32


def test_data_key_members_are_validated(kms, loose):
    key = new_key(kms)["KeyId"]
    for kwargs in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}, {"NumberOfBytes": 0},
                   {"NumberOfBytes": 1025}, {"KeySpec": "AES_512"}):
        assert refused(loose.generate_data_key, KeyId=key, **kwargs) == ("ValidationException", 400), kwargs


def test_generate_random_lengths(kms, loose):
    for n in (1, 16, 32, 1024):
        assert len(kms.generate_random(NumberOfBytes=n)["Plaintext"]) == n
    assert kms.generate_random(NumberOfBytes=32)["Plaintext"] != kms.generate_random(NumberOfBytes=32)["Plaintext"]
    for n in (0, 1025, -1):
        assert refused(loose.generate_random, NumberOfBytes=n) == ("ValidationException", 400), n
    assert refused(loose.generate_random) == ("ValidationException", 400)


def test_re_encrypt_between_two_keys(kms):
    a, b = new_key(kms), new_key(kms)
    blob = kms.encrypt(KeyId=a["KeyId"], Plaintext=b"moving", EncryptionContext={"from": "a"})["CiphertextBlob"]
    out = kms.re_encrypt(
        CiphertextBlob=blob, SourceEncryptionContext={"from": "a"},
        DestinationKeyId=b["KeyId"], DestinationEncryptionContext={"to": "b"},
    )
    assert (out["SourceKeyId"], out["KeyId"]) == (a["Arn"], b["Arn"])
    opened = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"to": "b"})
    assert (opened["Plaintext"], opened["KeyId"]) == (b"moving", b["Arn"])
    assert refused(kms.decrypt, CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"from": "a"})[0] == "InvalidCiphertextException"
    # The wrong source context, or a SourceKeyId that is not the blob's key, are refused.
    assert refused(kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=b["KeyId"])[0] == "InvalidCiphertextException"
    assert refused(kms.re_encrypt, CiphertextBlob=blob, SourceEncryptionContext={"from": "a"},
                   SourceKeyId=b["KeyId"], DestinationKeyId=b["KeyId"])[0] == "IncorrectKeyException"


# ---------------------------------------------------------------------------------------------
# Deletion


def test_scheduled_deletion_refuses_use_and_cancel_leaves_the_key_disabled(kms, loose):
    key = new_key(kms)
    kid = key["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"doomed")["CiphertextBlob"]
    for days in (6, 31):
        assert refused(loose.schedule_key_deletion, KeyId=kid, PendingWindowInDays=days)[0] == "ValidationException"
    out = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert (out["KeyId"], out["KeyState"], out["PendingWindowInDays"]) == (key["Arn"], "PendingDeletion", 7)
    meta = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["Enabled"] is False and "DeletionDate" in meta
    days = (meta["DeletionDate"] - meta["CreationDate"]).total_seconds() / 86400
    assert 6.9 < days < 7.1
    for call, kwargs in ((kms.encrypt, {"KeyId": kid, "Plaintext": b"x"}), (kms.decrypt, {"CiphertextBlob": blob}),
                         (kms.generate_data_key, {"KeyId": kid, "KeySpec": "AES_256"}), (kms.enable_key, {"KeyId": kid}),
                         (kms.schedule_key_deletion, {"KeyId": kid})):
        assert refused(call, **kwargs) == ("KMSInvalidStateException", 400), call
    kms.cancel_key_deletion(KeyId=kid)
    meta = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta
    assert refused(kms.encrypt, KeyId=kid, Plaintext=b"x")[0] == "DisabledException"
    assert refused(kms.cancel_key_deletion, KeyId=kid)[0] == "KMSInvalidStateException"
    kms.enable_key(KeyId=kid)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"doomed"


# ---------------------------------------------------------------------------------------------
# Key policies and IAM


def test_get_and_put_key_policy(kms, account):
    key = new_key(kms)
    got = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    assert got["PolicyName"] == "default"
    default = json.loads(got["Policy"])
    statement = default["Statement"][0]
    assert statement["Principal"]["AWS"] == f"arn:aws:iam::{account}:root" and statement["Action"] == "kms:*"
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == got["Policy"]
    policy = doc(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "No re-encryption", "Effect": "Deny", "Principal": "*", "Action": "kms:ReEncrypt*", "Resource": "*"},
    )
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy)
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"])["Policy"]) == json.loads(policy)
    assert refused(kms.get_key_policy, KeyId=key["KeyId"], PolicyName="other")[0] == "NotFoundException"
    assert refused(kms.put_key_policy, KeyId=key["KeyId"], Policy="{not json")[0] == "MalformedPolicyDocumentException"
    # The new Deny applies to the administrator too.
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert refused(kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=key["KeyId"])[0] == "AccessDeniedException"


def test_identity_policy_on_one_key_arn(kms, users):
    mine, other = new_key(kms), new_key(kms)
    alias = f"alias/{unique('mine')}"
    kms.create_alias(AliasName=alias, TargetKeyId=mine["KeyId"])
    caller = users.make(doc({"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": mine["Arn"]}))
    c = users.client(caller)
    blob = c.encrypt(KeyId=mine["KeyId"], Plaintext=b"allowed", EncryptionContext={"a": "1"})["CiphertextBlob"]
    assert c.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "1"})["Plaintext"] == b"allowed"
    # By alias it is the same key, and the same grant.
    c.encrypt(KeyId=alias, Plaintext=b"allowed")
    theirs = kms.encrypt(KeyId=other["KeyId"], Plaintext=b"not yours")["CiphertextBlob"]
    for call, kwargs in ((c.encrypt, {"KeyId": other["KeyId"], "Plaintext": b"x"}),
                         (c.encrypt, {"KeyId": other["Arn"], "Plaintext": b"x"}),
                         (c.decrypt, {"CiphertextBlob": theirs}),
                         # Naming the allowed key does not open another key's blob.
                         (c.decrypt, {"CiphertextBlob": theirs, "KeyId": mine["KeyId"]}),
                         (c.generate_data_key, {"KeyId": mine["KeyId"], "KeySpec": "AES_256"}),
                         (c.describe_key, {"KeyId": mine["KeyId"]})):
        assert refused(call, **kwargs)[0] == DENIED, (call, kwargs)


def test_key_policy_that_does_not_delegate_to_iam_blocks_the_administrator(kms, users, account):
    only = users.make()
    policy = doc({"Sid": "OnlyOne", "Effect": "Allow", "Principal": {"AWS": only.arn}, "Action": "kms:*", "Resource": "*"})
    # The administrator cannot create a key it could not administer, unless it says so.
    assert refused(kms.create_key, Policy=policy)[0] == "MalformedPolicyDocumentException"
    key = kms.create_key(Policy=policy, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    for call, kwargs in ((kms.encrypt, {"KeyId": key["KeyId"], "Plaintext": b"x"}),
                         (kms.describe_key, {"KeyId": key["KeyId"]}),
                         (kms.get_key_policy, {"KeyId": key["KeyId"]}),
                         (kms.put_key_policy, {"KeyId": key["KeyId"], "Policy": doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"})}),
                         (kms.disable_key, {"KeyId": key["KeyId"]}),
                         (kms.schedule_key_deletion, {"KeyId": key["KeyId"], "PendingWindowInDays": 7})):
        assert refused(call, **kwargs)[0] == DENIED, call
    # The principal the key policy names needs no IAM policy of its own.
    c = users.client(only)
    blob = c.encrypt(KeyId=key["KeyId"], Plaintext=b"only me")["CiphertextBlob"]
    assert c.decrypt(CiphertextBlob=blob)["Plaintext"] == b"only me"
    assert refused(kms.decrypt, CiphertextBlob=blob)[0] == DENIED
    # ... and can hand the key back to the account.
    c.put_key_policy(KeyId=key["KeyId"], Policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}))
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"only me"


def test_key_policy_explicit_deny_blocks_the_principal(kms, users, account):
    admin_like = users.make(managed=["arn:aws:iam::aws:policy/AdministratorAccess"])
    peer = users.make(managed=["arn:aws:iam::aws:policy/AdministratorAccess"])
    key = new_key(kms)
    kms.put_key_policy(KeyId=key["KeyId"], Policy=doc(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Not this one", "Effect": "Deny", "Principal": {"AWS": admin_like.arn},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
    ))
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"guarded")["CiphertextBlob"]
    denied = users.client(admin_like)
    assert refused(denied.encrypt, KeyId=key["KeyId"], Plaintext=b"x")[0] == DENIED
    assert refused(denied.decrypt, CiphertextBlob=blob)[0] == DENIED
    # Only what the Deny names: the same principal may still describe the key.
    assert denied.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]
    assert users.client(peer).decrypt(CiphertextBlob=blob)["Plaintext"] == b"guarded"


# ---------------------------------------------------------------------------------------------
# Malformed input: AWS's 4xx errors, never a 5xx


def test_malformed_ciphertexts_are_invalid_ciphertext(kms, loose):
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"integrity", EncryptionContext={"c": "1"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"c": "1"})["Plaintext"] == b"integrity"
    garbage = [b"garbage", b"\x00" * 64, os.urandom(200), b"\x01", b"\x01\x24" + b"a" * 36, b"\x02" + blob[1:]]
    truncated = [blob[:n] for n in (1, 2, 10, 37, 38, 42, 54, len(blob) - 16, len(blob) - 1)]
    flipped = []
    for i in range(len(blob)):
        b = bytearray(blob)
        b[i] ^= 0x01
        flipped.append(bytes(b))
    for bad in garbage + truncated + flipped + [blob + b"\x00"]:
        with pytest.raises(ClientError) as e:
            loose.decrypt(CiphertextBlob=bad, EncryptionContext={"c": "1"})
        assert (code_of(e), status_of(e)) == ("InvalidCiphertextException", 400), bad
    for bad in (b"", b"\x01" * 6145):
        assert refused(loose.decrypt, CiphertextBlob=bad) == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        loose.re_encrypt(CiphertextBlob=blob[:-3], DestinationKeyId=key["KeyId"])
    assert (code_of(e), status_of(e)) == ("InvalidCiphertextException", 400)


def test_oversize_and_empty_plaintext_and_bad_members(kms, loose):
    key = new_key(kms)["KeyId"]
    kms.encrypt(KeyId=key, Plaintext=b"x" * 4096)
    for plaintext in (b"x" * 4097, b"x" * 70000, b""):
        assert refused(loose.encrypt, KeyId=key, Plaintext=plaintext) == ("ValidationException", 400), len(plaintext)
    assert refused(loose.encrypt, KeyId="", Plaintext=b"x") == ("ValidationException", 400)
    assert refused(loose.encrypt, KeyId="not a key!", Plaintext=b"x") == ("NotFoundException", 400)
    assert refused(loose.encrypt, KeyId=key, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_1")[0] == "InvalidKeyUsageException"
    assert refused(loose.encrypt, KeyId=key, Plaintext=b"x", EncryptionAlgorithm="ROT13")[0] == "ValidationException"
    assert refused(loose.schedule_key_deletion, KeyId=key, PendingWindowInDays=400)[0] == "ValidationException"
    assert refused(loose.list_keys, Limit=0)[0] == "ValidationException"
    assert refused(loose.list_keys, Marker="not/a/marker")[0] == "InvalidMarkerException"


@pytest.mark.parametrize("body", [
    b'{"CiphertextBlob": "!!! not base64 !!!"}',
    b'{"CiphertextBlob": 42}',
    b'{"CiphertextBlob": "AQ=="',
    b'{"CiphertextBlob": "AQ==", "EncryptionContext": {"a": 1}}',
    b'["CiphertextBlob"]',
    b"\xff\xfe",
], ids=["bad-base64", "number", "unterminated", "context-not-strings", "array", "not-utf8"])
def test_malformed_json_bodies_are_4xx(server, body):
    admin = Caller("admin", "", server.access_key_id, server.secret_access_key)
    r = send_json(server, admin, "Decrypt", body)
    assert 400 <= r.status < 500 and r.code in ("SerializationException", "ValidationException", "InvalidCiphertextException"), r


# ---------------------------------------------------------------------------------------------
# Nothing sensitive at rest


def _hits(server, needles):
    """(file, needle) for every needle found in the server's data files (SQLite and its WAL)
    or its logs."""
    files = [p for p in server.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files), [p.name for p in files]
    found = []
    for path in files + [server.stdout_path, server.stderr_path]:
        data = path.read_bytes()
        found += [(path.name, n) for n in needles if n in data]
    return found


def test_plaintexts_and_data_keys_never_reach_the_store(server, kms):
    key = new_key(kms)
    secret = f"rampart-at-rest-{uuid.uuid4().hex}".encode()
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=secret, EncryptionContext={"scan": "1"})["CiphertextBlob"]
    data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    random = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    # Decrypting answers the plaintexts again; that must not leave them anywhere either.
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"scan": "1"})["Plaintext"] == secret
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"scan": "1"}, DestinationKeyId=key["KeyId"])
    needles = []
    for raw in (secret, data_key["Plaintext"], random):
        needles += [raw, base64.b64encode(raw), base64.b64encode(raw).rstrip(b"="), raw.hex().encode()]
    # Control: the blob itself is stored nowhere either, but the key id is (its record).
    assert _hits(server, [key["KeyId"].encode()]), "the scan does not see the store"
    assert _hits(server, needles) == []
