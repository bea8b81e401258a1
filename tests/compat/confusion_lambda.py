"""The Lambda half of the parameter-confusion suite (test_param_confusion_lambda.py): the same
idea over rest-json, where a request names a function in its path (by name, full ARN or partial
ARN, optionally with a `:qualifier`), in the `Qualifier` query member, and, for CreateFunction,
in the body (`FunctionName`, the execution `Role`, `Tags`).

Victims are functions the caller may do nothing with (each with a policy statement, a
reservation and an asynchronous invocation configuration a confused request could change); each
one records every invocation, synchronous or queued, as a
new version of a marker secret (its role may put values there and nothing else; the sandbox
lets a function reach only Rampart), so a confused Invoke shows. The decoy function is tagged with the decoy tag
and named under the decoy prefix; the caller may do `lambda:*` on the decoy prefix and on
whatever carries the decoy tag, and pass the decoy role (only to Lambda). The victim role trusts
Lambda too, but the caller may not pass it.
"""

from __future__ import annotations

import io
import json
import re
import stat
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from confusion_cases import DECOY_TAG_KEY, REPO, doc, or_error

LAMBDA_TRUST = doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})

# A handler that records each event as a version of the secret its environment names.
MARKING_HANDLER = """
import json, os
import boto3

def handler(event, context):
    boto3.client("secretsmanager").put_secret_value(
        SecretId=os.environ["MARK_SECRET"],
        SecretString=json.dumps({"function": context.function_name, "event": event}))
    return {"ran": context.function_name}
"""


def marking_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("app.py")
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        z.writestr(info, MARKING_HANDLER)
    return buf.getvalue()


def table_operations() -> list:
    """The operations the server's `functions_operations!` table declares."""
    text = (REPO / "crates/functions/src/api/mod.rs").read_text()
    block = text[text.index("\nfunctions_operations! {"):]
    block = block[: block.index("\n}")]
    return re.findall(r'^\s*(?:read|write)\s+"(\w+)"', block, re.M)


@dataclass
class RestReply:
    status: int
    body: str
    error_type: str = ""

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def code(self):
        if 200 <= self.status < 300:
            return None
        parsed = self.json()
        code = (parsed or {}).get("__type") if isinstance(parsed, dict) else None
        code = code or self.error_type.split(":")[0] or None
        return code.rsplit("#", 1)[-1] if code else None

    @property
    def ok(self):
        return 200 <= self.status < 300

    def __str__(self):
        return f"HTTP {self.status} {self.code or ''}: {self.body[:600]}"


def send_rest(server, caller, method, path, query=None, body=None, headers=None) -> RestReply:
    """A rest-json request to Lambda, signed with SigV4 as `caller`. `query` is a list of
    (name, value) pairs sent in that order; `body` a dict (JSON) or bytes."""
    url = server.endpoint + path + (("?" + urlencode(query)) if query else "")
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    request = AWSRequest(method=method, url=url, data=data, headers=hdrs)
    SigV4Auth(Credentials(caller.key, caller.secret), "lambda", server.region).add_auth(request)
    raw = urllib.request.Request(url, data=data, headers=dict(request.headers.items()), method=method)
    try:
        with urllib.request.urlopen(raw, timeout=60) as resp:
            return RestReply(resp.status, resp.read().decode(errors="replace"), resp.headers.get("x-amzn-ErrorType", ""))
    except urllib.error.HTTPError as e:
        return RestReply(e.code, e.read().decode(errors="replace"), e.headers.get("x-amzn-ErrorType", ""))


def fn_path(function_id, tail=""):
    return "/2015-03-31/functions/" + quote(function_id, safe="") + tail


@dataclass
class LambdaWorld:
    region: str
    account: str
    suffix: str
    caller: object
    role_arn: str  # the decoy role: the caller may pass it
    victim_role_arn: str  # trusts Lambda; the caller may not pass it
    victims: dict  # label -> function name
    d_name: str
    mark_secret: str  # the ARN of the secret every victim's invocation adds a version to
    decoy_mark: str = ""  # the decoy's own marker secret
    created: dict = field(default_factory=dict)

    def arn(self, name):
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def victim_ids(self, label):
        name = self.victims[label]
        return {"name": name, "arn": self.arn(name), "partial-arn": f"{self.account}:function:{name}",
                "qualified": f"{name}:$LATEST"}

    @property
    def decoy_prefix(self):
        return f"cv-fn-decoy-{self.suffix}"


def marker_policy(*secrets) -> str:
    """What an execution role may do: add versions to the marker secrets."""
    return doc({"Effect": "Allow", "Action": "secretsmanager:PutSecretValue", "Resource": list(secrets)})


def caller_policy(w: LambdaWorld, decoy_tag_value: str) -> str:
    return doc(
        {"Sid": "DecoyByName", "Effect": "Allow", "Action": "lambda:*",
         "Resource": [w.arn(w.decoy_prefix + "*")]},
        {"Sid": "DecoyByTag", "Effect": "Allow", "Action": "lambda:*", "Resource": "*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/{DECOY_TAG_KEY}": decoy_tag_value}}},
        {"Sid": "PassDecoyRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": w.role_arn,
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
    )


# ---------------------------------------------------------------------------------------------
# The operation table


@dataclass(frozen=True)
class LambdaCase:
    """`request(world, function id)` -> (method, path, query, body, headers)."""

    op: str
    request: Callable
    takes_function: bool = True


# Every victim carries a policy statement of this id (and a reservation), so a confused
# RemovePermission or DeleteFunctionConcurrency would show.
VICTIM_SID = "victim-statement"
VICTIM_RESERVATION = 5


def concurrency_path(function_id, version="2017-10-31"):
    return f"/{version}/functions/" + quote(function_id, safe="") + "/concurrency"


def event_config_path(function_id, tail=""):
    return "/2019-09-25/functions/" + quote(function_id, safe="") + "/event-invoke-config" + tail


# Every victim has an asynchronous invocation configuration a confused Update or Delete would
# change (and a confused Put replace).
VICTIM_RETRIES = 1


def _code_body():
    import base64

    return {"ZipFile": base64.b64encode(marking_zip()).decode()}


def _create_body(w, name, role=None, tags=None, mark=None):
    import base64

    body = {"FunctionName": name, "Role": role or w.role_arn, "Runtime": "python3.12", "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(marking_zip()).decode()},
            "Environment": {"Variables": {"MARK_SECRET": mark or w.mark_secret}}}
    if tags is not None:
        body["Tags"] = tags
    return body


LAMBDA_CASES = [
    LambdaCase("GetFunction", lambda w, f: ("GET", fn_path(f), None, None, None)),
    LambdaCase("GetFunctionConfiguration", lambda w, f: ("GET", fn_path(f, "/configuration"), None, None, None)),
    LambdaCase("DeleteFunction", lambda w, f: ("DELETE", fn_path(f), None, None, None)),
    LambdaCase("Invoke", lambda w, f: ("POST", fn_path(f, "/invocations"), None, {"confused": True}, None)),
    # CreateFunction of a name the caller may not create (the victim's own: the check comes
    # before the conflict, so nothing tells the caller it exists).
    LambdaCase("CreateFunction", lambda w, f: ("POST", "/2015-03-31/functions", None, _create_body(w, f), None)),
    LambdaCase("ListFunctions", lambda w, f: ("GET", "/2015-03-31/functions", None, None, None), takes_function=False),
    LambdaCase("UpdateFunctionCode", lambda w, f: ("PUT", fn_path(f, "/code"), None, _code_body(), None)),
    LambdaCase("UpdateFunctionConfiguration",
               lambda w, f: ("PUT", fn_path(f, "/configuration"), None, {"Description": "confused", "Timeout": 9}, None)),
    # A permission that would let the caller itself invoke the victim.
    LambdaCase("AddPermission", lambda w, f: ("POST", fn_path(f, "/policy"), None,
                                              {"StatementId": "confused", "Action": "lambda:*",
                                               "Principal": w.created.get("caller_arn", "*")}, None)),
    LambdaCase("RemovePermission", lambda w, f: ("DELETE", fn_path(f, "/policy/" + VICTIM_SID), None, None, None)),
    LambdaCase("GetPolicy", lambda w, f: ("GET", fn_path(f, "/policy"), None, None, None)),
    # A reservation of 0 would throttle the victim for good.
    LambdaCase("PutFunctionConcurrency", lambda w, f: ("PUT", concurrency_path(f), None,
                                                       {"ReservedConcurrentExecutions": 0}, None)),
    LambdaCase("GetFunctionConcurrency",
               lambda w, f: ("GET", concurrency_path(f, "2019-09-30"), None, None, None)),
    LambdaCase("DeleteFunctionConcurrency", lambda w, f: ("DELETE", concurrency_path(f), None, None, None)),
    # Retries set to 0 would make the victim's failed events end at once.
    LambdaCase("PutFunctionEventInvokeConfig",
               lambda w, f: ("PUT", event_config_path(f), None, {"MaximumRetryAttempts": 0}, None)),
    LambdaCase("UpdateFunctionEventInvokeConfig",
               lambda w, f: ("POST", event_config_path(f), None, {"MaximumRetryAttempts": 0}, None)),
    LambdaCase("GetFunctionEventInvokeConfig", lambda w, f: ("GET", event_config_path(f), None, None, None)),
    LambdaCase("DeleteFunctionEventInvokeConfig", lambda w, f: ("DELETE", event_config_path(f), None, None, None)),
    LambdaCase("ListFunctionEventInvokeConfigs",
               lambda w, f: ("GET", event_config_path(f, "/list"), None, None, None)),
]
LAMBDA_CASES_BY_OP = {c.op: c for c in LAMBDA_CASES}


def decoy_members(w: LambdaWorld, decoy_tag_value: str):
    """Places a request may name the decoy besides its path: members the operation does not
    take (a body `FunctionName`, query members, headers), each of which must grant nothing."""
    d = w.d_name
    return {
        "query-FunctionName": ("query", [("FunctionName", d)]),
        "query-Qualifier-decoy": ("query", [("Qualifier", "$LATEST"), ("FunctionName", w.arn(d))]),
        "body-FunctionName": ("body", {"FunctionName": d, "Tags": {DECOY_TAG_KEY: decoy_tag_value}}),
        "header-function": ("headers", {"X-Amz-Function-Name": d, "X-Amz-Tag-" + DECOY_TAG_KEY: decoy_tag_value}),
    }


def with_decoy(request, where, extra):
    method, path, query, body, headers = request
    if where == "query":
        query = (query or []) + extra
    elif where == "body":
        body = {**(body or {}), **{k: v for k, v in extra.items() if k not in (body or {})}}
    else:
        headers = {**(headers or {}), **extra}
    return method, path, query, body, headers


# ---------------------------------------------------------------------------------------------
# Snapshot


def lambda_snapshot(lam, sm, w: LambdaWorld):
    """Each victim's configuration, tags, reservation and policy, the invocations the marker secret recorded, and
    the function names under this suite's suffix."""
    out = {"function": {}, "names": []}
    for label, name in w.victims.items():
        got = or_error(lam.get_function, FunctionName=name)
        if "Configuration" in got:
            got = {"Configuration": got["Configuration"], "Tags": got.get("Tags"),
                   "Concurrency": got.get("Concurrency")}
            got["Configuration"].pop("ResponseMetadata", None)
        policy = or_error(lam.get_policy, FunctionName=name)
        policy.pop("ResponseMetadata", None)
        async_config = or_error(lam.get_function_event_invoke_config, FunctionName=name)
        async_config.pop("ResponseMetadata", None)
        out["function"][label] = {"get": got, "policy": policy, "async": async_config}
    versions = sm.list_secret_version_ids(SecretId=w.mark_secret, IncludeDeprecated=True)["Versions"]
    out["invocations"] = sorted(v["VersionId"] for v in versions)
    names = []
    for page in lam.get_paginator("list_functions").paginate():
        names += [f["FunctionName"] for f in page["Functions"] if w.suffix in f["FunctionName"]]
    out["names"] = sorted(names)
    return out
