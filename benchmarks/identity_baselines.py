"""Honest baselines for identity resolution on any contract CSV, scored the same way as `warmpool resolve`.

- ``exact_rule_clusters``: what a spreadsheet user does — records with the same lower-cased email
  (any of the ``;``-separated ones), or with the same lower-cased first + last name, are one person.
- ``plain_splink_clusters``: a plain Splink 5 model with the tutorial's comparisons for whichever
  columns the input populates (names, date of birth, city, email, phone, postcode, address,
  employer), trained by EM on that same input alone — u by random sampling, m by EM over two or
  three blocking rules, λ from deterministic rules — then clustered at match probability 0.5.
  Nothing here is tuned to any data set; it is the bar an adaptive model has to clear.

Each returns ``source, source_record_id, cluster_id`` in input order.
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

KEYS = ("source", "source_record_id")
PLAIN_THRESHOLD = 0.5
# The tutorial's blocking-analysis step: a rule generating more comparisons than this is left out
# (one that blocks on a value every record shares — a town's only postcode — would otherwise
# compare every pair: 660M pairs and 14 GB on pseudopeople's 36k records).
MAX_COMPARISONS_PER_RULE = 10_000_000
DUCKDB_MEMORY_LIMIT = "4GB"


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _lower(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String).str.strip_chars().str.to_lowercase().replace("", None)


def _has(records: pl.DataFrame, col: str, share: float = 0.01) -> bool:
    """Whether ``col`` is populated on at least ``share`` of the rows (else comparing it is noise)."""
    return col in records.columns and records.height > 0 and \
        records[col].cast(pl.String).str.strip_chars().replace("", None).null_count() <= records.height * (1 - share)


def exact_rule_clusters(records: pl.DataFrame, rules: tuple[str, ...] = ("email", "name")) -> pl.DataFrame:
    """Connected components of exact agreement on any rule: ``email`` (any shared address, case
    ignored) and/or ``name`` (first and last name, case ignored, both present)."""
    ids = records.select(*KEYS).with_row_index("_i")
    keys = []
    if "email" in rules and "email" in records.columns:
        keys.append(records.select(pl.int_range(pl.len()).alias("_i"),
                                   _lower("email").str.split(";").alias("_k")).explode("_k")
                    .with_columns(pl.col("_k").str.strip_chars().replace("", None)))
    if "name" in rules and {"first_name", "last_name"} <= set(records.columns):
        keys.append(records.select(pl.int_range(pl.len()).alias("_i"), pl.concat_str(
            [_lower("first_name"), _lower("last_name")], separator="|").alias("_k")))
    left, right = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for k, frame in enumerate(keys):
        edges = frame.drop_nulls("_k").with_columns(pl.col("_i").min().over("_k").alias("_root"))
        edges = edges.filter(pl.col("_root") != pl.col("_i"))
        left.append(edges["_i"].to_numpy().astype(np.int64))
        right.append(edges["_root"].to_numpy().astype(np.int64))
    comp = _components(records.height, np.concatenate(left), np.concatenate(right))
    return ids.with_columns(pl.Series("cluster_id", comp).cast(pl.String)).drop("_i")


# ---------------------------------------------------------------------------------------------
# the plain Splink model

@dataclass
class PlainModelReport:
    comparisons: list[str] = field(default_factory=list)
    em_blocking_rules: list[str] = field(default_factory=list)
    prediction_blocking_rules: list[str] = field(default_factory=list)
    rules_left_out: list[str] = field(default_factory=list)
    pairs_linked: int = 0
    largest_cluster: int = 0
    lambda_: float = float("nan")

    def describe(self) -> str:
        left_out = f"; left out as too big: {', '.join(self.rules_left_out)}" if self.rules_left_out else ""
        return (f"comparisons {'/'.join(self.comparisons)}; EM on {' + '.join(self.em_blocking_rules)}; "
                f"{self.pairs_linked:,} pairs at or above the threshold, largest cluster {self.largest_cluster:,} "
                f"records; lambda {self.lambda_:.2g}{left_out}")


def _split_full_name() -> tuple[pl.Expr, pl.Expr]:
    """A naive split of ``full_name`` for rows without first/last: "Last, First" or "First ... Last"."""
    full = pl.col("full_name").cast(pl.String).str.strip_chars()
    comma = full.str.contains(",")
    parts = full.str.split(" ")
    first = pl.when(comma).then(full.str.split(",").list.last()).otherwise(parts.list.first())
    last = pl.when(comma).then(full.str.split(",").list.first()).otherwise(parts.list.last())
    return first.str.strip_chars(), last.str.strip_chars()


def prepare_for_plain_model(records: pl.DataFrame) -> pl.DataFrame:
    """The light cleaning a tutorial does: lower case, blanks as null, one email/phone, ISO dates."""
    r = records
    cols = {"unique_id": pl.int_range(pl.len(), dtype=pl.Int64)}
    first, last = _lower("first_name") if "first_name" in r.columns else pl.lit(None, pl.String), \
        _lower("last_name") if "last_name" in r.columns else pl.lit(None, pl.String)
    if "full_name" in r.columns:
        split_first, split_last = _split_full_name()
        first = first.fill_null(split_first.str.to_lowercase())
        last = last.fill_null(split_last.str.to_lowercase())
    cols |= {"first_name": first, "last_name": last}
    if _has(r, "email"):
        cols["email"] = _lower("email").str.split(";").list.first().str.strip_chars()
    if _has(r, "phone"):
        digits = pl.col("phone").cast(pl.String).str.split(";").list.first().str.replace_all(r"\D", "")
        cols["phone"] = pl.when(digits.str.len_chars() >= 7).then(digits)
    if _has(r, "date_of_birth"):
        text = pl.col("date_of_birth").cast(pl.String).str.strip_chars()
        cols["dob"] = pl.coalesce(*(text.str.to_date(f, strict=False) for f in ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y"))) \
            .dt.to_string("%Y-%m-%d")
    for col, name in (("city", "city"), ("postcode", "postcode"), ("address_line", "address"),
                      ("current_company", "company")):
        if _has(r, col):
            cols[name] = _lower(col)
    return r.select(**cols)


def plain_splink_clusters(records: pl.DataFrame, *, threshold: float = PLAIN_THRESHOLD, seed: int = 1,
                          u_max_pairs: float = 5e6) -> tuple[pl.DataFrame, PlainModelReport]:
    """Train the plain model on ``records`` alone, predict, cluster at ``threshold``."""
    # Splink pulls in sqlglot and its backends (~2 s): imported by the one baseline that needs it
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    data = prepare_for_plain_model(records)
    present = set(data.columns)
    report = PlainModelReport()
    comparisons = [cl.NameComparison(c).configure(term_frequency_adjustments=True) for c in ("first_name", "last_name")]
    report.comparisons = ["first_name", "last_name"]
    optional = {
        "dob": lambda: cl.DateOfBirthComparison("dob", input_is_string=True),
        "city": lambda: cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        "email": lambda: cl.EmailComparison("email"),
        "phone": lambda: cl.ExactMatch("phone"),
        "postcode": lambda: cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        "address": lambda: cl.JaroWinklerAtThresholds("address", [0.9, 0.7]),
        "company": lambda: cl.JaroWinklerAtThresholds("company", [0.9]),
    }
    for name, make in optional.items():
        if name in present:
            comparisons.append(make())
            report.comparisons.append(name)

    candidates = [block_on("first_name", "last_name")]
    candidates += [block_on(c) for c in ("email", "phone", "dob") if c in present]
    if "city" in present:
        candidates.append(block_on("last_name", "city"))
    if "postcode" in present:
        candidates += [block_on("first_name", "postcode"), block_on("postcode")]

    db_api = DuckDBAPI()
    # a shared machine: bounded memory, and spills go to the system's temp folder, not the cwd
    db_api.duckdb_con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'; "
                              f"SET temp_directory = '{tempfile.gettempdir()}/warmpool-plain-splink'")
    try:
        sdf = db_api.register(data.to_arrow(), table_name="plain_input")

        def sql(rule) -> str:
            return rule.get_blocking_rule("duckdb").blocking_rule_sql

        def small(rule) -> bool:
            # exact counts on small inputs; a sample of ~10,000 records a side on larger ones
            count = count_comparisons_from_blocking_rules(sdf, blocking_rules=rule, link_type="dedupe_only",
                                                          record_sample_proportion=min(1.0, 10_000 / data.height))
            if count[0]["cumulative_comparison_count"] <= MAX_COMPARISONS_PER_RULE:
                return True
            report.rules_left_out.append(sql(rule))
            return False

        sized = [r for r in candidates if small(r)]
        rules = [r for r in sized if sql(r) != sql(block_on("postcode"))]  # postcode alone: EM only
        report.prediction_blocking_rules = [sql(r) for r in rules]
        settings = SettingsCreator(link_type="dedupe_only", comparisons=comparisons,
                                   blocking_rules_to_generate_predictions=rules,
                                   retain_matching_columns=False, retain_intermediate_calculation_columns=False)
        linker = Linker(sdf, settings, log_level=logging.WARNING)
        # rules that admit (almost) no false positives: a shared email or phone, or the full name
        # with a date of birth or a street address; name + city/postcode only when there is nothing else
        deterministic = [block_on(c) for c in ("email", "phone") if c in present]
        deterministic += [block_on("first_name", "last_name", c) for c in ("dob", "address") if c in present]
        if not deterministic:
            deterministic = [block_on("first_name", "last_name", c) for c in ("city", "postcode") if c in present] \
                or [block_on("first_name", "last_name")]
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
        # session 1 trains everything but the names; the next ones (on a non-name key) train the names
        by_sql = {sql(r): r for r in sized}
        em_rules = [by_sql[sql(r)] for r in (block_on("first_name", "last_name"),
                                            *(block_on(c) for c in ("dob", "email", "phone", "postcode")))
                    if sql(r) in by_sql][:3]
        for rule in em_rules:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
            report.em_blocking_rules.append(sql(rule))
        report.lambda_ = linker.misc.save_model_to_json()["probability_two_random_records_match"]
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        report.pairs_linked = predictions.as_duckdbpyrelation().count("*").fetchall()[0][0]
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
        labels = pl.from_arrow(clusters.as_duckdbpyrelation().select("unique_id, cluster_id").arrow().read_all())
    finally:
        db_api.duckdb_con.close()
    out = records.select(*KEYS).with_row_index("unique_id").with_columns(pl.col("unique_id").cast(pl.Int64))
    out = out.join(labels.with_columns(pl.col("unique_id").cast(pl.Int64)), on="unique_id", how="left",
                   maintain_order="left")
    report.largest_cluster = labels.group_by("cluster_id").len()["len"].max() or 0
    return out.select(*KEYS, pl.col("cluster_id").cast(pl.String)), report
