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
    from warmpool.identity.resolve import resolve_pool
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
