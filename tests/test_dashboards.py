"""The pool dashboard renders from the mart exports and its numbers follow the filter."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from warmpool.config import get_settings

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")


@pytest.fixture
def exported_candidates(warmpool_home):
    out = get_settings().exports_dir / "marts"
    out.mkdir(parents=True)
    pd.DataFrame({
        "person_id": ["p1", "p2", "p3", "p4"],
        "country": ["US", "US", "GB", "US"],
        "sources": ["ats;talentdb", "ats", "hirewire", "talent_network;ats"],
        "source_count": [2, 1, 1, 2],
        "is_contactable": [True, False, True, True],
    }).to_parquet(out / "dim_candidates.parquet")
    return out


def test_pool_by_source_counts_people_once_per_source(exported_candidates):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["People in the pool"] == "4"
    assert metrics["Found in 2+ sources"] == "2"
    table = at.dataframe[0].value
    assert dict(zip(table["source"], table["people"])) == {"ats": 3, "talentdb": 1, "hirewire": 1, "talent_network": 1}

    at.selectbox[0].select("GB").run()
    assert {m.label: m.value for m in at.metric}["People in the pool"] == "1"
    assert list(at.dataframe[0].value["source"]) == ["hirewire"]


def test_without_exports_the_page_says_what_to_run(warmpool_home):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "make demo" in at.warning[0].value


@pytest.mark.browser
def test_dashboard_in_a_real_browser(exported_candidates, warmpool_home, chromium, screenshots_dir):
    """`streamlit run` served on loopback and looked at in headless Chromium."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from conftest import free_port

    port = free_port()
    streamlit = Path(sys.executable).parent / "streamlit"
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    proc = subprocess.Popen([str(streamlit), "run", APP, "--server.headless", "true", "--server.address", "127.0.0.1",
                             "--server.port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
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
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_text("People in the pool").wait_for(timeout=30_000)
            # the chart and table are drawn lazily: wait for them before looking
            page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
                                   timeout=30_000)
            page.wait_for_selector('[data-testid="stDataFrame"] canvas', timeout=30_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(screenshots_dir / "dashboard-pool.png"), full_page=True)
            values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
            assert values == ["4", "3", "2"]
        finally:
            page.close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
