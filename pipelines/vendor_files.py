"""Vendor resume exports (job boards, resume databases, agencies) → `raw_vendors`.

Files land in `<landing>/vendors/<vendor_key>/`, where `<landing>` is any fsspec URL
(`Settings.landing_url`: the local landing folder by default, `s3://...`, `memory://...` in tests)
and are read as `config/vendors.yaml` says (CSV with an encoding and delimiter, JSON lines with
dotted paths, Excel). Each row is mapped onto the canonical candidate fields and checked; a bad row
goes to `quarantine.rejected_rows` with the file, row and field and a reason a person can act on,
and the good rows of the same file still load.

Each file is loaded once: its sha256 is recorded in the pipeline state (committed together with
the load) and in `raw_vendors.loaded_files`. A file whose content was already loaded, under any
name, is skipped — a renamed re-delivery is not a second purchase.

Good rows go to dlt as Arrow tables (one per file chunk), not dicts: dlt then writes parquet and skips
its row-by-row normalizer, which is what made a 1M-row file slow.

Decisions (documented in pipelines/README.md, "Vendor files"):
- `file_row` / quarantine `row_number`: 1-based record number in the file, header not counted;
  row 0 is a note about the whole file (field `_file`, `_encoding`, `_columns`).
- The row is rejected (not loaded) for: a missing or duplicated `vendor_record_id`, an invalid email,
  an unparseable date, a value over MAX_FIELD_CHARS, conflicting values under a duplicated header.
- The row loads with the field set to null (and a quarantine row naming the field) for: a phone
  `phonenumbers` cannot parse, a date outside [MIN_DATE, today + 1 day] (sentinels such as 1900-01-01
  or 9999-12-31, future dates), a non-number years of experience, a list/object where text belongs.
- Text is kept verbatim (formula-prefixed cells too: the audience export neutralises those).
- `purchased_at`: the row's own purchase date if the vendor maps one, else a date in the file
  name (YYYY-MM-DD or YYYYMMDD), else the file's modification date.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from decimal import Decimal
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator, NamedTuple

import dlt
import fsspec
import phonenumbers
import pyarrow as pa

from pipelines import _runner
from pipelines.quarantine import quarantine, rejected_row
from warmpool import tables
from warmpool.config import Settings
from warmpool.emails import InvalidEmail, normalize_email

PIPELINE_NAME = "warmpool_vendors"
SOURCE_NAME = "vendors"
STATE_KEY = "loaded_files"  # sha256 -> {vendor, file_name, loaded_at}

CANONICAL = ("vendor_record_id", "first_name", "last_name", "email", "phone", "city", "region", "country",
             "linkedin_url", "current_title", "current_company", "skills", "years_experience", "updated_at")
RESUME_KEY = ("vendor", "vendor_record_id", "file_name")
DATE_FIELDS = ("updated_at", "purchased_at")
MAX_FIELD_CHARS = 32_768          # longer than any real name, URL or skill list: a broken export
MIN_DATE = date(1980, 1, 1)       # earlier "dates" in a resume export are sentinels (1900-01-01, 0001-01-01)
CHUNK_ROWS = 100_000              # rows per Arrow table handed to dlt
# The csv module refuses fields over 128 KB with an error that would make the whole file unreadable;
# read them (up to 64 MB) and reject the one row with a reason instead.
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))

# What a change in a vendor file's shape does: the mapping decides the columns, so resumes are
# frozen (a new column in a file is reported as a `_columns` note, never a new warehouse column).
RESUMES_CONTRACT = {"tables": "evolve", "columns": "freeze", "data_type": "freeze"}

ARROW_SCHEMA = pa.schema(  # matches _resume_columns(): nullability included, so dlt keeps its hints quietly
    [pa.field(c, pa.string(), nullable=c not in RESUME_KEY) for c in CANONICAL]
    + [pa.field("vendor", pa.string(), nullable=False), pa.field("file_name", pa.string(), nullable=False),
       ("file_row", pa.int64()), ("purchased_at", pa.date32()), ("cost", pa.decimal128(12, 2))]
)


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


def max_date() -> date:
    return datetime.now(timezone.utc).date() + timedelta(days=1)


# --- files ----------------------------------------------------------------------------------

class LandedFile(NamedTuple):
    vendor: str
    url: str      # a plain path for local files, else the fsspec URL
    sha256: str

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class ParsedFile:
    vendor: str
    url: str
    sha256: str
    records: int = 0
    columns: dict[str, list] = field(default_factory=lambda: {c: [] for c in ARROW_SCHEMA.names})
    rejects: list[dict[str, Any]] = field(default_factory=list)
    unreadable: bool = False

    @property
    def file_name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def loaded(self) -> int:
        return len(self.columns["file_row"])

    def add(self, row: dict[str, Any]) -> None:
        for name, values in self.columns.items():
            values.append(row.get(name))

    def tables(self) -> Iterator[pa.Table]:
        for start in range(0, self.loaded, CHUNK_ROWS):
            yield pa.Table.from_pydict({c: v[start:start + CHUNK_ROWS] for c, v in self.columns.items()},
                                       schema=ARROW_SCHEMA)


def landing_fs(settings: Settings | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The landing folder's filesystem and its root path on it (any fsspec URL, local by default)."""
    fs, root = fsspec.core.url_to_fs(_runner.resolve(settings).landing_url)
    return fs, root.rstrip("/")


def _url(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return path if _is_local(fs) else fs.unstrip_protocol(path)


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def sha256_of(fs: fsspec.AbstractFileSystem, path: str) -> str:
    digest = hashlib.sha256()
    with fs.open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _landed_paths(settings: Settings | None = None) -> list[tuple[str, str]]:
    s = _runner.resolve(settings)
    fs, root = landing_fs(s)
    found = []
    for vendor, spec in s.vendors.items():
        folder = f"{root}/vendors/{vendor}"
        if fs.isdir(folder):
            found += [(vendor, p) for p in sorted(fs.glob(f"{folder}/{spec.get('pattern', '*')}")) if fs.isfile(p)]
    return found


def landed_files(settings: Settings | None = None) -> list[LandedFile]:
    """Every file in the landing folder matching its vendor's pattern, with its content hash."""
    fs, _ = landing_fs(settings)
    return [LandedFile(vendor, _url(fs, p), sha256_of(fs, p)) for vendor, p in _landed_paths(settings)]


def loaded_hashes(settings: Settings | None = None) -> dict[str, dict]:
    """sha256 of every file already loaded, from the pipeline's local state (no warehouse access)."""
    state = _runner.pipeline_state(PIPELINE_NAME, settings)
    return dict(state.get("sources", {}).get(SOURCE_NAME, {}).get(STATE_KEY, {}))


def new_vendor_files(settings: Settings | None = None) -> list[LandedFile]:
    """Landed files whose content has not been loaded yet (the Dagster sensor polls this)."""
    seen, hashes, new = loaded_hashes(settings), set(), []
    for f in landed_files(settings):
        if f.sha256 not in seen and f.sha256 not in hashes:
            hashes.add(f.sha256)
            new.append(f)
    return new


# --- reading --------------------------------------------------------------------------------

@dataclass
class FileNotes:
    """What a reader noticed about the file as a whole (quarantined as row 0)."""
    header: list[str] = field(default_factory=list)
    fallback_lines: list[int] = field(default_factory=list)  # lines not in the declared encoding
    duplicate_headers: list[str] = field(default_factory=list)
    empty: bool = False


def _decoded_lines(raw: io.BufferedIOBase, encoding: str, notes: FileNotes) -> Iterator[str]:
    """Lines decoded one by one: a line that is not valid in the declared encoding (the usual case:
    cp1252 / latin-1 sent as "UTF-8") is decoded as cp1252 (latin-1 for bytes cp1252 leaves undefined)
    and noted, so one mislabelled line neither fails the file nor turns into mojibake silently.
    `\\n` is the same byte in all three encodings, so splitting bytes on it first is safe."""
    head = raw.read(1 << 16)
    if not head:
        notes.empty = True
        return
    raw.seek(0)
    lines: Iterator[bytes] = iter(raw)  # binary iteration splits on b"\n" only (a CR inside a field stays)
    if b"\n" not in head and b"\r" in head:  # old Mac line ends (CR only)
        lines = iter(raw.read().replace(b"\r", b"\n").splitlines(keepends=True))
    for n, line in enumerate(lines, start=1):
        try:
            text_line = line.decode(encoding)
        except UnicodeDecodeError:
            notes.fallback_lines.append(n)
            try:
                text_line = line.decode("cp1252")
            except UnicodeDecodeError:
                text_line = line.decode("latin-1")
        if n == 1:
            text_line = text_line.lstrip("\ufeff")  # a UTF-8 byte order mark
        yield text_line


def read_records(fs: fsspec.AbstractFileSystem, path: str, spec: dict,
                 notes: FileNotes) -> Iterator[tuple[int, dict[str, Any] | Exception]]:
    """(row number, raw record) per record; a record that cannot be decoded comes as the exception."""
    fmt = spec["format"]
    if fmt == "csv":
        yield from _read_csv(fs, path, spec, notes)
    elif fmt == "jsonl":
        yield from _read_jsonl(fs, path, spec, notes)
    elif fmt == "xlsx":
        yield from _read_xlsx(fs, path, notes)
    else:
        raise ValueError(f"unknown vendor file format {fmt!r}")


class Duplicated(list):
    """The values under a header that appears more than once in the file."""


def _with_duplicates(header: list[str], values: list[Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, value in zip(header, values):
        if name in record:
            previous = record[name]
            record[name] = Duplicated([*(previous if isinstance(previous, Duplicated) else [previous]), value])
        else:
            record[name] = value
    return record


def _note_header(header: list[str], notes: FileNotes) -> None:
    notes.header = header
    notes.duplicate_headers = sorted({h for h in header if header.count(h) > 1})


def _read_csv(fs, path: str, spec: dict, notes: FileNotes) -> Iterator[tuple[int, dict]]:
    encoding = spec.get("encoding", "utf-8")
    with fs.open(path, "rb") as raw:
        reader = csv.reader(_decoded_lines(raw, encoding, notes), delimiter=spec.get("delimiter", ","))
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        _note_header(header, notes)
        n = 0
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank line
            n += 1
            yield n, _with_duplicates(header, values)


def _read_jsonl(fs, path: str, spec: dict, notes: FileNotes) -> Iterator[tuple[int, dict | Exception]]:
    with fs.open(path, "rb") as raw:
        n = 0
        for line in _decoded_lines(raw, spec.get("encoding", "utf-8"), notes):
            if not line.strip():
                continue
            n += 1
            try:
                record = json.loads(line)
                yield n, record if isinstance(record, dict) else ValueError("the line is not a JSON object")
            except json.JSONDecodeError as exc:
                yield n, exc


def _read_xlsx(fs, path: str, notes: FileNotes) -> Iterator[tuple[int, dict]]:
    import openpyxl  # only needed for Excel vendors

    with fs.open(path, "rb") as raw:
        data = raw.read()
    if not data:
        notes.empty = True
        return
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, [])]
        _note_header(header, notes)
        n = 0
        for values in rows:
            if all(v is None or str(v).strip() == "" for v in values):
                continue
            n += 1
            yield n, _with_duplicates(header, list(values))
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


def _scalar_or_note(name: str, value: Any, problems: list) -> Any:
    """Type drift: a list or object where text belongs is dropped with a note (the row stays)."""
    if isinstance(value, (dict, list, tuple)):
        problems.append((name, f"expected a single value, got {type(value).__name__} "
                               f"{json.dumps(value, default=str)[:80]}; stored as null", False))
        return None
    return value


def to_canonical(raw: dict, spec: dict, problems: list | None = None) -> dict[str, Any]:
    """Map a raw vendor record onto canonical fields (text); splits full_name and location."""
    problems = [] if problems is None else problems
    mapped: dict[str, Any] = {}
    for source_col, target in spec["columns"].items():
        value = dotted(raw, source_col) if spec["format"] == "jsonl" else raw.get(source_col)
        if isinstance(value, Duplicated):  # the same header twice: agree, or reject the row
            distinct = list(dict.fromkeys(v for v in (text(x) for x in value) if v is not None))
            if len(distinct) > 1:
                problems.append((target, f"column {source_col!r} appears {len(value)} times in the header with "
                                         f"different values {distinct[:3]}; fix the export's header", True))
            value = distinct[0] if distinct else None
        if target != "skills":
            value = _scalar_or_note(target, value, problems)
        mapped[target] = value
    row = {c: text(mapped.get(c)) for c in CANONICAL if c not in ("skills", "updated_at")}
    if "full_name" in mapped:
        first, last = split_full_name(text(mapped["full_name"]))
        row["first_name"], row["last_name"] = row["first_name"] or first, row["last_name"] or last
    if "location" in mapped:
        city, region, country = split_location(text(mapped["location"]))
        row.update({k: row[k] or v for k, v in (("city", city), ("region", region), ("country", country))})
    skills = mapped.get("skills")
    if isinstance(skills, dict):
        skills = _scalar_or_note("skills", skills, problems)
    row["skills"] = normalise_skills(skills, spec.get("skills_separator", ","))
    row["updated_at"] = mapped.get("updated_at")
    row["purchased_at"] = mapped.get("purchased_at")
    return row


def check(row: dict[str, Any], date_format: str) -> list[tuple[str, str, bool]]:
    """Problems as (field, reason, rejects_row). Fixes `row` in place (dates to ISO, bad values nulled)."""
    problems: list[tuple[str, str, bool]] = []
    for name, value in row.items():
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            problems.append((name, f"value is {len(value):,} characters, over the {MAX_FIELD_CHARS:,} limit "
                                   "(a broken export?); ask the vendor to re-send the file", True))
            row[name] = value[:200]  # what the quarantine row shows is the raw record anyway
    if not row.get("vendor_record_id"):
        problems.append(("vendor_record_id", "missing vendor record id: the row cannot be tracked or "
                                             "de-duplicated; ask the vendor for the id", True))
    if row.get("email"):
        try:
            normalize_email(row["email"])
        except InvalidEmail as exc:
            problems.append(("email", f"invalid email {row['email'][:80]!r}: {exc}", True))
    if row.get("phone"):
        try:
            phonenumbers.parse(row["phone"], None if row["phone"].startswith("+") else "US")
        except phonenumbers.NumberParseException as exc:
            problems.append(("phone", f"unparseable phone {row['phone'][:40]!r}, set to null (the row is kept): {exc}",
                             False))
            row["phone"] = None
    if row.get("years_experience") is not None:
        try:
            years = float(row["years_experience"])
            if not 0 <= years <= 70:
                raise ValueError
        except ValueError:
            problems.append(("years_experience", f"years of experience {row['years_experience'][:40]!r} is not a "
                                                 "number from 0 to 70; set to null (the row is kept)", False))
            row["years_experience"] = None
    for name in DATE_FIELDS:
        raw_value = row.get(name)
        try:
            row[name] = parse_date(raw_value, date_format)
        except (ValueError, TypeError, OverflowError):
            problems.append((name, f"unparseable date {str(raw_value)[:40]!r} (expected {date_format} as set for "
                                   "this vendor in config/vendors.yaml)", True))
            continue
        if row[name] and not MIN_DATE <= date.fromisoformat(row[name][:10]) <= max_date():
            problems.append((name, f"date {row[name]} is outside {MIN_DATE} .. {max_date()} (a sentinel or future "
                                   "date); set to null (the row is kept)", False))
            row[name] = None
    return problems


def file_date(fs: fsspec.AbstractFileSystem, path: str) -> str:
    m = re.search(r"(\d{4})-?(\d{2})-?(\d{2})", path.rsplit("/", 1)[-1])
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            pass
    info = fs.info(path)
    stamp = info.get("mtime") or info.get("LastModified") or info.get("created") or datetime.now(timezone.utc)
    if isinstance(stamp, (int, float)):
        stamp = datetime.fromtimestamp(stamp, timezone.utc)
    return stamp.date().isoformat()


def _file_notes(vendor: str, name: str, spec: dict, notes: FileNotes, records: int) -> list[dict[str, Any]]:
    out = []
    if notes.empty:
        out.append(rejected_row(vendor, name, 0, "_file", "empty file (0 bytes): nothing loaded; ask the vendor "
                                                          "to re-send the export", None))
    elif records == 0:
        out.append(rejected_row(vendor, name, 0, "_file", "the file has a header but no records: nothing loaded",
                                {"header": notes.header}))
    if notes.fallback_lines:
        out.append(rejected_row(
            vendor, name, 0, "_encoding",
            f"{len(notes.fallback_lines)} line(s) are not valid {spec.get('encoding', 'utf-8')} (first: line "
            f"{notes.fallback_lines[0]}); read as cp1252 — check accented names, and set `encoding` for this "
            "vendor in config/vendors.yaml or ask the vendor for UTF-8", {"lines": notes.fallback_lines[:100]}))
    if spec["format"] != "jsonl" and notes.header:
        mapped = set(spec["columns"])
        unmapped = [h for h in dict.fromkeys(notes.header) if h and h not in mapped]
        missing = [c for c in spec["columns"] if c not in notes.header]
        parts = []
        if unmapped:
            parts.append(f"columns not in the mapping were ignored: {unmapped} (add them to config/vendors.yaml "
                         "to load them)")
        if missing:
            parts.append(f"mapped columns missing from the file: {missing}")
        if notes.duplicate_headers:
            parts.append(f"columns named more than once: {notes.duplicate_headers}")
        if parts:
            out.append(rejected_row(vendor, name, 0, "_columns", "; ".join(parts), {"header": notes.header}))
    return out


def parse_file(vendor: str, fs: fsspec.AbstractFileSystem, path: str, spec: dict,
               digest: str | None = None) -> ParsedFile:
    """Read, map and check one file: good rows to load and quarantine rows."""
    parsed = ParsedFile(vendor, _url(fs, path), digest or sha256_of(fs, path))
    name = parsed.file_name
    purchased, cost = file_date(fs, path), spec.get("contract", {}).get("cost_per_resume")
    cost = None if cost is None else Decimal(str(cost))
    date_format = spec.get("date_format", "iso")
    notes, first_row_of = FileNotes(), {}
    try:
        for n, raw in read_records(fs, path, spec, notes):
            parsed.records = n
            if isinstance(raw, Exception):
                parsed.rejects.append(rejected_row(vendor, name, n, "_record", f"undecodable record: {raw}", None))
                continue
            problems: list[tuple[str, str, bool]] = []
            row = to_canonical(raw, spec, problems)
            problems += check(row, date_format)
            key = row.get("vendor_record_id")
            if key and not any(r for _, _, r in problems):
                if key in first_row_of:
                    problems.append(("vendor_record_id", f"duplicate vendor record id {key!r} in this file (first at "
                                                         f"row {first_row_of[key]}, which is loaded)", True))
                else:
                    first_row_of[key] = n
            parsed.rejects += [rejected_row(vendor, name, n, f, reason, raw) for f, reason, _ in problems]
            if not any(rejects for _, _, rejects in problems):
                row.update(vendor=vendor, file_name=name, file_row=n, cost=cost,
                           purchased_at=date.fromisoformat((row["purchased_at"] or purchased)[:10]))
                parsed.add(row)
    except Exception as exc:  # an unreadable file is quarantined whole and not marked loaded
        parsed.unreadable = True
        parsed.columns = {c: [] for c in ARROW_SCHEMA.names}
        parsed.rejects = [rejected_row(vendor, name, 0, "_file", f"unreadable file ({type(exc).__name__}: "
                                                                 f"{str(exc)[:300]}); nothing loaded, fix or "
                                                                 "re-send it and it is read again", None)]
        return parsed
    parsed.rejects += _file_notes(vendor, name, spec, notes, parsed.records)
    return parsed


def parse_new_files(settings: Settings | None = None) -> list[ParsedFile]:
    s = _runner.resolve(settings)
    fs, _ = landing_fs(s)
    seen, digests, parsed = loaded_hashes(s), set(), []
    for vendor, path in _landed_paths(s):
        digest = sha256_of(fs, path)
        if digest in seen or digest in digests:
            continue
        digests.add(digest)
        parsed.append(parse_file(vendor, fs, path, s.vendors[vendor], digest))
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
    loadable = [f for f in files if not f.unreadable]

    @dlt.resource(name="resumes", write_disposition="merge", primary_key=RESUME_KEY, columns=_resume_columns(),
                  schema_contract=RESUMES_CONTRACT)
    def resumes():
        for f in loadable:
            yield from f.tables()

    @dlt.resource(name="loaded_files", write_disposition="merge", primary_key="sha256")
    def loaded_files():
        state = dlt.current.source_state().setdefault(STATE_KEY, {})
        for f in loadable:
            loaded_at = datetime.now(timezone.utc).isoformat()
            state[f.sha256] = {"vendor": f.vendor, "file_name": f.file_name, "loaded_at": loaded_at}
            yield {"sha256": f.sha256, "vendor": f.vendor, "file_name": f.file_name, "file_url": f.url,
                   "rows_loaded": f.loaded, "rows_rejected": f.records - f.loaded, "loaded_at": loaded_at}

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
