"""The vendor readers under fuzzing (hypothesis), and the vectorised rules against the libraries that
define them.

- Hostile files with planted good rows: whatever surrounds them (stray quotes, ragged rows, CR/LF
  anywhere, invalid bytes, blank lines, JSON bombs), every planted good row loads with its values,
  every other record is loaded or quarantined with a reason, nothing raises, and the result does
  not depend on where the file is cut into blocks.
- Each vectorised fast path (emails, phones, profile URLs, names, the CSV line classifier) gives
  the answer of the Python rule it stands in for.
The budget is bounded (`max_examples`) so `make test` stays quick; the bad-input corpus
(test_ingestion_corpus.py) runs the fixed cases through dlt into the warehouse.
"""
from __future__ import annotations

import csv
import io
import json

import fsspec
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pipelines import vendor_read
from pipelines.vendor_files import Spill, parse_file
from pipelines.vendor_read import IN_QUOTES, quote_scan
from pipelines.vendor_rows import phone_problem, phones_parse
from warmpool.config import load_yaml, CONFIG_DIR
from warmpool.emails import is_valid_email, valid_email_mask
from warmpool.identity.normalize import ascii_lower
from warmpool.text import InvalidProfileUrl, clean_name, clean_names, profile_url, profile_urls_many

VENDORS = load_yaml(CONFIG_DIR / "vendors.yaml")["vendors"]
HEADER = list(VENDORS["talentdb"]["columns"])
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.data_too_large])

# Text that stresses a CSV reader: separators, quotes, line breaks of every kind, blanks, NUL,
# bidi and zero-width characters, accents, other scripts.
HOSTILE = st.text(alphabet=st.sampled_from(list(',"\r\n \t\x00\u202e\u200bAbc1é漢\x1c;|\\\'=+-@')), max_size=30)
# Values a planted good row may hold verbatim: commas and quotes (so they are quoted), accents,
# other scripts; never blank at the edges or made of controls (those are cleaned, not kept).
SAFE_TEXT = st.text(alphabet=st.sampled_from(list('abcXYZ09 ,"\'()&/éöñ漢Ж-')), min_size=1, max_size=20) \
    .map(str.strip).filter(bool)


def good_row(i: int, title: str, company: str) -> list[str]:
    return [f"GOOD-{i}", "Ann", f"Lee{i}", f"ann.{i}@example.com", "(415) 555-0100", "Austin", "TX", "United States",
            "https://www.linkedin.com/in/ann-lee", title, company, "SQL,Python", "3", "03/01/2025"]


def _line(cells: list[str], terminator: str) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=terminator).writerow(cells)
    return buf.getvalue()


def parse(tmp_path, data: bytes, vendor: str = "talentdb", name: str = "file.csv"):
    fs = fsspec.filesystem("memory")
    path = f"/{tmp_path.name}/{name}"
    fs.pipe(path, data)
    spill = Spill(tmp_path / "spill")
    parsed = parse_file(vendor, fs, path, VENDORS[vendor], spill)
    loaded = pa.concat_tables(list(parsed.tables())).to_pylist() if parsed.loaded else []
    rejects = pa.concat_tables(list(parsed.rejects())).to_pylist() if parsed.rejected_rows else []
    spill.remove()
    return parsed, loaded, rejects


@st.composite
def hostile_csv(draw):
    """A talentdb file: planted good rows among hostile lines, each line ended by CRLF, LF or CR."""
    lines, planted = [",".join(HEADER)], {}
    for i in range(draw(st.integers(1, 6))):
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["raw", "written", "ragged", "stray"]))
            cells = [draw(HOSTILE) for _ in range(len(HEADER))]
            cells[0] = "BAD-" + cells[0]
            if kind == "raw":  # whatever bytes, no quoting at all
                lines.append(",".join(cells))
            elif kind == "written":  # properly quoted by the csv module (line breaks inside values included)
                lines.append(_line(cells, "").rstrip("\r\n"))
            elif kind == "ragged":
                lines.append(_line(cells[:draw(st.integers(1, len(HEADER) + 3))] + ["x"] * 2, ""))
            else:
                lines.append(_line(cells, "").replace(",", ',"', 1))
        title, company = draw(SAFE_TEXT), draw(SAFE_TEXT)
        lines.append(_line(good_row(i, title, company), ""))
        planted[f"GOOD-{i}"] = (title, company)
    ends = [draw(st.sampled_from(["\r\n", "\n", "\r"])) for _ in lines]
    return "".join(line + end for line, end in zip(lines, ends)).encode("utf-8"), planted


@FUZZ
@given(case=hostile_csv(), block=st.sampled_from([None, 64, 200]))
def test_every_planted_good_row_of_a_hostile_csv_loads(tmp_path_factory, case, block):
    data, planted = case
    with pytest.MonkeyPatch.context() as mp:
        if block:  # the file cut into tiny blocks: records spanning a cut must come out the same
            mp.setattr(vendor_read, "BLOCK_BYTES", block)
        parsed, loaded, rejects = parse(tmp_path_factory.mktemp("csv"), data)
    assert not parsed.unreadable
    by_id = {r["vendor_record_id"]: r for r in loaded}
    for key, (title, company) in planted.items():
        assert key in by_id, (key, rejects[:5])
        assert (by_id[key]["current_title"], by_id[key]["current_company"]) == (title, company)
        assert by_id[key]["skills"] == "SQL;Python" and by_id[key]["updated_at"] == "2025-03-01"
    rows = {r["file_row"] for r in loaded} | {r["row_number"] for r in rejects if r["row_number"]}
    assert rows == set(range(1, parsed.records + 1))  # every record loaded or quarantined
    assert all(r["reason"] for r in rejects)


@FUZZ
@given(case=hostile_csv())
def test_block_size_does_not_change_the_outcome(tmp_path_factory, case):
    data, _ = case
    whole = parse(tmp_path_factory.mktemp("whole"), data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vendor_read, "BLOCK_BYTES", 37)
        cut = parse(tmp_path_factory.mktemp("cut"), data)
    key = lambda rows: sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)  # noqa: E731
    assert key(whole[1]) == key(cut[1])
    strip = lambda rows: key([{k: v for k, v in r.items() if k != "quarantined_at"} for r in rows])  # noqa: E731
    assert strip(whole[2]) == strip(cut[2])


@st.composite
def hostile_jsonl(draw):
    lines, planted = [], set()
    for i in range(draw(st.integers(1, 5))):
        for _ in range(draw(st.integers(0, 3))):
            lines.append(draw(st.one_of(
                st.binary(max_size=40),
                st.just(b"[" * 5000 + b"]" * 5000),
                st.just(b'{"id": "BAD", "experience_years": ' + b"7" * 5000 + b"}"),
                st.just(b'{"id": "BAD", "name": "\\udfff"}'),
                st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                             lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids,
                                                                                      max_size=3))
                .map(lambda v: json.dumps(v).encode()))))
        record = {"id": f"GOOD-{i}", "name": f"Ann Lee{i}", "contact": {"email": f"ann.{i}@example.com"},
                  "skills": ["SQL", "Python"], "modified": "2025-03-01"}
        lines.append(json.dumps(record).encode())
        planted.add(f"GOOD-{i}")
    return b"\n".join(lines) + b"\n", planted


@FUZZ
@given(case=hostile_jsonl())
def test_every_planted_good_line_of_a_hostile_jsonl_loads(tmp_path_factory, case):
    data, planted = case
    parsed, loaded, rejects = parse(tmp_path_factory.mktemp("jsonl"), data, "hirewire", "file.jsonl")
    by_id = {r["vendor_record_id"]: r for r in loaded}
    assert planted <= set(by_id), rejects[:5]
    for key in planted:
        assert by_id[key]["skills"] == "SQL;Python" and by_id[key]["first_name"] == "Ann"


# --- the vectorised rules agree with the Python ones ------------------------------------------------

EMAILISH = st.lists(st.sampled_from(list("ab.@-_+%Zé×ı K\u0301x1.") + ["com", "example", "local", "@@", "a@b.co"]),
                    max_size=14).map("".join)


@FUZZ
@given(values=st.lists(EMAILISH, max_size=30))
def test_the_vectorised_email_check_is_email_validators(values):
    assert valid_email_mask(pl.Series(values, dtype=pl.String)).to_list() == [is_valid_email(v) for v in values]


PHONEISH = st.text(alphabet=st.sampled_from(list("+0123456789 .()-x/")), max_size=22)


@FUZZ
@given(values=st.lists(PHONEISH, max_size=40))
def test_every_phone_the_fast_path_accepts_is_one_phonenumbers_parses(values):
    accepted = phones_parse(pl.Series(values, dtype=pl.String)).to_list()
    assert [v for v, ok in zip(values, accepted) if ok and phone_problem(v)] == []


def test_the_phone_fast_path_takes_the_usual_shapes():
    usual = ["(415) 555-0100", "415-555-0100", "415.555.0100", "4155550100", "+44 20 7946 0958", "+1 415 555 0100",
             "+34 612 345 678"]
    assert phones_parse(pl.Series(usual)).all()


URLISH = st.one_of(
    st.builds(lambda scheme, host, slug, tail: f"{scheme}{host}linkedin.com/in/{slug}{tail}",
              st.sampled_from(["", "https://", "http://", "HTTPS://"]), st.sampled_from(["", "www.", "uk.", "WWW."]),
              st.text(alphabet=st.sampled_from(list("abcXYZ09-_éÀÖØ×İıſ%C3A9")), min_size=1, max_size=12),
              st.sampled_from(["", "/", "/?trk=1", "#x", "/details"])),
    st.text(alphabet=st.sampled_from(list("htps:/w.linkedin.com<>{}$ ")), max_size=30))


def _python_url(value):
    try:
        return profile_url(value), None
    except InvalidProfileUrl as exc:
        return None, str(exc)


@FUZZ
@given(values=st.lists(URLISH, max_size=30))
def test_the_vectorised_profile_urls_are_profile_url(values):
    urls, errors = profile_urls_many(pl.Series(values, dtype=pl.String))
    assert list(zip(urls.to_list(), errors.to_list())) == [_python_url(v) for v in values]


@FUZZ
@given(values=st.lists(st.text(max_size=12), max_size=30))
def test_the_vectorised_names_are_clean_name(values):
    assert clean_names(pl.Series(values, dtype=pl.String)).to_list() == [clean_name(v) for v in values]


@FUZZ
@given(line=st.text(alphabet=st.sampled_from(list('ab,"x ')), max_size=20))
def test_the_quote_scan_reads_a_line_as_the_csv_module_does(line):
    """A line ends inside a quoted value exactly when the csv module carries the record on to the
    next line."""
    first = next(csv.reader([line + "\n", "tail\n"]))
    assert (quote_scan(line, ",")[0] == IN_QUOTES) == ("\n" in "".join(first))


# --- names and profile URLs, the rules themselves ---------------------------------------------------

@pytest.mark.parametrize("raw, clean", [
    ("\u202eAnn\u202c", "Ann"), ("Lee\u200b", "Lee"), ("Jose\u0301", "José"), ("Ni\ufeffño", "Niño"),
    (" Mary  Ann ", "Mary Ann"), ("O'Neil-Smith", "O'Neil-Smith"), ("李\u2060小龍", "李小龍"),
    ("می\u200cخواهم", "می\u200cخواهم"), ("\u200b\u2066\u2069", None), ("Ann\tLee\x00", "Ann Lee"),
])
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


@pytest.mark.parametrize("raw, canonical", [
    ("https://www.linkedin.com/in/ann-lee", "https://www.linkedin.com/in/ann-lee"),
    ("HTTPS://UK.LinkedIn.com/in/Ann-Lee/?trk=public#top", "https://www.linkedin.com/in/ann-lee"),
    ("linkedin.com/in/ann-lee/details/experience/", "https://www.linkedin.com/in/ann-lee"),
    ("https://www.linkedin.com/in/chloé", "https://www.linkedin.com/in/chlo%C3%A9"),
    ("http://github.com/ann-lee#readme", "http://github.com/ann-lee"),
    ("https://bücher.example.de:443/a", "https://xn--bcher-kva.example.de/a"),
])
def test_profile_url_is_canonical(raw, canonical):
    assert profile_url(raw) == canonical


@pytest.mark.parametrize("raw, why", [
    ("https://><script>alert(1)</script>", "< >"), ("{{candidate.profile_url}}", "{ }"), ("${jndi:ldap://x}", "{ }"),
    ("javascript:alert(1)", "only http and https"), ("ftp://example.com/x", "only http and https"),
    ("https://linkedin.com@evil.example/in/x", "user name"), ("https://localhost/x", "public host"),
    ("https://10.0.0.1/x", "IP address"), ("https://ex ample.com", "blanks"), ("https://exa_mple.com/", "host name"),
    ("https://x.com/\u202e", "invisible"), ("https://" + "a" * 2100 + ".com", "2,048"),
])
def test_profile_url_refuses_what_is_not_one(raw, why):
    with pytest.raises(InvalidProfileUrl, match=why.replace("$", r"\$").replace("{", r"\{")):
        profile_url(raw)


def test_identity_folds_the_cleaned_name():
    """A zero-width character inside a name no longer splits it into two tokens for matching."""
    assert ascii_lower("Le\u200be") == ascii_lower("Lee") == "lee"
    assert ascii_lower("\u202eAnn\u202c") == "ann"
