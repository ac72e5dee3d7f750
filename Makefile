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

.PHONY: install manifest demo test bench dagster dashboards web clean-data

$(STAMP): pyproject.toml requirements.lock scripts/install.sh
	./scripts/install.sh
	touch $@

install: $(STAMP)

# The dbt manifest is prepared once, ahead of any run (Dagster loads it; never parsed at import).
$(MANIFEST): $(STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv' 2>/dev/null | grep -v target/)
	$(PY) -m warmpool.cli manifest

manifest: $(MANIFEST)

demo:
	@export WARMPOOL_SETUP_STARTED=$$(date +%s.%N); \
	$(MAKE) --no-print-directory manifest && \
	$(PY) -m warmpool.cli demo --people $(PEOPLE) --seed $(SEED)

test: manifest
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: manifest
	$(PY) -m benchmarks.run

dagster: manifest
	DAGSTER_HOME=$$($(PY) -c 'from warmpool.config import get_settings as g; s=g().ensure_dirs(); print(s.dagster_home)') \
	  $(VENV)/bin/dagster dev -w workspace.yaml

dashboards: install
	$(VENV)/bin/streamlit run dashboards/app.py --server.headless true --server.address 127.0.0.1

web: install
	$(PY) -m warmpool.cli web

clean-data:
	rm -rf data
