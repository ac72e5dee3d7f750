"""Privacy in the orchestrator: the erasure requests the web service received are carried out, and
retention runs on a schedule. Both write the warehouse (the `warehouse` pool) and run as their own
jobs, not in `warmpool_all`: a demo or pipeline run never erases anyone by surprise."""
import datetime as dt

import dagster as dg

from assets.resources import WAREHOUSE_POOL, WarehouseResource, WebStoreResource, run_settings
from pipelines.erasure import stores
from warmpool.privacy.erasure import work_queue
from warmpool.privacy.retention import run_retention


@dg.asset(group_name="privacy", pool=WAREHOUSE_POOL,
          description="Carries out every confirmed erasure request of the web store through every store "
                      "(warmpool privacy queue), oldest first; each at most once.")
def privacy_erasures(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     web_store: WebStoreResource) -> dg.MaterializeResult:
    reports = work_queue(stores(), run_settings(warehouse, web_store=web_store), actor="dagster")
    for report in reports:
        context.log.info(report.describe())
    return dg.MaterializeResult(metadata={"erasures": dg.MetadataValue.int(len(reports)),
                                          "rows_removed": dg.MetadataValue.int(sum(r.rows_removed for r in reports))})


class RetentionConfig(dg.Config):
    dry_run: bool = False
    today: str = ""  # YYYY-MM-DD; empty: today (UTC)


@dg.asset(group_name="privacy", pool=WAREHOUSE_POOL,
          description="Erases people kept past their retention period, never one under a legal hold, and "
                      "held records whose hold ended (warmpool privacy retention).")
def privacy_retention(context: dg.AssetExecutionContext, config: RetentionConfig,
                      warehouse: WarehouseResource) -> dg.MaterializeResult:
    report = run_retention(stores(), run_settings(warehouse), dry_run=config.dry_run, actor="dagster",
                           today=dt.date.fromisoformat(config.today) if config.today else None)
    context.log.info(report.describe())
    return dg.MaterializeResult(metadata={"due": dg.MetadataValue.int(len(report.due)),
                                          "kept_under_hold": dg.MetadataValue.int(len(report.held)),
                                          "erased": dg.MetadataValue.int(report.erased),
                                          "holds_released": dg.MetadataValue.int(report.holds_released)})


erasure_job = dg.define_asset_job("privacy_erasures_job", selection=[privacy_erasures],
                                  executor_def=dg.in_process_executor,
                                  description="Carry out the confirmed erasure requests.")
retention_job = dg.define_asset_job("privacy_retention_job", selection=[privacy_retention],
                                    executor_def=dg.in_process_executor,
                                    description="Retention: erase people past their period, respecting holds.")

defs = dg.Definitions(
    assets=[privacy_erasures, privacy_retention], jobs=[erasure_job, retention_job],
    schedules=[dg.ScheduleDefinition(job=erasure_job, cron_schedule="0 * * * *",
                                     default_status=dg.DefaultScheduleStatus.STOPPED),
               dg.ScheduleDefinition(job=retention_job, cron_schedule="30 4 * * *",
                                     default_status=dg.DefaultScheduleStatus.STOPPED)])
