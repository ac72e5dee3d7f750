"""dlt source for a Greenhouse-Harvest-shaped ATS REST API.

Basic auth with the API key as user name, `per_page`, merge on `id`. The HTTP session is dlt's
retrying `Client`: 429 (honouring `Retry-After`), 5xx, timeouts and dropped connections are retried
with exponential backoff (`ClientOptions`). Pages: the first one is fetched, and when its `Link`
header names the last page, the others are fetched `ClientOptions.concurrency` at a time (in page
order); fewer at a time while `X-RateLimit-Remaining` is low; one after another, following
`rel="next"`, when the API does not say which page is last.

Each page is normalised into Arrow tables column-wise (`flatten.py`: the same tables and columns
dlt's row-by-row normaliser made, with deterministic `_dlt_*` keys), so dlt only writes parquet.
Every table is merged (roots on `id`, children on `_dlt_id`); after each load the children of a
record version that was replaced are deleted (`drop_replaced_children`), which is what dlt's
nested merge did.

Why not `rest_api`'s declarative incremental: its cursor is the largest `updated_at` seen, so a
record updated on an already-fetched page *while the run pages on* is lost when a later page holds a
record updated even later (the simulator's `mutate_every` fault does exactly this). Here the cursor
for the next run is `min(largest value seen, server time when this run started - lookback)`: anything
changed during a run is fetched again next time. Rows at or after the stored cursor whose content
hash was already loaded are skipped, so a re-run with no new data loads nothing.

Dagster calls `ats_source()` for a fresh source on every run (dagster-dlt mutates a reused one).
"""
from __future__ import annotations

import copy
import io
from collections import deque
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qs, urlsplit

import dlt
import polars as pl
import pyarrow as pa
from dlt.common.configuration import configspec
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.sources import DltResource
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth

from pipelines import _runner
from pipelines.ats.flatten import Emitted, flatten
from pipelines.quarantine import quarantine, rejected_row
from pipelines.ats.settings import ENDPOINTS, INITIAL_CURSOR, PRIMARY_KEY, SCHEMA_CONTRACT, Endpoint
from warmpool import tables
from warmpool.config import Settings
from warmpool.emails import valid_email_mask
from warmpool.privacy import reingest
from warmpool.privacy.reingest import DoNotReingest
from warmpool.text import clean_names

PIPELINE_NAME = "warmpool_ats"


@configspec
class ApiKeyAuth(HttpBasicAuth):
    """Harvest Basic auth: the API key is the user name, the password empty. The user name is
    therefore a secret and must not show in reprs, logs or traces."""

    def __repr__(self) -> str:
        return "ApiKeyAuth(username='***')"

    __str__ = __repr__


@dataclass(frozen=True)
class ClientOptions:
    """HTTP behaviour; `ats:` in config/warmpool.yaml may set any of these."""
    timeout_seconds: float = 30.0
    max_attempts: int = 8           # per request, for 429 / 5xx / timeout / dropped connection
    backoff_factor: float = 0.5     # exponential backoff base (s) when no Retry-After is given
    max_retry_delay: float = 60.0   # cap on one wait, Retry-After included
    lookback_seconds: int = 60      # clock-skew allowance when the next cursor is the run's start
    concurrency: int = 4            # pages of one endpoint fetched at a time

    @classmethod
    def from_settings(cls, settings: Settings) -> "ClientOptions":
        raw = settings.raw.get("ats", {}) or {}
        return cls(**{k: type(getattr(cls, k))(raw[k]) for k in cls.__dataclass_fields__ if k in raw})


def _column_list(columns: dict[str, dict]) -> dict[str, dict]:
    # Named copies: dlt needs "name" in nested hints and writes into the dicts it is given.
    return {name: {"name": name, **copy.deepcopy(hint)} for name, hint in columns.items()}


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _server_time(response: Any) -> datetime:
    """The API's own clock (`Date` header), so the cursor never depends on ours; ours if absent."""
    try:
        return parsedate_to_datetime(response.headers["Date"]).astimezone(timezone.utc)
    except (KeyError, TypeError, ValueError):
        return datetime.now(timezone.utc)


class Page(list):
    """One page of a listing and the response it came in (for the API's clock). A fetched page
    leaves its JSON unparsed (`_frame` reads it column-wise); `records()` parses it when the rows
    are wanted as dicts."""

    def __init__(self, rows: Iterable[dict], response: Any):
        super().__init__(rows)
        self.response = response
        self.frame: pl.DataFrame | None = None

    def records(self) -> list[dict]:
        content = getattr(self.response, "content", None)
        return list(self) if len(self) or not content else self.response.json()


class Fetcher:
    """GETs pages of the ATS API over one retrying client (a session per thread)."""

    def __init__(self, base_url: str, api_key: str, options: ClientOptions):
        self.base_url = base_url.rstrip("/") + "/"
        self.auth = ApiKeyAuth(username=api_key, password="")
        self.options = options
        self.client = Client(raise_for_status=False, request_timeout=options.timeout_seconds,
                             request_max_attempts=options.max_attempts, request_backoff_factor=options.backoff_factor,
                             request_max_retry_delay=options.max_retry_delay)
        self._remaining: int | None = None
        self._lock = threading.Lock()

    def get(self, url: str, params: dict | None = None) -> Page:
        response = self.client.get(url, params=params, auth=self.auth)
        response.raise_for_status()  # what retrying could not fix fails the run
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None and remaining.isdigit():
            with self._lock:
                self._remaining = int(remaining)
        return Page((), response)

    def polite(self, url: str) -> Page:
        """A GET that waits a little while the rate limit's remaining requests are fewer than the
        requests that may be in flight (a 429 is retried anyway; this avoids provoking it). The
        page is read into a frame here, in the worker thread (polars works outside the GIL)."""
        for _ in range(20):
            with self._lock:
                low = self._remaining is not None and self._remaining < self.options.concurrency
            if not low:
                break
            time.sleep(0.25)
        page = self.get(url)
        page.frame = _frame(page)
        return page


def _page_urls(first: Page) -> list[str] | None:
    """Pages 2..last of a listing, when the first response's `Link` header names the last page."""
    links = getattr(first.response, "links", {}) or {}
    last, following = links.get("last", {}).get("url"), links.get("next", {}).get("url")
    if not last or not following:
        return None
    try:
        last_page = int(parse_qs(urlsplit(last).query)["page"][0])
        next_page = int(parse_qs(urlsplit(following).query)["page"][0])
    except (KeyError, ValueError, IndexError):
        return None
    template = following.replace(f"page={next_page}", "page={}")
    if template == following:
        return None
    return [template.format(n) for n in range(next_page, last_page + 1)]


def _pages(fetcher: Fetcher, endpoint: Endpoint, params: dict) -> Iterator[Page]:
    """Every page of one listing, in order (see the module notes)."""
    first = fetcher.get(fetcher.base_url + endpoint.name, params=params)
    yield first
    urls = _page_urls(first)
    if urls is None:  # no last page named: follow `next` one page at a time
        page = first
        while (following := (getattr(page.response, "links", {}) or {}).get("next", {}).get("url")):
            page = fetcher.get(following)
            yield page
        return
    workers = max(1, fetcher.options.concurrency)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ats") as pool:
        ahead: deque = deque()
        for url in urls:  # at most 2 pages per worker fetched ahead of the one being read: bounded memory
            ahead.append(pool.submit(fetcher.polite, url))
            if len(ahead) >= 2 * workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _frame(page: list) -> pl.DataFrame:
    """A page as a polars frame: read from the response's JSON by polars (no Python objects per
    record), or from the rows when a page was built without a response."""
    if getattr(page, "frame", None) is not None:
        return page.frame
    content = getattr(getattr(page, "response", None), "content", None)
    if content:
        frame = pl.read_json(io.BytesIO(content), infer_schema_length=None)
        return frame if frame.width else pl.DataFrame()
    return pl.from_dicts(list(page), infer_schema_length=None) if len(page) else pl.DataFrame()


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def record_digest(record: dict) -> str:
    """A record's content hash, the same however the page it came in was typed (absent fields and
    nulls are alike)."""
    return _runner.content_hash(_without_nulls(record))


def _incremental_frames(fetcher: Fetcher, endpoint: Endpoint, per_page: int, lookback: int) -> Iterator[pl.DataFrame]:
    """The records of every page that are new or changed since the stored cursor, as frames."""
    state = dlt.current.resource_state()
    cursor = _ts(state.get("cursor")) or _ts(INITIAL_CURSOR)
    seen: dict[str, str] = state.get("seen", {})  # id -> content hash of rows at/after `cursor` already loaded
    run_start: datetime | None = None
    max_seen = cursor
    at_max: dict[str, str] = {}   # rows whose cursor equals the largest value seen
    recent: dict[str, tuple[datetime, str]] = {}  # rows changed after this run started
    params = {"per_page": per_page, endpoint.cursor_param: _iso(cursor)}
    for page in _pages(fetcher, endpoint, params):
        if run_start is None:
            run_start = _server_time(page.response) - timedelta(seconds=lookback)
        frame = _frame(page)
        if not frame.height:
            continue
        ids = frame[PRIMARY_KEY].cast(pl.String)
        values = (frame[endpoint.cursor].cast(pl.String).str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%#z", time_unit="us", time_zone="UTC") if endpoint.cursor in frame.columns
            else pl.Series([None] * frame.height, dtype=pl.Datetime("us", "UTC")))
        # What the row-by-row rule did, per column: a row is hashed when its cursor is at or above
        # the largest value before it, or at/after the run's start, or it was at the cursor last time.
        before = pl.select(pl.max_horizontal(pl.lit(max_seen), values.cum_max().shift(1))).to_series()
        in_seen = ids.is_in(list(seen))
        hashed = values.is_not_null() & ((values >= before) | (values >= run_start) | in_seen)
        digests = [""] * frame.height
        for i, record in zip(hashed.arg_true().to_list(), frame.filter(hashed).to_dicts()):
            digests[i] = record_digest(record)
        digest = pl.Series(digests, dtype=pl.String)
        known = in_seen & (ids.replace_strict(seen, default=None, return_dtype=pl.String) == digest).fill_null(False)
        yield frame.filter(values.is_null() | ~known)
        page_max = values.max()
        if page_max is not None and page_max > max_seen:
            max_seen, at_max = page_max, {}
        at = (values == max_seen).fill_null(False)
        at_max.update(zip(ids.filter(at).to_list(), digest.filter(at).to_list()))
        late = (values >= run_start).fill_null(False)
        recent.update((i, (v, d)) for i, v, d in zip(ids.filter(late).to_list(), values.filter(late).to_list(),
                                                      digest.filter(late).to_list()))
    if run_start is None:
        return
    if max_seen <= run_start:
        state["cursor"], state["seen"] = _iso(max_seen), at_max
    else:  # something changed while we paged: start the next run where this one started
        state["cursor"], state["seen"] = _iso(run_start), {i: d for i, (_, d) in recent.items()}


BATCH_RECORDS = 20_000  # records per flattening: fewer, larger Arrow tables for dlt


def _batched(frames: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    pending, n = [], 0
    for frame in frames:
        if frame.height:
            pending.append(frame)
            n += frame.height
        if n >= BATCH_RECORDS:
            yield pl.concat(pending, how="diagonal_relaxed")
            pending, n = [], 0
    if pending:
        yield pl.concat(pending, how="diagonal_relaxed")


def _root_hints(endpoint: Endpoint) -> Any:
    columns = _column_list({**endpoint.columns, "_dlt_id": _KEY_HINTS["_dlt_id"]})
    if endpoint.cursor:  # two versions of a record in one load: the latest wins
        columns.setdefault(endpoint.cursor, {"name": endpoint.cursor})["dedup_sort"] = "desc"
    return dlt.mark.make_hints(table_name=endpoint.name, primary_key=PRIMARY_KEY, write_disposition="merge",
                               columns=columns)


_KEY_HINTS = {"_dlt_id": {"data_type": "text", "nullable": False, "unique": True, "row_key": True},
              "_dlt_parent_id": {"data_type": "text", "nullable": False},
              "_dlt_root_id": {"data_type": "text", "nullable": False},
              "_dlt_list_idx": {"data_type": "bigint", "nullable": False}}


def _child_hints(endpoint: Endpoint, table: str) -> dict[str, Any]:
    declared = endpoint.nested_columns.get(table[len(endpoint.name) + 2:], {})
    # Each record version is flattened once per run (`flatten`'s `emitted`), so a child row's key is
    # unique within a load: dlt's merge need not de-duplicate the staged rows.
    return dlt.mark.make_hints(table_name=table, write_disposition="merge", primary_key="_dlt_id",
                               columns=_column_list({**declared, **_KEY_HINTS}),
                               additional_table_hints={"x-stage-data-deduplicated": True})


def _arrow_items(endpoint: Endpoint, frame: pl.DataFrame, emitted: Emitted) -> Iterator[Any]:
    """Records as Arrow tables for dlt: the endpoint's table, then its child tables."""
    # Every table's hints come with its items (the resource itself declares none), so a child table
    # never inherits its parent's columns.
    for name, table in flatten(endpoint, frame, emitted).items():
        hints = _root_hints(endpoint) if name == endpoint.name else _child_hints(endpoint, name)
        yield dlt.mark.with_hints(_with_verdicts(name, table), hints, create_table_variant=True)


def _with_verdicts(name: str, table: pa.Table) -> pa.Table:
    """Judged once here so the warehouse carries the verdict: each candidate address gets
    email-validator's (`is_valid`, `warmpool.emails`), candidates' names lose invisible
    characters (`warmpool.text.clean_name`)."""
    if name == "candidates__email_addresses" and "value" in table.column_names:
        valid = valid_email_mask(pl.from_arrow(table["value"])).fill_null(False)
        return table.append_column("is_valid", valid.to_arrow())
    if name == "candidates":
        for column in ("first_name", "last_name"):
            if column in table.column_names and pa.types.is_large_string(table.schema.field(column).type):
                table = table.set_column(table.schema.get_field_index(column), column,
                                         clean_names(pl.from_arrow(table[column])).to_arrow())
    return table


def _values(items: Any) -> list:
    return [i.get("value") for i in items or [] if isinstance(i, dict)]


# what names a person in each endpoint's records (the do-not-reingest check); others name nobody
_PERSON_ENDPOINTS = ("candidates", "applications", "offers", "eeoc")


def without_erased(endpoint: str, frame: pl.DataFrame, do_not_reingest: DoNotReingest | None) -> pl.DataFrame:
    """``frame`` without the records of people on the do-not-reingest list (each hit noted for the
    quarantine): a candidate by its id, addresses, phones and profile URLs; an application, offer or
    EEO answer by its candidate. Costs nothing while the list is empty."""
    if not do_not_reingest or endpoint not in _PERSON_ENDPOINTS or not frame.height:
        return frame
    wanted = ["id", "email_addresses", "phone_numbers", "social_media_addresses", "website_addresses"] \
        if endpoint == "candidates" else ["candidate_id", "id", "application_id"]
    blocked = []
    for r in frame.select([c for c in wanted if c in frame.columns]).to_dicts():
        if endpoint == "candidates":
            hit = do_not_reingest.blocks(
                source=tables.SOURCE_ATS, source_record_id=r.get("id"), emails=_values(r.get("email_addresses")),
                phones=_values(r.get("phone_numbers")),
                profile_urls=_values(r.get("social_media_addresses")) + _values(r.get("website_addresses")))
        else:
            hit = do_not_reingest.blocks(source=tables.SOURCE_ATS, source_record_id=r.get("candidate_id"))
        if hit:
            do_not_reingest.hit(tables.SOURCE_ATS, endpoint, r.get("id") or r.get("application_id") or 0)
        blocked.append(hit)
    return frame.filter(~pl.Series(blocked, dtype=pl.Boolean)) if any(blocked) else frame


def _endpoint_resource(fetcher: Fetcher, endpoint: Endpoint, per_page: int, lookback: int,
                       do_not_reingest: DoNotReingest | None = None) -> DltResource:
    if endpoint.cursor:
        def rows() -> Iterator[Any]:
            emitted = Emitted()
            for frame in _batched(_incremental_frames(fetcher, endpoint, per_page, lookback)):
                yield from _arrow_items(endpoint, without_erased(endpoint.name, frame, do_not_reingest), emitted)
    else:
        def rows() -> Iterator[Any]:
            # Reference lists without a cursor: fetched whole, passed on only when a record's content changed.
            state, emitted = dlt.current.resource_state(), Emitted()
            for page in _pages(fetcher, endpoint, {"per_page": per_page}):
                changed = [r for r in page.records() if _runner.is_changed(r, state, PRIMARY_KEY)]
                if changed:
                    frame = without_erased(endpoint.name, pl.from_dicts(changed, infer_schema_length=None),
                                           do_not_reingest)
                    yield from _arrow_items(endpoint, frame, emitted)
    return dlt.resource(rows, name=endpoint.name, write_disposition="merge")()


def drop_replaced_children(pipeline: dlt.Pipeline) -> None:
    """Deletes child rows whose parent version is gone (a record loaded again in a newer version
    replaced its row; its old lists go with it, however short the new ones are). Idempotent, over
    whole tables, so a run cut off before this step is repaired by the next one."""
    schema = pipeline.default_schema
    names = set(schema.data_table_names())
    with pipeline.sql_client() as client:
        for child in sorted(names):
            if "_dlt_parent_id" not in schema.tables[child].get("columns", {}):
                continue
            parent = max((n for n in names if child.startswith(n + "__")), key=len, default=None)
            if parent is None:
                continue
            _runner.repair(client, f"delete from {client.make_qualified_table_name(child)} where _dlt_parent_id "
                                   f"not in (select _dlt_id from {client.make_qualified_table_name(parent)})")


@dlt.source(name="ats", max_table_nesting=3, schema_contract=SCHEMA_CONTRACT)
def harvest(base_url: str, api_key: str, per_page: int = 500, endpoints: Iterable[Endpoint] = ENDPOINTS,
            options: ClientOptions = ClientOptions(),
            do_not_reingest: DoNotReingest | None = None) -> list[DltResource]:
    fetcher = Fetcher(base_url, api_key, options)
    return [_endpoint_resource(fetcher, e, per_page, options.lookback_seconds, do_not_reingest) for e in endpoints]


def ats_source(settings: Settings | None = None, endpoints: Iterable[Endpoint] = ENDPOINTS,
               options: ClientOptions | None = None, do_not_reingest: DoNotReingest | None = None):
    """A fresh ATS source configured from `warmpool.config` (URL, key, page size, HTTP options)."""
    s = _runner.resolve(settings)
    return harvest(base_url=s.ats.base_url, api_key=s.ats.api_key, per_page=s.ats.per_page, endpoints=endpoints,
                   options=options or ClientOptions.from_settings(s),
                   do_not_reingest=DoNotReingest.load(s) if do_not_reingest is None else do_not_reingest)


def ats_pipeline(settings: Settings | None = None) -> dlt.Pipeline:
    return _runner.make_pipeline(PIPELINE_NAME, tables.RAW_ATS, settings)


def run_ats(settings: Settings | None = None, options: ClientOptions | None = None) -> dict[str, int]:
    """Load every ATS endpoint incrementally into `raw_ats`; rows loaded per table."""
    s = _runner.resolve(settings)
    do_not_reingest = DoNotReingest.load(s)
    source = ats_source(s, options=options, do_not_reingest=do_not_reingest)
    pipeline = ats_pipeline(s)
    roots = [e.name for e in ENDPOINTS]
    # The children of replaced record versions are deleted when this run replaced or de-duplicated a
    # record, or when the run before it did not get as far as that step (the marker file is left).
    marker = s.dlt_dir / PIPELINE_NAME / "replaced_children_due"
    due = marker.exists()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    before = _row_counts(pipeline, roots)
    counts = _runner.run(pipeline, source, expected_tables=roots)
    after = _row_counts(pipeline, roots)
    if due or any(after[t] < before[t] + counts.get(t, 0) for t in roots):
        drop_replaced_children(pipeline)
    marker.unlink()
    return _refused(do_not_reingest, counts, s)


def _refused(do_not_reingest: DoNotReingest, counts: dict[str, int], settings: Settings) -> dict[str, int]:
    """Quarantine the rows of erased people a run refused (by endpoint and id, nothing else about them)."""
    if do_not_reingest.hits:
        counts["erased_rows_refused"] = quarantine(
            [rejected_row(source_key, where, row, reingest.FIELD, reingest.REASON, None)
             for source_key, where, row in dict.fromkeys(do_not_reingest.hits)], settings)
    return counts


def _row_counts(pipeline: dlt.Pipeline, names: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(names, 0)
    if not pipeline.default_schema_name:
        return counts
    with pipeline.sql_client() as client:
        for name in names:
            try:
                with client.execute_query(f"select count(*) from {client.make_qualified_table_name(name)}") as cur:
                    counts[name] = cur.fetchone()[0]
            except DatabaseUndefinedRelation:
                continue
    return counts


# --- EEO self-identification: its own dataset, apart from the candidate profile (docs/privacy.md) ----
EEO_PIPELINE_NAME = "warmpool_eeo"
EEO_DATASET, EEO_TABLE = tables.EEO_SELF_IDENTIFICATION.split(".")
EEOC_ENDPOINT = Endpoint("eeoc", None, None)


@dlt.source(name="eeo")
def eeo_answers(base_url: str, api_key: str, per_page: int = 500, options: ClientOptions = ClientOptions(),
                do_not_reingest: DoNotReingest | None = None) -> DltResource:
    """Harvest's `GET /v1/eeoc` (the voluntary answers, one per application) into `raw_eeo`, merged on
    `application_id`; an unchanged answer is not loaded again."""
    fetcher = Fetcher(base_url, api_key, options)

    @dlt.resource(name=EEO_TABLE, primary_key="application_id", write_disposition="merge")
    def answers() -> Iterator[Any]:
        state = dlt.current.resource_state()
        for page in _pages(fetcher, EEOC_ENDPOINT, {"per_page": per_page}):
            changed = [r for r in page.records() if _runner.is_changed(r, state, "application_id")]
            if changed:
                frame = without_erased(EEOC_ENDPOINT.name, pl.from_dicts(changed, infer_schema_length=None),
                                       do_not_reingest)
                yield frame.to_dicts()

    return answers


def run_eeo(settings: Settings | None = None, options: ClientOptions | None = None) -> dict[str, int]:
    """Load the ATS's EEO answers into `raw_eeo`; rows loaded per table."""
    s = _runner.resolve(settings)
    do_not_reingest = DoNotReingest.load(s)
    source = eeo_answers(s.ats.base_url, s.ats.api_key, s.ats.per_page, options or ClientOptions.from_settings(s),
                         do_not_reingest)
    counts = _runner.run(_runner.make_pipeline(EEO_PIPELINE_NAME, EEO_DATASET, s), source, expected_tables=[EEO_TABLE])
    return _refused(do_not_reingest, counts, s)
