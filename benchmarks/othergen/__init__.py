"""A second world of recruiting-CRM candidate records from a generator that shares no code with
``sandbox/``: its own vocabulary, noise model and sources (see ``world.py``). Used by
``benchmarks/bench_identity_external.py`` so that identity resolution is measured on data it was
not built around.

    python -m benchmarks.othergen OUT_DIR --records 1000000 --seed 7
"""
from benchmarks.othergen.world import COLUMNS, TRUTH_COLUMNS, cached, generate

__all__ = ["COLUMNS", "TRUTH_COLUMNS", "cached", "generate"]
