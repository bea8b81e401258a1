"""The client libraries against a real `rampart serve`, unmodified and over HTTP:
amazon-cognito-identity-js (`CognitoUser.authenticateUser`, SRP, with the pool's endpoint set to
Rampart), pycognito's high-level `Cognito.authenticate` (SRP, then its own token verification
against the JWKS it fetches from Rampart), and the tokens Rampart issues verified by PyJWT and
aws-jwt-verify against the JWKS served over HTTPS at the `--public-url` issuer."""

import jwt
import pytest

from user_pools_support import PASSWORD, node_modules, pool_with_users, run_node

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

