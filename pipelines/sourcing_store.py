"""Sourcing store (SQLite, written by recruiters) → `raw_sourcing`, incrementally.

`pipeline_events` (append-only: a person added to a pipeline, a stage change) is read with its key
`event_seq` above the last one loaded and merged on it, so a re-run loads nothing twice;
`pipelines` (a small reference list: name, ATS job, owner) is merged on `pipeline_id` whenever it
changed. The marts build each pipeline's people and stages from these (`fct_pipeline_members`).
"""
from __future__ import annotations

from pathlib import Path

import dlt

from pipelines import _runner
from warmpool import tables
from warmpool.config import Settings
from warmpool.search import sourcing_store as store

PAGE = 10_000
PIPELINE_NAME = "warmpool_sourcing"
EVENT_COLUMNS = {"event_seq": {"data_type": "bigint", "nullable": False}, "pipeline_id": {"data_type": "bigint"},
                 "person_id": {"data_type": "text"}, "event": {"data_type": "text"}, "stage": {"data_type": "text"},
                 "added_via": {"data_type": "text"}, "occurred_at": {"data_type": "timestamp"},
                 "actor": {"data_type": "text"}}
PIPELINE_COLUMNS = {"pipeline_id": {"data_type": "bigint", "nullable": False}, "name": {"data_type": "text"},
                    "job_id": {"data_type": "bigint"}, "owner": {"data_type": "text"},
                    "created_at": {"data_type": "timestamp"}, "tags": {"data_type": "text"}}


@dlt.source(name="sourcing_store")
def sourcing_source(path: Path):
    path = Path(path)

    @dlt.resource(name="pipeline_events", primary_key="event_seq", write_disposition="merge", columns=EVENT_COLUMNS)
    def pipeline_events(cursor=dlt.sources.incremental("event_seq", initial_value=0)):
        if not path.exists():  # no recruiter wrote anything yet (never create the store here)
            return
        after = cursor.last_value or 0
        with store.sourcing_store(path) as con:
            while page := store.read_after(con, "pipeline_events", after, PAGE):
                yield page
                after = page[-1]["event_seq"]

    @dlt.resource(name="pipelines", primary_key="pipeline_id", write_disposition="merge", columns=PIPELINE_COLUMNS)
    def pipeline_list():
        if not path.exists():
            return
        state = dlt.current.resource_state()
        with store.sourcing_store(path) as con:
            yield [row for row in store.read_all(con, "pipelines") if _runner.is_changed(row, state, "pipeline_id")]

    return [pipeline_events, pipeline_list]


def run_sourcing_store(settings: Settings | None = None) -> dict[str, int]:
    """Load new sourcing-store rows into `raw_sourcing`; rows loaded per table."""
    s = _runner.resolve(settings)
    return _runner.run(_runner.make_pipeline(PIPELINE_NAME, tables.RAW_SOURCING, s),
                       sourcing_source(s.sourcing_store_path), expected_tables=["pipeline_events", "pipelines"])
