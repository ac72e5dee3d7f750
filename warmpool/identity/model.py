"""The Splink 5 model: settings, training, and the saved, versioned model file.

The model file (``trained_model.json`` beside this module) wraps Splink's own settings JSON:
``{"model_version", "normalize_version", "threshold_match_probability", "metrics",
"splink_settings"}``. Resolve loads it and never retrains (training dominates run time: 87 s vs
23 s predict at 1M rows). Bump ``MODEL_VERSION`` whenever comparisons, blocking or features change
and retrain with ``python -m warmpool.identity.model``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule

from warmpool.identity.normalize import NORMALIZE_VERSION, normalize_records

MODEL_VERSION = 1
MODEL_PATH = Path(__file__).with_name("trained_model.json")

# Probability at or above which two records are the same person (connected components).
# Chosen by ``choose_threshold``: train on a 40k-person synthetic sandbox-like world (seed 7), sweep
# THRESHOLD_GRID on a *held-out* world (13,333 people, 28,062 records, seed 1007). Measured
# (model v1): 0.5 -> P 0.978 R 0.984 F1 0.9811; 0.8 -> P 0.987 R 0.980 F1 0.9832 (best);
# 0.9 -> F1 0.9827; 0.99 -> F1 0.9790. F1 is flat from 0.5 to 0.98, so the F1-best value is kept;
# below 0.8 wrong merges grow faster than recall. The sweep is stored in trained_model.json "metrics".
DEFAULT_THRESHOLD = 0.8

log = logging.getLogger(__name__)


def comparisons() -> list:
    """One comparison per evidence family; the most specific level first."""
    first_name = cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            cll.NullLevel("first_name_norm"),
            cll.ExactMatchLevel("first_name_norm").configure(tf_adjustment_column="first_name_norm"),
            # "Bob" / "Robert": same canonical form, or one may stand for the other
            cll.Or(cll.ExactMatchLevel("first_name_canonical"),
                   cll.ArrayIntersectLevel("first_name_aliases", min_intersection=1)).configure(
                label_for_charts="Nickname match"),
            cll.JaroWinklerLevel("first_name_norm", 0.92),
            cll.JaroWinklerLevel("first_name_norm", 0.80),
            cll.ElseLevel(),
        ],
    )
    last_name = cl.CustomComparison(
        output_column_name="last_name",
        comparison_levels=[
            cll.NullLevel("last_name_norm"),
            cll.ExactMatchLevel("last_name_norm").configure(tf_adjustment_column="last_name_norm"),
            cll.JaroWinklerLevel("last_name_norm", 0.92),
            cll.JaroWinklerLevel("last_name_norm", 0.80),
            cll.ElseLevel(),
        ],
    )
    email = cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email_norm"),
            cll.ExactMatchLevel("email_norm").configure(tf_adjustment_column="email_norm"),
            cll.ExactMatchLevel("email_local").configure(label_for_charts="Same mailbox name, other domain"),
            cll.JaroWinklerLevel("email_norm", 0.92),
            cll.ElseLevel(),
        ],
    )
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone_e164"),
            cll.ExactMatchLevel("phone_e164").configure(tf_adjustment_column="phone_e164"),
            cll.CustomLevel("right(phone_e164_l, 7) = right(phone_e164_r, 7)", "Last 7 digits equal"),
            cll.ElseLevel(),
        ],
    )
    location = cl.CustomComparison(
        output_column_name="location",
        comparison_levels=[
            cll.And(cll.NullLevel("city_norm"), cll.NullLevel("region_norm"), cll.NullLevel("country_norm")),
            cll.ExactMatchLevel("city_norm").configure(label_for_charts="Same city"),
            cll.ExactMatchLevel("region_norm").configure(label_for_charts="Same region"),
            cll.ExactMatchLevel("country_norm").configure(label_for_charts="Same country"),
            cll.ElseLevel(),
        ],
    )
    linkedin = cl.ExactMatch("linkedin_slug")
    company = cl.JaroWinklerAtThresholds("company_norm", [0.88])
    title = cl.JaroWinklerAtThresholds("title_norm", [0.88])
    return [first_name, last_name, email, phone, location, linkedin, company, title]


def blocking_rules() -> list:
    """Candidate pairs for prediction. Recall first: any one strong key, or name plus one more hint."""
    return [
        block_on("email_norm"),
        block_on("phone_e164"),
        block_on("linkedin_slug"),
        block_on("email_local", "last_name_norm"),
        block_on("last_name_norm", "substr(first_name_norm, 1, 1)"),
        block_on("last_name_norm", "city_norm"),
        block_on("first_name_canonical", "last_name_metaphone"),      # surname typos
        block_on("first_name_canonical", "city_norm", "substr(last_name_norm, 1, 2)"),
        CustomRule("l.first_name_norm = r.last_name_norm and l.last_name_norm = r.first_name_norm"),  # swapped
    ]


# EM sessions: each blocks on one comparison's own columns only, so that comparison is the one
# left out and no other compared field shares a source column with the block (the STACK note:
# overlap wrecks precision). Together they estimate m for every comparison.
EM_BLOCKING_RULES = (
    block_on("email_norm"),      # trains names, phone, location, linkedin, company, title
    block_on("phone_e164"),      # trains email (and the rest again)
)


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
        max_iterations=20,
    )


@dataclass(frozen=True)
class TrainedModel:
    model_version: int
    normalize_version: int
    threshold_match_probability: float
    splink_settings: dict[str, Any]
    metrics: dict[str, Any]

    @classmethod
    def load(cls, path: Path | str = MODEL_PATH) -> "TrainedModel":
        doc = json.loads(Path(path).read_text())
        if doc.get("normalize_version") != NORMALIZE_VERSION:
            raise RuntimeError(
                f"{path}: model trained on normalisation v{doc.get('normalize_version')}, code is "
                f"v{NORMALIZE_VERSION}; retrain with `python -m warmpool.identity.model`")
        return cls(doc["model_version"], doc["normalize_version"], float(doc["threshold_match_probability"]),
                   doc["splink_settings"], doc.get("metrics", {}))


def features_for_splink(records):
    """Normalised features as an Arrow table (what the DuckDB backend registers fastest)."""
    return normalize_records(records).drop("source", "source_record_id", "skills_list").to_arrow()


def train_model(records_df, path: Path | str | None = MODEL_PATH, *, tune_records=None, tune_truth=None,
                seed: int = 42, u_max_pairs: float = 2e7, em_blocking_rules=EM_BLOCKING_RULES) -> TrainedModel:
    """Train on ``records_df`` (contract columns), save to ``path`` (None: don't save), return it.

    u by random sampling; m by EM over ``em_blocking_rules``. With ``tune_records``/``tune_truth``
    (a *held-out* world: tuning on the training world flatters the threshold) the threshold is
    chosen by ``choose_threshold`` and the sweep is kept in the file; else ``DEFAULT_THRESHOLD``.
    """
    db_api = DuckDBAPI()
    sdf = db_api.register(features_for_splink(records_df), table_name="records")
    linker = Linker(sdf, settings(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email_norm"), block_on("phone_e164"), block_on("linkedin_slug"),
         block_on("first_name_norm", "last_name_norm")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    for rule in em_blocking_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
    splink_settings = linker.misc.save_model_to_json()
    db_api.duckdb_con.close()
    threshold, metrics = DEFAULT_THRESHOLD, {}
    if tune_records is not None and tune_truth is not None:
        threshold, metrics = choose_threshold(splink_settings, tune_records, tune_truth)
    model = TrainedModel(MODEL_VERSION, NORMALIZE_VERSION, threshold, splink_settings, metrics)
    if path is not None:
        doc = {
            "model_version": MODEL_VERSION,
            "normalize_version": NORMALIZE_VERSION,
            "threshold_match_probability": threshold,
            "metrics": metrics,
            "splink_settings": splink_settings,
        }
        Path(path).write_text(json.dumps(doc, indent=1))
    return model


THRESHOLD_GRID = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


def choose_threshold(splink_settings: dict, records_df, truth) -> tuple[float, dict]:
    """Sweep ``THRESHOLD_GRID`` on a labelled world; pick the F1-best (ties -> lower, more recall)."""
    import polars as pl

    from warmpool.identity.evaluate import pairwise_scores
    from warmpool.identity.normalize import to_contract_frame

    keys = to_contract_frame(records_df).select("source", "source_record_id").with_row_index("unique_id")
    keys = keys.with_columns(pl.col("unique_id").cast(pl.Int64))
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(features_for_splink(records_df), table_name="records"), splink_settings,
                    log_level=logging.WARNING)
    preds = linker.inference.predict(threshold_match_probability=min(THRESHOLD_GRID), warning_mode="never")
    sweep = {}
    for t in THRESHOLD_GRID:
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(preds, t)
        c = pl.from_arrow(clusters.as_duckdbpyrelation().select("unique_id, cluster_id").arrow().read_all())
        labelled = keys.join(c.with_columns(pl.col("unique_id").cast(pl.Int64)), on="unique_id")
        s = pairwise_scores(labelled, truth, predicted_col="cluster_id")
        sweep[str(t)] = {"precision": round(s.precision, 5), "recall": round(s.recall, 5), "f1": round(s.f1, 5)}
        log.info("threshold %s: %s", t, s.describe())
    db_api.duckdb_con.close()
    best = max(THRESHOLD_GRID, key=lambda t: (sweep[str(t)]["f1"], -t))
    return best, {"threshold_sweep": sweep, "chosen": {"threshold": best, **sweep[str(best)]},
                  "tuned_on_records": keys.height}


def main() -> None:  # pragma: no cover - a maintenance command
    """Retrain on a synthetic sandbox-like world (the real sandbox's truth once available)."""
    import argparse

    from warmpool.identity.synthetic import generate_records

    p = argparse.ArgumentParser(description="Retrain the identity model and save it.")
    p.add_argument("--people", type=int, default=40_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--records-csv", help="train on this contract CSV instead (with --truth-csv to tune)")
    p.add_argument("--truth-csv")
    p.add_argument("--output", default=str(MODEL_PATH))
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO)
    if a.records_csv:
        import polars as pl
        records = pl.read_csv(a.records_csv, infer_schema=False)
        truth = pl.read_csv(a.truth_csv, infer_schema=False) if a.truth_csv else None
        tune_records, tune_truth = (records, truth)  # one labelled world: tune on it (optimistic)
    else:
        records, _ = generate_records(a.people, a.seed)
        tune_records, tune_truth = generate_records(max(5_000, a.people // 3), a.seed + 1000)  # held out
    m = train_model(records, a.output, tune_records=tune_records, tune_truth=tune_truth)
    print(json.dumps({"model_version": m.model_version, **m.metrics.get("chosen", {})}))


if __name__ == "__main__":  # pragma: no cover
    main()
