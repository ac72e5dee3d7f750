"""Vendor resume exports (job boards, resume databases, agencies) → `raw_vendors`.

Files land in `<landing>/vendors/<vendor_key>/`, where `<landing>` is any fsspec URL
(`Settings.landing_url`: the local landing folder by default, `s3://...`, `memory://...` in tests)
and are read as `config/vendors.yaml` says (CSV with an encoding and delimiter, JSON lines with
dotted paths, Excel). `vendor_read` reads a file record by record in bounded blocks, recovering
from any bad record; `vendor_rows` maps and checks the records column by column. A bad row goes to
`quarantine.rejected_rows` with the file, row and field and a reason a person can act on, and the
good rows of the same file still load.

Each file is loaded once: its sha256 is recorded in the pipeline state (committed together with
the load) and in `raw_vendors.loaded_files`. A file whose content was already loaded, under any
name, is skipped — a renamed re-delivery is not a second purchase.

A run reads every new file first, writing the rows to load and the quarantine rows to a scratch
folder (`Spill`: memory stays bounded whatever the files' size), quarantines, then loads: good rows
go to dlt as Arrow tables, so dlt writes parquet and skips its row-by-row normalizer. Resumes are
appended (each file's content loads once), or merged on (vendor, vendor_record_id, file_name) in the
rare run that holds a file whose name was loaded before with other content (a corrected
re-delivery replaces the rows of the earlier one).

`file_row` / quarantine `row_number`: 1-based record number in the file, header not counted; row 0
is a note about the whole file (field `_file`, `_encoding`, `_columns`). `purchased_at`: the row's
own purchase date if the vendor maps one, else a date in the file name (YYYY-MM-DD or YYYYMMDD),
else the file's modification date.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import dlt
import fsspec
import pyarrow as pa

from pipelines import _runner
from pipelines.quarantine import ARROW_SCHEMA as QUARANTINE_SCHEMA, quarantine, rejected_row, rejected_rows_table
from pipelines.vendor_read import FileNotes, read_batches
from pipelines.vendor_rows import ARROW_SCHEMA, CANONICAL, RESUME_KEY, ROW_ID, FileContext, check_batch
from warmpool import tables
from warmpool.config import Settings
from warmpool.privacy import reingest
from warmpool.privacy.reingest import DoNotReingest
from warmpool.privacy.store import privacy_store

PIPELINE_NAME = "warmpool_vendors"
SOURCE_NAME = "vendors"
STATE_KEY = "loaded_files"  # sha256 -> {vendor, file_name, loaded_at}
CHUNK_ROWS = 100_000        # rows per Arrow table handed to dlt

# What a change in a vendor file's shape does: the mapping decides the columns, so resumes are
# frozen (a new column in a file is reported as a `_columns` note, never a new warehouse column).
RESUMES_CONTRACT = {"tables": "evolve", "columns": "freeze", "data_type": "freeze"}


def resume_columns() -> dict[str, dict]:
    # Declared, so a column that is empty in every row still exists and nothing is type-guessed.
    cols = {c: {"data_type": "text", "nullable": c not in RESUME_KEY} for c in CANONICAL}
    cols.update({
        "vendor": {"data_type": "text", "nullable": False},
        "file_name": {"data_type": "text", "nullable": False},
        "file_row": {"data_type": "bigint"},
        "purchased_at": {"data_type": "date"},
        "cost": {"data_type": "decimal", "precision": 12, "scale": 2},
        ROW_ID: {"data_type": "text", "nullable": False, "row_key": True, "unique": True},
    })
    return cols


# --- files ----------------------------------------------------------------------------------

class LandedFile(NamedTuple):
    vendor: str
    url: str      # a plain path for local files, else the fsspec URL
    sha256: str

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


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


def landed_paths(settings: Settings | None = None) -> list[tuple[str, str]]:
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
    return [LandedFile(vendor, _url(fs, p), sha256_of(fs, p)) for vendor, p in landed_paths(settings)]


def loaded_hashes(settings: Settings | None = None) -> dict[str, dict]:
    """sha256 of every file already loaded, from the pipeline's local state (no warehouse access)."""
    state = _runner.pipeline_state(PIPELINE_NAME, settings)
    return dict(state.get("sources", {}).get(SOURCE_NAME, {}).get(STATE_KEY, {}))


def rewritten_for_erasure(settings: Settings | None = None) -> dict[str, dict]:
    """sha256 of landed files rewritten without an erased person's rows: their other rows are
    loaded already, so the rewrite is not a new file (``pipelines.erasure``)."""
    s = _runner.resolve(settings)
    if not (s.privacy_dir / "privacy.sqlite").exists():
        return {}
    with privacy_store(s) as store:
        return {digest: {} for digest in store.rewritten_files()}


def new_vendor_files(settings: Settings | None = None) -> list[LandedFile]:
    """Landed files whose content has not been loaded yet (the Dagster sensor polls this)."""
    seen, hashes, new = loaded_hashes(settings) | rewritten_for_erasure(settings), set(), []
    for f in landed_files(settings):
        if f.sha256 not in seen and f.sha256 not in hashes:
            hashes.add(f.sha256)
            new.append(f)
    return new


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




# --- reading into the scratch folder ----------------------------------------------------------

class Spill:
    """The rows of one run on disk between reading and loading: per file, the rows to load and its
    quarantine rows (Arrow IPC files). The folder is emptied when a run starts and removed when it
    ends: personal data never stays there."""

    def __init__(self, folder: Path):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder

    def rows_path(self, sha256: str) -> Path:
        return self.folder / f"{sha256}.arrow"

    def rejects_path(self, sha256: str) -> Path:
        return self.folder / f"{sha256}.rejects.arrow"

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class ParsedFile:
    vendor: str
    url: str
    sha256: str
    rows_path: Path
    rejects_path: Path
    records: int = 0          # records in the file (loaded or not)
    loaded: int = 0           # rows to load
    rejected_rows: int = 0    # quarantine rows (a record may have several, a file note is one)
    unreadable: bool = False

    @property
    def file_name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def tables(self) -> Iterator[pa.Table]:
        if self.loaded:
            yield from _read_ipc(self.rows_path, ARROW_SCHEMA)

    def rejects(self) -> Iterator[pa.Table]:
        if self.rejected_rows:
            yield from _read_ipc(self.rejects_path, QUARANTINE_SCHEMA)


def _read_ipc(path: Path, schema: pa.Schema) -> Iterator[pa.Table]:
    """An Arrow IPC file in tables of about CHUNK_ROWS rows (memory-mapped: nothing is copied)."""
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        batches, n = [], 0
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            batches.append(batch)
            n += batch.num_rows
            if n >= CHUNK_ROWS:
                yield pa.Table.from_batches(batches, schema=schema)
                batches, n = [], 0
        if batches:
            yield pa.Table.from_batches(batches, schema=schema)


class _Sinks:
    """Where one file's checked batches go while it is read."""

    def __init__(self, parsed: ParsedFile):
        self.parsed = parsed
        self.rows = pa.ipc.new_file(str(parsed.rows_path), ARROW_SCHEMA)
        self.rejects = pa.ipc.new_file(str(parsed.rejects_path), QUARANTINE_SCHEMA)

    def add(self, rows: pa.Table, rejects: list[dict[str, Any]]) -> None:
        if rows.num_rows:
            self.rows.write_table(rows)
            self.parsed.loaded += rows.num_rows
        self.note(rejects)

    def note(self, rejects: list[dict[str, Any]]) -> None:
        if rejects:
            self.rejects.write_table(rejected_rows_table(rejects))
            self.parsed.rejected_rows += len(rejects)

    def close(self) -> None:
        self.rows.close()
        self.rejects.close()


def without_erased(rows: pa.Table, vendor: str, file_name: str,
                   do_not_reingest: DoNotReingest | None) -> tuple[pa.Table, list[dict[str, Any]]]:
    """The checked rows without those of people on the do-not-reingest list, and a quarantine row
    for each one left out (file and row, no record). Costs nothing while the list is empty."""
    if not do_not_reingest or not rows.num_rows:
        return rows, []
    blocked = [do_not_reingest.blocks(source=vendor, source_record_id=r["vendor_record_id"], emails=[r["email"]],
                                      phones=[r["phone"]], profile_urls=[r["linkedin_url"]])
               for r in rows.select(["vendor_record_id", "email", "phone", "linkedin_url"]).to_pylist()]
    if not any(blocked):
        return rows, []
    numbers = rows.column("file_row").to_pylist()
    refused = [rejected_row(vendor, file_name, n, reingest.FIELD, reingest.REASON, None)
               for n, hit in zip(numbers, blocked) if hit]
    return rows.filter(pa.array([not b for b in blocked])), refused


def parse_file(vendor: str, fs: fsspec.AbstractFileSystem, path: str, spec: dict, spill: Spill,
               digest: str | None = None, do_not_reingest: DoNotReingest | None = None) -> ParsedFile:
    """Read, map and check one file into `spill`: the rows to load and the quarantine rows. A row of
    a person on the do-not-reingest list is not loaded: it is quarantined without its contents."""
    digest = digest or sha256_of(fs, path)
    parsed = ParsedFile(vendor, _url(fs, path), digest, spill.rows_path(digest), spill.rejects_path(digest))
    cost = spec.get("contract", {}).get("cost_per_resume")
    ctx = FileContext(vendor, parsed.file_name, digest, spec, file_date(fs, path),
                      None if cost is None else Decimal(str(cost)))
    notes = FileNotes()
    sinks = _Sinks(parsed)
    try:
        for batch in read_batches(fs, path, spec, notes):
            rows, rejects = check_batch(batch, ctx)
            rows, refused = without_erased(rows, vendor, parsed.file_name, do_not_reingest)
            sinks.add(rows, rejects + refused)
        parsed.records = notes.records
        sinks.note(_file_notes(vendor, parsed.file_name, spec, notes, parsed.records))
    except Exception as exc:  # an unreadable file is quarantined whole and not marked loaded
        sinks.close()
        parsed = ParsedFile(vendor, parsed.url, digest, parsed.rows_path, parsed.rejects_path, unreadable=True)
        sinks = _Sinks(parsed)
        sinks.note([rejected_row(vendor, parsed.file_name, 0, "_file", f"unreadable file ({type(exc).__name__}: "
                                                                       f"{str(exc)[:300]}); nothing loaded, fix or "
                                                                       "re-send it and it is read again", None)])
    finally:
        sinks.close()
    return parsed


def parse_new_files(spill: Spill, settings: Settings | None = None) -> list[ParsedFile]:
    s = _runner.resolve(settings)
    fs, _ = landing_fs(s)
    seen, digests, parsed = loaded_hashes(s) | rewritten_for_erasure(s), set(), []
    do_not_reingest = DoNotReingest.load(s)
    for vendor, path in landed_paths(s):
        digest = sha256_of(fs, path)
        if digest in seen or digest in digests:
            continue
        digests.add(digest)
        parsed.append(parse_file(vendor, fs, path, s.vendors[vendor], spill, digest, do_not_reingest))
    return parsed


def _redelivered(files: list[ParsedFile], seen: dict[str, dict]) -> bool:
    """Whether a file in `files` has a name already loaded (or twice among them) with other content."""
    loaded = {(v.get("vendor"), v.get("file_name")) for v in seen.values()}
    new = [(f.vendor, f.file_name) for f in files if not f.unreadable]
    return bool(loaded & set(new)) or len(new) != len(set(new))


# --- the dlt source -------------------------------------------------------------------------

def _contracts(vendors: dict) -> list[dict[str, Any]]:
    return [
        {"vendor": key, "vendor_name": spec.get("name"), "vendor_kind": spec.get("kind"),
         **spec["contract"]}
        for key, spec in vendors.items() if spec.get("contract")
    ]


@dlt.source(name=SOURCE_NAME)
def vendor_files(files: list[ParsedFile], vendors: dict, write_disposition: str = "append"):
    loadable = [f for f in files if not f.unreadable]

    @dlt.resource(name="resumes", write_disposition=write_disposition, primary_key=RESUME_KEY,
                  columns=resume_columns(), schema_contract=RESUMES_CONTRACT)
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


def vendor_files_source(files: list[ParsedFile], settings: Settings | None = None):
    """A fresh source over parsed files (`parse_new_files`): appends resumes, or merges them when a
    file's name was loaded before with other content."""
    s = _runner.resolve(settings)
    disposition = "merge" if _redelivered(files, loaded_hashes(s)) else "append"
    return vendor_files(files, s.vendors, disposition)


def run_vendor_files(settings: Settings | None = None) -> dict[str, int]:
    """Quarantine bad rows, then load good rows, file bookkeeping and contracts; rows per table."""
    s = _runner.resolve(settings)
    spill = Spill(s.scratch_dir / PIPELINE_NAME)
    try:
        files = parse_new_files(spill, s)
        # Quarantine first: it is idempotent (merge), so a failed load followed by a re-run never
        # loses or doubles a quarantined row, while a file counts as loaded only with its rows.
        rejected = quarantine((r for f in files for r in f.rejects()), s)
        counts = _runner.run(_runner.make_pipeline(PIPELINE_NAME, tables.RAW_VENDORS, s),
                             vendor_files_source(files, s), expected_tables=["resumes", "loaded_files", "contracts"])
    finally:
        spill.remove()
    counts["rejected_rows"] = rejected
    return counts


if __name__ == "__main__":  # `python -m pipelines.vendor_files`: one run (the crash tests run it as a subprocess)
    print(json.dumps(run_vendor_files()))
