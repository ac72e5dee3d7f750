"""Identity on Splink's Spark backend (pyspark in local mode) gives the same people as on DuckDB.

A sample of the shared sandbox world's records is resolved twice with the saved model, the same code
path and settings, once per backend (``WARMPOOL_IDENTITY_BACKEND``); the two partitions of records
into people must be identical. The JVM's start-up (a few seconds) is part of this test's time.
"""
from __future__ import annotations

import shutil

import polars as pl
import pytest

from warmpool.config import get_settings
from warmpool.identity import resolve_frame
from warmpool.identity import backends
from warmpool.identity.model import load_model

SAMPLE_PEOPLE = 250  # true people whose records form the sample (duplicates across sources included)

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime (.ci/run installs one)")


def _clear_settings():
    from warmpool import config

    config._settings_for.cache_clear()


@pytest.fixture(scope="module")
def sample(small_world) -> pl.DataFrame:
    records = pl.read_csv(small_world.sandbox_dir / "exports" / "source_records.csv", infer_schema=False)
    truth = pl.read_csv(small_world.sandbox_dir / "truth" / "source_record_person.csv", infer_schema=False)
    people = truth["true_person_id"].unique(maintain_order=True).head(SAMPLE_PEOPLE)
    keys = truth.filter(pl.col("true_person_id").is_in(people.implode())).select("source", "source_record_id")
    return records.join(keys, on=["source", "source_record_id"], how="semi")


def _partition(assignments: pl.DataFrame) -> set[frozenset]:
    """People as sets of record keys (ids aside: only who is with whom)."""
    keyed = assignments.with_columns((pl.col("source") + "/" + pl.col("source_record_id")).alias("key"))
    return {frozenset(group["key"].to_list()) for _, group in keyed.group_by("person_id")}


def _resolve_on(backend: str, records: pl.DataFrame, monkeypatch) -> pl.DataFrame:
    monkeypatch.setenv("WARMPOOL_IDENTITY_BACKEND", backend)
    _clear_settings()
    try:
        assert get_settings().identity_backend == backend
        return resolve_frame(records, model=load_model())
    finally:
        monkeypatch.delenv("WARMPOOL_IDENTITY_BACKEND")
        _clear_settings()


def test_spark_local_mode_finds_the_same_people_as_duckdb(sample, monkeypatch):
    monkeypatch.setenv("WARMPOOL_SPARK_MASTER", "local[2]")
    on_duckdb = _resolve_on("duckdb", sample, monkeypatch)
    try:
        on_spark = _resolve_on("spark", sample, monkeypatch)
        assert backends._spark_session is not None, "the Spark run must have scored on Spark"
    finally:
        backends.stop_spark()
    duckdb_people, spark_people = _partition(on_duckdb), _partition(on_spark)
    assert on_spark.height == on_duckdb.height == sample.height
    # the sample has duplicates to merge, so equality is not two trivial all-singleton partitions
    assert len(duckdb_people) < sample.height
    assert spark_people == duckdb_people
