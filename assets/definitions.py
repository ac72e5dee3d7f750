"""The Dagster code location loaded by workspace.yaml: every asset, job, schedule and sensor."""
from __future__ import annotations

import dagster as dg

from assets.activation import audience_files, campaign_sends
from assets.identity import identity_model_candidate, source_record_person
from assets.ingestion import campaign_definitions, new_vendor_files_sensor, raw_ats, raw_vendors, raw_web_store
from assets.validation import ASSET_CHECKS
from assets.warehouse import dbt_marts, dbt_pool_records, dbt_resource, marts_export

ALL_ASSETS = [raw_ats, raw_vendors, raw_web_store, campaign_definitions, dbt_pool_records, source_record_person,
              dbt_marts, marts_export, audience_files, campaign_sends, identity_model_candidate]

# One run at a time writes the warehouse: the in-process executor runs steps one after another.
warmpool_job = dg.define_asset_job(
    "warmpool_all", executor_def=dg.in_process_executor,
    # retraining is a deliberate act (a candidate to review), never part of the daily run
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(identity_model_candidate),
    description="The whole flow: ingest → identity → dbt → audiences → sends.",
)
retrain_identity_job = dg.define_asset_job(
    "retrain_identity_model", selection=dg.AssetSelection.assets(identity_model_candidate),
    executor_def=dg.in_process_executor,
    description="Re-estimate the matching model on the pool; writes a candidate to review and promote.",
)
daily_schedule = dg.ScheduleDefinition(job=warmpool_job, cron_schedule="0 5 * * *",
                                       default_status=dg.DefaultScheduleStatus.STOPPED)

defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ASSET_CHECKS,
    jobs=[warmpool_job, retrain_identity_job],
    schedules=[daily_schedule],
    sensors=[new_vendor_files_sensor],
    resources={"dbt": dbt_resource()},
)
