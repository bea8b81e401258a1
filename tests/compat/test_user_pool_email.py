"""The user pools' email over SMTP (`--smtp-url`), against a real SMTP server on loopback
(aiosmtpd): a sign-up's confirmation code, a password reset code and an invitation's
temporary password arrive by email — each once, from `--smtp-from`, to the user's address —
and work; the outbox keeps them as before. With the SMTP server down, a message is sent once
it is back."""

import email
import signal
import time

import pytest
from aiosmtpd.controller import Controller

from conftest import start_server
from outbox_support import outbox, public_idp
from user_pools_support import free_port, idp, pool, unique

PASSWORD = "Corr3ct-Horse-Battery!"
SENDER = "Pools <pools@rampart.test>"


class Inbox:
    """Every message the SMTP server accepted."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"

    def wait_for(self, to, count=1, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = [m for rcpt, m in self.messages if to in rcpt]
            if len(got) >= count:
                return got
            time.sleep(0.2)
        raise AssertionError(f"no email to {to}: {self.messages}")


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp):
    _, port = smtp
    srv = start_server(tmp_path_factory.mktemp("pool-email") / "data",
                       ["--smtp-url", f"smtp://127.0.0.1:{port}", "--smtp-from", SENDER])
    yield srv
    srv.kill(signal.SIGTERM)


def code_in(message):
    body = message.get_payload(decode=True).decode().strip()
    return "".join(ch for ch in body if ch.isdigit())[-6:], body


def test_sign_up_code_and_reset_code_arrive_by_email(server, smtp):
    inbox, _ = smtp
    admin, public = idp(server), public_idp(server)
    pid = pool(admin, AutoVerifiedAttributes=["email"])["Id"]
    cid = admin.create_user_pool_client(UserPoolId=pid, ClientName=unique("app"))["UserPoolClient"]["ClientId"]
    address = unique("ann") + "@example.com"
    public.sign_up(ClientId=cid, Username="ann", Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": address}])
    [message] = inbox.wait_for(address)
    assert message["Subject"] == "Your verification code"
    assert message["From"] == SENDER and message["To"] == address
    code, body = code_in(message)
    assert body == f"Your verification code is {code}."
    # The outbox holds the same code, as before.
    assert [m["code"] for m in outbox(server, pid) if m["username"] == "ann"] == [code]
    public.confirm_sign_up(ClientId=cid, Username="ann", ConfirmationCode=code)
    assert admin.admin_get_user(UserPoolId=pid, Username="ann")["UserStatus"] == "CONFIRMED"

    public.forgot_password(ClientId=cid, Username="ann")
    messages = inbox.wait_for(address, count=2)
    reset = messages[1]
    assert reset["Subject"] == "Your password reset code"
    code, _ = code_in(reset)
    public.confirm_forgot_password(ClientId=cid, Username="ann", ConfirmationCode=code, Password="An0ther-Horse-Battery!")
    # Each message went out once, however many relay passes ran since.
    time.sleep(2.5)
    assert len([m for rcpt, m in inbox.messages if address in rcpt]) == 2


def test_an_invitation_carries_the_temporary_password(server, smtp):
    inbox, _ = smtp
    admin, public = idp(server), public_idp(server)
    pid = pool(admin)["Id"]
    cid = admin.create_user_pool_client(UserPoolId=pid, ClientName=unique("app"),
                                        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    address = unique("ben") + "@example.com"
    admin.admin_create_user(UserPoolId=pid, Username="ben", UserAttributes=[{"Name": "email", "Value": address}],
                            DesiredDeliveryMediums=["EMAIL"])
    [message] = inbox.wait_for(address)
    assert message["Subject"] == "Your temporary password"
    body = message.get_payload(decode=True).decode().strip()
    assert body.startswith("Your username is ben and temporary password is ")
    temporary = body.removeprefix("Your username is ben and temporary password is ").removesuffix(".")
    answer = public.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "ben", "PASSWORD": temporary})
    assert answer["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_a_message_is_sent_once_the_smtp_server_is_back(tmp_path_factory):
    inbox = Inbox()
    port = free_port()
    srv = start_server(tmp_path_factory.mktemp("pool-email-down") / "data",
                       ["--smtp-url", f"smtp://127.0.0.1:{port}", "--smtp-from", SENDER])
    try:
        admin, public = idp(srv), public_idp(srv)
        pid = pool(admin, AutoVerifiedAttributes=["email"])["Id"]
        cid = admin.create_user_pool_client(UserPoolId=pid, ClientName=unique("app"))["UserPoolClient"]["ClientId"]
        address = unique("cy") + "@example.com"
        # Nothing listens on the port: the sign-up still succeeds (the outbox has the code).
        public.sign_up(ClientId=cid, Username="cy", Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": address}])
        [pending] = [m for m in outbox(srv, pid) if m["username"] == "cy"]
        time.sleep(2.5)  # a few failed passes
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            [message] = inbox.wait_for(address)
            assert code_in(message)[0] == pending["code"]
            time.sleep(2.5)
            assert len(inbox.messages) == 1, "sent once"
        finally:
            controller.stop()
    finally:
        srv.kill(signal.SIGTERM)
