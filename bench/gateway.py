#!/usr/bin/env python3
"""API gateway benchmark (the API gateway issue's performance goals): `GET /hello` through an
HTTP API, in one run of interleaved rounds, at 16 connections (requests/s) and at 1 (latency):

(a) `rampart-floor` (bench/floor) answering the same GET, checking nothing;
(b) Rampart: an HTTP API, AutoDeploy `$default` stage, `GET /hello` → the warm Rust function of
    tests/compat/rust_function (AWS_PROXY, payload 2.0), no authorizer;
(c) the same route on a second API behind a JWT authorizer whose issuer is a Rampart user pool
    (pool, app client with USER_PASSWORD_AUTH, a confirmed user, its access token sent as
    `Authorization: Bearer …`; Rampart verifies the token's RS256 signature against the pool's
    JWKS, its issuer, expiry and client);
(b-py) as (b), routed to the Python handler that (d) runs, for a like-for-like row;
(d) serverless-offline serving that Python handler behind an httpApi route with its JWT
    authorizer (which only decodes the token: it needs --ignoreJWTSignature to start such a
    route at all), sent the same token, and the same route without an authorizer (d0).

Rows: requests/s, p50, p99, % of the floor; and the authorizer's added latency p50 at 1
connection, (c) − (b) (and (d) − (d0) for serverless-offline).

Usage: bench/gateway.py [--duration 10] [--rounds 2] [--no-serverless-offline]
Needs what bench/functions.py needs.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402


def get(path, token=None):
    """A GET of `path` for wrk, with a bearer token if given."""
    return {"method": "GET", "path": path, "body": "", "headers": {"Authorization": f"Bearer {token}"} if token else {}}


def main():
    ap = argparse.ArgumentParser()
    load.peer_benchmark_args(ap)
    args = ap.parse_args()
    binary, floor_bin = load.prepared(args)
    import fixtures
    import functions
    import serverless_offline

    fixtures.package(fixtures.RUST)
    tmp = Path(tempfile.mkdtemp(prefix="rampart-bench-gw-"))
    procs, so_proc = [], None
    rows = {}  # label -> (endpoint, request)
    try:
        floor_proc, floor_endpoint, _ = load.start_floor(floor_bin, tmp)
        procs.append(floor_proc)
        rows["(a) floor: constant answer"] = (floor_endpoint, get("/hello"))
        proc, endpoint, admin = load.serve_rampart(binary, tmp, "rampart")
        procs.append(proc)
        world = fixtures.World(endpoint, *admin)
        rust = world.function("gw-rust", fixtures.RUST)
        python = world.function("gw-python", fixtures.PYTHON)
        pool = world.signed_in_pool()
        jwt = {"issuer": pool["issuer"], "audience": pool["client"]}
        open_api = world.http_api(rust)
        rows["(b) rampart: GET /hello → Rust function"] = (endpoint, get(f"/_api/{open_api}/hello"))
        jwt_api = world.http_api(rust, jwt)
        rows["(c) rampart: JWT authorizer (user pool) → Rust function"] = (
            endpoint, get(f"/_api/{jwt_api}/hello", pool["token"]))
        py_api = world.http_api(python)
        rows["(b-py) rampart: GET /hello → Python function"] = (endpoint, get(f"/_api/{py_api}/hello"))
        if not args.no_serverless_offline and serverless_offline.available():
            so_proc, so_http, _ = serverless_offline.start(tmp / "so", fixtures.PY_HANDLER, fixtures.PYTHON.runtime,
                                                           serverless_offline.python_dir(), jwt=jwt)
            rows["(d0) serverless-offline: GET /hello → Python handler"] = (so_http, get("/hello"))
            rows["(d) serverless-offline: JWT authorizer (decoded only) → Python handler"] = (
                so_http, get("/hello-jwt", pool["token"]))
        elif not args.no_serverless_offline:
            print("node/npm not found: serverless-offline skipped", file=sys.stderr)
        # Every row answers 200 before it is measured (an authorizer refusing would be fast).
        for label, (ep, req) in rows.items():
            _, status, _, body = functions.timed(ep, req)
            if status != 200:
                raise SystemExit(f"{label}: {status} {body[:300]!r}")
        load_before = os.getloadavg()
        for label, (ep, req) in rows.items():
            for c in (1, 16):
                load.wrk(ep, req, 2, c, min(c, args.threads))  # warm-up
        results = {}
        for _ in range(args.rounds):
            for c in (16, 1):
                for label, (ep, req) in rows.items():
                    r = load.wrk(ep, req, args.duration, c, min(c, args.threads))
                    if (label, c) not in results or r["rps"] > results[(label, c)]["rps"]:
                        results[(label, c)] = r
        load_after = os.getloadavg()
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        if so_proc:
            serverless_offline.stop(so_proc)
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"gateway benchmark {time.strftime('%Y-%m-%d %H:%M')}, wrk -d{args.duration}s, best of {args.rounds}; "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    for c in (16, 1):
        floor = results[("(a) floor: constant answer", c)]["rps"]
        print(f"\n{c} connection(s)")
        print("| row | requests/s | % of floor | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|")
        for label in rows:
            r = results[(label, c)]
            print(f"| {label} | {r['rps']:.0f} | {100 * r['rps'] / floor:.1f} % | {r['p50_ms']:.3f} | {r['p99_ms']:.2f} | {r['errors']} |")

    def added(with_auth, without):
        return (results[(with_auth, 1)]["p50_ms"] - results[(without, 1)]["p50_ms"]) * 1000

    print(f"\nJWT authorizer's added latency, p50 at 1 connection: rampart (c) − (b) = "
          f"{added('(c) rampart: JWT authorizer (user pool) → Rust function', '(b) rampart: GET /hello → Rust function'):.0f} µs")
    if ("(d) serverless-offline: JWT authorizer (decoded only) → Python handler", 1) in results:
        print(f"serverless-offline (d) − (d0) = "
              f"{added('(d) serverless-offline: JWT authorizer (decoded only) → Python handler', '(d0) serverless-offline: GET /hello → Python handler'):.0f} µs")


if __name__ == "__main__":
    main()
