"""`AWS_IAM` routes: requests SigV4-signed for `execute-api` (botocore's signer), decided by
the signer's own IAM policies on `execute-api:Invoke` over the route's ARN.

- a user allowed `GET /iam/*` → 200, and the function sees it in
  `requestContext.authorizer.iam` (2.0) and `requestContext.identity` (1.0); the same user's
  POST → 403 with AWS's message naming the user, the action and the route's ARN;
- a role session allowed by its role's policy → 200; a role without the permission → 403;
- unsigned → 403 `{"message":"Forbidden"}`; a body changed after signing, a signature for
  another service or region, an unknown key → 403, the function never reached."""

import json
import signal
import sys
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import start_server
from gateway_support import create_function, http_api


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("gateway-iam") / "data", ["--functions-python", sys.executable])
    yield srv
    srv.kill(signal.SIGTERM)


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def world(server):
    gw, iam, sts = server.client("apigatewayv2"), server.client("iam"), server.client("sts")
    account = sts.get_caller_identity()["Account"]
    fn = create_function(server)
    api = http_api(gw)["ApiId"]
    v2 = gw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                               PayloadFormatVersion="2.0")["IntegrationId"]
    v1 = gw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                               PayloadFormatVersion="1.0")["IntegrationId"]
    gw.create_route(ApiId=api, RouteKey="ANY /iam/{proxy+}", Target="integrations/" + v2, AuthorizationType="AWS_IAM")
    gw.create_route(ApiId=api, RouteKey="GET /v1iam", Target="integrations/" + v1, AuthorizationType="AWS_IAM")
    gw.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    base = f"arn:aws:execute-api:{server.region}:{account}:{api}"
    s = uuid.uuid4().hex[:8]
    iam.create_user(UserName=f"gw-iam-{s}")
    iam.put_user_policy(UserName=f"gw-iam-{s}", PolicyName="invoke", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": [base + "/*/GET/iam/*", base + "/*/GET/v1iam"]}))
    key = iam.create_access_key(UserName=f"gw-iam-{s}")["AccessKey"]
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"})
    roles = {}
    for name, statements in (("allowed", [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": base + "/*"}]),
                             ("denied", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])):
        role = iam.create_role(RoleName=f"gw-{name}-{s}", AssumeRolePolicyDocument=trust)["Role"]
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName="p", PolicyDocument=policy(*statements))
        roles[name] = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="caller")["Credentials"]
    return {"api": api, "user": Credentials(key["AccessKeyId"], key["SecretAccessKey"]),
            "user_arn": f"arn:aws:iam::{account}:user/gw-iam-{s}", "base": base,
            "roles": {k: Credentials(v["AccessKeyId"], v["SecretAccessKey"], v["SessionToken"]) for k, v in roles.items()}}


def send(server, world, path, method="GET", creds=None, body=None, service="execute-api", region=None, tamper=None):
    url = f"{server.endpoint}/_api/{world['api']}{path}"
    data = body.encode() if body is not None else None
    request = AWSRequest(method=method, url=url, data=data, headers={"Content-Type": "application/json"})
    if creds is not None:
        SigV4Auth(creds, service, region or server.region).add_auth(request)
    headers = dict(request.headers.items())
    if tamper is not None:
        data = tamper.encode()
    raw = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(raw, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_allowed_user(server, world):
    status, event = send(server, world, "/iam/a/b?x=1", creds=world["user"])
    assert status == 200, event
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["userArn"] == world["user_arn"] and iam["accessKey"] == world["user"].access_key
    assert iam["userId"].startswith("AIDA") and iam["callerId"] == iam["userId"]
    assert iam["accountId"] == world["user_arn"].split(":")[4]
    status, event = send(server, world, "/v1iam", creds=world["user"])
    assert status == 201, event  # the echo function answers 1.0 events with 201
    identity = event["requestContext"]["identity"]
    assert identity["userArn"] == world["user_arn"] and identity["accessKey"] == world["user"].access_key


def test_user_denied_another_method(server, world):
    status, body = send(server, world, "/iam/a", method="POST", creds=world["user"], body="{}")
    assert status == 403
    assert body["Message"] == (f"User: {world['user_arn']} is not authorized to perform: execute-api:Invoke "
                               f"on resource: {world['base']}/$default/POST/iam/a")


def test_role_sessions(server, world):
    status, event = send(server, world, "/iam/x", method="PUT", creds=world["roles"]["allowed"], body='{"a": 1}')
    assert status == 200, event
    assert ":assumed-role/" in event["requestContext"]["authorizer"]["iam"]["userArn"]
    assert event["body"] == '{"a": 1}'
    status, body = send(server, world, "/iam/x", creds=world["roles"]["denied"])
    assert status == 403 and "is not authorized to perform: execute-api:Invoke" in body["Message"]


def test_refused_signatures(server, world):
    assert send(server, world, "/iam/a") == (403, {"message": "Forbidden"})
    for kwargs in (
        {"method": "POST", "body": '{"a": 1}', "tamper": '{"a": 2}'},
        {"service": "lambda"},
        {"region": "eu-north-9"},
    ):
        status, body = send(server, world, "/iam/a", creds=world["roles"]["allowed"], **kwargs)
        assert status == 403 and set(body) == {"message"} and body["message"] != "Forbidden", (kwargs, body)
    status, body = send(server, world, "/iam/a", creds=Credentials("AKIAUNKNOWNUNKNOWN00", "x" * 40))
    assert status == 403 and "message" in body


def test_iam_requests_are_audited(server, world):
    url = f"{server.endpoint}/_api/{world['api']}/iam/audited"
    request = AWSRequest(method="GET", url=url, headers={})
    SigV4Auth(world["user"], "execute-api", server.region).add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers.items())), timeout=60) as r:
        request_id = r.headers["apigw-requestid"]
    records = [json.loads(line) for line in server.audit("--json").splitlines()]
    (got,) = [r for r in records if r["request_id"] == request_id]
    assert got["principal_arn"] == world["user_arn"] and got["access_key_id"] == world["user"].access_key
    assert got["decision"] == "allowed" and got["checks"][0]["resource"] == f"{world['base']}/$default/GET/iam/audited"
    denied = [r for r in records if r["service"] == "execute-api" and r["decision"] == "implicitDeny"]
    assert denied and all(r["http_status"] == 403 for r in denied)
