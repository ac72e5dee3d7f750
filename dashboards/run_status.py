"""The pipeline's run status for the data-health page, read from Dagster's own instance (the runs and
materializations it records under the data folder): when each stage last materialized, and the latest
runs. Operational state, not a warehouse figure: no mart holds it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

# Each stage of the graph, by the first part of its assets' keys.
STAGES = {"raw_ats": "ATS load", "raw_vendors": "Vendor files load", "raw_forms": "Web store load",
          "raw_email": "Email events load", "raw_campaigns": "Campaign definitions", "identity": "Identity resolution",
          "staging": "dbt staging", "intermediate": "dbt intermediate", "marts": "dbt marts",
          "marts_export": "Parquet exports", "audience_files": "Audience files", "campaign_sends": "Campaign sends"}


def stage_status(dagster_home: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per stage: the last successful materialization; the latest ten runs), empty before any run."""
    if not (dagster_home / "dagster.yaml").exists():
        return pd.DataFrame(columns=["stage", "last_success"]), pd.DataFrame(columns=["run", "status", "started", "ended"])
    from dagster import DagsterInstance  # heavy (~2 s): imported only when the page asks

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        keys = list(instance.get_asset_keys())
        latest = instance.get_latest_materialization_events(keys) if keys else {}
        last: dict[str, float] = {}
        for key, event in latest.items():
            if event is None or key.path[0] not in STAGES:
                continue
            last[key.path[0]] = max(last.get(key.path[0], 0), event.timestamp)
        stages = pd.DataFrame([{"stage": STAGES[k], "last_success": pd.Timestamp(v, unit="s")}
                               for k, v in sorted(last.items(), key=lambda kv: list(STAGES).index(kv[0]))])
        records = instance.get_run_records(limit=10)
        runs = pd.DataFrame([{"run": r.dagster_run.run_id[:8], "job": r.dagster_run.job_name,
                              "status": r.dagster_run.status.value.lower(),
                              "started": pd.Timestamp(r.start_time, unit="s") if r.start_time else None,
                              "ended": pd.Timestamp(r.end_time, unit="s") if r.end_time else None} for r in records])
    return stages, runs
