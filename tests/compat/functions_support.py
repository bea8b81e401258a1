"""What the Lambda test modules beyond test_functions.py share: zips built in memory, a small
handler, creating a function and waiting for it, invoking it, and IAM users with one policy."""

import io
import json
import stat
import sys
import time
import uuid
import zipfile

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
NO_VALIDATION = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False,
                       read_timeout=60)
LAMBDA_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})

# Answers which code ran (VERSION), in which environment, what it was given, and its
# configuration as the environment sees it; sleeps when asked (to hold an execution open).
HANDLER = '''
import os, time

VERSION = "{version}"

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {{
        "version": VERSION,
        "pid": os.getpid(),
        # Unique to the execution environment (its pid is 1 in a PID namespace of its own).
        "environment": os.environ.get("TMPDIR"),
        "event": event,
        "greeting": os.environ.get("GREETING"),
        "memory": os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "handler": os.environ.get("_HANDLER"),
        "key_id": os.environ.get("AWS_ACCESS_KEY_ID", "")[:4],
    }}
'''


def make_zip(files):
    """A zip of {name: (text or bytes, unix mode)} (mode 0o644 if only content is given)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            body, mode = content if isinstance(content, tuple) else (content, 0o644)
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, body)
    return buf.getvalue()


def app_zip(version="v1", name="app.py"):
    return make_zip({name: HANDLER.format(version=version)})


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(call, **kwargs):
    """(code, message, HTTP status, the whole response) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", ""), e.value.response["ResponseMetadata"]["HTTPStatusCode"], e.value.response


def wait_active(lam, name):
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})


def wait_updated(lam, name):
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})


def create(lam, role, name=None, zip_bytes=None, wait=True, **kwargs):
    kwargs.setdefault("Runtime", "python3.12")
    kwargs.setdefault("Handler", "app.handler")
    name = name or unique("fn")
    created = lam.create_function(FunctionName=name, Role=role["Arn"], Code={"ZipFile": zip_bytes or app_zip()},
                                  **kwargs)
    if wait:
        wait_active(lam, name)
    return created


def invoke(lam, name, event=None, **kwargs):
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    payload = answer["Payload"].read()
    return answer, json.loads(payload) if payload else None


def user_client(srv, service, statements, name=None):
    """A client of `service` signed by a new IAM user with exactly `statements` (none: no
    policy at all), and the user's ARN."""
    iam = srv.client("iam")
    name = name or unique("user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = srv.client(service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=NO_RETRY)
    return client, arn


def eventually(check, timeout=10):
    """`check()` once it stops raising (IAM and policy changes reach cached credentials
    within seconds)."""
    deadline = time.time() + timeout
    while True:
        try:
            return check()
        except (AssertionError, ClientError):
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def python():
    return sys.executable
