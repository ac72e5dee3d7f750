"""Normalisation rules: each case is a variation real sources produce for one person."""
from __future__ import annotations

import polars as pl
import pytest

from warmpool.identity import normalize as n


@pytest.mark.parametrize("a, b", [
    ("Bob", "Robert"), ("Bobby", "Robert"), ("Liz", "Elizabeth"), ("Beth", "Elizabeth"), ("Peggy", "Margaret"),
    ("Jim", "James"), ("Kate", "Katherine"), ("Dick", "Richard"), ("Will", "William"), ("ROBERT", "robert"),
])
def test_nicknames_share_a_canonical_form(a, b):
    assert n.first_name_canonical(a) == n.first_name_canonical(b)


def test_nickname_aliases_cover_every_formal_name():
    assert {"ronald", "aaron", "ron"} <= set(n.first_name_aliases("Ron"))
    assert n.first_name_aliases("Zzyzx") == ["zzyzx"]


@pytest.mark.parametrize("raw, expected", [
    ("Zoë", "zoe"), ("  José  ", "jose"), ("Jean-Luc", "jean luc"), ("Łukasz", "lukasz"), ("", None), (None, None),
])
def test_names_fold_accents_and_case(raw, expected):
    assert n.name_value(raw) == expected


def test_surnames_ignore_spaces_hyphens_apostrophes():
    assert n.surname_value("van der Berg") == n.surname_value("Vanderberg") == "vanderberg"
    assert n.surname_value("O'Brien") == n.surname_value("OBRIEN") == "obrien"
    assert n.surname_value("Müller") == "muller"


@pytest.mark.parametrize("raw", [
    "John.Smith@gmail.com", "johnsmith@gmail.com", "j.o.h.n.smith+jobs@gmail.com", "JohnSmith@GoogleMail.com",
    " johnsmith@gmial.com ", "<john.smith+cv@gmail.com>", "mailto:johnsmith@gmail.com",
])
def test_gmail_variants_are_one_mailbox(raw):
    assert n.email_value(raw) == "johnsmith@gmail.com"


def test_other_domains_keep_dots_but_drop_plus_tags():
    assert n.email_value("Ann.Lee+x@Example.co.uk") == "ann.lee@example.co.uk"


@pytest.mark.parametrize("raw", ["not-an-email", "a@@b.com", "@example.com", "x@", "", None])
def test_invalid_emails_become_null(raw):
    assert n.email_value(raw) is None


@pytest.mark.parametrize("raw, region", [
    ("(415) 555-0123", "US"), ("415.555.0123", "US"), ("+1 415 555 0123", None), ("001-415-555-0123", "GB"),
    ("4155550123", "US"), ("+1 (415) 555-0123", "DE"),
])
def test_us_phone_formats_to_one_e164(raw, region):
    assert n.phone_value(raw, region) == "+14155550123"


@pytest.mark.parametrize("raw, region", [
    ("020 7946 0958", "GB"), ("+44 20 7946 0958", None), ("0044 (0)20 7946 0958", "US"), ("+442079460958", "GB"),
])
def test_uk_phone_formats_to_one_e164(raw, region):
    assert n.phone_value(raw, region) == "+442079460958"


def test_unparseable_phone_keeps_digits_or_null():
    assert n.phone_value("ext 12", "US") is None
    assert n.phone_value(None, "US") is None


def test_country_and_linkedin_and_employer():
    assert n.country_value("Deutschland") == n.country_value("germany") == n.country_value("DE") == "DE"
    assert n.country_value("United States") == "US"
    for url in ("https://www.linkedin.com/in/Jane-Doe-42/", "linkedin.com/in/jane-doe-42?trk=x",
                "https://de.linkedin.com/in/jane-doe-42", "in/jane-doe-42", "jane-doe-42"):
        assert n.linkedin_slug(url) == "jane-doe-42", url
    assert n.linkedin_slug("https://example.com/jane") is None
    assert n.company_value("Acme, Inc.") == n.company_value("ACME Corporation") == "acme"
    assert n.title_value("Sr. SWE") == "senior software engineer"
    assert n.location_value("São Paulo") == "sao paulo"
    assert n.skills_value("Python; SQL;python;;") == ["python", "sql"]


def test_normalize_records_handles_missing_columns_and_blanks():
    df = pl.DataFrame({"source": ["a", "b"], "source_record_id": ["1", "2"], "first_name": ["Bob", "  "],
                       "email": ["B.O.B@gmail.com", None], "phone": ["415 555 0123", ""], "country": ["USA", None],
                       "unrelated": ["x", "y"]})
    out = n.normalize_records(df)
    assert out["unique_id"].to_list() == [0, 1]
    assert out["first_name_norm"].to_list() == ["bob", None]
    assert out["first_name_canonical"].to_list() == ["robert", None]
    assert out["email_norm"].to_list() == ["bob@gmail.com", None]
    assert out["email_local"].to_list() == ["bob", None]
    assert out["phone_e164"].to_list() == ["+14155550123", None]
    assert out["city_norm"].to_list() == [None, None]
    assert "unrelated" not in out.columns


def test_normalising_on_worker_processes_gives_the_same_features(monkeypatch):
    """A big input's per-value work runs on a pool of worker processes in chunks: every feature must
    come back on its own row, exactly as a single process computes it."""
    people = [("Maria", "Garcia", "M.Garcia@gmail.com; maria+cv@acme.com", "030 1234567; +1 415 555 0123", "DE",
               "Dr. María José García", "03/04/1990"),
              ("Bob", "O'Neil", "bob@example.org", "(415) 555-0199", "US", "Bob O'Neil Jr.", "1985-12-01"),
              (None, None, "not-an-email", "12", "GB", "García, María", "31/12/1979"),
              ("Zoë", "van der Berg", None, None, None, None, None)]
    rows = [dict(source="ats", source_record_id=str(i * len(people) + j), first_name=f, last_name=l, email=e,
                 phone=p, country=c, full_name=fn, date_of_birth=d)
            for i in range(300) for j, (f, l, e, p, c, fn, d) in enumerate(people)]
    # distinct values vary per row so the chunks hold different values
    frame = pl.DataFrame(rows).with_columns(
        pl.col("email").str.replace("@", pl.col("source_record_id") + "@", literal=True),
        (pl.col("phone") + pl.col("source_record_id").str.zfill(4)).alias("phone"))
    serial = n.normalize_records(frame)
    monkeypatch.setattr(n, "PARALLEL_MIN_DISTINCT", 50)
    monkeypatch.setattr(n, "_CHUNK", 37)
    parallel = n.normalize_records(frame)
    assert parallel.equals(serial)
    assert serial["email_norm"].drop_nulls().n_unique() > 500  # the chunks really held distinct values


def test_normalising_in_chunks_gives_the_same_features_as_one_pass(monkeypatch):
    """Millions of records are normalised a chunk at a time; what depends on the whole input must not
    change with the chunk a record lands in: a US export's month-first dates given away only by a
    record late in the file, several emails in one field only late in the file."""
    rows = [dict(source="crm", source_record_id=str(i), first_name="Ann", last_name=f"Lee{i % 7}",
                 email=f"ann{i}@example.com", date_of_birth="03/04/1990") for i in range(60)]
    rows[-1] |= {"date_of_birth": "04/25/1990", "email": "ann59@example.com; ann.lee@work.com"}
    frame = pl.DataFrame(rows)
    whole = n.normalize_records(frame)
    monkeypatch.setattr(n, "NORMALIZE_CHUNK_RECORDS", 16)
    chunked = n.normalize_records(frame)
    assert chunked.equals(whole)
    assert chunked["unique_id"].to_list() == list(range(60))
    assert chunked["dob_norm"][0] == "19900304"  # month first, decided by the last record
    assert chunked["email_list"][0].to_list() == ["ann0@example.com"]  # a list column in every chunk
    assert all(chunked[c].n_chunks() == 1 for c in chunked.columns)
