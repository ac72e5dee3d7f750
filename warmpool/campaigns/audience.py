"""Audience files for marketers: ``audiences/<campaign_id>.csv`` in common email-provider import columns.

Rows come from ``marts.audience_members`` (campaign_id, person_id, email, first_name, last_name, city,
country, job_family, inclusion_reason). Marketers open these files in spreadsheets, so any cell that
a spreadsheet would read as a formula is neutralised (OWASP "CSV injection").
"""
from __future__ import annotations

import csv
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable

from warmpool import tables
from warmpool.warehouse import table_exists

AUDIENCE_COLUMNS = ("Email Address", "First Name", "Last Name", "City", "Country", "Job Family", "Person ID")
_SOURCE_FIELDS = ("email", "first_name", "last_name", "city", "country", "job_family", "person_id")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# = + - @ start formulas; TAB and CR do too in some spreadsheet programs (OWASP list).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """Text for one CSV cell: empty for null, a leading apostrophe before a formula prefix."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def _records(members: Any) -> Iterable[dict]:
    if hasattr(members, "to_dict"):  # a pandas DataFrame
        return members.to_dict(orient="records")
    if hasattr(members, "to_dicts"):  # a polars DataFrame
        return members.to_dicts()
    return members


def write_audience_csv(members: list[dict] | Any, campaign_id: str, dir: Path | str) -> Path:
    """Write ``<dir>/<campaign_id>.csv`` atomically (a reader never sees half a file); returns its path.

    One row per person (a repeated ``person_id`` is written once), in the order given.
    """
    if not _ID_RE.match(campaign_id or ""):  # it becomes a file name
        raise ValueError(f"campaign id {campaign_id!r} is not a safe file name")
    directory = Path(dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{campaign_id}.csv"
    seen: set = set()
    fd, tmp = tempfile.mkstemp(prefix=f".{campaign_id}.", suffix=".csv.tmp", dir=directory)
    try:
        # Plain UTF-8 without a BOM: a BOM would glue itself to "Email Address" for many readers.
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
            writer.writerow(AUDIENCE_COLUMNS)
            for row in _records(members):
                if row.get("campaign_id") not in (None, campaign_id):
                    continue  # a row of another campaign never leaks into this file
                key = row.get("person_id")
                if key is not None and key in seen:
                    continue
                seen.add(key)
                writer.writerow([safe_cell(_null_if_nan(row.get(f))) for f in _SOURCE_FIELDS])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


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


def retired_person_ids(con) -> list[tuple[str, str]] | None:
    """Retired person id -> current person id (``identity.person_id_map``), so the send ledger follows
    merges; None before identity resolution ever ran."""
    if not table_exists(con, tables.PERSON_ID_MAP):
        return None
    return con.execute(f"select any_person_id, person_id from {tables.PERSON_ID_MAP} "
                       f"where any_person_id <> person_id").fetchall()
