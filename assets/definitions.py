"""The Dagster code location loaded by workspace.yaml: every asset, job, schedule and sensor."""
from __future__ import annotations

import dagster as dg

from assets.activation import audience_files, campaign_sends
from assets.identity import source_record_person
from assets.ingestion import campaign_definitions, new_vendor_files_sensor, raw_ats, raw_vendors, raw_web_store
from assets.warehouse import dbt_marts, dbt_pool_records, dbt_resource, marts_export

ALL_ASSETS = [raw_ats, raw_vendors, raw_web_store, campaign_definitions, dbt_pool_records, source_record_person,
              dbt_marts, marts_export, audience_files, campaign_sends]

# One run at a time writes the warehouse: the in-process executor runs steps one after another.
warmpool_job = dg.define_asset_job(
    "warmpool_all", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor,
    description="The whole flow: ingest → identity → dbt → audiences → sends.",
)
daily_schedule = dg.ScheduleDefinition(job=warmpool_job, cron_schedule="0 5 * * *",
                                       default_status=dg.DefaultScheduleStatus.STOPPED)

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[warmpool_job],
    schedules=[daily_schedule],
    sensors=[new_vendor_files_sensor],
    resources={"dbt": dbt_resource()},
)
