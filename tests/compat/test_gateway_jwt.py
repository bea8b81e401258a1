"""End to end with real clients only: boto3 makes a user pool and app client, an HTTP API with
a JWT authorizer (Issuer = the pool's issuer from its OpenID discovery document, Audience = the
client id) on `GET /me`, and a Python function (AWS_PROXY, payload 2.0) as its integration;
users sign in with boto3's InitiateAuth (USER_PASSWORD_AUTH) and pycognito's SRP; `requests`
calls the API.

- the access token (and the ID token) → 200, and the function saw the token's claims in
  `requestContext.authorizer.jwt.claims`, values as strings;
- no token, a malformed one, a tampered one, one of another pool, one from a deleted pool's
  API → 401 `{"message":"Unauthorized"}`;
- a route needing scope `admin` → 403 `{"message":"Forbidden"}`; one needing a scope the
  token has → 200 with the scopes in the event;
- the same with an external issuer (a tiny OpenID issuer on loopback, keys by `cryptography`,
  tokens by PyJWT): its tokens accepted through discovery, forged, expired, not yet valid,
  other-audience, other-issuer, `alg: none` and HS256-with-the-public-key tokens refused, and
  unknown key ids refetching its JWKS at most once a minute.
"""

import base64
import json
import signal
import sys

import pytest
import requests
from pycognito.aws_srp import AWSSRP

from conftest import start_server
from gateway_support import TinyIssuer, create_function, http_api
from user_pools_support import PASSWORD, pool_with_users, public


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("gateway-jwt") / "data", ["--functions-python", sys.executable])
    yield srv
    srv.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def world(server):
    _, pool_id, client = pool_with_users(server, users=("alice",))
    _, other_pool, other_client = pool_with_users(server, users=("mallory",))
    discovery = requests.get(f"{server.endpoint}/{pool_id}/.well-known/openid-configuration", timeout=10).json()
    issuer = discovery["issuer"]
    gw = server.client("apigatewayv2")
    fn = create_function(server)
    api_id = http_api(gw)["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    authorizer = gw.create_authorizer(ApiId=api_id, AuthorizerType="JWT", Name="pool",
                                      IdentitySource=["$request.header.Authorization"],
                                      JwtConfiguration={"Issuer": issuer, "Audience": [client["ClientId"]]})
    routes = {"GET /me": [], "GET /admin": ["admin"], "GET /signin": ["aws.cognito.signin.user.admin", "other"]}
    for key, scopes in routes.items():
        extra = {"AuthorizationScopes": scopes} if scopes else {}
        gw.create_route(ApiId=api_id, RouteKey=key, Target="integrations/" + integration,
                        AuthorizationType="JWT", AuthorizerId=authorizer["AuthorizerId"], **extra)
    gw.create_route(ApiId=api_id, RouteKey="GET /open", Target="integrations/" + integration)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    p = public(server)
    signed_in = p.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]
    other = p.initiate_auth(ClientId=other_client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "mallory", "PASSWORD": PASSWORD})["AuthenticationResult"]
    return {"api": api_id, "pool": pool_id, "client": client["ClientId"], "issuer": issuer, "tokens": signed_in,
            "other_tokens": other, "other_pool": other_pool, "public": p}


def get(server, world, path, token=None, scheme="Bearer "):
    headers = {"Authorization": scheme + token} if token is not None else {}
    return requests.get(f"{server.endpoint}/_api/{world['api']}{path}", headers=headers, timeout=60)


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_access_token_reaches_the_function_with_its_claims(server, world):
    token = world["tokens"]["AccessToken"]
    r = get(server, world, "/me", token)
    assert r.status_code == 200, r.text
    event = r.json()
    jwt = event["requestContext"]["authorizer"]["jwt"]
    expected = claims_of(token)
    assert jwt["claims"]["sub"] == expected["sub"] and jwt["claims"]["client_id"] == world["client"]
    assert jwt["claims"]["token_use"] == "access" and jwt["claims"]["iss"] == world["issuer"]
    # Every claim is there, every value a string, numbers written out.
    assert set(jwt["claims"]) == set(expected)
    assert all(isinstance(v, str) for v in jwt["claims"].values())
    assert jwt["claims"]["exp"] == str(expected["exp"])
    assert jwt["scopes"] is None  # the route asks for no scopes
    assert event["headers"]["authorization"].startswith("Bearer ")


def test_id_token_and_a_token_without_bearer(server, world):
    r = get(server, world, "/me", world["tokens"]["IdToken"])
    assert r.status_code == 200, r.text
    assert r.json()["requestContext"]["authorizer"]["jwt"]["claims"]["aud"] == world["client"]
    assert get(server, world, "/me", world["tokens"]["AccessToken"], scheme="").status_code == 200


def test_srp_signed_in_user(server, world):
    tokens = AWSSRP(username="alice", password=PASSWORD, pool_id=world["pool"], client_id=world["client"],
                    client=world["public"]).authenticate_user()["AuthenticationResult"]
    r = get(server, world, "/me", tokens["AccessToken"])
    assert r.status_code == 200, r.text
    assert r.json()["requestContext"]["authorizer"]["jwt"]["claims"]["username"] == "alice"


def unauthorized(r):
    return r.status_code == 401 and r.json() == {"message": "Unauthorized"}


def test_refused_tokens(server, world):
    token = world["tokens"]["AccessToken"]
    assert unauthorized(get(server, world, "/me"))
    assert unauthorized(get(server, world, "/me", ""))
    assert unauthorized(get(server, world, "/me", "not.a.token"))
    head, payload, sig = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["username"] = "root"
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    assert unauthorized(get(server, world, "/me", f"{head}.{forged_payload}.{sig}"))
    # Signed by another pool of the same host: another issuer, other keys.
    assert unauthorized(get(server, world, "/me", world["other_tokens"]["AccessToken"]))
    assert unauthorized(get(server, world, "/me", world["other_tokens"]["IdToken"]))
    # The open route needs nothing.
    assert get(server, world, "/open").status_code == 200


def test_scopes(server, world):
    token = world["tokens"]["AccessToken"]
    r = get(server, world, "/admin", token)
    assert (r.status_code, r.json()) == (403, {"message": "Forbidden"})
    # No token is still 401 on a scoped route.
    assert unauthorized(get(server, world, "/admin"))
    r = get(server, world, "/signin", token)
    assert r.status_code == 200, r.text
    assert r.json()["requestContext"]["authorizer"]["jwt"]["scopes"] == ["aws.cognito.signin.user.admin"]


def test_audience_must_match(server, world):
    """An authorizer for another audience refuses the pool's tokens."""
    gw = server.client("apigatewayv2")
    api = world["api"]
    a = gw.create_authorizer(ApiId=api, AuthorizerType="JWT", Name="elsewhere",
                             IdentitySource=["$request.header.Authorization"],
                             JwtConfiguration={"Issuer": world["issuer"], "Audience": ["some-other-client"]})
    integration = gw.get_integrations(ApiId=api)["Items"][0]["IntegrationId"]
    gw.create_route(ApiId=api, RouteKey="GET /aud", Target="integrations/" + integration,
                    AuthorizationType="JWT", AuthorizerId=a["AuthorizerId"])
    assert unauthorized(get(server, world, "/aud", world["tokens"]["AccessToken"]))
    assert unauthorized(get(server, world, "/aud", world["tokens"]["IdToken"]))


def test_a_deleted_pool_authorizes_nothing(server, world):
    """Tokens of a pool deleted after they were issued are refused (its keys are gone)."""
    idp = server.client("cognito-idp")
    _, pool_id, client = pool_with_users(server, users=("carol",))
    issuer = requests.get(f"{server.endpoint}/{pool_id}/.well-known/openid-configuration", timeout=10).json()["issuer"]
    gw = server.client("apigatewayv2")
    api = world["api"]
    a = gw.create_authorizer(ApiId=api, AuthorizerType="JWT", Name="doomed",
                             IdentitySource=["$request.header.Authorization"],
                             JwtConfiguration={"Issuer": issuer, "Audience": [client["ClientId"]]})
    integration = gw.get_integrations(ApiId=api)["Items"][0]["IntegrationId"]
    gw.create_route(ApiId=api, RouteKey="GET /doomed", Target="integrations/" + integration,
                    AuthorizationType="JWT", AuthorizerId=a["AuthorizerId"])
    tokens = world["public"].initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                                           AuthParameters={"USERNAME": "carol", "PASSWORD": PASSWORD})["AuthenticationResult"]
    idp.delete_user_pool(UserPoolId=pool_id)
    # Never verified before the deletion: no key was cached, and none can be fetched.
    assert unauthorized(get(server, world, "/doomed", tokens["AccessToken"]))


# ---------------------------------------------------------------------------------------------
# An external issuer: discovery and JWKS over HTTP, tokens made with PyJWT


@pytest.fixture(scope="module")
def external(server, world):
    issuer = TinyIssuer()
    gw = server.client("apigatewayv2")
    api = world["api"]
    a = gw.create_authorizer(ApiId=api, AuthorizerType="JWT", Name="tiny",
                             IdentitySource=["$request.header.Authorization"],
                             JwtConfiguration={"Issuer": issuer.url, "Audience": ["tiny-aud"]})
    integration = gw.get_integrations(ApiId=api)["Items"][0]["IntegrationId"]
    for key, scopes in (("GET /ext", []), ("GET /ext-admin", ["admin"])):
        extra = {"AuthorizationScopes": scopes} if scopes else {}
        gw.create_route(ApiId=api, RouteKey=key, Target="integrations/" + integration,
                        AuthorizationType="JWT", AuthorizerId=a["AuthorizerId"], **extra)
    yield issuer
    issuer.close()


def test_external_issuer_tokens(server, world, external):
    r = get(server, world, "/ext", external.token(custom="x", scope="read admin"))
    assert r.status_code == 200, r.text
    claims = r.json()["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "ext-user" and claims["custom"] == "x" and claims["iss"] == external.url
    r = get(server, world, "/ext-admin", external.token(scope="read admin"))
    assert r.status_code == 200 and r.json()["requestContext"]["authorizer"]["jwt"]["scopes"] == ["read", "admin"]
    r = get(server, world, "/ext-admin", external.token(scope="read"))
    assert (r.status_code, r.json()) == (403, {"message": "Forbidden"})


def hs256(header, claims, secret):
    """An HMAC-signed JWT made by hand (PyJWT rightly refuses a public key as a secret)."""
    import hashlib
    import hmac

    def b64(data):
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signed = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return signed + "." + b64(hmac.new(secret, signed.encode(), hashlib.sha256).digest())


def test_external_issuer_refusals(server, world, external):
    import time

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    now = int(time.time())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = external.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    refused = {
        "forged (another key, same kid)": external.token(key=stranger),
        "expired": external.token(exp=now - 300),
        "not yet valid": external.token(nbf=now + 300),
        "issued in the future": external.token(iat=now + 300),
        "no exp": external.token(exp=None),
        "another audience": external.token(aud="someone-else"),
        "another issuer": external.token(iss=external.url + "/other"),
        "alg none": jwt.encode({"iss": external.url, "aud": "tiny-aud", "exp": now + 600}, None,
                               algorithm="none", headers={"kid": external.kid}),
        "HS256 keyed with the public key": hs256(
            {"alg": "HS256", "typ": "JWT", "kid": external.kid},
            {"iss": external.url, "aud": "tiny-aud", "exp": now + 600}, public_pem),
    }
    for what, token in refused.items():
        assert unauthorized(get(server, world, "/ext", token)), what


def test_external_issuer_keys_refetched_sparingly(server, world, external):
    """Tokens naming unknown key ids make Rampart refetch the JWKS at most once a minute."""
    assert get(server, world, "/ext", external.token()).status_code == 200
    before = external.jwks_fetches
    for i in range(20):
        assert unauthorized(get(server, world, "/ext", external.token(kid=f"unknown-{i}")))
    assert external.jwks_fetches - before <= 1


def test_requests_are_audited(server, world):
    """Each data-plane request to an API is in the audit trail (`rampart audit`): the route's
    ARN, who the authorizer said the caller is, its decision and the status answered."""
    token = world["tokens"]["AccessToken"]
    ok = get(server, world, "/me", token)
    refused = get(server, world, "/me")
    scoped = get(server, world, "/admin", token)
    assert (ok.status_code, refused.status_code, scoped.status_code) == (200, 401, 403)
    records = {}
    for line in server.audit("--json").splitlines():
        r = json.loads(line)
        records[r["request_id"]] = r
    sub = claims_of(token)["sub"]
    got = records[ok.headers["apigw-requestid"]]
    assert got["service"] == "execute-api" and got["operation"] == "Invoke"
    assert got["principal_arn"] == f"{world['issuer']}#{sub}" and got["decision"] == "allowed"
    assert got["http_status"] == 200 and got["outcome"] == "success"
    assert got["checks"][0]["action"] == "execute-api:Invoke"
    assert got["checks"][0]["resource"].endswith(f":{world['api']}/$default/GET/me")
    got = records[refused.headers["apigw-requestid"]]
    assert (got["http_status"], got["error_code"], got["decision"]) == (401, "Unauthorized", "implicitDeny")
    assert got["principal_arn"] is None and got["outcome"] == "failure"
    got = records[scoped.headers["apigw-requestid"]]
    assert (got["http_status"], got["error_code"]) == (403, "Forbidden")
