"""Vendor resume exports (job boards, resume databases, agencies) → `raw_vendors`.

Files land in `<landing>/vendors/<vendor_key>/` and are read as `config/vendors.yaml` says (CSV with
an encoding and delimiter, JSON lines with dotted paths, Excel). Each row is mapped onto the
canonical candidate fields and checked; a bad row goes to `quarantine.rejected_rows` with the file,
row and field, and the good rows of the same file still load.

Each file is loaded once: its sha256 is recorded in the pipeline state (committed together with
the load) and in `raw_vendors.loaded_files`. A file whose content was already loaded, under any
name, is skipped — a renamed re-delivery is not a second purchase.

Decisions (documented in pipelines/README.md):
- `file_row` / quarantine `row_number`: 1-based record number in the file, header not counted.
- A phone that `phonenumbers` cannot parse does not reject the resume (it was paid for and the
  rest is good): the row loads with `phone` null and the problem is quarantined with field `phone`.
- A missing `vendor_record_id`, an invalid email or an unparseable date rejects the row.
- `purchased_at`: the row's own purchase date if the vendor maps one, else a date in the file
  name (YYYY-MM-DD or YYYYMMDD), else the file's modification date.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import dlt
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from pipelines import _runner
from pipelines.quarantine import quarantine, rejected_row
from warmpool import tables
from warmpool.config import Settings

PIPELINE_NAME = "warmpool_vendors"
SOURCE_NAME = "vendors"
STATE_KEY = "loaded_files"  # sha256 -> {vendor, file_name, loaded_at}

CANONICAL = ("vendor_record_id", "first_name", "last_name", "email", "phone", "city", "region", "country",
             "linkedin_url", "current_title", "current_company", "skills", "years_experience", "updated_at")
RESUME_KEY = ("vendor", "vendor_record_id", "file_name")
DATE_FIELDS = ("updated_at", "purchased_at")


def _resume_columns() -> dict[str, dict]:
    # Declared, so a column that is empty in every row still exists and nothing is type-guessed.
    cols = {c: {"data_type": "text", "nullable": c not in RESUME_KEY} for c in CANONICAL}
    cols.update({
        "vendor": {"data_type": "text", "nullable": False},
        "file_name": {"data_type": "text", "nullable": False},
        "file_row": {"data_type": "bigint"},
        "purchased_at": {"data_type": "date"},
        "cost": {"data_type": "decimal", "precision": 12, "scale": 2},
    })
    return cols


# --- files ----------------------------------------------------------------------------------

@dataclass
class ParsedFile:
    vendor: str
    path: Path
    sha256: str
    records: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def file_name(self) -> str:
        return self.path.name


def vendors_root(settings: Settings | None = None) -> Path:
    return _runner.resolve(settings).landing_dir / "vendors"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def landed_files(settings: Settings | None = None) -> list[tuple[str, Path]]:
    """(vendor_key, path) of every file in the landing folder matching its vendor's pattern."""
    s = _runner.resolve(settings)
    root = vendors_root(s)
    found = []
    for vendor, spec in s.vendors.items():
        folder = root / vendor
        if folder.is_dir():
            found += [(vendor, p) for p in sorted(folder.glob(spec.get("pattern", "*"))) if p.is_file()]
    return found


def loaded_hashes(settings: Settings | None = None) -> dict[str, dict]:
    """sha256 of every file already loaded, from the pipeline's local state (no warehouse access)."""
    state = _runner.pipeline_state(PIPELINE_NAME, settings)
    return dict(state.get("sources", {}).get(SOURCE_NAME, {}).get(STATE_KEY, {}))


def new_vendor_files(settings: Settings | None = None) -> list[Path]:
    """Landed files whose content has not been loaded yet (the Dagster sensor polls this)."""
    seen = loaded_hashes(settings)
    new, hashes = [], set()
    for _, path in landed_files(settings):
        digest = sha256_of(path)
        if digest not in seen and digest not in hashes:
            hashes.add(digest)
            new.append(path)
    return new


# --- reading --------------------------------------------------------------------------------

def read_records(path: Path, spec: dict) -> Iterator[tuple[int, dict[str, Any] | Exception]]:
    """(row number, raw record) per record; a record that cannot be decoded comes as the exception."""
    fmt = spec["format"]
    if fmt == "csv":
        yield from _read_csv(path, spec)
    elif fmt == "jsonl":
        yield from _read_jsonl(path, spec)
    elif fmt == "xlsx":
        yield from _read_xlsx(path)
    else:
        raise ValueError(f"unknown vendor file format {fmt!r}")


def _read_csv(path: Path, spec: dict) -> Iterator[tuple[int, dict]]:
    encoding = spec.get("encoding", "utf-8")
    encoding = "utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding  # tolerate a BOM
    with open(path, encoding=encoding, newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh, delimiter=spec.get("delimiter", ",")), start=1):
            yield n, row


def _read_jsonl(path: Path, spec: dict) -> Iterator[tuple[int, dict | Exception]]:
    with open(path, encoding=spec.get("encoding", "utf-8")) as fh:
        n = 0
        for line in fh:
            if not line.strip():
                continue
            n += 1
            try:
                record = json.loads(line)
                yield n, record if isinstance(record, dict) else ValueError("not a JSON object")
            except json.JSONDecodeError as exc:
                yield n, exc


def _read_xlsx(path: Path) -> Iterator[tuple[int, dict]]:
    import openpyxl  # only needed for Excel vendors

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, [])]
        n = 0
        for values in rows:
            if all(v is None or str(v).strip() == "" for v in values):
                continue
            n += 1
            yield n, dict(zip(header, values))
    finally:
        book.close()


# --- mapping and checks ---------------------------------------------------------------------

def dotted(record: dict, path: str) -> Any:
    """`contact.email` → record["contact"]["email"]; a plain key wins if present."""
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel gives 5.0 for 5
    s = str(value).strip()
    return s or None


def split_full_name(full_name: str | None) -> tuple[str | None, str | None]:
    """"Last, First" or "First Rest of Name" (first token is the given name)."""
    if not full_name:
        return None, None
    if "," in full_name:
        last, _, first = full_name.partition(",")
        return text(first), text(last)
    first, _, rest = full_name.strip().partition(" ")
    return text(first), text(rest)


def split_location(location: str | None) -> tuple[str | None, str | None, str | None]:
    """"City, Region, Country"; two parts are read as "City, Country"."""
    parts = [p.strip() for p in (location or "").split(",") if p.strip()]
    if not parts:
        return None, None, None
    if len(parts) == 1:
        return parts[0], None, None
    if len(parts) == 2:
        return parts[0], None, parts[1]
    return parts[0], ", ".join(parts[1:-1]), parts[-1]


def normalise_skills(value: Any, separator: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        items = value
    elif separator == "list":
        items = str(value).replace(",", ";").split(";")
    else:
        items = str(value).split(separator)
    cleaned = [str(i).strip() for i in items if str(i).strip()]
    return ";".join(dict.fromkeys(cleaned)) or None


def parse_date(value: Any, date_format: str) -> str | None:
    """ISO text (`YYYY-MM-DD`, or a full timestamp when the source has a time); ValueError if unparseable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    s = str(value).strip()
    if date_format == "iso":
        parsed = datetime.fromisoformat(s)
        return parsed.isoformat() if "T" in s or " " in s else parsed.date().isoformat()
    parsed = datetime.strptime(s, date_format)
    return parsed.date().isoformat() if parsed.time() == datetime.min.time() else parsed.isoformat()


def to_canonical(raw: dict, spec: dict) -> dict[str, Any]:
    """Map a raw vendor record onto canonical fields (text); splits full_name and location."""
    mapped: dict[str, Any] = {}
    for source_col, target in spec["columns"].items():
        mapped[target] = dotted(raw, source_col) if spec["format"] == "jsonl" else raw.get(source_col)
    row = {c: text(mapped.get(c)) for c in CANONICAL if c not in ("skills", "updated_at")}
    if "full_name" in mapped:
        first, last = split_full_name(text(mapped["full_name"]))
        row["first_name"], row["last_name"] = row["first_name"] or first, row["last_name"] or last
    if "location" in mapped:
        city, region, country = split_location(text(mapped["location"]))
        row.update({k: row[k] or v for k, v in (("city", city), ("region", region), ("country", country))})
    row["skills"] = normalise_skills(mapped.get("skills"), spec.get("skills_separator", ","))
    row["updated_at"] = mapped.get("updated_at")
    row["purchased_at"] = mapped.get("purchased_at")
    return row


def check(row: dict[str, Any], date_format: str) -> list[tuple[str, str, bool]]:
    """Problems as (field, reason, rejects_row). Fixes `row` in place (dates to ISO, bad phone nulled)."""
    problems: list[tuple[str, str, bool]] = []
    if not row.get("vendor_record_id"):
        problems.append(("vendor_record_id", "missing vendor record id", True))
    if row.get("email"):
        try:
            validate_email(row["email"], check_deliverability=False)
        except EmailNotValidError as exc:
            problems.append(("email", f"invalid email: {exc}", True))
    if row.get("phone"):
        try:
            phonenumbers.parse(row["phone"], None if row["phone"].startswith("+") else "US")
        except phonenumbers.NumberParseException as exc:
            problems.append(("phone", f"unparseable phone, set to null (the row is kept): {exc}", False))
            row["phone"] = None
    for name in DATE_FIELDS:
        try:
            row[name] = parse_date(row.get(name), date_format)
        except (ValueError, TypeError):
            problems.append((name, f"unparseable date {row.get(name)!r} (expected {date_format})", True))
    return problems


def file_date(path: Path) -> str:
    m = re.search(r"(\d{4})-?(\d{2})-?(\d{2})", path.stem)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).date().isoformat()


def parse_file(vendor: str, path: Path, spec: dict, digest: str | None = None) -> ParsedFile:
    """Read, map and check one file: good rows to load and quarantine rows."""
    parsed = ParsedFile(vendor, path, digest or sha256_of(path))
    purchased, cost = file_date(path), spec.get("contract", {}).get("cost_per_resume")
    date_format = spec.get("date_format", "iso")
    try:
        records = list(read_records(path, spec))
    except Exception as exc:  # an unreadable file is quarantined whole and not marked loaded
        parsed.rejects.append(rejected_row(vendor, path.name, 0, "_file", f"unreadable file: {exc}", None))
        return parsed
    parsed.records = len(records)
    for n, raw in records:
        if isinstance(raw, Exception):
            parsed.rejects.append(rejected_row(vendor, path.name, n, "_record", f"undecodable record: {raw}", None))
            continue
        row = to_canonical(raw, spec)
        problems = check(row, date_format)
        parsed.rejects += [rejected_row(vendor, path.name, n, f, reason, raw) for f, reason, _ in problems]
        if not any(rejects for _, _, rejects in problems):
            row.update(vendor=vendor, file_name=path.name, file_row=n,
                       purchased_at=row["purchased_at"] or purchased, cost=cost)
            parsed.rows.append(row)
    return parsed


def parse_new_files(settings: Settings | None = None) -> list[ParsedFile]:
    s = _runner.resolve(settings)
    seen, digests, parsed = loaded_hashes(s), set(), []
    for vendor, path in landed_files(s):
        digest = sha256_of(path)
        if digest in seen or digest in digests:
            continue
        digests.add(digest)
        parsed.append(parse_file(vendor, path, s.vendors[vendor], digest))
    return parsed


# --- the dlt source -------------------------------------------------------------------------

def _contracts(vendors: dict) -> list[dict[str, Any]]:
    return [
        {"vendor": key, "vendor_name": spec.get("name"), "vendor_kind": spec.get("kind"),
         **spec["contract"]}
        for key, spec in vendors.items() if spec.get("contract")
    ]


@dlt.source(name=SOURCE_NAME)
def vendor_files(files: list[ParsedFile], vendors: dict):
    loadable = [f for f in files if not any(r["field"] == "_file" for r in f.rejects)]

    @dlt.resource(name="resumes", write_disposition="merge", primary_key=RESUME_KEY, columns=_resume_columns())
    def resumes():
        for f in loadable:
            yield f.rows

    @dlt.resource(name="loaded_files", write_disposition="merge", primary_key="sha256")
    def loaded_files():
        state = dlt.current.source_state().setdefault(STATE_KEY, {})
        for f in loadable:
            loaded_at = datetime.now(timezone.utc).isoformat()
            state[f.sha256] = {"vendor": f.vendor, "file_name": f.file_name, "loaded_at": loaded_at}
            yield {"sha256": f.sha256, "vendor": f.vendor, "file_name": f.file_name, "rows_loaded": len(f.rows),
                   "rows_rejected": f.records - len(f.rows), "loaded_at": loaded_at}

    @dlt.resource(name="contracts", write_disposition="merge", primary_key="contract_id")
    def contracts():
        state = dlt.current.resource_state("contracts")
        yield [c for c in _contracts(vendors) if _runner.is_changed(c, state, "contract_id")]

    return resumes, loaded_files, contracts


def vendor_files_source(settings: Settings | None = None, files: list[ParsedFile] | None = None):
    """A fresh source over the files not loaded yet (parsed now unless given)."""
    s = _runner.resolve(settings)
    return vendor_files(parse_new_files(s) if files is None else files, s.vendors)


def run_vendor_files(settings: Settings | None = None) -> dict[str, int]:
    """Quarantine bad rows, then load good rows, file bookkeeping and contracts; rows per table."""
    s = _runner.resolve(settings)
    files = parse_new_files(s)
    # Quarantine first: it is idempotent (merge), so a failed load followed by a re-run never
    # loses or doubles a quarantined row, while a file counts as loaded only with its rows.
    rejected = quarantine([r for f in files for r in f.rejects], s)
    counts = _runner.run(_runner.make_pipeline(PIPELINE_NAME, tables.RAW_VENDORS, s),
                         vendor_files_source(s, files), expected_tables=["resumes", "loaded_files", "contracts"])
    counts["rejected_rows"] = rejected
    return counts
