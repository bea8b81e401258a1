"""cognito-idp sign-in through boto3 and pycognito: USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH,
NEW_PASSWORD_REQUIRED, SRP (pycognito's AWSSRP, unmodified), refresh, GetUser with the access
token, global sign-out and RevokeToken, SECRET_HASH, the client's auth flows, lockout,
PreventUserExistenceErrors, the IAM decision on the pool ARN for the Admin* forms, and no
password or token in the store, logs or audit."""

import base64
import hashlib
import hmac
import time
from pathlib import Path

import boto3
import jwt
from botocore import UNSIGNED
from botocore.config import Config
from pycognito.aws_srp import AWSSRP

import pytest
from botocore.exceptions import ClientError

from user_pools_support import idp, idp_user, pool, unique

PASSWORD = "Corr3ct-Horse-Battery!"
TEMPORARY = "Temp0rary-Passw0rd!"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def error(call, *args, **kwargs):
    """The error code and message `call` is refused with."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def refused(call, *args, **kwargs):
    return error(call, *args, **kwargs)[0]


def public(server):
    """An unsigned cognito-idp client, as a browser or app has."""
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.endpoint,
        region_name=server.region,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1, "mode": "standard"}),
    )


def setup(server, flows=FLOWS, secret=False, prevent=False, users=("alice",)):
    c = idp(server)
    pid = pool(c)["Id"]
    kwargs = {"ExplicitAuthFlows": flows, "GenerateSecret": secret}
    if prevent:
        kwargs["PreventUserExistenceErrors"] = "ENABLED"
    client = c.create_user_pool_client(UserPoolId=pid, ClientName=unique("app"), **kwargs)["UserPoolClient"]
    for name in users:
        c.admin_create_user(UserPoolId=pid, Username=name, UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}], MessageAction="SUPPRESS")
        c.admin_set_user_password(UserPoolId=pid, Username=name, Password=PASSWORD, Permanent=True)
    return c, pid, client


def password_auth(p, client_id, username, password, **extra):
    params = {"USERNAME": username, "PASSWORD": password, **extra}
    return p.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_new_password_required_then_password_refresh_get_user_and_sign_out(server):
    c = idp(server)
    p = public(server)
    pid = pool(c)["Id"]
    cid = c.create_user_pool_client(UserPoolId=pid, ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    c.admin_create_user(UserPoolId=pid, Username="alice", TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS", UserAttributes=[{"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"}])

    challenge = password_auth(p, cid, "alice", TEMPORARY)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED" and "AuthenticationResult" not in challenge
    assert challenge["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"
    assert TEMPORARY not in challenge["Session"]
    answer = dict(ChallengeName="NEW_PASSWORD_REQUIRED", ClientId=cid, Session=challenge["Session"], ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": PASSWORD})
    # The policy applies to the new password.
    assert error(p.respond_to_auth_challenge, **{**answer, "ChallengeResponses": {"USERNAME": "alice", "NEW_PASSWORD": "short"}})[0] in ("InvalidPasswordException", "NotAuthorizedException")
    challenge = password_auth(p, cid, "alice", TEMPORARY)
    answer["Session"] = challenge["Session"]
    result = p.respond_to_auth_challenge(**answer)["AuthenticationResult"]
    assert {"AccessToken", "IdToken", "RefreshToken", "ExpiresIn", "TokenType"} <= set(result)
    assert result["TokenType"] == "Bearer" and result["ExpiresIn"] == 3600
    # A session answers once.
    assert error(p.respond_to_auth_challenge, **answer) == ("NotAuthorizedException", "Invalid session for the user.")
    assert c.admin_get_user(UserPoolId=pid, Username="alice")["UserStatus"] == "CONFIRMED"
    assert refused(password_auth, p, cid, "alice", TEMPORARY) == "NotAuthorizedException"

    signed_in = password_auth(p, cid, "alice", PASSWORD)["AuthenticationResult"]
    access, id_token, refresh = signed_in["AccessToken"], signed_in["IdToken"], signed_in["RefreshToken"]
    header = jwt.get_unverified_header(access)
    assert header["alg"] == "RS256" and header["kid"] and jwt.get_unverified_header(id_token)["kid"] != header["kid"]
    a, i = claims(access), claims(id_token)
    assert a["token_use"] == "access" and a["client_id"] == cid and a["scope"] == "aws.cognito.signin.user.admin"
    assert a["username"] == "alice" and a["iss"].endswith("/" + pid) and a["exp"] - a["iat"] == 3600
    assert i["token_use"] == "id" and i["aud"] == cid and i["cognito:username"] == "alice"
    assert i["email"] == "alice@example.com" and i["email_verified"] is True and i["sub"] == a["sub"]
    assert a["origin_jti"] == i["origin_jti"] and a["event_id"] == i["event_id"] and a["jti"] != i["jti"]
    assert a["auth_time"] <= a["iat"]

    got = p.get_user(AccessToken=access)
    assert got["Username"] == "alice"
    assert {x["Name"]: x["Value"] for x in got["UserAttributes"]}["email"] == "alice@example.com"
    assert refused(p.get_user, AccessToken=id_token) == "NotAuthorizedException"
    assert refused(p.get_user, AccessToken=access[:-4] + "AAAA") == "NotAuthorizedException"

    refreshed = p.initiate_auth(ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh})["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    assert claims(refreshed["AccessToken"])["origin_jti"] == a["origin_jti"]
    assert claims(refreshed["AccessToken"])["auth_time"] == a["auth_time"]
    assert p.get_user(AccessToken=refreshed["AccessToken"])["Username"] == "alice"
    assert refused(p.initiate_auth, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh + "x"}) == "NotAuthorizedException"

    p.global_sign_out(AccessToken=refreshed["AccessToken"])
    for token in (access, refreshed["AccessToken"]):
        assert error(p.get_user, AccessToken=token) == ("NotAuthorizedException", "Access Token has been revoked")
    assert refused(p.initiate_auth, ClientId=cid, AuthFlow="REFRESH_TOKEN", AuthParameters={"REFRESH_TOKEN": refresh}) == "NotAuthorizedException"
    # A new sign-in is a new family.
    again = password_auth(p, cid, "alice", PASSWORD)["AuthenticationResult"]
    assert p.get_user(AccessToken=again["AccessToken"])["Username"] == "alice"


def test_admin_initiate_auth_and_admin_sign_out(server):
    c, pid, client = setup(server)
    cid = client["ClientId"]
    result = c.admin_initiate_auth(UserPoolId=pid, ClientId=cid, AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]
    # Email alias? Not in this pool: the username only.
    assert refused(c.admin_initiate_auth, UserPoolId=pid, ClientId=cid, AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": "Wr0ng-Password!"}) == "NotAuthorizedException"
    # The public operation does not take the admin flow, nor the admin one the public flow.
    p = public(server)
    assert refused(p.initiate_auth, ClientId=cid, AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD}) == "InvalidParameterException"
    assert refused(c.admin_initiate_auth, UserPoolId=pid, ClientId=cid, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD}) == "InvalidParameterException"
    # Unsigned, the admin form is refused before anything runs.
    assert refused(p.admin_initiate_auth, UserPoolId=pid, ClientId=cid, AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD}) in ("MissingAuthenticationTokenException", "UnrecognizedClientException", "AccessDeniedException")
    # A client of another pool is not found through this pool.
    _, other_pid, other_client = setup(server, users=())
    assert refused(c.admin_initiate_auth, UserPoolId=pid, ClientId=other_client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD}) == "ResourceNotFoundException"
    c.admin_user_global_sign_out(UserPoolId=pid, Username="alice")
    assert error(p.get_user, AccessToken=result["AccessToken"]) == ("NotAuthorizedException", "Access Token has been revoked")
    assert refused(c.admin_initiate_auth, UserPoolId=pid, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]}) == "NotAuthorizedException"


def test_admin_operations_are_decided_on_the_pool_arn(server):
    c, pid_a, client_a = setup(server)
    _, pid_b, client_b = setup(server)
    arn_a = c.describe_user_pool(UserPoolId=pid_a)["UserPool"]["Arn"]
    scoped = idp_user(server, [{"Effect": "Allow", "Action": ["cognito-idp:AdminInitiateAuth", "cognito-idp:AdminUserGlobalSignOut", "cognito-idp:AdminRespondToAuthChallenge"], "Resource": arn_a}])
    params = {"AuthFlow": "ADMIN_USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "alice", "PASSWORD": PASSWORD}}
    assert "AuthenticationResult" in scoped.admin_initiate_auth(UserPoolId=pid_a, ClientId=client_a["ClientId"], **params)
    scoped.admin_user_global_sign_out(UserPoolId=pid_a, Username="alice")
    assert refused(scoped.admin_initiate_auth, UserPoolId=pid_b, ClientId=client_b["ClientId"], **params) == "AccessDeniedException"
    # Pool A authorized, pool B's client named: not found in A, never run in B.
    assert refused(scoped.admin_initiate_auth, UserPoolId=pid_a, ClientId=client_b["ClientId"], **params) == "ResourceNotFoundException"
    assert refused(scoped.admin_user_global_sign_out, UserPoolId=pid_b, Username="alice") == "AccessDeniedException"
    assert refused(scoped.admin_respond_to_auth_challenge, UserPoolId=pid_b, ClientId=client_b["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED", Session="x" * 40, ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": PASSWORD}) == "AccessDeniedException"


def test_explicit_auth_flows_are_enforced(server):
    c, pid, client = setup(server, flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    p = public(server)
    code, message = error(password_auth, p, client["ClientId"], "alice", PASSWORD)
    assert code == "InvalidParameterException" and "USER_PASSWORD_AUTH" in message
    assert refused(c.admin_initiate_auth, UserPoolId=pid, ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD}) == "InvalidParameterException"
    assert refused(p.initiate_auth, ClientId="nosuchclient1234567890abcd", AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD}) == "ResourceNotFoundException"
    assert refused(p.initiate_auth, ClientId=client["ClientId"], AuthFlow="NOT_A_FLOW", AuthParameters={}) in ("InvalidParameterException", "ValidationException")


def secret_hash(secret, username, client_id):
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_secret_hash_is_required_and_checked(server):
    c, pid, client = setup(server, secret=True)
    p = public(server)
    cid, secret = client["ClientId"], client["ClientSecret"]
    code, message = error(password_auth, p, cid, "alice", PASSWORD)
    assert code == "NotAuthorizedException" and cid in message
    assert refused(password_auth, p, cid, "alice", PASSWORD, SECRET_HASH=secret_hash(secret, "bob", cid)) == "NotAuthorizedException"
    assert refused(password_auth, p, cid, "alice", PASSWORD, SECRET_HASH="not base64!") == "NotAuthorizedException"
    result = password_auth(p, cid, "alice", PASSWORD, SECRET_HASH=secret_hash(secret, "alice", cid))["AuthenticationResult"]
    refresh = {"REFRESH_TOKEN": result["RefreshToken"]}
    assert refused(p.initiate_auth, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=refresh) == "NotAuthorizedException"
    again = p.initiate_auth(ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={**refresh, "SECRET_HASH": secret_hash(secret, "alice", cid)})
    assert "AccessToken" in again["AuthenticationResult"]
    # RevokeToken needs the client's secret, then ends the family.
    assert refused(p.revoke_token, Token=result["RefreshToken"], ClientId=cid, ClientSecret="w" * 51) == "UnauthorizedException"
    p.revoke_token(Token=result["RefreshToken"], ClientId=cid, ClientSecret=secret)
    assert refused(p.initiate_auth, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={**refresh, "SECRET_HASH": secret_hash(secret, "alice", cid)}) == "NotAuthorizedException"
    assert error(p.get_user, AccessToken=result["AccessToken"]) == ("NotAuthorizedException", "Access Token has been revoked")


def test_disabled_unconfirmed_and_reset_users_are_refused(server):
    c, pid, client = setup(server, users=("dis", "reset"))
    p = public(server)
    cid = client["ClientId"]
    c.admin_disable_user(UserPoolId=pid, Username="dis")
    assert error(password_auth, p, cid, "dis", PASSWORD) == ("NotAuthorizedException", "User is disabled.")
    c.admin_update_user_attributes(UserPoolId=pid, Username="reset", UserAttributes=[{"Name": "email_verified", "Value": "true"}])
    c.admin_reset_user_password(UserPoolId=pid, Username="reset")
    assert refused(password_auth, p, cid, "reset", PASSWORD) == "PasswordResetRequiredException"


def test_unknown_user_and_wrong_password_look_the_same_when_asked(server):
    _, _, hiding = setup(server, prevent=True)
    p = public(server)
    unknown = error(password_auth, p, hiding["ClientId"], "nobody", PASSWORD)
    wrong = error(password_auth, p, hiding["ClientId"], "alice", "Wr0ng-Password!")
    assert unknown == wrong == ("NotAuthorizedException", "Incorrect username or password.")
    # SRP too: an unknown name gets a challenge like a real one, with a stable salt.
    srp_unknown = AWSSRP(username="nobody", password=PASSWORD, pool_id=hiding["UserPoolId"], client_id=hiding["ClientId"], client=p)
    first = p.initiate_auth(ClientId=hiding["ClientId"], AuthFlow="USER_SRP_AUTH", AuthParameters=srp_unknown.get_auth_params())
    second = p.initiate_auth(ClientId=hiding["ClientId"], AuthFlow="USER_SRP_AUTH", AuthParameters=srp_unknown.get_auth_params())
    assert first["ChallengeName"] == "PASSWORD_VERIFIER" and first["ChallengeParameters"]["SALT"] == second["ChallengeParameters"]["SALT"]
    assert refused(srp_unknown.authenticate_user) == "NotAuthorizedException"
    # Without PreventUserExistenceErrors, Cognito says the user does not exist.
    _, _, telling = setup(server)
    assert refused(password_auth, p, telling["ClientId"], "nobody", PASSWORD) == "UserNotFoundException"
    assert refused(password_auth, p, telling["ClientId"], "alice", "Wr0ng-Password!") == "NotAuthorizedException"


def test_pycognito_srp_sign_in(server):
    c, pid, client = setup(server, secret=False)
    p = public(server)
    tokens = AWSSRP(username="alice", password=PASSWORD, pool_id=pid, client_id=client["ClientId"], client=p).authenticate_user()
    result = tokens["AuthenticationResult"]
    assert p.get_user(AccessToken=result["AccessToken"])["Username"] == "alice"
    assert claims(result["IdToken"])["cognito:username"] == "alice"
    assert refused(AWSSRP(username="alice", password="Wr0ng-Password!", pool_id=pid, client_id=client["ClientId"], client=p).authenticate_user) == "NotAuthorizedException"
    # With a client secret, pycognito sends SECRET_HASH at both steps.
    _, pid2, secret_client = setup(server, secret=True)
    tokens = AWSSRP(username="alice", password=PASSWORD, pool_id=pid2, client_id=secret_client["ClientId"], client_secret=secret_client["ClientSecret"], client=p).authenticate_user()
    assert "AccessToken" in tokens["AuthenticationResult"]
    # A replayed PASSWORD_VERIFIER answer is refused (the SECRET_BLOCK is single-use).
    srp = AWSSRP(username="alice", password=PASSWORD, pool_id=pid, client_id=client["ClientId"], client=p)
    challenge = p.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_SRP_AUTH", AuthParameters=srp.get_auth_params())
    answer = srp.process_challenge(challenge["ChallengeParameters"], srp.get_auth_params())
    assert "AuthenticationResult" in p.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer)
    assert refused(p.respond_to_auth_challenge, ClientId=client["ClientId"], ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer) == "NotAuthorizedException"
    # A FORCE_CHANGE_PASSWORD user is asked for a new password after SRP, as pycognito expects.
    c.admin_create_user(UserPoolId=pid, Username="newbie", TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS")
    srp = AWSSRP(username="newbie", password=TEMPORARY, pool_id=pid, client_id=client["ClientId"], client=p)
    done = srp.set_new_password_challenge(PASSWORD)
    assert "AccessToken" in done["AuthenticationResult"]


def test_lockout_grows_and_survives_a_restart(fresh_server):
    srv = fresh_server()
    c, pid, client = setup(srv, users=("alice", "bob"))
    p = public(srv)
    cid = client["ClientId"]
    for _ in range(5):
        assert error(password_auth, p, cid, "alice", "Wr0ng-Password!") == ("NotAuthorizedException", "Incorrect username or password.")
    # Locked for 1 s after the fifth failure: even the right password is not checked.
    assert error(password_auth, p, cid, "alice", PASSWORD) == ("NotAuthorizedException", "Password attempts exceeded")
    time.sleep(1.2)
    # The sixth failure locks for 2 s.
    assert error(password_auth, p, cid, "alice", "Wr0ng-Password!")[1] == "Incorrect username or password."
    assert error(password_auth, p, cid, "alice", PASSWORD)[1] == "Password attempts exceeded"
    time.sleep(2.2)
    assert "AccessToken" in password_auth(p, cid, "alice", PASSWORD)["AuthenticationResult"]
    # Success cleared the count; the count is in the store, so it survives a restart.
    for _ in range(4):
        refused(password_auth, p, cid, "bob", "Wr0ng-Password!")
    srv.kill()
    srv2 = fresh_server(data_dir=srv.data_dir)
    p2 = public(srv2)
    assert error(password_auth, p2, cid, "bob", "Wr0ng-Password!")[1] == "Incorrect username or password."
    assert error(password_auth, p2, cid, "bob", PASSWORD)[1] == "Password attempts exceeded"


def test_lockout_applies_across_nodes_sharing_postgresql(fresh_server, pg_store_url):
    """The failure count and the lockout are in the shared store: failures spread over two nodes
    add up, and the user is locked out on both (an attacker cannot spread guesses over nodes)."""
    a = fresh_server(["--store", pg_store_url])
    b = fresh_server(["--store", pg_store_url], data_dir=a.data_dir)
    _, _, client = setup(a, users=("carol",))
    cid = client["ClientId"]
    pa, pb = public(a), public(b)
    for p in (pa, pb, pa, pb, pa):
        assert error(password_auth, p, cid, "carol", "Wr0ng-Password!") == ("NotAuthorizedException", "Incorrect username or password.")
    # Five failures, three on a and two on b: locked on both, the right password not checked.
    assert error(password_auth, pb, cid, "carol", PASSWORD)[1] == "Password attempts exceeded"
    assert error(password_auth, pa, cid, "carol", PASSWORD)[1] == "Password attempts exceeded"
    time.sleep(1.2)
    # After the lockout, a success on b clears the count for a too.
    assert "AccessToken" in password_auth(pb, cid, "carol", PASSWORD)["AuthenticationResult"]
    for _ in range(4):
        refused(password_auth, pa, cid, "carol", "Wr0ng-Password!")
    assert "AccessToken" in password_auth(pa, cid, "carol", PASSWORD)["AuthenticationResult"]


def test_passwords_tokens_and_totp_secrets_never_in_store_logs_or_audit(fresh_server):
    srv = fresh_server()
    c = idp(srv)
    p = public(srv)
    marker = "Unmistakable-Pa55word-9e1d!"
    pid = pool(c)["Id"]
    cid = c.create_user_pool_client(UserPoolId=pid, ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    c.admin_create_user(UserPoolId=pid, Username="disk", TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS")
    session = password_auth(p, cid, "disk", TEMPORARY)["Session"]
    p.respond_to_auth_challenge(ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session, ChallengeResponses={"USERNAME": "disk", "NEW_PASSWORD": marker})
    result = password_auth(p, cid, "disk", marker)["AuthenticationResult"]
    refused(password_auth, p, cid, "disk", marker + "x")
    AWSSRP(username="disk", password=marker, pool_id=pid, client_id=cid, client=p).authenticate_user()
    totp_secret = p.associate_software_token(AccessToken=result["AccessToken"])["SecretCode"]
    p.verify_software_token(AccessToken=result["AccessToken"], UserCode=totp(totp_secret))
    secrets = [marker, TEMPORARY, result["RefreshToken"], totp_secret]
    audit = srv.audit()
    assert "InitiateAuth" in audit
    for s in secrets:
        for f in Path(srv.data_dir).rglob("*"):
            if f.is_file():
                assert s.encode() not in f.read_bytes(), f
        assert s not in srv.logs()
        assert s not in audit


def totp(secret, offset_steps=0):
    """RFC 6238 code for the base32 `secret`, `offset_steps` steps from now."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time()) // 30 + offset_steps
    digest = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset:offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_totp_optional_then_required_at_sign_in(server):
    c = idp(server)
    p = public(server)
    pid = pool(c, MfaConfiguration="OPTIONAL")["Id"]
    cid = c.create_user_pool_client(UserPoolId=pid, ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    c.admin_create_user(UserPoolId=pid, Username="tim", MessageAction="SUPPRESS")
    c.admin_set_user_password(UserPoolId=pid, Username="tim", Password=PASSWORD, Permanent=True)
    access = password_auth(p, cid, "tim", PASSWORD)["AuthenticationResult"]["AccessToken"]
    secret = p.associate_software_token(AccessToken=access)["SecretCode"]
    # Enabling before a code was verified is refused; a wrong code does not verify.
    assert refused(p.set_user_mfa_preference, AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}) == "InvalidParameterException"
    wrong = "000000" if totp(secret) != "000000" else "111111"
    assert refused(p.verify_software_token, AccessToken=access, UserCode=wrong) == "EnableSoftwareTokenMFAException"
    assert p.verify_software_token(AccessToken=access, UserCode=totp(secret))["Status"] == "SUCCESS"
    # Verified but not enabled: sign-in still needs only the password.
    assert "AuthenticationResult" in password_auth(p, cid, "tim", PASSWORD)
    p.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    assert p.get_user(AccessToken=access)["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]

    challenge = password_auth(p, cid, "tim", PASSWORD)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA" and "AuthenticationResult" not in challenge
    answer = lambda session, code: p.respond_to_auth_challenge(ClientId=cid, ChallengeName="SOFTWARE_TOKEN_MFA", Session=session, ChallengeResponses={"USERNAME": "tim", "SOFTWARE_TOKEN_MFA_CODE": code})
    assert refused(answer, challenge["Session"], wrong) == "CodeMismatchException"
    # The session was spent by the wrong answer; a new sign-in, and the next step's code.
    challenge = password_auth(p, cid, "tim", PASSWORD)
    code = totp(secret, 1)
    result = answer(challenge["Session"], code)["AuthenticationResult"]
    assert p.get_user(AccessToken=result["AccessToken"])["Username"] == "tim"
    # A code is accepted once.
    challenge = password_auth(p, cid, "tim", PASSWORD)
    assert refused(answer, challenge["Session"], code) == "CodeMismatchException"


def test_totp_setup_when_the_pool_requires_mfa(server):
    c = idp(server)
    p = public(server)
    pid = pool(c, MfaConfiguration="ON")["Id"]
    cid = c.create_user_pool_client(UserPoolId=pid, ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    c.admin_create_user(UserPoolId=pid, Username="una", MessageAction="SUPPRESS")
    c.admin_set_user_password(UserPoolId=pid, Username="una", Password=PASSWORD, Permanent=True)
    challenge = password_auth(p, cid, "una", PASSWORD)
    assert challenge["ChallengeName"] == "MFA_SETUP" and "AuthenticationResult" not in challenge
    # Answering MFA_SETUP before verifying a code is refused.
    early = p.associate_software_token(Session=challenge["Session"])
    secret = early["SecretCode"]
    assert refused(p.respond_to_auth_challenge, ClientId=cid, ChallengeName="MFA_SETUP", Session=early["Session"], ChallengeResponses={"USERNAME": "una"}) == "NotAuthorizedException"
    challenge = password_auth(p, cid, "una", PASSWORD)
    associated = p.associate_software_token(Session=challenge["Session"])
    secret = associated["SecretCode"]
    verified = p.verify_software_token(Session=associated["Session"], UserCode=totp(secret))
    assert verified["Status"] == "SUCCESS"
    result = p.respond_to_auth_challenge(ClientId=cid, ChallengeName="MFA_SETUP", Session=verified["Session"], ChallengeResponses={"USERNAME": "una"})["AuthenticationResult"]
    assert p.get_user(AccessToken=result["AccessToken"])["Username"] == "una"
    challenge = password_auth(p, cid, "una", PASSWORD)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    tokens = p.respond_to_auth_challenge(ClientId=cid, ChallengeName="SOFTWARE_TOKEN_MFA", Session=challenge["Session"], ChallengeResponses={"USERNAME": "una", "SOFTWARE_TOKEN_MFA_CODE": totp(secret, 1)})
    assert "AccessToken" in tokens["AuthenticationResult"]


def test_wrong_totp_codes_count_toward_the_lockout(server):
    c = idp(server)
    p = public(server)
    pid = pool(c, MfaConfiguration="OPTIONAL")["Id"]
    cid = c.create_user_pool_client(UserPoolId=pid, ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    c.admin_create_user(UserPoolId=pid, Username="mo", MessageAction="SUPPRESS")
    c.admin_set_user_password(UserPoolId=pid, Username="mo", Password=PASSWORD, Permanent=True)
    access = password_auth(p, cid, "mo", PASSWORD)["AuthenticationResult"]["AccessToken"]
    secret = p.associate_software_token(AccessToken=access)["SecretCode"]
    p.verify_software_token(AccessToken=access, UserCode=totp(secret))
    p.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})

    def wrong_code():
        near = {totp(secret, step) for step in (-2, -1, 0, 1, 2)}
        return next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in near)

    def answer(code):
        # The right password each time: it must not wipe out what wrong codes earned.
        challenge = password_auth(p, cid, "mo", PASSWORD)
        assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        return p.respond_to_auth_challenge(ClientId=cid, ChallengeName="SOFTWARE_TOKEN_MFA", Session=challenge["Session"], ChallengeResponses={"USERNAME": "mo", "SOFTWARE_TOKEN_MFA_CODE": code})

    for _ in range(5):
        assert refused(answer, wrong_code()) == "CodeMismatchException"
    # The fifth wrong code locked the user out: not even the right password is checked.
    assert error(password_auth, p, cid, "mo", PASSWORD) == ("NotAuthorizedException", "Password attempts exceeded")
    time.sleep(1.2)
    # Once the lockout ran out, the right password and a right code sign in, and clear the count.
    assert "AccessToken" in answer(totp(secret, 1))["AuthenticationResult"]
    # Wrong passwords and wrong codes add up in one count.
    for _ in range(3):
        assert error(password_auth, p, cid, "mo", "Wr0ng-Password!") == ("NotAuthorizedException", "Incorrect username or password.")
    for _ in range(2):
        assert refused(answer, wrong_code()) == "CodeMismatchException"
    assert error(password_auth, p, cid, "mo", PASSWORD) == ("NotAuthorizedException", "Password attempts exceeded")
