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
from dataclasses import dataclass
from pathlib import Path

import pytest

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
