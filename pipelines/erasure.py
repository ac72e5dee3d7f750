"""What ingestion keeps of a person, for ``warmpool.privacy``'s erasure and access export.

- the landing folder: vendor files are rewritten without the person's rows (same format, same
  name, atomically); the new content's sha256 goes to the privacy store so the loader does not
  take the rewrite for a new delivery (``vendor_files.rewritten_for_erasure``);
- dlt's pipelines folder: load-package files and the last run's trace that mention the person are
  deleted (completed packages keep no rows: ``_runner.RUN_CONFIG``; this catches a package a crash
  left behind).

``STORES`` extends ``warmpool.privacy.registry.STORES`` with these two; the CLI and the Dagster
asset erase through ``stores()``.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Iterator
from pipelines import _runner, validation
from pipelines.vendor_files import landed_paths, landing_fs, sha256_of
from pipelines.vendor_read import cell_text, dotted
from warmpool.privacy.registry import STORES as DOMAIN_STORES
from warmpool.privacy.registry import Context, Store
from warmpool.privacy.warehouse import Subject


def _needles(subject: Subject) -> list[str]:
    return sorted({str(n).strip().lower() for n in (*subject.emails, *subject.phones, *subject.profile_urls)
                   if n and str(n).strip()})


def _record_id(record: dict, spec: dict) -> str | None:
    """The vendor's record id in a raw record, from the column `config/vendors.yaml` maps to it."""
    for column, target in spec["columns"].items():
        if target == "vendor_record_id":
            value = dotted(record, column) if spec["format"] == "jsonl" else record.get(column)
            text = cell_text(value)
            return text.strip() if text else None
    return None


def _is_theirs(record: dict, vendor: str, spec: dict, subject: Subject, needles: list[str]) -> bool:
    if (vendor, _record_id(record, spec)) in subject.records:
        return True
    text = json.dumps(record, default=str, ensure_ascii=False).lower()
    return any(n in text for n in needles)


def _rewrite_csv(raw: bytes, vendor: str, spec: dict, subject: Subject, needles: list[str]) -> tuple[bytes, int]:
    encoding = spec.get("encoding", "utf-8")
    text = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=spec.get("delimiter", ",")))
    if not rows:
        return raw, 0
    header = [h.strip() for h in rows[0]]
    kept = [rows[0]] + [r for r in rows[1:] if not (any(v.strip() for v in r)
                                                    and _is_theirs(dict(zip(header, r)), vendor, spec, subject, needles))]
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=spec.get("delimiter", ","), lineterminator="\r\n" if b"\r\n" in raw else "\n").writerows(kept)
    return out.getvalue().encode(encoding, errors="replace"), len(rows) - len(kept)


def _rewrite_jsonl(raw: bytes, vendor: str, spec: dict, subject: Subject, needles: list[str]) -> tuple[bytes, int]:
    kept, removed = [], 0
    for line in raw.splitlines(keepends=True):  # other lines keep their exact bytes
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        theirs = (_is_theirs(record, vendor, spec, subject, needles) if isinstance(record, dict)
                  else any(n.encode() in line.lower() for n in needles))
        removed += theirs
        if not theirs:
            kept.append(line)
    return b"".join(kept), removed


def _rewrite_xlsx(raw: bytes, vendor: str, spec: dict, subject: Subject, needles: list[str]) -> tuple[bytes, int]:
    import openpyxl  # only needed for Excel vendors

    book = openpyxl.load_workbook(io.BytesIO(raw))
    sheet = book.worksheets[0]
    header = [str(c.value).strip() if c.value is not None else "" for c in sheet[1]]
    theirs = [row[0].row for row in sheet.iter_rows(min_row=2)
              if any(c.value is not None for c in row)
              and _is_theirs(dict(zip(header, [c.value for c in row])), vendor, spec, subject, needles)]
    for number in reversed(theirs):
        sheet.delete_rows(number)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), len(theirs)


REWRITERS = {"csv": _rewrite_csv, "jsonl": _rewrite_jsonl, "xlsx": _rewrite_xlsx}


def _rewritten(subject: Subject, ctx: Context) -> Iterator[tuple[str, str, bytes, int]]:
    """(vendor, path, content without the person's rows, rows left out) of each landed file holding them."""
    s, needles = ctx.settings, _needles(subject)
    fs, _ = landing_fs(s)
    for vendor, path in landed_paths(s):
        spec = s.vendors[vendor]
        with fs.open(path, "rb") as fh:
            content, n = REWRITERS[spec["format"]](fh.read(), vendor, spec, subject, needles)
        if n:
            yield vendor, path, content, n


def landing_person_rows(subject: Subject, ctx: Context) -> dict[str, int]:
    """How many of the person's rows each landed vendor file holds (the rows themselves are the
    vendor's records of them, which the warehouse part of the export shows as loaded)."""
    return {path.rsplit("/", 1)[-1]: n for _, path, _, n in _rewritten(subject, ctx)}


def forget_landing(subject: Subject, ctx: Context) -> dict[str, int]:
    """Rewrite every landed vendor file that holds the person's rows without them."""
    fs, _ = landing_fs(ctx.settings)
    removed: dict[str, int] = {}
    for vendor, path, content, n in list(_rewritten(subject, ctx)):
        tmp = f"{path}.erasing"
        with fs.open(tmp, "wb") as fh:
            fh.write(content)
        fs.mv(tmp, path)
        ctx.privacy.add_rewritten_file(sha256_of(fs, path), vendor, path.rsplit("/", 1)[-1], ctx.at)
        removed[path.rsplit("/", 1)[-1]] = n
    return removed


def forget_dlt_files(subject: Subject, ctx: Context) -> dict[str, int]:
    """Delete load-package files and run traces under the pipelines folder that mention the person."""
    needles = [n.encode("utf-8") for n in _needles(subject)]
    removed: dict[str, int] = {}
    root = Path(_runner.resolve(ctx.settings).dlt_dir)
    for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() and needles else []:
        if path.name in ("state.json",) or path.parent.name == "schemas":
            continue  # state holds cursors and digests, schemas hold column names: never rows
        if any(n in path.read_bytes().lower() for n in needles):
            os.remove(path)
            removed[str(path.relative_to(root))] = 1
    return removed


STORES: tuple[Store, ...] = (
    Store("validation_row_counts", "pipelines.validation",
          "no personal data: each boundary check's row count, lowered by the rows the erasure deleted",
          lambda s, c: validation.forget_erased_rows(c.con, c.removed.get("warehouse", {})), warehouse=True),
    Store("landing_files", "pipelines.vendor_files", "vendor files as delivered (rows rewritten out)",
          forget_landing, landing_person_rows),
    Store("dlt_pipelines", "pipelines._runner", "dlt load packages and run traces left on disk",
          forget_dlt_files, None),
)


def stores() -> tuple[Store, ...]:
    """Every store a person's data may be in: the domain's and ingestion's."""
    return (*DOMAIN_STORES, *STORES)
