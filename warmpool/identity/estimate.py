"""Fitting the model to the input in front of it: does the saved model fit, and if not, re-estimate.

The saved model (``trained_model.json``) learnt its weights on the sandbox's records: which columns
are filled, how often two strangers share a first name or a city, how noisy each field is. A
company's own export can differ in every one of those. ``choose_model`` decides per run:

- ``saved``: the saved model as it is;
- ``adapt``: re-estimated on the input (``adapt_model``): u-probabilities by random sampling of record
  pairs, m-probabilities by EM over blocking rules chosen from the populated columns (each EM session
  blocks on one family of columns and so leaves the comparisons derived from them to the other
  sessions: blocking on the columns a comparison reads would teach it that they always agree), λ
  (the chance two random records match) from deterministic rules. EM starts from priors: the saved
  model's m-probabilities, and typical values for the comparisons it lacks (date of birth ...).
  Guard rails: an input too small for EM keeps the priors' m-probabilities (and below
  ``MIN_RECORDS_FOR_U`` records the priors' u too), and a comparison EM turned upside down (its
  exact agreement counting against a match) is put back to its prior; each is said in the notes;
- ``auto`` (the default): ``saved`` when it fits the input (``fit_problems`` finds nothing), else ``adapt``.

``profile_features`` measures what the fit check compares: the share of records with a value per
compared column, and how often two random records agree exactly on names and places (from value
counts). The saved model keeps the same profile of its training data in its metrics.

The threshold of an adapted model comes from its own score distribution (``threshold_from_scores``):
the model's expected precision and recall at each threshold, no labels needed.
"""
from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field

import polars as pl
from splink import DuckDBAPI, Linker, block_on

from warmpool.identity.blocking import populated
from warmpool.identity.features import OPTIONAL_FEATURES, splink_table
from warmpool.identity.model import CONDITIONAL_LEVELS, TIED_LEVELS, TrainedModel, model_settings, settings_for_size
from warmpool.identity.normalize import NORMALIZE_VERSION

log = logging.getLogger(__name__)

MODES = ("auto", "saved", "adapt")
MIN_RECORDS_FOR_U = 200       # below: u from the priors too (random pairs too few to count rare agreements)
MIN_RECORDS_FOR_EM = 500      # below: m from the priors
MIN_EM_PAIRS = 100            # an EM session with fewer blocked pairs is skipped
EM_MAX_PAIRS = 5e5            # EM samples records so a session sees about this many pairs (Splink's max_pairs)
U_MAX_PAIRS = 5e5
ADAPT_SAMPLE_RECORDS = 100_000  # larger inputs are adapted on a random sample of this many records
DETERMINISTIC_RECALL = 0.7    # share of true matches the deterministic rules are assumed to find (λ)

# What the fit check compares: coverage of these features, and exact agreement on names and city
# (not employer: how often strangers share one depends on the size of the company list exported).
PROFILE_FEATURES = ("first_name_norm", "last_name_norm", "email_norm", "phone_e164", "linkedin_slug",
                    "city_norm", "company_norm", "title_norm")
AGREEMENT_FEATURES = ("first_name_norm", "last_name_norm", "city_norm")
COVERAGE_RATIO = 0.5          # a column the model leans on (>= 20% filled in training) filled less than half as often
AGREEMENT_BITS = 1.5          # exact-agreement chance more than 2**1.5 (2.8x) away from training's
OPTIONAL_SHARE = 0.2          # an optional column the saved model lacks, filled on at least this share

# Priors for comparisons the saved model has no weights for: m-probabilities per level (non-null
# levels, in order), typical of hand-keyed person records. EM moves them; they stand when it cannot.
PRIOR_M = {
    "middle_name": [0.75, 0.15, 0.10],
    "date_of_birth": [0.85, 0.08, 0.02, 0.02, 0.03],
    "address": [0.7, 0.12, 0.08, 0.10],
    "postcode": [0.8, 0.08, 0.12],
}


# ---------------------------------------------------------------------------------------------
# the profile and the fit check

@dataclass(frozen=True)
class InputProfile:
    records: int
    coverage: dict[str, float]     # share of records with a value
    agreement: dict[str, float]    # chance two random records (both with a value) agree exactly
    optional: tuple[str, ...]      # optional features the input fills (OPTIONAL_FEATURES)

    def as_dict(self) -> dict:
        return {"records": self.records, "coverage": self.coverage, "agreement": self.agreement,
                "optional": list(self.optional)}


def profile_features(features: pl.DataFrame) -> InputProfile:
    n = max(features.height, 1)
    coverage = {c: round(1 - features[c].null_count() / n, 4) for c in (*PROFILE_FEATURES, *OPTIONAL_FEATURES)
                if c in features.columns}
    agreement = {}
    for c in AGREEMENT_FEATURES:
        if c in features.columns:
            counts = features[c].drop_nulls().value_counts(name="n")["n"].cast(pl.Float64)
            total = counts.sum()
            if total > 1:
                agreement[c] = float(((counts * (counts - 1)).sum()) / (total * (total - 1)))
    optional = tuple(c for c in OPTIONAL_FEATURES if populated(features, c))
    return InputProfile(features.height, coverage, agreement, optional)


def fit_problems(profile: InputProfile, model: TrainedModel) -> list[str]:
    """Why ``model`` does not fit an input with ``profile`` (empty: it fits)."""
    trained = model.metrics.get("profile")
    if not trained:
        return ["the saved model carries no profile of its training data"]
    problems = []
    compared = {c for c in OPTIONAL_FEATURES if c in str(model.splink_settings.get("comparisons", ""))}
    for c in profile.optional:
        share = _optional_share(profile, c)
        if c not in compared and share >= OPTIONAL_SHARE:
            problems.append(f"{_label(c)} is filled on {share:.0%} of records and the saved model does not compare it")
    for c, was in trained["coverage"].items():
        if c in OPTIONAL_FEATURES:
            continue
        now = profile.coverage.get(c, 0.0)
        if was >= 0.2 and now < was * COVERAGE_RATIO:
            problems.append(f"{_label(c)} is filled on {now:.0%} of records vs {was:.0%} in training")
    for c, was in trained["agreement"].items():
        if c not in AGREEMENT_FEATURES:
            continue
        now = profile.agreement.get(c)
        if now and was and abs(math.log2(now / was)) > AGREEMENT_BITS:
            problems.append(f"two records share a {_label(c)} {now / was:.1f}x as often as in training "
                            f"({now:.4f} vs {was:.4f})")
    return problems


def _optional_share(profile: InputProfile, col: str) -> float:
    return profile.coverage.get(col, 0.0)


def _label(col: str) -> str:
    return {"first_name_norm": "first name", "last_name_norm": "last name", "email_norm": "email",
            "phone_e164": "phone", "linkedin_slug": "LinkedIn", "city_norm": "city", "company_norm": "employer",
            "title_norm": "title", "dob_norm": "date of birth", "address_norm": "address",
            "postcode_norm": "postcode", "middle_name_norm": "middle name", "email_list": "a second email",
            "phone_list": "a second phone"}.get(col, col)


# ---------------------------------------------------------------------------------------------
# adapting

@dataclass
class ModelChoice:
    """The model a run uses, which mode it came from and why."""
    model: TrainedModel
    mode: str                      # "saved" | "adapted" | "priors" (adapted, but EM could not run)
    reason: str
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"model: {self.mode} ({self.reason})" + "".join(f"; {n}" for n in self.notes)


def _level_key(level: dict) -> str:
    return level.get("label_for_charts") or level.get("sql_condition", "")


def _with_priors(settings: dict, base: TrainedModel, records: int) -> dict:
    """``settings`` with m and u of every level the saved model has (same comparison, same label),
    ``PRIOR_M`` for the comparisons it lacks, and the saved model's λ scaled to ``records``."""
    saved = {c["output_column_name"]: {_level_key(lv): lv for lv in c["comparison_levels"]}
             for c in base.splink_settings["comparisons"]}
    for comparison in settings["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        known = saved.get(name, {})
        for i, level in enumerate(levels):
            if level.get("fix_m_probability"):
                continue
            prior = known.get(_level_key(level))
            if prior is not None and prior.get("m_probability") is not None:
                level["m_probability"] = prior["m_probability"]
                if prior.get("u_probability") is not None:
                    level["u_probability"] = prior["u_probability"]
            elif name in PRIOR_M and i < len(PRIOR_M[name]):
                level["m_probability"] = PRIOR_M[name][i]
        _normalise_m(levels)
    settings["probability_two_random_records_match"] = settings_for_size(base, records)[
        "probability_two_random_records_match"]
    return settings


# u of a level neither the data nor the saved model can give (never seen among random pairs): rare
FALLBACK_U = 1e-5


def _with_prior_u(fitted: dict, prior: dict, *, only_missing: bool = False) -> dict:
    """``fitted`` with the u of ``prior``'s levels (every level, or only those ``fitted`` lacks)."""
    out = copy.deepcopy(fitted)
    prior_u = {(c["output_column_name"], _level_key(lv)): lv.get("u_probability")
               for c in prior["comparisons"] for lv in c["comparison_levels"]}
    for c in out["comparisons"]:
        for lv in c["comparison_levels"]:
            if lv.get("is_null_level") or lv.get("fix_u_probability"):
                continue
            if only_missing and lv.get("u_probability") is not None:
                continue
            u = prior_u.get((c["output_column_name"], _level_key(lv)))
            lv["u_probability"] = u if u is not None else (lv.get("u_probability") or FALLBACK_U)
    return out


def _normalise_m(levels: list[dict]) -> None:
    """m-probabilities of a comparison's non-null levels that are not fixed sum to what the fixed leave."""
    free = [lv for lv in levels if not lv.get("fix_m_probability")]
    for lv in free:
        if lv.get("m_probability") is None:
            lv["m_probability"] = 0.01
    total = sum(lv["m_probability"] for lv in free)
    for lv in free:
        lv["m_probability"] = max(lv["m_probability"] / total, 1e-6)


def _em_rules(features: pl.DataFrame) -> list[tuple[str, object]]:
    """EM sessions from the populated columns: an identifier block (trains names, places ...) and a
    name block (trains the identifiers); a comparison a session's block reads is not trained by it."""
    rules = []
    for col, name in (("email_norm", "email"), ("phone_e164", "phone"), ("dob_norm", "date of birth")):
        if populated(features, col, 0.2):
            rules.append((name, block_on(col)))
    rules.append(("first + last name", block_on("first_name_canonical", "last_name_norm")))
    if not any(populated(features, c, 0.2) for c in ("email_norm", "phone_e164", "dob_norm")) and \
            populated(features, "postcode_norm", 0.2):
        rules.insert(0, ("postcode", block_on("postcode_norm")))
    return rules


def _deterministic_rules(features: pl.DataFrame) -> list:
    """Rules that admit almost no false matches, for λ."""
    rules = []
    if populated(features, "email_norm"):
        rules.append(block_on("email_norm"))
    if populated(features, "phone_e164"):
        rules.append(block_on("phone_e164", "first_name_canonical"))
    if populated(features, "linkedin_slug"):
        rules.append(block_on("linkedin_slug"))
    for col in ("dob_norm", "address_norm"):
        if populated(features, col):
            rules.append(block_on("first_name_canonical", "last_name_norm", col))
    if not rules:
        place = next((c for c in ("postcode_norm", "city_norm") if populated(features, c)), None)
        rules.append(block_on("first_name_canonical", "last_name_norm", *([place] if place else [])))
    return rules


def _upside_down(comparison: dict) -> bool:
    """EM turned the comparison upside down: its first (strictest) agreement level counts against a
    match by more than a bit (a value most strangers share too, like a town's one postcode, may
    fairly come out a little below 0)."""
    levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
    first = levels[0] if levels else None
    if not first or first.get("fix_m_probability"):
        return False
    m, u = first.get("m_probability"), first.get("u_probability")
    return m is not None and u is not None and m < u / 2


def _prior_m(fitted: dict, prior: dict) -> dict:
    """``fitted`` (a comparison) with the m-probabilities of ``prior``, its estimated u kept."""
    out = copy.deepcopy(fitted)
    prior_m = {_level_key(lv): lv.get("m_probability") for lv in prior["comparison_levels"]}
    for level in out["comparison_levels"]:
        if _level_key(level) in prior_m and prior_m[_level_key(level)] is not None:
            level["m_probability"] = prior_m[_level_key(level)]
    return out


def estimate_settings(features: pl.DataFrame, settings: dict, *, em_rules, deterministic_rules,
                      estimate_u: bool = True, seed: int = 42, u_max_pairs: float = U_MAX_PAIRS,
                      em_max_pairs: float | None = EM_MAX_PAIRS) -> tuple[dict, list[str]]:
    """Splink's three estimates on ``features``: λ from ``deterministic_rules``, u by random sampling
    (unless ``estimate_u`` is False), m by EM over ``em_rules`` (``(name, rule)``; a session Splink
    cannot run, e.g. no pair in its blocks, is skipped). Returns the fitted settings (Splink's model
    JSON) and the names of the EM sessions that ran. The one estimation routine: the shipped model's
    training and every adaptation call it."""
    db_api = DuckDBAPI()
    trained = []
    splink_log = logging.getLogger("splink")
    level = splink_log.level
    # Splink warns for every level a small input never shows ("not observed ... unable to train m"):
    # expected here (such levels keep their prior), and not for the user's terminal
    splink_log.setLevel(logging.ERROR)
    try:
        table = db_api.register(splink_table(features), table_name="estimate_input")

        def linker_for(current: dict) -> Linker:
            return Linker(table, _clamped(current), log_level=logging.ERROR)

        linker = linker_for(settings)
        linker.training.estimate_probability_two_random_records_match(list(deterministic_rules),
                                                                      recall=DETERMINISTIC_RECALL)
        lam = linker.misc.save_model_to_json()["probability_two_random_records_match"]
        if not lam or lam <= 0:
            # the deterministic rules found no pair (no shared identifier at all): keep the prior's λ
            # (the saved model's, scaled to this input's size: see _with_priors)
            linker = linker_for(settings)
        if estimate_u:
            linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
        current = linker.misc.save_model_to_json()
        estimates: dict[str, list[dict]] = {}
        for name, rule in em_rules:
            # each session starts from the last one's estimates, clamped: a level EM never saw among
            # matches comes out at m = 0, which Splink refuses as a starting value
            linker = linker_for(current)
            try:
                session = linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True, max_pairs=em_max_pairs)
            except Exception as exc:  # Splink raises plain exceptions when a block is empty or degenerate
                log.info("EM blocked on %s skipped: %s", name, exc)
                continue
            trained.append(name)
            current = linker.misc.save_model_to_json()
            left_out = {c.output_column_name for c in session._comparisons_that_cannot_be_estimated}
            for comparison in current["comparisons"]:
                if comparison["output_column_name"] not in left_out:
                    estimates.setdefault(comparison["output_column_name"], []).append(copy.deepcopy(comparison))
        fitted = _with_prior_u(_regularised(_averaged(current, estimates)), settings, only_missing=True)
        return conditional_weights(fitted), trained
    finally:
        splink_log.setLevel(level)
        db_api.duckdb_con.close()


def _level(settings: dict, comparison: str, label: str) -> dict | None:
    for c in settings["comparisons"]:
        if c["output_column_name"] == comparison:
            return next((lv for lv in c["comparison_levels"] if lv.get("label_for_charts") == label), None)
    return None


def conditional_weights(settings: dict) -> dict:
    """``settings`` with the weights of ``model.CONDITIONAL_LEVELS`` made conditional on the level they
    overlap, and ``model.TIED_LEVELS`` given the weight of the level they stand for.

    Naive Bayes adds the comparisons' weights as if independent. A household's members share both
    surname and address, so among non-matches the two agree together far more often than the product
    of their chances: a level "A and B agree" estimated as usual (m_AB, u_AB) already counts B, whose
    own comparison counts it again. Conditioned on B, the level's weight is
    log2((m_AB / m_B) / (u_AB / u_B)): only what A adds once B is known.
    """
    out = copy.deepcopy(settings)
    for label, (comparison, given_label) in CONDITIONAL_LEVELS.items():
        for c in out["comparisons"]:
            level = next((lv for lv in c["comparison_levels"] if lv.get("label_for_charts") == label), None)
            given = _level(out, comparison, given_label)
            if level is None or given is None or None in (level.get("m_probability"), level.get("u_probability"),
                                                             given.get("m_probability"), given.get("u_probability")):
                continue
            m = min(level["m_probability"] / max(given["m_probability"], 1e-6), 1.0)
            u = min(level["u_probability"] / max(given["u_probability"], 1e-12), 1.0)
            # keep the level's share of matches (m) so the comparison's m still sum to 1; scale u instead
            level["u_probability"] = max(level["m_probability"] * u / max(m, 1e-6), 1e-12)
    for label, (comparison, twin_label) in TIED_LEVELS.items():
        for c in out["comparisons"]:
            level = next((lv for lv in c["comparison_levels"] if lv.get("label_for_charts") == label), None)
            twin = _level(out, comparison, twin_label)
            if level is None or twin is None or None in (level.get("m_probability"), twin.get("m_probability"),
                                                         twin.get("u_probability")):
                continue
            level["u_probability"] = max(level["m_probability"] * twin["u_probability"] / twin["m_probability"], 1e-12)
    return out


def _averaged(settings: dict, estimates: dict[str, list[dict]]) -> dict:
    """Every comparison's m-probabilities averaged over the EM sessions that estimated it (as Splink
    does within one linker), not the last session's alone."""
    out = copy.deepcopy(settings)
    for comparison in out["comparisons"]:
        runs = estimates.get(comparison["output_column_name"], [])
        if len(runs) < 2:
            continue
        for i, level in enumerate(comparison["comparison_levels"]):
            values = [r["comparison_levels"][i].get("m_probability") for r in runs]
            values = [v for v in values if v is not None]
            if values and not level.get("fix_m_probability"):
                level["m_probability"] = sum(values) / len(values)
    return out


# No field of a true duplicate agrees all the time (typos, moves, new employers): EM on a block of
# near-identical pairs can still conclude "never disagrees" (m = 0 for the disagreement level), which
# makes one typo veto a match by 20 bits. Each comparison's disagreement level keeps at least this m.
MIN_DISAGREEMENT_M = 0.01


def _regularised(settings: dict) -> dict:
    out = _clamped(settings)
    for comparison in out["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        last = levels[-1] if levels else None
        if last is None or last.get("fix_m_probability") or last.get("m_probability") is None:
            continue
        if last["m_probability"] < MIN_DISAGREEMENT_M:
            last["m_probability"] = MIN_DISAGREEMENT_M
            _normalise_m(levels)
    return out


def _clamped(settings: dict, floor: float = 1e-6) -> dict:
    """``settings`` with no m or u below ``floor`` (a probability of exactly 0 is a certainty no data supports)."""
    out = copy.deepcopy(settings)
    for comparison in out["comparisons"]:
        for lv in comparison["comparison_levels"]:
            for key in ("m_probability", "u_probability"):
                if lv.get(key) is not None and lv[key] < floor:
                    lv[key] = floor
    return out


def adapt_model(features: pl.DataFrame, base: TrainedModel, *, seed: int = 42) -> tuple[TrainedModel, str, list[str]]:
    """A model re-estimated on ``features`` (``normalize_records`` output), starting from ``base``'s
    weights. Returns the model (threshold still ``base``'s: see ``threshold_from_scores``), its mode
    ("adapted", or "priors" when EM could not run) and notes for the run's summary."""
    n = features.height
    profile = profile_features(features)
    settings = _with_priors(model_settings(profile.optional).create_settings_dict("duckdb"), base, n)
    notes: list[str] = []
    sample = features
    if n > ADAPT_SAMPLE_RECORDS:
        # λ, u and m are all per-pair rates: a random sample of records estimates them without bias,
        # in bounded time and memory (each estimate copies its input into DuckDB)
        sample = features.sample(n=ADAPT_SAMPLE_RECORDS, seed=seed)
        notes.append(f"estimated on a random sample of {ADAPT_SAMPLE_RECORDS:,} of the {n:,} records")
    fitted, trained = estimate_settings(sample, settings, em_rules=_em_rules(sample) if n >= MIN_RECORDS_FOR_EM
                                        else [], deterministic_rules=_deterministic_rules(sample), seed=seed)
    del sample
    if n < MIN_RECORDS_FOR_U:
        # too few random pairs to count rare agreements: the priors' u where there are any
        fitted = _with_prior_u(fitted, settings)
        notes.append(f"input too small to estimate u well ({n:,} records; {MIN_RECORDS_FOR_U:,} wanted): "
                     f"the saved model's u kept where it has one")
    mode = "adapted" if trained else "priors"
    if trained:
        notes.append(f"EM on {', '.join(trained)}")
    else:
        notes.append(f"input too small for EM ({n:,} records; at least {MIN_RECORDS_FOR_EM:,} needed): "
                     f"m-probabilities are the priors (the saved model's, typical values for the rest)")
    reverted = []
    prior_by_name = {c["output_column_name"]: c for c in settings["comparisons"]}
    for i, comparison in enumerate(fitted["comparisons"]):
        if _upside_down(comparison) and comparison["output_column_name"] in prior_by_name:
            fitted["comparisons"][i] = _prior_m(comparison, prior_by_name[comparison["output_column_name"]])
            reverted.append(comparison["output_column_name"])
    if reverted:
        notes.append(f"EM turned {', '.join(reverted)} upside down: prior weights kept")
    metrics = {"trained_on": "this input", "trained_on_records": n, "adapted_from_version": base.model_version,
               "profile": profile.as_dict()}
    return TrainedModel(base.model_version, NORMALIZE_VERSION, base.threshold_match_probability, fitted,
                        metrics), mode, notes


def choose_model(features: pl.DataFrame, requested: str, saved: TrainedModel) -> ModelChoice:
    """The model a run uses for ``requested`` mode (``MODES``)."""
    if requested not in MODES:
        raise ValueError(f"model mode must be one of {', '.join(MODES)}, got {requested!r}")
    if requested == "saved":
        return ModelChoice(saved, "saved", "--model saved")
    if requested == "auto":
        problems = fit_problems(profile_features(features), saved)
        if not problems:
            return ModelChoice(saved, "saved", "auto: the input looks like the saved model's training data")
        reason = "auto: the saved model does not fit: " + "; ".join(problems[:3]) + (
            f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    else:
        reason = "--model adapt"
    if features.height < 2:
        return ModelChoice(saved, "saved", reason + "; too few records to adapt")
    model, mode, notes = adapt_model(features, saved)
    return ModelChoice(model, mode, reason, notes)


# ---------------------------------------------------------------------------------------------
# the threshold from the score distribution

@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    expected_precision: float      # mean match probability of the pairs at or above the threshold
    expected_recall: float         # their share of the expected matches among all scored pairs
    linked_pairs: int
    source: str = "from the score distribution"

    def describe(self) -> str:
        return (f"threshold {self.threshold:g} {self.source}: the model expects pairwise "
                f"precision {self.expected_precision:.3f}, recall {self.expected_recall:.3f} "
                f"({self.linked_pairs:,} links)")


THRESHOLD_GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999)


def expected_quality(probabilities: pl.Series, threshold: float, source: str = "from the score distribution"
                     ) -> ThresholdChoice:
    """What the model believes about linking its scored pairs at ``threshold``: the expected number of
    true matches is the sum of match probabilities, so expected precision is their mean over the
    links and expected recall their share of the total (over every pair scored, down to the floor
    the scores were cut at)."""
    p = probabilities.cast(pl.Float64)
    total = float(p.sum()) or 1.0
    linked = p.filter(p >= threshold)
    tp = float(linked.sum())
    precision = tp / linked.len() if linked.len() else 1.0
    return ThresholdChoice(threshold, precision, tp / total, linked.len(), source)


def threshold_from_scores(probabilities: pl.Series, grid=THRESHOLD_GRID) -> ThresholdChoice:
    """The threshold the model itself expects to give the best pairwise F1 (ties: the higher one)."""
    best = None
    for t in grid:
        q = expected_quality(probabilities, t)
        f1 = 2 * q.expected_precision * q.expected_recall / (q.expected_precision + q.expected_recall or 1)
        if best is None or f1 >= best[0] - 1e-12:
            best = (f1, q)
    return best[1]
