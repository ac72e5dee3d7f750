"""Unattended operations: per-source schedules with run keys, retries only where the network is, the
`warehouse` pool serialising two real runs of one instance, the run-status file the data-health page
reads, and run-failure alerts delivered to a real local HTTP server and the real loopback SMTP server."""
from __future__ import annotations

import datetime as dt
import email
import json
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import defs
from assets.resources import NETWORK_RETRY
from warmpool.config import OperationsError, OperationsSettings, get_settings
from warmpool.run_status import RunRecord, freshness, read_run_status, record_run


# ---- schedules, retries, groups --------------------------------------------------------------------
def test_each_source_has_its_schedule_and_a_tick_gives_one_run_key():
    schedules = {s.name: s for s in defs.schedules}
    ats = schedules["ingest_ats_schedule"]
    assert ats.job_name == "ingest_ats" and ats.cron_schedule == "0 * * * *"
    assert schedules["ingest_web_forms_schedule"].job_name == "ingest_web_forms"
    tick = dt.datetime(2026, 11, 29, 5, tzinfo=dt.timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        first = ats.evaluate_tick(context).run_requests
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        again = ats.evaluate_tick(context).run_requests
    with dg.build_schedule_context(scheduled_execution_time=tick + dt.timedelta(hours=1)) as context:
        next_hour = ats.evaluate_tick(context).run_requests
    assert first[0].run_key == again[0].run_key == f"ats:{tick.isoformat()}"
    assert next_hour[0].run_key != first[0].run_key
    job = defs.resolve_job_def("ingest_ats")
    assert {k.path[0] for k in job.asset_layer.executable_asset_keys} == {"raw_ats", "raw_eeo"}
    # the campaigns' own schedules are still there
    assert any(name.startswith("campaign_") for name in schedules)


def test_only_the_steps_that_talk_to_a_service_are_retried():
    by_step = {a.node_def.name: a.op.retry_policy for a in defs.resolve_asset_graph().assets_defs
               if a.is_executable and a.keys}
    retried = sorted(step for step, policy in by_step.items() if policy is not None)
    assert retried == ["audience_files", "campaign_sends", "raw_ats", "raw_eeo"]
    assert NETWORK_RETRY.backoff == dg.Backoff.EXPONENTIAL and NETWORK_RETRY.jitter is not None


def test_the_ui_groups_follow_the_data_flow():
    graph = defs.resolve_asset_graph()
    group = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()
             if graph.get(k).is_executable}
    assert group["raw_ats/candidates"] == "sources"
    assert group["staging/stg_ats__candidates"] == "validation"
    assert group["identity/source_record_person"] == "identity"
    assert group["marts/dim_candidates"] == group["intermediate/int_source_records"] == "warehouse"
    assert group["search/profile_index"] == "search"
    assert group["campaign_sends"] == "activation" and group["privacy_erasures"] == "privacy"
    assert set(group.values()) == {"sources", "validation", "identity", "warehouse", "search", "activation", "privacy"}


def test_the_marts_people_read_carry_the_configured_freshness_window():
    graph = defs.resolve_asset_graph()
    hours = get_settings().operations.freshness_hours
    policy = graph.get(dg.AssetKey(["marts", "dim_candidates"])).freshness_policy
    assert policy.fail_window.to_timedelta() == dt.timedelta(hours=hours["marts"])
    assert graph.get(dg.AssetKey(["raw_ats", "candidates"])).freshness_policy.fail_window.to_timedelta() == \
        dt.timedelta(hours=hours["ats"])
    assert graph.get(dg.AssetKey("audience_files")).freshness_policy is not None
    assert graph.get(dg.AssetKey(["staging", "stg_ats__candidates"])).freshness_policy is None


def test_operations_config_names_the_field_it_refuses():
    assert OperationsSettings.from_mapping({"freshness_hours": {"marts": 6}}).freshness_hours["marts"] == 6
    with pytest.raises(OperationsError, match="operations.freshness_hours.mart"):
        OperationsSettings.from_mapping({"freshness_hours": {"mart": 6}})
    with pytest.raises(OperationsError, match="operations.schedules.vendors"):
        OperationsSettings.from_mapping({"schedules": {"vendors": "0 * * * *"}})


# ---- the pool: two runs of one instance never write at once ---------------------------------------
RUN_ONE_STEP = textwrap.dedent("""
    import sys, time, pathlib
    import dagster as dg
    home, name, log = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])

    @dg.asset(name=name, pool="warehouse")
    def write_the_warehouse(context: dg.AssetExecutionContext):
        with log.open("a") as f:
            f.write(f"{name} start {time.time()}\\n")
        # The first step holds the pool's slot until the other run's step is queued for it (so the two
        # really compete), then a moment longer; the second finds the first finished and goes on.
        deadline = time.time() + 120
        while " end " not in log.read_text() and time.time() < deadline:
            info = context.instance.event_log_storage.get_concurrency_info("warehouse")
            if info.pending_step_count:
                with log.open("a") as f:
                    f.write(f"{name} saw-the-other-waiting {time.time()}\\n")
                time.sleep(1)
                break
            time.sleep(0.2)
        with log.open("a") as f:
            f.write(f"{name} end {time.time()}\\n")

    with dg.DagsterInstance.from_config(home) as instance:
        assert dg.materialize([write_the_warehouse], instance=instance).success
""")


CLAIM_AND_FREE = textwrap.dedent("""
    import sys, time, pathlib
    import dagster as dg
    home, who, start_at, log = sys.argv[1], sys.argv[2], float(sys.argv[3]), pathlib.Path(sys.argv[4])
    with dg.DagsterInstance.from_config(home) as instance:
        storage = instance.event_log_storage
        while time.time() < start_at:
            time.sleep(0.001)
        for cycle in range(25):
            run_id = f"run-{who}-{cycle}"
            while not storage.claim_concurrency_slot("warehouse", run_id, "write").is_claimed:
                pass
            with log.open("a") as f:
                f.write(f"{time.time()} in\\n")
            time.sleep(0.002)
            with log.open("a") as f:
                f.write(f"{time.time()} out\\n")
            storage.free_concurrency_slots_for_run(run_id)
""")


def test_the_instance_file_follows_a_moved_home_but_an_edited_one_is_left_alone(warmpool_home, tmp_path):
    from warmpool.config import _EARLIER_DAGSTER_YAML, dagster_yaml_for

    settings = get_settings()
    instance_file = settings.dagster_home / "dagster.yaml"
    instance_file.parent.mkdir(parents=True, exist_ok=True)
    instance_file.write_text(dagster_yaml_for(tmp_path / "the-old-home"))  # a home copied from elsewhere
    settings.ensure_dirs()
    assert instance_file.read_text() == dagster_yaml_for(settings.dagster_home)
    instance_file.write_text(_EARLIER_DAGSTER_YAML[-1])  # the last version, without the pool-safe event log
    settings.ensure_dirs()
    assert "PoolSafeSqliteEventLogStorage" in instance_file.read_text()
    assert str(settings.dagster_home.resolve() / "history" / "runs") in instance_file.read_text()
    instance_file.write_text(instance_file.read_text() + "run_queue:\n  max_concurrent_runs: 2\n")
    settings.ensure_dirs()
    assert "max_concurrent_runs: 2" in instance_file.read_text()


def test_simultaneous_pool_claims_from_many_processes_never_share_the_one_slot(warmpool_home, tmp_path):
    """Six processes claim and free the `warehouse` pool 25 times each, as fast as they can. With Dagster's
    own SQLite storage, runs of this tried here let two of them hold the one slot at once, or left one
    waiting for ever for a slot nobody held; the instance Warmpool configures
    (assets/instance_storage.py) must do neither."""
    dagster_home = str(get_settings().ensure_dirs().dagster_home)
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        assert type(instance.event_log_storage).__name__ == "PoolSafeSqliteEventLogStorage"
        instance.event_log_storage.initialize_concurrency_limit_to_default("warehouse")
    log = tmp_path / "holders.log"
    log.touch()
    start_at = time.time() + 8  # every process imported and waiting before the first claim
    procs = [subprocess.Popen([sys.executable, "-c", CLAIM_AND_FREE, dagster_home, str(i), str(start_at), str(log)])
             for i in range(6)]
    try:
        codes = [p.wait(timeout=180) for p in procs]
    except subprocess.TimeoutExpired:
        pytest.fail("a process still waits for the pool's slot after 3 minutes (a claim nobody will assign)")
    finally:
        for p in procs:
            p.kill()
    assert codes == [0] * 6
    holders = most = 0
    events = sorted((float(t), what) for t, what in (line.split() for line in log.read_text().splitlines()))
    for _, what in events:
        holders += 1 if what == "in" else -1
        most = max(most, holders)
    assert len(events) == 6 * 25 * 2 and most == 1


@pytest.mark.long  # make test-long (50 s): the claim race behind its old flake is tested above in make test
def test_two_runs_of_one_instance_take_turns_in_the_warehouse_pool(warmpool_home, tmp_path):
    """Two run processes (as two schedules firing together would start) each with a step in the
    `warehouse` pool: with the instance the project configures, the second step waits for the first."""
    dagster_home = str(get_settings().ensure_dirs().dagster_home)
    log = tmp_path / "steps.log"
    log.touch()
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        # The instance's storage and the pool's slots exist before two processes open it, as after any first
        # run: on SQLite, Dagster sets a pool's default limit lazily at its first claim, and two brand-new
        # processes claiming at the same instant can each allocate a slot (docs/operations.md).
        instance.event_log_storage.initialize_concurrency_limit_to_default("warehouse")
    runs = [subprocess.Popen([sys.executable, "-c", RUN_ONE_STEP, dagster_home, name, str(log)])
            for name in ("first", "second")]
    assert [r.wait(timeout=300) for r in runs] == [0, 0]
    events = sorted((float(t), name, what) for name, what, t in (line.split() for line in log.read_text().splitlines()))
    assert [what for _, _, what in events] == ["start", "saw-the-other-waiting", "end", "start", "end"], events
    assert len({name for _, name, _ in events[:3]}) == 1  # one run's step, start to end, then the other's


# ---- the run-status file ---------------------------------------------------------------------------
def test_a_run_is_recorded_once_and_freshness_follows_the_configured_limits(warmpool_home):
    settings = get_settings()
    now = dt.datetime(2026, 11, 29, 12, tzinfo=dt.timezone.utc)
    three_hours_ago = (now - dt.timedelta(hours=3)).isoformat()
    record = RunRecord("r1", "warmpool_all", "success", three_hours_ago, three_hours_ago,
                       {"raw_ats/candidates": three_hours_ago, "marts/dim_candidates": three_hours_ago})
    record_run(settings, record)
    record_run(settings, record)  # a second recording (sensor and CLI both) replaces the first
    status = read_run_status(settings)
    assert [r["run_id"] for r in status["runs"]] == ["r1"]
    fresh = {f.target: f for f in freshness(settings, now)}
    assert fresh["marts"].stale is False  # 3 h old, limit 26 h
    assert fresh["ats"].stale is True  # 3 h old, limit 2 h
    assert fresh["vendors"].stale is True and fresh["vendors"].last_update is None  # never loaded
    # read without Dagster: plain JSON beside the exports
    assert json.loads((settings.exports_dir / "run_status.json").read_text())["assets"]["raw_ats/candidates"]


# ---- run-failure alerts ----------------------------------------------------------------------------
class _Hook(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(body)
        self.send_response(type(self).answers.pop(0) if type(self).answers else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    _Hook.answers, _Hook.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/warmpool", _Hook
    server.shutdown()


def _failed_run(instance: dg.DagsterInstance):
    @dg.asset
    def raw_ats_unreachable():
        raise ConnectionError("the ATS did not answer")

    result = dg.materialize([raw_ats_unreachable], instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    return run, failure


def test_a_failed_run_is_posted_to_the_webhook_with_retries_and_recorded(warmpool_home, webhook_server, monkeypatch):
    from assets.operations import report_run_failure

    url, hook = webhook_server
    hook.answers = [503, 502]  # the hook is briefly down: the third attempt gets through
    monkeypatch.setenv("WARMPOOL_ALERT_WEBHOOK_URL", url)
    with dg.DagsterInstance.ephemeral() as instance:
        run, failure = _failed_run(instance)
        context = dg.build_run_status_sensor_context(sensor_name="report_run_failure", dagster_event=failure,
                                                     dagster_instance=instance, dagster_run=run).for_run_failure()
        report_run_failure(context)
    assert len(hook.received) == 3
    alert = hook.received[-1]
    assert alert["event"] == "run_failure" and alert["run_id"] == run.run_id
    assert "raw_ats_unreachable" in alert["failed_steps"] and "the ATS did not answer" in alert["error"]
    [recorded] = read_run_status(get_settings())["runs"]
    assert (recorded["run_id"], recorded["status"]) == (run.run_id, "failure")


def test_a_hook_that_refuses_is_not_retried_and_the_failure_is_raised(warmpool_home, webhook_server, monkeypatch):
    from warmpool.alerts import AlertNotDelivered, RunFailure, notify_run_failure

    url, hook = webhook_server
    hook.answers = [404]
    monkeypatch.setenv("WARMPOOL_ALERT_WEBHOOK_URL", url)
    with pytest.raises(AlertNotDelivered, match="404"):
        notify_run_failure(RunFailure("r1", "warmpool_all", "boom"), get_settings())
    assert len(hook.received) == 1


def test_a_failed_run_is_mailed_through_the_loopback_smtp_server(warmpool_home, monkeypatch):
    from sandbox.smtp_sink import SmtpSink
    from warmpool.alerts import RunFailure, notify_run_failure

    mailbox = warmpool_home / "alerts-mailbox"
    with SmtpSink(mailbox, port=0) as sink:
        monkeypatch.setenv("WARMPOOL_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("WARMPOOL_SMTP_PORT", str(sink.port))
        monkeypatch.setenv("WARMPOOL_ALERT_EMAIL", "recruiting-ops@warmpool.example")
        channels = notify_run_failure(RunFailure("0123456789ab", "warmpool_all", "dbt: 2 tests failed",
                                                 failed_steps=("dbt_marts",)), get_settings())
    assert channels == ["email"]
    [path] = sorted(Path(mailbox).glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes())
    assert message["To"] == "recruiting-ops@warmpool.example"
    assert message["Subject"] == "Warmpool run failed: warmpool_all (01234567)"
    body = message.get_payload(0).get_payload(decode=True).decode()
    assert "dbt_marts" in body and "dbt: 2 tests failed" in body
