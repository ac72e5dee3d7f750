"""`warmpool resolve` on hostile input: one line naming the file, row and problem, exit status 2, never a
traceback (issue 11, item 5). The findings run the installed command as a user would; the property
tests drive the same command in-process (typer's runner) over random bytes and random CSVs."""
from __future__ import annotations

import csv
import io
import string
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from warmpool.identity import read_contract_csv

WARMPOOL = str(Path(sys.executable).parent / "warmpool")
HEADER = "source,source_record_id,first_name,last_name,email\n"


def _resolve(path: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([WARMPOOL, "resolve", str(path), "--output", str(tmp_path / "out.csv"), *extra],
                          capture_output=True, text=True, timeout=300)


def _one_clean_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_binary_input_is_refused_in_one_line(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)
    line = _one_clean_line(_resolve(path, tmp_path))
    assert "photo.csv" in line and "not a text CSV" in line
    assert not (tmp_path / "out.csv").exists()


def test_an_unbalanced_quote_names_the_line(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(HEADER + 'ats,1,Ann,Lee,ann@x.com\nats,2,"Bob,Smith,bob@x.com\nats,3,Cy,Doe,cy@x.com\n',
                    encoding="utf-8")
    line = _one_clean_line(_resolve(path, tmp_path))
    assert "quoted.csv" in line and "line 3" in line and "quote" in line


def test_a_row_with_an_extra_value_names_the_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(HEADER + "ats,1,Ann,Lee,ann@x.com\nats,2,Bob,Smith,bob@x.com,extra\n", encoding="utf-8")
    line = _one_clean_line(_resolve(path, tmp_path))
    assert "ragged.csv" in line and "line 3" in line and "6 values" in line and "5" in line


def test_latin1_input_is_detected_and_read_as_what_it_is(tmp_path):
    path = tmp_path / "latin1.csv"
    rows = [("ats", "1", "Renée", "Müller", "renee.muller@example.de"),
            ("vendor", "9", "Renée", "Müller", "renee.muller@example.de"),
            ("ats", "2", "José", "Núñez", "jose@example.es")]
    text = HEADER + "".join(",".join(r) + "\n" for r in rows) * 1
    path.write_bytes(text.encode("latin-1"))
    out = tmp_path / "out.csv"
    done = _resolve(path, tmp_path, "--model", "saved")
    assert done.returncode == 0, done.stderr
    assert "latin" in done.stdout.lower() or "1252" in done.stdout  # the summary says how it was read
    got = pl.read_csv(out, infer_schema=False)
    assert got.height == 3 and got["person_id"][0] == got["person_id"][1] != got["person_id"][2]
    export = read_contract_csv(path)
    assert export.records["first_name"].to_list() == ["Renée", "Renée", "José"]  # not lossy "Ren�e"


def test_utf16_and_semicolon_exports_are_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text(HEADER.replace(",", ";") + "ats;1;Zoë;Šimić;zoe@example.com\n", encoding="utf-16")
    export = read_contract_csv(path)
    assert export.separator == ";" and export.records["last_name"].to_list() == ["Šimić"]


def test_duplicate_keys_warn_and_the_summary_adds_up(tmp_path):
    path = tmp_path / "dupes.csv"
    path.write_text(HEADER + "ats,1,Ann,Lee,ann@x.com\nats,2,Bob,Stone,bob@x.com\nats,1,Ann,Lee,ann@x.com\n"
                    "ats,3,Ann,Lee,ann@x.com\n", encoding="utf-8")
    done = _resolve(path, tmp_path, "--model", "saved")
    assert done.returncode == 0, done.stderr
    summary = done.stdout
    # 4 rows = 3 distinct records + 1 repeat; 3 distinct = 2 persons + 1 merged
    assert "4 rows (3 distinct records, 1 repeating an earlier key)" in summary
    assert "into 2 persons (1 duplicates merged)" in summary
    assert "line 4" in summary  # where the first repeat is
    got = pl.read_csv(tmp_path / "out.csv", infer_schema=False)
    assert got.height == 4 and got["person_id"][0] == got["person_id"][2]


def test_a_header_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("source,source_record_id,email,email\nats,1,a@x.com,b@x.com\n", encoding="utf-8")
    line = _one_clean_line(_resolve(path, tmp_path))
    assert "twice.csv" in line and "line 1" in line and "'email' twice" in line


def test_a_missing_file_and_an_unknown_mode_are_one_line(tmp_path):
    line = _one_clean_line(_resolve(tmp_path / "nowhere.csv", tmp_path))
    assert "nowhere.csv" in line
    path = tmp_path / "ok.csv"
    path.write_text(HEADER + "ats,1,Ann,Lee,ann@x.com\n", encoding="utf-8")
    assert "--model" in _one_clean_line(_resolve(path, tmp_path, "--model", "magic"))


# ---- property tests: whatever the bytes, exit 0 or 2 with one line, never a traceback -------------

_runner = CliRunner()


def _run_in_process(data: bytes, folder: Path) -> None:
    path = folder / "input.csv"
    path.write_bytes(data)
    result = _runner.invoke(app, ["resolve", str(path), "--output", str(folder / "out.csv"), "--model", "saved"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output


_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes_never_crash_resolve(data, tmp_path_factory):
    _run_in_process(data, tmp_path_factory.mktemp("bytes"))


_cell = st.text(alphabet=string.ascii_letters + string.digits + ' ,;"\n\r\t@.+-éü\u00a0\ufeff', max_size=12)
_columns = st.lists(st.sampled_from(["source", "source_record_id", "first_name", "last_name", "email", "phone",
                                     "city", "full_name", "date_of_birth", "junk", "Source", " email "]),
                    min_size=1, max_size=6)


@_SETTINGS
@given(columns=_columns, rows=st.lists(st.lists(_cell, max_size=7), max_size=6),
       encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]), raw=st.booleans())
def test_random_csvs_never_crash_resolve(columns, rows, encoding, raw, tmp_path_factory):
    if raw:  # cells joined with commas as they are: quotes and separators left unbalanced
        text = ",".join(columns) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    else:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        w.writerows(rows)
        text = buf.getvalue()
    _run_in_process(text.encode(encoding, errors="replace"), tmp_path_factory.mktemp("csv"))


@pytest.mark.parametrize("text", ["", "\n", "source,source_record_id\n", "\ufeffsource,source_record_id\nats,1\n"])
def test_empty_and_header_only_files(text, tmp_path):
    _run_in_process(text.encode("utf-8"), tmp_path)
