"""Ingestion assets: thin glue over the dlt pipelines in `pipelines/`.

Each dlt source family is one multi-asset whose asset keys are the raw tables the dbt project
declares as sources (`[source_name, table]`), so the lineage from raw table to mart is visible.
A fresh dlt source is built on every run (dagster-dlt mutates a reused source's schema).
"""
import hashlib

import dagster as dg

from assets.dbt_project import source_tables
from warmpool import tables
from warmpool.config import get_settings

WAREHOUSE_POOL = "warehouse"  # one writer per DuckDB file: every writing asset runs in this pool


def _raw_specs(source_name: str, description: str) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec([source_name, table], group_name="ingest", kinds={"dlt", "duckdb"}, description=description)
        for table in source_tables(source_name)
    ]


def _loaded(counts: dict) -> dict:
    return {f"rows_loaded.{table}": dg.MetadataValue.int(int(n)) for table, n in sorted(counts.items())}


@dg.multi_asset(specs=_raw_specs(tables.RAW_ATS, "Loaded from the ATS REST API (Harvest shape)."),
                name="raw_ats", pool=WAREHOUSE_POOL, can_subset=False)
def raw_ats(context: dg.AssetExecutionContext):
    from pipelines.ats import run_ats

    counts = run_ats(get_settings())
    context.log.info(f"ATS rows loaded: {counts}")
    for spec in context.assets_def.specs:
        yield dg.MaterializeResult(asset_key=spec.key, metadata=_loaded({spec.key.path[-1]: counts.get(spec.key.path[-1], 0)}))


@dg.multi_asset(specs=_raw_specs(tables.RAW_VENDORS, "Loaded from vendor export files in the landing folder."),
                name="raw_vendors", pool=WAREHOUSE_POOL, can_subset=False)
def raw_vendors(context: dg.AssetExecutionContext):
    from pipelines.vendor_files import run_vendor_files

    counts = run_vendor_files(get_settings())
    context.log.info(f"vendor rows loaded: {counts}")
    for spec in context.assets_def.specs:
        yield dg.MaterializeResult(asset_key=spec.key, metadata=_loaded({spec.key.path[-1]: counts.get(spec.key.path[-1], 0)}))


@dg.multi_asset(
    specs=_raw_specs(tables.RAW_FORMS, "Talent-network and referral submissions from the web store.")
    + _raw_specs(tables.RAW_EMAIL, "Email provider events from the web store."),
    name="raw_web_store", pool=WAREHOUSE_POOL, can_subset=False,
)
def raw_web_store(context: dg.AssetExecutionContext):
    from pipelines.web_store import run_web_store

    counts = run_web_store(get_settings())
    context.log.info(f"web store rows loaded: {counts}")
    for spec in context.assets_def.specs:
        yield dg.MaterializeResult(asset_key=spec.key, metadata=_loaded({spec.key.path[-1]: counts.get(spec.key.path[-1], 0)}))


@dg.multi_asset(specs=_raw_specs("raw_campaigns", "Campaigns declared in config/campaigns/*.yaml."),
                name="campaign_definitions", pool=WAREHOUSE_POOL, can_subset=False)
def campaign_definitions(context: dg.AssetExecutionContext):
    from warmpool.campaigns.config import load_campaigns_table
    from warmpool.warehouse import warehouse

    with warehouse() as con:
        n = load_campaigns_table(con)
    for spec in context.assets_def.specs:
        yield dg.MaterializeResult(asset_key=spec.key, metadata={"campaigns": dg.MetadataValue.int(int(n))})


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Starts an ingestion run when a new vendor export lands (one run per file set).")
def new_vendor_files_sensor(context: dg.SensorEvaluationContext):
    from pipelines.vendor_files import new_vendor_files

    files = new_vendor_files(get_settings())
    if not files:
        return dg.SkipReason("no new vendor files")
    # Short and stable: the same set of new contents gives the same key (one run per key), whatever
    # the number or length of the file names; changed content under an old name gives a new key.
    digest = hashlib.sha256("\n".join(sorted(f.sha256 for f in files)).encode()).hexdigest()[:24]
    return dg.RunRequest(run_key=f"vendor-files:{digest}", asset_selection=[spec.key for spec in raw_vendors.specs],
                         tags={"warmpool/new_vendor_files": str(len(files))})
