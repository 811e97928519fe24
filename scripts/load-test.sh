#!/usr/bin/env bash
# Load test of `docent serve` on 127.0.0.1 with oha, from a second process. Not part of the
# test suite: it prints oha's summaries for the benchmarks page.
#
#   scripts/load-test.sh [--docent BIN]
#
# It ingests a one-page note into a scratch $DOCENT_HOME, starts the server with
# --max-concurrent 2 --max-queue 16, and runs:
#   1. GET /v1/models, 5,000 requests from 32 connections;
#   2. streamed chat completions (16 answer tokens), 24 requests from 2 connections: within
#      the limits, so every request must succeed;
#   3. the same with 24 connections, above the 2 running plus 16 queued generations: the
#      requests beyond the limits get 503 with Retry-After.
# oha is installed with `cargo install oha --locked --root $DOCENT_CACHE/tools` when missing.
set -euo pipefail

cd "$(dirname "$0")/.."
cache=${DOCENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docent}
docent_binary="${CARGO_TARGET_DIR:-target}/debug/docent"

say() { printf 'load-test: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --docent)
            [ $# -ge 2 ] || fail "--docent needs a value"
            docent_binary=$2
            shift 2
            ;;
        -h | --help)
            sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) fail "unknown option $1 (known: --docent BIN)" ;;
    esac
done
[ -x "$docent_binary" ] || fail "no docent binary at $docent_binary: build it with cargo build, or pass --docent"

oha="$cache/tools/bin/oha"
if [ ! -x "$oha" ]; then
    say "installing oha into $cache/tools (cargo compiles it; this takes a few minutes)"
    cargo install oha --locked --root "$cache/tools" || fail "cargo could not install oha"
fi

scratch=$(mktemp -d)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$scratch"
}
trap cleanup EXIT

export DOCENT_HOME="$scratch/home"
mkdir -p "$scratch/docs"
printf '# Pump\n\nError E-102 means the intake filter is blocked. Clean the filter and restart.\n' >"$scratch/docs/pump.md"
"$docent_binary" ingest --text-encoder none "$scratch/docs" >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$docent_binary" serve --addr "127.0.0.1:$port" --max-concurrent 2 --max-queue 16 \
    --max-tokens 16 --top-k 1 2>"$scratch/serve.log" &
server_pid=$!
for _ in $(seq 1 600); do
    curl -fsS "$base/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || fail "the server stopped: $(cat "$scratch/serve.log")"
    sleep 0.2
done
curl -fsS "$base/health" >/dev/null || fail "the server did not become ready"

chat='{"model":"docent","stream":true,"max_tokens":16,"messages":[{"role":"user","content":"What does E-102 mean?"}]}'

say "GET /v1/models, 5000 requests, 32 connections"
"$oha" --no-tui -n 5000 -c 32 "$base/v1/models"

say "streamed chat completions, 24 requests, 2 connections (within the limits)"
"$oha" --no-tui -n 24 -c 2 -m POST -H 'Content-Type: application/json' -d "$chat" "$base/v1/chat/completions"

say "streamed chat completions, 24 requests, 24 connections (above 2 running + 16 queued)"
"$oha" --no-tui -n 24 -c 24 -m POST -H 'Content-Type: application/json' -d "$chat" "$base/v1/chat/completions"
