#!/usr/bin/env python3
"""End-to-end load benchmark: signed sts:GetCallerIdentity, iam:GetUser and
secretsmanager:GetSecretValue against `rampart serve` and, in the same run, against `moto_server`
doing the same calls; and the user pools' calls that compute no password hash (issue 15):
cognito-idp:GetUser (unsigned, with an access token), cognito-idp:ListUsers and
cognito-idp:AdminGetUser (SigV4-signed, as the administrator) against `rampart serve` and, in the
same run, against cognito-local (npm; bench/cognito_local.py). Each row is also stated as a
percentage of a floor: `rampart-floor` (bench/floor), a bare axum server on the same stack as
`rampart serve` that answers a constant GetCallerIdentity-sized XML body and checks nothing.

Every request Rampart receives is fully checked: SigV4 verified (HMAC over the canonical
request), access key resolved, authorized, and an audit record durably committed before the
answer. The signed request is replayed by wrk within its 15-minute validity window, as SigV4
allows; moto checks no signature at all. The floor is sent the same signed GetCallerIdentity
POST (same size), which it does not check.

The user-pool calls read a pool of BENCH_POOL_USERS confirmed users made before the run: GetUser
with one user's access token (Rampart verifies the token's RS256 signature, its expiry and that
its session is not revoked; cognito-local only decodes it), ListUsers of the whole pool (one
page), AdminGetUser of one user. cognito-local checks no signature; moto is not sent these calls.

A warm invoke row (issue "Functions"): lambda:Invoke, SigV4-signed as the administrator, of
the Rust `provided.al2023` function of tests/compat/rust_function (release build, made through
bench/fixtures.py), answered by a warm execution environment after the warm-up; `--no-invoke`
skips it.

Usage: bench/load.py [--duration 10] [--connections 16] [--threads 2] [--rounds 2]
                     [--rampart NAME=PATH ...] [--floor PATH] [--no-moto]
                     [--no-user-pools] [--no-cognito-local] [--no-invoke]
Needs: wrk (apt-get install wrk), a release build (cargo build --release -p rampart-server
-p rampart-floor; the floor is built if missing), and a venv with boto3 and moto[server] (this
script creates bench/.venv if missing and re-runs itself under it); node and npm for
cognito-local (installed into ~/.cache/rampart/bench-js); cargo for the Rust function.
"""

import argparse
import configparser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cognito_local  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "bench" / ".venv"


def ensure_tools():
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    # pytest: bench/fixtures.py builds the Rust function with tests/compat's own builder.
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "boto3", "moto[server]", "pytest"], check=True)


def in_venv():
    """Re-runs this script under the bench venv's Python unless it already runs there, so the
    scripts can import boto3 (and bench/fixtures.py) themselves."""
    if Path(sys.prefix).resolve() != VENV.resolve():
        python = VENV / "bin" / "python"
        os.execv(str(python), [str(python), sys.argv[0], *sys.argv[1:]])


FORM = "application/x-www-form-urlencoded; charset=utf-8"
# The secret GetSecretValue reads: created before the run (under the AWS-managed key
# aws/secretsmanager, so Rampart opens its envelope on every read).
BENCH_SECRET = "bench/db-password"

# The calls measured: label -> (signing name, body, content type, X-Amz-Target or None).
CALLS = {
    "sts:GetCallerIdentity": ("sts", "Action=GetCallerIdentity&Version=2011-06-15", FORM, None),
    # An IAM decision and a store read of the target user.
    "iam:GetUser": ("iam", "Action=GetUser&Version=2010-05-08", FORM, None),
    # An IAM decision, a store read of the secret and its version, and an envelope decrypt.
    "secretsmanager:GetSecretValue": (
        "secretsmanager",
        '{"SecretId":"%s"}' % BENCH_SECRET,
        "application/x-amz-json-1.1",
        "secretsmanager.GetSecretValue",
    ),
}


# The user-pool calls measured: label -> (signed?, body template, X-Amz-Target); %(pool)s,
# %(user)s and %(token)s are filled from the pool made before the run.
POOL_CALLS = {
    # An RS256 signature check of the access token, its revocation check and a read of its user.
    "cognito-idp:GetUser": (False, '{"AccessToken":"%(token)s"}', "AWSCognitoIdentityProviderService.GetUser"),
    # An IAM decision on the pool ARN and a listing of its users.
    "cognito-idp:ListUsers": (True, '{"UserPoolId":"%(pool)s"}', "AWSCognitoIdentityProviderService.ListUsers"),
    # An IAM decision on the pool ARN and a read of one user.
    "cognito-idp:AdminGetUser": (True, '{"UserPoolId":"%(pool)s","Username":"%(user)s"}', "AWSCognitoIdentityProviderService.AdminGetUser"),
}
BENCH_POOL_USERS = 10
JSON11 = "application/x-amz-json-1.1"


def create_bench_pool(endpoint, akid, secret, region, email_names):
    """A pool of BENCH_POOL_USERS confirmed users, through boto3, and one user's access token:
    {"pool", "user", "token"}. cognito-local's default pool config names users by email."""
    code = f"""
import json, boto3
from botocore import UNSIGNED
from botocore.config import Config
c = boto3.client("cognito-idp", endpoint_url={endpoint!r}, region_name={region!r},
                 aws_access_key_id={akid!r}, aws_secret_access_key={secret!r})
pid = c.create_user_pool(PoolName="bench")["UserPool"]["Id"]
cid = c.create_user_pool_client(UserPoolId=pid, ClientName="bench", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
names = [("bench%d@example.com" if {email_names!r} else "bench%d") % i for i in range({BENCH_POOL_USERS})]
for name in names:
    c.admin_create_user(UserPoolId=pid, Username=name, UserAttributes=[{{"Name": "email", "Value": "%s@example.com" % name.split("@")[0]}}], MessageAction="SUPPRESS")
    c.admin_set_user_password(UserPoolId=pid, Username=name, Password="Corr3ct-Horse-Battery!", Permanent=True)
p = boto3.client("cognito-idp", endpoint_url={endpoint!r}, region_name={region!r}, config=Config(signature_version=UNSIGNED))
auth = p.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={{"USERNAME": names[0], "PASSWORD": "Corr3ct-Horse-Battery!"}})
print(json.dumps({{"pool": pid, "client": cid, "user": names[0], "token": auth["AuthenticationResult"]["AccessToken"]}}))
"""
    import json

    out = subprocess.run([str(VENV / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def pool_requests(endpoint, akid, secret, region, email_names=False):
    """The POOL_CALLS requests against a fresh bench pool: the signed ones signed with botocore."""
    pool = create_bench_pool(endpoint, akid, secret, region, email_names)
    requests = {}
    for call, (signed, template, target) in POOL_CALLS.items():
        body = template % pool
        if signed:
            requests[call] = signed_request(endpoint, akid, secret, region, call, ("cognito-idp", body, JSON11, target))
        else:
            requests[call] = {"headers": {"Content-Type": JSON11, "X-Amz-Target": target}, "body": body}
    return requests


def create_bench_secret(endpoint, akid, secret, region):
    """Creates the secret GetSecretValue reads, through boto3 (so moto and Rampart get the same)."""
    code = f"""
import boto3
c = boto3.client("secretsmanager", endpoint_url={endpoint!r}, region_name={region!r},
                 aws_access_key_id={akid!r}, aws_secret_access_key={secret!r})
c.create_secret(Name={BENCH_SECRET!r}, SecretString='{{"username":"app","password":"' + 'x' * 32 + '"}}')
"""
    subprocess.run([str(VENV / "bin" / "python"), "-c", code], check=True)


def signed_request(endpoint, akid, secret, region, call="sts:GetCallerIdentity", spec=None, path="/", extra=None):
    """Headers and body of a SigV4-signed POST of `call` (or of `spec`, shaped as a CALLS
    entry) to `path` with the `extra` headers, via botocore's signer."""
    service, body, content_type, target = spec or CALLS[call]
    headers = {"Content-Type": content_type, **(extra or {})}
    if target:
        headers["X-Amz-Target"] = target
    code = f"""
import json
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
body = {body!r}
req = AWSRequest(method="POST", url={endpoint!r} + {path!r}, data=body, headers={headers!r})
SigV4Auth(Credentials({akid!r}, {secret!r}), {service!r}, {region!r}).add_auth(req)
print(json.dumps({{"headers": dict(req.headers), "body": body, "path": {path!r}}}))
"""
    import json

    out = subprocess.run([str(VENV / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def lua_string(text):
    """A Lua string literal of `text` (bodies may hold double quotes: JSON)."""
    return "[==[" + text + "]==]"


def wrk(endpoint, req, duration, connections, threads):
    """wrk replaying `req` ({"headers", "body"}, and "method" (POST) and "path" (/) if not
    those) to `endpoint`: requests/s, p50 and p99 in ms, errors, wrk's output."""
    lua = f"wrk.method = '{req.get('method', 'POST')}'\n"
    if req.get("body"):
        lua += "wrk.body = " + lua_string(req["body"]) + "\n"
    for k, v in req["headers"].items():
        if k.lower() in ("host", "content-length"):
            continue
        lua += f'wrk.headers["{k}"] = "{v}"\n'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "-s", script,
         endpoint + req.get("path", "/")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return {"rps": rps, "p50_ms": pct(50), "p99_ms": pct(99), "errors": errors, "raw": out}


def wait_for(pattern, path, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, Path(path).read_text())
        if m:
            return m
        if proc.poll() is not None:
            raise SystemExit(f"process exited: {Path(path).read_text()}")
        time.sleep(0.05)
    raise SystemExit("timed out waiting for the server")


def serve_rampart(binary, tmp, name, store=None):
    """Starts `rampart serve` with its data under `tmp`: (process, endpoint, (access key id,
    secret access key, region) of its administrator)."""
    out = tmp / f"{name}.out"
    cmd = [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp / f"{name}-data"), "--log", "warn"]
    if store:
        cmd += ["--store", store]
    proc = subprocess.Popen(cmd, stdout=open(out, "w"), stderr=subprocess.STDOUT)
    endpoint = wait_for(r"Rampart listening on (\S+)", out, proc).group(1)
    profile = configparser.ConfigParser()
    profile.read(tmp / f"{name}-data" / "admin-credentials")
    p = profile["profile rampart"]
    return proc, endpoint, (p["aws_access_key_id"], p["aws_secret_access_key"], p["region"])


# The warm invoke row: a signed lambda:Invoke of the Rust function of bench/fixtures.py.
INVOKE_CALL = "lambda:Invoke (warm Rust function)"


def start_rampart(binary, tmp, name, store, user_pools, invoke=False):
    proc, endpoint, admin = serve_rampart(binary, tmp, name, store)
    create_bench_secret(endpoint, *admin)
    requests = {call: signed_request(endpoint, *admin, call) for call in CALLS}
    if user_pools:
        requests.update(pool_requests(endpoint, *admin))
    if invoke:
        import fixtures  # boto3: only under the bench venv (main re-runs this script there)

        world = fixtures.World(endpoint, *admin)
        function = world.function("bench-rust", fixtures.RUST)
        requests[INVOKE_CALL] = fixtures.invoke_request(endpoint, admin, function)
    return proc, endpoint, requests


FLOOR_CALL = "constant answer"
# The key pair signing requests for servers that check no signature (the floor, moto).
UNCHECKED_KEY = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def start_floor(binary, tmp):
    """Starts the floor; it is sent the same signed GetCallerIdentity POST as Rampart (unchecked)."""
    out = tmp / "floor.out"
    proc = subprocess.Popen([str(binary), "--listen", "127.0.0.1:0"], stdout=open(out, "w"), stderr=subprocess.STDOUT)
    endpoint = wait_for(r"Floor listening on (\S+)", out, proc).group(1)
    req = signed_request(endpoint, *UNCHECKED_KEY, "us-east-1")
    return proc, endpoint, {FLOOR_CALL: req}


def locate_floor(path, release_dir):
    """The floor binary: --floor PATH, else rampart-floor next to the default rampart build
    (built with cargo if missing)."""
    if path:
        return Path(path)
    binary = release_dir / "rampart-floor"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "rampart-floor"], cwd=REPO, check=True)
    return binary


def peer_benchmark_args(ap):
    """The options bench/functions.py and bench/gateway.py share (parsed before they re-run
    under the bench venv, and again after)."""
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each is reported")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rampart", default=None, metavar="PATH", help="the rampart binary (default: the release build)")
    ap.add_argument("--floor", default=None, metavar="PATH", help="the rampart-floor binary (default: next to the release build)")
    ap.add_argument("--no-serverless-offline", action="store_true", help="skip the serverless-offline peer")


def prepared(args):
    """After peer_benchmark_args' parse: the tools and the venv ready, (rampart, floor) binaries."""
    ensure_tools()
    in_venv()
    release_dir = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "release"
    return Path(args.rampart or release_dir / "rampart"), locate_floor(args.floor, release_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each is reported")
    ap.add_argument("--store", default=None, help="store URL for rampart (default: embedded SQLite)")
    ap.add_argument(
        "--rampart",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a rampart binary to measure (repeatable, e.g. to compare two builds in one run); default: the release build",
    )
    ap.add_argument("--no-moto", action="store_true", help="skip the moto peer")
    ap.add_argument("--no-user-pools", action="store_true", help="skip the cognito-idp calls (and cognito-local)")
    ap.add_argument("--no-cognito-local", action="store_true", help="skip the cognito-local peer of the cognito-idp calls")
    ap.add_argument("--no-invoke", action="store_true", help="skip the warm lambda:Invoke row (and the Rust function's build)")
    ap.add_argument("--floor", default=None, metavar="PATH", help="the rampart-floor binary (default: next to the release build)")
    args = ap.parse_args()
    ensure_tools()
    in_venv()
    release_dir = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "release"
    builds = [tuple(spec.split("=", 1)) for spec in args.rampart] or [("rampart", str(release_dir / "rampart"))]
    floor = locate_floor(args.floor, release_dir)
    tmp = Path(tempfile.mkdtemp(prefix="rampart-bench-"))
    results = {}

    servers = {}
    try:
        servers["floor"] = start_floor(floor, tmp)
        for name, path in builds:
            servers[name] = start_rampart(path, tmp, name, args.store, not args.no_user_pools, not args.no_invoke)
        for name, (_, endpoint, requests) in servers.items():
            for req in requests.values():
                wrk(endpoint, req, 2, args.connections, args.threads)  # warm-up
        # Interleaved rounds, so drift on this shared machine hits the floor and every build alike.
        for _ in range(args.rounds):
            for name, (_, endpoint, requests) in servers.items():
                for call, req in requests.items():
                    r = wrk(endpoint, req, args.duration, args.connections, args.threads)
                    key = (name, call)
                    if key not in results or r["rps"] > results[key]["rps"]:
                        results[key] = r
    finally:
        for proc, _, _ in servers.values():
            proc.terminate()
            proc.wait()

    if not args.no_moto:
        out = tmp / "moto.out"
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([str(VENV / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=open(out, "w"), stderr=subprocess.STDOUT)
        try:
            m = wait_for(r"Running on (http://127\.0\.0\.1:\d+)", out, proc)
            endpoint = m.group(1)
            create_bench_secret(endpoint, *UNCHECKED_KEY, "us-east-1")
            for call in CALLS:
                req = signed_request(endpoint, *UNCHECKED_KEY, "us-east-1", call)
                wrk(endpoint, req, 2, args.connections, args.threads)
                results[("moto", call)] = wrk(endpoint, req, args.duration, args.connections, args.threads)
        finally:
            proc.terminate()
            proc.wait()

    if not args.no_user_pools and not args.no_cognito_local:
        if cognito_local.available():
            proc, endpoint = cognito_local.start(tmp / "cognito-local")
            try:
                for call, req in pool_requests(endpoint, *cognito_local.UNCHECKED_KEY, "us-east-1", email_names=True).items():
                    wrk(endpoint, req, 2, args.connections, args.threads)
                    results[("cognito-local", call)] = wrk(endpoint, req, args.duration, args.connections, args.threads)
            finally:
                proc.terminate()
                proc.wait()
        else:
            print("node/npm not found: cognito-local skipped", file=sys.stderr)

    shutil.rmtree(tmp, ignore_errors=True)  # data directories of every server of the run

    print(f"signed calls, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, best of {args.rounds}, {time.strftime('%Y-%m-%d %H:%M')}")
    floor_rps = results[("floor", FLOOR_CALL)]["rps"]
    print("| server | call | requests/s | % of floor | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for (name, call), r in results.items():
        share = 100 * r["rps"] / floor_rps
        print(f"| {name} | {call} | {r['rps']:.0f} | {share:.1f} % | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |")
    if ("moto", "sts:GetCallerIdentity") in results:
        first = builds[0][0]
        for call in CALLS:
            if ("moto", call) not in results:
                continue
            print(f"ratio {first}/moto {call}: {results[(first, call)]['rps'] / results[('moto', call)]['rps']:.1f}x")
    first = builds[0][0]
    for call in POOL_CALLS:
        if ("cognito-local", call) in results and (first, call) in results:
            print(f"ratio {first}/cognito-local {call}: {results[(first, call)]['rps'] / results[('cognito-local', call)]['rps']:.1f}x")


if __name__ == "__main__":
    main()
