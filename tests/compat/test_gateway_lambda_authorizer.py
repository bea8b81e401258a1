"""Lambda (REQUEST) authorizers on HTTP APIs, with real Python functions: the authorizer
counts its own invocations (a counter in its warm environment, returned in its context), the
integration echoes the event it got.

- simple responses (2.0): allowed → 200 with the context in `requestContext.authorizer.lambda`;
  `isAuthorized: false` → 403; a missing identity source → 401 without invoking; an error
  `Unauthorized` → 401; any other error or nonsense → 500;
- IAM-policy responses: Deny → 403; an Allow on GET only → GET 200, POST 403, also when the
  answer comes from the cache; payload 1.0 authorizers and their context in a 1.0 event;
- the cache: 100 requests with the same identity within the TTL invoke the authorizer once; a
  new identity invokes it again; a TTL of 0 invokes it every time;
- the management side: REQUEST authorizers as botocore parses them, their refusals, and
  routes taking only the authorizer kind their type names."""

import signal
import sys

import pytest

from conftest import start_server
from gateway_support import call, create_function, error_of, http_api

AUTHORIZER = '''
import json

calls = 0

def handler(event, context):
    global calls
    calls += 1
    if event.get("version") == "2.0":
        token = (event.get("headers") or {}).get("x-token", "")
        assert event["type"] == "REQUEST" and event["routeArn"].startswith("arn:aws:execute-api:")
        assert event["identitySource"] == [token] and "body" not in event
    else:
        token = event["identitySource"].split(",")[0]
        assert event["type"] == "REQUEST" and event["methodArn"].startswith("arn:aws:execute-api:")
    ctx = {"calls": calls, "token": token}
    if token == "boom":
        raise RuntimeError("boom")
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "nonsense":
        return {"hello": "world"}
    if token.startswith("simple-"):
        return {"isAuthorized": token == "simple-allow", "context": ctx}
    arn = event.get("routeArn") or event.get("methodArn")
    api_part = arn.split("/")[0]  # arn:aws:execute-api:<region>:<account>:<apiId>
    statements = {
        "allow-all": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": api_part + "/*"}],
        "deny-all": [{"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*"},
                     {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}],
        "get-only": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": api_part + "/*/GET/*"}],
        "elsewhere": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:otherapi/*"}],
    }.get(token, [])
    return {"principalId": "user-" + token, "context": ctx,
            "policyDocument": {"Version": "2012-10-17", "Statement": statements}}
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("gateway-lambda-auth") / "data", ["--functions-python", sys.executable])
    yield srv
    srv.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def world(server):
    gw = server.client("apigatewayv2")
    echo = create_function(server)
    authorizer_fn = create_function(server, AUTHORIZER)
    api = http_api(gw)["ApiId"]
    v2 = gw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                               PayloadFormatVersion="2.0")["IntegrationId"]
    v1 = gw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                               PayloadFormatVersion="1.0")["IntegrationId"]
    uri = f"arn:aws:apigateway:{server.region}:lambda:path/2015-03-31/functions/{authorizer_fn}/invocations"
    made = {}
    for name, kwargs in {
        "simple": {"AuthorizerPayloadFormatVersion": "2.0", "EnableSimpleResponses": True, "AuthorizerResultTtlInSeconds": 0},
        "policy": {"AuthorizerPayloadFormatVersion": "2.0", "AuthorizerResultTtlInSeconds": 0},
        "cached": {"AuthorizerPayloadFormatVersion": "2.0", "EnableSimpleResponses": True, "AuthorizerResultTtlInSeconds": 300},
        "cached-policy": {"AuthorizerPayloadFormatVersion": "2.0", "AuthorizerResultTtlInSeconds": 300},
        "v1": {"AuthorizerPayloadFormatVersion": "1.0", "AuthorizerResultTtlInSeconds": 0},
    }.items():
        made[name] = gw.create_authorizer(ApiId=api, AuthorizerType="REQUEST", Name=name, AuthorizerUri=uri,
                                          IdentitySource=["$request.header.X-Token"], **kwargs)
    for key, authorizer, target in (
        ("ANY /simple", "simple", v2), ("ANY /policy", "policy", v2), ("ANY /cached", "cached", v2),
        ("ANY /cached-policy/{x}", "cached-policy", v2), ("ANY /v1", "v1", v1),
    ):
        gw.create_route(ApiId=api, RouteKey=key, Target="integrations/" + target, AuthorizationType="CUSTOM",
                        AuthorizerId=made[authorizer]["AuthorizerId"])
    gw.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    return {"api": api, "authorizers": made, "uri": uri, "gw": gw, "integration": v2}


def get(server, world, path, token=None, method="GET"):
    headers = {"X-Token": token} if token is not None else {}
    return call(server, world["api"], path, method=method, headers=headers)


def calls_of(reply):
    return int(reply.json()["requestContext"]["authorizer"]["lambda"]["calls"])


def test_simple_responses(server, world):
    r = get(server, world, "/simple", "simple-allow")
    assert r.status == 200, r.body
    context = r.json()["requestContext"]["authorizer"]["lambda"]
    assert context["token"] == "simple-allow" and context["calls"] >= 1
    r = get(server, world, "/simple", "simple-deny")
    assert (r.status, r.json()) == (403, {"message": "Forbidden"})
    before = calls_of(get(server, world, "/simple", "simple-allow"))
    r = get(server, world, "/simple")
    assert (r.status, r.json()) == (401, {"message": "Unauthorized"})
    r = get(server, world, "/simple", "")
    assert r.status == 401
    # The refused requests without an identity never reached the authorizer.
    assert calls_of(get(server, world, "/simple", "simple-allow")) == before + 1
    r = get(server, world, "/simple", "unauthorized")
    assert (r.status, r.json()) == (401, {"message": "Unauthorized"})
    for broken in ("boom", "nonsense", "allow-all"):  # allow-all is a policy: not a simple response
        r = get(server, world, "/simple", broken)
        assert (r.status, r.json()) == (500, {"message": "Internal Server Error"}), broken


def test_policy_responses(server, world):
    r = get(server, world, "/policy", "allow-all", method="POST")
    assert r.status == 200, r.body
    assert r.json()["requestContext"]["authorizer"]["lambda"]["token"] == "allow-all"
    for method in ("GET", "POST"):
        r = get(server, world, "/policy", "deny-all", method=method)
        assert (r.status, r.json()) == (403, {"message": "Forbidden"})
    assert get(server, world, "/policy", "get-only").status == 200
    assert get(server, world, "/policy", "get-only", method="POST").status == 403
    assert get(server, world, "/policy", "elsewhere").status == 403  # allows another API only
    # An answer that is not a policy, or a policy IAM would refuse (no statement), is a 500.
    for broken in ("nonsense", "nobody"):
        assert get(server, world, "/policy", broken).status == 500, broken


def test_cached_policy_is_evaluated_for_each_route(server, world):
    first = get(server, world, "/cached-policy/a", "get-only")
    assert first.status == 200, first.body
    # Cached, yet evaluated against this request's method.
    assert get(server, world, "/cached-policy/b", "get-only", method="POST").status == 403
    again = get(server, world, "/cached-policy/c", "get-only")
    assert again.status == 200 and calls_of(again) == calls_of(first)


def test_the_cache_invokes_once_per_identity(server, world):
    counts = {calls_of(get(server, world, "/cached", "simple-allow")) for _ in range(100)}
    assert len(counts) == 1, counts
    (cached,) = counts
    # Another identity is another invocation (the warm counter moves on).
    other = get(server, world, "/cached", "simple-allow-2")
    assert other.status == 403  # simple-allow-2 is not authorized, but it did run
    assert calls_of(get(server, world, "/cached", "simple-allow")) == cached
    # An updated authorizer starts with an empty cache.
    world["gw"].update_authorizer(ApiId=world["api"], AuthorizerId=world["authorizers"]["cached"]["AuthorizerId"],
                                  AuthorizerResultTtlInSeconds=600)
    assert calls_of(get(server, world, "/cached", "simple-allow")) > cached
    # Without a TTL every request invokes the authorizer.
    seen = [calls_of(get(server, world, "/simple", "simple-allow")) for _ in range(5)]
    assert seen == sorted(seen) and len(set(seen)) == 5, seen


def test_payload_1_0_authorizer_and_event(server, world):
    r = get(server, world, "/v1", "allow-all")
    assert r.status == 201, r.body
    authorizer = r.json()["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-allow-all" and authorizer["token"] == "allow-all"
    assert get(server, world, "/v1", "deny-all").status == 403


def test_management(server, world):
    gw, api, uri = world["gw"], world["api"], world["uri"]
    a = world["authorizers"]["cached"]
    assert a["AuthorizerType"] == "REQUEST" and a["AuthorizerUri"] == uri
    assert a["AuthorizerPayloadFormatVersion"] == "2.0" and a["EnableSimpleResponses"] is True
    assert a["AuthorizerResultTtlInSeconds"] == 300 and a["IdentitySource"] == ["$request.header.X-Token"]
    assert "JwtConfiguration" not in a
    got = gw.get_authorizer(ApiId=api, AuthorizerId=a["AuthorizerId"])
    assert got["AuthorizerUri"] == uri
    base = {"AuthorizerType": "REQUEST", "Name": "bad", "IdentitySource": ["$request.header.X-Token"]}
    for kwargs in (
        {"AuthorizerUri": uri},  # no payload format version
        {"AuthorizerUri": uri, "AuthorizerPayloadFormatVersion": "1.0", "EnableSimpleResponses": True},
        {"AuthorizerUri": uri, "AuthorizerPayloadFormatVersion": "2.0", "AuthorizerResultTtlInSeconds": 3601},
        {"AuthorizerPayloadFormatVersion": "2.0"},  # no URI
        {"AuthorizerUri": "arn:aws:lambda:us-east-1:999999999999:function:f", "AuthorizerPayloadFormatVersion": "2.0"},
    ):
        assert error_of(gw.create_authorizer, ApiId=api, **base, **kwargs)[0] == "BadRequestException", kwargs
    assert error_of(gw.create_authorizer, ApiId=api, AuthorizerType="REQUEST", Name="c", IdentitySource=[],
                    AuthorizerUri=uri, AuthorizerPayloadFormatVersion="2.0",
                    AuthorizerResultTtlInSeconds=60)[0] == "BadRequestException"
    # Routes take only the authorizer kind their type names.
    assert error_of(gw.create_route, ApiId=api, RouteKey="GET /x", AuthorizationType="JWT",
                    AuthorizerId=a["AuthorizerId"])[0] == "BadRequestException"
    jwt = gw.create_authorizer(ApiId=api, AuthorizerType="JWT", Name="j", IdentitySource=["$request.header.Authorization"],
                               JwtConfiguration={"Issuer": "https://issuer.example.com", "Audience": ["a"]})
    assert error_of(gw.create_route, ApiId=api, RouteKey="GET /y", AuthorizationType="CUSTOM",
                    AuthorizerId=jwt["AuthorizerId"])[0] == "BadRequestException"
    assert error_of(gw.create_route, ApiId=api, RouteKey="GET /z", AuthorizationType="CUSTOM")[0] == "BadRequestException"
