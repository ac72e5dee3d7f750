"""Shared fixtures: a private WARMPOOL_HOME, the small sandbox world, and its running services.

    warmpool_home     function-scoped empty home (WARMPOOL_HOME set, settings cache cleared)
    small_world       session-scoped world of SMALL_WORLD_PEOPLE people, generated once: `.home`, `.summary`,
                      `.sandbox_dir`, `.truth`; a test that reads it through get_settings() must point
                      WARMPOOL_HOME at `small_world.home` itself (monkeypatch.setenv)
    sandbox_services  session-scoped ATS simulator + SMTP sink serving small_world on free ports
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

# The tests run the sandbox, so in its demo mode (public sandbox secrets, loopback only); tests of the
# refusal outside demo mode unset it themselves. Child processes (servers, runs) inherit it.
os.environ["WARMPOOL_DEMO"] = "1"

SMALL_WORLD_PEOPLE = 1500
SMALL_WORLD_SEED = 11


def _clear_settings_cache() -> None:
    from warmpool import config

    config._settings_for.cache_clear()


@pytest.fixture
def warmpool_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "warmpool-home"
    home.mkdir()
    monkeypatch.setenv("WARMPOOL_HOME", str(home))
    for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE"):  # paths must follow the home
        monkeypatch.delenv(var, raising=False)
    _clear_settings_cache()
    yield home
    _clear_settings_cache()


@dataclass(frozen=True)
class SmallWorld:
    home: Path
    summary: object  # sandbox.world.WorldSummary

    @property
    def sandbox_dir(self) -> Path:
        return self.home / "sandbox"

    @property
    def truth(self) -> dict:
        return json.loads((self.sandbox_dir / "truth" / "world.json").read_text(encoding="utf-8"))

    def settings(self):
        """Settings for this world's home, without touching the environment of the caller."""
        from warmpool.config import get_settings

        mp = pytest.MonkeyPatch()
        try:
            mp.setenv("WARMPOOL_HOME", str(self.home))
            mp.delenv("WARMPOOL_LANDING_DIR", raising=False)
            mp.delenv("WARMPOOL_WEB_STORE", raising=False)
            return get_settings()
        finally:
            mp.undo()


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> SmallWorld:
    from sandbox.world import generate_world

    home = tmp_path_factory.mktemp("small-world")
    summary = generate_world(people=SMALL_WORLD_PEOPLE, seed=SMALL_WORLD_SEED, home=home)
    return SmallWorld(home=home, summary=summary)


@pytest.fixture(scope="session")
def sandbox_services(small_world):
    from sandbox.services import SandboxServices

    with SandboxServices(small_world.settings(), ats_port=0, smtp_port=0) as services:
        yield services


# ---- one world through the whole asset graph, shared by the end-to-end and warehouse-truth tests ----
PIPELINE_WORLD_PEOPLE = 1200
PIPELINE_WORLD_SEED = 7


def pipeline_env(home: Path) -> dict[str, str]:
    """Environment that points the settings (and so the data folder) at one world's home."""
    return {"WARMPOOL_HOME": str(home), "DO_NOT_TRACK": "1"}


def run_whole_graph(home: Path, as_of: str | None = None):
    """Start the sandbox services for `home` and run the whole graph once, as the demo does, recorded in
    the home's own Dagster instance; returns the launched run (`.run_id`, `.success`, `.events`). The
    run's resources are swapped for the services' ports and the world's "now" (decay, time in stage and
    snapshots are measured at the world's own date, or at `as_of`)."""
    from dagster import DagsterInstance

    from assets.resources import WarehouseResource
    from cli.demo import sandbox_resources
    from cli.launch import launch
    from sandbox.services import SandboxServices
    from sandbox.world import WORLD_NOW
    from warmpool.config import get_settings

    mp = pytest.MonkeyPatch()
    try:
        for k, v in pipeline_env(home).items():
            mp.setenv(k, v)
        settings = get_settings().ensure_dirs()
        with SandboxServices(settings, ats_port=0, smtp_port=0) as svc, \
                DagsterInstance.from_config(str(settings.dagster_home)) as instance:
            resources = sandbox_resources(svc, WarehouseResource(as_of=as_of or WORLD_NOW.strftime("%Y-%m-%d")))
            return launch(instance, resources=resources)
    finally:
        mp.undo()


@dataclass(frozen=True)
class PipelineWorld:
    home: Path
    first_run: object  # cli.launch.LaunchedRun of the first run
    first_run_outputs: Path  # what the first run left (FIRST_RUN_OUTPUTS), before any test changed the home

    @property
    def truth_dir(self) -> Path:
        return self.home / "sandbox" / "truth"


# What a test comparing the first run with another (tests/test_postgres_warehouse.py) reads, copied away
# right after it: later tests run the graph on the shared home again.
FIRST_RUN_OUTPUTS = ("warehouse.duckdb", "audiences", "exports", "mailbox")


@pytest.fixture(scope="session")
def pipeline_world(tmp_path_factory) -> PipelineWorld:
    """A world run once through ingest → identity → dbt → audiences → sends. Tests that read it
    use `pointed_at_pipeline_world`; a test that changes it must work on a copy of `home`."""
    from sandbox.world import generate_world
    from warmpool.config import get_settings

    home = tmp_path_factory.mktemp("pipeline-world")
    mp = pytest.MonkeyPatch()
    try:
        for k, v in pipeline_env(home).items():
            mp.setenv(k, v)
        get_settings().ensure_dirs()
        generate_world(people=PIPELINE_WORLD_PEOPLE, seed=PIPELINE_WORLD_SEED, home=home)
    finally:
        mp.undo()
    result = run_whole_graph(home)
    assert result.success
    outputs = home.parent / f"{home.name}-first-run"
    outputs.mkdir()
    for name in FIRST_RUN_OUTPUTS:
        (shutil.copytree if (home / name).is_dir() else shutil.copy2)(home / name, outputs / name)
    return PipelineWorld(home=home, first_run=result, first_run_outputs=outputs)


@pytest.fixture
def pointed_at_pipeline_world(pipeline_world, monkeypatch) -> PipelineWorld:
    for k, v in pipeline_env(pipeline_world.home).items():
        monkeypatch.setenv(k, v)
    return pipeline_world


@pytest.fixture
def rerun_whole_graph():
    """`run_whole_graph` for a test that runs the graph again (e.g. to prove nothing happens twice)."""
    return run_whole_graph


# ---- real headless Chromium (Debian's package, driven by Playwright; never `playwright install`) ----
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session; each test opens its own page."""
    import shutil

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                    args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    """Where browser tests leave screenshots for review ($WARMPOOL_SCREENSHOTS, else data/screenshots)."""
    folder = Path(os.environ.get("WARMPOOL_SCREENSHOTS") or Path(__file__).resolve().parents[1] / "data" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
