#!/usr/bin/env bash
# Builds the seed corpus for sigv4_parse from the AWS signing suite: each signed request with
# the fuzz target's 3-byte prefix (AWS settings, now = request time). The corpus is not committed.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/sigv4_parse
for f in ../crates/aws-wire/tests/vectors/sigv4/*/*-signed-request.txt; do
  name="$(basename "$(dirname "$f")")-$(basename "$f" .txt)"
  { printf '\x03\x00\x00'; cat "$f"; } > "corpus/sigv4_parse/$name"
done
ls corpus/sigv4_parse | wc -l
