"""Identity: every source record's stable person_id (Splink), and retraining the model on the pool."""
import dagster as dg

from assets.resources import WAREHOUSE_POOL, WarehouseResource, run_settings
from warmpool import tables
from warmpool.identity import resolve_warehouse, retrain_on_pool

SOURCE_RECORDS_KEY = dg.AssetKey(tables.SOURCE_RECORDS.split("."))


@dg.asset(
    key=tables.PERSON_ASSIGNMENTS.split("."),
    deps=[SOURCE_RECORDS_KEY],
    group_name="identity",
    kinds={"splink", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Every source record's person_id: probabilistic matching with the saved Splink model; "
                "ids of existing people are kept across runs.",
)
def source_record_person(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    stats = resolve_warehouse(run_settings(warehouse))
    context.log.info(stats.describe())
    return dg.MaterializeResult(metadata={
        "source_records": dg.MetadataValue.int(int(stats.records)),
        "people": dg.MetadataValue.int(int(stats.persons)),
        "duplicates_merged": dg.MetadataValue.int(int(stats.duplicates_merged)),
        "merges_this_run": dg.MetadataValue.int(int(stats.merges)),
        "splits_this_run": dg.MetadataValue.int(int(stats.splits)),
        "model_version": dg.MetadataValue.int(int(stats.model_version)),
        "seconds": dg.MetadataValue.float(float(stats.seconds)),
    })


@dg.asset(
    deps=[SOURCE_RECORDS_KEY],
    group_name="identity",
    kinds={"splink"},
    pool=WAREHOUSE_POOL,  # reads the warehouse: a read-only open fails while another run writes it
    description="Retrain: re-estimates the matching model on the pool's own records and writes a candidate "
                "(next model version, current threshold) with its agreement with today's people. "
                "Not part of the daily job; promote with `warmpool identity promote-model`.",
)
def identity_model_candidate(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect(read_only=True) as con:
        report = retrain_on_pool(con, run_settings(warehouse).identity_dir / "candidate_model.json")
    context.log.info(report.describe())
    return dg.MaterializeResult(metadata={
        "candidate": dg.MetadataValue.path(str(report.candidate_path)),
        "model_version": dg.MetadataValue.int(report.model_version),
        "people_today": dg.MetadataValue.int(report.persons_current or 0),
        "people_with_candidate": dg.MetadataValue.int(report.persons_candidate),
        "agreement_f1": dg.MetadataValue.float(float(report.agreement_f1 or 0.0)),
    })


# Retraining is a deliberate act (a candidate to review), never part of the daily run.
retrain_identity_job = dg.define_asset_job(
    "retrain_identity_model", selection=dg.AssetSelection.assets(identity_model_candidate),
    executor_def=dg.in_process_executor,
    description="Re-estimate the matching model on the pool; writes a candidate to review and promote.",
)

defs = dg.Definitions(assets=[source_record_person, identity_model_candidate], jobs=[retrain_identity_job])
