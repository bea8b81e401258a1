#!/usr/bin/env bash
# Runs every Rampart test: formatting, lints, Rust unit/integration tests (storage suite against
# SQLite and PostgreSQL), then the compatibility suite with real AWS clients (boto3, AWS CLI)
# against a real `rampart serve`. Installs what it needs (a Python venv) on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n== %s\n' "$*"; }

if [ "${CI:-}" = "true" ]; then
  # CI must not quietly skip the PostgreSQL half of the storage suite.
  export RAMPART_REQUIRE_POSTGRES=1
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build"
cargo build --workspace --locked

step "cargo test"
cargo test --workspace --locked

step "identity harness and JavaScript clients (amazon-cognito-identity-js, aws-jwt-verify)"
cargo build -p rampart-identity --example identity_harness --locked
# npm packages are installed outside the repository, from the lockfile.
JS_DIR="${RAMPART_COMPAT_JS_DIR:-$HOME/.cache/rampart/compat-js}"
if command -v npm >/dev/null; then
  mkdir -p "$JS_DIR"
  if ! cmp -s tests/compat/js/package-lock.json "$JS_DIR/package-lock.json" \
      || [ ! -d "$JS_DIR/node_modules" ]; then
    cp tests/compat/js/package.json tests/compat/js/package-lock.json "$JS_DIR/"
    (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  fi
else
  echo "npm not found: the JavaScript client tests will be skipped"
fi

step "compatibility suite (boto3, AWS CLI)"
VENV="${RAMPART_VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/compat/requirements.txt
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
RAMPART_BIN="$TARGET_DIR/debug/rampart" PATH="$VENV/bin:$PATH" RAMPART_COMPAT_JS_DIR="$JS_DIR" \
  RAMPART_IDENTITY_HARNESS="$TARGET_DIR/debug/examples/identity_harness" \
  "$VENV/bin/python" -m pytest tests/compat -q -p no:cacheprovider "$@"

step "policy differential test (iam-simulate, moto)"
tests/oracle/run.sh
