"""Secrets Manager's limits and malformed input: every member outside what the service model
allows is answered with AWS's error (`ValidationException` for the model's length, range, enum
and pattern constraints, which AWS's front end checks; `InvalidParameterException` and
`InvalidRequestException` for the service's own rules; `SerializationException` for a body of
the wrong shape), and a sweep of garbage bodies over every operation in the server's table never
gets a 5xx, a non-JSON answer or a dead server."""

import json
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from confusion_cases import Caller, send_json, table_operations

NO_VALIDATION = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def refused(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def sm(server):
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def loose(server):
    return server.client("secretsmanager", config=NO_VALIDATION)


@pytest.fixture(scope="module")
def admin(server):
    arn = server.client("sts").get_caller_identity()["Arn"]
    return Caller("admin", arn, server.access_key_id, server.secret_access_key)


@pytest.fixture
def secret(sm):
    name = unique("lim")
    arn = sm.create_secret(Name=name, SecretString="small")["ARN"]
    yield name
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_values_over_64_kib(sm, loose, secret):
    big, wide = "x" * 65537, "é" * 32769  # 65 538 bytes in UTF-8
    for call, extra in ((loose.create_secret, {"Name": unique("lim-big")}),
                        (loose.put_secret_value, {"SecretId": secret}),
                        (loose.update_secret, {"SecretId": secret})):
        assert refused(call, SecretString=big, **extra) == "ValidationException"
        assert refused(call, SecretString=wide, **extra) == "ValidationException"
        assert refused(call, SecretBinary=b"\x00" * 65537, **extra) == "ValidationException"
        assert refused(call, SecretString="", **extra) == "ValidationException"
        assert refused(call, SecretString="x", SecretBinary=b"x", **extra) == "InvalidParameterException"
    # Exactly 64 KiB is accepted, in bytes as well as in characters.
    sm.put_secret_value(SecretId=secret, SecretBinary=b"\xff" * 65536)
    assert len(sm.get_secret_value(SecretId=secret)["SecretBinary"]) == 65536
    sm.put_secret_value(SecretId=secret, SecretString="é" * 32768)
    assert sm.get_secret_value(SecretId=secret)["SecretString"] == "é" * 32768
    assert refused(loose.put_secret_value, SecretId=secret) == "InvalidRequestException"


def test_names_tokens_and_members(sm, loose, secret):
    for name in ("", "n" * 513):
        assert refused(loose.create_secret, Name=name, SecretString="x") == "ValidationException", name
    for name in ("has space", "semi;colon", "quote'", "tab\t", "ünïcode"):
        assert refused(loose.create_secret, Name=name, SecretString="x") == "InvalidParameterException", name
    assert sm.create_secret(Name="n" * 512, SecretString="x")["Name"] == "n" * 512
    sm.delete_secret(SecretId="n" * 512, ForceDeleteWithoutRecovery=True)

    for token in ("t" * 31, "t" * 65):
        assert refused(loose.put_secret_value, SecretId=secret, SecretString="x", ClientRequestToken=token) == \
            "ValidationException"
        assert refused(loose.create_secret, Name=unique("lim"), SecretString="x", ClientRequestToken=token) == \
            "ValidationException"
    assert sm.put_secret_value(SecretId=secret, SecretString="x", ClientRequestToken="t" * 64)["VersionId"] == "t" * 64
    for version in ("v" * 31, "v" * 65):
        assert refused(loose.get_secret_value, SecretId=secret, VersionId=version) == "ValidationException"
    for sid in ("", "s" * 2049):
        assert refused(loose.describe_secret, SecretId=sid) == "ValidationException"
    assert refused(loose.update_secret, SecretId=secret, Description="d" * 2049) == "ValidationException"
    assert refused(loose.update_secret, SecretId=secret, KmsKeyId="k" * 2049) == "ValidationException"
    assert refused(loose.put_secret_value, SecretId=secret, SecretString="x", VersionStages=[]) == \
        "ValidationException"
    assert refused(loose.put_secret_value, SecretId=secret, SecretString="x", VersionStages=["s" * 257]) == \
        "ValidationException"
    assert refused(loose.tag_resource, SecretId=secret, Tags=[{"Key": "", "Value": "v"}]) == "ValidationException"
    assert refused(loose.tag_resource, SecretId=secret, Tags=[{"Key": "k" * 129, "Value": "v"}]) == \
        "ValidationException"
    assert refused(loose.tag_resource, SecretId=secret, Tags=[{"Key": "aws:x", "Value": "v"}]) == \
        "InvalidParameterException"
    assert refused(loose.list_secrets, MaxResults=101) == "ValidationException"
    assert refused(loose.list_secrets, Filters=[{"Key": "name", "Values": ["x"]}] * 11) == "ValidationException"
    assert refused(loose.list_secrets, Filters=[{"Key": "name", "Values": ["a;b"]}]) == "ValidationException"
    assert refused(loose.list_secrets, NextToken="n" * 4097) == "ValidationException"
    assert refused(loose.list_secret_version_ids, SecretId=secret, MaxResults=0) == "ValidationException"
    assert refused(loose.get_random_password, PasswordLength=4097) == "ValidationException"
    assert refused(loose.get_random_password, ExcludeCharacters="x" * 4097) == "ValidationException"
    # Missing required members.
    assert refused(loose.get_secret_value) == "ValidationException"
    assert refused(loose.create_secret, SecretString="x") == "ValidationException"


def test_bodies_of_the_wrong_shape(server, admin, secret):
    cases = [
        ("CreateSecret", b'{"Name": "x", "SecretBinary": "not base64!"}', "SerializationException"),
        ("PutSecretValue", json.dumps({"SecretId": secret, "SecretBinary": 7}).encode(), "SerializationException"),
        ("GetSecretValue", b'{"SecretId": ["a"]}', "SerializationException"),
        ("DescribeSecret", b"{nope", "SerializationException"),
        ("DescribeSecret", b"[]", "SerializationException"),
        ("ListSecrets", b'{"MaxResults": 1e400}', "SerializationException"),
        ("ListSecrets", b'{"MaxResults": 5.5}', "SerializationException"),
        ("TagResource", json.dumps({"SecretId": secret, "Tags": {"Key": "k"}}).encode(), "SerializationException"),
        ("DeleteSecret", json.dumps({"SecretId": secret, "RecoveryWindowInDays": "7"}).encode(),
         "SerializationException"),
    ]
    for op, body, code in cases:
        r = send_json(server, admin, op, body, service="secretsmanager")
        assert (r.status, r.code) == (400, code), f"{op} {body[:60]!r}: {r}"


GARBAGE = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"{" * 5000,
    b"[" * 100000,
    b'{"SecretId": "\xff\xfe"}',
    b'{"SecretId": 5, "Name": 5, "MaxResults": -1, "Filters": 3, "SecretIdList": "x", "Tags": 7}',
    b'{"SecretId": "x", "MaxResults": 99999999999999999999999, "NextToken": 12}',
    b'{"SecretId": "x", "ResourcePolicy": {"Version": "2012-10-17"}}',
    b'{"SecretId": "x", "VersionStages": [null], "TagKeys": [1]}',
    b'{"SecretIdList": [{"a": 1}], "Filters": [{"Key": null}]}',
    b'{"Filters": [{"Key": "name", "Values": [1, 2]}]}',
    b'{"PasswordLength": 0}',
    b'{"SecretId": "' + b"a" * 3000 + b'"}',
]


def test_no_garbage_body_gets_a_server_error(server, admin):
    ops = table_operations("secretsmanager")
    assert "BatchGetSecretValue" in ops and "PutResourcePolicy" in ops
    for op in ops:
        for body in GARBAGE:
            r = send_json(server, admin, op, body, service="secretsmanager")
            assert r.status < 500, f"{op} {body[:60]!r}: {r}"
            assert isinstance(r.json(), dict), f"{op} {body[:60]!r} answered a non-JSON body: {r}"
    # And the server is still there.
    assert server.client("secretsmanager").get_random_password(PasswordLength=8)["RandomPassword"]
