"""Fixtures for the ingestion tests (import them into a test module: `from tests.ingestion_fixtures import *`).

    ats_world   module-scoped: a small sandbox world generated in its own home, served by the real ATS
                simulator over HTTP on a free port (`SandboxServices(..., ats_port=0, smtp_port=0)`)
    home        function-scoped private WARMPOOL_HOME: each test gets its own warehouse and dlt folder
    ats         `home` pointed at `ats_world`'s simulator (3 pages and more per big endpoint); the
                simulator's faults and data are reset before and after the test

The truth for a test is what the simulator serves at the end (`ats_world.truth(endpoint)`), so tests
that change data between page calls (`mutate_every`) still compare against the right rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest

from warmpool import tables
from warmpool.config import get_settings

ATS_PEOPLE, ATS_SEED = 300, 7
PER_PAGE = 50

__all__ = ["ats_world", "home", "ats", "query", "count", "assert_ats_matches_truth", "AtsWorld", "PER_PAGE"]


@dataclass
class AtsWorld:
    home: Path
    services: object  # sandbox.services.SandboxServices
    api_key: str

    @property
    def url(self) -> str:
        return self.services.ats_url

    def truth(self, endpoint: str) -> list[dict]:
        return httpx.get(f"{self.services.ats_root}/_sim/rows/{endpoint}", timeout=30).json()

    def faults(self, **faults) -> dict:
        response = httpx.post(f"{self.services.ats_root}/_sim/faults", json=faults, timeout=10)
        response.raise_for_status()
        return response.json()

    def sim_status(self) -> dict:
        return httpx.get(f"{self.services.ats_root}/_sim/faults", timeout=10).json()

    def reset(self) -> None:
        httpx.post(f"{self.services.ats_root}/_sim/reset", timeout=10).raise_for_status()


@pytest.fixture(scope="module")
def ats_world(tmp_path_factory):
    from sandbox.services import SandboxServices
    from sandbox.world import generate_world

    world_home = tmp_path_factory.mktemp("ats-world")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("WARMPOOL_HOME", str(world_home))
        for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE", "WARMPOOL_ATS_URL"):
            mp.delenv(var, raising=False)
        generate_world(people=ATS_PEOPLE, seed=ATS_SEED, home=world_home)
        settings = get_settings()
    finally:
        mp.undo()
    with SandboxServices(settings, ats_port=0, smtp_port=0) as services:
        yield AtsWorld(world_home, services, settings.ats.api_key)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private WARMPOOL_HOME: each test gets its own warehouse and dlt folder."""
    for var in ("WARMPOOL_LANDING_DIR", "WARMPOOL_WEB_STORE", "WARMPOOL_LANDING_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WARMPOOL_HOME", str(tmp_path / "home"))
    return get_settings().ensure_dirs()


@pytest.fixture
def ats(ats_world, home, monkeypatch):
    monkeypatch.setenv("WARMPOOL_ATS_URL", ats_world.url)
    monkeypatch.setenv("WARMPOOL_ATS_API_KEY", ats_world.api_key)
    monkeypatch.setenv("WARMPOOL_ATS_PER_PAGE", str(PER_PAGE))
    ats_world.reset()
    yield ats_world
    ats_world.reset()


def query(sql: str, *params):
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def count(table: str) -> int:
    return query(f"select count(*) from {table}")[0][0]


# child tables checked row for row: (parent endpoint, child table, list field)
CHILDREN = (("candidates", "candidates__email_addresses", "email_addresses"),
            ("candidates", "candidates__phone_numbers", "phone_numbers"),
            ("applications", "applications__stage_history", "stage_history"),
            ("applications", "applications__jobs", "jobs"))
CURSOR = {"applications": "last_activity_at"}


def assert_ats_matches_truth(world: AtsWorld) -> None:
    """Every row the API holds is in raw_ats exactly once, in its latest version; children too."""
    from pipelines.ats.settings import ENDPOINTS

    truths = {e.name: world.truth(e.name) for e in ENDPOINTS}
    for name, rows in truths.items():
        if not rows:
            continue
        table = f"{tables.RAW_ATS}.{name}"
        ids = [r[0] for r in query(f"select id from {table}")]
        assert len(ids) == len(set(ids)), f"{name}: {len(ids) - len(set(ids))} duplicated"
        missing = {r["id"] for r in rows} - set(ids)
        extra = set(ids) - {r["id"] for r in rows}
        assert not missing and not extra, f"{name}: {len(missing)} missing, {len(extra)} unexpected"
        cursor = CURSOR.get(name, "updated_at")
        if cursor in rows[0]:
            loaded = {i: v for i, v in query(
                f"select id, strftime({cursor} at time zone 'UTC', '%Y-%m-%dT%H:%M:%SZ') from {table}")}
            stale = [r["id"] for r in rows if loaded[r["id"]] != r[cursor]]
            assert not stale, f"{name}: {len(stale)} rows not in their latest version, e.g. {stale[:3]}"
    for parent, child, field in CHILDREN:
        expected = sum(len(r.get(field) or []) for r in truths[parent])
        assert count(f"{tables.RAW_ATS}.{child}") == expected, child
