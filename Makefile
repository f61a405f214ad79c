# Two commands on a fresh machine with only Python: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test venv lock clean npm-deps sandbox

$(BIN)/omnisync: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(BIN)/omnisync

venv: $(BIN)/omnisync

demo: venv
	$(BIN)/omnisync demo --seed 7

# The emulators with the seeded world and the Dagster UI against them (http://127.0.0.1:3000) until Ctrl-C.
sandbox: venv
	$(BIN)/omnisync sandbox ui --seed 7

# The commercetools conformance suite also runs against @labdigital/commercetools-mock (node).
# Without npm it skips that server locally; in CI (CI set) the suite fails instead.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error >/dev/null; \
	else echo "npm not found: the conformance suite cannot run the third-party commercetools emulator" >&2; fi

npm-deps: node_modules/.package-lock.json

# Tests of one file share module fixtures (a sandbox, a Dagster instance), so a file stays on one worker.
test: venv npm-deps
	$(BIN)/ruff check --quiet .
	$(BIN)/pytest -q -n 2 --dist loadfile

lock:
	$(BIN)/pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf $(VENV) data/*.duckdb data/*.sqlite data/dagster_home data/sandbox
