"""Per-source rate limiting of the unsigned sign-in and sign-up endpoints (InitiateAuth,
RespondToAuthChallenge, SignUp, ConfirmSignUp, ForgotPassword, ConfirmForgotPassword,
ResendConfirmationCode): past `--auth-requests-per-source` requests per
`--auth-rate-window-secs` from one address, boto3 gets `TooManyRequestsException` with HTTP 400,
as from Cognito, before any password is checked; the allowance refills evenly over the window.
Signed requests and other operations are not limited. The default (300 a minute) leaves the
rest of the compat suite, which signs in many times from 127.0.0.1, untouched."""

import json
import time

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from user_pools_support import PASSWORD, pool_with_users, public


def sign_in(p, client_id, password=PASSWORD):
    return p.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": password})


def throttled(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    response = e.value.response
    return response["Error"]["Code"] == "TooManyRequestsException" and response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unsigned_auth_requests_are_limited_per_source(fresh_server):
    # 5 requests per 20 s: one comes back every 4 s, slower than the burst takes.
    srv = fresh_server(extra_args=["--auth-requests-per-source", "5", "--auth-rate-window-secs", "20"])
    c, pid, client = pool_with_users(srv)
    cid = client["ClientId"]
    # No retry: botocore retries TooManyRequestsException as throttling otherwise.
    p = boto3.client("cognito-idp", endpoint_url=srv.endpoint, region_name=srv.region, config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))

    # The burst: five requests of the limited operations, whatever their outcome.
    tokens = sign_in(p, cid)["AuthenticationResult"]
    with pytest.raises(p.exceptions.NotAuthorizedException):
        sign_in(p, cid, password="Wr0ng-Password!")
    p.sign_up(ClientId=cid, Username="bob", Password=PASSWORD)
    with pytest.raises(ClientError) as wrong_code:
        p.confirm_sign_up(ClientId=cid, Username="bob", ConfirmationCode="000000")
    assert wrong_code.value.response["Error"]["Code"] in ("CodeMismatchException", "ExpiredCodeException")
    # Alice has no verified email: refused, but the request ran.
    with pytest.raises(p.exceptions.InvalidParameterException):
        p.forgot_password(ClientId=cid, Username="alice")
    # The sixth is refused before it runs: even the right password does not sign in.
    assert throttled(sign_in, p=p, client_id=cid)
    assert throttled(p.resend_confirmation_code, ClientId=cid, Username="bob")
    assert throttled(p.respond_to_auth_challenge, ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session="x" * 40, ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": PASSWORD})
    assert throttled(p.confirm_forgot_password, ClientId=cid, Username="alice", ConfirmationCode="000000", Password=PASSWORD)

    # Other operations, and signed requests, are not limited.
    assert p.get_user(AccessToken=tokens["AccessToken"])["Username"] == "alice"
    signed = c.admin_initiate_auth(UserPoolId=pid, ClientId=cid, AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})
    assert "AccessToken" in signed["AuthenticationResult"]

    # The allowance refills evenly: one request every 4 s.
    time.sleep(4.5)
    assert "AuthenticationResult" in sign_in(p, cid)
    assert throttled(sign_in, p=p, client_id=cid)

    # Refusals are audited as such.
    records = [json.loads(line) for line in srv.audit("--json").splitlines() if line.strip()]
    refused = [r for r in records if r["error_code"] == "TooManyRequestsException"]
    assert len(refused) == 5 and {r["operation"] for r in refused} >= {"InitiateAuth", "ResendConfirmationCode"}
    assert all(r["http_status"] == 400 and r["source_ip"] == "127.0.0.1" for r in refused)


def test_zero_turns_the_limit_off(fresh_server):
    srv = fresh_server(extra_args=["--auth-requests-per-source", "0"])
    _, _, client = pool_with_users(srv)
    p = public(srv)
    for _ in range(40):
        with pytest.raises(p.exceptions.UserNotFoundException):
            p.forgot_password(ClientId=client["ClientId"], Username="nobody")
