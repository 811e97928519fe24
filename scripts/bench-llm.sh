#!/usr/bin/env bash
# Compares the generation speed of docent's local engine (mistral.rs) with llama.cpp on one
# GGUF file, the same chat prompts and the same thread count. Not part of the test suite.
#
#   scripts/bench-llm.sh [--model FILE.gguf] [--docent BIN] [--threads N] [--runs N] [--json FILE]
#
# The first run creates $DOCENT_CACHE/bench-venv with llama-cpp-python, which pip compiles
# from source, llama.cpp included, in several minutes. scripts/bench_llm.py does
# the measuring and prints a Markdown table. The two engines take turns request by request,
# never running at the same time, so each request gets the CPU to itself. Run it on an otherwise idle
# machine, after `cargo build`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${DOCENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docent}

say() { printf 'bench-llm: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# shellcheck source=scripts/bench-venv.sh
source "$repo/scripts/bench-venv.sh"

model="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
docent_binary="${CARGO_TARGET_DIR:-$repo/target}/debug/docent"
threads=2
runs=3
json_file=""

while [ $# -gt 0 ]; do
    case "$1" in
        --model | --docent | --threads | --runs | --json)
            [ $# -ge 2 ] || fail "$1 needs a value"
            case "$1" in
                --model) model=$2 ;;
                --docent) docent_binary=$2 ;;
                --threads) threads=$2 ;;
                --runs) runs=$2 ;;
                --json) json_file=$2 ;;
            esac
            shift 2
            ;;
        -h | --help)
            sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) fail "unknown option $1 (known: --model, --docent, --threads, --runs, --json)" ;;
    esac
done

[[ "$threads" =~ ^[1-9][0-9]*$ ]] || fail "invalid --threads $threads: expected a positive integer"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || fail "invalid --runs $runs: expected a positive integer"
[ -f "$model" ] || fail "model file $model not found: run scripts/setup.sh, or pass --model FILE.gguf"
[ -x "$docent_binary" ] || fail "docent binary $docent_binary not found: run cargo build, or pass --docent BIN"

install_bench_venv

driver_arguments=(--model "$model" --docent "$docent_binary" --threads "$threads" --runs "$runs")
[ -n "$json_file" ] && driver_arguments+=(--json "$json_file")
exec "$cache/bench-venv/bin/python" "$repo/scripts/bench_llm.py" "${driver_arguments[@]}"
