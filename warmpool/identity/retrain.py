"""Training the model, retraining it on the customer's own pool, and promoting it.

``train_model`` estimates a model on records of candidates: u by random sampling, m by EM, and,
given a *held-out* labelled world, the threshold (``choose_threshold``). The shipped model
(``trained_model.json``) was trained on sandbox worlds by ``warmpool identity train-sandbox-model``.

A team with real data retrains on its own records (``retrain_on_pool``): the model is adapted to
the pool as ``warmpool resolve --model adapt`` adapts it to a file (``estimate.adapt_model``: λ, u and
m re-estimated, the threshold chosen from the model's own score distribution, no labels needed), and
the result is written as a *candidate* with the next model version, beside a comparison with today's
assignments (``warmpool resolve --save-model`` writes the same kind of file). Nothing changes until someone promotes it (``promote_model``, `warmpool identity
promote-model`), which replaces the repo's model file — commit it, so the model stays versioned in
git. A new version makes the next run a full re-resolve (incremental runs require an unchanged model).
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from splink import block_on

from warmpool.identity.clustering import components
from warmpool.identity.estimate import estimate_settings, profile_features
from warmpool.identity.evaluate import pairwise_scores
from warmpool.identity.features import features_for_model
from warmpool.identity.model import MODEL_PATH, MODEL_VERSION, TrainedModel, load_model, model_settings
from warmpool.identity.normalize import NORMALIZE_VERSION, normalize_records, to_contract_frame
from warmpool.identity.resolve import resolve_records
from warmpool.identity.scoring import score_links
from warmpool.identity.store import IdentityStore

log = logging.getLogger(__name__)

# Probability at or above which two records are the same person (connected components), used only
# when a model is trained without a labelled held-out world. The saved model's threshold is chosen
# by ``choose_threshold``: train on sandbox world (40k people, seed 11), sweep THRESHOLD_GRID on a
# *held-out* sandbox world (20k people, seed 41); the F1-best is kept, the sweep is stored in
# trained_model.json "metrics". Model v2: the file's "threshold_sweep" and "chosen" (0.999, F1
# 0.995 on the tuning world) are the record of that choice. High thresholds win because the graph is
# clustered by connected components: one wrong edge joins two whole people, so precision of edges
# matters more than the last bit of recall. Test worlds (seeds 21, 31, ...) are never read here.
DEFAULT_THRESHOLD = 0.8

# EM sessions of the shipped model: each blocks on one comparison's own columns only, so that
# comparison is the one left out and no other compared field shares a source column with the block
# (a block overlapping the columns a field is derived from wrecked precision: 0.37 in one try).
# Together they estimate m for every comparison.
EM_BLOCKING_RULES = (
    ("email", block_on("email_norm")),      # trains names, phone, location, linkedin, company, title
    ("phone", block_on("phone_e164")),      # trains email (and the rest again)
)


def train_model(records_df, path: Path | str | None = MODEL_PATH, *, tune_records=None, tune_truth=None,
                seed: int = 42, u_max_pairs: float = 2e7, em_blocking_rules=None,
                trained_on: str = "") -> TrainedModel:
    """Train on ``records_df`` (contract columns), save to ``path`` (None: don't save), return it.

    u by random sampling; m by EM over ``em_blocking_rules`` (``(name, rule)`` pairs; default
    ``EM_BLOCKING_RULES``, or date of birth and names when the data has a date of birth) with
    ``estimate.estimate_settings``, the routine adaptation uses too. With
    ``tune_records``/``tune_truth`` (a *held-out* world: tuning on the training world flatters the
    threshold) the threshold is chosen by ``choose_threshold`` and the sweep is kept in the file;
    else ``DEFAULT_THRESHOLD``. The metrics keep the training data's profile
    (``estimate.profile_features``), which ``warmpool resolve --model auto`` compares inputs with.
    """
    features = normalize_records(records_df)
    profile = profile_features(features)
    optional = profile.optional
    if em_blocking_rules is None:
        em_blocking_rules = EM_BLOCKING_RULES
        if "dob_norm" in optional:  # no email/phone: names, address, postcode and dob train each other
            em_blocking_rules = (("date of birth", block_on("dob_norm")),
                                 ("names", block_on("first_name_norm", "last_name_norm")))
    deterministic = [block_on("email_norm"), block_on("phone_e164"), block_on("linkedin_slug"),
                     block_on("first_name_norm", "last_name_norm")]
    if "dob_norm" in optional:
        deterministic.append(block_on("dob_norm", "last_name_norm"))
    splink_settings, _ = estimate_settings(
        features, model_settings(optional).create_settings_dict("duckdb"), em_rules=em_blocking_rules,
        deterministic_rules=deterministic, seed=seed, u_max_pairs=u_max_pairs, em_max_pairs=None)
    threshold, metrics = DEFAULT_THRESHOLD, {}
    model = TrainedModel(MODEL_VERSION, NORMALIZE_VERSION, threshold, splink_settings, metrics)
    if tune_records is not None and tune_truth is not None:
        threshold, metrics = choose_threshold(model, tune_records, tune_truth)
    metrics = {"trained_on": trained_on, "trained_on_records": features.height, "profile": profile.as_dict(),
               **metrics}
    model = TrainedModel(MODEL_VERSION, NORMALIZE_VERSION, threshold, splink_settings, metrics)
    if path is not None:
        model.save(path)
    return model


THRESHOLD_GRID = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999)


def choose_threshold(model: TrainedModel, records_df, truth, grid=THRESHOLD_GRID) -> tuple[float, dict]:
    """Sweep ``grid`` on a labelled held-out world; pick the F1-best (ties -> lower, more recall)."""
    contract = to_contract_frame(records_df)
    features = features_for_model(contract, model)
    edges = score_links(features, model, threshold=min(grid))
    keys = contract.select("source", "source_record_id")
    sweep = {}
    for t in grid:
        comp = components(features.height, edges.filter(pl.col("match_probability") >= t))
        s = pairwise_scores(keys.with_columns(pl.Series("cluster_id", comp)), truth, predicted_col="cluster_id")
        sweep[str(t)] = {"precision": round(s.precision, 5), "recall": round(s.recall, 5), "f1": round(s.f1, 5)}
        log.info("threshold %s: %s", t, s.describe())
    best = max(grid, key=lambda t: (sweep[str(t)]["f1"], -t))
    return best, {"threshold_sweep": sweep, "chosen": {"threshold": best, **sweep[str(best)]},
                  "tuned_on_records": keys.height}


@dataclass
class RetrainReport:
    candidate_path: Path
    model_version: int
    records: int
    persons_current: int | None
    persons_candidate: int
    agreement_f1: float | None  # pairwise F1 of the candidate's people against today's
    model: str = ""             # how it was estimated (estimate.ModelChoice.describe)
    threshold: str = ""         # its threshold and the precision / recall it expects

    def describe(self) -> str:
        now = f"{self.persons_current:,}" if self.persons_current is not None else "n/a"
        agree = f"{self.agreement_f1:.4f}" if self.agreement_f1 is not None else "n/a"
        return (f"candidate model v{self.model_version} trained on {self.records:,} records -> {self.candidate_path}\n"
                f"{self.model}\n{self.threshold}\n"
                f"people today: {now}; with the candidate: {self.persons_candidate:,}; "
                f"pairwise agreement with today's people (F1): {agree}\n"
                f"promote with: warmpool identity promote-model {self.candidate_path}")


def retrain_on_pool(con, candidate_path: Path) -> RetrainReport:
    """Adapt the model to the pool's records (``estimate.adapt_model``, its threshold from its own
    score distribution, exactly what ``warmpool resolve --model adapt`` does) and write it as a
    candidate beside a comparison with today's people. Read-only on the warehouse."""
    store = IdentityStore(con)
    records = store.source_records()
    current = load_model()
    run = resolve_records(to_contract_frame(records), mode="adapt", model=current)
    candidate_path = Path(candidate_path)
    run.model.save(candidate_path, model_version=current.model_version + 1)
    resolved = run.assignments
    persons_current = agreement = None
    today = store.assignments()
    if today is not None:
        today = today.rename({"person_id": "true_person_id"})
        persons_current = today["true_person_id"].n_unique()
        agreement = pairwise_scores(resolved, today).f1
    return RetrainReport(candidate_path, current.model_version + 1, records.height, persons_current,
                         resolved["person_id"].n_unique(), agreement, run.choice.describe(), run.threshold.describe())


def promote_model(candidate_path: Path, target: Path = MODEL_PATH) -> TrainedModel:
    """Replace the model every run loads with a reviewed candidate (refuses one that does not load)."""
    model = TrainedModel.load(candidate_path)
    current = TrainedModel.load(target) if Path(target).exists() else None
    if current is not None and model.model_version <= current.model_version:
        raise ValueError(f"{candidate_path}: model version {model.model_version} is not newer than "
                         f"the current {current.model_version}")
    shutil.copyfile(candidate_path, target)
    return model
