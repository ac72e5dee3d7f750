"""The Dagster code location loaded by workspace.yaml: each area's definitions, the job that runs them all,
and the resources of this deployment (`WARMPOOL_DEPLOYMENT`, see assets/resources.py)."""
import dagster as dg

from assets import activation, identity, ingestion, operations, privacy, search, warehouse
from assets.resources import deployment, resources_for

# One run at a time writes the warehouse: the in-process executor runs its steps one after another.
warmpool_job = dg.define_asset_job(
    "warmpool_all", executor_def=dg.in_process_executor,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(identity.identity_model_candidate)
    - dg.AssetSelection.groups("privacy"),
    description="The whole flow: ingest → identity → dbt → audiences → sends; the search index and saved searches "
                "(privacy runs as its own jobs).",
)
daily_schedule = dg.ScheduleDefinition(job=warmpool_job, cron_schedule="0 5 * * *",
                                       default_status=dg.DefaultScheduleStatus.STOPPED)

defs = operations.with_freshness_policies(dg.Definitions.merge(
    ingestion.defs, identity.defs, warehouse.defs, activation.defs, search.defs, privacy.defs, operations.defs,
    dg.Definitions(jobs=[warmpool_job], schedules=[daily_schedule], resources=resources_for(deployment())),
))
