"""Test-only crash points: make a pipeline process SIGKILL itself at a named step.

    WARMPOOL_CRASH_AT=extract:<n>   after the n-th row has been extracted (HTTP pages fetched, package not closed;
                                    an Arrow table counts its rows)
    WARMPOOL_CRASH_AT=normalize     after normalize wrote its files, before it commits the load package
    WARMPOOL_CRASH_AT=load:<n>      after the n-th load job was committed as completed (package not finished)
    ...@<pipeline>                  only in that pipeline's run (e.g. `load:1@warmpool_quarantine`)

Read by `_runner.run` only when the variable is set; nothing here runs in production. SIGKILL (not an
exception) so that no `finally`, atexit hook or dlt signal handler gets a chance to tidy up: the
crash matrix in tests/test_ingestion_crash.py re-runs the pipeline afterwards and checks that
every source row is in the warehouse exactly once.

The normalize and load hooks wrap dlt internals (`Normalize.map_single`, `Load.complete_jobs`, dlt
1.31); if dlt renames them the crash tests fail loudly rather than pass vacuously (`install` raises).
"""
from __future__ import annotations

import os
import signal
from typing import Any

ENV = "WARMPOOL_CRASH_AT"


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def requested(pipeline_name: str | None = None) -> tuple[str, int] | None:
    value = os.environ.get(ENV, "").strip()
    value, _, only_in = value.partition("@")
    if not value or (only_in and only_in != pipeline_name):
        return None
    step, _, n = value.partition(":")
    return step, int(n or 1)


def install(data: Any, pipeline_name: str | None = None) -> None:
    """Install the hook named by WARMPOOL_CRASH_AT (no-op when unset, or set for another pipeline)."""
    wanted = requested(pipeline_name)
    if wanted is None:
        return
    step, n = wanted
    if step == "extract":
        from dlt.extract.source import DltSource

        if not isinstance(data, DltSource):
            raise RuntimeError("extract crash point needs a dlt source")
        seen = {"rows": 0}

        def count(item: Any) -> Any:
            seen["rows"] += getattr(item, "num_rows", 1)
            if seen["rows"] >= n:
                _die()
            return item

        for resource in data.selected_resources.values():
            resource.add_map(count)
    elif step == "normalize":
        from dlt.normalize.normalize import Normalize

        original = Normalize.map_single

        def map_single(self, *args, **kwargs):
            original(self, *args, **kwargs)  # files written into the new, uncommitted package
            _die()

        Normalize.map_single = map_single  # type: ignore[method-assign]
    elif step == "load":
        from dlt.load.load import Load

        original_complete = Load.complete_jobs
        done = {"jobs": 0}

        def complete_jobs(self, *args, **kwargs):
            result = original_complete(self, *args, **kwargs)
            done["jobs"] += len(result[1])
            if done["jobs"] >= n:
                _die()
            return result

        Load.complete_jobs = complete_jobs  # type: ignore[method-assign]
    else:
        raise ValueError(f"unknown crash point {step!r} in {ENV}")
