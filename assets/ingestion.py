"""Ingestion: thin glue over the dlt pipelines in `pipelines/`, the boundary checks on what they load, and
the sensor that starts a load when a vendor file lands.

Each dlt source family is one multi-asset whose asset keys are the raw tables the dbt project
declares as sources (`[source_name, table]`), so the lineage from raw table to mart is visible.
A fresh dlt source is built on every run (a source keeps per-run state).
"""
import hashlib

import dagster as dg

from assets.dbt_project import source_tables
from assets.resources import NETWORK_RETRY, WAREHOUSE_POOL, AtsResource, WarehouseResource, WebStoreResource, run_settings
from assets.validation import ASSET_CHECKS
from pipelines.ats import run_ats, run_eeo
from pipelines.vendor_files import new_vendor_files, run_vendor_files
from pipelines.sourcing_store import run_sourcing_store
from pipelines.web_store import run_web_store
from warmpool import tables
from warmpool.campaigns.config import load_campaigns_table
from warmpool.segments import load_segments_table


def _raw_specs(source_name: str, description: str) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec([source_name, table], group_name="sources", kinds={"dlt", "duckdb"}, description=description)
        for table in source_tables(source_name)
    ]


def _loaded(context: dg.AssetExecutionContext, counts: dict):
    """One materialisation per raw table, with the rows this run loaded into it."""
    for spec in context.assets_def.specs:
        table = spec.key.path[-1]
        yield dg.MaterializeResult(asset_key=spec.key,
                                   metadata={"rows_loaded": dg.MetadataValue.int(int(counts.get(table, 0)))})


@dg.multi_asset(specs=_raw_specs(tables.RAW_ATS, "Loaded from the ATS REST API (Harvest shape)."),
                name="raw_ats", pool=WAREHOUSE_POOL, can_subset=False, retry_policy=NETWORK_RETRY)
def raw_ats(context: dg.AssetExecutionContext, warehouse: WarehouseResource, ats: AtsResource):
    counts = run_ats(run_settings(warehouse, ats=ats))
    context.log.info(f"ATS rows loaded: {counts}")
    yield from _loaded(context, counts)


@dg.multi_asset(specs=_raw_specs(tables.RAW_EEO, "EEO self-identification from the ATS (Harvest eeoc), apart "
                                                  "from the candidate profile: reaches dashboards only aggregated."),
                name="raw_eeo", pool=WAREHOUSE_POOL, can_subset=False, retry_policy=NETWORK_RETRY)
def raw_eeo(context: dg.AssetExecutionContext, warehouse: WarehouseResource, ats: AtsResource):
    counts = run_eeo(run_settings(warehouse, ats=ats))
    context.log.info(f"EEO answers loaded: {counts}")
    yield from _loaded(context, counts)


@dg.multi_asset(specs=_raw_specs(tables.RAW_VENDORS, "Loaded from vendor export files in the landing folder."),
                name="raw_vendors", pool=WAREHOUSE_POOL, can_subset=False)
def raw_vendors(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    counts = run_vendor_files(run_settings(warehouse))
    context.log.info(f"vendor rows loaded: {counts}")
    yield from _loaded(context, counts)


@dg.multi_asset(
    specs=_raw_specs(tables.RAW_FORMS, "Talent-network and referral submissions from the web store.")
    + _raw_specs(tables.RAW_EMAIL, "Email provider events from the web store."),
    name="raw_web_store", pool=WAREHOUSE_POOL, can_subset=False,
)
def raw_web_store(context: dg.AssetExecutionContext, warehouse: WarehouseResource, web_store: WebStoreResource):
    counts = run_web_store(run_settings(warehouse, web_store=web_store))
    context.log.info(f"web store rows loaded: {counts}")
    yield from _loaded(context, counts)


@dg.multi_asset(specs=_raw_specs(tables.RAW_SOURCING, "Recruiters' pipelines and their events from the sourcing store."),
                name="raw_sourcing", pool=WAREHOUSE_POOL, can_subset=False)
def raw_sourcing(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    counts = run_sourcing_store(run_settings(warehouse))
    context.log.info(f"sourcing store rows loaded: {counts}")
    yield from _loaded(context, counts)


@dg.multi_asset(specs=_raw_specs(tables.RAW_CAMPAIGNS, "Campaigns and segments declared in config/campaigns/*.yaml "
                                                       "and config/segments/*.yaml."),
                name="campaign_definitions", pool=WAREHOUSE_POOL, can_subset=False)
def campaign_definitions(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.connect() as con:
        counts = {"segments": load_segments_table(con), "campaigns": load_campaigns_table(con)}
    for spec in context.assets_def.specs:
        yield dg.MaterializeResult(asset_key=spec.key, metadata={k: dg.MetadataValue.int(int(n)) for k, n in counts.items()})


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Starts an ingestion run when a new vendor export lands (one run per file set).")
def new_vendor_files_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    files = new_vendor_files(run_settings(warehouse))  # the local dlt state only: safe while a run writes
    if not files:
        return dg.SkipReason("no new vendor files")
    # Short and stable: the same new files (name and content) give the same key, so one run per key,
    # whatever the number or length of the names; changed content under an old name gives a new key.
    digest = hashlib.sha256("\n".join(sorted(f"{f.vendor}/{f.name}:{f.sha256}" for f in files)).encode()).hexdigest()[:24]
    return dg.RunRequest(run_key=f"vendor-files:{digest}", asset_selection=[spec.key for spec in raw_vendors.specs],
                         tags={"warmpool/new_vendor_files": str(len(files))})


defs = dg.Definitions(
    assets=[raw_ats, raw_eeo, raw_vendors, raw_web_store, raw_sourcing, campaign_definitions],
    asset_checks=ASSET_CHECKS,
    sensors=[new_vendor_files_sensor],
)
