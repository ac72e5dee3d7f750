"""Retraining on the pool writes a reviewable candidate; promotion is explicit and versioned."""
from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from warmpool.identity.estimate import THRESHOLD_GRID

from warmpool import tables
from warmpool.identity import MODEL_PATH, TrainedModel, promote_model, resolve_pool, retrain_on_pool


@pytest.fixture
def pool(small_world):
    records = pl.read_csv(small_world.sandbox_dir / "exports" / "source_records.csv", infer_schema=False)
    con = duckdb.connect()
    con.execute(f"CREATE SCHEMA {tables.INTERMEDIATE}")
    con.register("r", records.to_arrow())
    con.execute(f"CREATE TABLE {tables.SOURCE_RECORDS} AS SELECT * FROM r")
    resolve_pool(con)
    yield con
    con.close()


def test_retrain_writes_a_candidate_without_changing_the_model(pool, tmp_path):
    shipped = MODEL_PATH.read_bytes()
    current = TrainedModel.load(MODEL_PATH)
    report = retrain_on_pool(pool, tmp_path / "candidate.json")
    print("\n" + report.describe())

    assert MODEL_PATH.read_bytes() == shipped                     # nothing changes until promoted
    candidate = TrainedModel.load(report.candidate_path)
    assert candidate.model_version == current.model_version + 1
    # no labels on a pool: the threshold comes from the adapted model's own score distribution
    assert "from the score distribution" in report.threshold
    assert candidate.threshold_match_probability in THRESHOLD_GRID
    assert candidate.metrics["adapted_from_version"] == current.model_version
    # re-estimated on the same kind of data, it should mostly agree with today's people
    assert report.agreement_f1 is not None and report.agreement_f1 > 0.9
    assert report.persons_current == pool.execute(
        f"select count(distinct person_id) from {tables.PERSON_ASSIGNMENTS}").fetchall()[0][0]


def test_promote_refuses_a_model_that_is_not_newer(tmp_path):
    target = tmp_path / "trained_model.json"
    target.write_bytes(MODEL_PATH.read_bytes())
    with pytest.raises(ValueError, match="not newer"):
        promote_model(MODEL_PATH, target)

    newer = tmp_path / "newer.json"
    doc = json.loads(MODEL_PATH.read_text())
    doc["model_version"] += 1
    newer.write_text(json.dumps(doc))
    assert promote_model(newer, target).model_version == doc["model_version"]
    assert json.loads(target.read_text())["model_version"] == doc["model_version"]


def test_train_sandbox_model_command_writes_a_loadable_model(tmp_path, warmpool_home):
    """The developer command behind the shipped model: train on one generated world, choose the
    threshold on another, write the file; the shipped model is untouched unless asked."""
    from typer.testing import CliRunner

    from cli.main import app

    shipped = MODEL_PATH.read_bytes()
    out = tmp_path / "model.json"
    result = CliRunner().invoke(app, ["identity", "train-sandbox-model", "--people", "600", "--tune-people", "400",
                                      "--seed", "5", "--tune-seed", "6", "--output", str(out)])
    assert result.exit_code == 0, result.output
    model = TrainedModel.load(out)
    chosen = json.loads([line for line in result.output.splitlines() if line.startswith("{")][-1])
    assert chosen["threshold"] == model.threshold_match_probability
    assert str(model.threshold_match_probability) in model.metrics["threshold_sweep"]
    assert "seed 5" in model.metrics["trained_on"] and "seed 6" in model.metrics["trained_on"]
    assert MODEL_PATH.read_bytes() == shipped
