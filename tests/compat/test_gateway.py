"""API Gateway v2 HTTP APIs through boto3 (`apigatewayv2`) and their data plane through plain
HTTP: APIs, routes, integrations, JWT authorizers and stages as botocore parses them, API
Gateway's errors (NotFound, BadRequest, Conflict), and requests served by a real Python
function — payload formats 2.0 and 1.0, path parameters, greedy routes and `$default`, route
selection, named and `$default` stages, Host and path addressing, function errors (502),
malformed answers (502), integration timeouts (503), throttling (429), CORS (preflights
answered by the gateway, headers on answers, the integration's own dropped), quick create and
Not Found."""

import json
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import start_server
from gateway_support import (
    NO_VALIDATION, allow_gateway, call, create_function, error_of, http_api, unique,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("gateway") / "data", ["--functions-python", sys.executable])
    yield srv
    srv.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def gw(server):
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def fn(server):
    return create_function(server)


# ---------------------------------------------------------------------------------------------
# Management API


def test_api_lifecycle(gw):
    created = http_api(gw, Description="d", Version="1", Tags={"team": "a"})
    api_id = created["ApiId"]
    assert len(api_id) == 10 and api_id.isalnum() and api_id.islower()
    assert created["ProtocolType"] == "HTTP"
    assert created["RouteSelectionExpression"] == "$request.method $request.path"
    assert created["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert created["ApiEndpoint"].startswith("http://" + api_id + ".execute-api.")
    assert created["Tags"] == {"team": "a"} and created["Description"] == "d"
    assert created["CreatedDate"].year >= 2024
    got = gw.get_api(ApiId=api_id)
    assert got["Name"] == created["Name"] and got["Version"] == "1"
    updated = gw.update_api(ApiId=api_id, Name="renamed", Description="e")
    assert updated["Name"] == "renamed" and updated["Description"] == "e" and updated["Version"] == "1"
    ids = [a["ApiId"] for a in gw.get_apis()["Items"]]
    assert api_id in ids
    gw.delete_api(ApiId=api_id)
    assert error_of(gw.get_api, ApiId=api_id)[:1] == ("NotFoundException",)
    assert error_of(gw.delete_api, ApiId=api_id)[2] == 404


def test_get_apis_pages(gw):
    made = {http_api(gw)["ApiId"] for _ in range(3)}
    seen, token = [], None
    while True:
        kwargs = {"MaxResults": "2"} | ({"NextToken": token} if token else {})
        page = gw.get_apis(**kwargs)
        assert len(page["Items"]) <= 2
        seen += [a["ApiId"] for a in page["Items"]]
        token = page.get("NextToken")
        if not token:
            break
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_create_api_refusals(gw, server):
    loose = server.client("apigatewayv2", config=NO_VALIDATION)
    assert error_of(gw.create_api, Name="x", ProtocolType="WEBSOCKET",
                    RouteSelectionExpression="$request.body.action")[0] == "BadRequestException"
    assert error_of(loose.create_api, Name="x")[0] == "BadRequestException"
    assert error_of(loose.create_api, ProtocolType="HTTP")[0] == "BadRequestException"
    assert error_of(gw.create_api, Name="x", ProtocolType="HTTP", Target="arn:aws:lambda:us-east-1:1:function:f")[0] == "BadRequestException"
    assert error_of(gw.create_api, Name="x", ProtocolType="HTTP", RouteSelectionExpression="$request.body.x")[0] == "BadRequestException"
    assert error_of(gw.create_api, Name="x" * 129, ProtocolType="HTTP")[0] == "BadRequestException"


def test_routes(gw, fn):
    api_id = http_api(gw)["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                                        PayloadFormatVersion="2.0")
    target = "integrations/" + integration["IntegrationId"]
    r = gw.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target=target)
    assert r["RouteKey"] == "GET /items/{id}" and r["AuthorizationType"] == "NONE" and r["Target"] == target
    assert r["ApiKeyRequired"] is False and len(r["RouteId"]) == 7
    assert gw.get_route(ApiId=api_id, RouteId=r["RouteId"])["RouteKey"] == "GET /items/{id}"
    for key in ("ANY /x/{proxy+}", "$default"):
        gw.create_route(ApiId=api_id, RouteKey=key)
    keys = sorted(x["RouteKey"] for x in gw.get_routes(ApiId=api_id)["Items"])
    assert keys == ["$default", "ANY /x/{proxy+}", "GET /items/{id}"]
    code, message, status = error_of(gw.create_route, ApiId=api_id, RouteKey="GET /items/{id}")
    assert (code, status) == ("ConflictException", 409), message
    for bad in ("GET items", "FETCH /x", "GET /{proxy+}/x", "GET /a//b", "GET /{a}/{a}"):
        assert error_of(gw.create_route, ApiId=api_id, RouteKey=bad)[0] == "BadRequestException", bad
    assert error_of(gw.create_route, ApiId=api_id, RouteKey="GET /t", Target="integrations/nosuch")[0] == "BadRequestException"
    assert error_of(gw.create_route, ApiId=api_id, RouteKey="GET /t", AuthorizationType="JWT")[0] == "BadRequestException"
    assert error_of(gw.create_route, ApiId=api_id, RouteKey="GET /t", AuthorizationType="JWT", AuthorizerId="nosuch")[0] == "BadRequestException"
    assert error_of(gw.create_route, ApiId=api_id, RouteKey="GET /t", AuthorizationScopes=["a"])[0] == "BadRequestException"
    u = gw.update_route(ApiId=api_id, RouteId=r["RouteId"], RouteKey="GET /things/{id}", AuthorizationType="AWS_IAM")
    assert u["RouteKey"] == "GET /things/{id}" and u["AuthorizationType"] == "AWS_IAM" and u["Target"] == target
    # The old key is free again, the new one taken.
    gw.create_route(ApiId=api_id, RouteKey="GET /items/{id}")
    assert error_of(gw.create_route, ApiId=api_id, RouteKey="GET /things/{id}")[0] == "ConflictException"
    gw.delete_route(ApiId=api_id, RouteId=r["RouteId"])
    assert error_of(gw.get_route, ApiId=api_id, RouteId=r["RouteId"])[0] == "NotFoundException"
    assert error_of(gw.get_routes, ApiId="nosuchapi1")[0] == "NotFoundException"


def test_integrations(gw, fn, server):
    api_id = http_api(gw)["ApiId"]
    i = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                              PayloadFormatVersion="1.0", TimeoutInMillis=5000, Description="d")
    assert i["IntegrationType"] == "AWS_PROXY" and i["IntegrationUri"] == fn
    assert i["PayloadFormatVersion"] == "1.0" and i["TimeoutInMillis"] == 5000
    assert i["ConnectionType"] == "INTERNET" and i["IntegrationMethod"] == "POST"
    got = gw.get_integration(ApiId=api_id, IntegrationId=i["IntegrationId"])
    assert got["IntegrationUri"] == fn
    assert [x["IntegrationId"] for x in gw.get_integrations(ApiId=api_id)["Items"]] == [i["IntegrationId"]]
    wrapped = f"arn:aws:apigateway:{server.region}:lambda:path/2015-03-31/functions/{fn}/invocations"
    assert gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=wrapped,
                                 PayloadFormatVersion="2.0")["TimeoutInMillis"] == 30000
    for kwargs in (
        {"IntegrationType": "HTTP_PROXY", "IntegrationUri": "https://example.com", "PayloadFormatVersion": "1.0"},
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": fn},
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": fn, "PayloadFormatVersion": "3.0"},
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": fn.replace(fn.split(":")[4], "999999999999"), "PayloadFormatVersion": "2.0"},
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": fn, "PayloadFormatVersion": "2.0", "TimeoutInMillis": 30001},
    ):
        assert error_of(gw.create_integration, ApiId=api_id, **kwargs)[0] == "BadRequestException", kwargs
    u = gw.update_integration(ApiId=api_id, IntegrationId=i["IntegrationId"], PayloadFormatVersion="2.0",
                              TimeoutInMillis=1000, Description="e")
    assert (u["PayloadFormatVersion"], u["TimeoutInMillis"], u["Description"]) == ("2.0", 1000, "e")
    assert u["IntegrationUri"] == fn
    assert gw.get_integration(ApiId=api_id, IntegrationId=i["IntegrationId"])["TimeoutInMillis"] == 1000
    assert error_of(server.client("apigatewayv2", config=NO_VALIDATION).update_integration, ApiId=api_id,
                    IntegrationId=i["IntegrationId"], TimeoutInMillis=10)[0] == "BadRequestException"
    assert error_of(gw.update_integration, ApiId=api_id, IntegrationId=i["IntegrationId"],
                    IntegrationUri="arn:aws:lambda:eu-west-1:123456789012:function:f")[0] == "BadRequestException"
    route = gw.create_route(ApiId=api_id, RouteKey="GET /a", Target="integrations/" + i["IntegrationId"])
    assert error_of(gw.delete_integration, ApiId=api_id, IntegrationId=i["IntegrationId"])[0] == "BadRequestException"
    gw.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    gw.delete_integration(ApiId=api_id, IntegrationId=i["IntegrationId"])
    assert error_of(gw.get_integration, ApiId=api_id, IntegrationId=i["IntegrationId"])[0] == "NotFoundException"


def test_authorizers(gw, server):
    api_id = http_api(gw)["ApiId"]
    issuer = "https://issuer.example.com/pool"
    a = gw.create_authorizer(ApiId=api_id, AuthorizerType="JWT", Name="jwt",
                             IdentitySource=["$request.header.Authorization"],
                             JwtConfiguration={"Issuer": issuer, "Audience": ["client-1"]})
    assert a["AuthorizerType"] == "JWT" and a["JwtConfiguration"] == {"Issuer": issuer, "Audience": ["client-1"]}
    assert a["IdentitySource"] == ["$request.header.Authorization"] and a["Name"] == "jwt"
    assert gw.get_authorizer(ApiId=api_id, AuthorizerId=a["AuthorizerId"])["Name"] == "jwt"
    assert len(gw.get_authorizers(ApiId=api_id)["Items"]) == 1
    for kwargs in (
        {"AuthorizerType": "REQUEST", "IdentitySource": ["$request.header.Authorization"], "Name": "r",
         "AuthorizerUri": "arn:aws:lambda:x"},
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"], "Name": "j",
         "JwtConfiguration": {"Audience": ["a"]}},
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"], "Name": "j",
         "JwtConfiguration": {"Issuer": issuer}},
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"], "Name": "j",
         "JwtConfiguration": {"Issuer": "http://issuer.example.com", "Audience": ["a"]}},
        {"AuthorizerType": "JWT", "IdentitySource": ["Authorization"], "Name": "j",
         "JwtConfiguration": {"Issuer": issuer, "Audience": ["a"]}},
    ):
        assert error_of(gw.create_authorizer, ApiId=api_id, **kwargs)[0] == "BadRequestException", kwargs
    u = gw.update_authorizer(ApiId=api_id, AuthorizerId=a["AuthorizerId"], Name="renamed",
                             JwtConfiguration={"Audience": ["client-2"]})
    assert u["Name"] == "renamed" and u["JwtConfiguration"] == {"Issuer": issuer, "Audience": ["client-2"]}
    assert gw.get_authorizer(ApiId=api_id, AuthorizerId=a["AuthorizerId"])["JwtConfiguration"]["Audience"] == ["client-2"]
    for kwargs in ({"AuthorizerType": "REQUEST"}, {"JwtConfiguration": {"Issuer": "http://issuer.example.com"}},
                   {"IdentitySource": ["Authorization"]}):
        assert error_of(gw.update_authorizer, ApiId=api_id, AuthorizerId=a["AuthorizerId"], **kwargs)[0] == "BadRequestException", kwargs
    route = gw.create_route(ApiId=api_id, RouteKey="GET /me", AuthorizationType="JWT",
                            AuthorizerId=a["AuthorizerId"], AuthorizationScopes=["admin"])
    assert route["AuthorizerId"] == a["AuthorizerId"] and route["AuthorizationScopes"] == ["admin"]
    code, message, _ = error_of(gw.delete_authorizer, ApiId=api_id, AuthorizerId=a["AuthorizerId"])
    assert code == "BadRequestException" and "GET /me" in message
    gw.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    gw.delete_authorizer(ApiId=api_id, AuthorizerId=a["AuthorizerId"])
    assert error_of(gw.get_authorizer, ApiId=api_id, AuthorizerId=a["AuthorizerId"])[0] == "NotFoundException"


def test_stages(gw):
    api_id = http_api(gw)["ApiId"]
    s = gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True,
                        DefaultRouteSettings={"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 50.0},
                        RouteSettings={"GET /a": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 2.5}},
                        StageVariables={"v1": "one"}, Tags={"t": "1"})
    assert s["StageName"] == "$default" and s["AutoDeploy"] is True
    assert s["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 10
    assert s["DefaultRouteSettings"]["ThrottlingRateLimit"] == 50.0
    assert s["RouteSettings"]["GET /a"]["ThrottlingRateLimit"] == 2.5
    assert s["StageVariables"] == {"v1": "one"} and s["Tags"] == {"t": "1"}
    gw.create_stage(ApiId=api_id, StageName="prod")
    assert sorted(x["StageName"] for x in gw.get_stages(ApiId=api_id)["Items"]) == ["$default", "prod"]
    assert gw.get_stage(ApiId=api_id, StageName="prod")["AutoDeploy"] is False
    assert error_of(gw.create_stage, ApiId=api_id, StageName="prod")[0] == "ConflictException"
    assert error_of(gw.create_stage, ApiId=api_id, StageName="bad name")[0] == "BadRequestException"
    assert error_of(gw.create_stage, ApiId=api_id, StageName="x", DeploymentId="abc")[0] == "NotFoundException"
    assert error_of(gw.create_stage, ApiId=api_id, StageName="y",
                    DefaultRouteSettings={"ThrottlingBurstLimit": -1})[0] == "BadRequestException"
    u = gw.update_stage(ApiId=api_id, StageName="prod", AutoDeploy=True, Description="p",
                        DefaultRouteSettings={"ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 1.0},
                        StageVariables={"v": "2"})
    assert u["AutoDeploy"] is True and u["Description"] == "p" and u["StageVariables"] == {"v": "2"}
    assert u["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 5 and u["LastUpdatedDate"] >= s["LastUpdatedDate"]
    assert gw.get_stage(ApiId=api_id, StageName="prod")["Description"] == "p"
    assert error_of(gw.update_stage, ApiId=api_id, StageName="nosuch", AutoDeploy=True)[0] == "NotFoundException"
    assert error_of(gw.update_stage, ApiId=api_id, StageName="prod", DeploymentId="abc")[0] == "BadRequestException"
    gw.delete_stage(ApiId=api_id, StageName="prod")
    assert error_of(gw.get_stage, ApiId=api_id, StageName="prod")[0] == "NotFoundException"


def test_delete_api_removes_everything_under_it(gw, fn):
    api_id = http_api(gw)["ApiId"]
    i = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn, PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api_id, RouteKey="GET /a", Target="integrations/" + i["IntegrationId"])
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    gw.delete_api(ApiId=api_id)
    for call_, kwargs in ((gw.get_routes, {}), (gw.get_integrations, {}), (gw.get_stages, {})):
        assert error_of(call_, ApiId=api_id, **kwargs)[0] == "NotFoundException"


# ---------------------------------------------------------------------------------------------
# Data plane


@pytest.fixture(scope="module")
def served(gw, fn):
    """An API with both payload formats, greedy and `$default` routes, on `$default` and
    `prod` stages."""
    api_id = http_api(gw)["ApiId"]
    v2 = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                               PayloadFormatVersion="2.0")["IntegrationId"]
    v1 = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                               PayloadFormatVersion="1.0")["IntegrationId"]
    fast = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                                 PayloadFormatVersion="2.0", TimeoutInMillis=1000)["IntegrationId"]
    for key, target in (("GET /items/{id}", v2), ("GET /items/special", v2), ("ANY /items/{id}", v2),
                        ("ANY /x/{proxy+}", v2), ("POST /v1/{thing}", v1), ("GET /t/slow", fast),
                        ("GET /iam", v2), ("$default", v2)):
        route = gw.create_route(ApiId=api_id, RouteKey=key, Target="integrations/" + target)
        if key == "GET /iam":
            gw.update_route(ApiId=api_id, RouteId=route["RouteId"], AuthorizationType="AWS_IAM")
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True, StageVariables={"color": "blue"})
    gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    gw.create_stage(ApiId=api_id, StageName="undeployed")
    return api_id


def test_v2_event(server, served):
    r = call(server, served, "/items/a%20b?x=1&x=2&y=", headers={"Cookie": "c1=1; c2=2", "X-Two": "a", "User-Agent": "ua/1"})
    assert r.status == 200, r.body
    assert r.headers["x-echo"] == "v2" and r.headers.get_all("set-cookie") == ["a=1; Path=/", "b=2"]
    assert r.headers["apigw-requestid"]
    e = r.json()
    assert e["version"] == "2.0" and e["routeKey"] == "GET /items/{id}"
    assert e["rawPath"] == "/items/a%20b" and e["rawQueryString"] == "x=1&x=2&y="
    assert e["pathParameters"] == {"id": "a b"}
    assert e["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert e["cookies"] == ["c1=1", "c2=2"] and "cookie" not in e["headers"]
    assert e["headers"]["x-two"] == "a" and e["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert e["stageVariables"] == {"color": "blue"} and e["isBase64Encoded"] is False and "body" not in e
    rc = e["requestContext"]
    assert rc["apiId"] == served and rc["stage"] == "$default" and rc["routeKey"] == "GET /items/{id}"
    assert rc["requestId"] == r.headers["apigw-requestid"]
    assert rc["http"] == {"method": "GET", "path": "/items/a b", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "ua/1"}
    assert rc["accountId"] == server.client("sts").get_caller_identity()["Account"]
    assert rc["domainPrefix"] == served and rc["domainName"].startswith(served + ".execute-api.")
    assert "authorizer" not in rc and isinstance(rc["timeEpoch"], int) and rc["time"].endswith("+0000")


def test_v1_event(server, served):
    r = call(server, served, "/v1/thing-1?a=1&a=2", method="POST", body='{"k": "v"}',
             headers={"Content-Type": "application/json", "X-Multi": "m"})
    assert r.status == 201, r.body
    assert r.headers["x-single"] == "s" and r.headers.get_all("x-multi") == ["1", "2"]
    e = r.json()
    assert e["version"] == "1.0" and e["resource"] == "/v1/{thing}" and e["path"] == "/v1/thing-1"
    assert e["httpMethod"] == "POST" and e["pathParameters"] == {"thing": "thing-1"}
    assert e["queryStringParameters"] == {"a": "2"} and e["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert e["multiValueHeaders"]["x-multi"] == ["m"] and e["headers"]["x-multi"] == "m"
    assert e["body"] == '{"k": "v"}' and e["isBase64Encoded"] is False
    assert e["requestContext"]["authorizer"] == {"claims": None, "scopes": None}
    assert e["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_route_selection(server, served):
    def route_of(path, method="GET"):
        r = call(server, served, path, method=method)
        assert r.status == 200, (path, r.status, r.body)
        return r.json()["routeKey"], r.json().get("pathParameters")

    assert route_of("/items/special") == ("GET /items/special", None)
    assert route_of("/items/7") == ("GET /items/{id}", {"id": "7"})
    assert route_of("/items/7", "DELETE") == ("ANY /items/{id}", {"id": "7"})
    assert route_of("/x/a/b/c", "PUT") == ("ANY /x/{proxy+}", {"proxy": "a/b/c"})
    assert route_of("/nowhere/at/all") == ("$default", None)
    assert route_of("/x") == ("$default", None)


def test_stages_and_addressing(server, served):
    # A named stage by path and by host: rawPath keeps the stage's segment.
    for by_host in (False, True):
        r = call(server, served, "/items/1", stage="prod", by_host=by_host)
        assert r.status == 200, r.body
        e = r.json()
        assert e["requestContext"]["stage"] == "prod" and e["rawPath"] == "/prod/items/1"
        assert "stageVariables" not in e
    r = call(server, served, "/items/1", by_host=True)
    assert r.json()["requestContext"]["stage"] == "$default"
    assert r.json()["requestContext"]["domainName"].startswith(served + ".execute-api.localhost")
    # A stage without a deployment serves nothing; an unknown first segment is the $default
    # stage's path.
    assert call(server, served, "/items/1", stage="undeployed").status == 404
    r = call(server, served, "/items/1", stage="nostage")
    assert r.status == 200 and r.json()["routeKey"] == "$default"


def test_simple_answers_and_failures(server, served):
    r = call(server, served, "/x/bare")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"bare": True, "path": "/x/bare"}
    r = call(server, served, "/x/fail")
    assert (r.status, r.json()) == (502, {"message": "Internal Server Error"})
    r = call(server, served, "/x/malformed")
    assert (r.status, r.json()) == (502, {"message": "Internal Server Error"})
    r = call(server, served, "/t/slow")
    assert (r.status, r.json()) == (503, {"message": "Service Unavailable"})
    # Routes this host cannot authorize yet are refused, never served.
    r = call(server, served, "/iam")
    assert (r.status, r.json()) == (403, {"message": "Forbidden"})


def test_not_found(server, served, gw):
    assert call(server, "nosuchapi1", "/items/1").status == 404
    assert call(server, "nosuchapi1", "/items/1").json() == {"message": "Not Found"}
    bare = http_api(gw)["ApiId"]
    assert call(server, bare, "/").status == 404  # no stage
    gw.create_stage(ApiId=bare, StageName="$default", AutoDeploy=True)
    assert call(server, bare, "/").status == 404  # no route
    gw.create_route(ApiId=bare, RouteKey="GET /a")
    assert call(server, bare, "/a").status == 404  # a route without an integration


def test_heads_over_api_gateways_quota(server, served):
    """API Gateway's quota on the request line and header values together (10240 bytes): a
    request line over it alone is 414, header values taking it over are 431 — both before any
    route or function sees the request; just under it is served."""
    # `GET /items/<id> HTTP/1.1` on the `$default` stage: 4 + 7 + len(id) + 9 bytes of line.
    fits = "a" * (10240 - len("GET /items/ HTTP/1.1") - 200)
    assert call(server, served, "/items/" + fits, by_host=True).status == 200
    long = call(server, served, "/items/" + "a" * 10240, by_host=True)
    assert long.status == 414 and long.json() == {"message": "Request-URI Too Long"}
    big = call(server, served, "/items/1", by_host=True, headers={"x-big": "v" * 10240})
    assert big.status == 431 and big.json() == {"message": "Request Header Fields Too Large"}
    assert call(server, served, "/items/1", by_host=True, headers={"x-ok": "v" * 8000}).status == 200


def test_function_deleted_meanwhile(server, gw):
    fn = create_function(server)
    api_id = http_api(gw)["ApiId"]
    i = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn, PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api_id, RouteKey="$default", Target="integrations/" + i["IntegrationId"])
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert call(server, api_id, "/").status == 200
    server.client("lambda").delete_function(FunctionName=fn)
    r = call(server, api_id, "/")
    assert (r.status, r.json()) == (500, {"message": "Internal Server Error"})


def test_the_function_policy_decides_whether_the_gateway_may_invoke(server, gw):
    """As on AWS: without `lambda add-permission --principal apigateway.amazonaws.com` the
    route answers 500 and the function never runs; a permission for another API changes nothing;
    one whose SourceArn covers this API's route lets it through."""
    fn = create_function(server, source_arn=None)
    api_id = http_api(gw)["ApiId"]
    i = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn, PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api_id, RouteKey="GET /guarded", Target="integrations/" + i["IntegrationId"])
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    r = call(server, api_id, "/guarded")
    assert (r.status, r.json()) == (500, {"message": "Internal Server Error"})
    allow_gateway(server, fn, "otherapi01/*/*/guarded")
    assert call(server, api_id, "/guarded").status == 500
    allow_gateway(server, fn, f"{api_id}/*/GET/guarded")
    r = call(server, api_id, "/guarded")
    assert r.status == 200 and r.json()["routeKey"] == "GET /guarded"


def test_throttling(server, gw):
    """Rate 50/s, burst 10: a burst of 200 requests is admitted as the bucket allows, the rest
    answered 429; a route set to zero admits nothing. Admitted requests reach a route without
    an integration (404), so no function runs."""
    api_id = http_api(gw)["ApiId"]
    for key in ("GET /t", "GET /closed"):
        gw.create_route(ApiId=api_id, RouteKey=key)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True,
                    DefaultRouteSettings={"ThrottlingRateLimit": 50.0, "ThrottlingBurstLimit": 10},
                    RouteSettings={"GET /closed": {"ThrottlingRateLimit": 0.0, "ThrottlingBurstLimit": 0}})
    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: call(server, api_id, "/t"), range(200)))
    elapsed = time.monotonic() - start
    statuses = [r.status for r in replies]
    admitted, throttled = statuses.count(404), statuses.count(429)
    assert admitted + throttled == 200, statuses
    bucket = min(200, 10 + 50 * elapsed)
    assert 10 <= admitted <= bucket + 1, (admitted, elapsed)
    assert admitted >= 0.8 * bucket - 2, (admitted, elapsed)
    assert next(r for r in replies if r.status == 429).json() == {"message": "Too Many Requests"}
    for _ in range(3):
        r = call(server, api_id, "/closed")
        assert (r.status, r.json()) == (429, {"message": "Too Many Requests"})
    # UpdateStage changes what is enforced: the closed route opens, the stage stops serving.
    gw.update_stage(ApiId=api_id, StageName="$default", RouteSettings={})
    assert call(server, api_id, "/closed").status == 404
    gw.update_stage(ApiId=api_id, StageName="$default", AutoDeploy=False)
    r = call(server, api_id, "/closed")
    assert r.status == 404 and r.json() == {"message": "Not Found"}


def test_cors(server, gw, fn):
    cors = {"AllowOrigins": ["https://app.example.com", "https://*.example.org"], "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["authorization"], "ExposeHeaders": ["x-echo"], "MaxAge": 600, "AllowCredentials": True}
    created = http_api(gw, CorsConfiguration=cors)
    api_id = created["ApiId"]
    assert created["CorsConfiguration"] == cors
    assert gw.get_api(ApiId=api_id)["CorsConfiguration"] == cors
    i = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn, PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target="integrations/" + i["IntegrationId"])
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    # A preflight is the gateway's: no OPTIONS route exists.
    r = call(server, api_id, "/items/1", method="OPTIONS",
             headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
    assert r.status == 204
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-allow-methods"] == "GET,POST"
    assert r.headers["access-control-allow-headers"] == "authorization"
    assert r.headers["access-control-max-age"] == "600" and r.headers["access-control-allow-credentials"] == "true"
    r = call(server, api_id, "/items/1", method="OPTIONS",
             headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"})
    assert r.status == 204 and "access-control-allow-origin" not in r.headers
    r = call(server, api_id, "/items/1", headers={"Origin": "https://a.example.org"})
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == "https://a.example.org"
    assert r.headers["access-control-expose-headers"] == "x-echo"
    r = call(server, api_id, "/items/1", headers={"Origin": "https://evil.example.com"})
    assert r.status == 200 and "access-control-allow-origin" not in r.headers
    updated = gw.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["*"]})
    assert updated["CorsConfiguration"]["AllowOrigins"] == ["*"]
    r = call(server, api_id, "/items/1", headers={"Origin": "https://anyone.example"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert error_of(gw.update_api, ApiId=api_id, CorsConfiguration={"AllowOrigins": ["*"], "AllowCredentials": True})[0] == "BadRequestException"
    assert error_of(gw.update_api, ApiId=api_id, CorsConfiguration={"MaxAge": 90000})[0] == "BadRequestException"
    gw.delete_cors_configuration(ApiId=api_id)
    assert "CorsConfiguration" not in gw.get_api(ApiId=api_id)
    r = call(server, api_id, "/items/1", method="OPTIONS",
             headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert r.status == 404  # no CORS, no OPTIONS route


def test_quick_create(server, gw, fn):
    api_id = http_api(gw, Target=fn)["ApiId"]
    routes = gw.get_routes(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]
    (integration,) = gw.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationType"] == "AWS_PROXY" and integration["IntegrationUri"] == fn
    assert integration["PayloadFormatVersion"] == "2.0" and routes[0]["Target"] == "integrations/" + integration["IntegrationId"]
    (stage,) = gw.get_stages(ApiId=api_id)["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    r = call(server, api_id, "/anything/at/all")
    assert r.status == 200 and r.json()["routeKey"] == "$default"
    keyed = http_api(gw, Target=fn, RouteKey="GET /hello")["ApiId"]
    assert call(server, keyed, "/hello").json()["routeKey"] == "GET /hello"
    assert call(server, keyed, "/other").status == 404
    for kwargs in ({"RouteKey": "GET /x"}, {"Target": fn, "RouteKey": "GET nope"},
                   {"Target": fn, "CredentialsArn": "arn:aws:iam::123456789012:role/r"}):
        assert error_of(gw.create_api, Name="q", ProtocolType="HTTP", **kwargs)[0] == "BadRequestException", kwargs
    assert error_of(gw.update_api, ApiId=api_id, Target=fn)[0] == "BadRequestException"


def test_quotas(gw):
    """An API holds at most 10 stages and 10 authorizers (and 300 routes and integrations)."""
    api_id = http_api(gw)["ApiId"]
    for i in range(10):
        gw.create_stage(ApiId=api_id, StageName=f"s{i}")
        gw.create_authorizer(ApiId=api_id, AuthorizerType="JWT", Name=f"a{i}", IdentitySource=["$request.header.Authorization"],
                             JwtConfiguration={"Issuer": "https://issuer.example.com", "Audience": ["a"]})
    code, message, _ = error_of(gw.create_stage, ApiId=api_id, StageName="s10")
    assert code == "BadRequestException" and "10 stages" in message
    code, message, _ = error_of(gw.create_authorizer, ApiId=api_id, AuthorizerType="JWT", Name="a10",
                                IdentitySource=["$request.header.Authorization"],
                                JwtConfiguration={"Issuer": "https://issuer.example.com", "Audience": ["a"]})
    assert code == "BadRequestException" and "10 authorizers" in message
