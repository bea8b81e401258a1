"""Secrets Manager and KMS on PostgreSQL with two `rampart serve` nodes sharing one store.
GetSecretValue reads the secret, its sealed value and its KMS key from memory
(secrets/src/cache.rs, kms/src/cache.rs): a change made through one node shows on that node at
once, and on the other within the caches' 5 s — never later, and never undone."""

import time

from botocore.exceptions import ClientError

from secrets_support import refused, unique

TTL = 5


def shows_within_ttl(read, expected, what):
    """Polls `read` until it answers `expected` (a value, or an error code); answers how long
    that took, which must be within the caches' TTL (plus a little for the poll)."""
    started = time.time()
    while True:
        try:
            got = read()
        except ClientError as e:
            got = e.response["Error"]["Code"]
        if got == expected:
            return time.time() - started
        assert time.time() - started < TTL + 3, f"node b kept answering {got!r} for {what}"
        time.sleep(0.25)


def value(sm, secret_id):
    return sm.get_secret_value(SecretId=secret_id)["SecretString"]


def test_a_new_value_and_a_deletion_show_on_the_other_node_within_the_ttl(fresh_server, pg_store_url):
    a = fresh_server(["--store", pg_store_url])
    # Same data dir: the second node uses the first's root key and admin profile.
    b = fresh_server(["--store", pg_store_url], data_dir=a.data_dir)
    sm_a, sm_b = a.client("secretsmanager"), b.client("secretsmanager")

    name = unique("shared")
    sm_a.create_secret(Name=name, SecretString="v1")
    assert value(sm_b, name) == "v1"  # cached on node b now

    sm_a.put_secret_value(SecretId=name, SecretString="v2")
    assert value(sm_a, name) == "v2", "the writing node reads its write at once"
    shows_within_ttl(lambda: value(sm_b, name), "v2", "a replaced value")

    sm_a.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert refused(sm_a.get_secret_value, SecretId=name) == "InvalidRequestException"
    shows_within_ttl(lambda: value(sm_b, name), "InvalidRequestException", "a deleted secret")

    sm_a.restore_secret(SecretId=name)
    shows_within_ttl(lambda: value(sm_b, name), "v2", "a restored secret")

    sm_a.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert refused(sm_a.get_secret_value, SecretId=name) == "ResourceNotFoundException"
    shows_within_ttl(lambda: value(sm_b, name), "ResourceNotFoundException", "a purged secret")
    # Once gone, it stays gone: nothing cached brings it back.
    for _ in range(3):
        assert refused(sm_b.get_secret_value, SecretId=name) == "ResourceNotFoundException"


def test_a_disabled_key_refuses_on_the_other_node_within_the_ttl(fresh_server, pg_store_url):
    a = fresh_server(["--store", pg_store_url])
    b = fresh_server(["--store", pg_store_url], data_dir=a.data_dir)
    kms_a = a.client("kms")
    sm_a, sm_b = a.client("secretsmanager"), b.client("secretsmanager")
    kms_b = b.client("kms")

    key = kms_a.create_key()["KeyMetadata"]["KeyId"]
    name = unique("cmk")
    sm_a.create_secret(Name=name, SecretString="under-a-cmk", KmsKeyId=key)
    blob = kms_a.encrypt(KeyId=key, Plaintext=b"direct")["CiphertextBlob"]
    assert value(sm_b, name) == "under-a-cmk"  # secret, value and key cached on node b
    assert kms_b.decrypt(CiphertextBlob=blob)["Plaintext"] == b"direct"

    kms_a.disable_key(KeyId=key)
    assert refused(sm_a.get_secret_value, SecretId=name) == "DecryptionFailure"
    assert refused(kms_a.decrypt, CiphertextBlob=blob) == "DisabledException"
    shows_within_ttl(lambda: value(sm_b, name), "DecryptionFailure", "a disabled key")
    shows_within_ttl(lambda: kms_b.decrypt(CiphertextBlob=blob)["Plaintext"], "DisabledException", "a disabled key")

    kms_a.enable_key(KeyId=key)
    assert value(sm_a, name) == "under-a-cmk"
    shows_within_ttl(lambda: value(sm_b, name), "under-a-cmk", "a re-enabled key")

    # An alias moved on node a: node b encrypts under the new target within the TTL.
    other = kms_a.create_key()["KeyMetadata"]["KeyId"]
    alias = "alias/" + unique("moving")
    kms_a.create_alias(AliasName=alias, TargetKeyId=key)
    assert kms_b.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"].endswith(key)
    kms_a.update_alias(AliasName=alias, TargetKeyId=other)
    assert kms_a.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"].endswith(other)
    shows_within_ttl(
        lambda: kms_b.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"].rsplit("/", 1)[1], other, "a moved alias"
    )
