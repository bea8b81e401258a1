"""Helpers the API gateway compat tests share: a server whose Python functions run with this
interpreter, a function made from source, an HTTP API with a `$default` stage, and plain HTTP
requests to the data plane (by path, `/_api/<apiId>/…`, or by Host, `<apiId>.execute-api…`)."""

import io
import json
import stat
import sys
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass

from botocore.config import Config
from botocore.exceptions import ClientError
import pytest

LAMBDA_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
NO_VALIDATION = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)

# Echoes the event it got; some paths ask for a failure, a malformed answer, a slow one or a
# bare (unstructured) answer.
ECHO = '''
import json, time

def handler(event, context):
    path = event.get("rawPath") or event.get("path") or ""
    if path.endswith("/fail"):
        raise RuntimeError("boom")
    if path.endswith("/malformed"):
        return {"statusCode": "not a status"}
    if path.endswith("/slow"):
        time.sleep(3)
    if path.endswith("/bare"):
        return {"bare": True, "path": path}
    if event.get("version") == "2.0":
        # The CORS header is the function's own: an API with CORS configured replaces it.
        return {"statusCode": 200, "headers": {"content-type": "application/json", "x-echo": "v2",
                                               "access-control-allow-origin": "https://function.example"},
                "cookies": ["a=1; Path=/", "b=2"], "body": json.dumps(event)}
    return {"statusCode": 201, "headers": {"x-single": "s"}, "multiValueHeaders": {"x-multi": ["1", "2"]},
            "body": json.dumps(event)}
'''


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", ""), e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def make_zip(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("app.py")
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        z.writestr(info, source)
    return buf.getvalue()


def create_function(server, source=ECHO, timeout=10, source_arn="*"):
    """A Python function running `source`; its ARN. Unless `source_arn` is None, its policy
    lets API Gateway invoke it for `arn:aws:execute-api:<region>:<account>:<source_arn>` (every
    API of the account by default), as `aws lambda add-permission` does for an integration."""
    iam, lam = server.client("iam"), server.client("lambda", config=NO_RETRY)
    role = iam.create_role(RoleName=unique("gw-fn"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    name = unique("gw-fn")
    arn = lam.create_function(FunctionName=name, Role=role["Arn"], Runtime="python3.12", Handler="app.handler",
                              Code={"ZipFile": make_zip(source)}, Timeout=timeout)["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    if source_arn is not None:
        allow_gateway(server, arn, source_arn)
    return arn


def allow_gateway(server, function_arn, source_arn, sid=None):
    """AddPermission for apigateway.amazonaws.com with SourceArn execute-api:<region>:<account>:<source_arn>."""
    _, _, _, region, account, _ = function_arn.split(":", 5)
    server.client("lambda", config=NO_RETRY).add_permission(
        FunctionName=function_arn, StatementId=sid or unique("apigw"), Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:{region}:{account}:{source_arn}")


def http_api(gw, name=None, **kwargs):
    return gw.create_api(Name=name or unique("api"), ProtocolType="HTTP", **kwargs)


@dataclass
class Reply:
    status: int
    headers: object
    body: bytes

    def json(self):
        return json.loads(self.body)


def call(server, api_id, path, method="GET", headers=None, body=None, by_host=False, stage=None):
    """A request to the API's data plane: `path` within the stage (`stage` None: `$default`)."""
    prefix = f"/{stage}" if stage else ""
    hdrs = dict(headers or {})
    if by_host:
        port = server.endpoint.rsplit(":", 1)[1]
        hdrs["Host"] = f"{api_id}.execute-api.localhost:{port}"
        url = f"{server.endpoint}{prefix}{path}"
    else:
        url = f"{server.endpoint}/_api/{api_id}{prefix}{path}"
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return Reply(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers, e.read())


class TinyIssuer:
    """A standards-compliant OpenID issuer on loopback: discovery and JWKS served by a thread,
    RS256 keys made with `cryptography`, tokens signed with PyJWT. Counts JWKS fetches."""

    def __init__(self):
        import http.server
        import threading

        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "tiny-1"
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        self.jwks = {"keys": [jwk]}
        self.jwks_fetches = 0
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}
                elif self.path == "/keys":
                    issuer.jwks_fetches += 1
                    body = issuer.jwks
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key=None, kid=None, algorithm="RS256", **claims):
        import time

        import jwt

        now = int(time.time())
        body = {"iss": self.url, "aud": "tiny-aud", "sub": "ext-user", "iat": now, "exp": now + 600} | claims
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key if key is not None else self.key, algorithm=algorithm,
                          headers={"kid": kid or self.kid})

    def close(self):
        self.server.shutdown()
