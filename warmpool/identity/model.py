"""The Splink 5 model: what it compares, how it blocks, and the saved, versioned model file.

The model file (``trained_model.json`` beside this module) wraps Splink's own settings JSON:
``{"model_version", "normalize_version", "threshold_match_probability", "metrics",
"splink_settings"}``. Every run loads it (``load_model``) and never retrains (training dominates run
time: 87 s vs 23 s predict at 1M rows). Bump ``MODEL_VERSION`` whenever comparisons, blocking or
features change and retrain (``retrain.train_model``; the shipped model with
``warmpool identity train-sandbox-model``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule

from warmpool.identity.normalize import NORMALIZE_VERSION

MODEL_VERSION = 3
MODEL_PATH = Path(__file__).with_name("trained_model.json")

# Seeds: the shipped model trains on the sandbox world of TRAIN_SEED and picks its threshold on the
# world of TUNE_SEED. Tests and benchmarks evaluate on other seeds only.
TRAIN_SEED, TUNE_SEED = 11, 41


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


# A level whose agreement says nothing beyond what another comparison already counted: weight 0,
# fixed, because neither EM nor random sampling can tell its m from its u.
_NO_EVIDENCE = {"m_probability": 1e-6, "u_probability": 1e-6, "fix_m_probability": True, "fix_u_probability": True}
_NAMES_SWAPPED = "first_name_norm_l = last_name_norm_r AND last_name_norm_l = first_name_norm_r"
# a name cut short ("Dar" / "Darlene"): at least two letters, the start of the other
_PREFIX = ("least(length({col}_l), length({col}_r)) >= 2 AND "
           "(starts_with({col}_l, {col}_r) OR starts_with({col}_r, {col}_l))")


SAME_ADDRESS_SAME_SURNAME = "Same address and surname (a household)"
NAMES_SWAPPED = "First and last name swapped"
# Levels whose agreement overlaps another comparison's: their weight is made conditional on it after
# estimation (estimate.conditional_weights): {level label: (comparison, label of the level it overlaps)}.
# The household level counts only what sharing the address adds to sharing the surname; a swapped
# name counts like an exact first name (a common name swapped is no rarer than in order).
CONDITIONAL_LEVELS = {
    SAME_ADDRESS_SAME_SURNAME: ("last_name", "Exact match on last_name_norm"),
}
TIED_LEVELS = {
    NAMES_SWAPPED: ("first_name", "Exact match on first_name_norm"),
}


def comparisons(optional: tuple[str, ...] = ()) -> list:
    """One comparison per evidence family; the most specific level first.

    ``optional``: the optional features (``features.OPTIONAL_FEATURES``: ``dob_norm``,
    ``address_norm``, ``postcode_norm``, ``middle_name_norm``, ``email_list``, ``phone_list``) the data
    carries; each adds a comparison or a level.
    """
    first_name = cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            cll.NullLevel("first_name_norm"),
            cll.ExactMatchLevel("first_name_norm").configure(tf_adjustment_column="first_name_norm"),
            # first and last name written the other way round: counted here, at 0 in last_name
            cll.CustomLevel(_NAMES_SWAPPED, NAMES_SWAPPED),
            # "Bob" / "Robert": same canonical form, or one may stand for the other
            cll.Or(cll.ExactMatchLevel("first_name_canonical"),
                   cll.ArrayIntersectLevel("first_name_aliases", min_intersection=1)).configure(
                label_for_charts="Nickname match"),
            cll.JaroWinklerLevel("first_name_norm", 0.92),
            cll.JaroWinklerLevel("first_name_norm", 0.80),
            cll.CustomLevel("(length(first_name_norm_l) = 1 OR length(first_name_norm_r) = 1) AND "
                            "left(first_name_norm_l, 1) = left(first_name_norm_r, 1)", "Initial matches"),
            cll.CustomLevel(_PREFIX.format(col="first_name_norm"), "One is the start of the other (cut short)"),
            cll.ElseLevel(),
        ],
    )
    last_name = cl.CustomComparison(
        output_column_name="last_name",
        comparison_levels=[
            cll.NullLevel("last_name_norm"),
            cll.ExactMatchLevel("last_name_norm").configure(tf_adjustment_column="last_name_norm"),
            cll.CustomLevel(_NAMES_SWAPPED, "First and last name swapped (counted in first_name)").configure(
                **_NO_EVIDENCE),
            cll.JaroWinklerLevel("last_name_norm", 0.92),
            cll.JaroWinklerLevel("last_name_norm", 0.80),
            cll.CustomLevel(_PREFIX.format(col="last_name_norm"), "One is the start of the other (cut short)"),
            cll.ElseLevel(),
        ],
    )
    several_emails = "email_list" in optional
    email = cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email_norm"),
            cll.ExactMatchLevel("email_norm").configure(tf_adjustment_column="email_norm"),
            *([cll.ArrayIntersectLevel("email_list", min_intersection=1).configure(
                label_for_charts="Another address in common")] if several_emails else []),
            # checked before "same mailbox name": namesakes often have first.last@ at two providers
            cll.CustomLevel("email_freemail_l AND email_freemail_r", "Two different personal addresses"),
            # The conditional level: a mailbox name made of the person's names (maria.garcia@ at two
            # employers) is what namesakes share too, so given that the names agree it is no evidence
            # of one person. Counted at 0 (the name comparisons hold that evidence).
            cll.CustomLevel("email_local_l = email_local_r AND (email_local_is_name_l OR email_local_is_name_r)",
                            "Same mailbox name made of the names, other domain").configure(**_NO_EVIDENCE),
            cll.ExactMatchLevel("email_local").configure(label_for_charts="Same distinctive mailbox name, other domain"),
            # a typo in the address ("rachml430691@" for "rachel430691@"); two personal addresses and
            # mailboxes made of the names were caught above
            cll.CustomLevel("jaro_winkler_similarity(email_norm_l, email_norm_r) >= 0.92 AND "
                            "NOT coalesce(email_local_is_name_l OR email_local_is_name_r, false)",
                            "Similar distinctive address (a typo)"),
            cll.ElseLevel(),
        ],
    )
    several_phones = "phone_list" in optional
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone_e164"),
            cll.CustomLevel(f"phone_e164_l = phone_e164_r AND {_FIRST_NAMES_COMPATIBLE}",
                            "Same phone, compatible first names").configure(tf_adjustment_column="phone_e164"),
            *([cll.CustomLevel(f"list_has_any(phone_list_l, phone_list_r) AND {_FIRST_NAMES_COMPATIBLE}",
                               "Another phone in common, compatible first names")] if several_phones else []),
            # the same digits written so that one parse failed ("14 03 55 50 10 09 45 9" and
            # "+1-403-555-0100 x9459": the number and its extension)
            cll.CustomLevel(f"phone_digits_l = phone_digits_r AND {_FIRST_NAMES_COMPATIBLE}",
                            "Same digits, compatible first names"),
            # A household line shared by relatives: a shared phone says nothing once the first names
            # disagree (the first-name comparison already counts the disagreement). (Splink also reads
            # this level as the exact match the term-frequency adjustment above refers to.)
            cll.CustomLevel("phone_e164_l = phone_e164_r", "Same phone, other first name").configure(**_NO_EVIDENCE),
            *([cll.CustomLevel("list_has_any(phone_list_l, phone_list_r)", "Another phone in common, other first "
                               "name").configure(**_NO_EVIDENCE)] if several_phones else []),
            cll.CustomLevel("right(phone_e164_l, 7) = right(phone_e164_r, 7)", "Last 7 digits equal"),
            cll.ElseLevel(),
        ],
    )
    location = cl.CustomComparison(
        output_column_name="location",
        comparison_levels=[
            cll.And(cll.NullLevel("city_norm"), cll.NullLevel("region_norm"), cll.NullLevel("country_norm")),
            cll.ExactMatchLevel("city_norm").configure(label_for_charts="Same city"),
            cll.JaroWinklerLevel("city_norm", 0.88).configure(label_for_charts="Similar city (a typo)"),
            cll.ExactMatchLevel("region_norm").configure(label_for_charts="Same region"),
            cll.ExactMatchLevel("country_norm").configure(label_for_charts="Same country"),
            cll.ElseLevel(),
        ],
    )
    linkedin = cl.ExactMatch("linkedin_slug")
    company = cl.JaroWinklerAtThresholds("company_norm", [0.88])
    title = cl.JaroWinklerAtThresholds("title_norm", [0.88])
    out = [first_name, last_name, email, phone, location, linkedin, company, title]
    if "middle_name_norm" in optional:
        out.append(cl.CustomComparison(output_column_name="middle_name", comparison_levels=[
            cll.NullLevel("middle_name_norm"),
            cll.ExactMatchLevel("middle_name_norm"),
            cll.CustomLevel("left(middle_name_norm_l, 1) = left(middle_name_norm_r, 1)", "Same initial"),
            cll.ElseLevel(),
        ]))
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
            # relatives share a home and a surname: given the surnames agree, the same address is
            # weaker evidence than the two agreements counted apart (conditional level, see CONDITIONAL_LEVELS)
            cll.CustomLevel("address_norm_l = address_norm_r AND last_name_norm_l = last_name_norm_r",
                            SAME_ADDRESS_SAME_SURNAME),
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


def model_settings(optional: tuple[str, ...] = ()) -> SettingsCreator:
    """Splink settings of a model comparing the base features plus ``optional`` ones (untrained)."""
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
                f"v{NORMALIZE_VERSION}; retrain with `warmpool identity train-sandbox-model`")
        return cls(doc["model_version"], doc["normalize_version"], float(doc["threshold_match_probability"]),
                   doc["splink_settings"], doc.get("metrics", {}))


    def document(self, *, model_version: int | None = None) -> dict:
        """The model file's content (``model_version`` overrides this model's, e.g. for a candidate)."""
        return {"model_version": self.model_version if model_version is None else model_version,
                "normalize_version": self.normalize_version,
                "threshold_match_probability": self.threshold_match_probability,
                "metrics": self.metrics, "splink_settings": self.splink_settings}

    def save(self, path: Path | str, *, model_version: int | None = None) -> Path:
        """Write the model file (what ``load`` reads and ``warmpool identity promote-model`` installs)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.document(model_version=model_version), indent=1))
        return path


_MODEL_CACHE: dict[str, TrainedModel] = {}


def load_model(path: Path | str = MODEL_PATH) -> TrainedModel:
    """The saved model (cached per path: loading is cheap but resolve may run many times)."""
    key = str(path)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = TrainedModel.load(path)
    return _MODEL_CACHE[key]


def settings_for_size(model: TrainedModel, records: int) -> dict:
    """The model's Splink settings with the prior scaled to a run of ``records`` records.

    ``probability_two_random_records_match`` is a per-*pair* rate: a person has about the same
    number of duplicates in a pool of 60k records as in one of 1M, but there are 280x more pairs,
    so a prior estimated on the training world overstates the chance of a match ~15x at 1M
    (measured: precision 0.82 at 1M with the training world's prior). Scaled by
    (n_train - 1) / (n - 1), capped at 1e-2 for tiny batches.
    """
    s = dict(model.splink_settings)
    n_train = int(model.metrics.get("trained_on_records") or 0)
    if n_train > 1 and records > 1:
        p = float(s["probability_two_random_records_match"]) * (n_train - 1) / (records - 1)
        s["probability_two_random_records_match"] = min(p, 1e-2)
    return s
