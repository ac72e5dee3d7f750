"""`make bench`: run the benchmarks and write BENCHMARKS.md.

`BENCH=identity,web make bench` runs only those modules; the other modules' last figures are kept
(each module's results live in benchmarks/results/<module>.json, committed with BENCHMARKS.md).
`BENCH_QUICK=1` runs small sizes (for trying a benchmark, not for the record).
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

from benchmarks.common import BenchResult

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUTPUT = HERE.parent / "BENCHMARKS.md"


def modules() -> list[str]:
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


def run(selected: list[str], quick: bool) -> None:
    RESULTS.mkdir(exist_ok=True)
    for name in selected:
        print(f"== benchmark {name} ...", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"benchmarks.bench_{name}")
        results: list[BenchResult] = module.run(quick=quick)
        payload = {
            "module": name, "quick": quick, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            # the load says how much else was running (these machines are shared): read figures beside it
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                       f"load average {os.getloadavg()[1]:.1f} over the last 5 minutes",
            "seconds": round(time.perf_counter() - started, 1), "results": [r.as_dict() for r in results],
        }
        (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
        for r in results:
            print(f"   {r.what} [{r.size}]: {r.figure:,.2f} {r.unit} vs {r.baseline_what}: {r.baseline_figure:,.2f}")
    write_markdown()


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3f}"


def write_markdown() -> None:
    lines = ["# Benchmarks", "",
             "Written by `make bench` (`BENCH=<module> make bench` re-runs one). Each figure stands beside a",
             "baseline measured in the same run on the same machine; compare ratios across runs, not absolute",
             "times (these machines are small and noisy).", ""]
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        quick = " — QUICK sizes, not for the record" if data.get("quick") else ""
        lines += [f"## {data['module']}", "",
                  f"Measured {data['measured_at']} on {data['machine']} in {data['seconds']} s{quick}.", "",
                  "| what | size | figure | baseline (same run) | baseline figure | ratio | note |",
                  "|---|---|---|---|---|---|---|"]
        for r in data["results"]:
            lines.append(f"| {r['what']} | {r['size']} | {_fmt(r['figure'])} {r['unit']} | {r['baseline_what']} | "
                         f"{_fmt(r['baseline_figure'])} {r['unit']} | {_fmt(r['ratio'])} | {r.get('note', '')} |")
        lines.append("")
    OUTPUT.write_text("\n".join(lines))
    print(f"wrote {OUTPUT}")


def main() -> None:
    wanted = [w.strip() for w in os.environ.get("BENCH", "").split(",") if w.strip()] or modules()
    unknown = set(wanted) - set(modules())
    if unknown:
        sys.exit(f"unknown benchmark(s) {sorted(unknown)}; available: {modules()}")
    run(wanted, quick=os.environ.get("BENCH_QUICK") == "1")


if __name__ == "__main__":
    main()
