"""serverless-offline (npm), the local Lambda and API Gateway emulator bench/functions.py and
bench/gateway.py measure Rampart against: the Serverless Framework v3 and its serverless-offline
plugin, installed into the same cache as cognito-local (bench/cognito_local.py), run with the
machine's node on loopback ports, a service directory of the run holding serverless.yml and
the handler.

The framework is kept off the network and quiet: telemetry, notifications, deprecation notices
and auto-update are disabled by their environment variables, and its log level is `warning`
(serverless-offline logs every invocation and every JWT check at `notice`; Rampart runs at
`--log warn` in these benchmarks). Readiness is its ports answering, since its banner is a
`notice`.

What it runs: each function instance is a `python3 -u invoke.py` process (through `sh -c`)
started when serverless-offline makes the instance and kept while the instance lives; an
invocation is a JSON line on its stdin answered by one on its stdout. A new instance is made
when no idle one exists (or, with `--reloadHandler`, for every request): that is its cold start.
Its Lambda Invoke endpoint (`--lambdaPort`) is AWS's `POST /2015-03-31/functions/NAME/invocations`
and checks no signature. Its httpApi JWT authorizer only decodes the token (see BENCHMARKS.md).
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cognito_local  # noqa: E402  (the shared npm cache and its free_port)

SERVERLESS = "3.40.0"
OFFLINE = "13.10.1"
SERVICE = "bench"
STAGE = "dev"
# Quiet and off the network (Serverless Framework v3's own switches).
QUIET = {
    "SLS_TELEMETRY_DISABLED": "1",
    "SLS_TRACKING_DISABLED": "1",
    "SLS_NOTIFICATIONS_MODE": "off",
    "SLS_DEPRECATION_DISABLE": "*",
    "SLS_DISABLE_AUTO_UPDATE": "1",
    "SLS_LOG_LEVEL": "warning",
    "SLS_INTERACTIVE_SETUP_DISABLE": "1",
}


def available():
    return cognito_local.available()


def install():
    """node_modules holding serverless SERVERLESS and serverless-offline OFFLINE."""
    modules = cognito_local.CACHE / "node_modules"
    wanted = {"serverless": SERVERLESS, "serverless-offline": OFFLINE}
    if not all(
        (modules / name / "package.json").exists() and f'"version": "{v}"' in (modules / name / "package.json").read_text()
        for name, v in wanted.items()
    ):
        cognito_local.CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *(f"{n}@{v}" for n, v in wanted.items())],
            cwd=cognito_local.CACHE,
            env=dict(os.environ, **QUIET),
            check=True,
        )
    return modules


def python_dir():
    """The directory of the interpreter `python3` in PATH runs (the one `rampart serve` resolves
    for python3.x functions), rather than a shim such as pyenv's."""
    exe = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True,
                         check=True).stdout.strip()
    return Path(exe).parent


def function_name(key):
    """The name serverless-offline's Invoke endpoint knows function `key` by."""
    return f"{SERVICE}-{STAGE}-{key}"


def service_yml(runtime, jwt):
    """serverless.yml: function `hello` (GET /hello, no authorizer) and, given `jwt` ({"issuer",
    "audience"}), `hellojwt` (GET /hello-jwt behind an httpApi JWT authorizer), both running
    handler.handler."""
    yml = f"""service: {SERVICE}
frameworkVersion: "3"
plugins:
  - serverless-offline
provider:
  name: aws
  runtime: {runtime}
  region: us-east-1
  stage: {STAGE}
"""
    if jwt:
        yml += f"""  httpApi:
    authorizers:
      pool:
        type: jwt
        identitySource: $request.header.Authorization
        issuerUrl: {jwt["issuer"]}
        audience:
          - {jwt["audience"]}
"""
    yml += """functions:
  hello:
    handler: handler.handler
    events:
      - httpApi:
          method: GET
          path: /hello
"""
    if jwt:
        yml += """  hellojwt:
    handler: handler.handler
    events:
      - httpApi:
          method: GET
          path: /hello-jwt
          authorizer:
            name: pool
"""
    return yml


def start(workdir, handler_source, runtime, python_dir, jwt=None, extra=()):
    """Starts `serverless offline` for a service in `workdir` whose functions run
    `handler_source` (handler.py) under `runtime`, with `python_dir` first in PATH (so
    `python3` is the interpreter Rampart runs, not a shim): (process, http endpoint, lambda
    endpoint). `extra`: more serverless-offline options (e.g. --reloadHandler)."""
    modules = install()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "handler.py").write_text(handler_source)
    (workdir / "serverless.yml").write_text(service_yml(runtime, jwt))
    # The framework resolves the plugin from the service's own node_modules.
    if not (workdir / "node_modules").exists():
        (workdir / "node_modules").symlink_to(modules)
    http_port, lambda_port = cognito_local.free_port(), cognito_local.free_port()
    out = workdir / "serverless-offline.out"
    env = dict(os.environ, **QUIET, PATH=f"{python_dir}{os.pathsep}{os.environ['PATH']}")
    env.pop("VIRTUAL_ENV", None)  # serverless-offline would put the bench venv's python first
    cmd = [
        "node", str(modules / "serverless" / "bin" / "serverless.js"), "offline", "start",
        "--host", "127.0.0.1", "--httpPort", str(http_port), "--lambdaPort", str(lambda_port),
        "--noPrependStageInUrl", *extra,
    ]
    if jwt:
        # Its only JWT mode: without this flag it refuses to start a JWT-authorized route.
        cmd.append("--ignoreJWTSignature")
    # Its own process group, so that stop() ends the Python processes it started too.
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=open(out, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serverless-offline exited: {out.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", lambda_port), timeout=0.5):
                with socket.create_connection(("127.0.0.1", http_port), timeout=0.5):
                    return proc, f"http://127.0.0.1:{http_port}", f"http://127.0.0.1:{lambda_port}"
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise SystemExit(f"timed out waiting for serverless-offline: {out.read_text()}")


def stop(proc):
    """Ends serverless-offline and every process it started (its process group)."""
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait()
