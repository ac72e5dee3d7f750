"""The next day of a sandbox world: what one day brings to the sources, for measuring (and testing) the
incremental daily run against a full one.

`apply_next_day(home, share)` changes a generated world in place, deterministically (same world, same
share, same seed: same change):

- updated people: `share / 2` of the ATS candidates get a new title (a promotion) and the day's
  `updated_at`, so the ATS source's `updated_after` cursor picks exactly them up;
- new people: a second, small world (other seed, `share / 2` of the people) supplies new ATS candidates
  (ids after the last one, created that day, no applications yet, a recruiter of this world) and new
  talent-network and referral form submissions in the web store (submitted that day).

Vendor deliveries are not part of the change: a vendor's record ids restart in every generated world, so
a second world's file would reuse this world's ids. The truth files (`sandbox/truth/`) describe the
world as generated and are not updated.
"""
from __future__ import annotations

import json
import random
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sandbox.world import WORLD_NOW, _write_json_array, generate_world
from warmpool import web_store

NEXT_DAY = WORLD_NOW + timedelta(days=1)


@dataclass(frozen=True)
class DailyChange:
    updated_candidates: int
    new_candidates: int
    new_submissions: int

    def describe(self) -> str:
        return (f"{self.updated_candidates:,} ATS candidates updated, {self.new_candidates:,} new ATS candidates, "
                f"{self.new_submissions:,} new form submissions")


def _stamp(rng: random.Random) -> str:
    return (NEXT_DAY + timedelta(seconds=rng.randrange(8 * 3600, 18 * 3600))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_rows(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def apply_next_day(home: Path, share: float = 0.01, seed: int = 1) -> DailyChange:
    """Apply one day's change (`share` of the world's people: half updated, half new) to the world in `home`."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    rng = random.Random(seed)
    ats_dir = home / "sandbox" / "ats"
    candidates = _read_rows(ats_dir / "candidates.json")

    updated = rng.sample(range(len(candidates)), max(1, round(len(candidates) * share / 2)))
    for i in sorted(updated):
        row = candidates[i]
        title = row.get("title") or "Engineer"
        row["title"] = title if title.startswith("Senior ") else f"Senior {title}"
        row["updated_at"] = row["last_activity"] = _stamp(rng)

    people = len(candidates)  # the world's size is not stored; its ATS holds most of its people
    with tempfile.TemporaryDirectory(prefix="warmpool-next-day-") as tmp:
        other = Path(tmp)
        generate_world(people=max(2, round(people * share / 2)), seed=seed + 100_000, home=other)
        arrivals = _read_rows(other / "sandbox" / "ats" / "candidates.json")
        with sqlite3.connect(other / "web" / "web.sqlite") as src:
            src.row_factory = sqlite3.Row
            submissions = [dict(r) for r in src.execute(
                f"select {','.join(web_store.FORM_COLUMNS)} from form_submissions order by submission_id")]

    next_id = max(int(r["id"]) for r in candidates) + 1
    recruiters = [r["recruiter"] for r in candidates if r.get("recruiter")]
    for n, row in enumerate(arrivals):
        at = _stamp(rng)
        row.update(id=next_id + n, created_at=at, updated_at=at, last_activity=at, application_ids=[],
                   recruiter=rng.choice(recruiters) if recruiters else None)
    _write_json_array(ats_dir / "candidates.json", candidates + arrivals)

    stamps = sorted(_stamp(rng) for _ in submissions)  # submission ids follow time, as in the world
    for row, at in zip(submissions, stamps):
        row["submitted_at"] = at
        if row.get("confirmed_at"):
            row["confirmed_at"] = at
    with web_store.store(home / "web" / "web.sqlite") as con:
        web_store.insert_submissions(con, submissions)
    return DailyChange(len(updated), len(arrivals), len(submissions))
