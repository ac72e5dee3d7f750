"""The dashboards' access log: one line per page view that showed personal data.

Who (the signed-in email, or `local:<role>` in local mode), their role, when, which page, what was
shown (the table or drill-down, and its filters) and how many rows. This module is the only code that
writes the file (`access_log_path`: JSON lines under the data folder's logs/). It only ever appends,
each entry in one `write` on a file opened with O_APPEND, so concurrent sessions never interleave
and nothing already written is changed.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from warmpool.config import Settings, get_settings

ACCESS_LOG_FILE = "dashboard-access.jsonl"


def access_log_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).logs_dir / ACCESS_LOG_FILE


def record_view(*, user: str, role: str, page: str, shown: str, rows: int,
                filters: Mapping[str, Any] | None = None, settings: Settings | None = None) -> dict:
    """Append one view of personal data; returns the entry written."""
    if not user or not role or not page or not shown:
        raise ValueError("an access-log entry needs user, role, page and what was shown")
    entry = {"viewed_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "user": user,
             "role": role, "page": page, "shown": shown, "rows": int(rows), "filters": dict(filters or {})}
    path = access_log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, default=str, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return entry


def read_views(settings: Settings | None = None) -> Iterator[dict]:
    path = access_log_path(settings)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
