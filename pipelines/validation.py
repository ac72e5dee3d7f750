"""Boundary validation of the raw tables with Great Expectations (plain module; Dagster glue in
assets/validation.py runs each `TableCheck` as an asset check).

GX 1.24 validates pandas frames only (its SQL path to DuckDB fails), so each check reads a frame from
the configured warehouse (DuckDB or PostgreSQL, through `warmpool.warehouse`: the same query, the same
frame, the same checks on either) and validates it with an ephemeral GX context. Email and phone syntax are judged by
`warmpool.emails` (email-validator's rules, as everywhere) and `phonenumbers`, pre-computed into
boolean columns that GX expects to be true; GX's own expectations cover nulls, uniqueness, sets,
ranges and row counts.

Two frames per check:
- **rows**: only rows loaded since this check last passed (`_dlt_load_id` greater than the one
  recorded), so a 1M-row table is not re-validated on every run;
- **table**: one row of whole-table facts (row count, null and duplicate keys) compared with the
  previous run's row count (raw tables are merged, so they never shrink).

A failed rule is `blocking` (the asset check fails with severity ERROR and downstream assets do not
run) or not (severity WARN; the offending rows go to `quarantine.rejected_rows` with the table, the
row's key, the field and a reason saying what to fix where). Vendor rows were already checked row by
row before loading, so any failure there is blocking: something got past the reader.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage statistics leave the machine

import pandas as pd  # noqa: E402
import phonenumbers  # noqa: E402

from pipelines.quarantine import quarantine, rejected_row  # noqa: E402
from pipelines.vendor_rows import MIN_DATE  # noqa: E402
from warmpool import tables  # noqa: E402
from warmpool.config import Settings, get_settings  # noqa: E402
from warmpool.emails import is_valid_email  # noqa: E402
from warmpool.warehouse import frame_of, open_warehouse, table_exists, warehouse_exists  # noqa: E402

ROW_COUNTS = tables.VALIDATED_ROW_COUNTS
ATS_STATUSES = ["active", "rejected", "hired", "converted"]
ATS_STAGES = ["Application Review", "Phone Screen", "Interview", "Final Interview", "Offer", "Hired"]
OFFER_STATUSES = ["unresolved", "accepted", "rejected", "deprecated"]
EMAIL_TYPES = ["personal", "work", "other"]
PHONE_TYPES = ["mobile", "home", "work", "skype", "fax", "other"]
FORMS = ["talent_network", "referral"]
EMAIL_EVENTS = ["delivered", "open", "click", "bounce", "complaint", "unsubscribe", "deferred", "dropped",
                "processed", "spam_report"]


# --- pre-computed columns (the libraries judge; GX checks the verdicts) -------------------------

def email_ok(value: Any) -> bool:
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
        return True  # absence is judged by not-null rules, not here
    return is_valid_email(str(value))


def phone_ok(value: Any) -> bool:
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
        return True
    s = str(value).strip()
    try:  # syntax only: without the person's country a national number cannot be judged further
        phonenumbers.parse(s, None if s.startswith("+") else "US")
        return True
    except phonenumbers.NumberParseException:
        return False


def _with_verdicts(df: pd.DataFrame, emails: tuple[str, ...] = (), phones: tuple[str, ...] = ()) -> pd.DataFrame:
    for c in emails:
        df[f"{c}_is_valid"] = df[c].map(email_ok)
    for c in phones:
        df[f"{c}_is_valid"] = df[c].map(phone_ok)
    return df


def _as_utc(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for c in columns:
        df[c] = pd.to_datetime(df[c], utc=True, errors="coerce", format="ISO8601")
    return df


# --- rules and checks ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    kind: str            # not_null | unique | in_set | true | between_dates
    column: str
    blocking: bool
    reason: str          # what is wrong and what to do, for a person
    value_set: tuple = ()
    field: str | None = None  # the source field named in quarantine (default: column)
    values_from: Callable[[Settings], Any] | None = None  # value_set read from configuration at run time

    def expectation(self):
        import great_expectations as gx  # heavy (~6 s): imported when a check runs, not with the module

        ex = gx.expectations
        if self.kind == "not_null":
            return ex.ExpectColumnValuesToNotBeNull(column=self.column)
        if self.kind == "unique":
            return ex.ExpectColumnValuesToBeUnique(column=self.column)
        if self.kind == "in_set":
            return ex.ExpectColumnValuesToBeInSet(column=self.column, value_set=list(self.value_set))
        if self.kind == "true":
            return ex.ExpectColumnValuesToBeInSet(column=self.column, value_set=[True])
        if self.kind == "between_dates":
            low = pd.Timestamp(MIN_DATE, tz="UTC")
            high = pd.Timestamp(datetime.now(timezone.utc).date() + timedelta(days=1), tz="UTC")
            return ex.ExpectColumnValuesToBeBetween(column=self.column, min_value=low, max_value=high)
        raise ValueError(self.kind)


@dataclass(frozen=True)
class TableCheck:
    name: str                 # the asset check's name
    table: str                # the asset's table, "<dataset>.<table>"
    key: str                  # the column identifying a row (quarantine `row_number`)
    sql: str                  # the rows frame; `{since}` is replaced by a load-id filter
    rules: tuple[Rule, ...]
    source: str               # quarantine `source`
    derive: Callable[[pd.DataFrame], pd.DataFrame] = lambda df: df
    description: str = ""

    @property
    def asset_key(self) -> list[str]:
        return self.table.split(".")


def _email_rule(column: str, where: str, blocking: bool = False) -> Rule:
    return Rule("true", f"{column}_is_valid", blocking,
                f"email is not a valid address (email-validator); correct it in {where}", field=column)


CHECKS: tuple[TableCheck, ...] = (
    TableCheck(
        "resumes_valid", f"{tables.RAW_VENDORS}.resumes", "file_row",
        "select vendor, file_name, file_row, vendor_record_id, email, phone, updated_at, _dlt_load_id "
        f"from {tables.RAW_VENDORS}.resumes where {{since}}",
        (Rule("not_null", "vendor_record_id", True, "vendor record id is missing: the reader should have rejected the row"),
         Rule("in_set", "vendor", True, "vendor is not configured in config/vendors.yaml",
              values_from=lambda s: tuple(s.vendors)),
         _email_rule("email", "the vendor file (the reader should have rejected it)", blocking=True),
         Rule("true", "phone_is_valid", True, "phone does not parse: the reader should have nulled it", field="phone"),
         Rule("between_dates", "updated_at", True, "updated_at outside the plausible range: the reader should have nulled it")),
        "vendors",
        derive=lambda df: _as_utc(_with_verdicts(df, ("email",), ("phone",)), "updated_at"),
        description="Vendor resumes: keys, configured vendor, email/phone syntax, dates in range, row count.",
    ),
    TableCheck(
        "candidates_valid", f"{tables.RAW_ATS}.candidates", "id",
        f"select id, created_at, updated_at, _dlt_load_id from {tables.RAW_ATS}.candidates where {{since}}",
        (Rule("not_null", "id", True, "candidate without id: the ATS API broke its contract"),
         Rule("between_dates", "created_at", False, "created_at outside the plausible range; check the record in the ATS"),
         Rule("between_dates", "updated_at", False, "updated_at outside the plausible range; check the record in the ATS")),
        "ats",
        description="ATS candidates: keys, dates in range, row count against the previous load.",
    ),
    TableCheck(
        "candidate_emails_valid", f"{tables.RAW_ATS}.candidates__email_addresses", "candidate_id",
        f"select * from (select c.id as candidate_id, e.value as email, e.type, c._dlt_load_id "
        f"from {tables.RAW_ATS}.candidates__email_addresses e "
        f"join {tables.RAW_ATS}.candidates c on e._dlt_parent_id = c._dlt_id) as emails where {{since}}",
        (_email_rule("email", "the candidate's profile in the ATS"),
         Rule("in_set", "type", True, "email type outside the Harvest contract", value_set=tuple(EMAIL_TYPES))),
        "ats", derive=lambda df: _with_verdicts(df, ("email",)),
        description="ATS candidate emails: syntax (email-validator), type enumeration.",
    ),
    TableCheck(
        "candidate_phones_valid", f"{tables.RAW_ATS}.candidates__phone_numbers", "candidate_id",
        f"select * from (select c.id as candidate_id, p.value as phone, p.type, c._dlt_load_id "
        f"from {tables.RAW_ATS}.candidates__phone_numbers p "
        f"join {tables.RAW_ATS}.candidates c on p._dlt_parent_id = c._dlt_id) as phones where {{since}}",
        (Rule("true", "phone_is_valid", False, "phone number does not parse (phonenumbers); correct it in the ATS",
              field="phone"),
         Rule("in_set", "type", False, "phone type outside the Harvest contract", value_set=tuple(PHONE_TYPES))),
        "ats", derive=lambda df: _with_verdicts(df, (), ("phone",)),
        description="ATS candidate phones: syntax (phonenumbers), type enumeration.",
    ),
    TableCheck(
        "applications_valid", f"{tables.RAW_ATS}.applications", "id",
        f"select id, candidate_id, status, current_stage__name, applied_at, _dlt_load_id from {tables.RAW_ATS}.applications "
        "where {since}",
        (Rule("not_null", "id", True, "application without id: the ATS API broke its contract"),
         Rule("not_null", "candidate_id", True, "application without candidate: the ATS API broke its contract"),
         Rule("in_set", "status", True, "application status outside active/rejected/hired/converted: "
              "update ATS_STATUSES and the dbt models together", value_set=tuple(ATS_STATUSES)),
         Rule("in_set", "current_stage__name", False, "unknown interview stage: add it to the stage list (and dbt) "
              "or rename it in the ATS", value_set=tuple(ATS_STAGES)),
         Rule("between_dates", "applied_at", False, "applied_at outside the plausible range; check it in the ATS")),
        "ats",
        description="ATS applications: keys, status and stage enumerations, dates in range, row count.",
    ),
    TableCheck(
        "offers_valid", f"{tables.RAW_ATS}.offers", "id",
        f"select id, status, _dlt_load_id from {tables.RAW_ATS}.offers where {{since}}",
        (Rule("not_null", "id", True, "offer without id"),
         Rule("in_set", "status", True, "offer status outside the Harvest contract", value_set=tuple(OFFER_STATUSES))),
        "ats", description="ATS offers: keys and status enumeration.",
    ),
    TableCheck(
        "form_submissions_valid", f"{tables.RAW_FORMS}.form_submissions", "submission_id",
        f"select submission_id, form, email, phone, submitted_at, _dlt_load_id from {tables.RAW_FORMS}.form_submissions "
        "where {since}",
        (Rule("not_null", "submission_id", True, "submission without id"),
         Rule("in_set", "form", True, "unknown form: the web service added a form the pipeline does not know",
              value_set=tuple(FORMS)),
         _email_rule("email", "the web store (the form should have refused it)"),
         Rule("between_dates", "submitted_at", False, "submitted_at outside the plausible range")),
        "web_store", derive=lambda df: _with_verdicts(df, ("email",)),
        description="Web form submissions: keys, form enumeration, email syntax, dates in range.",
    ),
    TableCheck(
        "email_events_valid", f"{tables.RAW_EMAIL}.email_events", "received_seq",
        f"select received_seq, provider_event_id, event, occurred_at, _dlt_load_id from {tables.RAW_EMAIL}.email_events "
        "where {since}",
        (Rule("not_null", "provider_event_id", True, "provider event without its id: cannot be de-duplicated"),
         Rule("in_set", "event", True, "unknown email event type", value_set=tuple(EMAIL_EVENTS)),
         Rule("between_dates", "occurred_at", False, "occurred_at outside the plausible range")),
        "web_store", description="Email provider events: event ids, event enumeration, dates in range.",
    ),
)
CHECKS_BY_NAME = {c.name: c for c in CHECKS}


# --- running a check ----------------------------------------------------------------------------

@dataclass
class Failure:
    rule: Rule
    unexpected: int
    examples: list[Any] = field(default_factory=list)


@dataclass
class Outcome:
    check: str
    table: str
    rows_checked: int
    table_rows: int
    previous_rows: int | None
    failures: list[Failure] = field(default_factory=list)
    quarantined: int = 0
    skipped: str = ""

    @property
    def blocking(self) -> bool:
        return any(f.rule.blocking for f in self.failures)

    @property
    def passed(self) -> bool:
        return not self.failures

    def metadata(self) -> dict[str, Any]:
        return {
            "table": self.table, "rows_checked": self.rows_checked, "table_rows": self.table_rows,
            "previous_rows": self.previous_rows if self.previous_rows is not None else -1,
            "quarantined": self.quarantined, "skipped": self.skipped,
            "failures": [f"{'BLOCKING' if f.rule.blocking else 'warn'} {f.rule.column}: {f.rule.reason} "
                         f"({f.unexpected} rows, e.g. {f.examples[:3]})" for f in self.failures],
        }


def _gx_validate(df: pd.DataFrame, rules: list[Rule], key: str) -> list[tuple[Rule, Any]]:
    """(rule, GX result) per rule, through an ephemeral context (no files, no network)."""
    import great_expectations as gx  # heavy (~6 s): imported when a check runs, not with the module

    context = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # cosmetic only
        pass
    batch = (context.data_sources.add_pandas("warmpool").add_dataframe_asset("frame")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df}))
    suite = gx.ExpectationSuite(name="boundary")
    for rule in rules:
        suite.add_expectation(rule.expectation())
    result = batch.validate(suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [key]})
    return list(zip(rules, result.results))


def _history(con, check: str) -> tuple[int | None, str]:
    if not table_exists(con, ROW_COUNTS):
        return None, ""
    # fetchall: DuckDB 2 refuses the next query while a result is only partly read
    rows = con.execute(f"select row_count, last_load_id from {ROW_COUNTS} where check_name = ? "
                       "order by checked_at desc limit 1", [check]).fetchall()
    return (int(rows[0][0]), rows[0][1] or "") if rows else (None, "")


def run_check(name: str, settings: Settings | None = None) -> Outcome:
    """Validate one table with GX; quarantine rows failing non-blocking rules; record the row count."""
    s = settings or get_settings()
    check = CHECKS_BY_NAME[name]
    if not warehouse_exists(s):
        return Outcome(name, check.table, 0, 0, None, skipped="no warehouse yet")
    with open_warehouse(s, read_only=True) as con:
        if not table_exists(con, check.table):
            return Outcome(name, check.table, 0, 0, None, skipped="table not loaded yet")
        previous, since = _history(con, name)
        # a frame the same on either engine (polars, then pandas for GX)
        df = frame_of(con, check.sql.format(since="_dlt_load_id > ?"), [since]).to_pandas()
        total = con.execute(f"select count(*) from {check.table}").fetchall()[0][0]
        last_load = df["_dlt_load_id"].max() if len(df) else since
    outcome = Outcome(name, check.table, len(df), int(total), previous)
    rules = [replace(r, value_set=tuple(r.values_from(s))) if r.values_from else r for r in check.rules]
    if len(df):
        df = check.derive(df.copy())
        df["_row"] = range(len(df))  # a unique row handle (child tables repeat the parent's key)
        for rule, res in _gx_validate(df, rules, "_row"):
            if not res.success:
                idx = [r.get("_row") for r in (res.result.get("unexpected_index_list") or [])]
                shown = rule.field or rule.column
                examples = [_plain(v) for v in df.loc[df["_row"].isin(idx[:5]), shown]]
                outcome.failures.append(Failure(rule, int(res.result.get("unexpected_count") or len(idx)), examples))
                if not rule.blocking:
                    outcome.quarantined += _quarantine_rows(check, rule, df, idx, s)
    # Row count against the previous load: merged raw tables never shrink.
    table_frame = pd.DataFrame({"table_rows": [int(total)]})
    if previous is not None:
        (rule, res), = _gx_validate_table(table_frame, previous)
        if not res.success:
            outcome.failures.append(Failure(rule, previous - int(total), [f"{previous} -> {total}"]))
    if not outcome.blocking:
        _record(s, name, check.table, int(total), str(last_load))
    return outcome


def _gx_validate_table(frame: pd.DataFrame, previous: int):
    rule = Rule("min_rows", "table_rows", True, f"the table has fewer rows than after the previous load ({previous}): "
                "rows were deleted or a load replaced the table; restore it before anything reads it")
    import great_expectations as gx  # heavy (~6 s): imported when a check runs, not with the module

    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("warmpool").add_dataframe_asset("counts")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
    suite = gx.ExpectationSuite(name="row_counts")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="table_rows", min_value=previous))
    return [(rule, batch.validate(suite).results[0])]


def _plain(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _quarantine_rows(check: TableCheck, rule: Rule, df: pd.DataFrame, keys: list, settings: Settings) -> int:
    field_name = rule.field or rule.column
    bad = df[df["_row"].isin(keys)]
    rows = []
    for record in bad.drop(columns=[c for c in bad.columns if c.endswith("_is_valid") or c == "_row"]).to_dict("records"):
        record = {k: _plain(v) for k, v in record.items() if not (isinstance(v, float) and pd.isna(v))}
        value = record.get(field_name)
        rows.append(rejected_row(check.source, check.table, int(record[check.key]), field_name,
                                 f"{check.key} {record[check.key]}: {field_name} {str(value)[:80]!r}: {rule.reason}", record))
    return quarantine(rows, settings)


def _record(settings: Settings, check: str, table: str, rows: int, last_load_id: str) -> None:
    schema = ROW_COUNTS.split(".")[0]
    with open_warehouse(settings) as con:
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create table if not exists {ROW_COUNTS} (check_name varchar, table_name varchar, "
                    "row_count bigint, last_load_id varchar, checked_at timestamptz)")
        con.execute(f"insert into {ROW_COUNTS} values (?, ?, ?, ?, ?)",
                    [check, table, rows, last_load_id, datetime.now(timezone.utc)])


def forget_erased_rows(con, removed: dict[str, int]) -> dict[str, int]:
    """Lower each check's recorded row count by the rows an erasure deleted from its table (on the
    erasure's own connection and transaction), so the next check does not take an erasure for a
    load that lost rows. Rows per table accounted for."""
    if not table_exists(con, ROW_COUNTS):
        return {}
    done = {}
    for table, n in removed.items():
        if n and con.execute(f"select count(*) from {ROW_COUNTS} where table_name = ?", [table]).fetchone()[0]:
            con.execute(f"update {ROW_COUNTS} set row_count = greatest(row_count - ?, 0) where table_name = ?", [n, table])
            done[table] = n
    return done
