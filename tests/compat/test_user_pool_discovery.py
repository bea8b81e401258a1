"""A pool's JWKS and OpenID discovery document over HTTP, unsigned, as token verifiers fetch
them: `/<poolId>/.well-known/jwks.json` and `/<poolId>/.well-known/openid-configuration`, the
issuer built on `--public-url`, and AWS's 404 for a pool that does not exist."""

import base64

import requests

from user_pools_support import idp, pool


def b64url_int(value):
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def test_jwks_and_discovery(server):
    c = idp(server)
    pid = pool(c)["Id"]
    jwks = requests.get(f"{server.endpoint}/{pid}/.well-known/jwks.json", timeout=10)
    assert jwks.status_code == 200 and jwks.headers["content-type"].startswith("application/json")
    keys = jwks.json()["keys"]
    assert len(keys) == 2 and len({k["kid"] for k in keys}) == 2
    for k in keys:
        assert k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and k["kid"]
        assert b64url_int(k["e"]) == 65537 and b64url_int(k["n"]).bit_length() == 2048

    doc = requests.get(f"{server.endpoint}/{pid}/.well-known/openid-configuration", timeout=10)
    assert doc.status_code == 200
    doc = doc.json()
    # Without --public-url the issuer is the listener's own URL.
    assert doc["issuer"] == f"{server.endpoint}/{pid}"
    assert doc["jwks_uri"] == f"{server.endpoint}/{pid}/.well-known/jwks.json"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert requests.get(doc["jwks_uri"], timeout=10).json() == jwks.json()

    # Another pool has other keys.
    other = pool(c)["Id"]
    other_keys = requests.get(f"{server.endpoint}/{other}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert not {k["kid"] for k in other_keys} & {k["kid"] for k in keys}

    # A deleted or unknown pool: 404 in AWS's shape.
    c.delete_user_pool(UserPoolId=other)
    for path in [f"{other}/.well-known/jwks.json", f"{server.region}_nothere/.well-known/openid-configuration", "not-a-pool/.well-known/jwks.json"]:
        r = requests.get(f"{server.endpoint}/{path}", timeout=10)
        assert r.status_code == 404, (path, r.text)
        body = r.json()
        assert body["code"] == "ResourceNotFoundException" and "does not exist" in body["message"]
        assert r.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_public_url_names_the_issuer(fresh_server):
    srv = fresh_server(extra_args=["--public-url", "https://auth.example.test/"])
    pid = pool(idp(srv))["Id"]
    doc = requests.get(f"{srv.endpoint}/{pid}/.well-known/openid-configuration", timeout=10).json()
    assert doc["issuer"] == f"https://auth.example.test/{pid}"
    assert doc["jwks_uri"] == f"https://auth.example.test/{pid}/.well-known/jwks.json"
