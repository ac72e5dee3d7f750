"""dbt assets (dagster-dbt) and the read-only parquet export of the marts.

dbt runs in two invocations around identity resolution: phase 1 builds the source records that
identity reads, phase 2 everything that needs person ids. dbt tests surface as asset checks; a
failing test fails the step, so downstream audiences and sends do not run.
"""
import os
import sys
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets.dbt_project import DBT_PROJECT_DIR, MANIFEST_PATH, POOL_RECORDS_SELECT, dbt_env
from assets.ingestion import WAREHOUSE_POOL
from warmpool import tables
from warmpool.config import get_settings


class WarmpoolDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # staging / intermediate / marts, from the model's folder
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "warehouse"


TRANSLATOR = WarmpoolDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    # The dbt process inherits this environment: point it at this run's warehouse file.
    os.environ.update({k: dbt_env()[k] for k in ("WARMPOOL_WAREHOUSE", "DO_NOT_TRACK", "PATH")})
    yield from dbt.cli(["build"], context=context).stream()


@dbt_assets(manifest=MANIFEST_PATH, select=POOL_RECORDS_SELECT, name="dbt_pool_records",
            dagster_dbt_translator=TRANSLATOR, pool=WAREHOUSE_POOL)
def dbt_pool_records(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _dbt_build(context, dbt)


@dbt_assets(manifest=MANIFEST_PATH, exclude=POOL_RECORDS_SELECT, name="dbt_marts",
            dagster_dbt_translator=TRANSLATOR, pool=WAREHOUSE_POOL)
def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _dbt_build(context, dbt)


def dbt_resource() -> DbtCliResource:
    # The venv's own dbt, whether or not the venv's bin is on PATH.
    return DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                          dbt_executable=str(Path(sys.executable).parent / "dbt"))


# Not exported: marts.fct_consent_records (the consent ledger) and marts.rpt_erasure_requests (the
# privacy team's worklist). The ledger holds IP addresses and user agents,
# personal data the dashboards do not need; auditors read it in the warehouse, not from parquet copies.
MART_EXPORTS = ("dim_candidates", "fct_applications", "rpt_pool_by_source", "audience_members",
                # reporting marts for dashboards and analysts (dbt_project/models/marts/reporting)
                "fct_hires", "rpt_talent_pool_growth", "rpt_funnel", "rpt_source_roi", "rpt_vendor_utilization",
                "rpt_recruiter_activity", "rpt_campaign_performance", "rpt_silver_medalists")


@dg.asset(
    deps=[dg.AssetKey([tables.MARTS, name]) for name in MART_EXPORTS],
    group_name="activation",
    kinds={"parquet"},
    pool=WAREHOUSE_POOL,
    description="Parquet copies of the marts for dashboards and notebooks, so readers never lock the warehouse.",
)
def marts_export(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from warmpool.exports import export_marts

    paths = export_marts(MART_EXPORTS)
    return dg.MaterializeResult(metadata={"files": dg.MetadataValue.json([str(p) for p in paths]),
                                          "folder": dg.MetadataValue.path(str(get_settings().exports_dir))})
