"""``python -m benchmarks.othergen OUT_DIR (--people N | --records N) [--seed S]``."""
from __future__ import annotations

import argparse
import json

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
    print(json.dumps(generate(a.out_dir, seed=a.seed, people=a.people, records=a.records)))


if __name__ == "__main__":
    main()
