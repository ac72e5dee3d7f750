"""Where Splink runs: the one place that creates its database API (``Settings.identity_backend``).

- ``duckdb`` (default): a private in-memory DuckDB per call, so scratch tables never land in the
  warehouse file; bounded memory (it spills to the temp folder beyond ``DUCKDB_MEMORY_LIMIT``).
- ``spark``: Splink's ``SparkAPI`` on a Spark session (the ``[spark]`` extra and a Java runtime);
  ``WARMPOOL_SPARK_MASTER`` names the cluster, default ``local[2]`` (this machine's two cores). The
  session is made once per process and kept: the JVM takes seconds to start.

The model, its settings and every linker are the same whichever backend scores (``scoring`` owns
them); only where the SQL runs changes, so the clusters are the same (tests/test_identity_spark.py).
"""
from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import sqlglot
from splink import DuckDBAPI
from sqlglot import exp

from warmpool.config import get_settings

# DuckDB's own ceiling for a prediction (it spills to the temp folder beyond it), so the process
# stays bounded at millions of records next to the features polars holds.
DUCKDB_MEMORY_LIMIT = "2500MB"
SPARK_MASTER_ENV = "WARMPOOL_SPARK_MASTER"

_spark_session: Any = None


def db_api(backend: str | None = None) -> Any:
    """A fresh Splink database API on ``backend`` (default: the configured one); ``close`` it after."""
    backend = backend or get_settings().identity_backend
    if backend == "duckdb":
        api = DuckDBAPI()
        api.duckdb_con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'; "
                               f"SET temp_directory = '{tempfile.gettempdir()}/warmpool-identity-duckdb'; "
                               "SET preserve_insertion_order = false")
        return api
    if backend == "spark":
        return _spark_api_class()(spark_session=spark_session(), break_lineage_method="parquet")
    raise ValueError(f"identity backend {backend!r}: expected duckdb or spark")


def settings_for(api: Any, settings: dict) -> dict:
    """The model's Splink settings (written in DuckDB's SQL) in ``api``'s dialect: on DuckDB as they are;
    on Spark every comparison level and blocking rule translated (``spark_sql``)."""
    if isinstance(api, DuckDBAPI):
        return settings
    translated = copy.deepcopy(settings)
    for comparison in translated.get("comparisons", []):
        for level in comparison["comparison_levels"]:
            if level["sql_condition"].strip().upper() != "ELSE":
                level["sql_condition"] = spark_sql(level["sql_condition"])
    translated["blocking_rules_to_generate_predictions"] = [
        {**{k: v for k, v in rule.items() if k != "sql_dialect"}, "blocking_rule": spark_sql(rule["blocking_rule"])}
        for rule in translated.get("blocking_rules_to_generate_predictions", [])]
    return translated


def _spark_function(node: exp.Expression) -> exp.Expression:
    """DuckDB functions Spark spells differently: Splink's jar provides ``jaro_winkler`` (the same
    Jaro-Winkler similarity); list functions are Spark's array functions."""
    if isinstance(node, exp.JarowinklerSimilarity):
        return exp.Anonymous(this="jaro_winkler", expressions=[node.this, node.expression])
    if isinstance(node, exp.ArrayOverlaps):
        return exp.Anonymous(this="arrays_overlap", expressions=[node.this, node.expression])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "list_intersect":
        return exp.Anonymous(this="array_intersect", expressions=list(node.expressions))
    return node


def spark_sql(duckdb_sql: str) -> str:
    """One SQL condition of the model (DuckDB's dialect) in Spark's."""
    return sqlglot.parse_one(duckdb_sql, read="duckdb").transform(_spark_function).sql(dialect="spark")


def _double_literals(node: exp.Expression) -> exp.Expression:
    """``CAST(0.5 AS DOUBLE)`` as Spark's double literal ``0.5D`` (a cast literal would be a decimal,
    whose 38 digits the model's tiny probabilities overflow): what Splink's own Spark dialect does."""
    if (isinstance(node, (exp.Cast, exp.TryCast)) and isinstance(node.this, exp.Literal)
            and node.to.is_type("double") and node.this.name != "Infinity"):
        return exp.var(f"{node.this.name}D")
    return node


def _spark_api_class() -> type:
    """Splink's ``SparkAPI``, writing its SQL with sqlglot's own Spark dialect. Splink's subclass of
    that dialect cannot be instantiated when sqlglot is the compiled build (``sqlglotc``: "interpreted
    classes cannot inherit from compiled"), which DuckDB runs keep for its speed; the one thing the
    subclass adds, double literals, is done on the parsed SQL instead."""
    from splink.backends.spark import SparkAPI  # pyspark only when Spark is asked for (the [spark] extra)

    class WarmpoolSparkAPI(SparkAPI):
        def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
            return sqlglot.parse_one(sql, read="spark").transform(_double_literals).sql(dialect="spark", pretty=True)

    return WarmpoolSparkAPI


def close(api: Any) -> None:
    """Release what one call used: the DuckDB connection; a Spark session is kept for the next call
    (its temporary views are replaced by name)."""
    if isinstance(api, DuckDBAPI):
        api.duckdb_con.close()


def register(api: Any, table: Any, name: str) -> Any:
    """``table`` (Arrow) registered on ``api`` as ``name``: a Splink table. Spark takes Arrow as it is
    (typed lists included) but no unsigned integers: those (hash keys, compared for equality only) are
    reinterpreted as signed 64-bit, which keeps equal values equal and different ones different."""
    if isinstance(api, DuckDBAPI):
        return api.register(table, table_name=name)
    import pyarrow as pa  # already loaded by polars; only Spark needs the cast

    signed = pa.schema([f.with_type(pa.int64()) if pa.types.is_unsigned_integer(f.type) else f for f in table.schema])
    return api.register(table.cast(signed, safe=False), table_name=name)


def register_file(api: Any, path: Path, name: str, columns: list[str]) -> Any:
    """``columns`` of the parquet file ``path`` registered on ``api`` as ``name``: a Splink table that
    DuckDB reads from the file as it needs it, so a large input is held once, by DuckDB's bounded
    memory, rather than also as a frame in this process. Spark takes it as Arrow (``register``)."""
    if isinstance(api, DuckDBAPI):
        source = str(path).replace("'", "''")
        selected = ", ".join('"' + c + '"' for c in columns)
        api.duckdb_con.execute(f"CREATE VIEW {name}_file AS SELECT {selected} FROM read_parquet('{source}')")
        return api.register(f"{name}_file", table_name=name)
    return register(api, pq.read_table(path, columns=columns), name)


def to_polars(splink_frame: Any, columns: list[str]) -> pl.DataFrame:
    """``columns`` of a Splink result as a polars frame, whatever backend holds it."""
    if isinstance(splink_frame.db_api, DuckDBAPI):
        relation = splink_frame.as_duckdbpyrelation()
        return pl.from_arrow(relation.select(", ".join(f'"{c}"' for c in columns)).arrow().read_all())
    return pl.from_arrow(splink_frame.as_pyarrow_table()).select(columns)


def spark_session() -> Any:
    """This process's Spark session for Splink: Splink's similarity UDF jar on the class path, a
    checkpoint folder, few shuffle partitions (the records of one run are small next to a cluster's),
    no UI and loopback only."""
    global _spark_session
    if _spark_session is None:
        from pyspark.sql import SparkSession  # pyspark only when Spark is asked for (the [spark] extra)
        from splink.backends.spark import similarity_jar_location

        scratch = tempfile.mkdtemp(prefix="warmpool-spark-")
        session = (SparkSession.builder.master(os.environ.get(SPARK_MASTER_ENV) or "local[2]")
                   .appName("warmpool-identity")
                   .config("spark.jars", similarity_jar_location())
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.default.parallelism", "4")
                   .config("spark.ui.enabled", "false")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.local.dir", scratch)
                   .getOrCreate())
        session.sparkContext.setCheckpointDir(os.path.join(scratch, "checkpoints"))
        session.sparkContext.setLogLevel("ERROR")
        _spark_session = session
    return _spark_session


def stop_spark() -> None:
    """Stop this process's Spark session (its JVM), if one was started."""
    global _spark_session
    if _spark_session is not None:
        _spark_session.stop()
        _spark_session = None
