"""One canonical-email definition and one validity rule (warmpool/emails.py), and the dbt macro that
mirrors the canonical key: both run over the same table of cases and must give identical answers."""
from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from dbt_fixtures import dbt
from warmpool.emails import InvalidEmail, canonical_email, is_valid_email, normalize_email

CASES = Path(__file__).parent / "fixtures" / "canonical_emails.csv"


def _cases() -> list[dict]:
    with open(CASES, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _compiled(tmp: Path, inline_sql: str) -> str:
    """The SQL dbt compiles `inline_sql` to, with this project's macros and adapter."""
    return dbt(tmp, "--inline", inline_sql, command=("compile",)).result.results[0].node.compiled_code


def test_python_and_the_dbt_macro_agree_on_every_case(tmp_path, monkeypatch):
    monkeypatch.setenv("WARMPOOL_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    cases = _cases()
    query = _compiled(tmp_path, "select position, {{ canonical_email('address') }} as canonical_email from cases")
    assert "canonical_email(" not in query  # the macro really expanded
    with duckdb.connect() as con:
        con.execute("create table cases (position integer, address varchar)")
        con.executemany("insert into cases values (?, ?)",
                        [(i, c["address"]) for i, c in enumerate(cases)] + [(len(cases), None)])
        sql = dict(con.execute(query).fetchall())
    for i, case in enumerate(cases):
        expected = case["canonical_email"] or None
        assert canonical_email(case["address"]) == expected, case["case"]
        assert sql[i] == expected, case["case"]
    assert canonical_email(None) is None and sql[len(cases)] is None


@pytest.mark.parametrize("address", [
    "ada@example.com", "Ada.Lovelace+cv@Example.co.uk", " ada@example.com ", "jörg@exämple.de", "a" * 64 + "@b.com",
])
def test_valid_addresses(address):
    assert is_valid_email(address)
    assert normalize_email(address) == address.strip().rpartition("@")[0] + "@" + address.strip().rpartition("@")[2].lower()


@pytest.mark.parametrize("address", [
    "", "   ", None, 42, "not-an-email", "a@@b.com", "@example.com", "x@", "a b@c.com",
    "ada@example.com\r\nBcc: victim@example.com", "ada@example.com\n", "ada@localhost", "ada@home.arpa", "a..b@c.com",
])
def test_invalid_addresses(address):
    assert not is_valid_email(address)
    with pytest.raises(InvalidEmail):
        normalize_email(address)


def test_the_fast_path_agrees_with_email_validator():
    """Plain addresses skip the library call; each must be one the library accepts too."""
    from email_validator import validate_email

    for address in ("ann.lee@example.co.uk", "x_y%z-1@mail-1.example.org", "A.B@EXAMPLE.COM", "ann@b.io"):
        assert is_valid_email(address)
        validate_email(address, check_deliverability=False)


def test_ascii_only_refuses_smtputf8_and_returns_idna():
    with pytest.raises(InvalidEmail):
        normalize_email("jörg@example.de", ascii_only=True)
    assert normalize_email("joerg@exämple.de", ascii_only=True) == "joerg@xn--exmple-cua.de"
    assert normalize_email("joerg@exämple.de") == "joerg@exämple.de"
