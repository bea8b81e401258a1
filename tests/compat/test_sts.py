"""STS through real clients: boto3 and the AWS CLI, and every way a signature can be wrong."""

import datetime
import json
import os
import stat
import subprocess
import time
import urllib.request
import urllib.error
from unittest import mock

import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BIN


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_boto3_get_caller_identity(server):
    ident = server.client("sts").get_caller_identity()
    account = ident["Account"]
    assert len(account) == 12 and account.isdigit()
    assert ident["Arn"] == f"arn:aws:iam::{account}:user/admin"
    assert ident["UserId"].startswith("AIDA")
    assert ident["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert ident["ResponseMetadata"]["RequestId"]


def test_aws_cli_get_caller_identity_with_bootstrap_profile(server):
    # The CLI reads the endpoint, region and keys from the profile Rampart wrote.
    out = subprocess.run(
        [os.path.join(os.path.dirname(os.sys.executable), "aws"), "sts", "get-caller-identity", "--output", "json"],
        env=server.cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    ident = json.loads(out.stdout)
    assert ident["Arn"].endswith(":user/admin")
    assert ident["Account"] == server.client("sts").get_caller_identity()["Account"]


def test_wrong_secret_is_signature_does_not_match(server):
    sts = server.client("sts", aws_secret_access_key="x" + server.secret_access_key[1:])
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert error_code(e) == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_is_invalid_client_token_id(server):
    sts = server.client("sts", aws_access_key_id="AKIAIOSFODNN7EXAMPLE")
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId"


def test_session_token_with_long_term_key_is_refused(server):
    sts = server.client("sts", aws_session_token="bogus-token")
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId"


def test_unsigned_request_is_missing_authentication_token(server):
    sts = server.client("sts", config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert error_code(e) == "MissingAuthenticationToken"


def _shifted_clock(offset):
    """botocore's signing clock, `offset` seconds away from the real one."""
    real = botocore.auth.get_current_datetime

    def now(*args, **kwargs):
        return real(*args, **kwargs) + datetime.timedelta(seconds=offset)

    return now


@pytest.mark.parametrize("offset", [-20 * 60, 20 * 60])
def test_request_dated_20_minutes_away_is_rejected(server, offset):
    sts = server.client("sts")
    with mock.patch.object(botocore.auth, "get_current_datetime", _shifted_clock(offset)):
        with pytest.raises(ClientError) as e:
            sts.get_caller_identity()
    assert error_code(e) == "SignatureDoesNotMatch"
    assert "Signature" in e.value.response["Error"]["Message"]


def test_presigned_url_works_then_expires(server):
    sts = server.client("sts")
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=2, HttpMethod="GET")
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read().decode()
    assert "<Arn>" in body and ":user/admin</Arn>" in body
    time.sleep(3.2)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    body = e.value.read().decode()
    assert e.value.code == 400
    assert "<Code>RequestExpired</Code>" in body


def test_presigned_url_tampered_is_rejected(server):
    url = server.client("sts").generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=600")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in e.value.read().decode()


def test_unknown_json_service_answers_in_json(server):
    # KMS is served now; DynamoDB (JSON 1.0) is not.
    with pytest.raises(ClientError) as e:
        server.client("dynamodb").list_tables()
    assert error_code(e) == "UnknownOperationException"


def test_unknown_rest_json_service_answers_in_rest_json(server):
    # Lambda is served now; EFS (rest-json) is not.
    with pytest.raises(ClientError) as e:
        server.client("efs").describe_file_systems()
    assert error_code(e) == "UnknownOperationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unknown_query_action_is_invalid_action(server):
    # DecodeAuthorizationMessage is a real STS action this endpoint does not offer: a signed
    # call is authenticated, then told the action does not exist.
    with pytest.raises(ClientError) as e:
        server.client("sts").decode_authorization_message(EncodedMessage="x")
    assert error_code(e) == "InvalidAction"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_bootstrap_file_is_private_and_secret_never_logged(server):
    path = server.data_dir / "admin-credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((server.data_dir / "root.key").stat().st_mode) == 0o600
    # Generate some traffic, including failures, then grep everything the server printed.
    sts = server.client("sts")
    sts.get_caller_identity()
    with pytest.raises(ClientError):
        server.client("sts", aws_secret_access_key="wrong" * 8).get_caller_identity()
    logs = server.logs()
    assert "GetCallerIdentity" in logs, "debug request logs expected in the captured log"
    assert server.secret_access_key not in logs
    assert "AWS4-HMAC-SHA256 Credential" not in logs and "Signature=" not in logs
    # Nor is it anywhere in the database in plaintext.
    assert server.secret_access_key.encode() not in (server.data_dir / "rampart.db").read_bytes()


def test_health_and_metrics(server):
    server.client("sts").get_caller_identity()
    with urllib.request.urlopen(server.endpoint + "/health", timeout=5) as resp:
        assert json.loads(resp.read())["status"] == "ok"
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert 'rampart_requests_total{service="sts",operation="GetCallerIdentity",outcome="success"' in text
    assert "rampart_request_duration_seconds_bucket" in text


def test_audit_cli_lists_requests(server):
    sts = server.client("sts")
    rid = sts.get_caller_identity()["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError):
        server.client("sts", aws_access_key_id="AKIAUNKNOWNKEY000000").get_caller_identity()
    records = [json.loads(line) for line in server.audit("--json").splitlines()]
    mine = [r for r in records if r["request_id"] == rid]
    assert len(mine) == 1
    rec = mine[0]
    assert rec["service"] == "sts" and rec["operation"] == "GetCallerIdentity"
    assert rec["outcome"] == "success" and rec["principal_arn"].endswith(":user/admin")
    assert rec["source_ip"] == "127.0.0.1"
    # AWS: "No permissions are required to perform this operation" — so no decision is made.
    assert rec["decision"] is None and rec["matched_statements"] == []
    failed = [json.loads(l) for l in server.audit("--json", "--principal", "AKIAUNKNOWNKEY000000").splitlines()]
    assert failed and all(r["error_code"] == "InvalidClientTokenId" for r in failed)
    table = server.audit("--outcome", "failure")
    assert "InvalidClientTokenId" in table
    assert server.audit("--json", "--since", "1h", "--operation", "GetCallerIdentity", "--outcome", "success").strip()


def test_cli_help_reads_like_a_tool():
    for args in (["--help"], ["serve", "--help"], ["audit", "--help"]):
        out = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0
        assert "Usage: rampart" in out.stdout
    assert "--tls-cert" in subprocess.run([str(BIN), "serve", "--help"], capture_output=True, text=True).stdout


def test_presigned_post_url_as_botocore_makes_it(server):
    # botocore presigns GetCallerIdentity as POST by default (the operation's HTTP method);
    # the URL then only works with POST — a method change breaks the signature, as on AWS.
    url = server.client("sts").generate_presigned_url("get_caller_identity", ExpiresIn=60)
    with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10) as resp:
        assert ":user/admin</Arn>" in resp.read().decode()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    assert e.value.code == 403
