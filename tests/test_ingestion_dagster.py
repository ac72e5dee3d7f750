"""Ingestion through Dagster: the vendor-file sensor, GX asset checks that block what follows, and
no secret in Dagster's logs, events or dlt's traces (the key given as production gives it: a dg.EnvVar)."""
from __future__ import annotations

import logging

import dagster as dg
import duckdb

from tests.ingestion_fixtures import *  # noqa: F401,F403 (fixtures: ats_world, home, ats)
from tests.ingestion_fixtures import count, query
from tests.test_pipelines import write_vendor_files
from warmpool import tables
from warmpool.config import get_settings


def _checks(*names):
    from assets.validation import ASSET_CHECKS

    return [c for c in ASSET_CHECKS if any(k.name in names for k in c.check_keys)]


def _resources(**swapped):
    """The local deployment's resources (files in this test's WARMPOOL_HOME), with some swapped."""
    from assets.resources import resources_for

    return {**resources_for("local"), **swapped}


def test_sensor_requests_one_run_per_new_file_set_with_a_short_stable_key(home):
    from assets.ingestion import new_vendor_files_sensor
    from pipelines.vendor_files import run_vendor_files

    def evaluate():
        with dg.build_sensor_context(resources=_resources()) as context:
            return new_vendor_files_sensor(context)

    assert isinstance(evaluate(), dg.SkipReason)
    files = write_vendor_files(home.landing_dir)
    first = evaluate()
    again = evaluate()
    assert isinstance(first, dg.RunRequest) and first.run_key == again.run_key
    assert len(first.run_key) <= 40 and first.tags["warmpool/new_vendor_files"] == "3"
    assert {k.to_user_string() for k in first.asset_selection} >= {"raw_vendors/resumes"}
    # the key is the files' names and contents: the same content dropped under another name is another drop
    renamed = files["talentdb"].with_name("talentdb_renamed.csv")
    files["talentdb"].rename(renamed)
    assert evaluate().run_key != first.run_key
    renamed.rename(files["talentdb"])

    run_vendor_files()
    assert isinstance(evaluate(), dg.SkipReason)
    files["talentdb"].with_name("talentdb_2025-05-01.csv").write_text(
        files["talentdb"].read_text().replace("T1,", "T7,"))
    later = evaluate()
    assert isinstance(later, dg.RunRequest) and later.run_key != first.run_key


def test_blocking_check_stops_downstream_and_row_count_drop_is_caught(home):
    """A row that got past the reader (here: written straight into the table) fails the GX check
    with severity ERROR, and the asset that reads the table does not run; so does a shrinking table."""
    from assets.ingestion import raw_vendors
    from pipelines.validation import run_check

    write_vendor_files(home.landing_dir)
    assert dg.materialize([raw_vendors, *_checks("resumes_valid")], resources=_resources()).success  # clean load

    @dg.asset(deps=[dg.AssetKey(["raw_vendors", "resumes"])])
    def reads_resumes():
        return None

    with duckdb.connect(str(home.warehouse_path)) as con:
        con.execute(f"insert into {tables.RAW_VENDORS}.resumes (vendor, vendor_record_id, file_name, email, "
                    "_dlt_load_id, _dlt_id) values ('nobody', 'X1', 'sneaked.csv', 'not-an-email', '9999999999.0', 'x')")
    result = dg.materialize([raw_vendors, *_checks("resumes_valid"), reads_resumes], resources=_resources(),
                            raise_on_error=False)
    evaluations = [e.event_specific_data for e in result.all_events
                   if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert evaluations and not evaluations[0].passed
    assert evaluations[0].severity == dg.AssetCheckSeverity.ERROR
    assert not any(e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key == reads_resumes.key
                   for e in result.all_events)  # blocked

    with duckdb.connect(str(home.warehouse_path)) as con:
        con.execute(f"delete from {tables.RAW_VENDORS}.resumes")
    dropped = run_check("resumes_valid")
    assert dropped.blocking and any("fewer rows" in f.rule.reason for f in dropped.failures)


def test_ats_check_quarantines_bad_contact_data_without_blocking(ats):
    """ATS is the system of record: a bad email there is quarantined with an actionable reason (WARN)."""
    from pipelines.ats import run_ats
    from pipelines.validation import run_check

    run_ats()
    with duckdb.connect(str(get_settings().warehouse_path)) as con:
        parent = con.execute(f"select c._dlt_id, c.id from {tables.RAW_ATS}.candidates c join "
                             f"{tables.RAW_ATS}.candidates__email_addresses e on e._dlt_parent_id = c._dlt_id "
                             "order by c.id limit 1").fetchone()
        con.execute(f"update {tables.RAW_ATS}.candidates__email_addresses set value = 'two@@at.example' "
                    "where _dlt_parent_id = ? and _dlt_list_idx = 0", [parent[0]])
    outcome = run_check("candidate_emails_valid")
    assert not outcome.passed and not outcome.blocking and outcome.quarantined == 1
    (reason,), = query(f"select reason from {tables.QUARANTINED_ROWS} where source = 'ats' and row_number = ?", parent[1])
    assert "two@@at.example" in reason and "correct it in the candidate's profile in the ATS" in reason


def test_secrets_never_reach_dagster_logs_events_or_dlt_traces(ats, caplog, capfd):
    from assets.ingestion import raw_ats
    from assets.resources import AtsResource

    instance = dg.DagsterInstance.ephemeral()
    resource = AtsResource(base_url=ats.url, api_key=dg.EnvVar("WARMPOOL_ATS_API_KEY"))  # the fixture's key
    with caplog.at_level(logging.DEBUG):
        result = dg.materialize([raw_ats, *_checks("candidates_valid", "candidate_emails_valid")],
                                resources=_resources(ats=resource), instance=instance)
    assert result.success
    assert count(f"{tables.RAW_ATS}.candidates") == len(ats.truth("candidates"))
    key = ats.api_key
    records = instance.all_logs(result.run_id)
    text = "\n".join(repr(r) for r in records)  # every event: messages, metadata, step logs
    out, err = capfd.readouterr()
    assert key not in text and key not in caplog.text and key not in out and key not in err
    for path in get_settings().dlt_dir.rglob("*"):  # dlt's state, schemas, trace.pickle
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
