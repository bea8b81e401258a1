#!/usr/bin/env python3
"""Per-request cost of signed calls to `rampart serve`, measured so that it repeats on a
shared machine: instructions per request under callgrind (valgrind counts instructions, so
other processes on the cores do not change the figure), or CPU time and context switches per
request with `perf stat` (software counters; this VM exposes no hardware ones).

A fixed client sends exactly --requests signed requests of each call over --connections
keep-alive connections (Python threads, one connection each) after a warm-up, and the server's
counters are read around that window only, so start-up and bootstrap are not counted.

Usage: bench/cost.py [--rampart PATH] [--requests 2000] [--connections 8]
                     [--tool callgrind|perf] [--store URL] [--call sts:GetCallerIdentity ...]
                     (calls: sts:GetCallerIdentity, iam:GetUser, secretsmanager:GetSecretValue)
Needs: valgrind (callgrind_control) or perf, a release build
(cargo build --release -p rampart), and botocore in the Python running this script
(e.g. the compat venv: /path/to/venv/bin/python bench/cost.py).
"""

import argparse
import configparser
import http.client
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parents[1]

FORM = "application/x-www-form-urlencoded; charset=utf-8"
JSON = "application/x-amz-json-1.1"
# The secret GetSecretValue reads, as bench/load.py creates it (under the AWS-managed key
# aws/secretsmanager, so each read opens its envelope).
BENCH_SECRET = "bench/db-password"

# label -> (signing name, body, content type, X-Amz-Target or None).
CALLS = {
    "sts:GetCallerIdentity": ("sts", "Action=GetCallerIdentity&Version=2011-06-15", FORM, None),
    "iam:GetUser": ("iam", "Action=GetUser&Version=2010-05-08", FORM, None),
    "secretsmanager:GetSecretValue": (
        "secretsmanager",
        '{"SecretId":"%s"}' % BENCH_SECRET,
        JSON,
        "secretsmanager.GetSecretValue",
    ),
}

# What a call needs to exist before it is measured: requests sent once, in the same form.
SETUP = {
    "secretsmanager:GetSecretValue": [
        (
            "secretsmanager",
            json.dumps({"Name": BENCH_SECRET, "SecretString": json.dumps({"username": "app", "password": "x" * 32})}),
            JSON,
            "secretsmanager.CreateSecret",
        )
    ],
}


def signed(endpoint, akid, secret, region, request):
    service, body, content_type, target = request
    headers = {"Content-Type": content_type}
    if target:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    SigV4Auth(Credentials(akid, secret), service, region).add_auth(req)
    return dict(req.headers), body


def send(endpoint, headers, body, count, connections):
    """Sends `count` requests over `connections` keep-alive connections; returns non-200s."""
    host = urlsplit(endpoint).netloc
    failures = []
    share = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]

    def worker(n):
        conn = http.client.HTTPConnection(host, timeout=120)
        for _ in range(n):
            conn.request("POST", "/", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                failures.append(resp.status)
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in share]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def wait_for(pattern, path, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, Path(path).read_text())
        if m:
            return m
        if proc.poll() is not None:
            raise SystemExit(f"process exited: {Path(path).read_text()}")
        time.sleep(0.1)
    raise SystemExit("timed out waiting for the server")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rampart", default=None, help="the rampart binary (default: the release build)")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--tool", choices=["callgrind", "perf"], default="callgrind")
    ap.add_argument("--store", default=None)
    ap.add_argument("--call", action="append", default=[], choices=list(CALLS))
    ap.add_argument("--keep", default=None, metavar="DIR", help="keep each call's callgrind dump in DIR (for callgrind_annotate)")
    args = ap.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    binary = args.rampart or str(target / "release" / "rampart")
    calls = args.call or list(CALLS)

    tmp = Path(tempfile.mkdtemp(prefix="rampart-cost-"))
    out = tmp / "server.out"
    cmd = [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp / "data"), "--log", "warn"]
    if args.store:
        cmd += ["--store", args.store]
    cg_out = tmp / "callgrind.out"
    if args.tool == "callgrind":
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={cg_out}"] + cmd
    proc = subprocess.Popen(cmd, stdout=open(out, "w"), stderr=subprocess.STDOUT)
    try:
        endpoint = wait_for(r"Rampart listening on (\S+)", out, proc).group(1)
        profile = configparser.ConfigParser()
        profile.read(tmp / "data" / "admin-credentials")
        p = profile["profile rampart"]
        creds = (p["aws_access_key_id"], p["aws_secret_access_key"], p["region"])
        for call in calls:
            for request in SETUP.get(call, []):
                headers, body = signed(endpoint, *creds, request)
                failures = send(endpoint, headers, body, 1, 1)
                assert not failures, f"{call}: setting up answered {failures}"
            headers, body = signed(endpoint, *creds, CALLS[call])
            failures = send(endpoint, headers, body, 200, args.connections)  # warm-up
            assert not failures, f"{call}: warm-up answered {failures[:3]}"
            if args.tool == "callgrind":
                subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
                started = time.time()
                failures = send(endpoint, headers, body, args.requests, args.connections)
                elapsed = time.time() - started
                subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
                for f in tmp.glob("callgrind.out*"):
                    f.unlink()
                subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
                total = 0
                for f in tmp.glob("callgrind.out*"):
                    for line in f.read_text(errors="replace").splitlines():
                        if line.startswith("totals:"):
                            total += int(line.split()[1])
                            break
                    if args.keep:
                        Path(args.keep).mkdir(parents=True, exist_ok=True)
                        name = call.replace(":", "-")
                        f.rename(Path(args.keep) / f"callgrind.{name}.out")
                subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
                print(
                    f"{call}: {total / args.requests:,.0f} instructions/request "
                    f"({args.requests} requests, {args.connections} connections, {elapsed:.1f} s under valgrind, "
                    f"{len(failures)} non-200)"
                )
            else:
                stat_out = tmp / "perf.stat"
                stat = subprocess.Popen(
                    ["perf", "stat", "-e", "task-clock,context-switches", "-x", ",", "-o", str(stat_out), "-p", str(proc.pid)]
                )
                time.sleep(0.3)
                failures = send(endpoint, headers, body, args.requests, args.connections)
                stat.send_signal(signal.SIGINT)
                stat.wait()
                values = {}
                for line in stat_out.read_text().splitlines():
                    fields = line.split(",")
                    if len(fields) > 2 and fields[0] and not line.startswith("#"):
                        try:
                            values[fields[2]] = float(fields[0])
                        except ValueError:
                            pass
                ms = values.get("task-clock", 0.0)
                cs = values.get("context-switches", 0.0)
                print(
                    f"{call}: {1000 * ms / args.requests:.1f} µs CPU/request, "
                    f"{cs / args.requests:.2f} context switches/request "
                    f"({args.requests} requests, {args.connections} connections, {len(failures)} non-200)"
                )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
