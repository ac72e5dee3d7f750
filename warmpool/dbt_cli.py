"""How Warmpool runs dbt: the venv's own executable, and the `--target` and `--vars` every run passes
(where the warehouse is: ``warmpool.warehouse.dbt_target``), and the one target folder per warehouse
its calls share. Dagster's ``DbtCliResource`` (``assets.dbt_project``), the prepared manifest's parse and
the rebuild after an erasure all use them."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from warmpool import tables
from warmpool.config import DBT_PROJECT_DIR, get_settings
from warmpool.warehouse import WarehouseConnection, dbt_target, open_warehouse

DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"  # the venv's own dbt, whether or not its bin is on PATH
PREPARED_TARGET = DBT_PROJECT_DIR / "target"  # where the prepared manifest lives (`make manifest`)
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def dbt_target_path(warehouse_path: Path) -> Path:
    """The target folder of every dbt call on one warehouse: `dbt-target` beside the warehouse file.

    dbt re-uses its parse (``partial_parse.msgpack`` in the target folder) only while the project's
    files and the call's `--vars` are unchanged; the vars name the warehouse, so a folder per warehouse
    lets a run's later calls, the next run's and an erasure's rebuild parse only what changed (a
    folder per call, dagster-dbt's default, parses the whole project every time off the default
    warehouse). Calls on one warehouse never overlap (the Dagster pool `warehouse` serialises them), so
    the artifacts of one call are not overwritten while it runs.
    """
    return Path(warehouse_path).parent / "dbt-target"


def seed_partial_parse(target_path: Path) -> Path:
    """``target_path``, holding the prepared manifest's parse when it has none of its own yet (a
    first call on a warehouse then parses only what differs, when its vars equal the prepared ones)."""
    target_path.mkdir(parents=True, exist_ok=True)
    prepared, own = PREPARED_TARGET / PARTIAL_PARSE_FILE, target_path / PARTIAL_PARSE_FILE
    if prepared.exists() and not own.exists() and target_path.resolve() != PREPARED_TARGET.resolve():
        shutil.copy2(prepared, own)
    return target_path


def dbt_vars(warehouse_path: Path) -> dict[str, str]:
    """dbt's `--vars` for a run: the warehouse (profiles.yml reads it: the DuckDB file, or where the
    configured PostgreSQL warehouse is). "Today" is not one of them (``set_run_clock``).

    dbt parses the whole project again when these change (a test's warehouse: on its first call); see
    ``dbt_target_path``.
    """
    _, values, _ = dbt_target(dataclasses.replace(get_settings(), warehouse_file=Path(warehouse_path)))
    return values


def set_run_clock(con: WarehouseConnection, as_of: str | None = None) -> None:
    """Tell the models "today" (``macros/as_of.sql``) for the dbt calls that follow: ``as_of`` (an ISO date or
    timestamp), else the configured one (``Settings.as_of``), else NULL: the warehouse clock. It goes through
    a one-row table, not dbt's ``--vars``, because dbt parses the whole project again whenever its vars
    change: a pinned day would cost every daily run a full parse (5-7 s) instead of a partial one."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.RUN}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {tables.RUN_CLOCK} (as_of TIMESTAMP)")
    con.execute(f"DELETE FROM {tables.RUN_CLOCK}")
    con.execute(f"INSERT INTO {tables.RUN_CLOCK} VALUES (CAST(? AS TIMESTAMP))", [as_of or get_settings().as_of])


def target_arg(warehouse_path: Path | None = None) -> list[str]:
    """`--target` for the configured warehouse (`dev`: DuckDB, `postgres`)."""
    settings = get_settings()
    target, _, _ = dbt_target(dataclasses.replace(settings, warehouse_file=Path(warehouse_path))
                              if warehouse_path else settings)
    return ["--target", target]


def vars_arg(values: dict[str, str]) -> list[str]:
    return ["--vars", json.dumps(values, sort_keys=True)]


def run_dbt(args: Sequence[str], warehouse_path: Path, target_path: Path | None = None,
            as_of: str | None = None) -> subprocess.CompletedProcess:
    """``dbt <args>`` on the warehouse at ``warehouse_path``, in a child process (dbt-duckdb keeps the
    file open in the process that ran it); dbt prints to this process's output (pass ``--quiet`` for
    errors only); CalledProcessError on failure. dbt's artifacts go to ``target_path``, by default the
    warehouse's own target folder (``dbt_target_path``: its last parse is re-used). ``as_of``: "today"
    (``set_run_clock``, written first)."""
    settings = dataclasses.replace(get_settings(), warehouse_file=Path(warehouse_path))
    with open_warehouse(settings) as con:  # closed before dbt opens the file
        set_run_clock(con, as_of)
    _, _, dbt_env = dbt_target(settings)
    env = {**os.environ, **dbt_env, "DO_NOT_TRACK": os.environ.get("DO_NOT_TRACK", "1")}  # the child's, not ours
    target = seed_partial_parse(target_path or dbt_target_path(warehouse_path))
    return subprocess.run([str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT_DIR),
                           "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target),
                           *target_arg(warehouse_path), *vars_arg(dbt_vars(warehouse_path))],
                          check=True, env=env, cwd=DBT_PROJECT_DIR)
