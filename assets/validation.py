"""Boundary validation as Dagster asset checks: thin glue over `pipelines.validation` (GX suites).

Every check is `blocking=True`: a failed rule marked blocking in `pipelines.validation` fails the
check with severity ERROR and the downstream assets (dbt) do not run. Rules that are not blocking
(e.g. an unparseable phone in the ATS, which is the system of record) send the offending rows to
`quarantine.rejected_rows` and report severity WARN, which does not stop the run.
"""
import dagster as dg

from assets.resources import WAREHOUSE_POOL, WarehouseResource, run_settings
from pipelines.validation import CHECKS, TableCheck, run_check


def _metadata(outcome) -> dict:
    meta = outcome.metadata()
    return {k: (dg.MetadataValue.json(v) if isinstance(v, list) else v) for k, v in meta.items()}


def _asset_check(check: TableCheck) -> dg.AssetChecksDefinition:
    # no `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime
    @dg.asset_check(asset=dg.AssetKey(check.asset_key), name=check.name, blocking=True,
                    description=check.description, pool=WAREHOUSE_POOL)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        outcome = run_check(check.name, run_settings(warehouse))
        severity = dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN
        return dg.AssetCheckResult(passed=outcome.passed, severity=severity, metadata=_metadata(outcome))

    return _check


ASSET_CHECKS = [_asset_check(c) for c in CHECKS]
