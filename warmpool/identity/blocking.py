"""Which record pairs get compared: blocking rules chosen from the populated columns, sized before use.

A blocking rule compares every two records sharing a key (the same email; the same last name and
first name ...). On data with a small, skewed name vocabulary one key value can hold thousands of
records ("maria garcia"), and its block alone would cost millions of comparisons: time and memory
would follow the name distribution, not the number of records. So before anything is predicted,
``plan_blocking`` counts the comparisons every rule generates (exactly: the sum of n·(n-1)/2 over its
blocks, from value counts), and a rule over its budget is *tightened where it explodes*:

- the rule keeps its small blocks as they are (the largest block size that fits the budget);
- records in the blocks above that size are compared only with those that also agree on one more
  column, one rule per populated refinement column (city, postcode, date of birth, employer ...), so
  what tightening loses is recovered by whichever extra column the two records share;
- what still explodes after that is left to the other rules, and counted.

Every key is materialised as a 32-bit hash column (``_bk_<i>``) of the Splink input, so each rule is a
one-column equi-join that Splink and DuckDB run as a hash join, and counting is a group-by. 32 bits
rather than 64 halve what ~50 key columns cost at millions of records (at 5M, 1 GB); the price is a
few thousand extra comparisons where two of millions of values share a hash, each scored by the
model like any other pair, and counted (the counts are of the keys as they run). The
plan's report lists the comparisons per rule: what ``warmpool resolve`` prints.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import polars as pl

KEY_PREFIX = "_bk_"
# A rule may generate about this many comparisons per record before it is tightened (with at least
# MIN_RULE_BUDGET, so an input under a million records is never tightened). Prediction costs ~3 µs of
# CPU a comparison and an input with every optional column gets ~40 rules: at 2 a record the second
# benchmark world generated 16.6M comparisons a million records, at 1 it generates 10.3M with the
# same pairwise F1 (0.786 -> 0.788: the tightened blocks were mostly namesakes).
COMPARISONS_PER_RECORD = 1
MIN_RULE_BUDGET = 1_000_000
# A value shared by more records than this in a multi-valued key (an email or phone list) is not an
# identifier (a placeholder like "noreply@..." or an office switchboard): those blocks are dropped.
MAX_SHARED_IDENTIFIER = 200
# the share of a rule's budget each tightened rule gets
REFINEMENT_SHARE = 0.25
# A column takes part (as a rule or a refinement) when at least this share of records has a value.
MIN_POPULATED = 0.01


def _first(col: str, n: int) -> pl.Expr:
    return pl.col(col).str.slice(0, n)


# name, the columns it reads (all must be populated), its key parts
_BASE_RULES: list[tuple[str, tuple[str, ...], tuple[pl.Expr, ...]]] = [
    ("email", ("email_norm",), (pl.col("email_norm"),)),
    ("phone", ("phone_e164",), (pl.col("phone_e164"),)),
    ("phone digits as written", ("phone_digits",), (pl.col("phone_digits"),)),
    ("linkedin", ("linkedin_slug",), (pl.col("linkedin_slug"),)),
    ("mailbox name + last name", ("email_local", "last_name_norm"), (pl.col("email_local"), pl.col("last_name_norm"))),
    # broad name rules (a typo or a cut-short form in one of the names): tightened where they explode
    ("last name + first initial", ("last_name_norm", "first_name_norm"),
     (pl.col("last_name_norm"), _first("first_name_norm", 1))),
    ("first name + last initial", ("first_name_norm", "last_name_norm"),
     (pl.col("first_name_norm"), _first("last_name_norm", 1))),
    # a nickname (Bob / Robert) with the surname, and the surname as it sounds (Smith / Smyth)
    ("last name + first name or nickname", ("last_name_norm", "first_name_canonical"),
     (pl.col("last_name_norm"), pl.col("first_name_canonical"))),
    ("first name or nickname + last name sound", ("first_name_canonical", "last_name_metaphone"),
     (pl.col("first_name_canonical"), pl.col("last_name_metaphone"))),
    # a CRM contact whose names are garbled still has its employer and title
    ("employer + title", ("company_norm", "title_norm"), (pl.col("company_norm"), pl.col("title_norm"))),
    ("title + initials", ("title_norm", "first_name_norm", "last_name_norm"),
     (pl.col("title_norm"), _first("first_name_norm", 1), _first("last_name_norm", 1))),
    ("phone last 7 digits + surname start", ("phone_e164", "last_name_norm"),
     (pl.col("phone_e164").str.slice(-7), _first("last_name_norm", 1))),
    ("date of birth + first initial", ("dob_norm", "first_name_norm"), (pl.col("dob_norm"), _first("first_name_norm", 1))),
    ("date of birth + last initial", ("dob_norm", "last_name_norm"), (pl.col("dob_norm"), _first("last_name_norm", 1))),
    ("date of birth + postcode", ("dob_norm", "postcode_norm"), (pl.col("dob_norm"), pl.col("postcode_norm"))),
    ("postcode + first name", ("postcode_norm", "first_name_canonical"),
     (pl.col("postcode_norm"), pl.col("first_name_canonical"))),
    ("postcode + last name", ("postcode_norm", "last_name_norm"), (pl.col("postcode_norm"), pl.col("last_name_norm"))),
    ("address", ("address_norm",), (pl.col("address_norm"),)),
]
# columns that tighten an exploding rule: each gives one extra rule over the records of the blocks
# that exploded (so two records in such a block are compared when they share any one of these)
_REFINEMENTS: list[tuple[str, str, pl.Expr]] = [
    ("city", "city_norm", pl.col("city_norm")),
    ("postcode", "postcode_norm", pl.col("postcode_norm")),
    ("date of birth", "dob_norm", pl.col("dob_norm")),
    ("employer", "company_norm", pl.col("company_norm")),
    ("mailbox name", "email_local", pl.col("email_local")),
    ("phone last 4", "phone_e164", pl.col("phone_e164").str.slice(-4)),
]
# weak rules (many strangers share an employer and a title) get this share of a rule's budget
_WEAK_RULES = {"employer + title": 0.25, "title + initials": 0.25}
# multi-valued identifiers: any shared value is a key (Splink explodes the list)
_LIST_RULES = [("any email in common", "email_list"), ("any phone in common", "phone_list")]
_SWAPPED = "first and last name swapped"
_RULE = re.compile(rf"l\.({KEY_PREFIX}\w+) = r\.({KEY_PREFIX}\w+)")  # every rule of a plan: one key equi-join


@dataclass
class RuleCount:
    rule: str
    comparisons: int                 # pairs this rule's blocks generate (before de-duplication across rules)
    largest_block: int
    note: str = ""

    def describe(self) -> str:
        return f"{self.rule}: {self.comparisons:,} comparisons (largest block {self.largest_block:,}){self.note}"


@dataclass(frozen=True)
class KeySpec:
    """How one key column of a plan is computed, so rows the plan was not made on get the keys they
    would have had (a look-up against a planned pool): the hash of ``parts`` (of each element of
    ``list_column`` for a list rule), null where it is one of ``dropped`` (the blocks that exploded;
    the values shared too widely), and for a tightening rule only on rows whose parent key is one
    of ``within_values`` (the parent's exploded blocks)."""
    parts: tuple[pl.Expr, ...] = ()
    dropped: pl.Series = field(default_factory=lambda: pl.Series("k", [], dtype=pl.UInt32))
    within_parts: tuple[pl.Expr, ...] = ()
    within_values: pl.Series | None = None
    list_column: str | None = None

    def columns(self) -> set[str]:
        """The feature columns this key reads."""
        names = {self.list_column} if self.list_column else set()
        return names.union(*(e.meta.root_names() for e in (*self.parts, *self.within_parts)))

    def key(self, features: pl.DataFrame) -> pl.Series:
        if self.list_column is not None:
            expr = pl.col(self.list_column).list.eval(_hash32(pl.element()))
            if self.dropped.len():
                expr = expr.list.eval(pl.element().filter(~pl.element().is_in(self.dropped.implode())))
            return features.select(expr.alias("k"))["k"]
        key = _key(self.parts)
        if self.within_values is not None:
            key = pl.when(_key(self.within_parts).is_in(self.within_values.implode())).then(key).otherwise(None)
        if self.dropped.len():
            key = pl.when(key.is_in(self.dropped.implode())).then(None).otherwise(key)
        return features.select(key.alias("k"))["k"]


@dataclass
class BlockingPlan:
    """The rules a run predicts with: key columns to add to the features, Splink rules over them,
    and the comparisons each generates."""
    keys: pl.DataFrame                       # one row per feature row: the _bk_* columns
    splink_rules: list[dict]                 # Splink blocking rule dicts, in order
    counts: list[RuleCount] = field(default_factory=list)
    uncompared_records: int = 0              # records in blocks too big even after tightening
    specs: dict[str, KeySpec] = field(default_factory=dict)  # how each key column is computed

    @property
    def comparisons(self) -> int:
        return sum(c.comparisons for c in self.counts)

    def describe(self) -> list[str]:
        return [c.describe() for c in self.counts]

    def keys_for(self, features: pl.DataFrame) -> pl.DataFrame:
        """The key columns ``features`` (other rows, e.g. a look-up's) get under this plan: rows of
        the planned records get exactly ``keys``; the plan itself is not changed by them."""
        if not self.specs:  # nothing to compare: the plan's one null column
            return pl.DataFrame([pl.Series(c, [None] * features.height, dtype=self.keys[c].dtype) for c in self.keys.columns])
        # a column the planned records had and these rows lack (a look-up without a date of birth) is empty
        missing = {c: pl.List(pl.String) if c == spec.list_column else pl.String
                   for spec in self.specs.values()
                   for c in spec.columns() if c not in features.columns}
        features = features.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in missing.items())
        return pl.DataFrame([spec.key(features).alias(col) for col, spec in self.specs.items()])

    def blocked_with(self, keys: pl.DataFrame, new_keys: pl.DataFrame) -> pl.Series:
        """Which rows of ``keys`` (this plan's key columns) some rule pairs with a row of ``new_keys``:
        the only rows a prediction between them and the new rows can pair."""
        rows = []
        for rule in self.splink_rules:
            left, right = _RULE.fullmatch(rule["blocking_rule"]).groups()
            for pool_col, new_col in {(left, right), (right, left)}:  # l.a = r.b pairs either way round
                values = new_keys[new_col]
                values = (values.explode() if values.dtype.is_nested() else values).drop_nulls().unique()
                if values.len() == 0:
                    continue
                frame = keys.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), pl.col(pool_col))
                frame = frame.explode(pool_col) if frame[pool_col].dtype.is_nested() else frame
                rows.append(frame.filter(pl.col(pool_col).is_in(values.implode()))["row"])
        hit = pl.concat(rows).unique() if rows else pl.Series("row", [], dtype=pl.UInt32)
        return pl.int_range(keys.height, dtype=pl.UInt32, eager=True).is_in(hit.implode())


def with_block_keys(features: pl.DataFrame | pl.LazyFrame, plan: BlockingPlan) -> pl.DataFrame | pl.LazyFrame:
    """``features`` (the rows the plan was made on, in order) with the plan's key columns; lazy for a
    LazyFrame (to stream to a file without a copy of the features in memory)."""
    keys = plan.keys.lazy() if isinstance(features, pl.LazyFrame) else plan.keys
    return pl.concat([features.drop([c for c in features.collect_schema().names() if c.startswith(KEY_PREFIX)]), keys],
                     how="horizontal")


def populated(features: pl.DataFrame, col: str, share: float = MIN_POPULATED) -> bool:
    """Whether ``col`` exists and has a value on at least ``share`` of the rows."""
    return col in features.columns and features.height > 0 and \
        features[col].null_count() <= features.height * (1 - share)


def _key(parts) -> pl.Expr:
    """A 32-bit hash of the parts (null when any part is null or empty)."""
    parts = list(parts)
    text = pl.concat_str([p.cast(pl.String) for p in parts], separator="\x1f")
    empty = pl.any_horizontal([p.cast(pl.String).is_null() | (p.cast(pl.String) == "") for p in parts])
    return pl.when(empty).then(None).otherwise(_hash32(text))


def _hash32(expr: pl.Expr) -> pl.Expr:
    return (expr.hash(seed=17) & 0xFFFFFFFF).cast(pl.UInt32)


def _pairs(sizes: pl.Series) -> int:
    s = sizes.cast(pl.Int64)
    return int((s * (s - 1) // 2).sum())


def _block_sizes(key: pl.Series) -> pl.DataFrame:
    return key.drop_nulls().value_counts(name="n")


def _cap_for_budget(sizes: pl.Series, budget: int) -> int:
    """The largest block size s such that every block of size <= s together stay within ``budget``."""
    table = sizes.cast(pl.Int64).value_counts(name="blocks").sort(sizes.name)
    cum = 0
    cap = 1
    for size, blocks in table.iter_rows():
        cost = blocks * size * (size - 1) // 2
        if cum + cost > budget:
            break
        cum += cost
        cap = size
    return cap


class _Planner:
    def __init__(self, features: pl.DataFrame, budget: int, keep_unpaired: bool):
        self.features = features
        self.budget = budget
        self.keep_unpaired = keep_unpaired
        self.columns: dict[str, pl.Series] = {}
        self.specs: dict[str, KeySpec] = {}
        self.rules: list[dict] = []
        self.counts: list[RuleCount] = []
        self.uncompared = pl.Series("u", [False] * features.height, dtype=pl.Boolean)
        self.refinements = [(name, expr) for name, col, expr in _REFINEMENTS if populated(features, col)]

    def _add(self, name: str, key: pl.Series, sizes: pl.DataFrame, spec: KeySpec, note: str = "") -> None:
        if _pairs(sizes["n"]) == 0 and not self.keep_unpaired:  # single-record blocks: the rule would only cost a join
            self.counts.append(RuleCount(name, 0, int(sizes["n"].max() or 0), f"{note}; nothing to compare, not run"))
            return
        col = f"{KEY_PREFIX}{len(self.columns)}"
        self.columns[col] = key.alias(col)
        self.specs[col] = spec
        self.rules.append({"blocking_rule": f"l.{col} = r.{col}", "sql_dialect": "duckdb"})
        self.counts.append(RuleCount(name, _pairs(sizes["n"]), int(sizes["n"].max() or 0), note))

    def plan(self, name: str, parts: tuple[pl.Expr, ...], used: set[str], budget: int,
             within: tuple[tuple[pl.Expr, ...], pl.Series, pl.Series] | None = None) -> None:
        """Add rule ``parts`` (restricted to ``within``: the parent rule's parts, its exploded key values
        and the rows in them), tightened once where its blocks explode."""
        key = self.features.select(_key(parts).alias("k"))["k"]
        spec = KeySpec(parts) if within is None else KeySpec(parts, within_parts=within[0], within_values=within[1])
        if within is not None:
            key = pl.select(pl.when(within[2]).then(key).otherwise(None).alias("k")).to_series()
        sizes = _block_sizes(key)
        if sizes.height == 0:
            return
        if _pairs(sizes["n"]) <= budget:
            self._add(name, key, sizes, spec)
            return
        cap = _cap_for_budget(sizes["n"], budget)
        exploded = sizes.filter(pl.col("n") > cap)["k"]
        big = key.is_in(exploded.implode()).fill_null(False)
        small_key = pl.select(pl.when(big).then(None).otherwise(key).alias("k")).to_series()
        small_sizes = _block_sizes(small_key)
        if small_sizes.height:
            self._add(name, small_key, small_sizes, replace(spec, dropped=exploded),
                      f"; blocks over {cap:,} records tightened")
        if within is not None:  # a tightened rule is not tightened again: what still explodes is left out
            self.uncompared = self.uncompared | big
            return
        for ref_name, expr in self.refinements:
            if ref_name not in used:
                self.plan(f"{name} + {ref_name}", (*parts, expr), used | {ref_name},
                          max(int(budget * REFINEMENT_SHARE), 1), (parts, exploded, big))

    def plan_list(self, name: str, col: str) -> None:
        """A multi-valued identifier: any value in common; values shared too widely are dropped."""
        exploded = self.features.select(pl.col(col).list.eval(_hash32(pl.element())).alias("k"))["k"]
        sizes = exploded.explode().drop_nulls().value_counts(name="n")
        common = sizes.filter(pl.col("n") > MAX_SHARED_IDENTIFIER)["k"]
        if common.len():
            exploded = exploded.list.eval(pl.element().filter(~pl.element().is_in(common.implode())))
            sizes = sizes.filter(pl.col("n") <= MAX_SHARED_IDENTIFIER)
        if sizes.height == 0:
            return
        column = f"{KEY_PREFIX}{len(self.columns)}"
        self.columns[column] = exploded.alias(column)
        self.specs[column] = KeySpec(dropped=common, list_column=col)
        self.rules.append({"blocking_rule": f"l.{column} = r.{column}", "sql_dialect": "duckdb",
                           "arrays_to_explode": [column]})
        note = f"; {common.len():,} values shared by over {MAX_SHARED_IDENTIFIER} records left out" if common.len() else ""
        self.counts.append(RuleCount(name, _pairs(sizes["n"]), int(sizes["n"].max() or 0), note))

    def plan_swapped(self) -> None:
        """First and last name written the other way round: l.(first, last) = r.(last, first)."""
        first_last = KeySpec((pl.col("first_name_norm"), pl.col("last_name_norm")))
        last_first = KeySpec((pl.col("last_name_norm"), pl.col("first_name_norm")))
        a, b = first_last.key(self.features), last_first.key(self.features)
        sa, sb = _block_sizes(a), _block_sizes(b)
        joined = sa.join(sb, on="k", suffix="_b")
        comparisons = int((joined["n"].cast(pl.Int64) * joined["n_b"].cast(pl.Int64)).sum() or 0)
        if comparisons > self.budget or (comparisons == 0 and not self.keep_unpaired):
            return
        ca, cb = f"{KEY_PREFIX}{len(self.columns)}", f"{KEY_PREFIX}{len(self.columns) + 1}"
        self.columns[ca], self.columns[cb] = a.alias(ca), b.alias(cb)
        self.specs[ca], self.specs[cb] = first_last, last_first
        self.rules.append({"blocking_rule": f"l.{ca} = r.{cb}", "sql_dialect": "duckdb"})
        self.counts.append(RuleCount(_SWAPPED, comparisons, int(max(joined["n"].max() or 0, joined["n_b"].max() or 0))))


def plan_blocking(features: pl.DataFrame, *, comparisons_per_record: float = COMPARISONS_PER_RECORD,
                  keep_unpaired: bool = False) -> BlockingPlan:
    """The blocking plan of ``features`` (``normalize_records`` columns): which rules, tightened where
    their blocks explode, and the comparisons each generates. ``keep_unpaired``: keep a rule whose
    blocks are all single records (a pool planned for look-ups: the looked-up record may share them)."""
    budget = max(MIN_RULE_BUDGET, int(comparisons_per_record * features.height))
    planner = _Planner(features, budget, keep_unpaired)
    for name, col in _LIST_RULES:
        if populated(features, col):
            planner.plan_list(name, col)
    lists = {"email_norm": "email_list", "phone_e164": "phone_list"}
    for name, cols, parts in _BASE_RULES:
        if not all(populated(features, c) for c in cols):
            continue
        if len(cols) == 1 and lists.get(cols[0]) and populated(features, lists[cols[0]]):
            continue  # the list rule above covers the single value
        used = {ref for ref, col, _ in _REFINEMENTS if col in cols and ref != "phone last 4"}
        planner.plan(name, parts, used, int(budget * _WEAK_RULES.get(name, 1.0)))
    if populated(features, "first_name_norm") and populated(features, "last_name_norm"):
        planner.plan_swapped()
    keys = pl.DataFrame(list(planner.columns.values())) if planner.columns else pl.DataFrame(
        {"_bk_none": pl.Series([None] * features.height, dtype=pl.UInt32)})
    return BlockingPlan(keys, planner.rules, planner.counts, int(planner.uncompared.sum() or 0), planner.specs)
