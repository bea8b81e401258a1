#!/usr/bin/env python3
"""Soak and hostile-client benchmark for `rampart serve` (issue #13, item 5).

1. **Soak**: signed requests at full load (wrk, the same signed calls as bench/load.py, taken
   in turn) for --minutes, in 10-second slices; after each slice the server's RSS (VmRSS from
   /proc) is recorded. Prints the RSS series, requests/s per slice and the error count (non-2xx
   answers and socket errors). A flat RSS and 0 errors is the goal.
2. **Hostile clients**: the throughput of signed GetCallerIdentity (best of --rounds 8-second
   runs) alone, then while another client holds --idle idle connections open and --slow
   clients send their request headers one byte per second (slowloris). Prints both and their
   ratio, and how many of the slow clients the server had cut off (header-read timeout) by the
   end.

Usage: bench/soak.py [--minutes 10] [--connections 16] [--threads 2] [--idle 500] [--slow 50]
                     [--rampart PATH] [--store URL] [--skip-soak] [--skip-hostile]
Needs what bench/load.py needs (wrk, a release build, bench/.venv with boto3).
"""

import argparse
import importlib.util
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("load", HERE / "load.py")
load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(load)


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def soak(proc, endpoint, requests, minutes, connections, threads):
    calls = list(requests.items())
    slices = max(1, int(minutes * 6))
    series = []
    errors = 0
    start = rss_kib(proc.pid)
    print(f"soak: {slices} slices of 10 s, RSS at start {start} KiB")
    print("| t (s) | call | requests/s | p99 ms | errors | RSS KiB |")
    print("|---|---|---|---|---|---|")
    for i in range(slices):
        call, req = calls[i % len(calls)]
        r = load.wrk(endpoint, req, 10, connections, threads)
        rss = rss_kib(proc.pid)
        errors += r["errors"]
        series.append(rss)
        print(f"| {(i + 1) * 10} | {call} | {r['rps']:.0f} | {r['p99_ms']:.2f} | {r['errors']} | {rss} |", flush=True)
    half = series[len(series) // 2 :]
    print(f"soak: RSS start {start} KiB, min {min(series)}, max {max(series)}, end {series[-1]}; "
          f"second half spread {max(half) - min(half)} KiB; errors {errors}")
    return errors


class Hostile:
    """Idle connections and slowloris clients, held open from background threads."""

    def __init__(self, endpoint, idle, slow):
        host, port = endpoint.split("//", 1)[1].rsplit(":", 1)
        self.addr = (host, int(port))
        self.idle, self.slow = idle, slow
        self.stop = threading.Event()
        self.idle_socks = []
        self.cut_off = 0
        self.threads = []

    def __enter__(self):
        for _ in range(self.idle):
            s = socket.create_connection(self.addr)
            self.idle_socks.append(s)
        for _ in range(self.slow):
            t = threading.Thread(target=self._slowloris, daemon=True)
            t.start()
            self.threads.append(t)
        time.sleep(1)
        return self

    def _slowloris(self):
        head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + b"a" * 4000 + b"\r\n\r\n"
        try:
            s = socket.create_connection(self.addr)
            for byte in head:
                if self.stop.is_set():
                    s.close()
                    return
                s.send(bytes([byte]))
                time.sleep(1)
        except OSError:
            # The server closed the connection: the header-read timeout did its job.
            self.cut_off += 1

    def __exit__(self, *exc):
        self.stop.set()
        for s in self.idle_socks:
            s.close()


def hostile(endpoint, req, idle, slow, rounds, connections, threads):
    def best():
        return max((load.wrk(endpoint, req, 8, connections, threads) for _ in range(rounds)), key=lambda r: r["rps"])

    alone = best()
    with Hostile(endpoint, idle, slow) as h:
        under = best()
        # Let the header-read timeout (10 s by default) catch every slow client.
        time.sleep(12)
        cut = h.cut_off
    ratio = under["rps"] / alone["rps"]
    print(f"hostile: alone {alone['rps']:.0f} req/s (p99 {alone['p99_ms']:.2f} ms); with {idle} idle connections "
          f"and {slow} slowloris clients {under['rps']:.0f} req/s (p99 {under['p99_ms']:.2f} ms) = {100 * ratio:.1f} %; "
          f"slowloris clients cut off by the server: {cut}/{slow}; errors {alone['errors'] + under['errors']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--idle", type=int, default=500)
    ap.add_argument("--slow", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rampart", default=None, metavar="PATH")
    ap.add_argument("--store", default=None)
    ap.add_argument("--skip-soak", action="store_true")
    ap.add_argument("--skip-hostile", action="store_true")
    args = ap.parse_args()
    load.ensure_tools()
    release_dir = Path(os.environ.get("CARGO_TARGET_DIR") or load.REPO / "target") / "release"
    binary = Path(args.rampart) if args.rampart else release_dir / "rampart"
    tmp = Path(tempfile.mkdtemp(prefix="rampart-soak-"))
    proc, endpoint, requests = load.start_rampart(binary, tmp, "rampart", args.store, user_pools=False)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} {binary} wrk -t{args.threads} -c{args.connections}")
    try:
        for req in requests.values():
            load.wrk(endpoint, req, 2, args.connections, args.threads)
        if not args.skip_soak:
            soak(proc, endpoint, requests, args.minutes, args.connections, args.threads)
        if not args.skip_hostile:
            hostile(endpoint, requests["sts:GetCallerIdentity"], args.idle, args.slow, args.rounds, args.connections, args.threads)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
