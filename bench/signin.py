#!/usr/bin/env python3
"""Sign-ins per second and their latency (issue 15): USER_PASSWORD_AUTH and USER_SRP_AUTH
(InitiateAuth, then RespondToAuthChallenge PASSWORD_VERIFIER) against `rampart serve` and, in the
same run, USER_PASSWORD_AUTH against cognito-local (npm; it has no SRP), beside one bare Argon2id
hash at the cost Rampart uses.

Sign-ins are the unsigned JSON 1.1 POSTs a browser or app sends, from worker processes (one per
concurrent client, each with its own keep-alive connection) over a pool of pre-created, confirmed
users signing in with the right password, so the lockout never triggers. Rampart is started with
`--auth-requests-per-source 0` (its per-source limit off: every request here comes from
127.0.0.1). The SRP client math (pycognito's AWSSRP, unmodified, with its modular exponentiation
done by GMP so the client does not dominate) is timed apart from the two round trips.

Usage: bench/signin.py [--rampart PATH] [--duration 10] [--concurrency 1,4] [--rounds 2]
                       [--users 32] [--no-cognito-local]
Needs: a release build (cargo build --release -p rampart-server), node and npm for cognito-local
(installed into ~/.cache/rampart/bench-js); this script creates bench/.venv with boto3,
pycognito, argon2-cffi and gmpy2 if missing and re-runs itself there.
"""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "bench" / ".venv"
NEEDS = {"boto3": "boto3", "pycognito": "pycognito", "argon2": "argon2-cffi", "gmpy2": "gmpy2"}


def into_venv():
    """Re-runs this script under bench/.venv with what it needs installed."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import " + ",".join(NEEDS)], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *NEEDS.values()], check=True)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


into_venv()

import argparse  # noqa: E402
import configparser  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import boto3  # noqa: E402
import gmpy2  # noqa: E402
from argon2.low_level import Type, hash_secret_raw  # noqa: E402
from botocore.config import Config  # noqa: E402
from pycognito import aws_srp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cognito_local  # noqa: E402

# pycognito's SRP client in pure Python spends ~100 ms per sign-in in `pow` on this machine, far
# more than the server; GMP does the same exponentiations in ~8 ms. Module globals shadow the
# builtin, so AWSSRP itself is unchanged.
aws_srp.pow = lambda b, e, m=None: int(gmpy2.powmod(b, e, m)) if m is not None else b**e

PASSWORD = "Corr3ct-Horse-Battery!"
JSON11 = "application/x-amz-json-1.1"
TARGET = "AWSCognitoIdentityProviderService."


def argon2_cost():
    """Rampart's Argon2id cost, read from the code (the default of `Argon2Cost`), checking that the
    user-pool service takes the default and the server sets no other."""
    src = (REPO / "crates" / "identity" / "src" / "password.rs").read_text()
    body = re.search(r"impl Default for Argon2Cost \{.*?Self \{(.*?)\}", src, re.S).group(1)
    cost = {}
    for field in ("memory_kib", "iterations", "parallelism"):
        expr = re.search(rf"{field}:\s*([\d\s*]+),", body).group(1)
        cost[field] = eval(expr, {"__builtins__": {}})  # digits and `*` only, by the regex
    service = (REPO / "crates" / "user-pools" / "src" / "service.rs").read_text()
    overridden = subprocess.run(["grep", "-rl", "with_argon2_cost", str(REPO / "crates" / "server")], capture_output=True, text=True).stdout
    if "hasher(Argon2Cost::default())" not in service or overridden:
        print(f"warning: the server may not use Argon2Cost::default() (check {overridden.strip() or service})", file=sys.stderr)
    return cost


def bare_hashes(cost, count):
    """Wall-clock seconds of `count` Argon2id hashes at `cost` (libargon2 through argon2-cffi)."""
    times = []
    for i in range(count):
        start = time.perf_counter()
        hash_secret_raw(
            PASSWORD.encode(),
            os.urandom(16),
            time_cost=cost["iterations"],
            memory_cost=cost["memory_kib"],
            parallelism=cost["parallelism"],
            hash_len=32,
            type=Type.ID,
        )
        times.append(time.perf_counter() - start)
    return times


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


def start_rampart(binary, tmp):
    """`rampart serve` (embedded store) with the per-source sign-in limit off: (proc, endpoint, admin key)."""
    help_text = subprocess.run([str(binary), "serve", "--help"], capture_output=True, text=True).stdout
    if "--auth-requests-per-source" not in help_text:
        raise SystemExit(f"{binary} has no --auth-requests-per-source: too old for this benchmark")
    out = tmp / "rampart.out"
    data = tmp / "rampart-data"
    cmd = [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data), "--log", "warn", "--auth-requests-per-source", "0"]
    proc = subprocess.Popen(cmd, stdout=open(out, "w"), stderr=subprocess.STDOUT)
    endpoint = wait_for(r"Rampart listening on (\S+)", out, proc).group(1)
    profile = configparser.ConfigParser()
    profile.read(data / "admin-credentials")
    p = profile["profile rampart"]
    return proc, endpoint, (p["aws_access_key_id"], p["aws_secret_access_key"], p["region"])


def make_pool(endpoint, key, users, names):
    """A pool, an app client allowing both flows, and `users` confirmed users: (pool id, client id, usernames)."""
    akid, secret, region = key
    c = boto3.client(
        "cognito-idp", endpoint_url=endpoint, region_name=region, aws_access_key_id=akid, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    pid = c.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    cid = c.create_user_pool_client(UserPoolId=pid, ClientName="bench", ExplicitAuthFlows=flows)["UserPoolClient"]["ClientId"]
    usernames = [names(i) for i in range(users)]
    for name in usernames:
        email = name if "@" in name else f"{name}@example.com"
        c.admin_create_user(UserPoolId=pid, Username=name, UserAttributes=[{"Name": "email", "Value": email}], MessageAction="SUPPRESS")
        c.admin_set_user_password(UserPoolId=pid, Username=name, Password=PASSWORD, Permanent=True)
    return pid, cid, usernames


class Connection:
    """One keep-alive connection sending unsigned cognito-idp JSON 1.1 calls."""

    def __init__(self, endpoint):
        u = urlparse(endpoint)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, action, body):
        data = json.dumps(body)
        headers = {"Content-Type": JSON11, "X-Amz-Target": TARGET + action}
        try:
            self.conn.request("POST", "/", data, headers)
            resp = self.conn.getresponse()
            text = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            return None, "connection"
        answer = json.loads(text) if text else {}
        if resp.status != 200:
            return None, answer.get("__type", str(resp.status))
        return answer, None


def password_sign_in(conn, pool, client_id, user):
    answer, err = conn.call(
        "InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id, "AuthParameters": {"USERNAME": user, "PASSWORD": PASSWORD}}
    )
    if answer is not None and "AccessToken" not in answer.get("AuthenticationResult", {}):
        err = "no tokens"
    return err, 0.0, 0.0


def srp_sign_in(conn, pool, client_id, user):
    """(error, client math seconds, round-trip seconds) of one SRP sign-in."""
    t0 = time.perf_counter()
    srp = aws_srp.AWSSRP(username=user, password=PASSWORD, pool_id=pool, client_id=client_id, client=object())
    params = srp.get_auth_params()
    t1 = time.perf_counter()
    challenge, err = conn.call("InitiateAuth", {"AuthFlow": "USER_SRP_AUTH", "ClientId": client_id, "AuthParameters": params})
    t2 = time.perf_counter()
    if err:
        return err, t1 - t0, t2 - t1
    if challenge.get("ChallengeName") != "PASSWORD_VERIFIER":
        return "no PASSWORD_VERIFIER", t1 - t0, t2 - t1
    responses = srp.process_challenge(challenge["ChallengeParameters"], params)
    t3 = time.perf_counter()
    body = {"ChallengeName": "PASSWORD_VERIFIER", "ClientId": client_id, "ChallengeResponses": responses}
    if challenge.get("Session"):
        body["Session"] = challenge["Session"]
    answer, err = conn.call("RespondToAuthChallenge", body)
    t4 = time.perf_counter()
    if answer is not None and "AccessToken" not in answer.get("AuthenticationResult", {}):
        err = "no tokens"
    return err, (t1 - t0) + (t3 - t2), (t2 - t1) + (t4 - t3)


FLOWS = {"USER_PASSWORD_AUTH": password_sign_in, "USER_SRP_AUTH": srp_sign_in}


def worker(args):
    """One client: sign-ins in a loop from `start_at` to `end_at`, users taken in turn."""
    endpoint, flow, pool, client_id, users, start_at, end_at = args
    conn = Connection(endpoint)
    sign_in = FLOWS[flow]
    sign_in(conn, pool, client_id, users[0])  # connect and warm this connection, untimed
    samples, errors, i = [], {}, 0
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < end_at:
        start = time.perf_counter()
        err, client_s, trip_s = sign_in(conn, pool, client_id, users[i % len(users)])
        elapsed = time.perf_counter() - start
        i += 1
        if err:
            errors[err] = errors.get(err, 0) + 1
        else:
            samples.append((elapsed, client_s, trip_s))
    return samples, errors


def cpu_seconds(pid):
    """User + system CPU seconds the whole process (every thread) has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server, flow, concurrency, duration):
    proc, endpoint, pool, client_id, users = server
    shares = [users[i::concurrency] or users for i in range(concurrency)]
    start_at = time.time() + 1.0
    end_at = start_at + duration
    cpu0 = None
    with multiprocessing.get_context("fork").Pool(concurrency) as workers:
        pending = workers.map_async(worker, [(endpoint, flow, pool, client_id, s, start_at, end_at) for s in shares])
        while time.time() < start_at:
            time.sleep(0.001)
        cpu0 = cpu_seconds(proc.pid)
        results = pending.get()
    cpu1 = cpu_seconds(proc.pid)
    samples = [s for r in results for s in r[0]]
    errors = {}
    for r in results:
        for k, v in r[1].items():
            errors[k] = errors.get(k, 0) + v
    if not samples:
        raise SystemExit(f"{flow} at {endpoint}: no sign-in succeeded: {errors}")
    latencies = sorted(s[0] for s in samples)

    def pct(values, p):
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000

    return {
        "rate": len(samples) / duration,
        "count": len(samples),
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        # CPU includes sign-ins still finishing just past end_at: a small overestimate.
        "cpu_ms": 1000 * (cpu1 - cpu0) / len(samples),
        "client_p50_ms": pct(sorted(s[1] for s in samples), 50),
        "trip_p50_ms": pct(sorted(s[2] for s in samples), 50),
        "errors": errors,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rampart", default=None, metavar="PATH", help="the rampart binary (default: the release build)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    ap.add_argument("--concurrency", default="1,4", help="concurrent clients, comma-separated (each a row)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each is reported")
    ap.add_argument("--users", type=int, default=32, help="confirmed users per pool (signed in in turn)")
    ap.add_argument("--hashes", type=int, default=10, help="bare Argon2id hashes timed before and after the load")
    ap.add_argument("--no-cognito-local", action="store_true", help="skip the cognito-local peer")
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    release_dir = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "release"
    binary = Path(args.rampart) if args.rampart else release_dir / "rampart"
    with_peer = not args.no_cognito_local
    if with_peer and not cognito_local.available():
        print("node/npm not found: cognito-local skipped", file=sys.stderr)
        with_peer = False
    if with_peer:
        cognito_local.install()

    cost = argon2_cost()
    hashes = bare_hashes(cost, args.hashes)
    tmp = Path(tempfile.mkdtemp(prefix="rampart-signin-"))
    procs, servers = [], {}
    results = {}
    try:
        proc, endpoint, key = start_rampart(binary, tmp)
        procs.append(proc)
        pool, client_id, users = make_pool(endpoint, key, args.users, lambda i: f"bench{i}")
        servers["rampart"] = (proc, endpoint, pool, client_id, users)
        runs = [("rampart", "USER_PASSWORD_AUTH"), ("rampart", "USER_SRP_AUTH")]
        if with_peer:
            proc, endpoint = cognito_local.start(tmp / "cognito-local")
            procs.append(proc)
            pool, client_id, users = make_pool(endpoint, (*cognito_local.UNCHECKED_KEY, "us-east-1"), args.users, cognito_local.username)
            servers["cognito-local"] = (proc, endpoint, pool, client_id, users)
            runs.append(("cognito-local", "USER_PASSWORD_AUTH"))
        # Interleaved rounds, so drift on a shared machine hits every server alike.
        for _ in range(args.rounds):
            for c in levels:
                for name, flow in runs:
                    r = measure(servers[name], flow, c, args.duration)
                    key_ = (name, flow, c)
                    if key_ not in results or r["rate"] > results[key_]["rate"]:
                        results[key_] = r
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    hashes += bare_hashes(cost, args.hashes)

    bare_ms = statistics.median(hashes) * 1000
    print(
        f"sign-ins, unsigned InitiateAuth (+ RespondToAuthChallenge for SRP), {args.users} users, {args.duration}s per row, "
        f"best of {args.rounds}, {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f}; "
        f"rampart {binary} serve --log warn --auth-requests-per-source 0 (per-source sign-in limit off), embedded store"
    )
    print(
        f"Argon2id cost (crates/identity/src/password.rs, Argon2Cost::default): m={cost['memory_kib']} KiB, t={cost['iterations']}, "
        f"p={cost['parallelism']}; one bare hash (argon2-cffi, libargon2): median {bare_ms:.1f} ms, min {min(hashes) * 1000:.1f} ms "
        f"over {len(hashes)}"
    )
    print()
    print("| server | flow | clients | sign-ins/s | p50 ms | p99 ms | p50 / bare hash | server CPU ms per sign-in | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (name, flow, c), r in sorted(results.items(), key=lambda kv: (kv[0][2], kv[0][0] != "rampart", kv[0][1])):
        errors = sum(r["errors"].values())
        detail = f" ({', '.join(f'{k} {v}' for k, v in r['errors'].items())})" if errors else ""
        # Only a Rampart password sign-in computes an Argon2id hash (SRP checks a verifier; cognito-local compares plaintext).
        ratio = f"{r['p50_ms'] / bare_ms:.2f}×" if (name, flow) == ("rampart", "USER_PASSWORD_AUTH") else "—"
        print(
            f"| {name} | {flow} | {c} | {r['rate']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {ratio} "
            f"| {r['cpu_ms']:.1f} | {errors}{detail} |"
        )
    srp = [(c, results[("rampart", "USER_SRP_AUTH", c)]) for c in levels if ("rampart", "USER_SRP_AUTH", c) in results]
    if srp:
        print()
        print("SRP, where a sign-in's time goes (p50 of each part; the client's math is pycognito with GMP):")
        print("| clients | sign-in p50 ms | client math p50 ms | two round trips p50 ms | server CPU ms per sign-in |")
        print("|---|---|---|---|---|")
        for c, r in srp:
            print(f"| {c} | {r['p50_ms']:.1f} | {r['client_p50_ms']:.1f} | {r['trip_p50_ms']:.1f} | {r['cpu_ms']:.1f} |")
    first = min(levels)
    pw = results.get(("rampart", "USER_PASSWORD_AUTH", first))
    if pw:
        print()
        print(f"rampart USER_PASSWORD_AUTH p50 at {first} client(s) / one bare Argon2id hash: {pw['p50_ms'] / bare_ms:.2f}× (issue 15 target ≤ 1.2×)")
    for c in levels:
        peer = results.get(("cognito-local", "USER_PASSWORD_AUTH", c))
        ours = results.get(("rampart", "USER_PASSWORD_AUTH", c))
        if peer and ours:
            print(f"ratio rampart/cognito-local USER_PASSWORD_AUTH sign-ins/s at {c} client(s): {ours['rate'] / peer['rate']:.3f}× (cognito-local stores and compares plaintext passwords)")


if __name__ == "__main__":
    main()
