"""The one way a Warmpool SQLite store is opened (the web store, the sourcing store, the search audit log).

WAL, so readers (the pipeline's incremental loads) never block the writer; ``synchronous=full``, so
what a caller was told is stored is on disk; a 30 s busy timeout for concurrent writers; autocommit,
so each store module runs its own transactions; rows by column name; the store's schema ensured.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import tenacity

BUSY_TIMEOUT_S = 30


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


# Two connections switching a brand-new file to WAL at the same instant: SQLite answers one "database is
# locked" at once, without asking the busy handler (waiting there could deadlock), so the switch is retried.
@tenacity.retry(retry=tenacity.retry_if_exception(_locked), stop=tenacity.stop_after_delay(BUSY_TIMEOUT_S),
                wait=tenacity.wait_random_exponential(multiplier=0.005, max=0.25), reraise=True)
def enable_wal(con: sqlite3.Connection) -> None:
    """Put the database of ``con`` in WAL mode (every Warmpool SQLite store and the send ledger)."""
    con.execute("pragma journal_mode=wal")


def open_store(path: Path, schema: str) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    con.row_factory = sqlite3.Row
    enable_wal(con)
    con.execute("pragma synchronous=full")  # acknowledged means on disk
    con.execute("pragma busy_timeout=30000")
    con.executescript(schema)
    return con


@contextmanager
def opened(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    con = open_store(path, schema)
    try:
        yield con
    finally:
        con.close()


def compact(con: sqlite3.Connection) -> None:
    """Rewrite the store's file so deleted rows' bytes are gone (an erasure): fold the WAL into the
    file, VACUUM (which writes only live pages), then empty the WAL again."""
    con.execute("pragma wal_checkpoint(truncate)")
    con.execute("vacuum")
    con.execute("pragma wal_checkpoint(truncate)")
