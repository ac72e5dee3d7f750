"""`make dagster`: the Dagster UI serves this code location and shows the whole asset graph."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from warmpool.config import get_settings

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout the tests run in

QUERY = "{ assetNodes { assetKey { path } } }"


def test_dagster_ui_shows_the_asset_graph(warmpool_home, chromium, screenshots_dir):
    from conftest import free_port

    settings = get_settings().ensure_dirs()
    port = free_port()
    env = dict(os.environ, DAGSTER_HOME=str(settings.dagster_home))
    webserver = Path(sys.executable).parent / "dagster-webserver"
    proc = subprocess.Popen([str(webserver), "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        keys: set[str] = set()
        while time.monotonic() < deadline and not keys:
            try:
                answer = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=10).json()
                keys = {"/".join(n["assetKey"]["path"]) for n in answer["data"]["assetNodes"]}
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                time.sleep(1)
        for expected in ("raw_ats/candidates", "identity/source_record_person", "marts/dim_candidates",
                         "marts/audience_members", "campaign_sends"):
            assert expected in keys, expected

        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{base}/assets/marts/dim_candidates")
            page.get_by_text("dim_candidates").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(screenshots_dir / "dagster-dim-candidates.png"))
        finally:
            page.close()
    finally:
        # dagster's webserver does not always stop on SIGTERM promptly: end its whole group.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
