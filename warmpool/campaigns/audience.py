"""Audience files for marketers: ``audiences/<campaign_id>.csv`` in an email provider's import columns.

Rows come from ``marts.audience_members``: the person's address, name, place and job family, the
lawful basis of the mail with when and where it was recorded, the segment (the campaign's name) and
tags. Each campaign picks the provider it is imported into (``audience_preset`` in its YAML:
``mailchimp`` (default), ``hubspot`` or ``sendgrid``); the preset names the columns as that provider's
importer expects them (docs/data-contracts.md section 6).

Marketers open these files in spreadsheets, so any cell a spreadsheet could evaluate is neutralised
(OWASP "CSV injection") without corrupting data: a valid email address is written exactly as it is;
any other cell whose first character, after leading whitespace or control characters and read in its
compatibility form (full-width "＝" is "="), is ``=``, ``+``, ``-`` or ``@``, or which starts with a
tab, CR or LF, gets a leading apostrophe.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from warmpool import tables
from warmpool.emails import is_valid_email

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_FORMULA_STARTS = frozenset("=+-@")
_CONTROL_STARTS = ("\t", "\r", "\n")


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.timezone.utc) if value.tzinfo else value
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _tags(separator: str) -> Callable[[Any], Any]:
    return lambda value: separator.join(value.split(";")) if isinstance(value, str) else value


# HubSpot's own values of its "Legal basis for processing contact's data" property.
_HUBSPOT_LEGAL_BASIS = {"opt_in": "Freely given consent from contact",
                        "legitimate_interest": "Legitimate interest - prospect/lead"}


@dataclass(frozen=True)
class Column:
    header: str
    field: str                                   # an audience_members column
    convert: Callable[[Any], Any] = lambda value: value


@dataclass(frozen=True)
class AudiencePreset:
    """How one email provider's contact importer wants the file."""
    name: str
    columns: tuple[Column, ...]

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.header for c in self.columns)


AUDIENCE_PRESETS: dict[str, AudiencePreset] = {p.name: p for p in (
    AudiencePreset("mailchimp", (  # Mailchimp audience import: merge-field names, "Tags" comma-separated
        Column("Email Address", "email"), Column("First Name", "first_name"), Column("Last Name", "last_name"),
        Column("City", "city"), Column("Country", "country"), Column("Job Family", "job_family"),
        Column("Tags", "tags", _tags(",")), Column("Segment", "segment"),
        Column("Consent Basis", "consent_basis"), Column("Opt-in Date", "consent_recorded_at", _iso),
        Column("Consent Source", "consent_source"), Column("Person ID", "person_id"))),
    AudiencePreset("hubspot", (  # HubSpot contact import: property labels, its legal-basis values
        Column("Email", "email"), Column("First Name", "first_name"), Column("Last Name", "last_name"),
        Column("City", "city"), Column("Country/Region", "country"), Column("Job Family", "job_family"),
        Column("Legal basis for processing contact's data", "consent_basis", _HUBSPOT_LEGAL_BASIS.get),
        Column("Consent Date", "consent_recorded_at", _iso), Column("Consent Source", "consent_source"),
        Column("Segment", "segment"), Column("Tags", "tags", _tags(";")), Column("Warmpool Person ID", "person_id"))),
    AudiencePreset("sendgrid", (  # SendGrid Marketing Campaigns: reserved field names, custom fields lower case
        Column("email", "email"), Column("first_name", "first_name"), Column("last_name", "last_name"),
        Column("city", "city"), Column("country", "country"), Column("job_family", "job_family"),
        Column("consent_basis", "consent_basis"), Column("opt_in_date", "consent_recorded_at", _iso),
        Column("consent_source", "consent_source"), Column("segment", "segment"),
        Column("tags", "tags", _tags(",")), Column("person_id", "person_id"))),
)}
DEFAULT_PRESET = "mailchimp"
# The default preset's header: what a file looks like when the campaign names no provider.
AUDIENCE_COLUMNS = AUDIENCE_PRESETS[DEFAULT_PRESET].headers


def is_formula_like(text: str) -> bool:
    """Could a spreadsheet evaluate this cell? (OWASP CSV injection, plus the ways around a naive
    check: leading whitespace or control characters, and full-width forms of the trigger characters.)"""
    if text.startswith(_CONTROL_STARTS):
        return True
    stripped = text.lstrip()  # str.isspace covers \n, \r, \t, NBSP and the ideographic space
    return bool(stripped) and unicodedata.normalize("NFKC", stripped[0])[:1] in _FORMULA_STARTS


def safe_cell(value: Any) -> str:
    """Text for one CSV cell: empty for null; a valid email address as it is; a leading apostrophe
    before any other text a spreadsheet could evaluate."""
    if value is None:
        return ""
    text = str(value)
    if is_formula_like(text) and not is_valid_email_as_written(text):
        return "'" + text
    return text


def is_valid_email_as_written(text: str) -> bool:
    """A valid address with nothing around it ("-joe@example.com" is one; " =x@y.z" is not)."""
    return text == text.strip() and is_valid_email(text)


def _records(members: Any) -> Iterable[dict]:
    if hasattr(members, "to_dict"):  # a pandas DataFrame
        return members.to_dict(orient="records")
    if hasattr(members, "to_dicts"):  # a polars DataFrame
        return members.to_dicts()
    return members


def write_audience_csv(members: list[dict] | Any, campaign_id: str, dir: Path | str,
                       preset: str = DEFAULT_PRESET) -> Path:
    """Write ``<dir>/<campaign_id>.csv`` atomically (a reader never sees half a file) in the columns of
    ``preset`` (AUDIENCE_PRESETS); returns its path.

    One row per person (a repeated ``person_id`` is written once), in the order given.
    """
    if not _ID_RE.match(campaign_id or ""):  # it becomes a file name
        raise ValueError(f"campaign id {campaign_id!r} is not a safe file name")
    if preset not in AUDIENCE_PRESETS:
        raise ValueError(f"unknown audience preset {preset!r} (one of {', '.join(AUDIENCE_PRESETS)})")
    columns = AUDIENCE_PRESETS[preset].columns
    directory = Path(dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{campaign_id}.csv"
    seen: set = set()
    fd, tmp = tempfile.mkstemp(prefix=f".{campaign_id}.", suffix=".csv.tmp", dir=directory)
    try:
        # Plain UTF-8 without a BOM: a BOM would glue itself to the first header for many readers.
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            # every cell quoted (OWASP): a neutralised cell stays one cell in any reader
            writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            writer.writerow([c.header for c in columns])
            for row in _records(members):
                if row.get("campaign_id") not in (None, campaign_id):
                    continue  # a row of another campaign never leaks into this file
                key = row.get("person_id")
                if key is not None and key in seen:
                    continue
                seen.add(key)
                writer.writerow([safe_cell(_convert(c, _null_if_nan(row.get(c.field)))) for c in columns])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _convert(column: Column, value: Any) -> Any:
    return None if value is None else column.convert(value)


def _null_if_nan(value: Any) -> Any:
    # pandas turns SQL nulls into NaN floats; they are empty cells, not the text "nan".
    return None if isinstance(value, float) and value != value else value


def members_by_campaign(con) -> dict[str, list[dict]]:
    """``marts.audience_members`` grouped by campaign, each in person-id order."""
    cur = con.execute(f"select * from {tables.AUDIENCE_MEMBERS} order by campaign_id, person_id")
    cols = [d[0] for d in cur.description]
    grouped: dict[str, list[dict]] = {}
    for row in cur.fetchall():
        member = dict(zip(cols, row))
        grouped.setdefault(member["campaign_id"], []).append(member)
    return grouped
