"""Self-service sign-up and password reset through boto3, unsigned as apps call them:
SignUp, ConfirmSignUp, ResendConfirmationCode, ForgotPassword, ConfirmForgotPassword — codes
read from the outbox with `rampart identity outbox`, SECRET_HASH, the pool's password policy,
username and alias attributes, code attempt limits and PreventUserExistenceErrors."""

import base64
import hashlib
import hmac

from outbox_support import last_code, outbox, public_idp
from user_pools_support import error, idp, pool, refused, unique

PASSWORD = "Corr3ct-Horse-Battery!"
NEW_PASSWORD = "An0ther-Horse-Battery!"


def attrs(user):
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


def secret_hash(secret, username, client_id):
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def app(c, pool_id, **kwargs):
    return c.create_user_pool_client(UserPoolId=pool_id, ClientName=unique("app"), **kwargs)["UserPoolClient"]


def test_sign_up_confirm_and_resend(server):
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, AutoVerifiedAttributes=["email"])["Id"]
    cid = app(admin, pid)["ClientId"]
    out = public.sign_up(ClientId=cid, Username="alice", Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": "alice@example.com"}])
    assert out["UserConfirmed"] is False and len(out["UserSub"]) == 36
    assert out["CodeDeliveryDetails"] == {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    user = admin.admin_get_user(UserPoolId=pid, Username="alice")
    assert user["UserStatus"] == "UNCONFIRMED" and attrs(user)["sub"] == out["UserSub"]
    assert refused(public.sign_up, ClientId=cid, Username="alice", Password=PASSWORD) == "UsernameExistsException"

    first = last_code(server, pid, "alice", "sign-up")
    assert len(first) == 6 and first.isdigit()
    [message] = [m for m in outbox(server, pid) if m["username"] == "alice"]
    assert message["destination"] == "alice@example.com" and message["medium"] == "EMAIL"
    # A resent code replaces the first.
    resent = public.resend_confirmation_code(ClientId=cid, Username="alice")
    assert resent["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    second = last_code(server, pid, "alice", "sign-up")
    wrong = "000000" if second != "000000" else "111111"
    assert error(public.confirm_sign_up, ClientId=cid, Username="alice", ConfirmationCode=wrong) == (
        "CodeMismatchException",
        "Invalid verification code provided, please try again.",
    )
    if first != second:
        assert refused(public.confirm_sign_up, ClientId=cid, Username="alice", ConfirmationCode=first) == "CodeMismatchException"
    public.confirm_sign_up(ClientId=cid, Username="alice", ConfirmationCode=second)
    user = admin.admin_get_user(UserPoolId=pid, Username="alice")
    assert user["UserStatus"] == "CONFIRMED" and attrs(user)["email_verified"] == "true"
    # Single use: the user is confirmed, and resending is refused.
    assert refused(public.confirm_sign_up, ClientId=cid, Username="alice", ConfirmationCode=second) == "NotAuthorizedException"
    assert refused(public.resend_confirmation_code, ClientId=cid, Username="alice") == "InvalidParameterException"


def test_sign_up_without_auto_verification_sends_nothing(server):
    admin, public = idp(server), public_idp(server)
    pid = pool(admin)["Id"]
    cid = app(admin, pid)["ClientId"]
    out = public.sign_up(ClientId=cid, Username="bob", Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": "bob@example.com"}])
    assert out["UserConfirmed"] is False and "CodeDeliveryDetails" not in out
    assert outbox(server, pid) == []
    assert refused(public.resend_confirmation_code, ClientId=cid, Username="bob") == "InvalidParameterException"
    admin.admin_confirm_sign_up(UserPoolId=pid, Username="bob")
    assert admin.admin_get_user(UserPoolId=pid, Username="bob")["UserStatus"] == "CONFIRMED"


def test_password_policy_is_cognitos(server):
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, Policies={"PasswordPolicy": {"MinimumLength": 10, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True, "RequireSymbols": True}})["Id"]
    cid = app(admin, pid)["ClientId"]
    cases = [
        ("Sh0rt!", "Password did not conform with policy: Password not long enough"),
        ("nouppercase1!", "Password did not conform with policy: Password must have uppercase characters"),
        ("NOLOWERCASE1!", "Password did not conform with policy: Password must have lowercase characters"),
        ("NoNumbersHere!", "Password did not conform with policy: Password must have numeric characters"),
        ("NoSymbols12345", "Password did not conform with policy: Password must have symbol characters"),
    ]
    for password, message in cases:
        assert error(public.sign_up, ClientId=cid, Username=unique("u"), Password=password) == ("InvalidPasswordException", message)
    assert refused(public.sign_up, ClientId=cid, Username=unique("u")) == "InvalidParameterException"
    assert admin.list_users(UserPoolId=pid)["Users"] == []


def test_secret_hash_is_required_and_checked(server):
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, AutoVerifiedAttributes=["email"])["Id"]
    client = app(admin, pid, GenerateSecret=True)
    cid, secret = client["ClientId"], client["ClientSecret"]
    assert error(public.sign_up, ClientId=cid, Username="carol", Password=PASSWORD) == (
        "NotAuthorizedException",
        f"Unable to verify secret hash for client {cid}",
    )
    wrong = secret_hash(secret, "mallory", cid)
    assert refused(public.sign_up, ClientId=cid, Username="carol", Password=PASSWORD, SecretHash=wrong) == "NotAuthorizedException"
    other = secret_hash("x" * len(secret), "carol", cid)
    assert refused(public.sign_up, ClientId=cid, Username="carol", Password=PASSWORD, SecretHash=other) == "NotAuthorizedException"
    assert admin.list_users(UserPoolId=pid)["Users"] == []
    good = secret_hash(secret, "carol", cid)
    public.sign_up(ClientId=cid, Username="carol", Password=PASSWORD, SecretHash=good, UserAttributes=[{"Name": "email", "Value": "carol@example.com"}])
    code = last_code(server, pid, "carol")
    assert refused(public.confirm_sign_up, ClientId=cid, Username="carol", ConfirmationCode=code) == "NotAuthorizedException"
    public.confirm_sign_up(ClientId=cid, Username="carol", ConfirmationCode=code, SecretHash=good)
    assert refused(public.forgot_password, ClientId=cid, Username="carol", SecretHash=wrong) == "NotAuthorizedException"
    public.forgot_password(ClientId=cid, Username="carol", SecretHash=good)
    # A client without a secret ignores a SecretHash.
    plain = app(admin, pid)["ClientId"]
    public.sign_up(ClientId=plain, Username="dave", Password=PASSWORD, SecretHash=good)


def test_sign_up_cannot_claim_a_verified_alias(server):
    """A verified email is a sign-in name: the code proves it, a SignUp cannot just say so."""
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, AliasAttributes=["email"], AutoVerifiedAttributes=["email"])["Id"]
    cid = app(admin, pid)["ClientId"]
    confirmed_user(server, admin, public, pid, cid, "olivia")
    for flag in ["email_verified", "phone_number_verified"]:
        assert error(public.sign_up, ClientId=cid, Username="mallory", Password=PASSWORD, UserAttributes=[
            {"Name": "email", "Value": "olivia@example.com"}, {"Name": flag, "Value": "true"}]) == (
            "NotAuthorizedException", f"A client attempted to write unauthorized attribute {flag}")
    assert admin.admin_get_user(UserPoolId=pid, Username="olivia@example.com")["Username"] == "olivia"
    # A client whose WriteAttributes omit an attribute may not write it either.
    limited = app(admin, pid, WriteAttributes=["email"])["ClientId"]
    assert refused(public.sign_up, ClientId=limited, Username="pat", Password=PASSWORD, UserAttributes=[{"Name": "name", "Value": "Pat"}]) == "NotAuthorizedException"
    # Signing up with an email another user holds as a verified alias: the confirmation is refused.
    public.sign_up(ClientId=cid, Username="mallory", Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": "olivia@example.com"}])
    code = last_code(server, pid, "mallory")
    assert refused(public.confirm_sign_up, ClientId=cid, Username="mallory", ConfirmationCode=code) == "AliasExistsException"
    assert admin.admin_get_user(UserPoolId=pid, Username="olivia@example.com")["Username"] == "olivia"
    # ForceAliasCreation, once the code is proven: the alias moves, the former holder's email is
    # no longer verified.
    assert refused(public.confirm_sign_up, ClientId=cid, Username="mallory", ConfirmationCode="000000" if code != "000000" else "111111", ForceAliasCreation=True) == "CodeMismatchException"
    assert admin.admin_get_user(UserPoolId=pid, Username="olivia@example.com")["Username"] == "olivia"
    public.confirm_sign_up(ClientId=cid, Username="mallory", ConfirmationCode=code, ForceAliasCreation=True)
    assert admin.admin_get_user(UserPoolId=pid, Username="olivia@example.com")["Username"] == "mallory"
    olivia = admin.admin_get_user(UserPoolId=pid, Username="olivia")
    assert attrs(olivia)["email_verified"] == "false" and olivia["UserStatus"] == "CONFIRMED"


def test_unknown_client_and_admin_only_pool(server):
    admin, public = idp(server), public_idp(server)
    assert refused(public.sign_up, ClientId="a" * 26, Username="x", Password=PASSWORD) == "ResourceNotFoundException"
    pid = pool(admin, AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})["Id"]
    cid = app(admin, pid)["ClientId"]
    assert error(public.sign_up, ClientId=cid, Username="x", Password=PASSWORD) == ("NotAuthorizedException", "SignUp is not permitted for this user pool")
    # A deleted client no longer resolves.
    other = app(admin, pid)["ClientId"]
    admin.delete_user_pool_client(UserPoolId=pid, ClientId=other)
    assert refused(public.forgot_password, ClientId=other, Username="x") == "ResourceNotFoundException"
    admin.delete_user_pool(UserPoolId=pid)
    assert refused(public.forgot_password, ClientId=cid, Username="x") == "ResourceNotFoundException"


def test_email_as_username(server):
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])["Id"]
    cid = app(admin, pid)["ClientId"]
    out = public.sign_up(ClientId=cid, Username="Erin@Example.com", Password=PASSWORD)
    user = admin.admin_get_user(UserPoolId=pid, Username="erin@example.com")
    assert user["Username"] == out["UserSub"] and attrs(user)["email"] == "Erin@Example.com"
    assert refused(public.sign_up, ClientId=cid, Username="erin@example.com", Password=PASSWORD) == "UsernameExistsException"
    assert refused(public.sign_up, ClientId=cid, Username="erin", Password=PASSWORD) == "InvalidParameterException"
    code = last_code(server, pid, out["UserSub"])
    public.confirm_sign_up(ClientId=cid, Username="erin@example.com", ConfirmationCode=code)
    assert admin.admin_get_user(UserPoolId=pid, Username=out["UserSub"])["UserStatus"] == "CONFIRMED"


def test_alias_attributes(server):
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, AliasAttributes=["email"], AutoVerifiedAttributes=["email"])["Id"]
    cid = app(admin, pid)["ClientId"]
    assert error(public.sign_up, ClientId=cid, Username="frank@example.com", Password=PASSWORD) == (
        "InvalidParameterException",
        "Username cannot be of email format, since user pool is configured for email alias.",
    )
    public.sign_up(ClientId=cid, Username="frank", Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": "frank@example.com"}])
    # The email becomes a sign-in alias once verified (by the confirmation code).
    assert refused(admin.admin_get_user, UserPoolId=pid, Username="frank@example.com") == "UserNotFoundException"
    public.confirm_sign_up(ClientId=cid, Username="frank", ConfirmationCode=last_code(server, pid, "frank"))
    assert admin.admin_get_user(UserPoolId=pid, Username="frank@example.com")["Username"] == "frank"
    # ForgotPassword by the alias.
    public.forgot_password(ClientId=cid, Username="frank@example.com")
    assert last_code(server, pid, "frank", "forgot-password")


def confirmed_user(server, admin, public, pid, cid, name):
    public.sign_up(ClientId=cid, Username=name, Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}])
    public.confirm_sign_up(ClientId=cid, Username=name, ConfirmationCode=last_code(server, pid, name, "sign-up"))


def test_forgot_password(server):
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, AutoVerifiedAttributes=["email"])["Id"]
    cid = app(admin, pid)["ClientId"]
    confirmed_user(server, admin, public, pid, cid, "grace")
    out = public.forgot_password(ClientId=cid, Username="grace")
    assert out["CodeDeliveryDetails"] == {"Destination": "g***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    code = last_code(server, pid, "grace", "forgot-password")
    assert error(public.confirm_forgot_password, ClientId=cid, Username="grace", ConfirmationCode=code, Password="short") == (
        "InvalidPasswordException",
        "Password does not conform to policy: Password not long enough",
    )
    wrong = "000000" if code != "000000" else "111111"
    assert refused(public.confirm_forgot_password, ClientId=cid, Username="grace", ConfirmationCode=wrong, Password=NEW_PASSWORD) == "CodeMismatchException"
    public.confirm_forgot_password(ClientId=cid, Username="grace", ConfirmationCode=code, Password=NEW_PASSWORD)
    assert admin.admin_get_user(UserPoolId=pid, Username="grace")["UserStatus"] == "CONFIRMED"
    # The code was single-use.
    assert refused(public.confirm_forgot_password, ClientId=cid, Username="grace", ConfirmationCode=code, Password=NEW_PASSWORD) == "ExpiredCodeException"
    # No verified destination: refused.
    public.sign_up(ClientId=cid, Username="heidi", Password=PASSWORD)
    assert refused(public.forgot_password, ClientId=cid, Username="heidi") == "InvalidParameterException"
    # An administrator's reset completes with the same operation.
    admin.admin_reset_user_password(UserPoolId=pid, Username="grace")
    assert admin.admin_get_user(UserPoolId=pid, Username="grace")["UserStatus"] == "RESET_REQUIRED"
    code = last_code(server, pid, "grace", "forgot-password")
    public.confirm_forgot_password(ClientId=cid, Username="grace", ConfirmationCode=code, Password=PASSWORD)
    assert admin.admin_get_user(UserPoolId=pid, Username="grace")["UserStatus"] == "CONFIRMED"


def test_too_many_wrong_codes(server):
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, AutoVerifiedAttributes=["email"])["Id"]
    cid = app(admin, pid)["ClientId"]
    public.sign_up(ClientId=cid, Username="ivan", Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": "ivan@example.com"}])
    code = last_code(server, pid, "ivan")
    wrong = "000000" if code != "000000" else "111111"
    audited = lambda outcome: len(server.audit("--operation", "ConfirmSignUp", "--outcome", outcome, "--json").splitlines())
    successes, failures = audited("success"), audited("failure")
    for _ in range(5):
        assert refused(public.confirm_sign_up, ClientId=cid, Username="ivan", ConfirmationCode=wrong) == "CodeMismatchException"
    # Each wrong code is audited once, as a failure (the attempt it counts is no success).
    assert (audited("success"), audited("failure")) == (successes, failures + 5)
    # Past the limit even the right code is refused.
    assert error(public.confirm_sign_up, ClientId=cid, Username="ivan", ConfirmationCode=code) == (
        "LimitExceededException",
        "Attempt limit exceeded, please try after some time.",
    )
    assert admin.admin_get_user(UserPoolId=pid, Username="ivan")["UserStatus"] == "UNCONFIRMED"
    # A new code starts over.
    public.resend_confirmation_code(ClientId=cid, Username="ivan")
    public.confirm_sign_up(ClientId=cid, Username="ivan", ConfirmationCode=last_code(server, pid, "ivan"))


def test_codes_sent_per_user_are_bounded(server):
    """Each code brings five fresh guesses: asking for codes is bounded too (five an hour)."""
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, AutoVerifiedAttributes=["email"])["Id"]
    cid = app(admin, pid)["ClientId"]
    confirmed_user(server, admin, public, pid, cid, "lena")
    confirmed_user(server, admin, public, pid, cid, "mona")
    for _ in range(5):
        public.forgot_password(ClientId=cid, Username="lena")
    assert error(public.forgot_password, ClientId=cid, Username="lena") == (
        "LimitExceededException", "Attempt limit exceeded, please try after some time.")
    assert len([m for m in outbox(server, pid) if m["username"] == "lena" and m["kind"] == "forgot-password"]) == 5
    # Another user is not affected; resends count the same way.
    public.forgot_password(ClientId=cid, Username="mona")
    public.sign_up(ClientId=cid, Username="nina", Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": "nina@example.com"}])
    for _ in range(5):
        public.resend_confirmation_code(ClientId=cid, Username="nina")
    assert refused(public.resend_confirmation_code, ClientId=cid, Username="nina") == "LimitExceededException"
    # The last code sent still confirms.
    public.confirm_sign_up(ClientId=cid, Username="nina", ConfirmationCode=last_code(server, pid, "nina"))


def test_user_existence_errors(server):
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, AutoVerifiedAttributes=["email"])["Id"]
    open_client = app(admin, pid, PreventUserExistenceErrors="LEGACY")["ClientId"]
    hiding = app(admin, pid, PreventUserExistenceErrors="ENABLED")["ClientId"]
    confirmed_user(server, admin, public, pid, open_client, "judy")

    assert refused(public.confirm_sign_up, ClientId=open_client, Username="nobody", ConfirmationCode="123456") == "UserNotFoundException"
    assert refused(public.forgot_password, ClientId=open_client, Username="nobody") == "UserNotFoundException"
    assert refused(public.resend_confirmation_code, ClientId=open_client, Username="nobody") == "UserNotFoundException"
    assert refused(public.confirm_forgot_password, ClientId=open_client, Username="nobody", ConfirmationCode="123456", Password=NEW_PASSWORD) == "UserNotFoundException"

    # With the client hiding users, an unknown user is answered as a known one.
    public.forgot_password(ClientId=hiding, Username="judy")
    real = public.forgot_password(ClientId=hiding, Username="judy")["CodeDeliveryDetails"]
    fake = public.forgot_password(ClientId=hiding, Username="nobody@example.com")["CodeDeliveryDetails"]
    assert set(fake) == set(real) and fake["DeliveryMedium"] == "EMAIL"
    assert "CodeDeliveryDetails" in public.resend_confirmation_code(ClientId=hiding, Username="nobody")
    for call, extra in [(public.confirm_sign_up, {}), (public.confirm_forgot_password, {"Password": NEW_PASSWORD})]:
        known = error(call, ClientId=hiding, Username="judy", ConfirmationCode="000000" if call is public.confirm_forgot_password else "123456", **extra)
        unknown = error(call, ClientId=hiding, Username="nobody", ConfirmationCode="123456", **extra)
        assert unknown[0] == "CodeMismatchException", unknown
        if call is public.confirm_forgot_password:
            assert known == unknown
    assert not [m for m in outbox(server, pid) if "nobody" in m["destination"] or m["username"] == "nobody"]


def test_outbox_cli_filters_by_pool(server):
    admin, public = idp(server), public_idp(server)
    pids = [pool(admin, AutoVerifiedAttributes=["email"])["Id"] for _ in range(2)]
    for pid in pids:
        cid = app(admin, pid)["ClientId"]
        public.sign_up(ClientId=cid, Username="kim", Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": "kim@example.com"}])
    for pid in pids:
        [m] = outbox(server, pid)
        assert m["pool_id"] == pid and m["username"] == "kim" and m["kind"] == "sign-up" and m["expires_at"]
    everything = outbox(server)
    assert {m["pool_id"] for m in everything} >= set(pids)
