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

MODEL_VERSION = 2
MODEL_PATH = Path(__file__).with_name("trained_model.json")

# Probability at or above which two records are the same person (connected components), used only
# when a model is trained without a labelled held-out world. The saved model's threshold is chosen
# by ``choose_threshold``: train on sandbox world (40k people, seed 11), sweep THRESHOLD_GRID on a
# *held-out* sandbox world (20k people, seed 41); the F1-best is kept, the sweep is stored in
# trained_model.json "metrics". Model v2: the file's "threshold_sweep" and "chosen" (0.999, F1
# 0.995 on the tuning world) are the record of that choice. High thresholds win because the graph is
# clustered by connected components: one wrong edge joins two whole people, so precision of edges
# matters more than the last bit of recall. Test worlds (seeds 21, 31, ...) are never read here.
DEFAULT_THRESHOLD = 0.8

log = logging.getLogger(__name__)


# First names that may be the same person's: equal, nickname-related, close spelling, or an initial.
# Used to decide whether a shared phone counts (see the phone comparison).
_FIRST_NAMES_COMPATIBLE = (
    "(first_name_norm_l IS NULL OR first_name_norm_r IS NULL"
    " OR first_name_canonical_l = first_name_canonical_r"
    " OR list_has_any(first_name_aliases_l, first_name_aliases_r)"
    " OR jaro_winkler_similarity(first_name_norm_l, first_name_norm_r) >= 0.8"
    " OR ((length(first_name_norm_l) = 1 OR length(first_name_norm_r) = 1)"
    "     AND left(first_name_norm_l, 1) = left(first_name_norm_r, 1)))"
)


def comparisons(optional: tuple[str, ...] = ()) -> list:
    """One comparison per evidence family; the most specific level first.

    ``optional``: the normalised optional features (``dob_norm``, ``address_norm``,
    ``postcode_norm``) the training data carries; each adds a comparison.
    """
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
            cll.CustomLevel("(length(first_name_norm_l) = 1 OR length(first_name_norm_r) = 1) AND "
                            "left(first_name_norm_l, 1) = left(first_name_norm_r, 1)", "Initial matches"),
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
            # checked before "same mailbox name": namesakes often have first.last@ at two providers
            cll.CustomLevel("email_freemail_l AND email_freemail_r", "Two different personal addresses"),
            cll.ExactMatchLevel("email_local").configure(label_for_charts="Same mailbox name, other domain"),
            cll.ElseLevel(),
        ],
    )
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone_e164"),
            cll.CustomLevel(f"phone_e164_l = phone_e164_r AND {_FIRST_NAMES_COMPATIBLE}",
                            "Same phone, compatible first names").configure(tf_adjustment_column="phone_e164"),
            # A household line shared by relatives: a shared phone says nothing once the first names
            # disagree (the first-name comparison already counts the disagreement). Fixed at weight 0
            # because neither EM nor random sampling sees enough of these pairs to estimate them.
            cll.CustomLevel("phone_e164_l = phone_e164_r", "Same phone, other first name").configure(
                m_probability=1e-6, u_probability=1e-6, fix_m_probability=True, fix_u_probability=True),
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
    out = [first_name, last_name, email, phone, location, linkedin, company, title]
    if "dob_norm" in optional:
        out.append(cl.CustomComparison(output_column_name="date_of_birth", comparison_levels=[
            cll.NullLevel("dob_norm"),
            cll.ExactMatchLevel("dob_norm"),
            cll.DamerauLevenshteinLevel("dob_norm", 1),
            # day and month typed the other way round
            cll.CustomLevel("left(dob_norm_l, 4) = left(dob_norm_r, 4) AND substr(dob_norm_l, 5, 2) = "
                            "right(dob_norm_r, 2) AND right(dob_norm_l, 2) = substr(dob_norm_r, 5, 2)", "Day/month swapped"),
            cll.DamerauLevenshteinLevel("dob_norm", 2),
            cll.ElseLevel(),
        ]))
    if "address_norm" in optional:
        out.append(cl.CustomComparison(output_column_name="address", comparison_levels=[
            cll.NullLevel("address_norm"),
            cll.ExactMatchLevel("address_norm").configure(tf_adjustment_column="address_norm"),
            cll.JaroWinklerLevel("address_norm", 0.9),
            cll.JaroWinklerLevel("address_norm", 0.7),
            cll.ElseLevel(),
        ]))
    if "postcode_norm" in optional:
        out.append(cl.CustomComparison(output_column_name="postcode", comparison_levels=[
            cll.NullLevel("postcode_norm"),
            cll.ExactMatchLevel("postcode_norm").configure(tf_adjustment_column="postcode_norm"),
            cll.DamerauLevenshteinLevel("postcode_norm", 1),
            cll.ElseLevel(),
        ]))
    return out


def blocking_rules(optional: tuple[str, ...] = ()) -> list:
    """Candidate pairs for prediction. Recall first: any one strong key, or name plus one more hint.

    Each rule is an equi-join on keys that are rare at 1M records (a surname alone is not: "smith"
    x "smith" would be millions of pairs), so the count of compared pairs grows ~linearly.
    """
    rules = [
        block_on("email_norm"),
        block_on("phone_e164"),
        block_on("linkedin_slug"),
        block_on("email_local", "last_name_norm"),
        block_on("last_name_norm", "first_name_canonical"),
        block_on("last_name_norm", "substr(first_name_norm, 1, 1)", "city_norm"),
        block_on("first_name_canonical", "last_name_metaphone"),      # surname typos
        block_on("first_name_canonical", "city_norm", "substr(last_name_norm, 1, 2)"),
        CustomRule("l.first_name_norm = r.last_name_norm and l.last_name_norm = r.first_name_norm"),  # swapped
    ]
    if "dob_norm" in optional:
        rules += [block_on("dob_norm", "substr(last_name_norm, 1, 1)"), block_on("dob_norm", "substr(first_name_norm, 1, 1)")]
        if "postcode_norm" in optional:
            rules.append(block_on("dob_norm", "postcode_norm"))
    if "postcode_norm" in optional:
        rules += [block_on("postcode_norm", "first_name_canonical"), block_on("postcode_norm", "last_name_norm")]
    if "address_norm" in optional:
        rules.append(block_on("address_norm"))
    return rules


# EM sessions: each blocks on one comparison's own columns only, so that comparison is the one
# left out and no other compared field shares a source column with the block (the STACK note:
# overlap wrecks precision). Together they estimate m for every comparison.
EM_BLOCKING_RULES = (
    block_on("email_norm"),      # trains names, phone, location, linkedin, company, title
    block_on("phone_e164"),      # trains email (and the rest again)
)


def settings(optional: tuple[str, ...] = ()) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons(optional),
        blocking_rules_to_generate_predictions=blocking_rules(optional),
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


def optional_features_present(features) -> tuple[str, ...]:
    """Optional features with at least one value in the training data: the model compares those."""
    return tuple(c for c in ("dob_norm", "address_norm", "postcode_norm")
                 if c in features.column_names and features.column(c).null_count < len(features))


def train_model(records_df, path: Path | str | None = MODEL_PATH, *, tune_records=None, tune_truth=None,
                seed: int = 42, u_max_pairs: float = 2e7, em_blocking_rules=None,
                trained_on: str = "") -> TrainedModel:
    """Train on ``records_df`` (contract columns), save to ``path`` (None: don't save), return it.

    u by random sampling; m by EM over ``em_blocking_rules`` (default ``EM_BLOCKING_RULES``, plus
    date-of-birth sessions when the data has one). With ``tune_records``/``tune_truth`` (a
    *held-out* world: tuning on the training world flatters the threshold) the threshold is chosen
    by ``choose_threshold`` and the sweep is kept in the file; else ``DEFAULT_THRESHOLD``.
    """
    features = features_for_splink(records_df)
    optional = optional_features_present(features)
    if em_blocking_rules is None:
        em_blocking_rules = EM_BLOCKING_RULES
        if "dob_norm" in optional:  # no email/phone: names, address, postcode and dob train each other
            em_blocking_rules = (block_on("dob_norm"), block_on("first_name_norm", "last_name_norm"))
    db_api = DuckDBAPI()
    sdf = db_api.register(features, table_name="records")
    linker = Linker(sdf, settings(optional), log_level=logging.WARNING)
    deterministic = [block_on("email_norm"), block_on("phone_e164"), block_on("linkedin_slug"),
                     block_on("first_name_norm", "last_name_norm")]
    if "dob_norm" in optional:
        deterministic.append(block_on("dob_norm", "last_name_norm"))
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    for rule in em_blocking_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
    splink_settings = linker.misc.save_model_to_json()
    db_api.duckdb_con.close()
    threshold, metrics = DEFAULT_THRESHOLD, {}
    model = TrainedModel(MODEL_VERSION, NORMALIZE_VERSION, threshold, splink_settings, metrics)
    if tune_records is not None and tune_truth is not None:
        threshold, metrics = choose_threshold(model, tune_records, tune_truth)
    metrics = {"trained_on": trained_on, "trained_on_records": features.num_rows, **metrics}
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


THRESHOLD_GRID = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999)


def choose_threshold(model: TrainedModel, records_df, truth, grid=THRESHOLD_GRID) -> tuple[float, dict]:
    """Sweep ``grid`` on a labelled held-out world; pick the F1-best (ties -> lower, more recall)."""
    import polars as pl

    from warmpool.identity.evaluate import pairwise_scores
    from warmpool.identity.matching import components, features_for_model, score_edges
    from warmpool.identity.normalize import to_contract_frame

    contract = to_contract_frame(records_df)
    features = features_for_model(contract, model)
    edges = score_edges(features, model, threshold=min(grid))
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


def sandbox_world(people: int, seed: int):
    """(records, truth) of a sandbox world generated into a temporary folder."""
    import tempfile

    import polars as pl

    from sandbox.world import generate_world

    with tempfile.TemporaryDirectory() as tmp:
        generate_world(people=people, seed=seed, home=Path(tmp))
        base = Path(tmp) / "sandbox"
        records = pl.read_csv(base / "exports" / "source_records.csv", infer_schema=False)
        truth = pl.read_csv(base / "truth" / "source_record_person.csv", infer_schema=False)
    return records, truth


# Seeds: the saved model trains on TRAIN_SEED and picks its threshold on TUNE_SEED. Tests and
# benchmarks evaluate on other seeds only.
TRAIN_SEED, TUNE_SEED = 11, 41


def main() -> None:  # pragma: no cover - a maintenance command
    """Retrain on a sandbox world, choose the threshold on another, save trained_model.json."""
    import argparse

    p = argparse.ArgumentParser(description="Retrain the identity model and save it.")
    p.add_argument("--people", type=int, default=40_000)
    p.add_argument("--seed", type=int, default=TRAIN_SEED)
    p.add_argument("--tune-people", type=int, default=20_000)
    p.add_argument("--tune-seed", type=int, default=TUNE_SEED)
    p.add_argument("--records-csv", help="train on this contract CSV instead (with --truth-csv to tune)")
    p.add_argument("--truth-csv")
    p.add_argument("--output", default=str(MODEL_PATH))
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("splink").setLevel(logging.WARNING)
    if a.records_csv:
        import polars as pl
        records = pl.read_csv(a.records_csv, infer_schema=False)
        truth = pl.read_csv(a.truth_csv, infer_schema=False) if a.truth_csv else None
        tune_records, tune_truth = (records, truth)  # one labelled world: tune on it (optimistic)
        trained_on = a.records_csv
    else:
        records, _ = sandbox_world(a.people, a.seed)
        tune_records, tune_truth = sandbox_world(a.tune_people, a.tune_seed)
        trained_on = (f"sandbox world {a.people} people seed {a.seed}; threshold tuned on "
                      f"{a.tune_people} people seed {a.tune_seed}")
    m = train_model(records, a.output, tune_records=tune_records, tune_truth=tune_truth, trained_on=trained_on)
    print(json.dumps({"model_version": m.model_version, **m.metrics.get("chosen", {})}))


if __name__ == "__main__":  # pragma: no cover
    main()
