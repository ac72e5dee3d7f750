"""How Warmpool runs dbt: the venv's own executable, and the `--target` and `--vars` every run passes
(where the warehouse is: ``warmpool.warehouse.dbt_target``). Dagster's ``DbtCliResource``
(``assets.dbt_project``), the prepared manifest's parse and the rebuild after an erasure all use them."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from warmpool.config import DBT_PROJECT_DIR, get_settings
from warmpool.warehouse import dbt_target

DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"  # the venv's own dbt, whether or not its bin is on PATH
PREPARED_TARGET = DBT_PROJECT_DIR / "target"  # where the prepared manifest lives (`make manifest`)


def dbt_vars(warehouse_path: Path, as_of: str | None = None) -> dict[str, str]:
    """dbt's `--vars` for a run: the warehouse (profiles.yml reads it: the DuckDB file, or where the
    configured PostgreSQL warehouse is) and, if given, "today".

    The manifest is prepared with the default warehouse's vars, so a run on that warehouse re-uses
    dbt's partial parse; other vars (a test's warehouse, an `as_of`) make dbt parse again.
    """
    _, values, _ = dbt_target(dataclasses.replace(get_settings(), warehouse_file=Path(warehouse_path)))
    return {**values, **({"as_of": as_of} if as_of else {})}


def target_arg(warehouse_path: Path | None = None) -> list[str]:
    """`--target` for the configured warehouse (`dev`: DuckDB, `postgres`)."""
    settings = get_settings()
    target, _, _ = dbt_target(dataclasses.replace(settings, warehouse_file=Path(warehouse_path))
                              if warehouse_path else settings)
    return ["--target", target]


def vars_arg(values: dict[str, str]) -> list[str]:
    return ["--vars", json.dumps(values, sort_keys=True)]


def run_dbt(args: Sequence[str], warehouse_path: Path, target_path: Path | None = None) -> subprocess.CompletedProcess:
    """``dbt <args>`` on the warehouse at ``warehouse_path``, in a child process (dbt-duckdb keeps the
    file open in the process that ran it); dbt prints to this process's output (pass ``--quiet`` for
    errors only); CalledProcessError on failure. ``target_path``: dbt's artifacts go there, not over
    the prepared manifest (whose partial parse is copied in, so an unchanged project is not parsed again)."""
    _, _, dbt_env = dbt_target(dataclasses.replace(get_settings(), warehouse_file=Path(warehouse_path)))
    env = {**os.environ, **dbt_env, "DO_NOT_TRACK": os.environ.get("DO_NOT_TRACK", "1")}  # the child's, not ours
    target = []
    if target_path is not None:
        target_path.mkdir(parents=True, exist_ok=True)
        prepared = PREPARED_TARGET / "partial_parse.msgpack"
        if prepared.exists():
            shutil.copy2(prepared, target_path / prepared.name)
        target = ["--target-path", str(target_path)]
    return subprocess.run([str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT_DIR),
                           "--profiles-dir", str(DBT_PROJECT_DIR), *target, *target_arg(warehouse_path),
                           *vars_arg(dbt_vars(warehouse_path))], check=True, env=env, cwd=DBT_PROJECT_DIR)
