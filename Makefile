# Warmpool: `make demo` and `make test` do all set-up on a fresh clone.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
MANIFEST := dbt_project/target/manifest.json
PEOPLE ?= 20000
SEED ?= 42

# Quiet, offline runs (no telemetry, no model hub).
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
export RUNTIME__DLTHUB_TELEMETRY := false
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install manifest demo test test-long bench dagster dashboards web dbt-docs clean-data

$(STAMP): pyproject.toml requirements.lock scripts/install.sh
	./scripts/install.sh
	touch $@

install: $(STAMP)

# The dbt manifest is prepared once, ahead of any run (Dagster loads it; never parsed at import).
$(MANIFEST): $(STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv' 2>/dev/null | grep -v target/)
	$(PY) -m cli manifest

manifest: $(MANIFEST)

demo:
	@export WARMPOOL_SETUP_STARTED=$$(date +%s.%N); \
	$(MAKE) --no-print-directory manifest && \
	$(PY) -m cli demo --people $(PEOPLE) --seed $(SEED)

test: manifest
	$(PY) -m pytest -q -m "not long" $(PYTEST_ARGS)

# Tests that run the whole graph several times each (~5-20 min on 2 cores): a run killed at every
# stage then resumed, and the incremental daily run against a full rebuild.
test-long: manifest
	$(PY) -m pytest -q -m long $(PYTEST_ARGS)

bench: manifest
	$(PY) -m benchmarks.run

# The sandbox's Dagster UI: runs launched from it sign campaign links in demo mode, like make demo.
dagster: manifest
	DAGSTER_HOME=$$($(PY) -c 'from warmpool.config import get_settings as g; s=g().ensure_dirs(); print(s.dagster_home)') \
	  WARMPOOL_DEMO=1 $(VENV)/bin/dagster dev -w workspace.yaml

dashboards: install
	$(PY) -m cli dashboards

# The sandbox's site, in demo mode (its public secrets, loopback only, a demo banner on every page).
web: install
	$(PY) -m cli web --demo

# dbt's docs site (lineage, every model's columns and tests) for the demo warehouse. dbt reads a
# snapshot copy, so a running pipeline or dashboard keeps the warehouse file to itself.
DOCS_PORT ?= 8580
dbt-docs: manifest
	@set -e; wh=$$($(PY) -c 'from warmpool.config import get_settings as g; print(g().warehouse_path)'); \
	test -f "$$wh" || { echo "no warehouse at $$wh: run make demo first"; exit 1; }; \
	snap=$$(mktemp -d)/warehouse.duckdb; cp "$$wh" "$$snap"; \
	WARMPOOL_WAREHOUSE="$$snap" $(VENV)/bin/dbt docs generate --quiet --project-dir dbt_project \
	  --profiles-dir dbt_project --target-path target/docs; \
	echo "dbt docs: http://127.0.0.1:$(DOCS_PORT)"; \
	WARMPOOL_WAREHOUSE="$$snap" $(VENV)/bin/dbt docs serve --project-dir dbt_project --profiles-dir dbt_project \
	  --target-path target/docs --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

clean-data:
	rm -rf data
