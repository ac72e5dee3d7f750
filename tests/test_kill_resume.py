"""A run killed at any stage, followed by the next run, ends where a clean run ends.

One small world, copied into two homes before anything ran. Home "clean" gets one `warmpool run`.
Home "killed" gets a `warmpool run` SIGKILLed (its whole process group: dbt's child too, as a machine
or container dying would) during ingestion, then the next run killed during identity, the next during
dbt, the next during sending, and then one run that finishes. Both homes talk to their own real sandbox
services (ATS simulator, loopback SMTP server). Then: every raw and identity table has the clean run's
rows (nothing loaded or merged twice), the marts are equal row for row, and the SMTP server received
every mail once (none twice; one the kill interrupted mid-DATA is reported ambiguous, never resent).
"""
from __future__ import annotations

import email
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from warmpool.config import CONFIG_DIR

PEOPLE, SEED = 150, 23
# (stage, the step whose start we wait for, then how long to let it work before the kill)
KILL_POINTS = [("ingestion", "raw_ats", 1.0), ("identity", "identity__source_record_person", 1.0),
               ("dbt", "dbt_marts", 4.0), ("sending", "campaign_sends", None)]  # None: after its first mails
# Columns that say when (or by which run, or in which home folder) a row was written, not what it holds:
# they differ between any two runs. message_id is random per mail.
RUN_TIME_COLUMNS = {"_dlt_load_id", "_dlt_id", "loaded_at", "_loaded_at", "exported_at", "resolved_at", "run_at",
                    "created_at", "updated_at", "computed_at", "snapshot_at", "quarantined_at", "last_quarantined_at",
                    "checked_at", "last_load_id", "run_id", "file_url", "planned_at", "submitted_at", "finished_at",
                    "first_sent_at", "change_seq", "message_id"}
# What a mail the kill caught mid-SMTP changes: it is `ambiguous` instead of sent (never resent blindly).
SEND_OUTCOME_COLUMNS = {("raw_sends", "sends"): ("state",),
                        ("marts", "rpt_campaign_performance"): ("sent", "sent_by_warmpool", "ambiguous")}


def _settings(home: Path):
    """The settings of one home, without changing this process's environment."""
    from tests.conftest import _clear_settings_cache
    from warmpool.config import get_settings

    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("WARMPOOL_HOME", str(home))
        _clear_settings_cache()
        return get_settings()
    finally:
        mp.undo()
        _clear_settings_cache()

# Logs of the runs themselves: the killed home had more runs (dlt's load records; identity's run log).
RUN_LOGS = {("identity", "resolution_runs"), ("marts", "rpt_identity_runs"), ("quarantine", "row_counts")}


def _env(home: Path, config_dir: Path, services) -> dict:
    return {**os.environ, "WARMPOOL_HOME": str(home), "WARMPOOL_CONFIG_DIR": str(config_dir), "DO_NOT_TRACK": "1",
            "WARMPOOL_DEMO": "1", "WARMPOOL_ATS_URL": services.ats_url, "WARMPOOL_SMTP_HOST": services.smtp_host,
            "WARMPOOL_SMTP_PORT": str(services.smtp_port)}


def _start(home: Path, config_dir: Path, services, output: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli", "run", "--demo"], env=_env(home, config_dir, services),
                            cwd=Path(__file__).resolve().parents[1], stdout=output.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group: the kill takes dbt along


def _mails(mailbox: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(mailbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        out.append((str(message["To"]), str(message["Subject"])))
    return out


def _step_started(home: Path, step: str, since: float) -> bool:
    logs = [p for p in (home / "logs").glob("run-*.log") if p.stat().st_mtime >= since]
    return any(f'Started execution of step "{step}"' in p.read_text(errors="replace") for p in logs)


def _kill_during(home: Path, config_dir: Path, services, step: str, delay: float | None, output: Path) -> None:
    started = time.time() - 1
    mails_before = len(list((home / "mailbox").glob("*.eml")))
    run = _start(home, config_dir, services, output)
    deadline = time.time() + 600
    while not _step_started(home, step, started):
        assert run.poll() is None, f"the run ended before {step} started:\n{output.read_text()[-3000:]}"
        assert time.time() < deadline, f"{step} never started"
        time.sleep(0.2)
    if delay is None:  # sending: kill once the relay has taken some of the campaign's mail
        while len(list((home / "mailbox").glob("*.eml"))) < mails_before + 2:
            assert run.poll() is None, "the sends finished before the kill"
            time.sleep(0.05)
    else:
        time.sleep(delay)
    assert run.poll() is None, f"the run ended before the kill during {step}"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()


def _tables(con: duckdb.DuckDBPyConnection, catalog: str, schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ? "
        "AND table_schema IN (SELECT unnest(?)) ORDER BY 1, 2", [catalog, list(schemas)]).fetchall()


def _columns(con, catalog: str, schema: str, table: str) -> list[str]:
    return [c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_schema = ? "
        "AND table_name = ? ORDER BY ordinal_position", [catalog, schema, table]).fetchall()
        if c not in RUN_TIME_COLUMNS]


@pytest.mark.slow
@pytest.mark.long  # make test-long: six whole-graph runs
@pytest.mark.timeout(3600)  # five runs of the whole graph; see the module docstring
def test_a_run_killed_at_each_stage_then_resumed_ends_like_a_clean_run(tmp_path):
    from sandbox.services import SandboxServices
    from sandbox.world import generate_world

    # the sender's lease short (a mail claimed by the killed run is free again for the next) and a rate
    # limit that lets the kill land in the middle of the sends
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config_dir)
    yaml_path = config_dir / "warmpool.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("rate_per_second: 0", "rate_per_second: 20")
                         .replace("lease_seconds: 900", "lease_seconds: 1"))

    clean, killed = tmp_path / "clean", tmp_path / "killed"
    generate_world(people=PEOPLE, seed=SEED, home=_settings(clean).ensure_dirs().home)
    shutil.copytree(clean, killed)  # the same world, before anything ran

    with SandboxServices(_settings(clean), ats_port=0, smtp_port=0) as clean_services, \
            SandboxServices(_settings(killed), ats_port=0, smtp_port=0) as killed_services:
        clean_output, output = tmp_path / "clean-run.log", tmp_path / "killed-runs.log"
        clean_run = _start(clean, config_dir, clean_services, clean_output)  # alongside: its own home and services
        for stage, step, delay in KILL_POINTS:
            _kill_during(killed, config_dir, killed_services, step, delay, output)
        time.sleep(1.5)  # past the lease of any mail the last kill left claimed
        run = _start(killed, config_dir, killed_services, output)
        assert run.wait(timeout=1800) == 0, output.read_text()[-3000:]
        assert clean_run.wait(timeout=1800) == 0, clean_output.read_text()[-3000:]

    assert_same_end_state(clean, killed)


def assert_same_end_state(clean: Path, killed: Path) -> None:
    # ---- mail: each once; the clean run's set ----
    clean_mail, killed_mail = _mails(clean / "mailbox"), _mails(killed / "mailbox")
    assert clean_mail, "the world's campaigns sent nothing: the test would prove nothing"
    twice = [m for m, n in Counter(killed_mail).items() if n > 1]
    assert twice == [], f"sent twice: {twice[:5]}"
    with sqlite3.connect(killed / "campaigns" / "ledger.sqlite") as ledger:
        ambiguous = ledger.execute("SELECT count(*) FROM sends WHERE state = 'ambiguous'").fetchone()[0]
    # at most one mail per SMTP connection the sending kill caught mid-transaction (docs/campaigns.md)
    connections = int(((_settings(killed).raw or {}).get("campaigns") or {}).get("connections", 1))
    assert ambiguous <= connections
    assert len(set(clean_mail) - set(killed_mail)) <= ambiguous and set(killed_mail) <= set(clean_mail)

    # ---- warehouse: same rows in raw, quarantine and identity; marts equal ----
    con = duckdb.connect()
    con.execute(f"ATTACH '{clean / 'warehouse.duckdb'}' AS clean (READ_ONLY)")
    con.execute(f"ATTACH '{killed / 'warehouse.duckdb'}' AS killed (READ_ONLY)")
    loaded = ("raw_ats", "raw_eeo", "raw_vendors", "raw_forms", "raw_email", "raw_sourcing", "raw_campaigns",
              "raw_sends", "quarantine", "identity", "marts")
    clean_tables, killed_tables = _tables(con, "clean", loaded), _tables(con, "killed", loaded)
    assert killed_tables == clean_tables
    differences = {}
    for schema, table in clean_tables:
        if table.startswith("_dlt") or (schema, table) in RUN_LOGS:
            continue
        outcome = SEND_OUTCOME_COLUMNS.get((schema, table), ()) if ambiguous else ()
        columns = ", ".join(f'"{c}"' for c in _columns(con, "clean", schema, table) if c not in outcome)
        extra, missing = (con.execute(f"SELECT count(*) FROM (SELECT {columns} FROM {a}.{schema}.{table} EXCEPT ALL "
                                      f"SELECT {columns} FROM {b}.{schema}.{table})").fetchone()[0]
                          for a, b in (("killed", "clean"), ("clean", "killed")))
        if extra or missing:
            differences[f"{schema}.{table}"] = (extra, missing)
    assert differences == {}, f"(rows only after the kills, rows only in the clean run): {differences}"
    if ambiguous:  # the ambiguous mail is counted as such, and nothing else changed in the report
        totals = [con.execute(f"SELECT sum(sent), sum(ambiguous) FROM {home}.marts.rpt_campaign_performance").fetchone()
                  for home in ("clean", "killed")]
        assert totals[1] == (totals[0][0] - ambiguous, totals[0][1] + ambiguous), totals
