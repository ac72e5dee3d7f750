"""What a person watching `make demo` or `warmpool run` sees: one line per stage (what it did, counts,
seconds), a live progress bar while a stage runs, and only the warnings that need them. Everything
else (Dagster's, dlt's and dbt's own logs) goes to a log file (`log_to`).
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

# What each step of the `warmpool_all` job is called on screen; an unknown step shows its key.
STEP_LABELS = {
    "raw_ats": "ATS API -> raw_ats (dlt)",
    "raw_eeo": "ATS EEO answers -> raw_eeo (dlt)",
    "raw_vendors": "vendor files -> raw_vendors (dlt)",
    "raw_web_store": "web store -> raw_forms, raw_email",
    "campaign_definitions": "campaign definitions",
    "dbt_pool_records": "dbt phase 1: source records",
    "identity__source_record_person": "identity resolution (Splink)",
    "spellings": "names, places, skills normalised",
    "dbt_marts": "dbt phase 2: marts",
    "marts__segment_members": "segment members",
    "dbt_audiences": "dbt: campaign audiences",
    "marts_export": "parquet exports of the marts",
    "audience_files": "audience files",
    "campaign_sends": "campaign sends (SMTP)",
    "raw_sourcing": "sourcing store -> raw_sourcing",
    "search__profile_index": "search index (documents, embeddings)",
    "search__saved_search_matches": "saved searches",
    "send_ledger_load": "send ledger -> raw_sends (dlt)",
    "dbt_campaign_reports": "dbt phase 3: campaign report",
}
CHECKS_LABEL = "boundary checks (Great Expectations)"
LABEL_WIDTH = 36


def _value(metadata_value: Any) -> Any:
    return getattr(metadata_value, "value", metadata_value)


def _n(value: Any) -> str:
    return f"{int(value):,}"


class _Done(ProgressColumn):
    """`12/56` for a stage whose size is known (dbt), nothing for one whose is not."""

    def render(self, task) -> Text:
        return Text(f"{int(task.completed)}/{int(task.total)}" if task.total else "")


@contextmanager
def log_to(path: Path) -> Iterator[Any]:
    """Send this process's stdout and stderr, and its children's, to `path` (file descriptors 1 and 2,
    so Python loggers, dbt's subprocess and C libraries all land there); yields the terminal's stdout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="replace", buffering=1)
    try:
        with open(path, "ab", buffering=0) as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield terminal
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)
        terminal.close()


class StageReport:
    """Prints a line when each stage ends; `on_event` takes the run's Dagster events as they happen."""

    def __init__(self, out, steps: Mapping[str, int] | None = None, check_steps: frozenset[str] = frozenset()):
        self.console = Console(file=out, highlight=False, width=None if out.isatty() else 120)
        self.steps = dict(steps or {})  # step key -> assets + checks it reports (the bar's total)
        self.check_steps = check_steps  # steps that only run asset checks: one line for them all
        self.progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._started: dict[str, float] = {}
        self._materialized: dict[str, list[dict]] = {}
        self._checks: dict[str, list] = {}
        self._pending_checks: list = []
        self._checks_seconds = 0.0
        self.failed: list[str] = []

    # --- lines --------------------------------------------------------------------------------
    def line(self, label: str, summary: str, seconds: float | None = None, mark: str = "✓") -> None:
        took = f"  ({seconds:.1f} s)" if seconds is not None else ""
        self.console.print(f"  {mark} {label:<{LABEL_WIDTH}} {summary}".rstrip() + took, soft_wrap=True)

    def note(self, text: str) -> None:
        self.console.print(text, soft_wrap=True)

    @contextmanager
    def stage(self, label: str, total: int | None = None):
        """A stage outside Dagster (world generation, services): yields a callable that records its summary."""
        started = time.perf_counter()
        summary: list[str] = []
        task = self._start_task(label, total)
        try:
            yield summary.append
        except BaseException:
            self._stop_task(task)
            self.line(label, "failed", time.perf_counter() - started, mark="✗")
            raise
        self._stop_task(task)
        self.line(label, summary[-1] if summary else "", time.perf_counter() - started)

    @contextmanager
    def live(self):
        """Progress bars while stages run, on a terminal only (a log or a pipe gets the lines alone)."""
        if not self.console.is_terminal:
            yield self
            return
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 _Done(), TimeElapsedColumn(), console=self.console, transient=True)
        with self.progress:
            try:
                yield self
            finally:
                self.progress = None

    def _start_task(self, label: str, total: int | None):
        if self.progress is None:
            return None
        return self.progress.add_task(f"  {label}", total=total)

    def _stop_task(self, task) -> None:
        if self.progress is not None and task is not None:
            self.progress.remove_task(task)

    # --- Dagster events ----------------------------------------------------------------------
    def on_event(self, event: dg.DagsterEvent) -> None:
        key = event.step_key
        if event.is_step_start:
            if key not in self.check_steps:
                self._flush_checks()
            self._started[key] = time.perf_counter()
            if key not in self.check_steps:
                self._tasks[key] = self._start_task(STEP_LABELS.get(key, key), self.steps.get(key) or None)
        elif event.is_step_materialization:
            materialization = event.event_specific_data.materialization
            self._materialized.setdefault(key, []).append(
                {"_table": materialization.asset_key.path[-1], **{k: _value(v) for k, v in materialization.metadata.items()}})
            self._advance(key)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            self._checks.setdefault(key, []).append(event.event_specific_data)
            self._advance(key)
        elif event.is_asset_observation:
            self._advance(key)
        elif event.is_step_success or event.is_step_failure or event.is_step_skipped:
            self._step_done(event)
        elif event.is_job_success or event.is_job_failure:
            self._flush_checks()

    def _advance(self, key: str) -> None:
        task = self._tasks.get(key)
        if self.progress is not None and task is not None:
            self.progress.advance(task)

    def _step_done(self, event: dg.DagsterEvent) -> None:
        key = event.step_key
        seconds = time.perf_counter() - self._started.pop(key, time.perf_counter())
        if event.is_step_success:  # the step's own measure (also right when events are replayed)
            seconds = event.event_specific_data.duration_ms / 1000
        self._stop_task(self._tasks.pop(key, None))
        if key in self.check_steps and not event.is_step_failure:
            self._pending_checks.extend(self._checks.pop(key, []))
            self._checks_seconds += seconds
            return
        label = STEP_LABELS.get(key, key)
        if event.is_step_failure:
            error = event.step_failure_data.error
            message = (error.message if error else "failed").strip().splitlines()[0] if error else "failed"
            self.failed.append(key)
            self.line(label, f"FAILED: {message[:200]}", seconds, mark="✗")
        elif event.is_step_skipped:
            self.line(label, "skipped (an upstream step failed)", None, mark="-")
        else:
            self.line(label, self._summary(key), seconds)

    def _flush_checks(self) -> None:
        if not self._pending_checks:
            return
        passed = sum(1 for c in self._pending_checks if c.passed)
        warned = [c for c in self._pending_checks if not c.passed]
        quarantined = sum(int(_value(c.metadata.get("quarantined", 0)) or 0) for c in warned)
        summary = f"{passed} passed"
        if warned:
            summary += f", {len(warned)} warned: {quarantined:,} rows quarantined (quarantine.rejected_rows)"
        self.line(CHECKS_LABEL, summary, self._checks_seconds, mark="✓" if not warned else "!")
        self._pending_checks, self._checks_seconds = [], 0.0

    def _summary(self, key: str) -> str:
        metadata = self._materialized.get(key, [])
        first = metadata[0] if metadata else {}
        checks = self._checks.get(key, [])
        if key.startswith("dbt_"):
            failed = sum(1 for c in checks if not c.passed)
            return (f"{len(metadata)} models and seeds built, {len(checks) - failed} tests passed"
                    + (f", {failed} FAILED" if failed else ""))
        if "people" in first:
            return (f"{_n(first['source_records'])} records -> {_n(first['people'])} people "
                    f"({_n(first['duplicates_merged'])} duplicates merged)")
        if any("rows_loaded" in m for m in metadata):
            loaded = sorted(((int(m.get("rows_loaded", 0)), m["_table"]) for m in metadata if m.get("rows_loaded")),
                            reverse=True)
            top = ", ".join(f"{table} {n:,}" for n, table in loaded[:3]) + (", ..." if len(loaded) > 3 else "")
            return f"{sum(n for n, _ in loaded):,} rows loaded" + (f" ({top})" if loaded else "")
        if "segment_members" in first:
            return f"{_n(first['segment_members'])} people in segments (marts.segment_members)"
        if "distinct_values" in first:
            return ", ".join(f"{m['_table']} {_n(m['distinct_values'])}" for m in metadata)
        if "embedded" in first:
            return (f"{_n(first['profiles'])} profiles indexed, {_n(first['embedded'])} embedded, "
                    f"{_n(first['reused'])} unchanged")
        if "saved_searches" in first:
            return f"{_n(first['saved_searches'])} saved searches, {_n(first['people_added'])} people added to pipelines"
        if "campaigns" in first:
            return f"{_n(first['campaigns'])} campaigns" + (f", {_n(first['segments'])} segments" if "segments" in first else "")
        if "audience_sizes" in first:
            sizes = first["audience_sizes"] or {}
            return ", ".join(f"{name} {_n(n)}" for name, n in sorted(sizes.items())) or "no campaigns"
        if "reports" in first:
            reports = (first["reports"] or {}).values()
            total = {f: sum(int(r.get(f, 0)) for r in reports)
                     for f in ("sent", "skipped_already_sent", "suppressed", "deferred_by_cap", "deferred_by_daily_limit",
                               "failed", "ambiguous")}
            return (f"{total['sent']:,} sent, {total['skipped_already_sent']:,} already sent, "
                    f"{total['suppressed']:,} suppressed, {total['deferred_by_cap']:,} deferred by cap, "
                    f"{total['deferred_by_daily_limit']:,} deferred by daily limit, "
                    f"{total['failed']:,} failed" + (f", {total['ambiguous']:,} AMBIGUOUS" if total["ambiguous"] else ""))
        if "files" in first:
            marts = len(first.get("personal_columns") or {}) or len(first["files"] or [])
            aggregates = len(first.get("aggregates") or [])
            return f"{marts} marts" + (f" ({aggregates} also without personal columns)" if aggregates else "")
        return ""
