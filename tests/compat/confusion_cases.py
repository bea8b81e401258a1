"""The shared harness of the parameter-confusion suite (test_param_confusion.py for IAM and
STS, test_param_confusion_kms.py for KMS, test_param_confusion_secrets.py for Secrets
Manager): hand-signed query and JSON requests and their
replies, callers, policy documents and the decoy tag, the server's own operation tables, and
the helpers that compare snapshots.

The service halves live beside it: confusion_iam.py (the IAM/STS operation table, the test
world, the account snapshot and cleanup), confusion_kms.py (the KMS operation table, keys
and aliases, the KMS snapshot) and confusion_secrets.py (the Secrets Manager operation table,
victim and decoy secrets, the secrets snapshot).
"""

import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15"}
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})

# The tag every decoy carries; the caller is allowed on anything that carries it (see
# caller_policy). Request tags with this key must never stand in for the resource's own.
DECOY_TAG_KEY = "cv-access"


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
HARMLESS = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})


def trust(principal) -> str:
    return doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"})


# ---------------------------------------------------------------------------------------------
# Hand-signed requests


@dataclass
class Reply:
    status: int
    body: str

    def _root(self):
        try:
            return ET.fromstring(self.body)
        except ET.ParseError:
            return None

    def text(self, name):
        """Text of the first element named `name` (any namespace), or None."""
        root = self._root()
        if root is None:
            return None
        for el in root.iter():
            if el.tag == name or el.tag.endswith("}" + name):
                return el.text or ""
        return None

    @property
    def code(self):
        return self.text("Code")

    @property
    def ok(self):
        return self.status == 200

    def __str__(self):
        return f"HTTP {self.status} {self.code or ''}: {self.body[:600]}"


@dataclass
class Caller:
    """A user with an access key, as the requests of a test sign."""

    name: str
    arn: str
    key: str
    secret: str

    def client(self, server, service):
        return boto3.client(
            service,
            endpoint_url=server.endpoint,
            region_name=server.region,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            config=NO_RETRY,
        )


def send(server, caller, action, params, service="iam", query=None) -> Reply:
    """POSTs `Action=<action>&Version=...&<params>` signed with SigV4 as `caller`.

    `params` is a list of (name, value) pairs, sent in that order (duplicates allowed);
    `query` optionally puts more pairs in the URL's query string (signed too)."""
    body = urlencode([("Action", action), ("Version", VERSIONS[service]), *params]).encode()
    url = server.endpoint + "/" + (("?" + urlencode(query)) if query else "")
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": FORM})
    SigV4Auth(Credentials(caller.key, caller.secret), service, server.region).add_auth(request)
    raw = urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as resp:
            return Reply(resp.status, resp.read().decode())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.read().decode())


@dataclass
class JsonReply:
    """The answer of a JSON-protocol request: the error code from `__type` (or
    `x-amzn-ErrorType`), as botocore reads it."""

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
        if self.status == 200:
            return None
        parsed = self.json()
        code = (parsed or {}).get("__type") if isinstance(parsed, dict) else None
        code = code or self.error_type.split(":")[0] or None
        return code.rsplit("#", 1)[-1] if code else None

    @property
    def ok(self):
        return self.status == 200

    def __str__(self):
        return f"HTTP {self.status} {self.code or ''}: {self.body[:600]}"


JSON_TARGETS = {
    "kms": ("TrentService", "1.1"),
    "secretsmanager": ("secretsmanager", "1.1"),
    "cognito-idp": ("AWSCognitoIdentityProviderService", "1.1"),
}


def send_json(server, caller, action, body, service="kms") -> JsonReply:
    """POSTs a JSON-protocol request (`X-Amz-Target: <prefix>.<action>`) signed with SigV4 as
    `caller`. `body` is a list of (member, value) pairs, sent in that order (serialized as one
    JSON object; a member twice is refused here — pass `bytes` for a body written by hand), a
    dict, or raw bytes."""
    prefix, version = JSON_TARGETS[service]
    if isinstance(body, bytes):
        data = body
    else:
        pairs = list(body.items()) if isinstance(body, dict) else list(body)
        names = [k for k, _ in pairs]
        assert len(names) == len(set(names)), f"duplicate members {names}: write the body by hand"
        data = json.dumps(dict(pairs)).encode()
    headers = {
        "Content-Type": f"application/x-amz-json-{version}",
        "X-Amz-Target": f"{prefix}.{action}",
    }
    url = server.endpoint + "/"
    request = AWSRequest(method="POST", url=url, data=data, headers=headers)
    SigV4Auth(Credentials(caller.key, caller.secret), service, server.region).add_auth(request)
    raw = urllib.request.Request(url, data=data, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as resp:
            return JsonReply(resp.status, resp.read().decode(), resp.headers.get("x-amzn-ErrorType", ""))
    except urllib.error.HTTPError as e:
        return JsonReply(e.code, e.read().decode(), e.headers.get("x-amzn-ErrorType", ""))


def make_caller(iam, name, policy=None, **create_kwargs) -> Caller:
    """A user with an inline policy (if given) and an access key."""
    user = iam.create_user(UserName=name, **create_kwargs)["User"]
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="grant", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Caller(name, user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])


def denied(call, *args, **kwargs) -> bool:
    """Whether a boto3 call is refused with AccessDenied."""
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"] == "AccessDenied"
    return False


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


# ---------------------------------------------------------------------------------------------
# The server's operation tables, which the suites check themselves against


def table_operations(service):
    """The operations the server's source declares for `service`."""
    if service == "iam":
        text = (REPO / "crates/iam/src/api/mod.rs").read_text()
        block = text[text.index("iam_operations! {"):]
        block = block[: block.index("\n}")]
        return re.findall(r'^\s*(?:read|write)\s+"(\w+)"', block, re.M)
    if service == "kms":
        text = (REPO / "crates/kms/src/api/mod.rs").read_text()
        block = text[text.index("\nkms_operations! {"):]
        block = block[: block.index("\n}")]
        return re.findall(r'^\s*(?:read|write)\s+"(\w+)"', block, re.M)
    if service == "cognito-idp":
        # Signed operations only; `public` ones are listed by confusion_cognito.public_operations.
        text = (REPO / "crates/user-pools/src/api/mod.rs").read_text()
        block = text[text.index("\nuser_pools_operations! {"):]
        block = block[: block.index("\n}")]
        return re.findall(r'^\s*(?:read|write)\s+"(\w+)"', block, re.M)
    if service == "secretsmanager":
        text = (REPO / "crates/secrets/src/api/mod.rs").read_text()
        block = text[text.index("\nsecrets_operations! {"):]
        block = block[: block.index("\n}")]
        return re.findall(r'^\s*(?:read|write)\s+"(\w+)"', block, re.M)
    for path in ("crates/iam/src/sts/mod.rs", "crates/iam/src/sts.rs"):
        if (REPO / path).exists():
            text = (REPO / path).read_text()
            block = text[text.index("const OPERATIONS"):]
            block = block[: block.index("];")]
            return re.findall(r'OperationSpec::signed\(\s*"(\w+)"', block)
    raise AssertionError("STS source not found")


# ---------------------------------------------------------------------------------------------
# Snapshot helpers


def or_error(call, **kwargs):
    """The answer of a boto3 call, or `{"error": <code>}` if it failed (a snapshot records a
    missing entity as such)."""
    try:
        return call(**kwargs)
    except ClientError as e:
        return {"error": e.response["Error"]["Code"]}


def differences(before, after, path="", limit=40):
    """Human-readable paths where two snapshots differ."""
    out = []
    if isinstance(before, dict) and isinstance(after, dict):
        for k in sorted(set(before) | set(after), key=str):
            if k not in after:
                out.append(f"{path}/{k}: removed")
            elif k not in before:
                out.append(f"{path}/{k}: added {str(after[k])[:200]}")
            else:
                out += differences(before[k], after[k], f"{path}/{k}", limit)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after)):
            out += differences(b, a, f"{path}[{i}]", limit)
    elif before != after:
        out.append(f"{path}: {str(before)[:200]} -> {str(after)[:200]}")
    return out[:limit]


def only(snap, names):
    """The parts of a snapshot about entities whose name or ARN contains one of `names`."""
    def keep(key):
        return any(n in str(key) for n in names)

    out = {}
    for section, value in snap.items():
        if section == "details":
            out[section] = {k: {a: v for a, v in items.items() if keep(a)} for k, items in value.items()}
        else:
            out[section] = {k: v for k, v in value.items() if keep(k)}
    return out


# ---------------------------------------------------------------------------------------------
# Cleanup (administrator; tolerant of what is already gone)


def quietly(call, **kwargs):
    """A boto3 call whose failure does not matter: its answer, or None."""
    try:
        return call(**kwargs)
    except ClientError:
        return None
