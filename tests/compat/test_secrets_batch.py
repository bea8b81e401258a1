"""BatchGetSecretValue driven by boto3: a list of secrets mixing ones the caller may read, one
its identity policy does not allow, one whose customer key it may not use, a missing one and
one scheduled for deletion, answered as AWS answers them (values for the first, an `Errors`
entry for each of the others, the whole call never refused for one secret); filters with
MaxResults/NextToken paging; the request-wide checks (`secretsmanager:BatchGetSecretValue`,
`secretsmanager:ListSecrets` with filters); a secret's resource policy applying to its item;
each item's checks in the request's audit record; malformed requests."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError
from secrets_support import DENIED, NO_VALIDATION, Users, doc, refused



@pytest.fixture(scope="module")
def sm(server):
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def account(server):
    return server.client("sts").get_caller_identity()["Account"]


@pytest.fixture(scope="module")
def users(server):
    u = Users(server, prefix="smb-user")
    yield u
    u.cleanup()


class World:
    """Under one tag: `readable` (two secrets, one binary), `denied`, `cmk` (a customer key the
    user may not use), `pending` (scheduled for deletion), and the name of a `missing` one."""

    def __init__(self, server, sm):
        self.tag = uuid.uuid4().hex[:8]
        self.kms = server.client("kms")
        self.key = self.kms.create_key(Description=f"smb-{self.tag}")["KeyMetadata"]
        tags = [{"Key": "batch", "Value": self.tag}]

        def make(label, **kwargs):
            kwargs.setdefault("SecretString", f"{label}-value-{self.tag}")
            return sm.create_secret(Name=f"smb-{self.tag}-{label}", Tags=tags, **kwargs)

        binary = sm.create_secret(Name=f"smb-{self.tag}-b", SecretBinary=b"\x00bin\xff", Tags=tags)
        self.readable = [make("a"), binary]
        self.denied = make("denied")
        self.cmk = make("cmk", KmsKeyId=self.key["Arn"])
        self.pending = make("pending")
        sm.delete_secret(SecretId=self.pending["ARN"], RecoveryWindowInDays=7)
        self.missing = f"smb-{self.tag}-missing"
        self.all = [*self.readable, self.denied, self.cmk, self.pending]

    def user_policy(self, account, region):
        prefix = f"arn:aws:secretsmanager:{region}:{account}:secret:smb-{self.tag}-"
        return doc(
            {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
            {"Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"},
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": [s["ARN"] for s in (*self.readable, self.cmk, self.pending)] + [prefix + "missing*"]},
        )

    def cleanup(self, sm):
        for s in self.all:
            try:
                sm.delete_secret(SecretId=s["ARN"], ForceDeleteWithoutRecovery=True)
            except ClientError:
                pass
        self.kms.schedule_key_deletion(KeyId=self.key["KeyId"], PendingWindowInDays=7)


@pytest.fixture(scope="module")
def world(server, sm):
    w = World(server, sm)
    yield w
    w.cleanup(sm)


def by_id(answer):
    return {e["SecretId"]: e for e in answer["Errors"]}


def test_a_list_mixing_allowed_denied_missing_and_deleted(server, sm, world, users, account):
    _, client = users.make(world.user_policy(account, server.region))
    a, b = world.readable
    ids = [a["Name"], world.denied["ARN"], world.missing, world.pending["Name"], b["ARN"], world.cmk["Name"]]
    answer = client.batch_get_secret_value(SecretIdList=ids)
    values = {v["Name"]: v for v in answer["SecretValues"]}
    assert set(values) == {a["Name"], b["Name"]}
    assert values[a["Name"]]["SecretString"] == f"a-value-{world.tag}"
    assert values[a["Name"]]["ARN"] == a["ARN"] and values[a["Name"]]["VersionStages"] == ["AWSCURRENT"]
    assert values[a["Name"]]["VersionId"] == a["VersionId"] and "CreatedDate" in values[a["Name"]]
    assert values[b["Name"]]["SecretBinary"] == b"\x00bin\xff" and "SecretString" not in values[b["Name"]]
    assert "NextToken" not in answer

    errors = by_id(answer)
    assert set(errors) == {world.denied["ARN"], world.missing, world.pending["Name"], world.cmk["Name"]}
    denied = errors[world.denied["ARN"]]
    assert denied["ErrorCode"] == DENIED and "secretsmanager:GetSecretValue" in denied["Message"]
    assert errors[world.missing]["ErrorCode"] == "ResourceNotFoundException"
    assert errors[world.pending["Name"]]["ErrorCode"] == "InvalidRequestException"
    assert "marked for deletion" in errors[world.pending["Name"]]["Message"]
    cmk = errors[world.cmk["Name"]]
    assert cmk["ErrorCode"] == DENIED and "kms:Decrypt" in cmk["Message"] and world.key["Arn"] in cmk["Message"]
    # Nothing of a refused secret's value anywhere in the answer.
    text = json.dumps(answer, default=str)
    for label in ("denied", "cmk", "pending"):
        assert f"{label}-value-{world.tag}" not in text

    # The administrator reads the same list: values where it may, errors for what is not there.
    admin = sm.batch_get_secret_value(SecretIdList=ids)
    assert {v["Name"] for v in admin["SecretValues"]} == {a["Name"], b["Name"], world.denied["Name"], world.cmk["Name"]}
    assert {e["SecretId"]: e["ErrorCode"] for e in admin["Errors"]} == {
        world.missing: "ResourceNotFoundException", world.pending["Name"]: "InvalidRequestException"}


def test_a_missing_secret_the_caller_may_not_read_is_a_denial(server, world, users, account):
    _, client = users.make(doc(
        {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": world.readable[0]["ARN"]}))
    answer = client.batch_get_secret_value(SecretIdList=[world.missing, world.denied["Name"], world.readable[0]["ARN"]])
    assert [v["ARN"] for v in answer["SecretValues"]] == [world.readable[0]["ARN"]]
    errors = by_id(answer)
    # Missing or present, the same answer to a caller who may not read it.
    assert errors[world.missing]["ErrorCode"] == errors[world.denied["Name"]]["ErrorCode"] == DENIED
    assert errors[world.missing]["Message"].replace(world.missing, "X") == \
        errors[world.denied["Name"]]["Message"].replace(world.denied["Name"], "X")


def test_request_wide_checks(server, world, users, account):
    # GetSecretValue on every secret is not enough without BatchGetSecretValue.
    _, no_batch = users.make(doc({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    assert refused(no_batch.batch_get_secret_value, SecretIdList=[world.readable[0]["Name"]]) == DENIED
    # Filters need ListSecrets too.
    _, no_list = users.make(doc(
        {"Effect": "Allow", "Action": ["secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue"],
         "Resource": "*"}))
    assert refused(no_list.batch_get_secret_value, Filters=[{"Key": "tag-value", "Values": [world.tag]}]) == DENIED
    assert no_list.batch_get_secret_value(SecretIdList=[world.readable[0]["Name"]])["SecretValues"]
    # Allowed the batch but no secret: every item is a denial, the call itself succeeds.
    _, nothing = users.make(doc({"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"}))
    answer = nothing.batch_get_secret_value(SecretIdList=[s["ARN"] for s in world.readable])
    assert answer["SecretValues"] == [] and [e["ErrorCode"] for e in answer["Errors"]] == [DENIED, DENIED]


def test_filters_and_paging(server, sm, world, users, account):
    _, client = users.make(world.user_policy(account, server.region))
    filters = [{"Key": "tag-value", "Values": [world.tag]}]
    seen_values, seen_errors, token, pages = [], [], None, 0
    while True:
        kwargs = {"Filters": filters, "MaxResults": 2, **({"NextToken": token} if token else {})}
        page = client.batch_get_secret_value(**kwargs)
        pages += 1
        assert len(page["SecretValues"]) + len(page["Errors"]) <= 2
        seen_values += [v["Name"] for v in page["SecretValues"]]
        seen_errors += [(e["SecretId"], e["ErrorCode"]) for e in page["Errors"]]
        token = page.get("NextToken")
        if not token:
            break
    # The pending secret is not listed (as ListSecrets does not list it); the others are,
    # each once: values for those the user may read, a denial (named by ARN) for the other.
    assert pages == 2
    assert sorted(seen_values) == sorted(s["Name"] for s in world.readable)
    errors = dict(seen_errors)
    assert errors == {world.denied["ARN"]: DENIED, world.cmk["ARN"]: DENIED}

    # One filter that matches exactly one secret, and a negated one.
    one = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [world.readable[0]["Name"]]}])
    assert [v["Name"] for v in one["SecretValues"]] == [world.readable[0]["Name"]] and one["Errors"] == []
    rest = sm.batch_get_secret_value(Filters=[*filters, {"Key": "name", "Values": [f"!smb-{world.tag}-a"]}])
    assert sorted(v["Name"] for v in rest["SecretValues"]) == sorted(
        s["Name"] for s in (world.readable[1], world.denied, world.cmk))


def test_resource_policy_applies_to_its_item(server, sm, world, users, account):
    a, b = world.readable
    sm.put_resource_policy(SecretId=a["ARN"], ResourcePolicy=doc(
        {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    try:
        answer = sm.batch_get_secret_value(SecretIdList=[a["Name"], b["Name"]])
        assert [v["Name"] for v in answer["SecretValues"]] == [b["Name"]]
        [err] = answer["Errors"]
        assert (err["SecretId"], err["ErrorCode"]) == (a["Name"], DENIED)
        assert "explicit deny in a resource-based policy" in err["Message"]
    finally:
        sm.delete_resource_policy(SecretId=a["ARN"])
    # An Allow naming a user in the secret's policy serves that item to it.
    user_arn, client = users.make(doc(
        {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"}))
    sm.put_resource_policy(SecretId=a["ARN"], ResourcePolicy=doc(
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "secretsmanager:GetSecretValue",
         "Resource": "*"}))
    try:
        answer = client.batch_get_secret_value(SecretIdList=[a["Name"], b["Name"]])
        assert [v["Name"] for v in answer["SecretValues"]] == [a["Name"]]
        assert [(e["SecretId"], e["ErrorCode"]) for e in answer["Errors"]] == [(b["Name"], DENIED)]
    finally:
        sm.delete_resource_policy(SecretId=a["ARN"])


def test_each_items_checks_are_audited(server, world, users, account):
    _, client = users.make(world.user_policy(account, server.region))
    answer = client.batch_get_secret_value(SecretIdList=[world.readable[0]["Name"], world.denied["Name"]])
    request_id = answer["ResponseMetadata"]["RequestId"]
    records = [json.loads(line) for line in server.audit("--json").splitlines()]
    [record] = [r for r in records if r["request_id"] == request_id]
    assert record["decision"] == "allowed"
    checks = [(c["action"], c["resource"], c["decision"]) for c in record["checks"]]
    assert checks[0] == ("secretsmanager:BatchGetSecretValue", "*", "allowed")
    assert ("secretsmanager:GetSecretValue", world.readable[0]["ARN"], "allowed") in checks
    assert ("secretsmanager:GetSecretValue", world.denied["ARN"], "implicitDeny") in checks


def test_malformed_requests(server, world):
    loose = server.client("secretsmanager", config=NO_VALIDATION)
    name = world.readable[0]["Name"]
    filters = [{"Key": "name", "Values": [name]}]
    cases = [
        ({}, "InvalidParameterException"),
        ({"SecretIdList": [name], "Filters": filters}, "InvalidParameterException"),
        ({"SecretIdList": [name], "MaxResults": 5}, "InvalidParameterException"),
        ({"SecretIdList": [name], "NextToken": "x"}, "InvalidParameterException"),
        ({"SecretIdList": []}, "ValidationException"),
        ({"SecretIdList": [name] * 21}, "ValidationException"),
        ({"SecretIdList": [""]}, "ValidationException"),
        ({"SecretIdList": ["x" * 2049]}, "ValidationException"),
        ({"Filters": filters, "MaxResults": 0}, "ValidationException"),
        ({"Filters": filters, "MaxResults": 21}, "ValidationException"),
        ({"Filters": filters, "NextToken": "x" * 4097}, "ValidationException"),
        ({"Filters": [{"Key": "colour", "Values": ["x"]}]}, "ValidationException"),
        ({"Filters": [{"Key": "name", "Values": []}]}, "ValidationException"),
        ({"Filters": [{"Key": "name", "Values": ["a,b"]}]}, "ValidationException"),
        ({"Filters": filters * 11}, "ValidationException"),
        ({"SecretIdList": [[name]]}, "SerializationException"),
        ({"SecretIdList": [1]}, "SerializationException"),
        ({"Filters": filters, "MaxResults": "two"}, "SerializationException"),
    ]
    for kwargs, code in cases:
        assert refused(loose.batch_get_secret_value, **kwargs) == code, kwargs
    # Twenty is the most, and a secret named twice is answered twice.
    answer = loose.batch_get_secret_value(SecretIdList=[name] * 20)
    assert len(answer["SecretValues"]) == 20 and answer["Errors"] == []
