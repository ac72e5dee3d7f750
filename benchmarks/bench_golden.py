"""Golden profiles against the sandbox's truth: names, countries and cities of `marts.dim_candidates`.

A world is generated and loaded by the real loaders, then dbt builds both phases with identity
resolution replaced by the truth (the stand-in of benchmarks/bench_dbt), so the figures measure
survivorship and the place dimensions, not the matcher (tests/test_warehouse_truth.py measures the
same with the real matcher on a small world). The baseline is the previous survivorship rule (the
newest record holding both name parts), scored in the same run on the same records
(sandbox/measure.py). Size: the demo's 20,000 people (quick: 5,000).
"""
from __future__ import annotations

from pathlib import Path

from benchmarks.bench_dbt import built_world
from benchmarks.common import BenchResult, scratch_home

SIZE = 20_000
QUICK_SIZE = 5_000


def measure(people: int, workdir: Path) -> list[BenchResult]:
    import duckdb

    from sandbox.measure import golden_accuracy

    home, settings = built_world(people, workdir)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        m = golden_accuracy(con, home / "sandbox" / "truth")
    size = f"{people:,} people"
    previous_first = m.first_right_previous_rule / m.first_counted
    previous_last = m.last_right_previous_rule / m.last_counted
    return [
        BenchResult("golden first name = real name (case-sensitive)", size, 100 * m.first_share, "%",
                    "previous rule (newest record with both parts)", 100 * previous_first,
                    f"{m.first_right:,} of {m.first_counted:,} people whose real spelling is in a record "
                    f"(previous rule {m.first_right_previous_rule:,}); identity = truth stand-in"),
        BenchResult("golden last name = real name (case-sensitive)", size, 100 * m.last_share, "%",
                    "previous rule (newest record with both parts)", 100 * previous_last,
                    f"{m.last_right:,} of {m.last_counted:,} (previous rule {m.last_right_previous_rule:,})"),
        BenchResult("people with a country who have its ISO code", size, 100 * m.with_iso_code / m.people_with_country,
                    "%", "people with a country", 100.0,
                    f"{m.with_iso_code:,} of {m.people_with_country:,}; right country {m.right_country:,}; "
                    f"display names per code: at most {m.display_names_per_code} (marts and audiences)"),
        BenchResult("golden city = real current city (GeoNames name)", size, 100 * m.city_right / m.city_counted, "%",
                    "people with a city", 100.0,
                    f"{m.city_right:,} of {m.city_counted:,}; the rest moved (the newest record wins) or the "
                    f"newest record carries an older city"),
    ]


def run(quick: bool) -> list[BenchResult]:
    with scratch_home("bench-golden-") as tmp:
        return measure(QUICK_SIZE if quick else SIZE, tmp)
