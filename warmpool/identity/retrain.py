"""Retraining the identity model on the customer's own pool, and promoting it.

The sandbox-trained model ships in the repo (`trained_model.json`). A team with real data retrains
on its own records: m and u are re-estimated (EM, random sampling) on the pool, the current
threshold is kept (there is no labelled truth to re-tune it on), and the result is written as a
*candidate* with the next model version, beside a comparison with today's assignments. Nothing
changes until someone promotes it (`warmpool identity promote-model`), which replaces the repo's
model file — commit it, so the model stays versioned in git. A new version makes the next run a
full re-resolve (incremental runs require an unchanged model).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from warmpool import tables
from warmpool.identity.evaluate import pairwise_scores
from warmpool.identity.model import MODEL_PATH, TrainedModel, train_model
from warmpool.identity.normalize import CONTRACT_COLUMNS
from warmpool.identity.resolve import load_model, resolve_frame
from warmpool.warehouse import table_exists


@dataclass
class RetrainReport:
    candidate_path: Path
    model_version: int
    records: int
    persons_current: int | None
    persons_candidate: int
    agreement_f1: float | None  # pairwise F1 of the candidate's people against today's

    def describe(self) -> str:
        now = f"{self.persons_current:,}" if self.persons_current is not None else "n/a"
        agree = f"{self.agreement_f1:.4f}" if self.agreement_f1 is not None else "n/a"
        return (f"candidate model v{self.model_version} trained on {self.records:,} records -> {self.candidate_path}\n"
                f"people today: {now}; with the candidate: {self.persons_candidate:,}; "
                f"pairwise agreement with today's people (F1): {agree}\n"
                f"promote with: warmpool identity promote-model {self.candidate_path}")


def retrain_on_pool(con, candidate_path: Path) -> RetrainReport:
    cols = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in CONTRACT_COLUMNS)
    records = pl.from_arrow(con.sql(f"SELECT {cols} FROM {tables.SOURCE_RECORDS}").arrow().read_all())
    current = load_model()
    trained = train_model(records, None, trained_on=f"warehouse pool ({records.height:,} records)")
    candidate = TrainedModel(current.model_version + 1, trained.normalize_version,
                             current.threshold_match_probability, trained.splink_settings, trained.metrics)
    candidate_path = Path(candidate_path)
    candidate_path.parent.mkdir(parents=True, exist_ok=True)
    candidate_path.write_text(json.dumps({
        "model_version": candidate.model_version,
        "normalize_version": candidate.normalize_version,
        "threshold_match_probability": candidate.threshold_match_probability,
        "metrics": {**trained.metrics, "threshold_kept_from_version": current.model_version},
        "splink_settings": candidate.splink_settings,
    }, indent=1))

    resolved = resolve_frame(records, model=candidate)
    persons_current = agreement = None
    if table_exists(con, tables.PERSON_ASSIGNMENTS):
        today = pl.from_arrow(con.sql(
            f"SELECT source, source_record_id, person_id AS true_person_id FROM {tables.PERSON_ASSIGNMENTS}"
        ).arrow().read_all())
        persons_current = today["true_person_id"].n_unique()
        agreement = pairwise_scores(resolved, today).f1
    return RetrainReport(candidate_path, candidate.model_version, records.height, persons_current,
                         resolved["person_id"].n_unique(), agreement)


def promote_model(candidate_path: Path, target: Path = MODEL_PATH) -> TrainedModel:
    """Replace the model every run loads with a reviewed candidate (refuses one that does not load)."""
    model = TrainedModel.load(candidate_path)
    current = TrainedModel.load(target) if Path(target).exists() else None
    if current is not None and model.model_version <= current.model_version:
        raise ValueError(f"{candidate_path}: model version {model.model_version} is not newer than "
                         f"the current {current.model_version}")
    shutil.copyfile(candidate_path, target)
    return model
