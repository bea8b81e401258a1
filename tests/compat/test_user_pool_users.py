"""cognito-idp users and groups by an administrator through boto3: every Admin* user
operation, ListUsers with its Filter and paging, groups, password policy messages, and the
password never on disk."""

from pathlib import Path

from user_pools_support import error, idp, pool, refused

PASSWORD = "Corr3ct-Horse-Battery!"


def attrs(user, key="Attributes"):
    return {a["Name"]: a["Value"] for a in user[key]}


def test_admin_user_lifecycle(server):
    c = idp(server)
    pid = pool(c, Schema=[{"Name": "tenant", "AttributeDataType": "String"}])["Id"]
    created = c.admin_create_user(
        UserPoolId=pid,
        Username="alice",
        UserAttributes=[{"Name": "email", "Value": "alice@example.com"}, {"Name": "custom:tenant", "Value": "acme"}],
        TemporaryPassword=PASSWORD,
        MessageAction="SUPPRESS",
    )["User"]
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD" and created["Enabled"] is True
    a = attrs(created)
    assert a["email"] == "alice@example.com" and a["custom:tenant"] == "acme" and len(a["sub"]) == 36
    got = c.admin_get_user(UserPoolId=pid, Username="alice")
    assert got["Username"] == "alice" and attrs(got, "UserAttributes")["sub"] == a["sub"]
    assert refused(c.admin_create_user, UserPoolId=pid, Username="alice") == "UsernameExistsException"

    c.admin_set_user_password(UserPoolId=pid, Username="alice", Password=PASSWORD, Permanent=True)
    assert c.admin_get_user(UserPoolId=pid, Username="alice")["UserStatus"] == "CONFIRMED"
    c.admin_set_user_password(UserPoolId=pid, Username="alice", Password=PASSWORD, Permanent=False)
    assert c.admin_get_user(UserPoolId=pid, Username="alice")["UserStatus"] == "FORCE_CHANGE_PASSWORD"

    c.admin_disable_user(UserPoolId=pid, Username="alice")
    assert c.admin_get_user(UserPoolId=pid, Username="alice")["Enabled"] is False
    c.admin_enable_user(UserPoolId=pid, Username="alice")
    assert c.admin_get_user(UserPoolId=pid, Username="alice")["Enabled"] is True

    c.admin_update_user_attributes(UserPoolId=pid, Username="alice", UserAttributes=[{"Name": "email", "Value": "a2@example.com"}, {"Name": "name", "Value": "Alice"}])
    a = attrs(c.admin_get_user(UserPoolId=pid, Username="alice"), "UserAttributes")
    assert a["email"] == "a2@example.com" and a["name"] == "Alice" and a["email_verified"] == "false"
    assert refused(c.admin_update_user_attributes, UserPoolId=pid, Username="alice", UserAttributes=[{"Name": "sub", "Value": "x"}]) == "InvalidParameterException"
    assert refused(c.admin_update_user_attributes, UserPoolId=pid, Username="alice", UserAttributes=[{"Name": "custom:nope", "Value": "x"}]) == "InvalidParameterException"
    c.admin_delete_user_attributes(UserPoolId=pid, Username="alice", UserAttributeNames=["name"])
    assert "name" not in attrs(c.admin_get_user(UserPoolId=pid, Username="alice"), "UserAttributes")

    # Reset needs a verified destination; then the code is in the outbox.
    assert refused(c.admin_reset_user_password, UserPoolId=pid, Username="alice") == "InvalidParameterException"
    c.admin_update_user_attributes(UserPoolId=pid, Username="alice", UserAttributes=[{"Name": "email_verified", "Value": "true"}])
    c.admin_reset_user_password(UserPoolId=pid, Username="alice")
    assert c.admin_get_user(UserPoolId=pid, Username="alice")["UserStatus"] == "RESET_REQUIRED"

    c.admin_delete_user(UserPoolId=pid, Username="alice")
    for call in [c.admin_get_user, c.admin_delete_user, c.admin_disable_user, c.admin_confirm_sign_up]:
        assert refused(call, UserPoolId=pid, Username="alice") == "UserNotFoundException"
    assert refused(c.admin_get_user, UserPoolId=f"{server.region}_nothere", Username="alice") == "ResourceNotFoundException"


def test_password_policy_messages(server):
    c = idp(server)
    pid = pool(c, Policies={"PasswordPolicy": {"MinimumLength": 12}})["Id"]
    for password, reason in [
        ("Short1!", "Password not long enough"),
        ("alllowercase1!x", "Password must have uppercase characters"),
        ("ALLUPPERCASE1!X", "Password must have lowercase characters"),
        ("NoNumbersHere!!", "Password must have numeric characters"),
        ("NoSymbols12345", "Password must have symbol characters"),
    ]:
        code, message = error(c.admin_create_user, UserPoolId=pid, Username="u", TemporaryPassword=password, MessageAction="SUPPRESS")
        assert code == "InvalidPasswordException" and message.endswith(reason), message
        c.admin_create_user(UserPoolId=pid, Username="u2", MessageAction="SUPPRESS") if password == "Short1!" else None
        code, message = error(c.admin_set_user_password, UserPoolId=pid, Username="u2", Password=password, Permanent=True)
        assert code == "InvalidPasswordException" and message == f"Password does not conform to policy: {reason}"


def test_admin_confirm_sign_up_and_generated_password(server):
    c = idp(server)
    pid = pool(c, UsernameAttributes=["email"])["Id"]
    created = c.admin_create_user(UserPoolId=pid, Username="bob@example.com", MessageAction="SUPPRESS")["User"]
    # Email as username: the username is the sub, the email an attribute.
    assert created["Username"] == attrs(created)["sub"]
    got = c.admin_get_user(UserPoolId=pid, Username="bob@example.com")
    assert got["Username"] == created["Username"]
    assert refused(c.admin_create_user, UserPoolId=pid, Username="bob@example.com") == "UsernameExistsException"
    assert refused(c.admin_create_user, UserPoolId=pid, Username="not-an-email") == "InvalidParameterException"
    code, message = error(c.admin_confirm_sign_up, UserPoolId=pid, Username="bob@example.com")
    assert code == "NotAuthorizedException" and "FORCE_CHANGE_PASSWORD" in message


def test_list_users_filter_attributes_and_pages(server):
    c = idp(server)
    pid = pool(c)["Id"]
    for i in range(7):
        c.admin_create_user(
            UserPoolId=pid,
            Username=f"user{i}",
            UserAttributes=[{"Name": "email", "Value": f"u{i}@{'a' if i % 2 else 'b'}.example"}, {"Name": "family_name", "Value": f"Smith{i}"}],
            MessageAction="SUPPRESS",
        )
    c.admin_disable_user(UserPoolId=pid, Username="user3")
    everyone = [u["Username"] for page in c.get_paginator("list_users").paginate(UserPoolId=pid, Limit=3) for u in page["Users"]]
    assert sorted(everyone) == [f"user{i}" for i in range(7)]
    first = c.list_users(UserPoolId=pid, Limit=3)
    assert len(first["Users"]) == 3 and first["PaginationToken"]
    assert [u["Username"] for u in c.list_users(UserPoolId=pid, Filter='username = "user4"')["Users"]] == ["user4"]
    assert sorted(u["Username"] for u in c.list_users(UserPoolId=pid, Filter='email ^= "u1"')["Users"]) == ["user1"]
    assert len(c.list_users(UserPoolId=pid, Filter='family_name ^= "Smith"')["Users"]) == 7
    assert [u["Username"] for u in c.list_users(UserPoolId=pid, Filter='status = "Disabled"')["Users"]] == ["user3"]
    assert len(c.list_users(UserPoolId=pid, Filter='cognito:user_status = "FORCE_CHANGE_PASSWORD"')["Users"]) == 7
    only = c.list_users(UserPoolId=pid, Filter='username = "user2"', AttributesToGet=["email"])["Users"][0]
    assert attrs(only) == {"email": "u2@b.example"}
    for bad in ['email = unquoted', 'email ~ "x"', 'custom:x = "y"']:
        assert refused(c.list_users, UserPoolId=pid, Filter=bad) == "InvalidParameterException", bad
    assert refused(c.list_users, UserPoolId=pid, Limit=61) == "ValidationException"
    assert refused(c.list_users, UserPoolId=pid, AttributesToGet=["custom:nope"]) == "InvalidParameterException"


def test_groups(server):
    c = idp(server)
    pid = pool(c)["Id"]
    for name in ["admins", "readers", "writers"]:
        c.create_group(UserPoolId=pid, GroupName=name, Description=f"{name} group", Precedence=1)
    g = c.get_group(UserPoolId=pid, GroupName="admins")["Group"]
    assert g["Description"] == "admins group" and g["Precedence"] == 1
    assert refused(c.create_group, UserPoolId=pid, GroupName="admins") == "GroupExistsException"
    assert refused(c.get_group, UserPoolId=pid, GroupName="nope") == "ResourceNotFoundException"
    names = [g["GroupName"] for page in c.get_paginator("list_groups").paginate(UserPoolId=pid, PaginationConfig={"PageSize": 2}) for g in page["Groups"]]
    assert names == ["admins", "readers", "writers"]
    for u in ["ann", "ben"]:
        c.admin_create_user(UserPoolId=pid, Username=u, MessageAction="SUPPRESS")
    c.admin_add_user_to_group(UserPoolId=pid, Username="ann", GroupName="admins")
    c.admin_add_user_to_group(UserPoolId=pid, Username="ann", GroupName="readers")
    c.admin_add_user_to_group(UserPoolId=pid, Username="ben", GroupName="admins")
    assert [g["GroupName"] for g in c.admin_list_groups_for_user(UserPoolId=pid, Username="ann")["Groups"]] == ["admins", "readers"]
    assert sorted(u["Username"] for u in c.list_users_in_group(UserPoolId=pid, GroupName="admins")["Users"]) == ["ann", "ben"]
    assert refused(c.admin_add_user_to_group, UserPoolId=pid, Username="ann", GroupName="nope") == "ResourceNotFoundException"
    assert refused(c.admin_add_user_to_group, UserPoolId=pid, Username="nobody", GroupName="admins") == "UserNotFoundException"
    c.admin_remove_user_from_group(UserPoolId=pid, Username="ann", GroupName="admins")
    assert [u["Username"] for u in c.list_users_in_group(UserPoolId=pid, GroupName="admins")["Users"]] == ["ben"]
    c.admin_delete_user(UserPoolId=pid, Username="ben")
    assert c.list_users_in_group(UserPoolId=pid, GroupName="admins")["Users"] == []
    c.delete_group(UserPoolId=pid, GroupName="readers")
    assert c.admin_list_groups_for_user(UserPoolId=pid, Username="ann")["Groups"] == []
    assert refused(c.delete_group, UserPoolId=pid, GroupName="readers") == "ResourceNotFoundException"


def test_password_is_never_on_disk(server):
    c = idp(server)
    pid = pool(c)["Id"]
    marker = "Unmistakable-Pa55word-7f3c!"
    c.admin_create_user(UserPoolId=pid, Username="disk", TemporaryPassword=marker, MessageAction="SUPPRESS")
    c.admin_set_user_password(UserPoolId=pid, Username="disk", Password=marker, Permanent=True)
    for f in Path(server.data_dir).rglob("*"):
        if f.is_file():
            assert marker.encode() not in f.read_bytes(), f
    assert marker not in server.logs()
