"""Unattended operations: each source on its own timetable, freshness checks on what people read, and the
sensors that record every finished run (`warmpool.run_status`) and report failures (`warmpool.alerts`).

Timetables come from `operations.schedules` in config/warmpool.yaml (the ATS and the web forms; vendor
files are loaded by the drop-folder sensor in `assets/ingestion.py`), freshness limits from
`operations.freshness_hours`. Every schedule gives its runs a run key (source + tick), so one tick never
starts two runs, whatever the daemon does after a restart. docs/operations.md says how to run it all.
"""
import datetime as dt
import time
import warnings

import dagster as dg
from dagster._core.events import DagsterEventType  # no public import: the event type filter of all_logs

from assets import ingestion
from assets.activation import audience_files
from assets.warehouse import PARQUET_EXPORTS
from warmpool import tables
from warmpool.alerts import RunFailure, notify_run_failure
from warmpool.config import get_settings
from warmpool.run_status import RunRecord, iso, record_run

OPERATIONS = get_settings().operations

_SOURCE_ASSETS = {"ats": [ingestion.raw_ats, ingestion.raw_eeo], "web_forms": [ingestion.raw_web_store]}
_SOURCE_LABEL = {"ats": "the ATS (candidates, applications, jobs, EEO answers)",
                 "web_forms": "the web store (talent-network and referral forms, email events)"}


def _source_job(source: str):
    return dg.define_asset_job(
        f"ingest_{source}", executor_def=dg.in_process_executor,
        selection=dg.AssetSelection.assets(*_SOURCE_ASSETS[source]),
        description=f"Load {_SOURCE_LABEL[source]} into the raw layer, with its boundary checks; the daily "
                    "`warmpool_all` run takes it on through identity, dbt and activation.")


SOURCE_JOBS = {source: _source_job(source) for source in _SOURCE_ASSETS}


def _source_schedule(source: str, cron: str) -> dg.ScheduleDefinition:
    @dg.schedule(name=f"ingest_{source}_schedule", cron_schedule=cron, job=SOURCE_JOBS[source],
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED,
                 description=f"Loads {_SOURCE_LABEL[source]} ({cron}, UTC); one run per tick.")
    def schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(run_key=f"{source}:{context.scheduled_execution_time.isoformat()}")
    return schedule


SOURCE_SCHEDULES = [_source_schedule(source, cron) for source, cron in OPERATIONS.schedules.items()]


# ---- freshness: the raw layer per source, the marts the dashboards read, the audiences ----
# A freshness policy per asset (Dagster's freshness daemon marks an asset that has not materialised within
# its window as failing; `freshness: enabled` in the instance's dagster.yaml). The limits are
# `operations.freshness_hours`, the same that `warmpool.run_status.freshness` applies for the
# data-health page; the marts are the ones exported for the dashboards.
def _freshness_targets() -> dict[str, list[dg.AssetKey]]:
    return {
        "ats": [key for a in (ingestion.raw_ats, ingestion.raw_eeo) for key in a.keys],
        "vendors": list(ingestion.raw_vendors.keys),
        "web_forms": list(ingestion.raw_web_store.keys),
        "marts": [dg.AssetKey([tables.MARTS, name]) for name in PARQUET_EXPORTS.personal_columns],
        "audiences": [audience_files.key],
    }


def freshness_policies() -> dict[dg.AssetKey, dg.FreshnessPolicy]:
    policies = {}
    for target, keys in _freshness_targets().items():
        hours = OPERATIONS.freshness_hours[target]
        for key in keys:
            policies[key] = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=hours),
                                                           warn_window=dt.timedelta(hours=hours * 0.75))
    return policies


def with_freshness_policies(defs: dg.Definitions) -> dg.Definitions:
    """`defs` with each read asset's freshness policy (config/warmpool.yaml: operations.freshness_hours)."""
    policies = freshness_policies()
    with warnings.catch_warnings():  # map_asset_specs is "preview": the documented way to attach policies
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(
            func=lambda spec: dg.apply_freshness_policy(spec, policies[spec.key]) if spec.key in policies else spec)


# ---- every finished run is recorded for the data-health page; a failed one is reported ----
def run_record(instance: dg.DagsterInstance, run: dg.DagsterRun, error: str | None = None) -> RunRecord:
    """The run as `warmpool.run_status` records it: its times, outcome and the assets it materialised."""
    stats = instance.get_run_stats(run.run_id)
    materialized = {e.dagster_event.event_specific_data.materialization.asset_key.to_user_string(): iso(e.timestamp)
                    for e in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)}
    failed = sorted({e.step_key for e in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
                     if e.step_key})
    return RunRecord(run_id=run.run_id, job_name=run.job_name, status=run.status.value.lower(),
                     started_at=iso(stats.start_time), ended_at=iso(stats.end_time or time.time()),
                     materialized=materialized, error=error, failed_steps=tuple(failed))


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name="record_run_success",
                      default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Records every successful run in exports/run_status.json (the data-health page).")
def record_run_success(context: dg.RunStatusSensorContext):
    record_run(get_settings(), run_record(context.instance, context.dagster_run))


@dg.run_failure_sensor(name="report_run_failure", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Records a failed run in exports/run_status.json and reports it to the webhook "
                                   "and/or address of operations.alerts in config/warmpool.yaml.")
def report_run_failure(context: dg.RunFailureSensorContext):
    settings = get_settings()
    error = context.failure_event.message or "the run failed"
    for step_failure in context.get_step_failure_events():
        cause = step_failure.step_failure_data.error if step_failure.step_failure_data else None
        while cause is not None and cause.cause is not None:  # Dagster's wrapper -> what the step raised
            cause = cause.cause
        if cause is not None:
            error += f"\n{step_failure.step_key}: {cause.message.strip()}"
    record = run_record(context.instance, context.dagster_run, error=error[:4000])
    record_run(settings, record)
    channels = notify_run_failure(RunFailure(run_id=record.run_id, job_name=record.job_name, error=record.error,
                                             failed_steps=record.failed_steps), settings)
    context.log.info(f"run {record.run_id} failure reported to: {', '.join(channels) or 'no channel configured'}")


defs = dg.Definitions(jobs=list(SOURCE_JOBS.values()), schedules=SOURCE_SCHEDULES,
                      sensors=[record_run_success, report_run_failure])
