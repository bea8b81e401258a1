#!/usr/bin/env python3
"""End-to-end load benchmark: signed sts:GetCallerIdentity, iam:GetUser and
secretsmanager:GetSecretValue against `rampart serve` and, in the same run, against `moto_server`
doing the same calls, each also stated as a
percentage of a floor: `rampart-floor` (bench/floor), a bare axum server on the same stack as
`rampart serve` that answers a constant GetCallerIdentity-sized XML body and checks nothing.

Every request Rampart receives is fully checked: SigV4 verified (HMAC over the canonical
request), access key resolved, authorized, and an audit record durably committed before the
answer. The signed request is replayed by wrk within its 15-minute validity window, as SigV4
allows; moto checks no signature at all. The floor is sent the same signed GetCallerIdentity
POST (same size), which it does not check.

Usage: bench/load.py [--duration 10] [--connections 16] [--threads 2] [--rounds 2]
                     [--rampart NAME=PATH ...] [--floor PATH] [--no-moto]
Needs: wrk (apt-get install wrk), a release build (cargo build --release -p rampart-server
-p rampart-floor; the floor is built if missing), and a venv with boto3 and moto[server] (this
script creates bench/.venv if missing).
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

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "bench" / ".venv"


def ensure_tools():
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "boto3", "moto[server]"], check=True)


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


def create_bench_secret(endpoint, akid, secret, region):
    """Creates the secret GetSecretValue reads, through boto3 (so moto and Rampart get the same)."""
    code = f"""
import boto3
c = boto3.client("secretsmanager", endpoint_url={endpoint!r}, region_name={region!r},
                 aws_access_key_id={akid!r}, aws_secret_access_key={secret!r})
c.create_secret(Name={BENCH_SECRET!r}, SecretString='{{"username":"app","password":"' + 'x' * 32 + '"}}')
"""
    subprocess.run([str(VENV / "bin" / "python"), "-c", code], check=True)


def signed_request(endpoint, akid, secret, region, call="sts:GetCallerIdentity"):
    """Headers and body of a SigV4-signed POST of `call`, via botocore's signer."""
    service, body, content_type, target = CALLS[call]
    headers = {"Content-Type": content_type}
    if target:
        headers["X-Amz-Target"] = target
    code = f"""
import json
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
body = {body!r}
req = AWSRequest(method="POST", url={endpoint!r} + "/", data=body, headers={headers!r})
SigV4Auth(Credentials({akid!r}, {secret!r}), {service!r}, {region!r}).add_auth(req)
print(json.dumps({{"headers": dict(req.headers), "body": body}}))
"""
    import json

    out = subprocess.run([str(VENV / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def lua_string(text):
    """A Lua string literal of `text` (bodies may hold double quotes: JSON)."""
    return "[==[" + text + "]==]"


def wrk(endpoint, req, duration, connections, threads):
    lua = "wrk.method = 'POST'\n"
    lua += "wrk.body = " + lua_string(req["body"]) + "\n"
    for k, v in req["headers"].items():
        if k.lower() in ("host", "content-length"):
            continue
        lua += f'wrk.headers["{k}"] = "{v}"\n'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "-s", script, endpoint + "/"],
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


def start_rampart(binary, tmp, name, store):
    out = tmp / f"{name}.out"
    cmd = [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp / f"{name}-data"), "--log", "warn"]
    if store:
        cmd += ["--store", store]
    proc = subprocess.Popen(cmd, stdout=open(out, "w"), stderr=subprocess.STDOUT)
    endpoint = wait_for(r"Rampart listening on (\S+)", out, proc).group(1)
    profile = configparser.ConfigParser()
    profile.read(tmp / f"{name}-data" / "admin-credentials")
    p = profile["profile rampart"]
    create_bench_secret(endpoint, p["aws_access_key_id"], p["aws_secret_access_key"], p["region"])
    requests = {call: signed_request(endpoint, p["aws_access_key_id"], p["aws_secret_access_key"], p["region"], call) for call in CALLS}
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
    ap.add_argument("--floor", default=None, metavar="PATH", help="the rampart-floor binary (default: next to the release build)")
    args = ap.parse_args()
    ensure_tools()
    release_dir = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "release"
    builds = [tuple(spec.split("=", 1)) for spec in args.rampart] or [("rampart", str(release_dir / "rampart"))]
    floor = locate_floor(args.floor, release_dir)
    tmp = Path(tempfile.mkdtemp(prefix="rampart-bench-"))
    results = {}

    servers = {}
    try:
        servers["floor"] = start_floor(floor, tmp)
        for name, path in builds:
            servers[name] = start_rampart(path, tmp, name, args.store)
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


if __name__ == "__main__":
    main()
