"""Identity resolution asset: assigns every source record a stable person_id (Splink)."""
import dagster as dg

from assets.ingestion import WAREHOUSE_POOL
from warmpool import tables


@dg.asset(
    key=tables.PERSON_ASSIGNMENTS.split("."),
    deps=[dg.AssetKey([tables.INTERMEDIATE, "int_source_records"])],
    group_name="identity",
    kinds={"splink", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Every source record's person_id: probabilistic matching with the saved Splink model; "
                "ids of existing people are kept across runs.",
)
def source_record_person(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from warmpool.identity import resolve_pool
    from warmpool.warehouse import warehouse

    with warehouse() as con:
        stats = resolve_pool(con)
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
    deps=[dg.AssetKey([tables.INTERMEDIATE, "int_source_records"])],
    group_name="identity",
    kinds={"splink"},
    description="Retrain: re-estimates the matching model on the pool's own records and writes a candidate "
                "(next model version, current threshold) with its agreement with today's people. "
                "Not part of the daily job; promote with `warmpool identity promote-model`.",
)
def identity_model_candidate(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from warmpool.config import get_settings
    from warmpool.identity import retrain_on_pool
    from warmpool.warehouse import warehouse

    with warehouse(read_only=True) as con:
        report = retrain_on_pool(con, get_settings().identity_dir / "candidate_model.json")
    context.log.info(report.describe())
    return dg.MaterializeResult(metadata={
        "candidate": dg.MetadataValue.path(str(report.candidate_path)),
        "model_version": dg.MetadataValue.int(report.model_version),
        "people_today": dg.MetadataValue.int(report.persons_current or 0),
        "people_with_candidate": dg.MetadataValue.int(report.persons_candidate),
        "agreement_f1": dg.MetadataValue.float(float(report.agreement_f1 or 0.0)),
    })
