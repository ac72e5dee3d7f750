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


# --- vendor files ---------------------------------------------------------------------------------
# Resumes are appended (each file's content loads once): a kill during extract (after the first Arrow
# table), after normalize, after the first load job, or during the quarantine's own load, then a re-run,
# leaves every good row once, every quarantine row once and every file recorded once.
VENDOR_CRASH_POINTS = ["extract:1@warmpool_vendors", "normalize@warmpool_vendors", "load:1@warmpool_vendors",
                       "load:1@warmpool_quarantine"]


def _vendor_files(landing: Path) -> dict[str, int]:
    """Two files (a CSV of 250 rows, 10 of them bad; a JSON lines file of 40) -> good rows per file."""
    import csv
    import io
    import json

    folder = landing / "vendors" / "talentdb"
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["CandidateID", "FirstName", "LastName", "EmailAddress", "Phone", "City", "State", "Country", "LinkedIn",
                "CurrentTitle", "CurrentEmployer", "Skills", "YearsExp", "LastUpdated"])
    for i in range(250):
        email = f"a{i}@example.com" if i % 25 else "not-an-address"
        w.writerow([f"T{i}", "Ann", f"Lee{i}", email, "", "Austin", "TX", "US", "", "Engineer", "Acme", "SQL", "3",
                    "03/01/2025"])
    (folder / "talentdb_2025-03-01.csv").write_text(buf.getvalue(), encoding="utf-8")
    folder = landing / "vendors" / "hirewire"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hirewire_2025-04-01.jsonl").write_text("\n".join(json.dumps(
        {"id": f"H{i}", "name": f"Bo Ray{i}", "modified": "2025-03-30"}) for i in range(40)) + "\n", encoding="utf-8")
    return {"talentdb_2025-03-01.csv": 240, "hirewire_2025-04-01.jsonl": 40}


@pytest.mark.parametrize("crash_at", VENDOR_CRASH_POINTS)
def test_killed_vendor_load_then_rerun_loads_every_row_exactly_once(home, crash_at):
    from pipelines.vendor_files import run_vendor_files
    from tests.ingestion_fixtures import query

    expected = _vendor_files(home.landing_dir)
    env = dict(os.environ, WARMPOOL_CRASH_AT=crash_at, RUNTIME__DLTHUB_TELEMETRY="false")
    proc = subprocess.run([sys.executable, "-m", "pipelines.vendor_files"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])

    run_vendor_files()  # the re-run, in this process, without the crash point
    rows = dict(query("select file_name, count(*) from raw_vendors.resumes group by 1"))
    assert rows == expected
    assert query("select count(*), count(distinct (vendor, file_name, vendor_record_id)) from raw_vendors.resumes") \
        == [(280, 280)]
    assert query("select count(*), count(distinct (file_name, row_number, field)) from quarantine.rejected_rows") \
        == [(10, 10)]
    assert query("select count(*) from raw_vendors.loaded_files") == [(2,)]
    assert sum(run_vendor_files().values()) == 0
    assert not _row_files(get_settings().dlt_dir)
    assert not get_settings().scratch_dir.joinpath("warmpool_vendors").exists()
