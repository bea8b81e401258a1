"""What tokens let a user do, through boto3: RevokeToken takes refresh tokens only
(`UnsupportedTokenTypeException` for an ID or access token, as AWS documents), and GetUser shows
only the attributes the token's app client may read (its ReadAttributes)."""

import jwt

from user_pools_support import PASSWORD, error, pool_with_users, public


def sign_in(p, client_id, username="alice"):
    return p.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})["AuthenticationResult"]


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_revoke_token_takes_refresh_tokens_only(server):
    _, _, client = pool_with_users(server)
    cid = client["ClientId"]
    p = public(server)
    tokens = sign_in(p, cid)
    for kind in ("AccessToken", "IdToken"):
        code, message = error(p.revoke_token, Token=tokens[kind], ClientId=cid)
        assert code == "UnsupportedTokenTypeException", (kind, code, message)
    # Refused with HTTP 400, as Cognito answers it.
    try:
        p.revoke_token(Token=tokens["AccessToken"], ClientId=cid)
    except p.exceptions.UnsupportedTokenTypeException as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Nothing was revoked by the refused calls.
    assert p.get_user(AccessToken=tokens["AccessToken"])["Username"] == "alice"
    p.revoke_token(Token=tokens["RefreshToken"], ClientId=cid)
    assert error(p.get_user, AccessToken=tokens["AccessToken"]) == ("NotAuthorizedException", "Access Token has been revoked")


def test_get_user_shows_only_what_the_client_may_read(server):
    c, pid, narrow = pool_with_users(server, client_args={"ReadAttributes": ["email", "custom:tier"]}, pool_args={"Schema": [{"Name": "tier", "AttributeDataType": "String", "Mutable": True}]})
    wide = c.create_user_pool_client(UserPoolId=pid, ClientName="wide", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
    c.admin_update_user_attributes(
        UserPoolId=pid,
        Username="alice",
        UserAttributes=[
            {"Name": "name", "Value": "Alice Liddell"},
            {"Name": "phone_number", "Value": "+15555550100"},
            {"Name": "custom:tier", "Value": "gold"},
        ],
    )
    p = public(server)

    narrow_tokens = sign_in(p, narrow["ClientId"])
    shown = {a["Name"]: a["Value"] for a in p.get_user(AccessToken=narrow_tokens["AccessToken"])["UserAttributes"]}
    assert set(shown) == {"sub", "email", "custom:tier"}, shown
    assert shown["email"] == "alice@example.com" and shown["custom:tier"] == "gold"
    id_claims = claims(narrow_tokens["IdToken"])
    assert "name" not in id_claims and "phone_number" not in id_claims and id_claims["email"] == "alice@example.com"

    # A client that names no ReadAttributes reads them all.
    wide_tokens = sign_in(p, wide["ClientId"])
    shown = {a["Name"]: a["Value"] for a in p.get_user(AccessToken=wide_tokens["AccessToken"])["UserAttributes"]}
    assert {"sub", "email", "name", "phone_number", "custom:tier"} <= set(shown), shown
    assert shown["name"] == "Alice Liddell"
    # The administrator's view is not bound by any client.
    admin_view = {a["Name"] for a in c.admin_get_user(UserPoolId=pid, Username="alice")["UserAttributes"]}
    assert {"name", "phone_number"} <= admin_view
