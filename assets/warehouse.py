"""The warehouse: dbt assets (dagster-dbt), the Python steps between them, and the read-only parquet
export of the marts.

dbt runs in two invocations around identity resolution: phase 1 builds the source records that
identity reads, phase 2 everything that needs person ids but the audiences; then the segment members
are written (`warmpool/segments.py`) and a third invocation builds the audiences that read them; a
fourth, after the campaign sends, builds what reads the send ledger (the campaign report). dbt tests surface as asset checks; a
failing test fails the step, so downstream audiences and sends do not run.
"""
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets.dbt_project import AUDIENCES_SELECT, CAMPAIGN_REPORTS_SELECT, MANIFEST_PATH, POOL_RECORDS_SELECT, parquet_exports
from assets.resources import WAREHOUSE_POOL, WarehouseResource, run_settings
from warmpool import tables
from warmpool.exports import export_marts
from warmpool.segments import write_segment_members
from warmpool.spellings import write_spellings


# The UI's groups follow the data flow (sources → validation → identity → warehouse → search → activation
# → privacy): dbt's staging layer is where raw rows are typed and tested, the rest is the warehouse.
DBT_LAYER_GROUPS = {"staging": "validation", "intermediate": "warehouse", "marts": "warehouse"}


class WarmpoolDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])  # [project, layer folder, ..., name]
        return DBT_LAYER_GROUPS.get(fqn[1], "warehouse") if len(fqn) > 2 else "warehouse"


# dbt tests are asset checks, tests on sources included (they check the raw tables and identity's output)
TRANSLATOR = WarmpoolDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True,
                                                                         enable_source_tests_as_checks=True))


# dbt's unit tests check the models' SQL on fixed inputs, never the run's data: they pass or fail the same
# on every run of one code version, so they run where the code is tested (tests/test_dbt_project.py, in
# `make test`), not in every run (~3 s of each). Every data test still runs in the build of its models.
RUN_BUILD = ["build", "--exclude-resource-type", "unit_test"]


def _dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    # The warehouse reaches dbt as its target and vars on its command line (profiles.yml reads them); no
    # environment changes (a PostgreSQL password is the deployment's PGPASSWORD). "Today" reaches it as a
    # row in the warehouse, so a new day changes no var and dbt does not parse everything again. The
    # warehouse's own target folder, not one per call: dbt re-parses only what changed since its last call.
    warehouse.set_clock()
    yield from dbt.cli([*RUN_BUILD, *warehouse.dbt_args()], context=context,
                       target_path=warehouse.dbt_target_path()).stream()


@dbt_assets(manifest=MANIFEST_PATH, select=POOL_RECORDS_SELECT, name="dbt_pool_records",
            dagster_dbt_translator=TRANSLATOR, pool=WAREHOUSE_POOL)
def dbt_pool_records(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from _dbt_build(context, dbt, warehouse)


@dbt_assets(manifest=MANIFEST_PATH, exclude=f"{POOL_RECORDS_SELECT} {AUDIENCES_SELECT} {CAMPAIGN_REPORTS_SELECT}",
            name="dbt_marts", dagster_dbt_translator=TRANSLATOR, pool=WAREHOUSE_POOL)
def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from _dbt_build(context, dbt, warehouse)


@dg.asset(key=tables.SEGMENT_MEMBERS.split("."),
          deps=[dg.AssetKey(t.split(".")) for t in (tables.DIM_CANDIDATES, tables.FCT_APPLICATIONS,
                                                     tables.FCT_PIPELINE_MEMBERS, tables.SEGMENT_DEFINITIONS)],
          group_name=DBT_LAYER_GROUPS["marts"], kinds={"python"}, pool=WAREHOUSE_POOL,
          description="Who is in each segment of config/segments (warmpool/segments.py compiles each to SQL), as "
                      "of the run's as_of; read by dbt's audience_members. On DuckDB and PostgreSQL alike.")
def segment_members(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    rows = write_segment_members(run_settings(warehouse), warehouse.as_of)
    return dg.MaterializeResult(metadata={"segment_members": dg.MetadataValue.int(rows)})


@dbt_assets(manifest=MANIFEST_PATH, select=AUDIENCES_SELECT, exclude=CAMPAIGN_REPORTS_SELECT, name="dbt_audiences",
            dagster_dbt_translator=TRANSLATOR, pool=WAREHOUSE_POOL)
def dbt_audiences(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from _dbt_build(context, dbt, warehouse)


@dbt_assets(manifest=MANIFEST_PATH, select=CAMPAIGN_REPORTS_SELECT, name="dbt_campaign_reports",
            dagster_dbt_translator=TRANSLATOR, pool=WAREHOUSE_POOL)
def dbt_campaign_reports(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from _dbt_build(context, dbt, warehouse)


@dg.multi_asset(
    specs=[dg.AssetSpec(name.split("."), deps=[dg.AssetKey(tables.SOURCE_RECORDS_UNIONED.split("."))],
                        group_name=DBT_LAYER_GROUPS["intermediate"], kinds={"python"},
                        description="The pool's distinct values in their normalised spellings (warmpool/spellings.py), "
                                    "read by dbt phase 2 as a source; on DuckDB and PostgreSQL alike.")
           for name in (tables.NAME_SPELLINGS, tables.PLACE_SPELLINGS, tables.SKILL_SPELLINGS)],
    name="spellings", pool=WAREHOUSE_POOL,
)
def spellings(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    for name, rows in write_spellings(run_settings(warehouse)).items():
        yield dg.MaterializeResult(asset_key=name.split("."), metadata={"distinct_values": dg.MetadataValue.int(rows)})


# Which marts are exported and which of their columns are personal is declared in the models' YAML
# (`meta: {export: parquet}`, a column's `meta: {personal: true}`), read from the prepared manifest.
PARQUET_EXPORTS = parquet_exports()


@dg.asset(
    deps=[dg.AssetKey([tables.MARTS, name]) for name in PARQUET_EXPORTS.personal_columns],
    group_name="activation",
    kinds={"parquet"},
    pool=WAREHOUSE_POOL,
    description="Parquet copies of the marts for dashboards and notebooks, so readers never lock the warehouse. "
                "Each file names its personal columns in its metadata (`warmpool.personal_columns`); "
                "aggregate marts are also written without personal columns, for aggregate-only readers.",
)
def marts_export(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = run_settings(warehouse)
    paths = export_marts(PARQUET_EXPORTS, settings)
    return dg.MaterializeResult(metadata={"files": dg.MetadataValue.json([str(p) for p in paths]),
                                          "personal_columns": dg.MetadataValue.json(dict(PARQUET_EXPORTS.personal_columns)),
                                          "aggregates": dg.MetadataValue.json(sorted(PARQUET_EXPORTS.aggregates)),
                                          "folder": dg.MetadataValue.path(str(settings.exports_dir))})


defs = dg.Definitions(assets=[dbt_pool_records, spellings, dbt_marts, segment_members, dbt_audiences,
                             dbt_campaign_reports, marts_export])
