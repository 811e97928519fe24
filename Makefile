# Two entry points: `make demo` (set up, build, ingest kb/, open the chat) and `make test`.
# Both build with the dev profile, whose dependencies are fully optimized (Cargo.toml),
# so the demo and the tests share one build of mistral.rs.

CARGO ?= cargo
DOCENT = $(CARGO) run --quiet --

.PHONY: demo test setup build

setup:
	scripts/setup.sh

build: setup
	$(CARGO) build

demo: build
	$(DOCENT) ingest kb
	$(DOCENT) chat

test:
	scripts/setup.sh --test-tools
	$(CARGO) test
