# Two commands on a fresh machine with only Python: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test venv lock clean

$(BIN)/omnisync: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(BIN)/omnisync

venv: $(BIN)/omnisync

demo: venv
	$(BIN)/omnisync demo --seed 7

test: venv
	$(BIN)/pytest -q -n 2 --dist loadgroup

lock:
	$(BIN)/pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf $(VENV) data/*.duckdb data/*.sqlite data/dagster_home
