"""User pools keep nothing sensitive at rest: after SignUp (with a SECRET_HASH from a client
with a secret), AdminCreateUser with a known temporary password (an invitation in the outbox),
AdminSetUserPassword and ForgotPassword, every file of the data directory (SQLite database,
WAL, shared memory) — or a `pg_dump` of the PostgreSQL schema — and the server's logs are scanned for the passwords, the client secret and
every outbox code, raw, in base64 and in hex: no hit, while the server runs and after it stops.
Codes are six digits: a bare six-digit run occurs by chance in any database, so a code is
looked for as a JSON string (`"123456"`, how a record would hold it) and in base64 and hex."""

import base64
import hashlib
import hmac
import signal
import uuid

from conftest import start_server
from outbox_support import outbox, public_idp
from root_key_helpers import encodings, hits, pg_dump, with_bytea_decoded


def data_dir_bytes(srv):
    files = [p for p in srv.data_dir.rglob("*") if p.is_file()]
    return files, b"\n".join(p.read_bytes() for p in files + [srv.stdout_path, srv.stderr_path])


def code_hits(blob, codes):
    found = []
    for code in codes:
        if b'"' + code + b'"' in blob:
            found.append((code, "raw"))
        forms = encodings(code)
        for form in ("base64", "hex"):
            if forms[form] in (blob.lower() if form == "hex" else blob):
                found.append((code, form))
    return found


def exercise(srv, scan):
    """Signs up, invites, sets and resets passwords through `srv`, scanning with `scan()` (the
    stored bytes) while it runs; answers what must never be found and what must be."""
    admin, public = srv.client("cognito-idp"), public_idp(srv)
    marker = uuid.uuid4().hex[:12]
    pid = admin.create_user_pool(PoolName=f"at-rest-pool-{marker}", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    client = admin.create_user_pool_client(UserPoolId=pid, ClientName="at-rest", GenerateSecret=True)["UserPoolClient"]
    cid, secret = client["ClientId"], client["ClientSecret"]
    signup_password = f"SignUp-{marker}-Aa1!"
    temporary_password = f"Temp-{marker}-Bb2!"
    set_password = f"Set-{marker}-Cc3!"
    reset_password = f"Reset-{marker}-Dd4!"
    user = f"at-rest-user-{marker}"
    digest = hmac.new(secret.encode(), (user + cid).encode(), hashlib.sha256).digest()
    secret_hash = base64.b64encode(digest).decode()
    public.sign_up(ClientId=cid, Username=user, Password=signup_password, SecretHash=secret_hash,
                   UserAttributes=[{"Name": "email", "Value": f"{user}@example.com"}])
    invited = f"at-rest-invited-{marker}"
    admin.admin_create_user(UserPoolId=pid, Username=invited, TemporaryPassword=temporary_password,
                            DesiredDeliveryMediums=["EMAIL"],
                            UserAttributes=[{"Name": "email", "Value": f"{invited}@example.com"}])
    admin.admin_set_user_password(UserPoolId=pid, Username=invited, Password=set_password, Permanent=True)
    [signup_code] = [m["code"] for m in outbox(srv, pid) if m["username"] == user]
    public.confirm_sign_up(ClientId=cid, Username=user, ConfirmationCode=signup_code, SecretHash=secret_hash)
    public.forgot_password(ClientId=cid, Username=user, SecretHash=secret_hash)
    messages = outbox(srv, pid)
    codes = [m["code"].encode() for m in messages if m["kind"] != "invitation"]
    [invitation] = [m["code"] for m in messages if m["kind"] == "invitation"]
    assert invitation == temporary_password and len(codes) == 2
    reset_code = [m["code"] for m in messages if m["kind"] == "forgot-password"][0]
    never = {
        "sign-up password": signup_password.encode(), "temporary password": temporary_password.encode(),
        "set password": set_password.encode(), "client secret": secret.encode(),
        "secret hash": secret_hash.encode(),
    }
    visible = [f"at-rest-pool-{marker}".encode(), user.encode(), invited.encode()]

    # The pending reset code is on the user's record (sealed), the used one was removed.
    blob = scan()
    assert all(v in blob for v in visible), "the scan must see what is stored in the clear"
    assert hits(blob, never) == []
    assert code_hits(blob, codes) == []
    # The scan finds a code where one is in the clear (the test's own positive control).
    assert code_hits(b'{"code":"' + codes[0] + b'"}', [codes[0]])

    public.confirm_forgot_password(ClientId=cid, Username=user, ConfirmationCode=reset_code,
                                   Password=reset_password, SecretHash=secret_hash)
    never["reset password"] = reset_password.encode()
    assert hits(scan(), never) == []
    return never, codes, visible


def test_passwords_secrets_and_codes_are_not_at_rest(tmp_path):
    srv = start_server(tmp_path / "data")
    try:
        never, codes, visible = exercise(srv, lambda: data_dir_bytes(srv)[1])
        files, _ = data_dir_bytes(srv)
        assert any(p.name.endswith("-wal") for p in files), [p.name for p in files]
    finally:
        srv.kill(signal.SIGTERM)
    _, blob = data_dir_bytes(srv)
    assert all(v in blob for v in visible)
    assert hits(blob, never) == []
    assert code_hits(blob, codes) == []


def test_postgres_passwords_secrets_and_codes_are_not_at_rest(fresh_server, pg_store_url):
    srv = fresh_server(extra_args=["--store", pg_store_url])

    def scan():
        return with_bytea_decoded(pg_dump(pg_store_url)) + srv.logs().encode()

    never, codes, visible = exercise(srv, scan)
    blob = scan()
    assert all(v in blob for v in visible)
    assert hits(blob, never) == [] and code_hits(blob, codes) == []
