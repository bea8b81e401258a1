"""What bench/functions.py, bench/gateway.py and bench/load.py's invoke row measure, made through
boto3 the way a user makes them: an execution role, the Rust `provided.al2023` function of
tests/compat/rust_function (release build, by tests/compat's own builder) and a trivial Python
handler, an HTTP API routing `GET /hello` to a function, a JWT authorizer on a user pool; and
the signed Lambda Invoke requests wrk replays. Imported under the bench venv (boto3)."""

import json
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "compat"))
import load  # noqa: E402
from functions_support import LAMBDA_TRUST, make_zip, wait_active  # noqa: E402

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
LAMBDA_JSON = "application/json"

# The Python handler of both benchmarks, answering an invoke and an HTTP API alike. The
# environment's TMPDIR (Rampart: unique to an execution environment) and pid (serverless-offline:
# one process per instance) show whether an invocation ran in a new environment.
PY_HANDLER = '''import json, os


def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"environment": os.environ.get("TMPDIR"), "pid": os.getpid()})}
'''


@dataclass(frozen=True)
class Kind:
    """A kind of function: its runtime, handler and package."""

    label: str
    runtime: str
    handler: str


RUST = Kind("Rust (provided.al2023)", "provided.al2023", "rust.handler")
PYTHON = Kind(f"Python (python{sys.version_info.major}.{sys.version_info.minor})",
              f"python{sys.version_info.major}.{sys.version_info.minor}", "app.handler")

_packages = {}


def package(kind):
    """The zip of `kind` (the Rust one built once per run, release, cached by cargo)."""
    if kind not in _packages:
        if kind is RUST:
            from test_functions_rust import build_bootstrap, package as rust_zip

            _packages[kind] = rust_zip(build_bootstrap().read_bytes(), "hello from the benchmark")
        else:
            _packages[kind] = make_zip({"app.py": PY_HANDLER})
    return _packages[kind]


class World:
    """One server's administrator, through boto3, and what the benchmarks make with it."""

    def __init__(self, endpoint, akid, secret, region):
        self.endpoint, self.region = endpoint, region
        self.admin = (akid, secret, region)
        self.session = boto3.Session(aws_access_key_id=akid, aws_secret_access_key=secret, region_name=region)
        self._role = None

    def client(self, service):
        return self.session.client(service, endpoint_url=self.endpoint, config=NO_RETRY)

    def role(self):
        if self._role is None:
            self._role = self.client("iam").create_role(
                RoleName="bench-exec", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
        return self._role

    def function(self, name, kind, wait=True):
        """Creates function `name` of `kind` (Timeout 10 s, 128 MB); its name."""
        lam = self.client("lambda")
        lam.create_function(FunctionName=name, Role=self.role(), Runtime=kind.runtime, Handler=kind.handler,
                            Code={"ZipFile": package(kind)}, Timeout=10)
        if wait:
            wait_active(lam, name)
        return name

    def http_api(self, function, authorizer=None):
        """An HTTP API with an AutoDeploy `$default` stage and `GET /hello` → `function`
        (AWS_PROXY, payload 2.0) behind `authorizer` ({"issuer", "audience"}: a JWT
        authorizer on the Authorization header) or none; its id."""
        gw, lam = self.client("apigatewayv2"), self.client("lambda")
        arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        api = gw.create_api(Name=f"bench-{function}", ProtocolType="HTTP")["ApiId"]
        integration = gw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                            PayloadFormatVersion="2.0")["IntegrationId"]
        route = {"ApiId": api, "RouteKey": "GET /hello", "Target": "integrations/" + integration}
        if authorizer:
            auth = gw.create_authorizer(ApiId=api, AuthorizerType="JWT", Name="pool",
                                        IdentitySource=["$request.header.Authorization"],
                                        JwtConfiguration={"Issuer": authorizer["issuer"],
                                                          "Audience": [authorizer["audience"]]})
            route.update(AuthorizationType="JWT", AuthorizerId=auth["AuthorizerId"])
        gw.create_route(**route)
        gw.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
        account = arn.split(":")[4]
        lam.add_permission(FunctionName=function, StatementId=f"apigw-{api}", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com",
                           SourceArn=f"arn:aws:execute-api:{self.region}:{account}:{api}/*")
        return api

    def signed_in_pool(self):
        """A user pool with an app client allowing USER_PASSWORD_AUTH and confirmed users
        (bench/load.py's), and its issuer (from its OpenID discovery document): {"pool",
        "client", "user", "token" (an access token), "issuer"}."""
        pool = load.create_bench_pool(self.endpoint, *self.admin, email_names=False)
        with urllib.request.urlopen(f"{self.endpoint}/{pool['pool']}/.well-known/openid-configuration") as r:
            pool["issuer"] = json.load(r)["issuer"]
        return pool


def invoke_path(name):
    return f"/2015-03-31/functions/{name}/invocations"


def invoke_request(endpoint, admin, name, payload="{}", tail=False):
    """A SigV4-signed Lambda Invoke of `name` (RequestResponse; with its log tail if `tail`)
    that wrk or http.client can replay within the signature's 15 minutes."""
    extra = {"X-Amz-Log-Type": "Tail"} if tail else None
    return load.signed_request(endpoint, *admin, spec=("lambda", payload, LAMBDA_JSON, None),
                               path=invoke_path(name), extra=extra)
