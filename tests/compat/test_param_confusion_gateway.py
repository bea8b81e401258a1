"""Parameter confusion in API Gateway: an operation authorized for API A can never act on API
B, whatever it carries. The cases and their requests: confusion_gateway.py.

1. For EVERY operation in the server's `gateway_operations!` table (a test fails if the table
   and this suite drift apart), the request aimed at the victim B (its id and its children's
   in the path) is denied — also with the caller's own API named in the query, the body or a
   header.
2. Requests aimed at the caller's own API A that name B's children — B's route, integration or
   authorizer id in the path, B's integration as a route's target, B's authorizer as its
   authorizer — find nothing: Not Found or Bad Request, never B's.
3. B is unchanged by all of it (and the snapshot is shown to catch each kind of change).
4. Positive controls: the caller manages its own API.
"""

import signal
import sys
import uuid

import pytest

from confusion_cases import differences, make_caller
from confusion_gateway import (
    COLLECTION_OPS, GATEWAY_CASES, GATEWAY_CASES_BY_OP, ApiIds, caller_policy, decoy_members, p, send,
    snapshot, table_operations,
)
from conftest import start_server
from gateway_support import create_function, http_api


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("gateway-confusion") / "data", ["--functions-python", sys.executable])
    yield srv
    srv.kill(signal.SIGTERM)


ISSUER = "https://issuer.example.com/pool"


def full_api(gw, fn):
    """An API with a JWT route and a CUSTOM route on its integration, a JWT and a REQUEST
    authorizer, a model of a name of its own, a `$default` stage (AutoDeploy) and a `fixed` one
    serving a deployment."""
    api = http_api(gw, CorsConfiguration={"AllowOrigins": ["https://app.example.com"], "AllowMethods": ["GET"]})["ApiId"]
    integration = gw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    authorizer = gw.create_authorizer(ApiId=api, AuthorizerType="JWT", Name="jwt",
                                      IdentitySource=["$request.header.Authorization"],
                                      JwtConfiguration={"Issuer": ISSUER, "Audience": ["aud"]})["AuthorizerId"]
    route = gw.create_route(ApiId=api, RouteKey="GET /r/{id}", Target="integrations/" + integration,
                            AuthorizationType="JWT", AuthorizerId=authorizer)["RouteId"]
    request_authorizer = gw.create_authorizer(ApiId=api, AuthorizerType="REQUEST", Name="lambda",
                                              IdentitySource=["$request.header.X-Token"], AuthorizerUri=fn,
                                              AuthorizerPayloadFormatVersion="2.0",
                                              EnableSimpleResponses=True)["AuthorizerId"]
    gw.create_route(ApiId=api, RouteKey="GET /custom", Target="integrations/" + integration,
                    AuthorizationType="CUSTOM", AuthorizerId=request_authorizer)
    model = gw.create_model(ApiId=api, Name="M" + api, Schema='{"type": "object"}')["ModelId"]
    gw.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    gw.create_stage(ApiId=api, StageName="fixed")
    deployment = gw.create_deployment(ApiId=api, StageName="fixed", Description="d")["DeploymentId"]
    return ApiIds(api=api, route=route, integration=integration, authorizer=authorizer,
                  request_authorizer=request_authorizer, deployment=deployment, model=model,
                  model_name="M" + api)


@pytest.fixture(scope="module")
def world(server):
    gw = server.client("apigatewayv2")
    fn = create_function(server)
    own, victim = full_api(gw, fn), full_api(gw, fn)
    caller = make_caller(server.client("iam"), f"cv-gw-{uuid.uuid4().hex[:8]}", caller_policy(server.region, own.api))
    return {"gw": gw, "fn": fn, "own": own, "victim": victim, "caller": caller,
            "before": snapshot(gw, victim)}


def denied(r):
    return r.code == "AccessDeniedException" and r.status == 403


def test_table_covers_every_operation():
    ops = table_operations()
    assert len(ops) == len(set(ops)) and len(ops) >= 26
    assert set(ops) == {c.op for c in GATEWAY_CASES}


@pytest.mark.parametrize("op", [c.op for c in GATEWAY_CASES])
def test_victim_request_is_denied(server, world, op):
    v = world["victim"]
    method, path, body = GATEWAY_CASES_BY_OP[op].request(v, v, world["fn"], ISSUER)
    r = send(server, world["caller"], method, path, body=body)
    assert denied(r), f"{op} on the victim: {r}"


DECOY_CASES = [(c.op, place) for c in GATEWAY_CASES for place in ("query-apiId", "body-apiId", "header-api")]


@pytest.mark.parametrize("op,place", DECOY_CASES, ids=[f"{o}+{pl}" for o, pl in DECOY_CASES])
def test_own_api_named_elsewhere_grants_nothing(server, world, op, place):
    v, own = world["victim"], world["own"]
    method, path, body = GATEWAY_CASES_BY_OP[op].request(v, v, world["fn"], ISSUER)
    where, extra = decoy_members(own)[place]
    query, headers = None, None
    if where == "query":
        query = extra
    elif where == "body":
        body = {**(body or {}), **extra}
    else:
        headers = extra
    r = send(server, world["caller"], method, path, query=query, body=body, headers=headers)
    assert denied(r), f"{op} on the victim with the caller's API in {place}: {r}"


# Operations whose path names a child: aimed at the caller's API with the victim's child id.
CHILD_OPS = ["GetRoute", "UpdateRoute", "DeleteRoute", "GetIntegration", "UpdateIntegration", "DeleteIntegration",
             "GetAuthorizer", "UpdateAuthorizer", "DeleteAuthorizer", "GetDeployment", "UpdateDeployment",
             "DeleteDeployment", "GetModel", "GetModelTemplate", "UpdateModel", "DeleteModel"]


@pytest.mark.parametrize("op", CHILD_OPS)
def test_victims_child_under_own_api_is_not_found(server, world, op):
    own, v = world["own"], world["victim"]
    mixed = ApiIds(api=own.api, route=v.route, integration=v.integration, authorizer=v.authorizer,
                   deployment=v.deployment, model=v.model)
    method, path, body = GATEWAY_CASES_BY_OP[op].request(mixed, v, world["fn"], ISSUER)
    r = send(server, world["caller"], method, path, body=body)
    assert r.code == "NotFoundException" and r.status == 404, f"{op}: {r}"


def test_victims_integration_and_authorizer_cannot_be_referenced(server, world):
    own, v, caller = world["own"], world["victim"], world["caller"]
    for body in (
        {"routeKey": "GET /x1", "target": "integrations/" + v.integration},
        {"routeKey": "GET /x2", "authorizationType": "JWT", "authorizerId": v.authorizer},
        {"routeKey": "GET /x3", "authorizationType": "CUSTOM", "authorizerId": v.request_authorizer},
        {"routeKey": "GET /x4", "requestModels": {"application/json": v.model_name}},
    ):
        r = send(server, caller, "POST", p(own.api, "routes"), body=body)
        assert r.code == "BadRequestException", f"{body}: {r}"
        r = send(server, caller, "PATCH", p(own.api, "routes", own.route), body={k: x for k, x in body.items() if k != "routeKey"})
        assert r.code == "BadRequestException", f"{body}: {r}"


def test_victims_deployment_cannot_be_served_by_own_stage(server, world):
    own, v, caller = world["own"], world["victim"], world["caller"]
    r = send(server, caller, "PATCH", p(own.api, "stages", "fixed"), body={"deploymentId": v.deployment})
    assert r.code == "NotFoundException", r
    r = send(server, caller, "POST", p(own.api, "stages"), body={"stageName": "stolen", "deploymentId": v.deployment})
    assert r.code == "NotFoundException", r


def test_victim_unchanged(server, world):
    after = snapshot(world["gw"], world["victim"])
    diff = differences(world["before"], after)
    assert not diff, "confusion requests changed the victim:\n" + "\n".join(diff)


def test_snapshot_detects_each_kind_of_change(server, world):
    gw = world["gw"]
    scratch = full_api(gw, world["fn"])
    changes = [
        ("api renamed", lambda: gw.update_api(ApiId=scratch.api, Name="renamed")),
        ("cors removed", lambda: gw.delete_cors_configuration(ApiId=scratch.api)),
        ("route changed", lambda: gw.update_route(ApiId=scratch.api, RouteId=scratch.route, RouteKey="GET /changed")),
        ("route added", lambda: gw.create_route(ApiId=scratch.api, RouteKey="GET /added")),
        ("stage added", lambda: gw.create_stage(ApiId=scratch.api, StageName="added")),
        ("authorizer changed", lambda: gw.update_authorizer(ApiId=scratch.api, AuthorizerId=scratch.authorizer,
                                                            JwtConfiguration={"Audience": ["changed"]})),
        ("stage changed", lambda: gw.update_stage(ApiId=scratch.api, StageName="$default", AutoDeploy=False)),
        ("integration changed", lambda: gw.update_integration(ApiId=scratch.api, IntegrationId=scratch.integration,
                                                              TimeoutInMillis=50)),
        ("authorizer added", lambda: gw.create_authorizer(ApiId=scratch.api, AuthorizerType="JWT", Name="b",
                                                          IdentitySource=["$request.header.Authorization"],
                                                          JwtConfiguration={"Issuer": ISSUER, "Audience": ["b"]})),
        ("integration added", lambda: gw.create_integration(ApiId=scratch.api, IntegrationType="AWS_PROXY",
                                                            IntegrationUri=world["fn"], PayloadFormatVersion="1.0")),
        ("deployment added", lambda: gw.create_deployment(ApiId=scratch.api)),
        ("deployment changed", lambda: gw.update_deployment(ApiId=scratch.api, DeploymentId=scratch.deployment,
                                                            Description="changed")),
        ("model changed", lambda: gw.update_model(ApiId=scratch.api, ModelId=scratch.model, Description="changed")),
        ("model added", lambda: gw.create_model(ApiId=scratch.api, Name="Added", Schema="{}")),
        ("api deleted", lambda: gw.delete_api(ApiId=scratch.api)),
    ]
    for what, do in changes:
        base = snapshot(gw, scratch)
        assert not differences(base, snapshot(gw, scratch)), f"unstable before: {what}"
        do()
        assert differences(base, snapshot(gw, scratch)), f"the snapshot missed: {what}"


def test_positive_controls_on_own_api(server, world):
    own, v, caller = world["own"], world["victim"], world["caller"]
    before = snapshot(world["gw"], v)
    r = send(server, caller, "GET", p(own.api), query=[("apiId", v.api)])
    assert r.ok and r.json()["apiId"] == own.api, r
    r = send(server, caller, "GET", p(own.api, "routes", own.route))
    assert r.ok and r.json()["routeId"] == own.route, r
    r = send(server, caller, "POST", p(own.api, "routes"),
             body={"routeKey": "GET /mine", "target": "integrations/" + own.integration, "apiId": v.api})
    assert r.status == 201, r
    route = r.json()["routeId"]
    r = send(server, caller, "PATCH", p(own.api, "routes", route), body={"authorizationType": "JWT", "authorizerId": own.authorizer})
    assert r.ok and r.json()["authorizerId"] == own.authorizer, r
    r = send(server, caller, "DELETE", p(own.api, "routes", route))
    assert r.status == 204, r
    for op in COLLECTION_OPS:
        method, path, body = GATEWAY_CASES_BY_OP[op].request(own, own, world["fn"], ISSUER)
        assert denied(send(server, caller, method, path, body=body)), op
    assert not differences(before, snapshot(world["gw"], v))
