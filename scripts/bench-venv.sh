# Shared by the benchmark scripts: creates $cache/bench-venv with llama-cpp-python.
# Expects `cache`, `say` and `fail` from the script that sources it.

# The llama-cpp-python release the figures in docs/benchmarks.md were measured with. pip
# builds it with its defaults because CMAKE_ARGS is left unset. llama.cpp then enables
# GGML_NATIVE and compiles for the instruction set of the machine that builds it.
llama_requirement="llama-cpp-python==0.3.36"

# On a CPU with AMX, llama.cpp 0.3.36 built with GGML_NATIVE also compiles its AMX kernels,
# and its first chat completion crashed with SIGSEGV on a 2-core Intel Xeon VM
# (2026-12-05). There the build turns AMX off with -mno-amx-*, and llama.cpp keeps AVX-512.
llama_cmake_args=""
if [ -z "${CMAKE_ARGS:-}" ] && grep -qw amx_tile /proc/cpuinfo 2>/dev/null; then
    no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    # pip's build backend splits CMAKE_ARGS like a shell, so the flags are quoted.
    llama_cmake_args="-DCMAKE_C_FLAGS='$no_amx' -DCMAKE_CXX_FLAGS='$no_amx'"
fi

install_bench_venv() {
    local venv="$cache/bench-venv"
    local flags_file="$venv/docent-cmake-args"
    if "$venv/bin/python" -c 'import llama_cpp, sys; sys.exit(llama_cpp.__version__ != sys.argv[1])' "${llama_requirement#*==}" 2>/dev/null &&
        [ "$(cat "$flags_file" 2>/dev/null)" = "$llama_cmake_args" ]; then
        say "cached: $venv ($llama_requirement)"
        return 0
    fi
    python3 -m venv --help >/dev/null 2>&1 || fail "python3 cannot create virtual environments: install python3-venv"
    command -v c++ >/dev/null 2>&1 || fail "no C++ compiler found: run scripts/setup.sh first"
    say "creating $venv with $llama_requirement (pip compiles llama.cpp; this takes several minutes)"
    rm -rf "$venv"
    python3 -m venv "$venv" || fail "could not create $venv: install python3-venv"
    if [ -n "$llama_cmake_args" ]; then
        say "this CPU has AMX: building llama.cpp without it ($llama_cmake_args)"
        CMAKE_ARGS="$llama_cmake_args" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --no-cache-dir "$llama_requirement" ||
            fail "pip could not build $llama_requirement: check access to PyPI and the compiler output above"
    else
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir "$llama_requirement" ||
            fail "pip could not build $llama_requirement: check access to PyPI and the compiler output above"
    fi
    printf '%s' "$llama_cmake_args" >"$flags_file"
}

