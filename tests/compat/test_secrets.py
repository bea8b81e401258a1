"""Secrets Manager driven by boto3: the secret lifecycle (create, read by stage and by version,
new versions moving AWSCURRENT/AWSPREVIOUS, describe, list with filters and paging, deletion
with a recovery window, restore, forced deletion), lookups by name, full and partial ARN,
IAM in action (a policy on one secret ARN; a customer key's policy that must allow
kms:Decrypt as well), and values that never reach the store in plaintext (the SQLite files,
and a `pg_dump` of the PostgreSQL schema)."""

import base64
import os
import shutil
import subprocess
import uuid
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
from botocore.exceptions import ClientError
from secrets_support import DENIED, NO_VALIDATION, Users, doc, refused, unique



@pytest.fixture(scope="module")
def sm(server):
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def account(server):
    return server.client("sts").get_caller_identity()["Account"]


@pytest.fixture(scope="module")
def users(server):
    u = Users(server)
    yield u
    u.cleanup()


# ---------------------------------------------------------------------------------------------
# Lifecycle


def test_full_lifecycle(sm, server, account):
    name = unique("app/db")
    created = sm.create_secret(Name=name, SecretString="v1-secret", Description="the database",
                               Tags=[{"Key": "team", "Value": "core"}])
    arn, v1 = created["ARN"], created["VersionId"]
    prefix = f"arn:aws:secretsmanager:{server.region}:{account}:secret:{name}-"
    assert arn.startswith(prefix) and len(arn) == len(prefix) + 6 and arn[-6:].isalnum()
    assert created["Name"] == name

    got = sm.get_secret_value(SecretId=name)
    assert (got["SecretString"], got["VersionId"], got["VersionStages"]) == ("v1-secret", v1, ["AWSCURRENT"])
    assert got["ARN"] == arn and "CreatedDate" in got

    # A new version becomes current; the old one moves to AWSPREVIOUS.
    put = sm.put_secret_value(SecretId=arn, SecretString="v2-secret")
    v2 = put["VersionId"]
    assert put["VersionStages"] == ["AWSCURRENT"] and v2 != v1
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2-secret"
    prev = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert (prev["SecretString"], prev["VersionId"]) == ("v1-secret", v1)
    assert sm.get_secret_value(SecretId=name, VersionId=v2)["SecretString"] == "v2-secret"
    assert sm.get_secret_value(SecretId=name, VersionId=v1)["VersionStages"] == ["AWSPREVIOUS"]

    # A third version pushes v1 out of every stage.
    token = uuid.uuid4().hex
    v3 = sm.put_secret_value(SecretId=name, SecretBinary=b"\x00\x01v3", ClientRequestToken=token)["VersionId"]
    assert v3 == token
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == b"\x00\x01v3" and "SecretString" not in got
    # Retrying with the same token and value is accepted; another value is refused.
    assert sm.put_secret_value(SecretId=name, SecretBinary=b"\x00\x01v3", ClientRequestToken=token)["VersionId"] == v3
    assert refused(sm.put_secret_value, SecretId=name, SecretString="other", ClientRequestToken=token) == "ResourceExistsException"

    described = sm.describe_secret(SecretId=name)
    assert described["ARN"] == arn and described["Description"] == "the database"
    assert described["VersionIdsToStages"] == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert described["Tags"] == [{"Key": "team", "Value": "core"}]
    assert "KmsKeyId" not in described and "DeletedDate" not in described
    assert described["LastChangedDate"] >= described["CreatedDate"]

    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert {v["VersionId"] for v in versions} == {v2, v3}
    every = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in every} == {v1, v2, v3}

    # UpdateSecret changes the description and can add a value.
    updated = sm.update_secret(SecretId=name, Description="renamed", SecretString="v4-secret")
    assert sm.get_secret_value(SecretId=name)["VersionId"] == updated["VersionId"]
    assert sm.describe_secret(SecretId=name)["Description"] == "renamed"

    # Deletion with a recovery window: reads refuse, describe shows the date.
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert deleted["ARN"] == arn and "DeletionDate" in deleted
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "marked for deletion" in e.value.response["Error"]["Message"]
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    assert refused(sm.put_secret_value, SecretId=name, SecretString="x") == "InvalidRequestException"
    assert refused(sm.create_secret, Name=name, SecretString="x") == "InvalidRequestException"
    assert name not in [s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]]
    planned = sm.list_secrets(IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert [s["Name"] for s in planned] == [name]

    # Restore: reads work again.
    restored = sm.restore_secret(SecretId=arn)
    assert (restored["ARN"], restored["Name"]) == (arn, name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v4-secret"

    # Forced deletion: gone at once, and the name is free again under a new ARN.
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    for ref in (name, arn):
        assert refused(sm.get_secret_value, SecretId=ref) == "ResourceNotFoundException"
        assert refused(sm.describe_secret, SecretId=ref) == "ResourceNotFoundException"
    again = sm.create_secret(Name=name, SecretString="reborn")
    assert again["ARN"] != arn
    assert refused(sm.get_secret_value, SecretId=arn) == "ResourceNotFoundException"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_lookup_by_name_full_and_partial_arn(sm, server, account):
    name = unique("lookup/x")
    arn = sm.create_secret(Name=name, SecretString="found")["ARN"]
    partial = f"arn:aws:secretsmanager:{server.region}:{account}:secret:{name}"
    for ref in (name, arn, partial):
        assert sm.get_secret_value(SecretId=ref)["SecretString"] == "found", ref
        assert sm.describe_secret(SecretId=ref)["ARN"] == arn
    wrong_suffix = partial + "-zzzzzz" if not arn.endswith("zzzzzz") else partial + "-yyyyyy"
    other_region = arn.replace(f":{server.region}:", ":ap-south-2:")
    for ref in (wrong_suffix, other_region, name + "-nope"):
        assert refused(sm.get_secret_value, SecretId=ref) == "ResourceNotFoundException", ref
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_create_idempotency_and_conflicts(sm):
    name = unique("idem")
    token = str(uuid.uuid4())
    first = sm.create_secret(Name=name, SecretString="same", ClientRequestToken=token)
    again = sm.create_secret(Name=name, SecretString="same", ClientRequestToken=token)
    assert (again["ARN"], again["VersionId"]) == (first["ARN"], token)
    assert refused(sm.create_secret, Name=name, SecretString="different", ClientRequestToken=token) == "ResourceExistsException"
    assert refused(sm.create_secret, Name=name, SecretString="same") == "ResourceExistsException"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_list_filters_and_paging(sm):
    tag = uuid.uuid4().hex[:8]
    names = [unique(f"list-{tag}") for _ in range(3)]
    for i, n in enumerate(names):
        sm.create_secret(Name=n, SecretString="x", Description=f"Payments service {i}",
                         Tags=[{"Key": f"owner-{tag}", "Value": f"team{i}-{tag}"}])

    def listed(**kwargs):
        return sorted(s["Name"] for s in sm.list_secrets(**kwargs)["SecretList"])

    assert listed(Filters=[{"Key": "name", "Values": [f"list-{tag}"]}]) == sorted(names)
    assert listed(Filters=[{"Key": "tag-key", "Values": [f"owner-{tag}"]}]) == sorted(names)
    assert listed(Filters=[{"Key": "tag-value", "Values": [f"team1-{tag}"]}]) == [names[1]]
    assert listed(Filters=[{"Key": "name", "Values": [f"list-{tag}"]},
                           {"Key": "description", "Values": ["payments service 2"]}]) == [names[2]]
    assert listed(Filters=[{"Key": "name", "Values": [f"list-{tag}"]},
                           {"Key": "tag-value", "Values": [f"!team0-{tag}"]}]) == sorted(names[1:])
    entry = sm.list_secrets(Filters=[{"Key": "tag-value", "Values": [f"team1-{tag}"]}])["SecretList"][0]
    assert entry["Description"] == "Payments service 1" and list(entry["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]

    # Paging, by hand and through boto3's paginator.
    seen, token = [], None
    while True:
        kwargs = {"MaxResults": 1, "Filters": [{"Key": "name", "Values": [f"list-{tag}"]}]}
        if token:
            kwargs["NextToken"] = token
        page = sm.list_secrets(**kwargs)
        assert len(page["SecretList"]) <= 1
        seen += [s["Name"] for s in page["SecretList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(names)
    pages = sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [f"list-{tag}"]}], PaginationConfig={"PageSize": 2})
    assert sorted(s["Name"] for p in pages for s in p["SecretList"]) == sorted(names)
    for n in names:
        sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)


def test_tags_and_untag(sm):
    name = unique("tags")
    sm.create_secret(Name=name, SecretString="x")
    sm.tag_resource(SecretId=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    sm.untag_resource(SecretId=name, TagKeys=["a"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "b", "Value": "2"}]
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_validation_errors(sm, server):
    loose = server.client("secretsmanager", config=NO_VALIDATION)
    name = unique("big")
    assert refused(loose.create_secret, Name=name, SecretString="x" * 65537) == "ValidationException"
    assert refused(loose.create_secret, Name=name, SecretBinary=b"x" * 65537) == "ValidationException"
    assert sm.create_secret(Name=name, SecretString="y" * 65536)["Name"] == name
    assert len(sm.get_secret_value(SecretId=name)["SecretString"]) == 65536
    assert refused(loose.delete_secret, SecretId=name, RecoveryWindowInDays=3) == "InvalidParameterException"
    assert refused(loose.delete_secret, SecretId=name, RecoveryWindowInDays=7,
                   ForceDeleteWithoutRecovery=True) == "InvalidParameterException"
    assert refused(sm.get_secret_value, SecretId=name, VersionStage="AWSPENDING") == "ResourceNotFoundException"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_get_random_password(sm):
    pw = sm.get_random_password(PasswordLength=24, ExcludePunctuation=True)["RandomPassword"]
    assert len(pw) == 24 and pw.isalnum()
    assert len(sm.get_random_password()["RandomPassword"]) == 32


# ---------------------------------------------------------------------------------------------
# IAM in action


def test_policy_on_exactly_one_secret_arn(sm, users):
    mine = sm.create_secret(Name=unique("iam-mine"), SecretString="readable")["ARN"]
    other = sm.create_secret(Name=unique("iam-other"), SecretString="hidden")["ARN"]
    _, client = users.make(doc({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": mine}))
    assert client.get_secret_value(SecretId=mine)["SecretString"] == "readable"
    assert refused(client.get_secret_value, SecretId=other) == DENIED
    assert refused(client.describe_secret, SecretId=mine) == DENIED
    assert refused(client.put_secret_value, SecretId=mine, SecretString="nope") == DENIED
    for arn in (mine, other):
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_customer_key_policy_must_allow_decrypt(sm, kms, users, account):
    me = users.server.client("sts").get_caller_identity()["Arn"]
    _, client = users.make(doc(
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"], "Resource": "*"}))
    # A key whose policy names only the administrator: IAM cannot grant the user its use.
    only_admin = kms.create_key(Policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": me}, "Action": "kms:*", "Resource": "*"}),
        BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    locked = sm.create_secret(Name=unique("cmk-locked"), SecretString="behind the key policy",
                              KmsKeyId=only_admin["Arn"])["ARN"]
    assert sm.describe_secret(SecretId=locked)["KmsKeyId"] == only_admin["Arn"]
    assert sm.get_secret_value(SecretId=locked)["SecretString"] == "behind the key policy"
    assert refused(client.get_secret_value, SecretId=locked) == DENIED
    # A key whose policy delegates to IAM: the user's kms:Decrypt is enough.
    delegating = kms.create_key()["KeyMetadata"]
    open_ = sm.create_secret(Name=unique("cmk-open"), SecretString="delegated",
                             KmsKeyId=delegating["KeyId"])["ARN"]
    assert client.get_secret_value(SecretId=open_)["SecretString"] == "delegated"
    # Without kms:Decrypt in IAM, the delegating key refuses too.
    _, no_kms = users.make(doc({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    assert refused(no_kms.get_secret_value, SecretId=open_) == DENIED
    # ... but a secret under the AWS-managed key needs no kms permission at all.
    managed = sm.create_secret(Name=unique("managed"), SecretString="via service")["ARN"]
    assert no_kms.get_secret_value(SecretId=managed)["SecretString"] == "via service"
    assert kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyManager"] == "AWS"
    # A disabled customer key refuses to open the value.
    kms.disable_key(KeyId=delegating["KeyId"])
    assert refused(sm.get_secret_value, SecretId=open_) == "DecryptionFailure"
    kms.enable_key(KeyId=delegating["KeyId"])
    for arn in (locked, open_, managed):
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def denial(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert e.value.response["Error"]["Code"] == DENIED
    return e.value.response["Error"]["Message"]


def test_denials_do_not_tell_whether_a_secret_exists(sm, users):
    existing = unique("exists")
    arn = sm.create_secret(Name=existing, SecretString="there")["ARN"]
    suffix = arn.rsplit("-", 1)[1]
    missing = unique("absent")
    _, client = users.make(doc({"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}))
    for call in (client.get_secret_value, client.describe_secret, client.put_secret_value,
                 client.update_secret, client.delete_secret):
        extra = {"SecretString": "x"} if call in (client.put_secret_value, client.update_secret) else {}
        there = denial(call, SecretId=existing, **extra)
        absent = denial(call, SecretId=missing, **extra)
        # Named as sent, never by the stored ARN: the same sentence either way.
        assert f"on resource: {existing} " in there and arn not in there and suffix not in there
        assert f"on resource: {missing} " in absent
        assert there.replace(existing, "NAME") == absent.replace(missing, "NAME")
    # CreateSecret names the requested name, not the stored ARN nor a fresh suffix.
    there = denial(client.create_secret, Name=existing, SecretString="x")
    absent = denial(client.create_secret, Name=missing, SecretString="x")
    assert f"on resource: {existing} " in there and suffix not in there
    assert absent == denial(client.create_secret, Name=missing, SecretString="x")
    assert there.replace(existing, "NAME") == absent.replace(missing, "NAME")
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_update_secret_moves_labeled_versions_to_the_new_key(sm, kms, users):
    key_a = kms.create_key()["KeyMetadata"]
    key_b = kms.create_key()["KeyMetadata"]
    name = unique("rekey")
    created = sm.create_secret(Name=name, SecretString="v1", KmsKeyId=key_a["Arn"])
    arn, v1 = created["ARN"], created["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    v3 = sm.put_secret_value(SecretId=name, SecretString="v3")["VersionId"]

    # UpdateSecret alone does not let a caller seal under key B ...
    _, no_b = users.make(doc(
        {"Effect": "Allow", "Action": ["secretsmanager:UpdateSecret", "kms:Decrypt"], "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key_a["Arn"]}))
    message = denial(no_b.update_secret, SecretId=name, KmsKeyId=key_b["Arn"])
    assert "kms:GenerateDataKey" in message and key_b["Arn"] in message
    # ... nor open what key A sealed.
    _, no_a = users.make(doc(
        {"Effect": "Allow", "Action": ["secretsmanager:UpdateSecret", "kms:GenerateDataKey"], "Resource": "*"}))
    message = denial(no_a.update_secret, SecretId=name, KmsKeyId=key_b["Arn"])
    assert "kms:Decrypt" in message and key_a["Arn"] in message
    described = sm.describe_secret(SecretId=name)
    assert described["KmsKeyId"] == key_a["Arn"]
    assert described["VersionIdsToStages"] == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    every = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"]: v["KmsKeyIds"] for v in every} == {
        v1: [key_a["Arn"]], v2: [key_a["Arn"]], v3: [key_a["Arn"]]}

    # The administrator can: the labeled versions are re-sealed under B in the same commit.
    sm.update_secret(SecretId=name, KmsKeyId=key_b["Arn"])
    described = sm.describe_secret(SecretId=name)
    assert described["KmsKeyId"] == key_b["Arn"]
    assert described["VersionIdsToStages"] == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    every = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"]: v["KmsKeyIds"] for v in every} == {
        v1: [key_a["Arn"]], v2: [key_b["Arn"]], v3: [key_b["Arn"]]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v3"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v2"
    # The unlabeled version stays under A, and still opens with it.
    assert sm.get_secret_value(SecretId=name, VersionId=v1)["SecretString"] == "v1"
    # With A disabled, the labeled versions still open: they no longer need it.
    kms.disable_key(KeyId=key_a["KeyId"])
    try:
        assert sm.get_secret_value(SecretId=name)["SecretString"] == "v3"
        assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v2"
        assert refused(sm.get_secret_value, SecretId=name, VersionId=v1) == "DecryptionFailure"
    finally:
        kms.enable_key(KeyId=key_a["KeyId"])
    # Moving back to the AWS-managed key re-seals them again.
    sm.update_secret(SecretId=name, KmsKeyId="")
    assert "KmsKeyId" not in sm.describe_secret(SecretId=name)
    kms.disable_key(KeyId=key_b["KeyId"])
    try:
        assert sm.get_secret_value(SecretId=name)["SecretString"] == "v3"
        assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v2"
    finally:
        kms.enable_key(KeyId=key_b["KeyId"])
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


# ---------------------------------------------------------------------------------------------
# Nothing in plaintext at rest


def test_values_never_reach_the_store_in_plaintext(server, sm, kms):
    marker = uuid.uuid4().hex
    text = f"rampart-secret-at-rest-{marker}"
    binary = f"rampart-binary-at-rest-{marker}".encode()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    a = sm.create_secret(Name=unique("rest-a"), SecretString=text)["ARN"]
    b = sm.create_secret(Name=unique("rest-b"), SecretBinary=binary, KmsKeyId=key)["ARN"]
    sm.put_secret_value(SecretId=a, SecretString=text + "-v2")
    assert sm.get_secret_value(SecretId=a)["SecretString"] == text + "-v2"
    assert sm.get_secret_value(SecretId=b)["SecretBinary"] == binary
    files = [p for p in server.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files), [p.name for p in files]
    needles = [text.encode(), binary, marker.encode()]
    hits = [(p.name, n) for p in files + [server.stdout_path, server.stderr_path]
            for n in needles if n in p.read_bytes()]
    assert hits == []


def _pg_schema_bytes(store_url):
    """Every row of every table in the store URL's schema: `pg_dump --data-only` of it, or (no
    pg_dump) every text, JSON and bytea column read with psycopg, bytea as raw bytes."""
    parts = urlsplit(store_url)
    schema = parse_qs(parts.query)["schema"][0]
    url = urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))
    if shutil.which("pg_dump"):
        out = subprocess.run(["pg_dump", f"--schema={schema}", "--data-only", url],
                             capture_output=True, timeout=120, check=True)
        return schema, out.stdout
    import psycopg

    chunks = []
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s"
            " AND data_type IN ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb')",
            (schema,)).fetchall()
        for table, column in columns:
            for (value,) in conn.execute(f'SELECT "{column}" FROM "{schema}"."{table}"'):
                if value is not None:
                    chunks.append(bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode())
    return schema, b"\n".join(chunks)


def _encodings(raw: bytes):
    """`raw` as the store might hold it: itself, base64 (and base64 of its distinctive middle
    at each alignment), hex."""
    out = {"raw": raw, "base64": base64.b64encode(raw), "hex": raw.hex().encode()}
    for shift in range(3):
        middle = base64.b64encode(raw[shift: shift + 24])[:28]
        out[f"base64+{shift}"] = middle
    return out


def test_values_never_reach_postgres_in_plaintext(fresh_server, pg_store_url):
    srv = fresh_server(["--store", pg_store_url])
    sm, kms = srv.client("secretsmanager"), srv.client("kms")
    marker = uuid.uuid4().hex
    text = f"rampart-pg-at-rest-{marker}"
    binary = f"rampart-pg-binary-{marker}-".encode() + os.urandom(32)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    names = [unique("pg-rest-a"), unique("pg-rest-b"), unique("pg-rest-c")]
    a = sm.create_secret(Name=names[0], SecretString=text)["ARN"]
    sm.put_secret_value(SecretId=a, SecretString=text + "-v2")
    sm.update_secret(SecretId=a, SecretString=text + "-v3", Description="at rest")
    b = sm.create_secret(Name=names[1], SecretBinary=binary, KmsKeyId=key)["ARN"]
    # A data key kept as a secret: its plaintext is sealed again, never stored as it is.
    c = sm.create_secret(Name=names[2], SecretBinary=data_key["Plaintext"], KmsKeyId=key)["ARN"]
    assert sm.get_secret_value(SecretId=a)["SecretString"] == text + "-v3"
    assert sm.get_secret_value(SecretId=a, VersionStage="AWSPREVIOUS")["SecretString"] == text + "-v2"
    assert sm.get_secret_value(SecretId=b)["SecretBinary"] == binary
    assert sm.get_secret_value(SecretId=c)["SecretBinary"] == data_key["Plaintext"]

    schema, dump = _pg_schema_bytes(pg_store_url)
    # The dump is of the store that holds these secrets: their names are in it (as text or as
    # the hex of a bytea), so an empty or wrong schema cannot pass.
    assert len(dump) > 1000, dump[:500]
    for name in names:
        assert name.encode() in dump or name.encode().hex().encode() in dump.lower(), f"{name} not in schema {schema}"
    needles = {
        "text": text.encode(), "marker": marker.encode(), "binary": binary,
        "binary tail": binary[-32:], "data key": data_key["Plaintext"],
    }
    lowered = dump.lower()
    hits = [(what, form) for what, value in needles.items() for form, encoded in _encodings(value).items()
            if encoded in (lowered if form == "hex" else dump)]
    assert hits == [], f"secret values found in the PostgreSQL schema {schema}: {hits}"
