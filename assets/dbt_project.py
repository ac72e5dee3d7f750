"""Where the dbt project and its prepared manifest live (shared by Dagster, the demo and tests)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from warmpool.config import REPO_ROOT, get_settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"

# Identity resolution runs between two dbt invocations: phase 1 builds every source record
# (`int_source_records` and what it needs), phase 2 everything that needs person ids.
POOL_RECORDS_SELECT = "+int_source_records"


def dbt_env() -> dict[str, str]:
    """Environment for a dbt process: the warehouse path and quiet, offline flags."""
    env = dict(os.environ)
    env["WARMPOOL_WAREHOUSE"] = str(get_settings().warehouse_path)
    env.setdefault("DO_NOT_TRACK", "1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # dagster-dbt needs `dbt` on PATH
    return env


def prepare_manifest(force: bool = False) -> Path:
    """Run `dbt parse` once, ahead of any run (never at import time)."""
    if force or not MANIFEST_PATH.exists():
        dbt = Path(sys.executable).parent / "dbt"
        subprocess.run(
            [str(dbt), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
            check=True, env=dbt_env(), cwd=DBT_PROJECT_DIR,
        )
    return MANIFEST_PATH


@lru_cache(maxsize=1)
def load_manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text())


def source_tables(source_name: str) -> list[str]:
    """Tables the dbt project declares for one source (e.g. every raw_ats table)."""
    return sorted(
        node["name"] for node in load_manifest()["sources"].values() if node["source_name"] == source_name
    )
