"""The dashboards on a world run through the whole pipeline (the session's pipeline_world): every page
for every role that has it, no personal data on aggregate pages, the leadership figures against the
marts, the access log, sign-in, and a real browser looking at every page."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import httpx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.common import money
from dashboards.registry import PAGES
from warmpool.exports import AGGREGATES_FOLDER, PERSONAL_COLUMNS_KEY
from warmpool.reporting.access import AGGREGATE_PAGES, LOCAL_ROLE_ENV, load_access
from warmpool.reporting.access_log import read_views
from warmpool.reporting.marts import Filters, filter_clause
from warmpool.reporting.privacy import suppress_small_counts, suppress_with_complements

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")
SCRIPTS = {p.key: p.script for p in PAGES}
MART_PAGES = {p.key for p in PAGES if p.script.startswith("views/")}   # the search pages read the search index
ACCESS = load_access()
ROLE_PAGES = [(role.name, page) for role in ACCESS.roles.values() for page in role.pages if page in MART_PAGES]
AGGREGATE_ROLES = [name for name, role in ACCESS.roles.items() if not role.personal_data]


@dataclass(frozen=True)
class DashboardWorld:
    home: Path            # a private data folder holding a copy of the pipeline world's exports and runs
    pipeline_home: Path   # the pipeline world itself (its warehouse, for comparing figures)


@pytest.fixture
def world(pipeline_world, warmpool_home, monkeypatch):
    """The pipeline world's exports in a private data folder (so each test has its own access log)."""
    monkeypatch.delenv(LOCAL_ROLE_ENV, raising=False)
    shutil.copytree(pipeline_world.home / "exports", warmpool_home / "exports")
    shutil.copytree(pipeline_world.home / "dagster", warmpool_home / "dagster")   # its runs, for data health
    return DashboardWorld(home=warmpool_home, pipeline_home=pipeline_world.home)


def open_page(role: str, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["role"] = role
    at.run()
    assert not at.exception, at.exception
    if SCRIPTS[page] != SCRIPTS[ACCESS.roles[role].pages[0]]:
        at.switch_page(SCRIPTS[page]).run()
    assert not at.exception, at.exception
    return at


def personal_values(home: Path) -> set[str]:
    """Names, emails and phones of real people in the world (from the full export of dim_candidates)."""
    path = home / "exports" / "marts" / "dim_candidates.parquet"
    rows = duckdb.sql(f"select first_name || ' ' || last_name, email, phone from read_parquet('{path}') "
                      "where email is not null limit 300").fetchall()
    referrers = duckdb.sql(f"select referrer_name, referrer_email from read_parquet('{path.parent}/rpt_referrals.parquet') "
                           "where referrer_name is not null limit 100").fetchall()
    return {value for row in rows + referrers for value in row if value and len(value) > 5}


def personal_columns(home: Path) -> set[str]:
    names = set()
    for path in (home / "exports" / "marts").glob("*.parquet"):
        meta = duckdb.sql(f"select value from parquet_kv_metadata('{path}') where key = '{PERSONAL_COLUMNS_KEY}'").fetchall()
        names |= {c for c in meta[0][0].decode().split(";") if c} if meta else set()
    return names


def cells_hidden(value) -> bool:
    return pd.isna(value)   # null / NaN / pd.NA


def columns(frame) -> set[str]:
    """A shown table's columns as the marts name them (the pages write "first name" for first_name)."""
    return {str(c).replace(" ", "_") for c in frame.columns}


def everything_shown(at: AppTest) -> bytes:
    """Every element the page sent (tables' and charts' data, tooltips, downloads' labels), serialized."""
    out = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"".join(out)


@pytest.mark.parametrize("role,page", ROLE_PAGES)
def test_every_page_renders_for_every_role_with_charts_and_no_error(world, role, page):
    at = open_page(role, page)
    assert not at.error, [e.value for e in at.error]
    assert at.title and at.title[0].value == next(p.title for p in PAGES if p.key == page)
    assert at.get("vega_lite_chart"), f"{page} drew no chart for {role}"
    assert at.dataframe, f"{page} showed no table for {role}"
    assert "Data as of" in " ".join(c.value for c in at.sidebar.caption)
    assert len(at.get("download_button")) >= len(at.dataframe)   # every table downloadable


@pytest.fixture
def downloads(monkeypatch) -> list[bytes]:
    """The bytes of every file the app offers for download (captured as Streamlit stores them)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    captured: list[bytes] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes) and mimetype == "text/csv":
            captured.append(path_or_data)
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return captured


@pytest.mark.parametrize("role", AGGREGATE_ROLES)
def test_aggregate_roles_see_no_personal_data_anywhere(world, role, downloads):
    forbidden_columns = personal_columns(world.home) | {"email", "phone", "first_name", "last_name", "person_id"}
    people = personal_values(world.home)
    assert people
    assert not set(ACCESS.roles[role].pages) - MART_PAGES   # no search pages (names) for aggregate roles
    for page in ACCESS.roles[role].pages:
        at = open_page(role, page)
        for frame in at.dataframe:
            assert not forbidden_columns & columns(frame.value), (page, list(frame.value.columns))
        shown = everything_shown(at)
        leaked = [value for value in people if value.encode() in shown]
        assert not leaked, (role, page, leaked[:3])
        for column in forbidden_columns:
            assert f'"{column}"'.encode() not in shown, (role, page, column)   # chart fields and tooltips
    assert downloads
    for csv in downloads:
        header = {c.replace(" ", "_") for c in csv.split(b"\n", 1)[0].decode().split(",")}
        assert not header & forbidden_columns, header
        assert not [value for value in people if value.encode() in csv]
    assert not list(read_views())   # nothing personal shown, so nothing logged


def test_aggregate_exports_hold_no_personal_column(world):
    folder = world.home / "exports" / AGGREGATES_FOLDER
    files = sorted(folder.glob("*.parquet"))
    assert {"rpt_source_roi", "rpt_funnel", "rpt_campaign_performance", "rpt_hire_attribution"} <= {f.stem for f in files}
    forbidden = personal_columns(world.home)
    assert "email" in forbidden and "full_name" in forbidden
    for path in files:
        columns = {row[0] for row in duckdb.sql(f"describe select * from read_parquet('{path}')").fetchall()}
        assert not columns & (forbidden | {"person_id"}), (path.name, columns & forbidden)
    manifest = json.loads((world.home / "exports" / "manifest.json").read_text())
    assert sorted(f.stem for f in files) == manifest[AGGREGATES_FOLDER]


def test_recruiters_reach_the_search_pages_inside_the_app(world):
    """Issue 14's recruiter search and look-up pages in the recruiter's navigation (without an index
    they say how to build one)."""
    at = open_page("recruiter", "sourcing")
    for page in ("search", "lookup"):
        at.switch_page(SCRIPTS[page]).run()
        assert not at.exception, at.exception
        assert at.title[0].value == next(p.title for p in PAGES if p.key == page)


def test_roles_see_only_their_pages(world):
    at = open_page("marketer", "campaigns")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(SCRIPTS["leadership"])   # not in the marketer's navigation
    assert set(ACCESS.roles["marketer"].pages) == {"campaigns", "funnel"}


def test_leadership_figures_equal_the_marts_under_the_same_filters(world):
    """The page's headline and attribution table against SQL over the warehouse's marts, with a period,
    a source and a job family chosen in the sidebar."""
    at = open_page("leadership", "leadership")
    months = [datetime.strptime(label, "%b %Y").date() for label in at.sidebar.select_slider(key="period").options]
    start, end = months[len(months) // 4], months[-2]
    period = "period_month >= ? and period_month < date_trunc('month', ?::date) + interval 1 month"
    with duckdb.connect(str(world.pipeline_home / "warehouse.duckdb"), read_only=True) as con:
        family = con.execute(f"""
            select job_family from marts.rpt_hire_attribution
            where attribution_model = 'ats_source' and source = 'ats' and job_family is not null and {period}
            group by 1 order by sum(hires) desc, 1 limit 1""", [start, end]).fetchone()[0]
        hires, spend = con.execute(f"""
            select sum(hires), sum(spend) from marts.rpt_source_roi
            where {period} and vendor is null and source_name not like '(vendor %' and job_family = ?""",
                                   [start, end, family]).fetchone()
        credited = dict(con.execute(f"""
            select credited_source, sum(hires) from marts.rpt_hire_attribution
            where attribution_model = 'ats_source' and source = 'ats' and job_family = ? and {period}
            group by 1""", [family, start, end]).fetchall())
    assert hires and credited   # the world has hires to compare under these filters
    at.session_state["period"] = (start, end)
    at.session_state["sources"] = ["ats"]
    at.session_state["job_families"] = [family]
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Hires"] == f"{int(hires):,}"
    assert metrics["Resume spend"] == ("$0" if not spend else f"${float(spend):,.0f}")
    attribution = next(f.value for f in at.dataframe if list(f.value.columns) == ["source", "hires"])
    assert {k: float(v) for k, v in zip(attribution["source"], attribution["hires"])} == \
        {k: float(v) for k, v in credited.items()}
    # hires and spend honour the job family (spend: of the people bought); a contract's fee cannot
    captions = [c.value for c in at.caption]
    assert not any(c.startswith("Hires, spend and cost per hire") and "not broken down" in c for c in captions)
    assert any(c.startswith("A contract's credits and fee is not broken down by job family") for c in captions)


def test_drill_down_from_a_channel_to_its_months_adds_up(world):
    at = open_page("leadership", "leadership")
    channel = at.selectbox(key="drill_channel").options[1]
    at.selectbox(key="drill_channel").select(channel).run()
    rows = next(f.value for f in at.dataframe if "period month" in f.value.columns)
    assert set(rows["channel"]) == {channel}
    monthly = duckdb.sql(f"select sum(hires) from read_parquet('{world.home}/exports/aggregates/rpt_source_roi.parquet') "
                         f"where channel = '{channel}'").fetchall()[0][0]
    assert rows["hires"].sum() == monthly
    assert not list(read_views())   # aggregate rows: not personal data


# (role, page, chart key, the clicked field, the table below it: its column holding that field, another column)
DRILLS = [("leadership", "leadership", "days_to_hire", "source_name", ("source", "channel")),
          ("leadership", "leadership", "pool_growth", "breakdown", ("source", "new people")),
          ("leadership", "eeo", "eeo_chart", "category", ("gender", "Hired")),
          ("marketer", "funnel", "funnel_segments", "breakdown", ("job family", "applied of pool")),
          ("marketer", "campaigns", "campaign_rates", "campaign", ("campaign", "first sent at")),
          ("marketer", "campaigns", "segment_sizes", "segment", ("segment", "job family")),
          ("data_team", "data_health", "freshness", "source", ("source", "days since newest record")),
          ("recruiter", "sourcing", "silver_medalists", "job_family", ("job family", "silver medalists"))]


@pytest.mark.parametrize("role,page,chart,field,table", DRILLS, ids=[d[2] for d in DRILLS])
def test_clicking_a_chart_narrows_the_table_below_it(world, role, page, chart, field, table):
    """A click on a bar sends the chart's selection ({"selection": {"pick": [{field: value}]}}, as the
    browser does); the table below then holds that value's rows only, and says so."""
    def shown(at):
        return next(f.value for f in at.dataframe if set(table) <= set(f.value.columns))

    at = open_page(role, page)
    before = shown(at)
    assert before[table[0]].nunique() > 1, f"{page}: nothing to narrow"
    value = before[table[0]].iloc[-1]
    at.session_state[chart] = {"selection": {"pick": [{field: value}]}}
    at.run()
    assert not at.exception, at.exception
    after = shown(at)
    assert set(after[table[0]]) == {value} and len(after) == (before[table[0]] == value).sum()
    assert any(f"{value} only" in c.value for c in at.caption)


def test_the_campaigns_page_shows_each_segment_as_warmpool_segment_count_counts_it(world):
    """The marketer's Segments section: every segment's size equals `warmpool segment count NAME` on the
    run's warehouse (at the run's "now"), small ones hidden; its breakdowns add up to the size."""
    from sandbox.world import WORLD_NOW

    at = open_page("marketer", "campaigns")
    sizes = next(f.value for f in at.dataframe if list(f.value.columns) == ["segment", "version", "people"])
    shown = dict(zip(sizes["segment"], sizes["people"]))
    names = [p.stem for p in sorted((Path(APP).parent.parent / "config" / "segments").glob("*.yaml"))]
    env = dict(os.environ, WARMPOOL_HOME=str(world.pipeline_home))
    counted = {}
    for name in names:
        out = subprocess.run([str(Path(sys.executable).with_name("warmpool")), "segment", "count", name, "--as-of",
                              WORLD_NOW.strftime("%Y-%m-%d")], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        counted[name] = int(out.stdout.strip().rsplit(": ", 1)[1])
    assert sum(n >= ACCESS.min_cell_size for n in counted.values()) >= 3
    for name, n in counted.items():
        if n == 0:
            assert name not in shown
        elif n < ACCESS.min_cell_size:
            assert cells_hidden(shown[name]), name
        else:
            assert shown[name] == n, name
    breakdown = next(f.value for f in at.dataframe if {"segment", "job family"} <= set(f.value.columns))
    big = max(counted, key=counted.get)
    assert breakdown.loc[breakdown["segment"] == big, "people"].sum() <= counted[big]
    at.radio(key="segment_breakdown").set_value("country_code").run()
    by_country = next(f.value for f in at.dataframe if {"segment", "country"} <= set(f.value.columns))
    assert by_country["country"].str.len().max() > 2   # country names, not codes
    assert not list(read_views())   # counts only: nothing personal shown
    # the data team sees every cell: each segment's breakdown adds up to its size exactly
    at = open_page("data_team", "campaigns")
    breakdown = next(f.value for f in at.dataframe if {"segment", "job family"} <= set(f.value.columns))
    assert breakdown.groupby("segment")["people"].sum().to_dict() == {k: v for k, v in counted.items() if v}


def test_clicking_a_month_shows_that_months_referrers_and_recruiters(world):
    at = open_page("recruiter", "sourcing")
    month = "referrals_chart"
    monthly = duckdb.sql(f"""
        select strftime(referral_month, '%b %Y'), sum(referrals) from
        read_parquet('{world.home}/exports/marts/rpt_referrals.parquet') group by 1 order by 2 desc limit 1""").fetchall()[0]
    at.session_state[month] = {"selection": {"pick": [{"month": monthly[0]}]}}
    at.run()
    assert not at.exception, at.exception
    referrers = next(f.value for f in at.dataframe if "referrer" in f.value.columns)
    assert referrers["Referrals"].sum() == monthly[1]
    assert ("recruiter", f"referrers {monthly[0]}") in {(v["role"], v["shown"]) for v in read_views()}


def test_personal_views_are_written_to_the_access_log(world):
    at = open_page("recruiter", "sourcing")
    assert any("recruiter" in list(f.value.columns) for f in at.dataframe)
    family = at.selectbox(key="drill_family").options[1]
    at.selectbox(key="drill_family").select(family).run()
    assert any({"first_name", "last_name"} <= columns(f.value) for f in at.dataframe)
    views = list(read_views())
    assert [(v["role"], v["page"], v["shown"]) for v in views] == [
        ("recruiter", "sourcing", "recruiter activity per recruiter"),
        ("recruiter", "sourcing", "referrers"),
        ("recruiter", "sourcing", f"silver medalists: {family}")]
    assert views[0]["user"] == "local:recruiter" and views[2]["rows"] > 0
    at.run()   # the same view again in the session is not a new entry
    assert len(list(read_views())) == 3


def test_referrals_show_who_refers_to_recruiters_and_counts_only_to_leadership(world):
    """Every referral-form submission is a referral on the page, with what became of the person; the
    recruiter sees the referrers by name, leadership the same counts without any referrer."""
    with duckdb.connect(str(world.pipeline_home / "warehouse.duckdb"), read_only=True) as con:
        submitted = con.execute("select count(*) from staging.stg_forms__submissions "
                                "where form_name = 'referral'").fetchone()[0]
        # a row of rpt_referrals counts its people once: a person referred by two referrers counts twice
        applied = con.execute("select count(*) from (select distinct date_trunc('month', referred_at), "
                              "referrer_email, person_id from intermediate.int_referrals "
                              "where has_applied)").fetchone()[0]
    assert submitted > 20
    at = open_page("recruiter", "sourcing")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Referrals"] == f"{submitted:,}"
    assert applied and metrics["Applied"] == f"{applied:,}"
    referrers = next(f.value for f in at.dataframe if "referrer" in f.value.columns)
    assert referrers["Referrals"].sum() == submitted
    assert referrers["referrer"].str.contains(" ").all()   # names, not addresses
    assert ("recruiter", "referrers") in {(v["role"], v["shown"]) for v in read_views()}

    at = open_page("leadership", "leadership")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Referrals"] == f"{submitted:,}"
    assert not [f for f in at.dataframe if {"referrer", "referrer_email", "referrer email"} & set(f.value.columns)]


def test_spend_follows_the_job_family_and_country_of_the_people_bought(world):
    """Resume spend under a job family and a country: the purchases of people in them, from the marts."""
    with duckdb.connect(str(world.pipeline_home / "warehouse.duckdb"), read_only=True) as con:
        family, country, spend = con.execute("""
            select c.job_family, c.country_code, sum(p.cost) from marts.fct_vendor_purchases p
            join marts.dim_candidates c using (person_id)
            where c.job_family is not null and c.country_code is not null
            group by 1, 2 order by 3 desc limit 1""").fetchone()
        total = con.execute("select sum(cost) from marts.fct_vendor_purchases").fetchone()[0]
    assert 0 < spend < total
    at = open_page("leadership", "leadership")
    at.session_state["job_families"] = [family]
    at.session_state["countries"] = [country]
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Resume spend"] == money(spend)


def test_eeo_page_hides_small_cells_and_their_complements_for_every_role(world):
    """Applicants by gender, per year and job family: what shows is the mart's own cell, a cell the mart
    withheld or under min_cell_size is hidden, and no answer or outcome of a year and job family holds
    a single hidden cell (it could be worked out from a total)."""
    mart = world.home / "exports" / AGGREGATES_FOLDER / "rpt_eeo_applicants.parquet"
    cells = {(y, f, c, o): n for y, f, c, o, n in duckdb.sql(f"""
        select applied_year, job_family, category, outcome, applicants from read_parquet('{mart}')
        where dimension = 'gender'""").fetchall()}
    assert any(n is None for n in cells.values()) and any(n is not None for n in cells.values())
    outcomes = {"In process": "in_process", "Rejected": "rejected", "Hired": "hired"}
    for role in ("leadership", "data_team"):
        at = open_page(role, "eeo")
        assert not at.error
        assert at.get("vega_lite_chart")
        table = next(f.value for f in at.dataframe if "gender" in f.value.columns)
        hidden_in = {}   # (year, family, "row", answer) / (year, family, "column", outcome) -> [hidden?]
        for _, row in table.iterrows():
            for label, outcome in outcomes.items():
                if label not in table.columns:
                    continue
                key = (row["year"], row["job family"], row["gender"], outcome)
                value = row[label]
                if key not in cells:
                    assert value == 0, key   # no applicants: zero, not hidden
                    continue
                if cells[key] is None or cells[key] < ACCESS.min_cell_size:
                    assert cells_hidden(value), key
                elif not cells_hidden(value):
                    assert value == cells[key], key
                hidden_in.setdefault((*key[:2], "row", key[2]), []).append(cells_hidden(value))
                hidden_in.setdefault((*key[:2], "column", outcome), []).append(cells_hidden(value))
        assert hidden_in
        lone = [k for k, flags in hidden_in.items() if sum(flags) == 1 and len(flags) > 1]
        assert not lone, lone[:5]


def test_data_health_reads_run_status_without_loading_dagster(world):
    """The page shows the pipeline's stages and latest run from the world's run storage, and the
    dashboard process never imports Dagster (it used to cost ~2.5 s of the page's first render)."""
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({APP!r}, default_timeout=90)
at.session_state["role"] = "data_team"
at.run()
at.switch_page({SCRIPTS["data_health"]!r}).run()
assert not at.exception, at.exception
stages = next(f.value for f in at.dataframe if "last successful" in f.value.columns)
print("STAGES", sorted(stages["stage"]))
print("SUCCESS", [s.value for s in at.success])
print("DAGSTER", sorted(m for m in sys.modules if m == "dagster" or m.startswith("dagster.")))
"""
    env = dict(os.environ, WARMPOOL_HOME=str(world.home))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
                         cwd=Path(APP).parent.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.stdout.splitlines() if " " in line}
    assert "dbt marts" in lines["STAGES"] and "Parquet exports" in lines["STAGES"]
    assert "Latest run" in lines["SUCCESS"] and "success" in lines["SUCCESS"]
    assert lines["DAGSTER"] == "[]"


def test_without_exports_every_page_says_what_to_run(warmpool_home):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["role"] = "data_team"
    at.run()
    assert not at.exception
    for page in ACCESS.roles["data_team"].pages:
        if page in MART_PAGES:
            at.switch_page(SCRIPTS[page]).run()
            assert not at.exception
            assert "make demo" in " ".join(i.value for i in at.info), page


def test_with_oidc_configured_nothing_shows_before_sign_in_nor_without_a_role(world):
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "warmpool", "client_secret": "s", "server_metadata_url":
                          "https://login.example.com/.well-known/openid-configuration"}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe and not at.get("vega_lite_chart")


def test_filters_a_mart_cannot_honour_are_reported_not_ignored():
    where, params, not_applied = filter_clause("rpt_vendor_utilization", Filters(job_families=("engineering",),
                                                                                 sources=("talentdb",)))
    assert not_applied == ["job_family"] and params == ["talentdb"] and "vendor in (?)" in where
    where, params, not_applied = filter_clause("rpt_source_roi", Filters(job_families=("engineering",),
                                                                         sources=("talentdb",)))
    assert not_applied == [] and params == ["engineering", "talentdb"] and "regexp_extract" in where
    where, params, not_applied = filter_clause("rpt_funnel", Filters(period_start=date(2025, 3, 14),
                                                                     countries=("US", "GB")))
    assert not_applied == [] and params == [date(2025, 3, 1), "US", "GB"]


def test_a_role_config_naming_an_unknown_page_or_role_is_refused_with_where(tmp_path):
    from warmpool.reporting.access import AccessConfigError

    path = tmp_path / "dashboards.yaml"
    path.write_text("roles:\n  boss:\n    pages: [leadership, payroll]\n")
    with pytest.raises(AccessConfigError, match=r"dashboards.yaml: roles.boss.pages: unknown page\(s\) \['payroll'\]"):
        load_access(path)
    path.write_text("roles:\n  boss:\n    pages: [leadership]\nusers:\n  cfo@example.com: ceo\n")
    with pytest.raises(AccessConfigError, match="users.cfo@example.com: unknown role 'ceo'"):
        load_access(path)
    path.write_text("roles:\n  boss:\n    pages: [leadership]\nusers:\n  CFO@Example.com: boss\n")
    access = load_access(path)
    assert access.role_for("cfo@example.com").name == "boss" and access.role_for("x@example.com") is None


def test_small_cells_are_hidden_but_zero_and_large_counts_stay():

    frame, hidden = suppress_small_counts(pd.DataFrame({"people": [0, 1, 4, 5, 120]}), ["people"], 5)
    assert hidden == 2
    assert frame["people"].isna().tolist() == [False, True, True, False, False]


def test_a_lone_hidden_cell_gets_a_complement_so_no_total_gives_it_away():
    """EEO cells: with one cell of a row hidden, its row total (known from the other question's
    breakdown of the same applicants) minus the cells shown would be the hidden count."""

    cells = pd.DataFrame({"category": ["Female", "Female", "Male", "Male", "Other", "Other"],
                          "outcome": ["hired", "rejected"] * 3, "applicants": [3, 40, 50, 60, 70, 80]})
    shown, small, complements = suppress_with_complements(cells, "applicants", "category", "outcome", 5)
    hidden = shown.set_index(["category", "outcome"])["applicants"].isna()
    assert small == 1 and complements == 3
    # Female/hired is small; Female/rejected hides with it (its row), Male/hired (its column), then
    # Male/rejected (Female/rejected's column): every row and column hides none or at least two
    assert hidden[("Female", "hired")] and hidden[("Female", "rejected")] and hidden[("Male", "hired")]
    assert not hidden[("Other", "hired")] and not hidden[("Other", "rejected")]
    for key in ("category", "outcome"):
        assert set(hidden.groupby(level=key).sum()) <= {0, 2, 3}


def test_complementary_suppression_leaves_no_row_or_column_with_one_hidden_cell():
    """Random tables (cells the mart already withheld among them): whatever is hidden, no row or column
    is left with exactly one hidden cell, counts under the minimum never show, and what shows is exact."""
    import random

    import pandas as pd

    rng = random.Random(13)
    for _ in range(200):
        rows, cols = rng.randint(1, 6), rng.randint(1, 4)
        values = [rng.choice([None, 0, 1, 3, 4, 5, 8, 12, 40, 300]) for _ in range(rows * cols)]
        cells = pd.DataFrame({"category": [f"c{i // cols}" for i in range(rows * cols)],
                              "outcome": [f"o{i % cols}" for i in range(rows * cols)], "applicants": values})
        shown, _, _ = suppress_with_complements(cells, "applicants", "category", "outcome", 5)
        hidden = shown["applicants"].isna()
        for key in ("category", "outcome"):
            lone = hidden.groupby(shown[key]).sum()
            groups = shown.groupby(key).size()
            assert not [k for k in lone.index if lone[k] == 1 and groups[k] > 1], (cells, shown)
        original = pd.to_numeric(cells["applicants"])
        assert not ((original > 0) & (original < 5) & ~hidden).any()
        assert (shown["applicants"][~hidden].astype(float) == original[~hidden]).all()


@pytest.mark.browser
@pytest.mark.parametrize("role", ["leadership", "data_team"])
def test_every_page_in_a_real_browser(world, role, chromium, screenshots_dir):
    """`warmpool dashboards` served on loopback, each page of the role opened in headless Chromium."""
    from cli.dashboards import streamlit_command, streamlit_env
    from conftest import free_port

    port = free_port()
    env = dict(streamlit_env(), WARMPOOL_HOME=str(world.home), **{LOCAL_ROLE_ENV: role})
    proc = subprocess.Popen(streamlit_command(port=port), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "streamlit did not start"
            time.sleep(0.3)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        try:
            shown = [p for p in PAGES if p.key in ACCESS.roles[role].pages and p.key in MART_PAGES
                     and (role == "leadership" or p.key not in ACCESS.roles["leadership"].pages)]
            for dashboard in shown:
                # the role's first page is the app's default, served at the root
                first = dashboard.key == ACCESS.roles[role].pages[0]
                page.set_viewport_size({"width": 1400, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}/" + ("" if first else dashboard.url_path))
                page.get_by_role("heading", name=dashboard.title).wait_for(timeout=60_000)
                page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
                                       timeout=60_000)
                page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000)
                page.wait_for_timeout(1500)   # charts animate in
                assert page.get_by_text("Page not found").count() == 0, dashboard.key
                assert page.locator('[data-testid="stException"]').count() == 0, dashboard.key
                assert "Data as of" in page.locator('[data-testid="stSidebar"]').inner_text()
                # the page scrolls inside Streamlit's main block: grow the window to show all of it
                height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
                page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 8000)})
                page.wait_for_timeout(1000)
                page.screenshot(path=str(screenshots_dir / f"dashboard-{dashboard.key}.png"))
                # viewer toolbar: no developer options in the main menu
                assert page.get_by_text("Clear cache").count() == 0
        finally:
            page.close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
