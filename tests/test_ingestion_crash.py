"""Crash matrix: the ATS pipeline process is SIGKILLed during extract, normalize and load, then run
again; the warehouse ends with exactly the rows the API serves (0 duplicated, 0 missing), a further
run loads nothing, and no extracted or loaded row files stay behind in the dlt folder.

The kill is real: `python -m pipelines.ats` in a subprocess, with WARMPOOL_CRASH_AT naming the step
(pipelines/_crash.py, test-only); the simulator is the real one over HTTP.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ingestion_fixtures import *  # noqa: F401,F403 (fixtures: ats_world, home, ats)
from tests.ingestion_fixtures import assert_ats_matches_truth
from warmpool.config import get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout the tests run in

# extract: after 120 rows (candidates pages fetched, others not yet); normalize: files written, not
# committed; load: after 3 load jobs completed (some tables in the staging dataset, none merged yet).
CRASH_POINTS = ["extract:120", "normalize", "load:3"]


def _row_files(dlt_dir) -> list:
    """Data files (not schemas, state or traces) left anywhere in the dlt folder."""
    return [p for p in dlt_dir.rglob("*") if p.is_file() and "_dlt_pipeline_state" not in p.name
            and any(p.name.endswith(ext) for ext in (".jsonl", ".parquet", ".insert_values", ".typed-jsonl", ".gz"))]


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_killed_run_then_rerun_loads_every_row_exactly_once(ats, crash_at):
    from pipelines.ats import run_ats

    env = dict(os.environ, WARMPOOL_CRASH_AT=crash_at, RUNTIME__DLTHUB_TELEMETRY="false")
    proc = subprocess.run([sys.executable, "-m", "pipelines.ats"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])

    run_ats()  # the re-run, in this process, without the crash point
    assert_ats_matches_truth(ats)
    assert sum(run_ats().values()) == 0
    assert_ats_matches_truth(ats)
    leftovers = _row_files(get_settings().dlt_dir)
    assert not leftovers, leftovers[:5]
