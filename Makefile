# The two commands: `make demo` and `make test`. Everything they need is installed from here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# two pytest-xdist workers, one per core of a CI machine. loadscope keeps a test class (or a
# module's functions) on one worker: its tests share one dbt project and build on each other.
# No reordering: the modules marked slow are collected first, so one worker starts them at once.
WORKERS ?= -n 2 --dist loadscope --no-loadscope-reorder

.PHONY: demo test lint bench-capture bench-delivery bench-manifest clean

# uv resolves the same versions as pip from the same index, and installs the ~150 packages of
# the dev extra in under a minute where pip took about four (README, Development); pip installs
# them should uv not install or not reach the index. pip's timeout here is 180 s, uv's 30.
export UV_HTTP_TIMEOUT ?= 180
# uv, unlike pip, installs modules without their bytecode, and these machines set
# PYTHONDONTWRITEBYTECODE: every process then compiled dbt anew (8-10 s to import it against 4).
# The commands below write the bytecode of what they import, once: uv's --compile-bytecode would
# compile all ~10,500 modules of the venv (29 s more to install) where a run imports ~1,400.
unexport PYTHONDONTWRITEBYTECODE
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet "uv>=0.5" \
		&& $(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev]" ) \
		|| $(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python integration_tests/demo.py

# Spark on one worker: a second would start a second JVM and metastore beside the first, and on
# 2 busy cores the kill -9 test's child sync (a third JVM) then missed its 180 s window. It runs
# beside the DuckDB suite and then the Postgres one, whose output it follows: faster here than
# beside Postgres alone or all three at once (docs/performance.md, Test suite time).
test: $(STAMP)
	bash scripts/ensure_postgres.sh
	bash scripts/ensure_chromium.sh
	PYTHON=$(PYTHON) UV=$(BIN)/uv bash scripts/ensure_databricks_venv.sh
	bash scripts/ensure_spark.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash scripts/beside.sh "$(BIN)/pytest -q --profile spark tests/functional" bash -c \
		"$(BIN)/pytest -q $(WORKERS) --profile duckdb \
		&& $(BIN)/pytest -q $(WORKERS) --profile postgres tests/functional"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench-capture: $(STAMP)
	$(BIN)/python benchmarks/bench_capture.py

bench-delivery: $(STAMP)
	$(BIN)/python benchmarks/bench_delivery.py
bench-manifest: $(STAMP)
	$(BIN)/python benchmarks/bench_manifest.py

clean:
	rm -rf $(VENV) .venv-databricks integration_tests/target integration_tests/dbt_packages integration_tests/logs
