"""Search: the profile index the recruiters' search reads, and the saved searches that keep sourcing.

`search/profile_index` runs after the marts: every person's document, embeddings for the new or
changed ones only (progress in the run's log; an interrupted first embedding resumes where it
stopped), a new index snapshot. `search/saved_search_matches` re-runs every saved search and adds
each new match to its pipeline once; it runs after every pipeline run and, with the
`saved_searches_schedule` (hourly, off by default), in between. The domain logic is `warmpool.search`.
"""
import time

import dagster as dg

from assets.resources import WAREHOUSE_POOL, WarehouseResource, run_settings
from warmpool import tables
from warmpool.search.embeddings import EmbedProgress
from warmpool.search.refresh import read_pool, refresh_from_pool
from warmpool.search.sourcing import run_saved_searches

PROFILE_INDEX_KEY = dg.AssetKey(["search", "profile_index"])
MARTS_READ = (tables.DIM_CANDIDATES, tables.DIM_CANDIDATE_WORK_HISTORY, tables.DIM_CANDIDATE_RESUMES,
              tables.BRIDGE_CANDIDATE_RECORDS, tables.FCT_APPLICATIONS, tables.DIM_JOBS, tables.PERSON_ASSIGNMENTS,
              tables.SEGMENT_MEMBERS)
PROGRESS_EVERY_SECONDS = 30


@dg.asset(key=PROFILE_INDEX_KEY, deps=[dg.AssetKey(t.split(".")) for t in MARTS_READ], group_name="search",
          kinds={"python", "numpy"}, pool=WAREHOUSE_POOL,
          description="The search index: one document per person (golden profile, work history, resume text), "
                      "all-MiniLM-L6-v2 embeddings of new or changed documents only, BM25 and vector indexes.")
def profile_index(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = run_settings(warehouse)
    with warehouse.connect(read_only=True) as con:
        pool = read_pool(con, settings)  # the warehouse is closed again before the (possibly long) embedding
    last = [0.0]

    def progress(p: EmbedProgress) -> None:
        if p.done == p.total or time.monotonic() - last[0] >= PROGRESS_EVERY_SECONDS:
            last[0] = time.monotonic()
            context.log.info(f"embedding profiles: {p.done:,}/{p.total:,} ({p.per_second:.0f}/s)")

    report = refresh_from_pool(pool, settings, progress=progress)
    context.log.info(report.describe())
    return dg.MaterializeResult(metadata={
        "profiles": dg.MetadataValue.int(report.people), "documents_built": dg.MetadataValue.int(report.documents_built),
        "embedded": dg.MetadataValue.int(report.embedded),
        "reused": dg.MetadataValue.int(report.reused),
        "embed_seconds": dg.MetadataValue.float(round(report.embed_seconds, 2)),
        "index_seconds": dg.MetadataValue.float(round(report.index_seconds, 2)),
        "folder": dg.MetadataValue.path(str(settings.search_index_dir))})


# In the warehouse pool although it reads only the index: the code location keeps every step there,
# so a scheduled run waits for a pipeline run to finish instead of searching a half-refreshed pool.
@dg.asset(key=["search", "saved_search_matches"], deps=[PROFILE_INDEX_KEY], group_name="search", kinds={"sqlite"},
          pool=WAREHOUSE_POOL,
          description="Runs every saved search; people newly in its top join its pipeline, once each "
                      "(the sourcing store). Each run is an audited search.")
def saved_search_matches(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    runs = run_saved_searches(run_settings(warehouse))
    for run in runs:
        context.log.info(run.describe())
    return dg.MaterializeResult(metadata={
        "saved_searches": dg.MetadataValue.int(len(runs)),
        "people_added": dg.MetadataValue.int(sum(len(r.added) for r in runs))})


saved_searches_job = dg.define_asset_job(
    "saved_searches", selection=dg.AssetSelection.assets(saved_search_matches), executor_def=dg.in_process_executor,
    description="Always be sourcing: re-run the saved searches against the current index.")
saved_searches_schedule = dg.ScheduleDefinition(job=saved_searches_job, cron_schedule="0 * * * *",
                                                default_status=dg.DefaultScheduleStatus.STOPPED)

defs = dg.Definitions(assets=[profile_index, saved_search_matches], jobs=[saved_searches_job],
                      schedules=[saved_searches_schedule])
