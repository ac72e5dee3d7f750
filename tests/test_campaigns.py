"""Campaign definitions (YAML → dataclass → warehouse table) and audience files."""
from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from warmpool.campaigns.audience import AUDIENCE_COLUMNS, AUDIENCE_PRESETS, safe_cell, write_audience_csv
from warmpool.campaigns.config import (CAMPAIGNS_DIR, CONTRACT_COLUMNS, CampaignConfigError, campaign_rows,
                                       load_campaigns, load_campaigns_table)


@pytest.fixture
def campaigns_dir(tmp_path) -> Path:
    """A copy of the shipped campaigns that a test may edit."""
    target = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS_DIR, target)
    return target


def test_shipped_campaigns_load():
    by_id = {c.campaign_id: c for c in load_campaigns()}
    assert set(by_id) >= {"tn-engineering-nurture", "invite-to-apply-sales"}
    nurture = by_id["tn-engineering-nurture"]
    assert nurture.kind == "nurture" and nurture.segment == "engineering-and-data"
    assert nurture.frequency_cap_days == 7 and nurture.starts_at.tzinfo is not None
    sales = by_id["invite-to-apply-sales"]
    assert sales.kind == "invite_to_apply" and sales.segment == "experienced-sales"
    assert sales.audience_preset == "hubspot" and nurture.audience_preset == "mailchimp"
    assert len({nurture.content_version, sales.content_version}) == 2


def test_content_version_changes_with_the_mail_and_only_with_it(campaigns_dir):
    before = {c.campaign_id: c.content_version for c in load_campaigns(campaigns_dir)}
    assert before == {c.campaign_id: c.content_version for c in load_campaigns(campaigns_dir)}  # stable

    yaml_file = campaigns_dir / "tn-engineering-nurture.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("frequency_cap_days: 7", "frequency_cap_days: 14"))
    assert {c.campaign_id: c.content_version for c in load_campaigns(campaigns_dir)} == before  # not the mail

    text = campaigns_dir / "templates" / "whats_new.txt.j2"
    text.write_text(text.read_text().replace("on us.", "on us!"))
    after = {c.campaign_id: c.content_version for c in load_campaigns(campaigns_dir)}
    assert after["tn-engineering-nurture"] != before["tn-engineering-nurture"]
    assert after["invite-to-apply-sales"] == before["invite-to-apply-sales"]

    # A shared layout is part of every mail that extends it.
    layout = campaigns_dir / "templates" / "_layout.html.j2"
    layout.write_text(layout.read_text().replace("The Warmpool talent team", "Your friends at Warmpool"))
    again = {c.campaign_id: c.content_version for c in load_campaigns(campaigns_dir)}
    assert again["tn-engineering-nurture"] != after["tn-engineering-nurture"]
    assert again["invite-to-apply-sales"] != after["invite-to-apply-sales"]

    yaml_file.write_text(yaml_file.read_text().replace('subject: "What', 'subject: "News: what'))
    assert load_campaigns(campaigns_dir)[1].content_version != again["tn-engineering-nurture"]


GOOD = """\
campaign_id: broken
name: Broken
kind: nurture
segment: engineering-and-data
subject: Hello
template: whats_new
starts_at: 2025-01-01
"""


@pytest.mark.parametrize("change, key, words", [
    (("segment: engineering-and-data", "segment: engineering-and-data\nsegmnet: x"), "segmnet", "unknown key"),
    (("kind: nurture", "kind: newsletter"), "kind", "not one of"),
    (("subject: Hello", 'subject: "Hello\\r\\nBcc: victim@example.com"'), "subject", "header injection"),
    (("subject: Hello", 'subject: "Hello {{ first_name }}"'), "subject", "not a template"),
    (("template: whats_new", "template: missing_one"), "template", "does not exist"),
    (("template: whats_new", "template: ../../etc/passwd"), "template", "bare template name"),
    (("template: whats_new", "template: typo"), "template", "first_nme"),
    (("campaign_id: broken", "campaign_id: other-name"), "campaign_id", "file name"),
    (("campaign_id: broken", "campaign_id: Broken Campaign"), "campaign_id", "slug"),
    (("starts_at: 2025-01-01", "starts_at: next tuesday"), "starts_at", "ISO-8601"),
    (("name: Broken\n", ""), "name", "required"),
    (("segment: engineering-and-data\n", ""), "segment", "required"),
    (("segment: engineering-and-data", "segment: no-such-segment"), "segment", "not a segment of config/segments"),
    # the filters campaigns once carried are refused with a pointer to segments (no second way)
    (("segment: engineering-and-data", "segment: engineering-and-data\njob_families: [engineering]"),
     "job_families", "pick people by segment only"),
    (("segment: engineering-and-data", "segment: engineering-and-data\nmin_years_experience: 2"),
     "min_years_experience", "pick people by segment only"),
    (("segment: engineering-and-data", "segment: engineering-and-data\naudience_preset: klaviyo"),
     "audience_preset", "not one of"),
])
def test_invalid_campaign_files_name_the_file_and_the_key(campaigns_dir, change, key, words):
    (campaigns_dir / "templates" / "typo.html.j2").write_text("<p>Hi {{ first_nme }}</p>")
    (campaigns_dir / "templates" / "typo.txt.j2").write_text("Hi {{ first_name }}")
    path = campaigns_dir / "broken.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(CampaignConfigError) as info:
        load_campaigns(campaigns_dir)
    message = str(info.value)
    assert str(path) in message and f"'{key}'" in message and words in message, message


def test_yaml_syntax_error_names_the_file(campaigns_dir):
    path = campaigns_dir / "broken.yaml"
    path.write_text("campaign_id: [unclosed\n")
    with pytest.raises(CampaignConfigError, match="broken.yaml.*not valid YAML"):
        load_campaigns(campaigns_dir)


def test_template_syntax_error_names_the_template_file(campaigns_dir):
    (campaigns_dir / "templates" / "whats_new.html.j2").write_text("<p>{% if first_name %}Hi</p>")
    with pytest.raises(CampaignConfigError) as info:
        load_campaigns(campaigns_dir)
    # the first campaign file (by name) that uses the template is named, and the template file and line
    assert "silver-medalist-sequence.yaml" in str(info.value) and "whats_new.html.j2, line" in str(info.value)


def test_campaign_rows_have_exactly_the_contract_columns():
    rows = campaign_rows(load_campaigns())
    assert all(tuple(row) == CONTRACT_COLUMNS for row in rows)
    nurture = next(r for r in rows if r["campaign_id"] == "tn-engineering-nurture")
    assert nurture["segment"] == "engineering-and-data" and nurture["kind"] == "nurture"


def test_campaigns_table_is_rewritten_in_one_transaction(campaigns_dir):
    con = duckdb.connect()
    shipped = len(list(campaigns_dir.glob("*.yaml")))
    assert load_campaigns_table(con, dir=campaigns_dir) == shipped
    assert load_campaigns_table(con, dir=campaigns_dir) == shipped  # a re-run replaces, never appends
    cols = [r[0] for r in con.execute("select column_name from information_schema.columns where table_schema = "
                                      "'raw_campaigns' and table_name = 'campaigns' order by ordinal_position").fetchall()]
    assert tuple(cols) == CONTRACT_COLUMNS
    assert con.execute("select segment from raw_campaigns.campaigns where campaign_id = 'tn-engineering-nurture'"
                       ).fetchone() == ("engineering-and-data",)
    (campaigns_dir / "zz-bad.yaml").write_text("campaign_id: zz-bad\n")
    with pytest.raises(CampaignConfigError):
        load_campaigns_table(con, dir=campaigns_dir)
    assert con.execute("select count(*) from raw_campaigns.campaigns").fetchone() == (shipped,)  # untouched


# --- audience files --------------------------------------------------------------------------------

def _member(pid, email, first="Ada", last="Lovelace", **extra):
    return {"campaign_id": "tn-engineering-nurture", "person_id": pid, "email": email, "first_name": first,
            "last_name": last, "city": "London", "country": "United Kingdom", "country_code": "GB",
            "job_family": "Engineering", "consent_basis": "opt_in",
            "consent_recorded_at": dt.datetime(2026, 1, 5, 12, 10, tzinfo=dt.timezone.utc),
            "consent_source": "talent_network_double_opt_in", "segment": "Engineering nurture",
            "tags": "job_family:Engineering;seniority:senior;country:GB;heat:warm",
            "inclusion_reason": "job_family", **extra}


def _read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_audience_csv_columns_and_values(tmp_path):
    members = [_member("p-1", "ada@example.com"), _member("p-2", "grace@example.com", "Grace", "Hopper", city=None),
               _member("p-1", "ada@example.com"),  # repeated person: once
               {**_member("p-3", "x@example.com"), "campaign_id": "invite-to-apply-sales"}]  # other campaign
    path = write_audience_csv(members, "tn-engineering-nurture", tmp_path / "audiences")
    assert path == tmp_path / "audiences" / "tn-engineering-nurture.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == AUDIENCE_COLUMNS
    rows = _read(path)
    assert [r["Person ID"] for r in rows] == ["p-1", "p-2"]
    assert rows[1] == {"Email Address": "grace@example.com", "First Name": "Grace", "Last Name": "Hopper",
                       "City": "", "Country": "United Kingdom", "Job Family": "Engineering",
                       "Tags": "job_family:Engineering,seniority:senior,country:GB,heat:warm",
                       "Segment": "Engineering nurture", "Consent Basis": "opt_in",
                       "Opt-in Date": "2026-01-05T12:10:00Z", "Consent Source": "talent_network_double_opt_in",
                       "Person ID": "p-2"}
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left


def test_audience_csv_neutralises_formulas_and_keeps_awkward_text(tmp_path):
    members = [
        _member("p-1", "ada@example.com", "=HYPERLINK(\"http://evil.example\",\"click\")", "+1+1"),
        _member("p-2", "b@example.com", "-2+3", "@SUM(A1)", city="\tTAB"),
        _member("p-3", "c@example.com", 'O\'Brien, "Jr"', "Multi\nLine", city="Zürich"),
    ]
    rows = _read(write_audience_csv(members, "tn-engineering-nurture", tmp_path))
    assert rows[0]["First Name"] == "'=HYPERLINK(\"http://evil.example\",\"click\")" and rows[0]["Last Name"] == "'+1+1"
    assert rows[1]["First Name"] == "'-2+3" and rows[1]["Last Name"] == "'@SUM(A1)" and rows[1]["City"] == "'\tTAB"
    assert rows[2]["First Name"] == 'O\'Brien, "Jr"' and rows[2]["Last Name"] == "Multi\nLine"
    assert rows[2]["City"] == "Zürich"


def test_audience_csv_from_a_dataframe_and_empty(tmp_path):
    import pandas as pd

    frame = pd.DataFrame([_member("p-1", "ada@example.com", city=None)])
    rows = _read(write_audience_csv(frame, "tn-engineering-nurture", tmp_path))
    assert rows[0]["City"] == "" and rows[0]["Email Address"] == "ada@example.com"
    path = write_audience_csv([], "invite-to-apply-sales", tmp_path)
    assert path.read_text(encoding="utf-8").splitlines() == [",".join(f'"{c}"' for c in AUDIENCE_COLUMNS)]


def test_audience_csv_refuses_a_path_as_campaign_id(tmp_path):
    with pytest.raises(ValueError):
        write_audience_csv([], "../escape", tmp_path)


@pytest.mark.parametrize("preset, email_header, consent_header, consent_value, tags", [
    ("mailchimp", "Email Address", "Consent Basis", "opt_in", "job_family:Engineering,seniority:senior,country:GB,heat:warm"),
    ("hubspot", "Email", "Legal basis for processing contact's data", "Freely given consent from contact",
     "job_family:Engineering;seniority:senior;country:GB;heat:warm"),
    ("sendgrid", "email", "consent_basis", "opt_in", "job_family:Engineering,seniority:senior,country:GB,heat:warm"),
])
def test_each_provider_preset_names_its_columns_and_carries_consent(tmp_path, preset, email_header, consent_header,
                                                                     consent_value, tags):
    path = write_audience_csv([_member("p-1", "ada@example.com")], "tn-engineering-nurture", tmp_path, preset)
    with open(path, newline="", encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == AUDIENCE_PRESETS[preset].headers
    row = _read(path)[0]
    assert row[email_header] == "ada@example.com" and row[consent_header] == consent_value
    tag_header = "tags" if preset == "sendgrid" else "Tags"
    assert row[tag_header] == tags
    assert "2026-01-05T12:10:00Z" in row.values() and "talent_network_double_opt_in" in row.values()
    assert "Engineering nurture" in row.values()  # the segment


@pytest.mark.parametrize("value", ["-joe@example.com", "+joe@example.com", "=joe@example.com", "ada@example.com"])
def test_a_valid_email_address_is_written_exactly_as_it_is(tmp_path, value):
    assert safe_cell(value) == value
    rows = _read(write_audience_csv([_member("p-1", value)], "tn-engineering-nurture", tmp_path))
    assert rows[0]["Email Address"] == value


@pytest.mark.parametrize("value", [
    "=1+1", "+1+1", "-1+1", "@SUM(A1)", " =1+1", "  +cmd", "\n=1+1", "\r=1+1", "\t=1+1", "\u00a0=1+1",
    "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)", " \uff1dHYPERLINK(\"http://x\")", "\u3000=1",
    "@evil.example",  # not a valid address: neutralised like any other cell
])
def test_any_other_cell_a_spreadsheet_could_evaluate_is_neutralised(tmp_path, value):
    assert safe_cell(value) == "'" + value
    rows = _read(write_audience_csv([_member("p-1", "ada@example.com", first=value, city=value)],
                                    "tn-engineering-nurture", tmp_path))
    assert rows[0]["First Name"] == "'" + value and rows[0]["City"] == "'" + value
