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

step "compatibility suite (boto3, AWS CLI)"
VENV="${RAMPART_VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/compat/requirements.txt
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
RAMPART_BIN="$TARGET_DIR/debug/rampart" PATH="$VENV/bin:$PATH" \
  "$VENV/bin/python" -m pytest tests/compat -q -p no:cacheprovider "$@"

step "policy differential test (iam-simulate, moto)"
tests/oracle/run.sh
