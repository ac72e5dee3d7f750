"""Training the shipped identity model (``warmpool/identity/trained_model.json``) on sandbox worlds.

A developer tool behind ``warmpool identity train-sandbox-model``: it generates a training world
and a held-out world to choose the threshold on, which is why it lives in the app layer (the
domain never imports the sandbox). Teams with real data retrain on their pool instead
(``warmpool identity retrain``).
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import polars as pl

from sandbox.world import generate_world
from warmpool.identity import MODEL_PATH, TrainedModel, train_model
from warmpool.identity.model import TRAIN_SEED, TUNE_SEED


def sandbox_world(people: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records, truth) of a sandbox world generated into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        generate_world(people=people, seed=seed, home=Path(tmp))
        base = Path(tmp) / "sandbox"
        records = pl.read_csv(base / "exports" / "source_records.csv", infer_schema=False)
        truth = pl.read_csv(base / "truth" / "source_record_person.csv", infer_schema=False)
    return records, truth


def train_sandbox_model(*, people: int = 40_000, seed: int | None = None, tune_people: int = 20_000,
                        tune_seed: int | None = None, records_csv: Path | None = None, truth_csv: Path | None = None,
                        output: Path | None = None) -> TrainedModel:
    """Train on a sandbox world, choose the threshold on another, save to ``output`` (default: the
    shipped model file). Seeds default to the shipped model's (``TRAIN_SEED``, ``TUNE_SEED``).

    With ``records_csv`` (and ``truth_csv`` to tune the threshold), train on that contract CSV
    instead; with one labelled world the threshold is tuned on the training data (optimistic).
    """
    seed = TRAIN_SEED if seed is None else seed
    tune_seed = TUNE_SEED if tune_seed is None else tune_seed
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("splink").setLevel(logging.WARNING)
    if records_csv:
        records = pl.read_csv(records_csv, infer_schema=False)
        truth = pl.read_csv(truth_csv, infer_schema=False) if truth_csv else None
        tune_records, tune_truth = records, truth
        trained_on = str(records_csv)
    else:
        records, _ = sandbox_world(people, seed)
        tune_records, tune_truth = sandbox_world(tune_people, tune_seed)
        trained_on = (f"sandbox world {people} people seed {seed}; threshold tuned on "
                      f"{tune_people} people seed {tune_seed}")
    return train_model(records, output or MODEL_PATH, tune_records=tune_records, tune_truth=tune_truth,
                       trained_on=trained_on)
