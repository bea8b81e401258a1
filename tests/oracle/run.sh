#!/usr/bin/env bash
# Differential test of rampart-policy against two oracles (README.md here): installs
# @cloud-copilot/iam-simulate (npm, into ./node_modules) and moto (PyPI, into ./.venv) when
# missing, builds the decider example, compares decisions on the generated cases, prints
# "N passed, M failed" and exits non-zero on any disagreement DIFFERENTIAL.md does not explain.
# Both install directories are git-ignored; nothing here is linked into or shipped with Rampart.
set -euo pipefail
cd "$(dirname "$0")"

IAM_SIMULATE_VERSION=0.1.173
MOTO_VERSION=5.2.5

if [ ! -f node_modules/@cloud-copilot/iam-simulate/package.json ] ||
   [ "$(node -p "require('./node_modules/@cloud-copilot/iam-simulate/package.json').version")" != "$IAM_SIMULATE_VERSION" ]; then
  npm install --no-audit --no-fund --no-package-lock --silent  # package.json pins the version
fi

VENV="${RAMPART_ORACLE_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto==$MOTO_VERSION"
fi

TARGET_DIR="${CARGO_TARGET_DIR:-../../target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$PWD/$TARGET_DIR" ;; esac
cargo build --quiet --release --locked -p rampart-policy --example decide
exec "$VENV/bin/python" differential.py "$TARGET_DIR/release/examples/decide" "$@"
