"""The IAM API on PostgreSQL with two `rampart serve` nodes sharing one store: state lives in
the store (each node sees the other's writes at once), concurrent writers through both nodes
keep IAM's quotas, and a key disabled through one node stops working on the other within the
credential cache's few seconds."""

import time
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from iam_helpers import ADMIN_POLICY, error_of, unique


def test_two_nodes_share_iam_state(fresh_server, pg_store_url):
    a = fresh_server(["--store", pg_store_url])
    # Same data dir: the second node uses the first's root key and admin profile.
    b = fresh_server(["--store", pg_store_url], data_dir=a.data_dir)
    iam_a, iam_b = a.client("iam"), b.client("iam")

    name = unique("shared")
    iam_a.create_user(UserName=name)
    assert iam_b.get_user(UserName=name)["User"]["UserName"] == name
    assert error_of(iam_b.create_user, UserName=name)[0] == "EntityAlreadyExists"

    # Eight concurrent CreateAccessKey calls through both nodes: exactly two keys exist after.
    def create(i):
        try:
            return (iam_a if i % 2 else iam_b).create_access_key(UserName=name)["AccessKey"]
        except ClientError as e:
            assert e.response["Error"]["Code"] in ("LimitExceeded", "ConcurrentModification")
            return None

    with ThreadPoolExecutor(8) as pool:
        keys = [k for k in pool.map(create, range(8)) if k]
    assert len(keys) == 2
    assert len(iam_b.list_access_keys(UserName=name)["AccessKeyMetadata"]) == 2

    key = keys[0]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    iam_a.attach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY)
    # Node b has not cached this key yet: it reads the attachment from the store.
    assert b.client("iam", **creds).get_user()["User"]["UserName"] == name

    # Disabled on node a: node b stops honouring it once its cached entry expires (5 s).
    iam_a.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert error_of(a.client("sts", **creds).get_caller_identity)[0] == "InvalidClientTokenId"
    deadline = time.time() + 10
    while True:
        try:
            b.client("sts", **creds).get_caller_identity()
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidClientTokenId"
            break
        assert time.time() < deadline, "node b kept honouring a disabled key"
        time.sleep(0.5)


def refused_within_ttl(call, what):
    """Polls `call` until the other node refuses it; the credential cache keeps entries 5 s."""
    started = time.time()
    while True:
        try:
            call()
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidClientTokenId", e.response
            return time.time() - started
        assert time.time() - started < 10, f"node b kept honouring {what}"
        time.sleep(0.25)


def test_deletions_on_one_node_take_effect_on_the_other_within_the_ttl(fresh_server, pg_store_url):
    import json

    a = fresh_server(["--store", pg_store_url])
    b = fresh_server(["--store", pg_store_url], data_dir=a.data_dir)
    iam_a = a.client("iam")
    name = unique("gone")
    user = iam_a.create_user(UserName=name)["User"]
    iam_a.attach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY)
    key = iam_a.create_access_key(UserName=name)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    sts_b = b.client("sts", **creds)
    assert sts_b.get_caller_identity()["Arn"] == user["Arn"]  # cached on node b now

    # A role session used on node b, then the role deleted and re-created on node a.
    role_name = unique("phoenix")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}],
        }
    )
    role = iam_a.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]
    session = sts_b.assume_role(RoleArn=role["Arn"], RoleSessionName="old")["Credentials"]
    session_creds = {
        "aws_access_key_id": session["AccessKeyId"],
        "aws_secret_access_key": session["SecretAccessKey"],
        "aws_session_token": session["SessionToken"],
    }
    assert b.client("sts", **session_creds).get_caller_identity()
    iam_a.delete_role(RoleName=role_name)
    iam_a.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)
    refused_within_ttl(b.client("sts", **session_creds).get_caller_identity, "a session of a deleted role")

    iam_a.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert error_of(a.client("sts", **creds).get_caller_identity)[0] == "InvalidClientTokenId"
    refused_within_ttl(sts_b.get_caller_identity, "a deleted access key")


def test_get_user_on_another_node_shows_changes_within_the_ttl(fresh_server, pg_store_url):
    """GetUser is served from memory (iam/src/cache.rs): a node shows a change made through
    another node within the cache's 5 s, and never a user the other node deleted after that."""
    a = fresh_server(["--store", pg_store_url])
    b = fresh_server(["--store", pg_store_url], data_dir=a.data_dir)
    iam_a, iam_b = a.client("iam"), b.client("iam")
    name = unique("cached")
    iam_a.create_user(UserName=name)
    assert iam_b.get_user(UserName=name)["User"].get("Tags") is None  # cached on node b now

    iam_a.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "x"}])
    started = time.time()
    while iam_b.get_user(UserName=name)["User"].get("Tags") != [{"Key": "team", "Value": "x"}]:
        assert time.time() - started < 10, "node b kept answering the untagged user"
        time.sleep(0.25)

    iam_a.delete_user(UserName=name)
    started = time.time()
    while True:
        try:
            iam_b.get_user(UserName=name)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "NoSuchEntity"
            break
        assert time.time() - started < 10, "node b kept answering a deleted user"
        time.sleep(0.25)
    # Once gone, it stays gone: nothing cached brings it back.
    for _ in range(3):
        assert error_of(iam_b.get_user, UserName=name)[0] == "NoSuchEntity"
