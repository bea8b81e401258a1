"""The identity core (crates/identity) against the real client libraries, before any API exists.

The server side runs in `identity_harness` (crates/identity/examples/), a line protocol over the
crate; the client side is each library's own code, unmodified:
- pycognito's `AWSSRP` computes A, and from SALT/SRP_B/SECRET_BLOCK the claim signature;
- amazon-cognito-identity-js's `CognitoUser.authenticateUser` runs its whole SRP flow with only
  its HTTP client replaced (tests/compat/js/srp_flow.cjs);
- PyJWT and aws-jwt-verify's `JwtRsaVerifier` verify the tokens against the JWKS the crate makes.

Over many sign-ins the values whose encoding has an edge (salt, A, B and u with their high bit
set: Java's `toByteArray` then prepends a zero byte) all occur; a wrong `k` or a padding slip
fails about half of them.
"""

import base64
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import jwt
import pytest
from pycognito import aws_srp

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("RAMPART_BIN", REPO / "target" / "debug" / "rampart"))
HARNESS = Path(
    os.environ.get("RAMPART_IDENTITY_HARNESS", BIN.parent / "examples" / "identity_harness")
)
JS = REPO / "tests" / "compat" / "js"
POOL_ID = "us-east-1_AbC123"
CLIENT_ID = "3n4b5urk1ft4fl3mg5e62d9ado"
ISSUER = f"http://127.0.0.1:4566/{POOL_ID}"
USERS = ["alice", "user@example.com", str(uuid.uuid4()), "zoë_ünïcode", "x"]


class Harness:
    def __init__(self):
        if not HARNESS.exists():
            subprocess.run(
                ["cargo", "build", "-q", "-p", "rampart-identity", "--example", "identity_harness"],
                cwd=REPO,
                check=True,
            )
        self.proc = subprocess.Popen(
            [str(HARNESS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def call(self, **request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert "error" not in answer or "ok" in answer, answer
        return answer

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def harness():
    h = Harness()
    yield h
    h.close()


@pytest.fixture(scope="module")
def js_modules(tmp_path_factory):
    """node_modules with the JS clients: RAMPART_COMPAT_JS_DIR (test.sh installs it outside the
    repository), else `npm ci` from the lockfile into a temporary directory."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are not installed: the JavaScript clients cannot run")
    installed = os.environ.get("RAMPART_COMPAT_JS_DIR")
    if installed and (Path(installed) / "node_modules" / "amazon-cognito-identity-js").exists():
        return Path(installed) / "node_modules"
    target = tmp_path_factory.mktemp("compat-js")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(JS / name, target / name)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, check=True
    )
    return target / "node_modules"


def run_node(script, node_modules, payload):
    env = dict(os.environ, NODE_PATH=str(node_modules))
    done = subprocess.run(
        ["node", str(JS / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout)


class EdgeCount:
    """Counts the padding edges seen: values whose high bit is set get a 00 byte prepended."""

    def __init__(self):
        self.salt = self.a = self.b = self.u = 0

    def add(self, salt_hex, a, b):
        self.salt += aws_srp.pad_hex(salt_hex).startswith("00")
        self.a += aws_srp.pad_hex(a).startswith("00")
        self.b += aws_srp.pad_hex(b).startswith("00")
        self.u += aws_srp.pad_hex(aws_srp.calculate_u(a, b)).startswith("00")

    def assert_all_seen(self):
        assert min(self.salt, self.a, self.b, self.u) > 0, vars(self)


class NoNetwork:
    """pycognito wants a boto3 client; the SRP math never calls it."""


def pycognito_sign_in(harness, user, password, attempt, edges):
    verifier = harness.call(op="register", pool_id=POOL_ID, user=user, password=password)
    client = aws_srp.AWSSRP(
        username=user, password=attempt, pool_id=POOL_ID, client_id=CLIENT_ID, client=NoNetwork()
    )
    auth_params = client.get_auth_params()
    challenge = harness.call(
        op="challenge",
        pool_id=POOL_ID,
        user=user,
        verifier=verifier["verifier"],
        srp_a=auth_params["SRP_A"],
    )
    edges.add(challenge["salt"], client.large_a_value, int(challenge["srp_b"], 16))
    response = client.process_challenge(
        {
            "USER_ID_FOR_SRP": user,
            "USERNAME": user,
            "SALT": challenge["salt"],
            "SRP_B": challenge["srp_b"],
            "SECRET_BLOCK": challenge["secret_block"],
        },
        auth_params,
    )
    assert response["PASSWORD_CLAIM_SECRET_BLOCK"] == challenge["secret_block"]
    # Cognito's TIMESTAMP ("Tue Dec 1 00:15:07 UTC 2026") does not pad the day; the hour is
    # padded, so look at the day field alone (the whole head failed from 00:00 to 09:59).
    day = response["TIMESTAMP"].split(" ")[2]
    assert not day.startswith("0"), response["TIMESTAMP"]
    return harness.call(
        op="verify",
        pool_id=POOL_ID,
        user=response["USERNAME"],
        session=challenge["session"],
        secret_block=response["PASSWORD_CLAIM_SECRET_BLOCK"],
        timestamp=response["TIMESTAMP"],
        signature=response["PASSWORD_CLAIM_SIGNATURE"],
    )


def test_pycognito_srp_right_password_verifies_and_wrong_one_fails(harness):
    edges = EdgeCount()
    for round_ in range(40):
        user = USERS[round_ % len(USERS)]
        password = f"Correct-Horse{round_}!"
        right = pycognito_sign_in(harness, user, password, password, edges)
        assert right == {"ok": True}, (round_, user, right)
        wrong = pycognito_sign_in(harness, user, password, password + "x", edges)
        assert wrong["ok"] is False and "signature" in wrong["error"], (round_, user, wrong)
    edges.assert_all_seen()


def test_amazon_cognito_identity_js_srp_sign_in(harness, js_modules):
    cases = []
    for round_ in range(24):
        user = USERS[round_ % len(USERS)]
        password = f"Pa55-word-{round_}"
        cases.append({"user": user, "password": password, "attempt": password})
        cases.append({"user": user, "password": password, "attempt": password.upper()})
    results = run_node(
        "srp_flow.cjs",
        js_modules,
        {"harness": str(HARNESS), "pool_id": POOL_ID, "client_id": CLIENT_ID, "cases": cases},
    )
    edges = EdgeCount()
    for case, result in zip(cases, results, strict=True):
        edges.add(result["salt"], int(result["srp_a"], 16), int(result["srp_b"], 16))
        if case["attempt"] == case["password"]:
            assert result["ok"] is True, (case, result)
        else:
            assert result["ok"] is False, (case, result)
            assert result["error"] == "NotAuthorizedException", result
            assert "signature" in result["detail"], result
    edges.assert_all_seen()


@pytest.fixture(scope="module")
def tokens(harness):
    return harness.call(
        op="tokens",
        issuer=ISSUER,
        client_id=CLIENT_ID,
        username="alice",
        sub=str(uuid.uuid4()),
        email="alice@example.com",
    )


def test_tokens_verify_with_pyjwt_against_the_jwks(tokens):
    jwks = jwt.PyJWKSet.from_dict(tokens["jwks"])
    assert len(jwks.keys) == 2

    def key_for(token):
        kid = jwt.get_unverified_header(token)["kid"]
        return next(k for k in jwks.keys if k.key_id == kid)

    id_claims = jwt.decode(
        tokens["id_token"],
        key_for(tokens["id_token"]),
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=ISSUER,
    )
    assert id_claims["token_use"] == "id"
    assert id_claims["cognito:username"] == "alice"
    assert id_claims["email_verified"] is True
    access_claims = jwt.decode(
        tokens["access_token"],
        key_for(tokens["access_token"]),
        algorithms=["RS256"],
        issuer=ISSUER,
        options={"verify_aud": False, "require": ["exp", "iat", "client_id"]},
    )
    assert access_claims["token_use"] == "access"
    assert access_claims["client_id"] == CLIENT_ID
    assert access_claims["scope"] == "aws.cognito.signin.user.admin"
    assert access_claims["origin_jti"] == id_claims["origin_jti"]
    # The two tokens are signed by the pool's two different keys.
    assert key_for(tokens["id_token"]).key_id != key_for(tokens["access_token"]).key_id
    # A changed claim, or another key, fails.
    header, payload, signature = tokens["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["cognito:username"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            f"{header}.{forged}.{signature}",
            key_for(tokens["id_token"]),
            algorithms=["RS256"],
            audience=CLIENT_ID,
        )
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            tokens["id_token"],
            key_for(tokens["access_token"]),
            algorithms=["RS256"],
            audience=CLIENT_ID,
        )
    assert tokens["openid_configuration"]["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"


def test_tokens_verify_with_aws_jwt_verify(tokens, js_modules):
    outcome = run_node(
        "jwt_verify.cjs",
        js_modules,
        {
            "issuer": ISSUER,
            "client_id": CLIENT_ID,
            "jwks": tokens["jwks"],
            "id_token": tokens["id_token"],
            "access_token": tokens["access_token"],
        },
    )
    assert outcome["id"] == "ok", outcome
    assert outcome["access"] == "ok", outcome
    assert outcome["id_as_access"] != "ok", outcome
    assert outcome["wrong_audience"] != "ok", outcome
