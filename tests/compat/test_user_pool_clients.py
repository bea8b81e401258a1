"""The client libraries against a real `rampart serve`, unmodified and over HTTP:
amazon-cognito-identity-js (`CognitoUser.authenticateUser`, SRP, with the pool's endpoint set to
Rampart), pycognito's high-level `Cognito.authenticate` (SRP, then its own token verification
against the JWKS it fetches from Rampart), and the tokens Rampart issues verified by PyJWT and
aws-jwt-verify against the JWKS served over HTTPS at the `--public-url` issuer."""

import base64
import json
import ssl
import subprocess

import jwt
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from pycognito import Cognito

from user_pools_support import (
    PASSWORD,
    free_port,
    node_modules,
    pool_with_users,
    public,
    run_node,
    start_server_at,
)

USERS = ("alice", "bob", "carol-7", "zoë", "user.name+tag")


@pytest.fixture(scope="module")
def js_modules(tmp_path_factory):
    return node_modules(tmp_path_factory)


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_amazon_cognito_identity_js_srp_sign_in_against_the_server(server, js_modules):
    _, pid, client = pool_with_users(server, users=USERS)
    cid = client["ClientId"]
    cases = [{"pool_id": pid, "client_id": cid, "username": u, "password": PASSWORD} for u in USERS]
    cases += [
        {"pool_id": pid, "client_id": cid, "username": "alice", "password": PASSWORD.upper()},
        {"pool_id": pid, "client_id": cid, "username": "zoë", "password": PASSWORD + "x"},
    ]
    results = run_node("server_sign_in.cjs", js_modules, {"endpoint": server.endpoint, "cases": cases})
    for user, result in zip(USERS, results):
        assert result["ok"] is True, (user, result)
        access, id_token = claims(result["access_token"]), claims(result["id_token"])
        assert access["username"] == user and access["token_use"] == "access" and access["client_id"] == cid
        assert id_token["cognito:username"] == user and id_token["aud"] == cid
        assert access["iss"] == id_token["iss"] == f"{server.endpoint}/{pid}"
        # The library used the session's access token for GetUser.
        assert result["attributes"]["email"] == f"{user}@example.com"
        assert result["attributes"]["sub"] == access["sub"]
        assert result["refresh_token"]
    for result in results[len(USERS):]:
        assert result == {"ok": False, "code": "NotAuthorizedException", "message": "Incorrect username or password."}


def test_amazon_cognito_identity_js_and_a_client_secret(server, js_modules):
    """amazon-cognito-identity-js does not send SECRET_HASH (its README: app clients must be
    created without a secret for the JavaScript SDK), so against a client with a secret its
    sign-in is refused, exactly as Cognito refuses it."""
    _, pid, client = pool_with_users(server, secret=True)
    cid = client["ClientId"]
    [result] = run_node(
        "server_sign_in.cjs",
        js_modules,
        {"endpoint": server.endpoint, "cases": [{"pool_id": pid, "client_id": cid, "username": "alice", "password": PASSWORD}]},
    )
    assert result == {"ok": False, "code": "NotAuthorizedException", "message": f"Unable to verify secret hash for client {cid}"}


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def https_server(tmp_path, certificate):
    """A server over HTTPS whose `--public-url` is the URL it is served at."""
    cert, key = certificate
    port = free_port()
    srv = start_server_at(
        tmp_path / "data",
        port,
        ["--tls-cert", str(cert), "--tls-key", str(key), "--public-url", f"https://127.0.0.1:{port}/"],
    )
    srv.cert = cert
    yield srv
    srv.kill()


def tampered(token):
    """`token` with its payload's username changed and the signature kept."""
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["username" if "username" in body else "cognito:username"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_tokens_verify_with_pyjwt_and_aws_jwt_verify_against_the_served_jwks(https_server, js_modules):
    srv = https_server
    _, pid, client = pool_with_users(srv, verify=str(srv.cert))
    cid = client["ClientId"]
    p = public(srv, verify=str(srv.cert))
    tokens = p.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]
    id_token, access = tokens["IdToken"], tokens["AccessToken"]

    issuer = f"https://127.0.0.1:{srv.endpoint.rsplit(':', 1)[1]}/{pid}"
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration", verify=str(srv.cert), timeout=10).json()
    assert discovery["issuer"] == issuer and claims(id_token)["iss"] == issuer
    jwks_uri = discovery["jwks_uri"]
    assert jwks_uri == f"{issuer}/.well-known/jwks.json"

    # PyJWT fetches the JWKS itself, over HTTPS, and picks the key by the token's kid.
    keys = jwt.PyJWKClient(jwks_uri, ssl_context=ssl.create_default_context(cafile=str(srv.cert)))
    id_claims = jwt.decode(id_token, keys.get_signing_key_from_jwt(id_token), algorithms=["RS256"], audience=cid, issuer=issuer)
    assert id_claims["token_use"] == "id" and id_claims["cognito:username"] == "alice"
    access_claims = jwt.decode(
        access, keys.get_signing_key_from_jwt(access), algorithms=["RS256"], issuer=issuer,
        options={"verify_aud": False, "require": ["exp", "iat", "client_id", "token_use"]},
    )
    assert access_claims["token_use"] == "access" and access_claims["client_id"] == cid
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered(id_token), keys.get_signing_key_from_jwt(id_token), algorithms=["RS256"], audience=cid)
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(id_token, keys.get_signing_key_from_jwt(id_token), algorithms=["RS256"], audience=cid, issuer=f"https://cognito-idp.{srv.region}.amazonaws.com/{pid}")

    # aws-jwt-verify, configured with Rampart's issuer and JWKS URI, fetching the JWKS itself.
    checks = [
        {"kind": "id", "token": id_token},
        {"kind": "access", "token": access},
        {"kind": "access", "token": id_token},
        {"kind": "id", "token": access},
        {"kind": "id", "token": tampered(id_token)},
        {"kind": "access", "token": tampered(access)},
        {"kind": "id", "token": id_token, "issuer": f"https://cognito-idp.{srv.region}.amazonaws.com/{pid}"},
    ]
    outcomes = run_node(
        "server_jwt_verify.cjs",
        js_modules,
        {"issuer": issuer, "jwks_uri": jwks_uri, "client_id": cid, "checks": checks},
        env={"NODE_EXTRA_CA_CERTS": str(srv.cert)},
    )
    assert outcomes[:2] == ["ok", "ok"], outcomes
    # An ID token where an access token is required: no scope claim, token_use "id".
    assert outcomes[2].startswith("JwtInvalidScopeError"), outcomes
    # An access token where an ID token is required: no aud claim.
    assert outcomes[3].startswith("JwtInvalidAudienceError"), outcomes
    assert all(o.startswith("JwtInvalidSignatureError") for o in outcomes[4:6]), outcomes
    assert outcomes[6].startswith("JwtInvalidIssuerError"), outcomes


def pycognito_user(server, pool_id, client, username, secret=None):
    """pycognito's high-level Cognito object, its boto3 client pointed at Rampart: it verifies the
    tokens against `<endpoint>/<pool>` as issuer, with the JWKS it fetches from there."""
    return Cognito(
        pool_id,
        client["ClientId"],
        username=username,
        client_secret=secret,
        boto3_client_kwargs={"endpoint_url": server.endpoint},
        botocore_config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_pycognito_authenticate_against_the_server(server):
    _, pid, client = pool_with_users(server, users=("alice", "bob"))
    alice = pycognito_user(server, pid, client, "alice")
    alice.authenticate(password=PASSWORD)
    # authenticate() verified both tokens itself (signature, issuer, audience, token_use).
    assert alice.access_claims["username"] == "alice" and alice.access_claims["client_id"] == client["ClientId"]
    assert alice.id_claims["cognito:username"] == "alice" and alice.id_claims["email"] == "alice@example.com"
    assert alice.get_user().email == "alice@example.com"
    first = alice.access_token
    alice.renew_access_token()
    assert alice.access_token != first and alice.access_claims["origin_jti"] == claims(first)["origin_jti"]
    alice.logout()
    with pytest.raises(ClientError) as e:
        pycognito_user(server, pid, client, "alice").client.get_user(AccessToken=first)
    assert e.value.response["Error"]["Code"] == "NotAuthorizedException"

    for name, password in (("bob", PASSWORD + "!"), ("bob", PASSWORD.lower()), ("nobody", PASSWORD)):
        with pytest.raises(ClientError) as e:
            pycognito_user(server, pid, client, name).authenticate(password=password)
        assert e.value.response["Error"]["Code"] == ("UserNotFoundException" if name == "nobody" else "NotAuthorizedException")

    # A client with a secret: pycognito sends SECRET_HASH at each step, and on refresh.
    _, pid2, secret_client = pool_with_users(server, secret=True)
    alice = pycognito_user(server, pid2, secret_client, "alice", secret=secret_client["ClientSecret"])
    alice.authenticate(password=PASSWORD)
    alice.renew_access_token()
    assert alice.get_user().email == "alice@example.com"
    with pytest.raises(ClientError) as e:
        pycognito_user(server, pid2, secret_client, "alice", secret="w" * 51).authenticate(password=PASSWORD)
    assert e.value.response["Error"]["Code"] == "NotAuthorizedException"
