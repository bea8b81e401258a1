"""Request validation through API Gateway's Model API, driven by unmodified boto3: CreateModel
(a JSON Schema; one that does not compile is a BadRequest), GetModel(s), UpdateModel,
GetModelTemplate, DeleteModel (refused while a route names the model), and a route's
`RequestModels`. On the data plane a body that is not JSON is 400 `Invalid request body`, one
that does not match is 400 listing the errors, a valid one reaches the function — which is not
invoked on a refusal (it counts its own invocations in its warm environment). Models on HTTP
APIs are a Rampart extension (AWS has them for WebSocket APIs)."""

import json
import signal
import sys

import pytest

from conftest import start_server
from gateway_support import call, create_function, error_of, http_api

COUNTER = '''
import json
calls = 0

def handler(event, context):
    global calls
    calls += 1
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"calls": calls, "body": event.get("body")})}
'''

ITEM = json.dumps({
    "type": "object", "required": ["name", "qty"], "additionalProperties": False,
    "properties": {"name": {"type": "string", "maxLength": 16}, "qty": {"type": "integer", "minimum": 1}},
})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("gateway-models") / "data", ["--functions-python", sys.executable])
    yield srv
    srv.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def gw(server):
    return server.client("apigatewayv2")


def test_model_lifecycle(gw):
    api_id = http_api(gw)["ApiId"]
    made = gw.create_model(ApiId=api_id, Name="Item", Schema=ITEM, ContentType="application/json", Description="d")
    assert made["Name"] == "Item" and made["Schema"] == ITEM and made["ContentType"] == "application/json"
    model_id = made["ModelId"]
    assert gw.get_model(ApiId=api_id, ModelId=model_id)["Description"] == "d"
    assert [m["ModelId"] for m in gw.get_models(ApiId=api_id)["Items"]] == [model_id]
    template = gw.get_model_template(ApiId=api_id, ModelId=model_id)["Value"]
    assert "$inputRoot.name" in template and "$inputRoot.qty" in template
    assert error_of(gw.create_model, ApiId=api_id, Name="Item", Schema=ITEM)[0] == "ConflictException"
    code, message, status = error_of(gw.create_model, ApiId=api_id, Name="Bad", Schema='{"type": "nosuch"}')
    assert (code, status) == ("BadRequestException", 400) and "Invalid model schema" in message
    assert error_of(gw.create_model, ApiId=api_id, Name="Bad", Schema="{not json")[0] == "BadRequestException"
    assert error_of(gw.create_model, ApiId=api_id, Name="bad name", Schema=ITEM)[0] == "BadRequestException"
    # A remote reference would be fetched at compile time: refused, never fetched.
    remote = json.dumps({"$ref": "http://127.0.0.1:9/x.json"})
    assert error_of(gw.create_model, ApiId=api_id, Name="Remote", Schema=remote)[0] == "BadRequestException"
    updated = gw.update_model(ApiId=api_id, ModelId=model_id, Description="e")
    assert updated["Description"] == "e" and updated["Schema"] == ITEM
    assert error_of(gw.update_model, ApiId=api_id, ModelId=model_id, Schema="[")[0] == "BadRequestException"
    assert error_of(gw.get_model, ApiId=api_id, ModelId="nosuch1")[0] == "NotFoundException"
    # A route naming a model that does not exist is refused.
    assert error_of(gw.create_route, ApiId=api_id, RouteKey="POST /x",
                    RequestModels={"application/json": "Nosuch"})[0] == "BadRequestException"
    route = gw.create_route(ApiId=api_id, RouteKey="POST /x", RequestModels={"application/json": "Item"})
    assert route["RequestModels"] == {"application/json": "Item"}
    assert error_of(gw.delete_model, ApiId=api_id, ModelId=model_id)[0] == "BadRequestException"
    assert error_of(gw.update_model, ApiId=api_id, ModelId=model_id, Name="Renamed")[0] == "BadRequestException"
    gw.update_route(ApiId=api_id, RouteId=route["RouteId"], RequestModels={})
    assert "RequestModels" not in gw.get_route(ApiId=api_id, RouteId=route["RouteId"])
    gw.delete_model(ApiId=api_id, ModelId=model_id)
    assert gw.get_models(ApiId=api_id)["Items"] == []


def test_bodies_are_validated_before_the_function(server, gw):
    fn = create_function(server, source=COUNTER)
    api_id = http_api(gw)["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    gw.create_model(ApiId=api_id, Name="Item", Schema=ITEM)
    gw.create_route(ApiId=api_id, RouteKey="POST /items", Target="integrations/" + integration,
                    RequestModels={"application/json": "Item"})
    gw.create_route(ApiId=api_id, RouteKey="POST /free", Target="integrations/" + integration)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    json_type = {"Content-Type": "application/json"}

    ok = call(server, api_id, "/items", "POST", json_type, '{"name": "nut", "qty": 2}')
    assert ok.status == 200, ok
    first = ok.json()["calls"]

    malformed = call(server, api_id, "/items", "POST", json_type, '{"name": "nut", ')
    assert (malformed.status, malformed.json()) == (400, {"message": "Invalid request body"})

    mismatch = call(server, api_id, "/items", "POST", json_type, '{"name": "nut", "qty": "two"}')
    assert mismatch.status == 400 and mismatch.json()["message"] == "Invalid request body"
    errors = mismatch.json()["errors"]
    assert len(errors) == 1 and errors[0].startswith("/qty:"), errors

    # Another content type does not skip validation; a huge value is not echoed back.
    other = call(server, api_id, "/items", "POST", {"Content-Type": "text/plain"}, "not json at all")
    assert other.status == 400
    huge = call(server, api_id, "/items", "POST", json_type, json.dumps({"name": "x" * 100_000, "qty": 1}))
    assert huge.status == 400 and len(huge.body) < 2000

    # None of the refusals reached the function; a route without a model takes anything.
    again = call(server, api_id, "/items", "POST", json_type, '{"name": "bolt", "qty": 1}')
    assert again.status == 200 and again.json()["calls"] == first + 1
    free = call(server, api_id, "/free", "POST", json_type, "not json")
    assert free.status == 200 and free.json()["calls"] == first + 2


def test_a_deployment_keeps_the_schema_it_was_made_with(server, gw):
    fn = create_function(server, source=COUNTER)
    api_id = http_api(gw)["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    model = gw.create_model(ApiId=api_id, Name="Item", Schema=ITEM)["ModelId"]
    gw.create_route(ApiId=api_id, RouteKey="POST /items", Target="integrations/" + integration,
                    RequestModels={"application/json": "Item"})
    gw.create_stage(ApiId=api_id, StageName="prod")
    gw.create_deployment(ApiId=api_id, StageName="prod")
    body, headers = '{"anything": true}', {"Content-Type": "application/json"}
    assert call(server, api_id, "/items", "POST", headers, body, stage="prod").status == 400
    gw.update_model(ApiId=api_id, ModelId=model, Schema='{"type": "object"}')
    assert call(server, api_id, "/items", "POST", headers, body, stage="prod").status == 400
    gw.create_deployment(ApiId=api_id, StageName="prod")
    assert call(server, api_id, "/items", "POST", headers, body, stage="prod").status == 200
