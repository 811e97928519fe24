#!/usr/bin/env bash
# Compares the default chat model at several GGUF quantization levels with
# `docent bench quant`: load time, peak memory, prompt and decode speed, and agreement of
# greedy answers with the F32 level. Not part of the test suite.
#
#   scripts/bench-quant.sh [--docent BIN] [--max-tokens N] [--json]
#
# The shipped model is Q4_1. llama.cpp's quantizer (from llama-cpp-python, installed in
# $DOCENT_CACHE/bench-venv as for scripts/bench-llm.sh) expands it to F32 once, and makes
# Q8_0, Q5_0, Q4_K_M and Q4_0 files from that F32 file. The F32 file holds the Q4_1 weights
# exactly, so it is the reference; the other levels are requantized from it. The files go to
# $DOCENT_CACHE/bench/quant (about 1 GB).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${DOCENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docent}

say() { printf 'bench-quant: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# shellcheck source=scripts/bench-venv.sh
source "$repo/scripts/bench-venv.sh"

source_model="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
docent_binary="${CARGO_TARGET_DIR:-$repo/target}/debug/docent"
max_tokens=32
json=""

while [ $# -gt 0 ]; do
    case "$1" in
        --docent | --max-tokens)
            [ $# -ge 2 ] || fail "$1 needs a value"
            case "$1" in
                --docent) docent_binary=$2 ;;
                --max-tokens) max_tokens=$2 ;;
            esac
            shift 2
            ;;
        --json)
            json="--json"
            shift
            ;;
        -h | --help)
            sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) fail "unknown option $1 (known: --docent, --max-tokens, --json)" ;;
    esac
done

[[ "$max_tokens" =~ ^[1-9][0-9]*$ ]] || fail "invalid --max-tokens $max_tokens: expected a positive integer"
[ -f "$source_model" ] || fail "model file $source_model not found: run scripts/setup.sh"
[ -x "$docent_binary" ] || fail "docent binary $docent_binary not found: run cargo build, or pass --docent BIN"

install_bench_venv

levels_dir="$cache/bench/quant"
mkdir -p "$levels_dir"
say "writing the GGUF levels to $levels_dir (llama.cpp's log goes to $levels_dir/quantize.log)"
"$cache/bench-venv/bin/python" - "$source_model" "$levels_dir" >"$levels_dir/quantize.log" 2>&1 <<'PYTHON' ||
import ctypes
import os
import sys

import llama_cpp

source, folder = sys.argv[1], sys.argv[2]


def quantize(input_path, name, file_type):
    output_path = os.path.join(folder, name + ".gguf")
    if os.path.exists(output_path) and os.path.getmtime(output_path) >= os.path.getmtime(input_path):
        return output_path
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = file_type
    params.allow_requantize = True
    status = llama_cpp.llama_model_quantize(input_path.encode(), output_path.encode(), ctypes.byref(params))
    if status != 0:
        sys.exit(f"llama_model_quantize failed for {name} with status {status}")
    return output_path


reference = quantize(source, "F32", llama_cpp.LLAMA_FTYPE_ALL_F32)
for name, file_type in [
    ("Q8_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0),
    ("Q5_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_0),
    ("Q4_K_M", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M),
    ("Q4_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0),
]:
    quantize(reference, name, file_type)
PYTHON
    fail "quantizing failed: see $levels_dir/quantize.log"

say "measuring each level in its own docent process"
# $json is empty or --json; unquoted so that an empty value adds no argument.
# shellcheck disable=SC2086
exec "$docent_binary" bench quant --max-tokens "$max_tokens" $json \
    --model "$levels_dir/F32.gguf" \
    --model "$levels_dir/Q8_0.gguf" \
    --model "$levels_dir/Q5_0.gguf" \
    --model "$source_model" \
    --model "$levels_dir/Q4_K_M.gguf" \
    --model "$levels_dir/Q4_0.gguf"
