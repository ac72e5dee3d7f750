"""``python -m benchmarks.othergen OUT_DIR (--people N | --records N) [--seed S]``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.othergen.world import generate


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.othergen",
                                description="Generate the second recruiting world (records.csv, truth.csv).")
    p.add_argument("out_dir")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--people", type=int)
    size.add_argument("--records", type=int)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    manifest = generate(a.out_dir, seed=a.seed, people=a.people, records=a.records)
    print(json.dumps(manifest | {"peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float | None:
    """This process's own high-water RSS (VmHWM). Not getrusage: on Linux a child's ru_maxrss starts
    at its parent's peak (exec keeps it), which would report the caller's memory, not ours."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


if __name__ == "__main__":
    main()
