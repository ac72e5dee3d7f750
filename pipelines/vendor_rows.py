"""Checking vendor records a batch at a time, column by column (polars), never row by row.

`check_batch` turns a `RecordBatch` (see `vendor_read`) into the rows to load (an Arrow table in
`ARROW_SCHEMA`) and the quarantine rows. Cheap rules run as vectorised expressions over the whole
batch; the libraries that define a rule (email-validator through `warmpool.emails`, phonenumbers,
`warmpool.text` for names and profile URLs, Python's date parsing) are asked only for values a
vectorised fast path does not already recognise, once per distinct value.

The rules (pipelines/README.md, "Vendor files"):
- the row is **rejected** (not loaded) for: a value over MAX_FIELD_CHARS, a missing or duplicated
  `vendor_record_id`, an invalid email, an unparseable date, conflicting values under a header named
  twice, anything the reader could not read;
- the row **loads with the field set to null** (and a quarantine row naming the field) for: a phone
  `phonenumbers` cannot parse, a profile URL `warmpool.text` refuses, a date outside
  [MIN_DATE, today + 1 day] (sentinels such as 1900-01-01 or 9999-12-31, future dates), years of
  experience that are not a number 0-70, a list or object where one value belongs;
- names lose invisible characters (`warmpool.text.clean_name`), profile URLs are canonical
  (`warmpool.text.profile_url`); other text is kept verbatim (formula-prefixed cells too: the
  audience export neutralises those).
When one field has several problems, the first in that order is the one quarantined.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import phonenumbers
import polars as pl
import pyarrow as pa

from pipelines.quarantine import rejected_row
from pipelines.vendor_read import WHITESPACE, Problem, RecordBatch, normalise_skills
from warmpool.emails import InvalidEmail, normalize_email, valid_email_mask
from warmpool.frames import per_distinct
from warmpool.text import clean_names, profile_urls_many

CANONICAL = ("vendor_record_id", "first_name", "last_name", "email", "phone", "city", "region", "country",
             "linkedin_url", "current_title", "current_company", "skills", "years_experience", "updated_at")
COMPOSITE = ("full_name", "location")   # split into first/last name and city/region/country
RESUME_KEY = ("vendor", "vendor_record_id", "file_name")
DATE_FIELDS = ("updated_at", "purchased_at")
MAX_FIELD_CHARS = 32_768          # longer than any real name, URL or skill list: a broken export
MIN_DATE = date(1980, 1, 1)       # earlier "dates" in a resume export are sentinels (1900-01-01, 0001-01-01)
ROW_ID = "_dlt_id"                # "<file's sha256, 16 hex>-<file_row>": dlt's row key, stable across re-runs

# large_string: what polars hands over, so no copy on the way to dlt.
ARROW_SCHEMA = pa.schema(  # matches vendor_files.resume_columns(): nullability included, so dlt keeps its hints quietly
    [pa.field(c, pa.large_string(), nullable=c not in RESUME_KEY) for c in CANONICAL]
    + [pa.field("vendor", pa.large_string(), nullable=False), pa.field("file_name", pa.large_string(), nullable=False),
       ("file_row", pa.int64()), ("purchased_at", pa.date32()), ("cost", pa.decimal128(12, 2)),
       pa.field(ROW_ID, pa.large_string(), nullable=False)]
)

# Shapes phonenumbers always parses (checked against the library in tests/test_vendor_readers.py):
# a ten-digit national number read with the default region (US), and "+" with a known country
# calling code followed by 8-15 digits in all. Anything else is asked of the library.
_NATIONAL_PHONE = r"^\(?[0-9]{3}\)?[ .\-]?[0-9]{3}[ .\-]?[0-9]{4}$"
_INTERNATIONAL_PHONE = r"^\+[0-9][0-9 .()\-]*$"
_CALLING_CODES = {n: sorted(str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if len(str(c)) == n)
                  for n in (1, 2, 3)}
DEFAULT_PHONE_REGION = "US"


def max_date() -> date:
    return datetime.now(timezone.utc).date() + timedelta(days=1)


@dataclass
class FileContext:
    """What checking a file's rows needs to know besides the rows; `first_row_of` grows as the
    file's batches are checked (the first row of every vendor record id loaded so far)."""
    vendor: str
    file_name: str
    sha256: str
    spec: dict
    purchased_at: str                  # the file's purchase date (ISO) for rows without their own
    cost: Decimal | None
    first_row_of: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema={"vendor_record_id": pl.String, "first_row": pl.Int64}))

    @property
    def date_format(self) -> str:
        return self.spec.get("date_format", "iso")


# --- the batch ----------------------------------------------------------------------------------

def check_batch(batch: RecordBatch, ctx: FileContext) -> tuple[pa.Table, list[dict[str, Any]]]:
    """(rows to load, quarantine rows) of one batch."""
    rows = _canonical(batch.frame, ctx.spec)
    found = _Problems(batch.problems)
    rows = _too_long(rows, found)
    rows = rows.with_columns(first_name=clean_names(rows["first_name"]), last_name=clean_names(rows["last_name"]))
    rows = _profile_urls(rows, found)
    missing = rows["vendor_record_id"].is_null()
    found.add(rows["_row"].filter(missing), "vendor_record_id", "missing vendor record id: the row cannot be "
              "tracked or de-duplicated; ask the vendor for the id", True)
    _emails(rows, found)
    rows = _phones(rows, found)
    rows = _years(rows, found)
    for name in DATE_FIELDS:
        rows = _dates(rows, name, ctx, found)
    _duplicates(rows, found, ctx)
    problems = found.frame()
    good = rows.filter(~pl.col("_row").is_in(found.rejected().implode()))
    quarantined = _quarantine_rows(problems, batch, ctx)
    return _arrow(good, ctx), quarantined


class _Problems:
    """Problems found so far, in rule order (the first per row and field is the one kept)."""

    def __init__(self, from_reader: list[Problem]):
        self.parts: list[pl.DataFrame] = []
        if from_reader:
            self.parts.append(pl.DataFrame(
                {"_row": [p.row for p in from_reader], "field": [p.field for p in from_reader],
                 "reason": [p.reason for p in from_reader], "rejects": [p.rejects for p in from_reader]},
                schema=self._schema()).with_columns(order=pl.lit(0, pl.Int32)))

    @staticmethod
    def _schema() -> dict:
        return {"_row": pl.Int64, "field": pl.String, "reason": pl.String, "rejects": pl.Boolean}

    def add(self, rows: pl.Series, field_name: str, reason: str | pl.Series, rejects: bool) -> None:
        if not len(rows):
            return
        reasons = reason if isinstance(reason, pl.Series) else pl.Series([reason] * len(rows), dtype=pl.String)
        self.parts.append(pl.DataFrame({"_row": rows, "field": pl.Series([field_name] * len(rows), dtype=pl.String),
                                        "reason": reasons, "rejects": pl.Series([rejects] * len(rows))},
                                       schema=self._schema()).with_columns(order=pl.lit(len(self.parts) + 1, pl.Int32)))

    def rejected(self) -> pl.Series:
        if not self.parts:
            return pl.Series("_row", [], dtype=pl.Int64)
        return pl.concat(self.parts).filter(pl.col("rejects"))["_row"].unique()

    def frame(self) -> pl.DataFrame:
        if not self.parts:
            return pl.DataFrame(schema=self._schema())
        return (pl.concat(self.parts).sort("_row", "order", maintain_order=True)
                .unique(["_row", "field"], keep="first", maintain_order=True).drop("order"))


def _nonblank(expr: pl.Expr) -> pl.Expr:
    """Python's str.strip() (str.strip's whitespace, not only ASCII), blank -> null."""
    stripped = expr.str.strip_chars(WHITESPACE)
    return pl.when(stripped.str.len_bytes() == 0).then(None).otherwise(stripped)


def _canonical(frame: pl.DataFrame, spec: dict) -> pl.DataFrame:
    """The mapped columns as canonical fields: text stripped, full_name and location split, skills
    `;`-separated, trimmed and de-duplicated; dates still as given (checked later)."""
    frame = frame.with_columns([pl.lit(None, pl.String).alias(c)
                                for c in (*CANONICAL, *COMPOSITE, "purchased_at", "_skills") if c not in frame.columns])
    frame = frame.with_columns(_nonblank(pl.col(c)).alias(c) for c in (*CANONICAL, *COMPOSITE)
                               if c not in ("skills", "updated_at"))
    mapped = set(spec["columns"].values())
    if "full_name" in mapped:
        name = pl.col("full_name")
        comma = name.str.contains(",", literal=True)
        by_comma, by_space = name.str.splitn(",", 2).struct, name.str.splitn(" ", 2).struct
        frame = frame.with_columns(
            first_name=pl.coalesce("first_name", pl.when(comma).then(_nonblank(by_comma.field("field_1")))
                                   .otherwise(_nonblank(by_space.field("field_0")))),
            last_name=pl.coalesce("last_name", pl.when(comma).then(_nonblank(by_comma.field("field_0")))
                                  .otherwise(_nonblank(by_space.field("field_1")))))
    if "location" in mapped:
        parts = pl.col("location").str.split(",").list.eval(pl.element().str.strip_chars(WHITESPACE)) \
            .list.eval(pl.element().filter(pl.element() != ""))
        n = parts.list.len()
        frame = frame.with_columns(
            city=pl.coalesce("city", pl.when(n >= 1).then(parts.list.first())),
            region=pl.coalesce("region", pl.when(n >= 3).then(parts.list.slice(1, n - 2).list.join(", "))),
            country=pl.coalesce("country", pl.when(n >= 2).then(parts.list.last())))
    separator = spec.get("skills_separator", ",")
    skills = per_distinct(frame["skills"], lambda v: normalise_skills(v, separator), pl.String)
    frame = frame.with_columns(skills=pl.coalesce(pl.col("_skills"), skills))
    return frame.select("_row", *CANONICAL, "purchased_at")


# --- the rules ------------------------------------------------------------------------------------

def _too_long(rows: pl.DataFrame, found: _Problems) -> pl.DataFrame:
    nulled = []
    for name in (*CANONICAL, "purchased_at"):
        length = rows[name].str.len_chars()
        long_rows = (length > MAX_FIELD_CHARS).fill_null(False)
        if long_rows.any():
            found.add(rows["_row"].filter(long_rows), name,
                      pl.Series([f"value is {n:,} characters, over the {MAX_FIELD_CHARS:,} limit (a broken export?); "
                                 "ask the vendor to re-send the file" for n in length.filter(long_rows).to_list()]),
                      True)
            nulled.append(pl.when(long_rows).then(None).otherwise(pl.col(name)).alias(name))
    return rows.with_columns(nulled) if nulled else rows


def _reason_rows(rows: pl.DataFrame, name: str, reasons: pl.Series, found: _Problems, rejects: bool) -> pl.Series:
    """Adds a problem for every row whose `reasons` is not null; returns that mask."""
    has = reasons.is_not_null()
    found.add(rows["_row"].filter(has), name, reasons.filter(has), rejects)
    return has


def _profile_urls(rows: pl.DataFrame, found: _Problems) -> pl.DataFrame:
    urls, errors = profile_urls_many(rows["linkedin_url"])
    refused = errors.is_not_null()
    found.add(rows["_row"].filter(refused), "linkedin_url", pl.Series([
        f"not a web address we can use ({error}): {value[:80]!r}; set to null (the row is kept)"
        for value, error in zip(rows["linkedin_url"].filter(refused).to_list(), errors.filter(refused).to_list())],
        dtype=pl.String), False)
    return rows.with_columns(urls.alias("linkedin_url"))


def _emails(rows: pl.DataFrame, found: _Problems) -> None:
    invalid = (~valid_email_mask(rows["email"])).fill_null(False)

    def reason(value: str) -> str | None:
        try:
            normalize_email(value)
        except InvalidEmail as exc:
            return f"invalid email {value[:80]!r}: {exc}"
        return None

    _reason_rows(rows, "email", per_distinct(rows["email"], reason, pl.String, where=invalid), found, True)


def phone_problem(value: str) -> str | None:
    """Why phonenumbers cannot parse a phone (read with the default region unless it starts with +)."""
    try:
        phonenumbers.parse(value, None if value.startswith("+") else DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        return f"unparseable phone {value[:40]!r}, set to null (the row is kept): {exc}"
    return None


def phones_parse(values: pl.Series) -> pl.Series:
    """The vectorised fast path: true where phonenumbers certainly parses the value."""
    national = values.str.contains(_NATIONAL_PHONE).fill_null(False)
    plus = values.str.starts_with("+").fill_null(False)
    if not plus.any():
        return national
    digits = values.str.replace_all(r"[^0-9]", "")
    calling_code = pl.select(pl.any_horizontal(digits.str.slice(0, n).is_in(codes)
                                               for n, codes in _CALLING_CODES.items())).to_series()
    international = values.str.contains(_INTERNATIONAL_PHONE) & digits.str.len_chars().is_between(8, 15) & calling_code
    return national | (plus & international).fill_null(False)


def _phones(rows: pl.DataFrame, found: _Problems) -> pl.DataFrame:
    phone = rows["phone"]
    reasons = per_distinct(phone, _safely(phone_problem, "phone"), pl.String, where=~phones_parse(phone))
    bad = _reason_rows(rows, "phone", reasons, found, False)
    return rows.with_columns(pl.when(bad).then(None).otherwise(pl.col("phone")).alias("phone"))


def _years(rows: pl.DataFrame, found: _Problems) -> pl.DataFrame:
    def reason(value: str) -> str | None:
        try:
            years = float(value)
            if not 0 <= years <= 70:
                raise ValueError
        except ValueError:
            return f"years of experience {value[:40]!r} is not a number from 0 to 70; set to null (the row is kept)"
        return None

    bad = _reason_rows(rows, "years_experience", per_distinct(rows["years_experience"], reason, pl.String), found,
                       False)
    return rows.with_columns(pl.when(bad).then(None).otherwise(pl.col("years_experience")).alias("years_experience"))


def parse_date(value: Any, date_format: str) -> str | None:
    """ISO text (`YYYY-MM-DD`, or a full timestamp when the source has a time); ValueError if unparseable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    s = str(value).strip()
    if date_format == "iso":
        parsed = datetime.fromisoformat(s)
        return parsed.isoformat() if "T" in s or " " in s else parsed.date().isoformat()
    parsed = datetime.strptime(s, date_format)
    return parsed.date().isoformat() if parsed.time() == datetime.min.time() else parsed.isoformat()


def _dates(rows: pl.DataFrame, name: str, ctx: FileContext, found: _Problems) -> pl.DataFrame:
    date_format, typed_cells = ctx.date_format, ctx.spec["format"] == "xlsx"

    def verdict(value: str) -> dict[str, Any]:
        try:
            try:
                iso = parse_date(value, date_format)
            except ValueError:
                if not typed_cells:
                    raise
                iso = parse_date(value, "iso")  # an Excel date cell arrives as an ISO date
        except (ValueError, TypeError, OverflowError):
            return {"iso": None, "reason": f"unparseable date {str(value)[:40]!r} (expected {date_format} as set "
                                           "for this vendor in config/vendors.yaml)", "rejects": True}
        if iso and not MIN_DATE <= date.fromisoformat(iso[:10]) <= max_date():
            return {"iso": None, "reason": f"date {iso} is outside {MIN_DATE} .. {max_date()} (a sentinel or future "
                                           "date); set to null (the row is kept)", "rejects": False}
        return {"iso": iso, "reason": None, "rejects": False}

    verdicts = per_distinct(rows[name], verdict, pl.Struct({"iso": pl.String, "reason": pl.String,
                                                            "rejects": pl.Boolean}))
    reason, rejects = verdicts.struct.field("reason"), verdicts.struct.field("rejects").fill_null(False)
    _reason_rows(rows, name, pl.select(pl.when(rejects).then(reason)).to_series(), found, True)
    _reason_rows(rows, name, pl.select(pl.when(~rejects).then(reason)).to_series(), found, False)
    return rows.with_columns(verdicts.struct.field("iso").alias(name))


def _duplicates(rows: pl.DataFrame, found: _Problems, ctx: FileContext) -> None:
    """The first row with a vendor record id loads; later ones in the same file are rejected."""
    key = "vendor_record_id"
    candidates = rows.filter(~pl.col("_row").is_in(found.rejected().implode()) & pl.col(key).is_not_null()) \
        .select("_row", key)
    if not ctx.first_row_of.height and candidates[key].n_unique() == candidates.height:  # the usual first batch
        ctx.first_row_of = candidates.rename({"_row": "first_row"}).select(key, "first_row")
        return
    earlier = candidates.join(ctx.first_row_of, on=key, how="inner")
    fresh = candidates.join(ctx.first_row_of, on=key, how="anti")
    firsts = fresh.filter(pl.col(key).is_first_distinct())
    repeats = fresh.filter(~pl.col(key).is_first_distinct()).join(
        firsts.rename({"_row": "first_row"}), on=key, how="left")
    dups = pl.concat([earlier, repeats.select("_row", key, "first_row")]).sort("_row")
    if dups.height:
        found.add(dups["_row"], key, pl.Series([
            f"duplicate vendor record id {k!r} in this file (first at row {first}, which is loaded)"
            for k, first in dups.select(key, "first_row").iter_rows()]), True)
    ctx.first_row_of = pl.concat([ctx.first_row_of, firsts.rename({"_row": "first_row"}).select(key, "first_row")])


def _safely(fn, name: str):
    """A per-value rule that cannot take the batch down: an unexpected error is that value's problem."""
    def wrapped(value):
        try:
            return fn(value)
        except Exception as exc:  # noqa: BLE001 - any library error on one value costs only that value
            return f"{name} {str(value)[:40]!r} could not be checked ({type(exc).__name__}: {exc}); set to null"
    return wrapped


# --- output -----------------------------------------------------------------------------------------

def _arrow(good: pl.DataFrame, ctx: FileContext) -> pa.Table:
    purchased = pl.lit(date.fromisoformat(ctx.purchased_at))
    if good["purchased_at"].null_count() < good.height:  # the vendor maps a purchase date of its own
        purchased = pl.coalesce(pl.col("purchased_at").str.slice(0, 10).str.to_date(), purchased)
    frame = good.with_columns(
        vendor=pl.lit(ctx.vendor), file_name=pl.lit(ctx.file_name), file_row=pl.col("_row"), purchased_at=purchased,
        cost=pl.lit(ctx.cost, pl.Decimal(12, 2)),
        **{ROW_ID: pl.format("{}-{}", pl.lit(ctx.sha256[:16]), pl.col("_row"))},
    ).select(ARROW_SCHEMA.names)
    return frame.to_arrow().cast(ARROW_SCHEMA)


def _quarantine_rows(problems: pl.DataFrame, batch: RecordBatch, ctx: FileContext) -> list[dict[str, Any]]:
    if not problems.height:
        return []
    raw = batch.raw(problems["_row"].unique().to_list())
    return [rejected_row(ctx.vendor, ctx.file_name, row, field_name, reason, raw.get(row))
            for row, field_name, reason in problems.select("_row", "field", "reason").iter_rows()]
