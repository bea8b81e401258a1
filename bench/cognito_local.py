"""cognito-local (npm), the user-pool emulator bench/signin.py and bench/load.py measure Rampart
against: installed into a cache outside the repository, run with the machine's node on a loopback
port, its state in a directory of the run.

It is started through its own `createDefaultServer` with a pino logger at `warn` rather than
through its `cognito-local` command, which logs every request at `info` through pino-pretty:
Rampart runs at `--log warn` in these benchmarks, so the peer gets the same. Everything else is
its default (StormDB JSON files under `.cognito/db` in its working directory).
"""

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

VERSION = "5.3.0"
CACHE = Path(os.environ.get("RAMPART_BENCH_JS_DIR") or Path.home() / ".cache" / "rampart" / "bench-js")
# Any key pair: cognito-local checks no signature.
UNCHECKED_KEY = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

LAUNCH = """
const pino = require("pino");
const { createDefaultServer } = require("cognito-local/lib/server");
createDefaultServer(pino({ level: "warn" }))
  .then((server) => server.start())
  .then((server) => {
    const a = server.address();
    console.log(`Cognito Local running on http://${a.address}:${a.port}`);
  })
  .catch((err) => { console.error(err); process.exit(1); });
"""


def available():
    return shutil.which("node") is not None and shutil.which("npm") is not None


def install():
    """node_modules holding cognito-local VERSION (npm install into CACHE the first time)."""
    modules = CACHE / "node_modules"
    package = modules / "cognito-local" / "package.json"
    if not (package.exists() and f'"version": "{VERSION}"' in package.read_text()):
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", f"cognito-local@{VERSION}"],
            cwd=CACHE,
            check=True,
        )
    return modules


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(workdir):
    """Starts cognito-local with its state in `workdir`: (process, endpoint)."""
    modules = install()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "cognito-local.out"
    env = dict(os.environ, NODE_PATH=str(modules), HOST="127.0.0.1", PORT=str(free_port()))
    proc = subprocess.Popen(["node", "-e", LAUNCH], cwd=workdir, env=env, stdout=open(out, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        m = re.search(r"Cognito Local running on (http://\S+)", out.read_text())
        if m:
            return proc, m.group(1)
        if proc.poll() is not None:
            raise SystemExit(f"cognito-local exited: {out.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("timed out waiting for cognito-local")


def username(i):
    """cognito-local's default pool config names users by email (UsernameAttributes: email)."""
    return f"bench{i}@example.com"
