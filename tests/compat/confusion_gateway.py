"""The API Gateway half of the parameter-confusion suite (test_param_confusion_gateway.py):
rest-json requests naming an API in their path (`/v2/apis/{apiId}/…`), child resources by id
(route, integration, authorizer, stage, deployment, model), and other resources in the body (a
route's `target`, `authorizerId` and `requestModels`, an integration's function, a stage's
`deploymentId`).

The caller may do `apigateway:*` on its own API A (`/apis/A` and everything under it) and
nothing else; the victim API B has one of every child. A request aimed at B is denied, whatever
else it carries; a request aimed at A that names B's children (by id in the path, or as a
route's target or authorizer) finds nothing — they are not A's.
"""

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from confusion_cases import REPO, doc, or_error


def table_operations() -> list:
    """The operations the server's `gateway_operations!` table declares."""
    text = (REPO / "crates/gateway/src/api/mod.rs").read_text()
    block = text[text.index("\ngateway_operations! {"):]
    block = block[: block.index("\n}")]
    return re.findall(r'^\s*(?:read|write)\s+"(\w+)"', block, re.M)


@dataclass
class RestReply:
    status: int
    body: str
    error_type: str = ""

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def code(self):
        if 200 <= self.status < 300:
            return None
        parsed = self.json()
        code = parsed.get("__type") if isinstance(parsed, dict) else None
        code = code or self.error_type.split(":")[0] or None
        return code.rsplit("#", 1)[-1] if code else None

    @property
    def ok(self):
        return 200 <= self.status < 300

    def __str__(self):
        return f"HTTP {self.status} {self.code or ''}: {self.body[:400]}"


def send(server, caller, method, path, query=None, body=None, headers=None) -> RestReply:
    """A rest-json request to API Gateway, signed with SigV4 (service `apigateway`) as `caller`."""
    url = server.endpoint + path + (("?" + urlencode(query)) if query else "")
    data = None if body is None else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    request = AWSRequest(method=method, url=url, data=data, headers=hdrs)
    SigV4Auth(Credentials(caller.key, caller.secret), "apigateway", server.region).add_auth(request)
    raw = urllib.request.Request(url, data=data, headers=dict(request.headers.items()), method=method)
    try:
        with urllib.request.urlopen(raw, timeout=60) as resp:
            return RestReply(resp.status, resp.read().decode(errors="replace"), resp.headers.get("x-amzn-ErrorType", ""))
    except urllib.error.HTTPError as e:
        return RestReply(e.code, e.read().decode(errors="replace"), e.headers.get("x-amzn-ErrorType", ""))


@dataclass
class ApiIds:
    """One API and one of each of its children."""

    api: str
    route: str
    integration: str
    authorizer: str
    stage: str = "$default"
    request_authorizer: str = ""
    deployment: str = ""
    model: str = ""
    model_name: str = ""


def caller_policy(region, own_api) -> str:
    own = f"arn:aws:apigateway:{region}::/apis/{own_api}"
    return doc({"Effect": "Allow", "Action": "apigateway:*", "Resource": [own, own + "/*"]})


def p(*parts):
    return "/v2/apis/" + "/".join(quote(x, safe="") for x in parts)


@dataclass(frozen=True)
class GatewayCase:
    """`request(path ids, body ids, function arn, issuer)` -> (method, path, body): the path
    names `path ids`' API and children, the body names `body ids`' children."""

    op: str
    request: Callable


def _route_body(b: ApiIds):
    return {"routeKey": "GET /pwned", "target": "integrations/" + b.integration,
            "authorizationType": "JWT", "authorizerId": b.authorizer}


GATEWAY_CASES = [
    GatewayCase("CreateApi", lambda a, b, fn, iss: ("POST", "/v2/apis", {"name": "pwned", "protocolType": "HTTP", "apiId": a.api})),
    GatewayCase("GetApis", lambda a, b, fn, iss: ("GET", "/v2/apis", None)),
    GatewayCase("GetApi", lambda a, b, fn, iss: ("GET", p(a.api), None)),
    GatewayCase("UpdateApi", lambda a, b, fn, iss: ("PATCH", p(a.api), {"name": "pwned", "apiId": b.api})),
    GatewayCase("DeleteApi", lambda a, b, fn, iss: ("DELETE", p(a.api), None)),
    GatewayCase("DeleteCorsConfiguration", lambda a, b, fn, iss: ("DELETE", p(a.api, "cors"), None)),
    GatewayCase("CreateRoute", lambda a, b, fn, iss: ("POST", p(a.api, "routes"), _route_body(b))),
    GatewayCase("GetRoutes", lambda a, b, fn, iss: ("GET", p(a.api, "routes"), None)),
    GatewayCase("GetRoute", lambda a, b, fn, iss: ("GET", p(a.api, "routes", a.route), None)),
    GatewayCase("UpdateRoute", lambda a, b, fn, iss: ("PATCH", p(a.api, "routes", a.route), _route_body(b))),
    GatewayCase("DeleteRoute", lambda a, b, fn, iss: ("DELETE", p(a.api, "routes", a.route), None)),
    GatewayCase("CreateIntegration", lambda a, b, fn, iss: ("POST", p(a.api, "integrations"), {
        "integrationType": "AWS_PROXY", "integrationUri": fn, "payloadFormatVersion": "2.0"})),
    GatewayCase("GetIntegrations", lambda a, b, fn, iss: ("GET", p(a.api, "integrations"), None)),
    GatewayCase("GetIntegration", lambda a, b, fn, iss: ("GET", p(a.api, "integrations", a.integration), None)),
    GatewayCase("UpdateIntegration", lambda a, b, fn, iss: ("PATCH", p(a.api, "integrations", a.integration), {
        "description": "pwned", "timeoutInMillis": 50})),
    GatewayCase("DeleteIntegration", lambda a, b, fn, iss: ("DELETE", p(a.api, "integrations", a.integration), None)),
    GatewayCase("CreateAuthorizer", lambda a, b, fn, iss: ("POST", p(a.api, "authorizers"), {
        "authorizerType": "JWT", "name": "pwned", "identitySource": ["$request.header.Authorization"],
        "jwtConfiguration": {"issuer": iss, "audience": ["x"]}})),
    GatewayCase("GetAuthorizers", lambda a, b, fn, iss: ("GET", p(a.api, "authorizers"), None)),
    GatewayCase("GetAuthorizer", lambda a, b, fn, iss: ("GET", p(a.api, "authorizers", a.authorizer), None)),
    GatewayCase("UpdateAuthorizer", lambda a, b, fn, iss: ("PATCH", p(a.api, "authorizers", a.authorizer), {
        "name": "pwned", "jwtConfiguration": {"issuer": iss, "audience": ["pwned"]}})),
    GatewayCase("DeleteAuthorizer", lambda a, b, fn, iss: ("DELETE", p(a.api, "authorizers", a.authorizer), None)),
    GatewayCase("CreateStage", lambda a, b, fn, iss: ("POST", p(a.api, "stages"), {"stageName": "pwned", "autoDeploy": True})),
    GatewayCase("GetStages", lambda a, b, fn, iss: ("GET", p(a.api, "stages"), None)),
    GatewayCase("GetStage", lambda a, b, fn, iss: ("GET", p(a.api, "stages", a.stage), None)),
    GatewayCase("UpdateStage", lambda a, b, fn, iss: ("PATCH", p(a.api, "stages", a.stage), {
        "autoDeploy": False, "description": "pwned"})),
    GatewayCase("DeleteStage", lambda a, b, fn, iss: ("DELETE", p(a.api, "stages", a.stage), None)),
    GatewayCase("CreateDeployment", lambda a, b, fn, iss: ("POST", p(a.api, "deployments"), {
        "description": "pwned", "stageName": "fixed"})),
    GatewayCase("GetDeployments", lambda a, b, fn, iss: ("GET", p(a.api, "deployments"), None)),
    GatewayCase("GetDeployment", lambda a, b, fn, iss: ("GET", p(a.api, "deployments", a.deployment), None)),
    GatewayCase("UpdateDeployment", lambda a, b, fn, iss: ("PATCH", p(a.api, "deployments", a.deployment), {
        "description": "pwned"})),
    GatewayCase("DeleteDeployment", lambda a, b, fn, iss: ("DELETE", p(a.api, "deployments", a.deployment), None)),
    GatewayCase("CreateModel", lambda a, b, fn, iss: ("POST", p(a.api, "models"), {
        "name": "Pwned", "schema": '{"type": "object"}'})),
    GatewayCase("GetModels", lambda a, b, fn, iss: ("GET", p(a.api, "models"), None)),
    GatewayCase("GetModel", lambda a, b, fn, iss: ("GET", p(a.api, "models", a.model), None)),
    GatewayCase("GetModelTemplate", lambda a, b, fn, iss: ("GET", p(a.api, "models", a.model, "template"), None)),
    GatewayCase("UpdateModel", lambda a, b, fn, iss: ("PATCH", p(a.api, "models", a.model), {
        "description": "pwned", "schema": '{"type": "string"}'})),
    GatewayCase("DeleteModel", lambda a, b, fn, iss: ("DELETE", p(a.api, "models", a.model), None)),
]
GATEWAY_CASES_BY_OP = {c.op: c for c in GATEWAY_CASES}

# Operations on no API (the `/apis` collection): the caller, allowed only under its own API,
# is denied them outright.
COLLECTION_OPS = {"CreateApi", "GetApis"}


def decoy_members(own: ApiIds):
    """Places a request aimed at the victim may name the caller's own API besides its path."""
    return {
        "query-apiId": ("query", [("apiId", own.api), ("ApiId", own.api)]),
        "body-apiId": ("body", {"apiId": own.api, "ApiId": own.api}),
        "header-api": ("headers", {"X-Amz-Api-Id": own.api, "X-Api-Id": own.api}),
    }


def snapshot(gw, ids: ApiIds):
    """Everything of one API as boto3 reads it (dates and volatile metadata left out)."""
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if k not in ("ResponseMetadata",)}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return str(x)
    out = {"api": or_error(gw.get_api, ApiId=ids.api)}
    for name, call in (("routes", gw.get_routes), ("integrations", gw.get_integrations),
                       ("authorizers", gw.get_authorizers), ("stages", gw.get_stages),
                       ("deployments", gw.get_deployments), ("models", gw.get_models)):
        out[name] = or_error(call, ApiId=ids.api)
    return clean(out)
