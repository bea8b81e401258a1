"""API Gateway v2 deployments through boto3: a stage without AutoDeploy answers 404 until a
deployment is made for it, then serves exactly that deployment's snapshot — a route retargeted
or added later does not reach it until the next deployment —, CreateDeployment with and without
StageName, UpdateStage's DeploymentId, GetDeployment(s) with paging, UpdateDeployment,
DeleteDeployment refused while a stage points at it, and AutoDeploy stages following every
change with an automatic deployment, as GetStage and GetDeployments show on AWS; every change
made through a node is served from its next request on (every write empties the data plane's
per-node cache)."""

import signal
import sys

import pytest

from conftest import start_server
from gateway_support import call, create_function, error_of, http_api

ANSWER = '''
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "%s"}
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("gateway-deployments") / "data",
                       ["--functions-python", sys.executable])
    yield srv
    srv.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def gw(server):
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def fns(server):
    """Two functions that say which one answered."""
    return {name: create_function(server, source=ANSWER % name) for name in ("one", "two")}


def integration(gw, api_id, fn):
    return gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                                 PayloadFormatVersion="2.0")["IntegrationId"]


def text(server, api_id, path, stage="prod"):
    r = call(server, api_id, path, stage=stage)
    return r.status, r.body.decode()


def test_a_stage_serves_its_deployment_until_the_next(server, gw, fns):
    api_id = http_api(gw)["ApiId"]
    one, two = integration(gw, api_id, fns["one"]), integration(gw, api_id, fns["two"])
    assert error_of(gw.create_deployment, ApiId=api_id)[0] == "BadRequestException"  # no routes yet
    route = gw.create_route(ApiId=api_id, RouteKey="GET /a", Target="integrations/" + one)["RouteId"]
    stage = gw.create_stage(ApiId=api_id, StageName="prod")
    assert stage["AutoDeploy"] is False and "DeploymentId" not in stage
    assert text(server, api_id, "/a") == (404, '{"message":"Not Found"}')

    first = gw.create_deployment(ApiId=api_id, StageName="prod", Description="first")
    assert first["DeploymentStatus"] == "DEPLOYED" and first["AutoDeployed"] is False
    assert first["Description"] == "first" and first["CreatedDate"].year >= 2024
    assert gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == first["DeploymentId"]
    assert text(server, api_id, "/a") == (200, "one")

    # Changes reach the stage only with the next deployment.
    gw.update_route(ApiId=api_id, RouteId=route, Target="integrations/" + two)
    gw.create_route(ApiId=api_id, RouteKey="GET /b", Target="integrations/" + two)
    assert text(server, api_id, "/a") == (200, "one")
    assert text(server, api_id, "/b")[0] == 404
    second = gw.create_deployment(ApiId=api_id)  # made, not yet served
    assert text(server, api_id, "/a") == (200, "one")
    updated = gw.update_stage(ApiId=api_id, StageName="prod", DeploymentId=second["DeploymentId"])
    assert updated["DeploymentId"] == second["DeploymentId"]
    assert text(server, api_id, "/a") == (200, "two")
    assert text(server, api_id, "/b") == (200, "two")
    # Rolling back is pointing the stage back.
    gw.update_stage(ApiId=api_id, StageName="prod", DeploymentId=first["DeploymentId"])
    assert text(server, api_id, "/a") == (200, "one") and text(server, api_id, "/b")[0] == 404

    ids = {d["DeploymentId"] for d in gw.get_deployments(ApiId=api_id)["Items"]}
    assert ids == {first["DeploymentId"], second["DeploymentId"]}
    got = gw.get_deployment(ApiId=api_id, DeploymentId=second["DeploymentId"])
    assert got["DeploymentStatus"] == "DEPLOYED" and "Description" not in got
    assert gw.update_deployment(ApiId=api_id, DeploymentId=second["DeploymentId"],
                                Description="later")["Description"] == "later"
    assert gw.get_deployment(ApiId=api_id, DeploymentId=second["DeploymentId"])["Description"] == "later"

    # A deployment a stage points at cannot be deleted; one no stage points at can.
    code, message, status = error_of(gw.delete_deployment, ApiId=api_id, DeploymentId=first["DeploymentId"])
    assert (code, status) == ("BadRequestException", 400) and "stages" in message
    gw.delete_deployment(ApiId=api_id, DeploymentId=second["DeploymentId"])
    assert error_of(gw.get_deployment, ApiId=api_id, DeploymentId=second["DeploymentId"])[0] == "NotFoundException"
    assert text(server, api_id, "/a") == (200, "one")
    gw.delete_stage(ApiId=api_id, StageName="prod")
    gw.delete_deployment(ApiId=api_id, DeploymentId=first["DeploymentId"])
    assert gw.get_deployments(ApiId=api_id)["Items"] == []


def test_deployment_refusals_and_paging(gw, fns):
    api_id = http_api(gw)["ApiId"]
    one = integration(gw, api_id, fns["one"])
    gw.create_route(ApiId=api_id, RouteKey="GET /a", Target="integrations/" + one)
    assert error_of(gw.create_deployment, ApiId=api_id, StageName="nosuch")[0] == "NotFoundException"
    assert error_of(gw.create_stage, ApiId=api_id, StageName="s", DeploymentId="nosuch1")[0] == "NotFoundException"
    made = [gw.create_deployment(ApiId=api_id, Description=str(i))["DeploymentId"] for i in range(3)]
    gw.create_stage(ApiId=api_id, StageName="auto", AutoDeploy=True)
    # An AutoDeploy stage's deployments are made for it.
    assert error_of(gw.create_deployment, ApiId=api_id, StageName="auto")[0] == "BadRequestException"
    assert error_of(gw.update_stage, ApiId=api_id, StageName="auto", DeploymentId=made[0])[0] == "BadRequestException"
    other = http_api(gw)["ApiId"]
    # Another API's deployment is not found under this one.
    assert error_of(gw.get_deployment, ApiId=other, DeploymentId=made[0])[0] == "NotFoundException"
    assert error_of(gw.create_stage, ApiId=other, StageName="s", DeploymentId=made[0])[0] == "NotFoundException"
    seen, token = [], None
    while True:
        page = gw.get_deployments(ApiId=api_id, MaxResults="2", **({"NextToken": token} if token else {}))
        assert len(page["Items"]) <= 2
        seen += [d["DeploymentId"] for d in page["Items"]]
        token = page.get("NextToken")
        if not token:
            break
    assert set(made) <= set(seen) and len(seen) == len(set(seen)) == 4
    assert error_of(gw.get_deployment, ApiId=api_id, DeploymentId="UPPER")[0] == "NotFoundException"


def test_auto_deploy_stages_follow_every_change(server, gw, fns):
    api_id = http_api(gw)["ApiId"]
    one, two = integration(gw, api_id, fns["one"]), integration(gw, api_id, fns["two"])
    route = gw.create_route(ApiId=api_id, RouteKey="GET /a", Target="integrations/" + one)["RouteId"]
    stage = gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    first = stage["DeploymentId"]
    assert stage["LastDeploymentStatusMessage"] == f"Successfully deployed stage with deployment ID '{first}'"
    (auto,) = gw.get_deployments(ApiId=api_id)["Items"]
    assert auto["DeploymentId"] == first and auto["AutoDeployed"] is True
    assert text(server, api_id, "/a") == (200, "one")

    gw.update_route(ApiId=api_id, RouteId=route, Target="integrations/" + two)
    assert text(server, api_id, "/a") == (200, "two")
    now = gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"]
    assert now != first
    # The superseded automatic deployment is gone; the current one is what the stage serves.
    assert [d["DeploymentId"] for d in gw.get_deployments(ApiId=api_id)["Items"]] == [now]
    assert error_of(gw.delete_deployment, ApiId=api_id, DeploymentId=now)[0] == "BadRequestException"

    # Turned off, the stage keeps serving its last deployment.
    off = gw.update_stage(ApiId=api_id, StageName="prod", AutoDeploy=False)
    assert off["DeploymentId"] == now and "LastDeploymentStatusMessage" not in off
    gw.update_route(ApiId=api_id, RouteId=route, Target="integrations/" + one)
    assert text(server, api_id, "/a") == (200, "two")
    # Turned on again, it follows at once.
    on = gw.update_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    assert on["DeploymentId"] != now
    assert text(server, api_id, "/a") == (200, "one")
    assert [d["DeploymentId"] for d in gw.get_deployments(ApiId=api_id)["Items"]] == [on["DeploymentId"]]


def test_quick_create_deploys_its_default_stage(server, gw, fns):
    api = gw.create_api(Name="quick", ProtocolType="HTTP", Target=fns["one"])
    stage = gw.get_stage(ApiId=api["ApiId"], StageName="$default")
    assert stage["AutoDeploy"] is True and stage["DeploymentId"]
    (d,) = gw.get_deployments(ApiId=api["ApiId"])["Items"]
    assert d["DeploymentId"] == stage["DeploymentId"] and d["AutoDeployed"] is True
    assert text(server, api["ApiId"], "/anything", stage=None) == (200, "one")


def test_every_change_through_this_node_is_served_at_once(server, gw, fns):
    """The data plane keeps what it reads for a few seconds; every change made through this
    node is served from the next request on, never what the change replaced."""
    api_id = http_api(gw)["ApiId"]
    one, two = integration(gw, api_id, fns["one"]), integration(gw, api_id, fns["two"])
    gw.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)

    def seen(path, stage="live"):
        # Twice: the second answer is the one read from memory.
        text(server, api_id, path, stage)
        return text(server, api_id, path, stage)

    assert seen("/a") == (404, '{"message":"Not Found"}')
    route = gw.create_route(ApiId=api_id, RouteKey="GET /a", Target="integrations/" + one)["RouteId"]
    assert seen("/a") == (200, "one")
    gw.update_route(ApiId=api_id, RouteId=route, Target="integrations/" + two)
    assert seen("/a") == (200, "two")
    gw.update_integration(ApiId=api_id, IntegrationId=two, IntegrationUri=fns["one"])
    assert seen("/a") == (200, "one")
    gw.update_route(ApiId=api_id, RouteId=route, RouteKey="GET /b")
    assert seen("/a")[0] == 404 and seen("/b") == (200, "one")
    gw.delete_route(ApiId=api_id, RouteId=route)
    assert seen("/b")[0] == 404

    # A stage's deployment, and the stage itself.
    gw.create_route(ApiId=api_id, RouteKey="GET /c", Target="integrations/" + two)
    gw.create_stage(ApiId=api_id, StageName="prod")
    assert seen("/c", "prod")[0] == 404
    gw.create_deployment(ApiId=api_id, StageName="prod")
    assert seen("/c", "prod") == (200, "one")
    gw.delete_stage(ApiId=api_id, StageName="prod")
    assert seen("/c", "prod")[0] == 404
    assert seen("/c") == (200, "one")
    gw.delete_api(ApiId=api_id)
    assert seen("/c")[0] == 404
