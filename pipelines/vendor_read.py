"""Reading vendor files so that one bad record never costs its neighbours, at file speed.

A file is read in blocks of about `BLOCK_BYTES` (cut at a line end), so memory stays bounded
whatever the file's size. Each block yields a `RecordBatch`: the records it holds, mapped onto the
canonical field names as `config/vendors.yaml` says (text, not yet checked: `vendor_rows` does
that), the problems found while reading, and the raw records of the rows that have problems.

**CSV.** Lines end in CRLF, LF or CR, mixed freely. Every line is classified in one vectorised pass:
a line that is a complete, well-formed record with exactly as many values as the header (values
plain or in RFC 4180 quotes, `""` for a quote) is read by polars' CSV reader. Everything else is
read one line at a time by the `csv` module, which is where the recovery happens:
- a line whose quotes do not pair up opens a multi-line value (a line break inside quotes, which is
  data). It is kept only if it closes within the lines that follow, without crossing a line that is
  itself a complete record of the right width, and the whole record has the header's width.
  Otherwise the quote was a stray one: that line alone is quarantined with the column it opened in,
  and the lines after it are read again on their own, so a stray quote never swallows good rows;
- a row with more or fewer values than the header is quarantined, never trimmed or padded;
- a line that is not valid in the declared encoding is read as cp1252 (latin-1 for the five bytes
  cp1252 leaves undefined), loads, and is noted (row 0, `_encoding`).
A legitimate multi-line value one of whose inner lines happens to be a complete record of the
header's width is read as a stray quote: the price of never swallowing a good row.

**JSON lines**: one record per line; a line that cannot be decoded for any reason (broken JSON,
nesting too deep for the parser, a number too long to convert, not an object, a lone UTF-16
surrogate in a value) costs that line only. **Excel**: the first sheet, the first row as header;
date cells are dates whatever `date_format` says.

Plain Python (polars, the csv and json modules, openpyxl): no dlt, so a notebook or a test can read a
file with `read_batches` alone.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO, Callable, Iterator

import fsspec
import polars as pl

BLOCK_BYTES = 32 << 20            # bytes of a file read at a time
JSON_BATCH_ROWS = 50_000          # JSON lines / Excel rows per batch
MAX_RECORD_CHARS = 64 << 20       # a quoted value spanning lines stops being plausible beyond this...
MAX_RECORD_LINES = 100_000        # ...or this many lines
# csv refuses fields over 128 KB with an error that would end the file; read them (up to 64 MB) and
# let the checks reject the one row with a reason instead.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_CHARS))
WHITESPACE = "".join(ch for ch in map(chr, range(0x110000)) if ch.isspace())  # what str.strip() strips


@dataclass
class FileNotes:
    """What a reader noticed about the file as a whole (quarantined as row 0)."""
    header: list[str] = field(default_factory=list)
    fallback_lines: list[int] = field(default_factory=list)  # lines not in the declared encoding
    duplicate_headers: list[str] = field(default_factory=list)
    empty: bool = False
    records: int = 0                                          # records read (the last row number)


@dataclass
class Problem:
    row: int
    field: str
    reason: str
    rejects: bool                     # the row is not loaded (else: the field is nulled, the row loads)
    raw: Any = None                   # the raw record, when the reader could not make a row of it


@dataclass
class RecordBatch:
    """Records read from one part of a file: `frame` has `_row` (1-based record number, header not
    counted) and one String column per mapped target field (and `_skills`, already normalised, when
    the file gave skills as a list); `problems` were found while reading; `raw(rows)` gives the raw
    record of those rows (for the quarantine)."""
    frame: pl.DataFrame
    problems: list[Problem]
    raw: Callable[[list[int]], dict[int, Any]]


def read_batches(fs: fsspec.AbstractFileSystem, path: str, spec: dict, notes: FileNotes) -> Iterator[RecordBatch]:
    fmt = spec["format"]
    if fmt == "csv":
        with fs.open(path, "rb") as raw:
            yield from CsvReader(spec, notes).batches(raw)
    elif fmt == "jsonl":
        with fs.open(path, "rb") as raw:
            yield from _jsonl_batches(raw, spec, notes)
    elif fmt == "xlsx":
        yield from _xlsx_batches(fs, path, spec, notes)
    else:
        raise ValueError(f"unknown vendor file format {fmt!r}")


# --- bytes to lines ---------------------------------------------------------------------------

def _blocks(raw: BinaryIO, size: int | None = None) -> Iterator[bytes]:
    """The file in blocks that end at a line end (LF, or a CR not followed by LF)."""
    size = size or BLOCK_BYTES
    carry = b""
    while True:
        chunk = raw.read(size)
        if not chunk:
            if carry:
                yield carry
            return
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            cut = data.rfind(b"\r", 0, len(data) - 1) + 1  # a final CR may be the first half of CRLF
        if cut == 0:
            carry = data  # no line end yet: one long line
            continue
        carry = data[cut:]
        yield data[:cut]


def decode_line(line: bytes, encoding: str) -> tuple[str, bool]:
    """(text, whether it was not valid in `encoding`): such a line is read as cp1252, or latin-1 for
    the bytes cp1252 leaves undefined, so one mislabelled line neither fails the file nor turns
    into mojibake silently. LF and CR are the same byte in all three, so lines split safely first."""
    try:
        return line.decode(encoding), False
    except UnicodeDecodeError:
        try:
            return line.decode("cp1252"), True
        except UnicodeDecodeError:
            return line.decode("latin-1"), True


def _without_end(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith(("\n", "\r")) else line


def _strip(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars(WHITESPACE)


# --- CSV --------------------------------------------------------------------------------------

def _well_formed(separator: str, width: int) -> str:
    """A regex for a line that is one complete record of `width` plain or RFC 4180-quoted values."""
    sep = re.escape(separator)
    value = f'(?:[^"{sep}\\r\\n]*|"(?:[^"]|"")*")'
    return f"^{value}(?:{sep}{value}){{{width - 1}}}$" if width > 1 else f"^{value}$"


# The csv module's states (doublequote, not strict): a quote opens a quoted value only at the start
# of a value; inside one, `""` is a quote and a lone `"` closes it; elsewhere a quote is literal.
START, IN_VALUE, IN_QUOTES, QUOTE_IN_QUOTES = range(4)


def _blank_record(separator: str) -> str:
    """A regex for a line whose values are all blank (plain or quoted)."""
    blanks = "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE)
    value = f'(?:[{blanks}]*|"[{blanks}]*")'
    return f"^{value}(?:{re.escape(separator)}{value})*$"


def quote_scan(line: str, separator: str, state: int = START) -> tuple[int, int]:
    """(state at the end of `line`, the 0-based column where the last quote opened or -1), reading
    from `state` as the csv module does. IN_QUOTES at the end: the value goes on to the next line."""
    i, n, column, opened = 0, len(line), 0, -1
    while i < n:
        if state == IN_QUOTES:
            j = line.find('"', i)
            if j < 0:
                return IN_QUOTES, opened
            i, state = j + 1, QUOTE_IN_QUOTES
            continue
        ch = line[i]
        if state == QUOTE_IN_QUOTES and ch == '"':
            state = IN_QUOTES
        elif ch == separator:
            column, state = column + 1, START
        elif state == START and ch == '"':
            state, opened = IN_QUOTES, column
        elif state == IN_VALUE:
            j = line.find(separator, i)  # skip to the next separator: quotes here are literal
            if j < 0:
                return IN_VALUE, opened
            i = j
            continue
        else:
            state = IN_VALUE
        i += 1
    return state, opened


def _column_label(index: int, header: list[str], spec: dict) -> str:
    """The canonical field a column maps to, else its header, else `_record`."""
    if 0 <= index < len(header):
        return spec["columns"].get(header[index], header[index] or "_record")
    return "_record"


def _values_word(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"


@dataclass
class _Line:
    number: int   # physical line number in the file (1 = the header line)
    text: str     # with its line end


class CsvReader:
    """Reads one CSV file block by block (see the module notes)."""

    def __init__(self, spec: dict, notes: FileNotes):
        self.spec, self.notes = spec, notes
        self.encoding = spec.get("encoding", "utf-8")
        self.utf8 = self.encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig")
        self.separator = spec.get("delimiter", ",")
        self.header: list[str] | None = None
        self.width = 0
        self.pattern = self.blank_pattern = ""
        self.lines_seen = 0            # physical lines before the current block
        self.row = 0                   # records numbered so far
        self.pending: list[_Line] = []  # the lines of a quoted value still open at the end of a block

    # -- blocks --

    def batches(self, raw: BinaryIO) -> Iterator[RecordBatch]:
        head = raw.read(4)
        if not head:
            self.notes.empty = True
            return
        raw.seek(0)
        first = True
        for block in _blocks(raw):
            if first and block.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
                block = block[3:]
            first = False
            batch = self._block(block, last=False)
            if batch is not None:
                yield batch
        if self.pending:
            batch = self._block(b"", last=True)
            if batch is not None:
                yield batch
        self.notes.records = self.row

    def _lines(self, block: bytes) -> tuple[pl.Series, Callable[[], list[str]], bytes | None]:
        """The block's lines without their ends, (lazily) with them, and the block as UTF-8 when
        polars could read it as it is (no lone CR, valid in the declared encoding)."""
        if block.count(b"\r") == block.count(b"\r\n"):
            try:
                data = block if self.utf8 else block.decode(self.encoding).encode("utf-8")
                lines = self._polars_lines(data)  # also refuses invalid UTF-8
            except (UnicodeDecodeError, pl.exceptions.ComputeError):
                lines = None
            if lines is not None and len(lines) == block.count(b"\n") + (0 if block.endswith(b"\n") else 1):
                return lines, lambda: _split_ends(data.decode("utf-8")), data
        texts = []
        for n, line in enumerate(block.splitlines(keepends=True), start=self.lines_seen + 1):
            decoded, fell_back = decode_line(line, self.encoding)
            if fell_back:
                self.notes.fallback_lines.append(n)
            texts.append(decoded)
        return pl.Series("line", [_without_end(t) for t in texts], dtype=pl.String), lambda: texts, None

    @staticmethod
    def _polars_lines(data: bytes) -> pl.Series | None:
        # One column per line: a separator byte the block does not contain, no quoting.
        separator = next((chr(b) for b in (1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 20)
                          if bytes([b]) not in data), None)
        if separator is None:
            return None
        lines = pl.read_csv(io.BytesIO(data), has_header=False, separator=separator, quote_char=None,
                            infer_schema=False, new_columns=["line"], raise_if_empty=False,
                            truncate_ragged_lines=False)
        return lines["line"].fill_null("") if lines.width == 1 else None

    def _block(self, block: bytes, last: bool) -> RecordBatch | None:
        if block:
            lines, with_ends, utf8 = self._lines(block)
        else:
            lines, with_ends, utf8 = pl.Series("line", [], dtype=pl.String), list, None
        base = self.lines_seen  # line i of the block is physical line base + i + 1
        self.lines_seen += len(lines)
        start = 0
        if self.header is None:
            start = self._read_header(lines)
            if self.header is None:
                return None
        body = lines.slice(start)
        fast = body.str.contains(self.pattern).fill_null(False)
        blank = fast & body.str.contains(self.blank_pattern).fill_null(False)
        other_at = fast.not_().arg_true()
        others = list(self.pending)
        if len(other_at):
            texts = with_ends()
            others += [_Line(base + start + i + 1, texts[start + i]) for i in other_at.to_list()]
        self.pending = []
        careful, problems = self._read_carefully(others, block_end=base + len(lines), eof=last)
        if not others and utf8 is not None and start <= 1 and not blank.any():
            # The usual block: every line a whole record. Polars reads the block itself.
            frame = self._parse_fast(utf8[utf8.index(b"\n") + 1:] if start else utf8, len(body))
            frame = frame.with_columns(_row=pl.int_range(self.row + 1, self.row + 1 + frame.height, dtype=pl.Int64))
            self.row += frame.height
        else:
            take = fast & ~blank
            frame = self._parse_fast(body.filter(take).str.join("\n").item().encode("utf-8") if take.any() else b"",
                                     int(take.sum()))
            frame = frame.with_columns(
                (pl.int_range(0, len(body), eager=True) + (base + start + 1)).filter(take).cast(pl.Int64).alias("_line"))
            if careful:
                frame = pl.concat([frame, self._frame(careful)], how="vertical")
            # Row numbers in file order: every record that is not blank, loaded or quarantined.
            numbers = pl.concat([frame["_line"], pl.Series("_line", [p.row for p in problems], dtype=pl.Int64)]) \
                .unique().sort()
            row_of = pl.DataFrame({"_line": numbers, "_row": pl.int_range(self.row + 1, self.row + 1 + len(numbers),
                                                                         eager=True, dtype=pl.Int64)})
            self.row += len(numbers)
            if problems:
                row_by_line = dict(zip(numbers.to_list(), row_of["_row"].to_list()))
                for p in problems:
                    p.row = row_by_line[p.row]
            frame = frame.join(row_of, on="_line", how="left").sort("_row").drop("_line")
        raw_by_row = {p.row: p.raw for p in problems}
        mapped, mapping_problems = map_columns(frame, self.header, self.spec)
        source = frame

        def raw(rows: list[int]) -> dict[int, Any]:
            found = {r: raw_by_row[r] for r in rows if r in raw_by_row}
            wanted = [r for r in rows if r not in found]
            if wanted:
                picked = source.filter(pl.col("_row").is_in(wanted))
                for record in picked.iter_rows(named=True):
                    found[record["_row"]] = _with_duplicates(self.header, [record[f"c{i}"] for i in range(self.width)])
            return found

        return RecordBatch(mapped, problems + mapping_problems, raw)

    def _read_header(self, lines: pl.Series) -> int:
        """Reads the header from the first non-blank line; returns the index of the line after it."""
        for i, line in enumerate(lines.to_list()):
            if not line.strip(WHITESPACE):
                continue
            if quote_scan(line, self.separator)[0] == IN_QUOTES:
                raise ValueError("the header line has a quote that is not closed; fix the header")
            header = [h.strip(WHITESPACE) for h in next(csv.reader([line], delimiter=self.separator))]
            self.header, self.width = header, len(header)
            self.pattern = _well_formed(self.separator, self.width)
            self.blank_pattern = _blank_record(self.separator)
            self.notes.header = header
            self.notes.duplicate_headers = sorted({h for h in header if header.count(h) > 1})
            return i + 1
        return len(lines)

    def _parse_fast(self, data: bytes, lines: int) -> pl.DataFrame:
        """`data`: `lines` whole records of the header's width (checked), read by polars."""
        schema = {f"c{i}": pl.String for i in range(self.width)}
        if not lines:
            return pl.DataFrame(schema=schema)
        frame = pl.read_csv(io.BytesIO(data), has_header=False, separator=self.separator, quote_char='"',
                            schema=schema, raise_if_empty=True)
        if frame.height != lines:  # never expected: the lines were checked to be whole records
            raise RuntimeError(f"CSV reader read {frame.height} records from {lines} lines")
        return frame

    def _frame(self, careful: list[tuple[int, list[str]]]) -> pl.DataFrame:
        columns: dict[str, Any] = {f"c{i}": [values[i] for _, values in careful] for i in range(self.width)}
        columns["_line"] = [n for n, _ in careful]
        return pl.DataFrame(columns, schema={**{f"c{i}": pl.String for i in range(self.width)}, "_line": pl.Int64})

    # -- the careful path --

    def _read_carefully(self, lines: list[_Line], block_end: int, eof: bool
                        ) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
        """Records and problems of the lines the fast path did not take (`Problem.row` holds the
        physical line number until the block numbers its records)."""
        records: list[tuple[int, list[str]]] = []
        problems: list[Problem] = []
        p = 0
        while p < len(lines):
            line = lines[p]
            bare = _without_end(line.text)
            if not bare.strip(WHITESPACE):
                p += 1
                continue
            state, column = quote_scan(bare, self.separator)
            if state != IN_QUOTES:
                self._one_record(line.number, [line.text], records, problems)
                p += 1
                continue
            # A quoted value goes on to the next line(s): follow it while the lines are consecutive
            # (no complete record between them) and the quote stays open.
            q, size = p + 1, len(line.text)
            while q < len(lines) and lines[q].number == lines[q - 1].number + 1 and state == IN_QUOTES \
                    and size <= MAX_RECORD_CHARS and q - p <= MAX_RECORD_LINES:
                state, _ = quote_scan(_without_end(lines[q].text), self.separator, state)
                size += len(lines[q].text)
                q += 1
            if state == IN_QUOTES and not eof and q == len(lines) and lines[-1].number == block_end \
                    and size <= MAX_RECORD_CHARS and q - p <= MAX_RECORD_LINES:
                self.pending = lines[p:]  # still open at the end of the block: continue with the next one
                break
            if state != IN_QUOTES and self._plausible(lines[p:q]):
                values = self._safe_parse([l.text for l in lines[p:q]])
                if values is not None and len(values) == self.width:
                    records.append((line.number, values))
                    p = q
                    continue
            problems.append(Problem(
                line.number, _column_label(column, self.header or [], self.spec),
                f"a quote opened in column {self._column_name(column)} is never closed on this line; the row is not "
                "loaded and the lines after it were read on their own: fix the quoting in the export (a quote "
                'inside a value is written "")', True, {"line": bare}))
            p += 1
        return records, problems

    def _plausible(self, lines: list[_Line]) -> bool:
        """A value spanning lines is data only if none of the lines it would swallow reads, on its
        own, as a whole record of the header's width (then the opening quote was a stray one)."""
        for line in lines[1:]:
            values = self._safe_parse([line.text])
            if values is not None and len(values) == self.width and any(v.strip(WHITESPACE) for v in values):
                return False
        return True

    def _column_name(self, index: int) -> str:
        header = self.header or []
        return repr(header[index]) if 0 <= index < len(header) else f"{index + 1}"

    def _safe_parse(self, texts: list[str]) -> list[str] | None:
        try:
            return next(csv.reader(iter(texts), delimiter=self.separator))
        except (csv.Error, StopIteration):
            return None

    def _one_record(self, number: int, texts: list[str], records: list, problems: list[Problem]) -> None:
        values = self._safe_parse(texts)
        bare = _without_end("".join(texts))
        if values is None:
            problems.append(Problem(number, "_record", "the line could not be read as CSV; fix the export", True,
                                    {"line": bare}))
            return
        if not any(v.strip(WHITESPACE) for v in values):
            return  # a blank record (only separators and blanks)
        if len(values) != self.width:
            problems.append(Problem(
                number, "_record",
                f"{_values_word(len(values))} but the header has {self.width}: the row is not loaded (an unquoted "
                f"{self.separator!r} inside a value, or a value missing?); fix the export, quoting values that "
                f"contain {self.separator!r}", True, {"line": bare}))
            return
        records.append((number, values))


def _split_ends(text: str) -> list[str]:
    """Lines with their ends, splitting on LF, CRLF and CR only (str.splitlines also splits on
    U+0085, U+2028 and others, which are data in a CSV value)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def _with_duplicates(header: list[str], values: list[Any]) -> dict[str, Any]:
    """The raw record as the file has it; values under a header named twice become a list."""
    record: dict[str, Any] = {}
    for name, value in zip(header, values):
        if name in record:
            previous = record[name]
            record[name] = _Values([*previous, value] if isinstance(previous, _Values) else [previous, value])
        else:
            record[name] = value
    return record


class _Values(list):
    """The values under a header that appears more than once."""


def map_columns(frame: pl.DataFrame, header: list[str], spec: dict) -> tuple[pl.DataFrame, list[Problem]]:
    """Positional columns `c0..` (plus `_row`) -> one column per mapped target field. A header named
    more than once must hold one value (blanks aside), else the row is rejected."""
    problems: list[Problem] = []
    out = [frame["_row"]]
    for source, target in spec["columns"].items():
        positions = [i for i, h in enumerate(header) if h == source]
        if not positions:
            out.append(pl.Series(target, [None] * frame.height, dtype=pl.String))
            continue
        if len(positions) == 1:
            out.append(frame[f"c{positions[0]}"].rename(target))
            continue
        texts = frame.select([_strip(pl.col(f"c{i}")).replace("", None).alias(f"t{k}")
                              for k, i in enumerate(positions)])
        first = texts.select(pl.coalesce(texts.columns)).to_series()
        conflict = texts.select(pl.any_horizontal((pl.col(c).is_not_null() & (pl.col(c) != first))
                                                  for c in texts.columns)).to_series()
        for row, *values in frame.filter(conflict).select(["_row", *(f"c{i}" for i in positions)]).iter_rows():
            distinct = list(dict.fromkeys(v for v in (_text(x) for x in values) if v is not None))
            problems.append(Problem(row, target, f"column {source!r} appears {len(positions)} times in the header "
                                                 f"with different values {distinct[:3]}; fix the export's header",
                                    True))
        out.append(first.rename(target))
    return pl.DataFrame(out), problems


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


# --- JSON lines --------------------------------------------------------------------------------

def dotted(record: dict, path: str) -> Any:
    """`contact.email` -> record["contact"]["email"]; a plain key wins if present."""
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def cell_text(value: Any) -> str | None:
    """A JSON or Excel value as text (Excel gives 5.0 for 5; a date cell as an ISO date)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _decode_json(line: str) -> Any:
    try:
        record = json.loads(line)
    except RecursionError:
        raise ValueError("the record is nested deeper than the JSON reader goes") from None
    if not isinstance(record, dict):
        raise ValueError("the line is not a JSON object")
    return record


def normalise_skills(value: Any, separator: str) -> str | None:
    """Skills `;`-separated, each trimmed, blanks and repeats dropped (a JSON list, or text split on
    the vendor's separator; "list" means commas or semicolons)."""
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


def _json_row(record: dict, spec: dict, row: int, problems: list[Problem]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for source, target in spec["columns"].items():
        value = dotted(record, source)
        if target == "skills" and isinstance(value, (list, tuple)):
            out["_skills"] = normalise_skills(value, spec.get("skills_separator", ","))
            continue
        if isinstance(value, (dict, list, tuple)):
            try:
                shown = json.dumps(value, default=str)[:80]
            except (RecursionError, ValueError):
                shown = "(too deeply nested to show)"
            problems.append(Problem(row, target, f"expected a single value, got {type(value).__name__} {shown}; "
                                                 "stored as null", False))
            value = None
        text = cell_text(value)
        if text is not None and not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                problems.append(Problem(row, target, "the value holds a lone UTF-16 surrogate (an escape such as "
                                                     "\\ud800 without its pair), which is not text: the row is not "
                                                     "loaded; ask the vendor to fix the export", True))
                text = None
        out[target] = text
    return out


def _jsonl_batches(raw: BinaryIO, spec: dict, notes: FileNotes) -> Iterator[RecordBatch]:
    encoding = spec.get("encoding", "utf-8")
    targets = list(dict.fromkeys(spec["columns"].values()))
    n, line_number = 0, 0
    rows: list[dict[str, Any]] = []
    raws: dict[int, Any] = {}
    problems: list[Problem] = []

    def batch() -> RecordBatch:
        frame = pl.DataFrame(rows, schema={"_row": pl.Int64, **{t: pl.String for t in targets}, "_skills": pl.String})
        kept = dict(raws)
        return RecordBatch(frame, list(problems), lambda wanted: {r: kept[r] for r in wanted if r in kept})

    head = raw.read(4)
    if not head:
        notes.empty = True
        return
    raw.seek(0)
    first = True
    for block in _blocks(raw):
        if first and block.startswith(b"\xef\xbb\xbf"):
            block = block[3:]
        first = False
        for line_bytes in block.splitlines():  # a JSON text has no raw line breaks: CR and LF both end a line
            line_number += 1
            line, fell_back = decode_line(line_bytes, encoding)
            if fell_back:
                notes.fallback_lines.append(line_number)
            if not line.strip(WHITESPACE):
                continue
            n += 1
            try:
                record = _decode_json(line)
                found: list[Problem] = []
                row = _json_row(record, spec, n, found)
            except Exception as exc:  # any line, however broken, costs only itself
                problems.append(Problem(n, "_record", f"undecodable record: {str(exc)[:300]}", True))
                continue
            row["_row"] = n
            rows.append(row)
            if found:
                problems.extend(found)
                raws[n] = record
            if len(rows) >= JSON_BATCH_ROWS:
                yield batch()
                rows, raws, problems = [], {}, []
    notes.records = n
    if rows or problems:
        yield batch()


# --- Excel --------------------------------------------------------------------------------------

def _xlsx_batches(fs: fsspec.AbstractFileSystem, path: str, spec: dict, notes: FileNotes) -> Iterator[RecordBatch]:
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
        while header and header[-1] == "":
            header.pop()  # openpyxl pads the header to the sheet's widest row
        notes.header = header
        notes.duplicate_headers = sorted({h for h in header if h and header.count(h) > 1})
        width, n = len(header), 0
        pending: list[tuple[int, list[str | None]]] = []
        problems: list[Problem] = []
        for values in rows:
            texts = [cell_text(v) for v in values]
            if all(t is None or not t.strip(WHITESPACE) for t in texts):
                continue
            n += 1
            extra = [t for t in texts[width:] if t is not None and t.strip(WHITESPACE)]
            if extra:
                used = width + max(i for i, t in enumerate(texts[width:]) if t is not None and t.strip(WHITESPACE)) + 1
                problems.append(Problem(n, "_record", f"{_values_word(used)} but the header has {width}: the row is "
                                                      "not loaded; remove the cells beyond the header's columns", True))
                continue
            pending.append((n, (texts + [None] * width)[:width]))
            if len(pending) >= JSON_BATCH_ROWS:
                yield _xlsx_batch(pending, problems, header, spec)
                pending, problems = [], []
        notes.records = n
        if pending or problems:
            yield _xlsx_batch(pending, problems, header, spec)
    finally:
        book.close()


def _xlsx_batch(pending: list[tuple[int, list[str | None]]], problems: list[Problem], header: list[str],
                spec: dict) -> RecordBatch:
    width = len(header)
    frame = pl.DataFrame({"_row": [n for n, _ in pending],
                          **{f"c{i}": [values[i] for _, values in pending] for i in range(width)}},
                         schema={"_row": pl.Int64, **{f"c{i}": pl.String for i in range(width)}})
    mapped, mapping_problems = map_columns(frame, header, spec)
    by_row = {n: _with_duplicates(header, values) for n, values in pending}
    return RecordBatch(mapped, problems + mapping_problems, lambda rows: {r: by_row[r] for r in rows if r in by_row})
