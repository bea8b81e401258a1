"""cognito-idp pools and app clients through boto3: every operation, its errors, pagination,
and the IAM decision on the pool's ARN."""

import time

from user_pools_support import error, idp, idp_user, pool, refused, unique


def test_pool_lifecycle_and_configuration(server):
    c = idp(server)
    created = pool(
        c,
        Policies={"PasswordPolicy": {"MinimumLength": 10, "RequireSymbols": False, "TemporaryPasswordValidityDays": 3}},
        MfaConfiguration="OPTIONAL",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "tenant", "AttributeDataType": "String", "Mutable": False}],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
        UserPoolTags={"team": "auth"},
    )
    pid = created["Id"]
    region, name = pid.split("_")
    assert region == server.region and len(name) == 9 and name.isalnum()
    assert created["Arn"].endswith(f":userpool/{pid}")
    assert created["Arn"].startswith(f"arn:aws:cognito-idp:{server.region}:")
    described = c.describe_user_pool(UserPoolId=pid)["UserPool"]
    policy = described["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] == 10 and policy["RequireSymbols"] is False
    assert policy["TemporaryPasswordValidityDays"] == 3
    assert described["MfaConfiguration"] == "OPTIONAL"
    assert described["UsernameAttributes"] == ["email"]
    assert described["AutoVerifiedAttributes"] == ["email"]
    assert described["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert described["AccountRecoverySetting"]["RecoveryMechanisms"] == [{"Priority": 1, "Name": "verified_email"}]
    assert described["UserPoolTags"] == {"team": "auth"}
    tenant = [a for a in described["SchemaAttributes"] if a["Name"] == "custom:tenant"]
    assert tenant and tenant[0]["Mutable"] is False
    assert any(a["Name"] == "email" for a in described["SchemaAttributes"])
    assert described["EstimatedNumberOfUsers"] == 0

    # UpdateUserPool: what it names changes, what it leaves out takes its default.
    c.update_user_pool(UserPoolId=pid, MfaConfiguration="OFF", PoolName="renamed")
    after = c.describe_user_pool(UserPoolId=pid)["UserPool"]
    assert after["Name"] == "renamed" and after["MfaConfiguration"] == "OFF"
    assert after["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert after["UsernameAttributes"] == ["email"]
    assert after["UserPoolTags"] == {"team": "auth"}

    c.delete_user_pool(UserPoolId=pid)
    assert refused(c.describe_user_pool, UserPoolId=pid) == "ResourceNotFoundException"
    assert refused(c.delete_user_pool, UserPoolId=pid) == "ResourceNotFoundException"


def test_pool_input_errors(server):
    c = idp(server)
    cases = [
        (dict(PoolName=""), "ValidationException"),
        (dict(PoolName="bad/name"), "ValidationException"),
        (dict(PoolName="p", Policies={"PasswordPolicy": {"MinimumLength": 5}}), "ValidationException"),
        (dict(PoolName="p", Policies={"PasswordPolicy": {"MinimumLength": 100}}), "ValidationException"),
        (dict(PoolName="p", MfaConfiguration="SOMETIMES"), "ValidationException"),
        (dict(PoolName="p", UsernameAttributes=["email"], AliasAttributes=["email"]), "InvalidParameterException"),
        (dict(PoolName="p", UsernameAttributes=["preferred_username"]), "ValidationException"),
        (dict(PoolName="p", AutoVerifiedAttributes=["name"]), "ValidationException"),
        (dict(PoolName="p", Schema=[{"Name": "x", "AttributeDataType": "Blob"}]), "ValidationException"),
        (dict(PoolName="p", Schema=[{"Name": "x", "AttributeDataType": "String", "Required": True}]), "InvalidParameterException"),
        (dict(PoolName="p", AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "pigeon"}]}), "ValidationException"),
        (dict(PoolName="p", LambdaConfig={"PreSignUp": "arn:aws:lambda:us-east-1:123456789012:function:f"}), "InvalidParameterException"),
        (dict(PoolName="p", UserPoolTags={"aws:x": "y"}), "UserPoolTaggingException"),
        (dict(), "ValidationException"),
    ]
    for kwargs, code in cases:
        assert refused(c.create_user_pool, **kwargs) == code, kwargs
    assert refused(c.describe_user_pool, UserPoolId="no-underscore") == "ValidationException"
    assert refused(c.list_user_pools, MaxResults=0) == "ValidationException"
    assert refused(c.list_user_pools, MaxResults=61) == "ValidationException"


def test_deletion_protection(server):
    c = idp(server)
    pid = pool(c, DeletionProtection="ACTIVE")["Id"]
    code, message = error(c.delete_user_pool, UserPoolId=pid)
    assert code == "InvalidParameterException" and "deletion protection" in message
    c.update_user_pool(UserPoolId=pid, DeletionProtection="INACTIVE")
    c.delete_user_pool(UserPoolId=pid)


def test_list_user_pools_pages(server):
    c = idp(server)
    made = {pool(c)["Id"] for _ in range(5)}
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = c.list_user_pools(**kwargs)
        assert len(page["UserPools"]) <= 2
        seen += [p["Id"] for p in page["UserPools"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert made <= set(seen) and len(seen) == len(set(seen)) and pages >= 3
    paginated = [p["Id"] for page in c.get_paginator("list_user_pools").paginate(MaxResults=2) for p in page["UserPools"]]
    assert sorted(paginated) == sorted(seen)


def test_app_clients(server):
    c = idp(server)
    pid = pool(c, Schema=[{"Name": "tenant", "AttributeDataType": "String"}])["Id"]
    public = c.create_user_pool_client(UserPoolId=pid, ClientName="public")["UserPoolClient"]
    assert len(public["ClientId"]) == 26 and public["ClientId"].isalnum() and public["ClientId"].islower()
    assert "ClientSecret" not in public
    assert public["RefreshTokenValidity"] == 30 and public["TokenValidityUnits"]["RefreshToken"] == "days"
    assert public["EnableTokenRevocation"] is True
    assert public["PreventUserExistenceErrors"] == "LEGACY"

    secret = c.create_user_pool_client(
        UserPoolId=pid,
        ClientName="confidential",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AccessTokenValidity=30,
        IdTokenValidity=2,
        RefreshTokenValidity=7,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"},
        ReadAttributes=["email", "custom:tenant"],
        WriteAttributes=["email"],
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=False,
    )["UserPoolClient"]
    assert len(secret["ClientSecret"]) >= 51
    described = c.describe_user_pool_client(UserPoolId=pid, ClientId=secret["ClientId"])["UserPoolClient"]
    assert described["ClientSecret"] == secret["ClientSecret"]
    assert described["AccessTokenValidity"] == 30 and described["TokenValidityUnits"]["AccessToken"] == "minutes"
    assert described["IdTokenValidity"] == 2 and described["TokenValidityUnits"]["IdToken"] == "hours"
    assert described["ReadAttributes"] == ["email", "custom:tenant"]
    assert described["PreventUserExistenceErrors"] == "ENABLED"
    assert described["EnableTokenRevocation"] is False
    assert described["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

    updated = c.update_user_pool_client(UserPoolId=pid, ClientId=secret["ClientId"], ClientName="renamed")["UserPoolClient"]
    assert updated["ClientName"] == "renamed" and updated["ClientSecret"] == secret["ClientSecret"]
    # Left out: back to the defaults, as Cognito documents.
    assert updated["PreventUserExistenceErrors"] == "LEGACY" and updated["AccessTokenValidity"] == 60

    listed = c.list_user_pool_clients(UserPoolId=pid, MaxResults=1)
    assert len(listed["UserPoolClients"]) == 1 and listed["NextToken"]
    rest = c.list_user_pool_clients(UserPoolId=pid, MaxResults=1, NextToken=listed["NextToken"])
    ids = {listed["UserPoolClients"][0]["ClientId"], rest["UserPoolClients"][0]["ClientId"]}
    assert ids == {public["ClientId"], secret["ClientId"]} and "NextToken" not in rest

    for kwargs, code in [
        (dict(ClientName=""), "ValidationException"),
        (dict(ClientName="c", ExplicitAuthFlows=["USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"]), "InvalidParameterException"),
        (dict(ClientName="c", ExplicitAuthFlows=["MAGIC"]), "ValidationException"),
        (dict(ClientName="c", AccessTokenValidity=2, TokenValidityUnits={"AccessToken": "days"}), "InvalidParameterException"),
        (dict(ClientName="c", AccessTokenValidity=1, TokenValidityUnits={"AccessToken": "minutes"}), "InvalidParameterException"),
        (dict(ClientName="c", ReadAttributes=["custom:nope"]), "InvalidParameterException"),
        (dict(ClientName="c", PreventUserExistenceErrors="SOMETIMES"), "ValidationException"),
        (dict(ClientName="c", AuthSessionValidity=16), "ValidationException"),
    ]:
        assert refused(c.create_user_pool_client, UserPoolId=pid, **kwargs) == code, kwargs

    c.delete_user_pool_client(UserPoolId=pid, ClientId=public["ClientId"])
    assert refused(c.describe_user_pool_client, UserPoolId=pid, ClientId=public["ClientId"]) == "ResourceNotFoundException"
    # A client is found only in its own pool.
    other = pool(c)["Id"]
    assert refused(c.describe_user_pool_client, UserPoolId=other, ClientId=secret["ClientId"]) == "ResourceNotFoundException"
    assert refused(c.delete_user_pool_client, UserPoolId=other, ClientId=secret["ClientId"]) == "ResourceNotFoundException"
    c.describe_user_pool_client(UserPoolId=pid, ClientId=secret["ClientId"])


def test_iam_decides_on_the_pool_arn(server):
    admin = idp(server)
    a = pool(admin)
    b = pool(admin)
    user = idp_user(server, [{"Effect": "Allow", "Action": "cognito-idp:*", "Resource": a["Arn"]}])
    user.describe_user_pool(UserPoolId=a["Id"])
    user.create_user_pool_client(UserPoolId=a["Id"], ClientName="mine")
    user.admin_create_user(UserPoolId=a["Id"], Username="alice", MessageAction="SUPPRESS")
    for call, kwargs in [
        (user.describe_user_pool, {"UserPoolId": b["Id"]}),
        (user.create_user_pool_client, {"UserPoolId": b["Id"], "ClientName": "theirs"}),
        (user.list_user_pool_clients, {"UserPoolId": b["Id"]}),
        (user.admin_create_user, {"UserPoolId": b["Id"], "Username": "mallory"}),
        (user.list_users, {"UserPoolId": b["Id"]}),
        (user.delete_user_pool, {"UserPoolId": b["Id"]}),
        # Unscoped actions are not granted by a pool ARN.
        (user.create_user_pool, {"PoolName": "x"}),
        (user.list_user_pools, {"MaxResults": 5}),
        # A pool that does not exist is denied like one that does.
        (user.describe_user_pool, {"UserPoolId": f"{server.region}_doesnotexist"}),
    ]:
        code, message = error(call, **kwargs)
        assert code == "AccessDeniedException", (call, code, message)
    assert admin.list_users(UserPoolId=b["Id"])["Users"] == []
    scoped = idp_user(server, [{"Effect": "Allow", "Action": ["cognito-idp:CreateUserPool", "cognito-idp:ListUserPools"], "Resource": "*"}])
    scoped.create_user_pool(PoolName=unique("p"))
    scoped.list_user_pools(MaxResults=1)
    assert refused(scoped.describe_user_pool, UserPoolId=a["Id"]) == "AccessDeniedException"


def test_unsigned_requests_reach_no_management_operation(server):
    import requests

    for op in ["ListUserPools", "CreateUserPool", "AdminCreateUser", "DescribeUserPool"]:
        r = requests.post(
            server.endpoint,
            headers={"X-Amz-Target": f"AWSCognitoIdentityProviderService.{op}", "Content-Type": "application/x-amz-json-1.1"},
            data='{"MaxResults": 1, "PoolName": "x", "UserPoolId": "us-east-1_abc", "Username": "u"}',
            timeout=10,
        )
        assert r.status_code in (400, 403), (op, r.status_code)
        assert r.json()["__type"] == "MissingAuthenticationTokenException", (op, r.text)
