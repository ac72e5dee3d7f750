#!/usr/bin/env bash
# Creates .venv and installs Warmpool with every pinned dependency (requirements.lock) and the extras the
# tests and benchmarks need (dev, bench, spark: the Spark identity test); requirements.lock also pins the notebooks extra.
# torch comes from the CPU wheel on this machine's disk (/opt/wheels): never a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
WHEELS=/opt/wheels

if ! command -v uv >/dev/null 2>&1; then
  "$PYTHON" -m pip install --quiet uv || true
fi

if command -v uv >/dev/null 2>&1; then
  # uv is ~10x faster than pip here; it only sees the local torch wheel through --find-links.
  [ -x .venv/bin/python ] || uv venv --quiet .venv --python "$PYTHON"
  uv pip install --quiet --python .venv/bin/python --find-links "$WHEELS" \
    -r requirements.lock -e ".[dev,bench,spark]"
else
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/pip install --quiet torch==2.13.0
  .venv/bin/pip install --quiet -c requirements.lock -e ".[dev,bench,spark]"
fi

# Bytecode for every installed module, as pip writes it and uv does not: where PYTHONDONTWRITEBYTECODE
# is set, a process without it compiles each import again (each dbt call of a run started ~2-3 s
# slower). Only missing or stale files are compiled; like pip, a file that does not compile is skipped.
.venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
  >/dev/null 2>&1 || true
