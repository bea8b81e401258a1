"""The main listener's two front ends: the AWS API and the data plane of deployed APIs.

A request whose Host is `<apiId>.execute-api.<anything>`, or whose path is under
`/_api/<apiId>/<stage>/`, is the data plane's and never reaches the SigV4 pipeline; with no API
deployed it gets API Gateway's Not Found. Everything else is the AWS API, exactly as before.
"""

import http.client
import json
from urllib.parse import urlparse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def exchange(server, method, path, headers=None, body=None):
    """(status, headers as (name, value) pairs lowercased, body) of one request."""
    u = urlparse(server.endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        # A `Host` in `headers` replaces the one http.client would send.
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, [(k.lower(), v) for k, v in resp.getheaders()], resp.read()
    finally:
        conn.close()


def values(headers, name):
    return [v for k, v in headers if k == name]


def assert_not_found(status, headers, body):
    assert status == 404, (status, body)
    assert values(headers, "content-type") == ["application/json"], headers
    assert json.loads(body) == {"message": "Not Found"}
    assert len(values(headers, "apigw-requestid")) == 1, headers
    assert values(headers, "x-amzn-requestid") == [], headers
    return values(headers, "apigw-requestid")[0]


def audited_request_ids(server):
    return {json.loads(line)["request_id"] for line in server.audit("--json").splitlines()}


def sigv4_headers(server, host, path):
    """The headers of an STS GetCallerIdentity signed by botocore for `host`."""
    creds = Credentials(server.access_key_id, server.secret_access_key)
    req = AWSRequest(method="POST", url=f"http://{host}{path}", data=STS_BODY, headers=dict(FORM))
    SigV4Auth(creds, "sts", server.region).add_auth(req)
    headers = {k: v for k, v in req.headers.items() if k.lower() != "host"}
    headers["Host"] = host  # what was signed
    return headers


@pytest.mark.parametrize(
    "host,path",
    [
        ("abc123.execute-api.localhost", "/prod/pets"),
        ("abc123.execute-api.localhost:{port}", "/prod/pets?x=1"),
        ("ABC123.Execute-API.LocalHost.", "/"),
        ("abc123.execute-api.127.0.0.1.nip.io:{port}", "/health"),
        ("not_an_api.execute-api.localhost", "/prod/"),
        (None, "/_api/abc123/prod/pets"),
        (None, "/_api/abc123/prod"),
        (None, "/_api/NOT-AN-ID/prod/"),
    ],
)
def test_unknown_apis_get_api_gateways_not_found(server, host, path):
    port = urlparse(server.endpoint).port
    headers = {"Host": host.format(port=port)} if host else {}
    for method, body in [("GET", None), ("POST", b'{"a":1}')]:
        assert_not_found(*exchange(server, method, path, headers, body))


def test_signed_requests_to_an_api_never_reach_the_aws_api(server):
    before = audited_request_ids(server)
    port = urlparse(server.endpoint).port
    # Correctly signed STS calls, but addressed to an API: the data plane's Not Found.
    cases = [
        (f"abc123.execute-api.localhost:{port}", "/"),
        (f"127.0.0.1:{port}", "/_api/abc123/prod/"),
    ]
    ids = set()
    for host, path in cases:
        headers = sigv4_headers(server, host, path)
        status, resp_headers, body = exchange(server, "POST", path, headers, STS_BODY)
        ids.add(assert_not_found(status, resp_headers, body))
        assert b"GetCallerIdentity" not in body
    after = audited_request_ids(server)
    assert not ids & after
    assert after == before, "the pipeline audited a data-plane request"


def test_aws_api_unchanged(server):
    sts = server.client("sts")
    resp = sts.get_caller_identity()
    assert resp["Arn"].endswith(":user/admin")
    request_id = resp["ResponseMetadata"]["RequestId"]
    # One id: the header botocore read is the one the audit trail recorded.
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == request_id
    assert request_id in audited_request_ids(server)

    # The same call by hand to the plain endpoint host: exactly one x-amzn-RequestId.
    u = urlparse(server.endpoint)
    host = f"{u.hostname}:{u.port}"
    status, headers, body = exchange(server, "POST", "/", sigv4_headers(server, host, "/"), STS_BODY)
    assert status == 200, body
    (request_id,) = values(headers, "x-amzn-requestid")
    assert values(headers, "apigw-requestid") == []
    assert f"<RequestId>{request_id}</RequestId>".encode() in body
    assert request_id in audited_request_ids(server)

    # Unsigned, it is still refused the AWS way, not by the data plane.
    status, headers, body = exchange(server, "POST", "/", FORM, STS_BODY)
    assert status == 403 and b"MissingAuthenticationToken" in body, body
    assert len(values(headers, "x-amzn-requestid")) == 1

    # /health stays the AWS API front end's.
    status, _, body = exchange(server, "GET", "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
