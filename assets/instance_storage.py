"""The Dagster instance's event-log storage: Dagster's SQLite storage with pool claims made atomic.

Dagster's SQLite event-log storage claims a pool slot in two steps (is a slot free? then take it), and
its ``FOR UPDATE SKIP LOCKED`` is a no-op on SQLite, so two run processes claiming the `warehouse`
pool in the same instant can both get its one slot (the PostgreSQL storage does not have this gap).
Every pool operation here runs under one exclusive lock file beside the storage, so claims, frees and
the queue's assignments of one instance happen one at a time across all its processes (runs, daemon,
UI). The instance uses this class through the dagster.yaml Warmpool writes (`warmpool.config`).
"""
from __future__ import annotations

import fcntl
import functools
import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from dagster._config import StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

LOCK_FILE = "pool-claims.lock"


class PoolSafeSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose pool operations hold an exclusive, cross-process file lock."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        super().__init__(base_dir, inst_data=inst_data)
        self._pool_guard = threading.RLock()   # re-entrant: a free assigns the next queued step inside it
        self._pool_depth = 0
        self._pool_fd: int | None = None

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": StringSource}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: dict) -> "PoolSafeSqliteEventLogStorage":
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def pool_lock(self) -> Iterator[None]:
        with self._pool_guard:
            if self._pool_depth == 0:
                os.makedirs(self._base_dir, exist_ok=True)
                self._pool_fd = os.open(os.path.join(self._base_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._pool_fd, fcntl.LOCK_EX)   # released by the kernel if the process dies
            self._pool_depth += 1
            try:
                yield
            finally:
                self._pool_depth -= 1
                if self._pool_depth == 0:
                    os.close(self._pool_fd)   # closing the descriptor releases the lock
                    self._pool_fd = None


def _under_pool_lock(name: str):
    parent = getattr(SqliteEventLogStorage, name)

    @functools.wraps(parent)
    def locked(self: PoolSafeSqliteEventLogStorage, *args: Any, **kwargs: Any) -> Any:
        with self.pool_lock():
            return parent(self, *args, **kwargs)

    return locked


# Every method that reads-then-writes the pool tables (slots, limits, the pending-step queue).
for _name in ("claim_concurrency_slot", "free_concurrency_slots_for_run", "free_concurrency_slot_for_step",
              "initialize_concurrency_limit_to_default", "set_concurrency_slots", "delete_concurrency_limit",
              "assign_pending_steps"):
    setattr(PoolSafeSqliteEventLogStorage, _name, _under_pool_lock(_name))
