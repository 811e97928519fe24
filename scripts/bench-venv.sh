# Shared by the benchmark scripts: creates $cache/bench-venv with llama-cpp-python.
# Expects `cache`, `say` and `fail` from the script that sources it.

# The llama-cpp-python release the figures in docs/benchmarks.md were measured with. pip
# builds it with its defaults because CMAKE_ARGS is left unset. llama.cpp then enables
# GGML_NATIVE and compiles for the instruction set of the machine that builds it.
llama_requirement="llama-cpp-python==0.3.36"

install_bench_venv() {
    local venv="$cache/bench-venv"
    if "$venv/bin/python" -c 'import llama_cpp, sys; sys.exit(llama_cpp.__version__ != sys.argv[1])' "${llama_requirement#*==}" 2>/dev/null; then
        say "cached: $venv ($llama_requirement)"
        return 0
    fi
    python3 -m venv --help >/dev/null 2>&1 || fail "python3 cannot create virtual environments: install python3-venv"
    command -v c++ >/dev/null 2>&1 || fail "no C++ compiler found: run scripts/setup.sh first"
    say "creating $venv with $llama_requirement (pip compiles llama.cpp; this takes several minutes)"
    rm -rf "$venv"
    python3 -m venv "$venv" || fail "could not create $venv: install python3-venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir "$llama_requirement" ||
        fail "pip could not build $llama_requirement: check access to PyPI and the compiler output above"
}

