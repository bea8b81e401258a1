#!/usr/bin/env python3
"""Functions benchmark (the Functions issue's performance acceptance): cold starts, warm invoke
latency and warm invokes per second of the Rust `provided.al2023` function of
tests/compat/rust_function (release build) and of a trivial Python handler on `rampart serve`,
beside `rampart-floor` (bench/floor, a bare axum server on the same stack) and, in the same
run, the same Python handler under serverless-offline (bench/serverless_offline.py).

- Cold start: the first invoke of a new function. Rampart starts a new execution environment
  for it (new process from exec, new Runtime API listener, role credentials of its own, private
  tmp directory; its `REPORT` line carries `Init Duration`, checked on every sample, and every
  sample's environment (TMPDIR) is checked to differ). The functions share one package, and a
  first function whose invoke unpacks that package on the node is not counted: the samples are
  environment starts, not code downloads. serverless-offline's cold start is the one it has: a
  new function instance, i.e. a new `python3 invoke.py` process (run with `--reloadHandler`,
  which makes one per request; its pid is checked to differ). Each sample is timed by the client
  around one HTTP request on a connection opened before the clock starts (signed in advance).
- Warm latency and throughput: a signed Invoke replayed with wrk (as bench/load.py does) at
  1 connection (latency) and at 16 (invokes/s), in interleaved rounds, best of each kept. The
  floor is sent the same POST and checks nothing.
- Rampart's share of a warm invoke: wrk's p50 at 1 connection minus the p50 of the `REPORT`
  lines' `Duration` of the same function's invocations (`rampart logs`), i.e. the time outside
  the interval in which the runtime held the invocation (from Rampart handing it the event on
  `/next` to Rampart having read its `/response`). One function per connection count, so that
  function's log holds only the 1-connection invocations.

Usage: bench/functions.py [--duration 10] [--rounds 2] [--cold 30] [--no-serverless-offline]
Needs what bench/load.py needs, cargo for the Rust function, node and npm for serverless-offline.
"""

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402

REPORT = re.compile(r"REPORT RequestId: \S+\tDuration: ([\d.]+) ms.*?(?:Init Duration: ([\d.]+) ms)?\t?$", re.M)


def quantile(values, q):
    """Nearest-rank quantile of `values` (q in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def timed(endpoint, req):
    """One request on a fresh connection, opened before the clock starts: (ms, status,
    headers, body)."""
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.connect()
    headers = {k: v for k, v in req["headers"].items() if k.lower() != "host"}
    started = time.perf_counter()
    conn.request(req.get("method", "POST"), req.get("path", "/"), body=req.get("body") or None, headers=headers)
    r = conn.getresponse()
    body = r.read()
    ms = (time.perf_counter() - started) * 1000
    conn.close()
    return ms, r.status, r.headers, body


def environment_of(body):
    """The environment an answer names: Rust's `environment`, or the Python handler's body."""
    answer = json.loads(body)
    if "body" in answer:
        answer = json.loads(answer["body"])
    return answer.get("environment") or answer.get("pid")


def reports(binary, data_dir, function):
    """(Duration ms, Init Duration ms or None) of every REPORT line in `function`'s log."""
    out = subprocess.run([str(binary), "logs", function, "--data-dir", str(data_dir), "--since", "2h",
                          "--format", "short"], capture_output=True, text=True, check=True).stdout
    return [(float(d), float(i) if i else None) for d, i in REPORT.findall(out)]


def cold_rows(world, endpoint, admin, n, so=None):
    """Cold-start samples, interleaved: {label: {"client": [ms], "init": [ms]}}."""
    import fixtures

    samples = {}
    targets = []  # (label, endpoint, requests)
    for kind in (fixtures.RUST, fixtures.PYTHON):
        tag = kind.runtime.split(".")[0]
        # Unpacks the shared package on the node, outside the samples.
        first = world.function(f"cold-{tag}-unpack", kind)
        timed(endpoint, fixtures.invoke_request(endpoint, admin, first))
        names = [world.function(f"cold-{tag}-{i}", kind) for i in range(n)]
        targets.append((f"rampart {kind.label}", endpoint,
                        [fixtures.invoke_request(endpoint, admin, name, tail=True) for name in names]))
    if so:
        so_endpoint, so_name = so
        req = fixtures.invoke_request(so_endpoint, load.UNCHECKED_KEY + ("us-east-1",), so_name)
        targets.append((f"serverless-offline {fixtures.PYTHON.label}", so_endpoint, [req] * n))
    for i in range(n):
        for label, ep, reqs in targets:
            ms, status, headers, body = timed(ep, reqs[i])
            if status != 200 or headers.get("X-Amz-Function-Error"):
                raise SystemExit(f"{label}: cold invoke failed: {status} {body[:300]!r}")
            s = samples.setdefault(label, {"client": [], "init": [], "environments": set()})
            s["client"].append(ms)
            s["environments"].add(environment_of(body))
            if headers.get("X-Amz-Log-Result"):
                tail = base64.b64decode(headers["X-Amz-Log-Result"]).decode()
                found = REPORT.findall(tail)
                if not found or not found[-1][1]:
                    raise SystemExit(f"{label}: not a cold start (no Init Duration): {tail}")
                s["init"].append(float(found[-1][1]))
            time.sleep(0.05)
    for label, s in samples.items():
        if len(s["environments"]) != n:
            raise SystemExit(f"{label}: {n} cold invokes ran in {len(s['environments'])} environments")
    return samples


def main():
    ap = argparse.ArgumentParser()
    load.peer_benchmark_args(ap)
    ap.add_argument("--cold", type=int, default=30, help="cold starts sampled per function kind")
    args = ap.parse_args()
    binary, floor_bin = load.prepared(args)
    import fixtures
    import serverless_offline

    fixtures.package(fixtures.RUST)  # built before any server starts
    tmp = Path(tempfile.mkdtemp(prefix="rampart-bench-fn-"))
    procs, so_proc, so_cold_proc = [], None, None
    warm = {}  # label -> (endpoint, {connections: request})
    try:
        floor_proc, floor_endpoint, _ = load.start_floor(floor_bin, tmp)
        procs.append(floor_proc)
        proc, endpoint, admin = load.serve_rampart(binary, tmp, "rampart")
        procs.append(proc)
        world = fixtures.World(endpoint, *admin)
        names = {}
        for kind in (fixtures.RUST, fixtures.PYTHON):
            tag = kind.runtime.split(".")[0]
            for c in (1, 16):
                names[(kind, c)] = world.function(f"warm-{tag}-c{c}", kind)
            warm[f"rampart {kind.label}"] = (endpoint, {c: fixtures.invoke_request(endpoint, admin, names[(kind, c)])
                                                        for c in (1, 16)})
        rust_c1 = warm[f"rampart {fixtures.RUST.label}"][1][1]
        warm["floor (constant answer)"] = (floor_endpoint, {1: rust_c1, 16: rust_c1})
        so = None
        if not args.no_serverless_offline and serverless_offline.available():
            python_dir = serverless_offline.python_dir()
            so_proc, _, so_lambda = serverless_offline.start(tmp / "so", fixtures.PY_HANDLER, fixtures.PYTHON.runtime, python_dir)
            so_cold_proc, _, so_cold_lambda = serverless_offline.start(
                tmp / "so-cold", fixtures.PY_HANDLER, fixtures.PYTHON.runtime, python_dir,
                extra=("--reloadHandler", "--terminateIdleLambdaTime", "5"))
            req = fixtures.invoke_request(so_lambda, load.UNCHECKED_KEY + ("us-east-1",), serverless_offline.function_name("hello"))
            warm[f"serverless-offline {fixtures.PYTHON.label}"] = (so_lambda, {1: req, 16: req})
            so = (so_cold_lambda, serverless_offline.function_name("hello"))
        elif not args.no_serverless_offline:
            print("node/npm not found: serverless-offline skipped", file=sys.stderr)

        load_before = os.getloadavg()
        cold = cold_rows(world, endpoint, admin, args.cold, so)
        for label, (ep, reqs) in warm.items():  # warm-up: every environment started, JIT-free from here
            for c, req in reqs.items():
                load.wrk(ep, req, 2, c, min(c, args.threads))
        results = {}
        for _ in range(args.rounds):
            for c in (1, 16):
                for label, (ep, reqs) in warm.items():
                    r = load.wrk(ep, reqs[c], args.duration, c, min(c, args.threads))
                    if (label, c) not in results or r["rps"] > results[(label, c)]["rps"]:
                        results[(label, c)] = r
        load_after = os.getloadavg()
        time.sleep(3)  # the log shipper's batches reach the store
        durations = {kind: reports(binary, tmp / "rampart-data", names[(kind, c)]) for kind in (fixtures.RUST, fixtures.PYTHON)
                     for c in (1,)}
        churn = {kind: sum(1 for _, init in reports(binary, tmp / "rampart-data", names[(kind, 16)]) if init)
                 for kind in (fixtures.RUST, fixtures.PYTHON)}
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        for p in (so_proc, so_cold_proc):
            if p:
                serverless_offline.stop(p)
    shutil.rmtree(tmp, ignore_errors=True)

    stamp = time.strftime("%Y-%m-%d %H:%M")
    print(f"functions benchmark {stamp}; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"\ncold starts, {args.cold} per row (client: one invoke on a connection opened beforehand)")
    print("| server | function | client p50 ms | client p99 ms | Init Duration p50 ms | Init Duration p99 ms |")
    print("|---|---|---|---|---|---|")
    for label, s in cold.items():
        server, function = label.split(" ", 1)
        init = (f"{quantile(s['init'], 0.5):.2f} | {quantile(s['init'], 0.99):.2f}" if s["init"] else "— | —")
        print(f"| {server} | {function} | {quantile(s['client'], 0.5):.2f} | {quantile(s['client'], 0.99):.2f} | {init} |")
    floor_rps = {c: results[("floor (constant answer)", c)]["rps"] for c in (1, 16)}
    print(f"\nwarm invokes, wrk -d{args.duration}s, best of {args.rounds}")
    print("| server | function | connections | invokes/s | % of floor | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for c in (1, 16):
        for label, _ in warm.items():
            r = results[(label, c)]
            server, function = label.split(" ", 1)
            print(f"| {server} | {function} | {c} | {r['rps']:.0f} | {100 * r['rps'] / floor_rps[c]:.1f} % | "
                  f"{r['p50_ms']:.3f} | {r['p99_ms']:.2f} | {r['errors']} |")
    print("\nRampart's share of a warm invoke at 1 connection (wrk p50 − REPORT Duration p50)")
    print("| function | wrk p50 µs | Duration p50 µs | Duration p99 µs | Rampart's share µs | floor p50 µs | invocations | cold starts during the 16-connection runs |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, found in durations.items():
        d = [x for x, init in found if init is None]
        p50 = results[(f"rampart {kind.label}", 1)]["p50_ms"] * 1000
        dp50 = quantile(d, 0.5) * 1000
        print(f"| {kind.label} | {p50:.0f} | {dp50:.0f} | {quantile(d, 0.99) * 1000:.0f} | {p50 - dp50:.0f} | "
              f"{results[('floor (constant answer)', 1)]['p50_ms'] * 1000:.0f} | {len(d)} | {churn[kind]} |")


if __name__ == "__main__":
    main()
