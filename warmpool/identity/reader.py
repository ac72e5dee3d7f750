"""Reading a candidate export for ``warmpool resolve``: any CSV a recruiting tool writes, or one clear error.

``read_contract_csv`` returns the contract columns (all text) plus the optional ones the file has, and
how it read the file (``ExportFile``: encoding, separator, rows whose key repeats). Every problem is a
``ResolveInputError`` whose message is one line naming the file, the row (as a line of the file, the
header being line 1) and the problem, so the command line can print it and exit 2:

- not text (binary content), or text in an encoding that cannot be identified;
- an encoding other than UTF-8 (Latin-1, Windows-1252, UTF-16 ...) is detected with
  charset-normalizer and read as what it is, never lossily (the summary says which);
- a quote that never closes, a row with more or fewer values than the header, a header naming a
  column twice or missing ``source`` / ``source_record_id``, a row with an empty key.

The fast path is polars' reader (strict UTF-8, strict row widths); only when it fails is the file
scanned again with Python's ``csv`` module to find the row to name.
"""
from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from warmpool.identity.normalize import CONTRACT_COLUMNS, KEY_COLUMNS, to_contract_frame

_SAMPLE_BYTES = 1 << 16
_SEPARATORS = (",", ";", "\t", "|")
_BOMS = ((codecs.BOM_UTF32_LE, "utf_32"), (codecs.BOM_UTF32_BE, "utf_32"), (codecs.BOM_UTF8, "utf_8_sig"),
         (codecs.BOM_UTF16_LE, "utf_16"), (codecs.BOM_UTF16_BE, "utf_16"))


class ResolveInputError(ValueError):
    """The input cannot be resolved; the message (one line) names the file, the row and the problem."""


@dataclass
class ExportFile:
    """A candidate export as read: its contract frame and how it was read."""
    records: pl.DataFrame | None
    encoding: str                   # "utf-8", or what was detected ("cp1252", "utf_16", ...)
    separator: str
    repeated_keys: int = 0          # rows whose (source, source_record_id) an earlier row already had
    first_repeat_line: int | None = None

    def take_records(self) -> pl.DataFrame:
        """The records, released from this object (so a caller can let a large frame go once used)."""
        records, self.records = self.records, None
        return records

    def notes(self) -> list[str]:
        """What a user should know about how the file was read (the summary prints these)."""
        out = []
        if self.encoding not in ("utf-8", "ascii"):
            out.append(f"read as {self.encoding} (detected; not UTF-8)")
        if self.repeated_keys:
            out.append(f"{self.repeated_keys:,} row(s) repeat a source + source_record_id of an earlier row "
                       f"(first at line {self.first_repeat_line}); each gets that record's person_id")
        return out


def require_keys(df: pl.DataFrame, where: str, *, line_offset: int = 2) -> None:
    """Raise naming the first row/field with an empty key (row = line in the file, header is 1)."""
    for col in KEY_COLUMNS:
        bad = df.select(pl.col(col).is_null().arg_true().head(1)).to_series()
        if bad.len():
            row = int(bad[0])
            raise ResolveInputError(
                f"{where}: row {row + 1} (line {row + line_offset}) has an empty required field '{col}'")


def _one_line(text) -> str:
    """``text`` on one printable line: whitespace runs become one space, control characters escapes."""
    flat = " ".join(str(text).split())
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in flat)


# ---------------------------------------------------------------------------------------------
# encoding

def _encoding(path: Path) -> str:
    """The file's text encoding: "utf-8" when it decodes as such, else what charset-normalizer finds.

    Raises when the content is binary or no encoding explains it.
    """
    with path.open("rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if b"\x00" not in sample and _is_utf8(path):
        return "utf-8"
    # charset-normalizer reads the file in chunks; imported here because only non-UTF-8 input needs it
    from charset_normalizer import from_path

    best = _likeliest(from_path(path))
    if best is None or b"\x00" in sample and not best.encoding.startswith("utf_16"):
        offset = sample.find(b"\x00")
        where = f" (a NUL byte at offset {offset})" if offset >= 0 else ""
        raise ResolveInputError(f"{path}: not a text CSV file{where}: binary content, or an encoding that "
                                f"cannot be identified; export it as UTF-8 CSV")
    return best.encoding


# Encodings candidate exports come in, most common first: on a small file several code pages explain
# the bytes equally well (Latin-1 "é" is also a Baltic or a Turkish letter), so the usual one wins.
_USUAL_ENCODINGS = ("utf_8", "utf_16", "cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2", "cp1251",
                    "koi8_r", "cp1253", "cp1254", "cp1257", "shift_jis", "euc_jp", "gb18030", "big5", "euc_kr")


def _likeliest(matches):
    """charset-normalizer's best match, or the most usual encoding among those as good as it."""
    best = matches.best()
    if best is None:
        return None
    tied = [m for m in matches if m.chaos <= best.chaos + 0.01]
    for name in _USUAL_ENCODINGS:
        for m in tied:
            if name in (m.encoding, *m.could_be_from_charset):
                return m if m.encoding == name else _Named(name)
    return best


@dataclass(frozen=True)
class _Named:
    encoding: str


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf8_bytes(path: Path, encoding: str) -> bytes | None:
    """The file's content as UTF-8 (None: it already is; polars reads the file itself)."""
    if encoding == "utf-8":
        return None
    try:
        return path.read_bytes().decode(encoding).encode("utf-8")
    except (UnicodeDecodeError, LookupError) as exc:
        raise ResolveInputError(f"{path}: cannot be read as {encoding} ({_one_line(exc)}); export it as UTF-8 CSV") from None


# ---------------------------------------------------------------------------------------------
# the header and the rows

def _separator(header: str) -> str:
    """The separator that makes the header name the key columns (a ``;`` export from Excel, a TSV ...)."""
    best, best_hits = ",", -1
    for sep in _SEPARATORS:
        names = {c.strip().strip('"').strip().lower() for c in header.split(sep)}
        hits = len(names & set(KEY_COLUMNS)) * 100 + len(names & set(CONTRACT_COLUMNS))
        if hits > best_hits:
            best, best_hits = sep, hits
    return best


def _first_line(data: bytes | None, path: Path) -> str:
    if data is None:
        with path.open("rb") as fh:
            raw = fh.readline(_SAMPLE_BYTES)
        text = raw.decode("utf-8", errors="replace")
    else:
        text = data[:_SAMPLE_BYTES].decode("utf-8", errors="replace").split("\n", 1)[0]
    return text.lstrip("\ufeff")


def _locate_problem(text_stream, path: Path, separator: str) -> str | None:
    """Scan the file with Python's csv module: the first row a strict reader rejects, as a message."""
    reader = csv.reader(text_stream, delimiter=separator, strict=True)
    width, start = None, 1
    try:
        for row in reader:
            if width is None:
                width = len(row)
            elif row and len(row) != width:
                return (f"{path}: line {start} has {len(row)} values but the header has {width} "
                        f"(a separator inside an unquoted value, or a missing one?)")
            start = reader.line_num + 1
    except csv.Error as exc:
        msg = str(exc)
        if "unexpected end of data" in msg or "EOF" in msg:
            return f"{path}: line {start}: a quoted value opens and never closes (an unbalanced \" quote)"
        return f"{path}: line {start}: {_one_line(msg)}"
    return None


def _read_contract(path: Path, data: bytes | None, separator: str, header: str) -> pl.DataFrame:
    """The file's contract columns. Read streaming, the contract's clean-up applied batch by batch:
    the whole file is never held as raw text beside its cleaned copy (at a million records the
    eager read peaked at 1.7x the frame it returned, and took twice as long)."""
    source = path if data is None else io.BytesIO(data)
    try:
        lazy = pl.scan_csv(source, separator=separator, infer_schema=False, encoding="utf8",
                           truncate_ragged_lines=False, raise_if_empty=False)
        if not lazy.collect_schema().names():  # an empty file
            return pl.DataFrame(schema={c: pl.String for c in CONTRACT_COLUMNS})
        return to_contract_frame(_check_header(lazy, path, header, separator))
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError, OSError) as exc:
        if data is None:
            with path.open(encoding="utf-8", newline="") as fh:
                found = _locate_problem(fh, path, separator)
        else:
            found = _locate_problem(io.StringIO(data.decode("utf-8"), newline=""), path, separator)
        raise ResolveInputError(found or f"{path}: not a readable CSV file ({_one_line(exc).split(' You might')[0]})") \
            from None


def _check_header(lazy: pl.LazyFrame, path: Path, header: str, separator: str) -> pl.LazyFrame:
    try:
        names = next(csv.reader([header], delimiter=separator), []) if header.strip() else []
    except csv.Error:  # a header polars read but csv cannot (a stray CR): its own split is close enough
        names = header.split(separator)
    seen: set[str] = set()
    for name in (n.strip().lower() for n in names):
        if name and name in seen:
            raise ResolveInputError(f"{path}: line 1: the header names column '{_one_line(name)}' twice")
        seen.add(name)
    columns = lazy.collect_schema().names()
    lazy = lazy.rename({c: c.strip().lower() for c in columns})
    columns = [c.strip().lower() for c in columns]
    for col in KEY_COLUMNS:
        if col not in columns:
            shown = _one_line(", ".join(columns[:20]) + (" ..." if len(columns) > 20 else ""))
            raise ResolveInputError(f"{path}: required column '{col}' is missing (header: {shown})")
    return lazy


def read_contract_csv(path: Path | str) -> ExportFile:
    """Any candidate export CSV as contract columns (all text; extra columns dropped, absent optional
    ones left out), or a ``ResolveInputError`` naming the file, row and problem."""
    path = Path(path)
    try:
        encoding = _encoding(path)
        data = _utf8_bytes(path, encoding)
    except OSError as exc:
        raise ResolveInputError(f"{path}: cannot be read ({_one_line(exc.strerror or exc)})") from None
    header = _first_line(data, path)
    separator = _separator(header)
    contract = _read_contract(path, data, separator, header)
    require_keys(contract, str(path))
    repeated = contract.select(~pl.struct(KEY_COLUMNS).is_first_distinct()).to_series()
    n_repeated = int(repeated.sum())
    first = int(repeated.arg_true()[0]) + 2 if n_repeated else None
    return ExportFile(contract, "utf-8" if encoding in ("utf-8", "utf_8_sig") else encoding, separator,
                      n_repeated, first)
