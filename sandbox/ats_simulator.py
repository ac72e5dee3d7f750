"""A Greenhouse-Harvest-style ATS API over the sandbox world's ``sandbox/ats/*.json`` (contract section 2).

Real HTTP (FastAPI under uvicorn): Basic auth with the API key as user name, ``per_page``/``page`` with an
RFC 5988 ``Link`` header, ``updated_after`` / ``last_activity_after`` / ``created_after`` filters,
``X-RateLimit-*`` headers with 429 + ``Retry-After`` over the limit, and faults on demand through
``POST``/``DELETE /_sim/faults``, e.g. ``{"status_500_every": 5, "rate_limit_every": 7, "delay_seconds": 0.5,
"drop_every": 11, "retry_after": 1, "rate_limit": 50, "rate_window_seconds": 10}``. Rows are served sorted by id so that pagination is stable.

Faults for the ingestion tests (all count API list requests since the faults were set):
- ``slow_every``: with ``delay_seconds``, only every Nth request is slow (0: every request), so a client
  timeout can be hit on some requests and retried;
- ``mutate_every``: every Nth request of a page after the first, the endpoint's data changes *between page
  calls*: a record on an already-served page is updated (its cursor field set to the simulator's clock)
  and a new record is appended (id = max + 1). A client whose cursor is the largest timestamp it saw
  would lose the first change. ``GET /_sim/rows/<endpoint>`` returns what the API holds now (the truth); ``POST /_sim/reset`` switches
faults off and re-reads the world's files.

Writes (the ATS write-back), in the Harvest API's shape, with the ``On-Behalf-Of`` header Harvest
requires: ``POST /v1/prospects`` (a new candidate with ``is_prospect``, tags and a prospect
application per job), ``POST /v1/candidates/{id}/applications`` (``{"job_id", "prospect": true}``),
``GET``/``POST /v1/tags/candidate`` and ``PUT /v1/candidates/{id}/tags/{tag_id}``. New candidates and
applications are served by the list endpoints afterwards; every accepted write is recorded and
``GET /_sim/writes`` returns them in order. ``GET /v1/candidates?email=`` finds candidates by address.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from warmpool.config import get_settings

ENDPOINTS = ("candidates", "applications", "jobs", "users", "sources", "offers", "rejection_reasons", "eeoc")
MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 100
# which field each filter compares, per endpoint (Harvest: applications filter on last_activity_at)
UPDATED_FIELD = {"applications": "last_activity_at", "eeoc": "submitted_at"}
CREATED_FIELD = {"applications": "applied_at", "eeoc": "submitted_at"}


@dataclass
class Faults:
    """Injected failures; "every N" counts API requests since the faults were set."""
    status_500_every: int = 0
    rate_limit_every: int = 0
    delay_seconds: float = 0.0
    drop_every: int = 0
    retry_after: int = 1
    slow_every: int = 0
    mutate_every: int = 0


@dataclass
class RateLimit:
    limit: int = 500        # requests per window (Harvest allows 50 per 10 s; the sandbox is roomier)
    window_seconds: float = 10.0


class _Table:
    """One endpoint's rows: pre-serialised JSON per row plus the keys the filters need."""

    def __init__(self, name: str, rows: list[dict]):
        rows = sorted(rows, key=lambda r: r["id"] if "id" in r else r["application_id"])  # eeoc: no id of its own
        self.name = name
        self.blobs = [json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() for r in rows]
        upd, cre = UPDATED_FIELD.get(name, "updated_at"), CREATED_FIELD.get(name, "created_at")
        self.updated = [r.get(upd) or "" for r in rows]
        self.created = [r.get(cre) or "" for r in rows]
        self._cache: dict[tuple, list[int]] = {}
        self.updated_field = upd

    def rows(self) -> list[dict]:
        return [json.loads(b) for b in self.blobs]

    def mutate(self, served: int, k: int, now: str) -> None:
        """Update a record among the first `served` rows and append a new one, both stamped `now`."""
        if not self.blobs or not self.updated[0]:
            return  # reference lists have no cursor field: nothing a client could miss
        i = (k * 7919) % max(1, min(served, len(self.blobs)))
        row = json.loads(self.blobs[i])
        row[self.updated_field] = now
        self.blobs[i] = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
        self.updated[i] = now
        new = json.loads(self.blobs[-1])
        new.update({"id": new["id"] + 1, self.updated_field: now}, **({"created_at": now} if "created_at" in new else {}))
        self.blobs.append(json.dumps(new, ensure_ascii=False, separators=(",", ":")).encode())
        self.updated.append(now)
        self.created.append(now)
        self._cache.clear()

    def append(self, row: dict) -> dict:
        """A record written through the API (ids continue after the largest)."""
        self.blobs.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode())
        self.updated.append(row.get(self.updated_field) or "")
        self.created.append(row.get("created_at") or row.get("applied_at") or "")
        self._cache.clear()
        return row

    def next_id(self) -> int:
        return (json.loads(self.blobs[-1])["id"] + 1) if self.blobs else 1

    def find(self, row_id: int) -> tuple[int, dict] | None:
        for i, blob in enumerate(self.blobs):  # writes are rare: a scan is fine
            row = json.loads(blob)
            if row["id"] == row_id:
                return i, row
        return None

    def replace(self, i: int, row: dict) -> None:
        self.blobs[i] = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
        self.updated[i] = row.get(self.updated_field) or ""
        self._cache.clear()

    def select(self, updated_after: str | None, created_after: str | None) -> list[int] | range:
        if not updated_after and not created_after:
            return range(len(self.blobs))
        key = (updated_after, created_after)
        hit = self._cache.get(key)
        if hit is None:
            # timestamps share one ISO format, so string order is time order
            hit = [i for i in range(len(self.blobs))
                   if (not updated_after or self.updated[i] >= updated_after)
                   and (not created_after or self.created[i] >= created_after)]
            if len(self._cache) > 32:
                self._cache.clear()
            self._cache[key] = hit
        return hit


class SimulatorState:
    def __init__(self, ats_dir: Path, api_key: str, rate_limit: RateLimit | None = None):
        self.ats_dir = Path(ats_dir)
        self.api_key = api_key
        self.rate = rate_limit or RateLimit()
        self.initial_rate = self.rate
        self.faults = Faults()
        self.lock = threading.Lock()
        self.hits: deque[float] = deque()
        self.fault_counter = 0
        self.requests = 0
        self.mutations = 0
        self.tables: dict[str, _Table] = {}
        self._mtimes: dict[str, float] = {}
        self.writes: list[dict] = []                    # every accepted write, in order
        self.candidate_tags: dict[str, int] = {}        # tag name -> id

    def table(self, name: str) -> _Table:
        path = self.ats_dir / f"{name}.json"
        mtime = path.stat().st_mtime if path.exists() else -1.0
        with self.lock:
            if self._mtimes.get(name) != mtime:  # a regenerated world is picked up without a restart
                rows = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
                self.tables[name] = _Table(name, rows)
                self._mtimes[name] = mtime
            return self.tables[name]

    def take_token(self) -> tuple[bool, int, int]:
        """Sliding-window limiter: (allowed, remaining, seconds until a slot frees)."""
        now = time.monotonic()
        with self.lock:
            while self.hits and now - self.hits[0] >= self.rate.window_seconds:
                self.hits.popleft()
            if len(self.hits) >= self.rate.limit:
                wait = self.rate.window_seconds - (now - self.hits[0])
                return False, 0, max(1, math.ceil(wait))
            self.hits.append(now)
            return True, self.rate.limit - len(self.hits), 0

    def next_fault(self) -> str | None:
        with self.lock:
            self.requests += 1
            self.fault_counter += 1
            n, f = self.fault_counter, self.faults
        if f.mutate_every and n % f.mutate_every == 0:
            return "mutate"
        if f.drop_every and n % f.drop_every == 0:
            return "drop"
        if f.status_500_every and n % f.status_500_every == 0:
            return "500"
        if f.rate_limit_every and n % f.rate_limit_every == 0:
            return "429"
        return None


def _parse_time(value: str | None) -> str | None:
    """Any ISO-8601 timestamp -> the served format (UTC, seconds, Z) for string comparison."""
    if not value:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _authorised(request: Request, api_key: str) -> bool:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, _password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return user == api_key


class _DroppedResponse(Response):
    """Promises a body it never finishes: the client sees the connection end mid-response."""

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"100000")]})
        await send({"type": "http.response.body", "body": b'[{"id":', "more_body": True})
        # returning without finishing the body makes uvicorn close the connection (it logs one line)


def create_app(ats_dir: Path, api_key: str, rate_limit: RateLimit | None = None) -> FastAPI:
    state = SimulatorState(ats_dir, api_key, rate_limit)
    app = FastAPI(title="Warmpool sandbox ATS (Harvest v1 shape)", docs_url=None, redoc_url=None)
    app.state.sim = state

    def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse({"message": message}, status_code=status, headers=headers)

    @app.get("/_sim/health")
    def health() -> dict:
        return {"ok": True, "ats_dir": str(state.ats_dir)}

    @app.get("/_sim/faults")
    def get_faults() -> dict:
        return {"faults": asdict(state.faults), "rate_limit": asdict(state.rate), "requests": state.requests,
                "mutations": state.mutations}

    @app.get("/_sim/rows/{endpoint}")
    async def rows(endpoint: str) -> Any:
        if endpoint not in ENDPOINTS:
            return error(404, f"unknown endpoint {endpoint}")
        return (await asyncio.to_thread(state.table, endpoint)).rows()

    @app.post("/_sim/faults")
    async def set_faults(request: Request) -> Any:
        body = await request.json()
        if not isinstance(body, dict):
            return error(422, "expected a JSON object")
        # the posted object is the whole fault configuration: anything not named is switched off
        faults, rate = asdict(Faults()), asdict(state.initial_rate)
        for key, value in body.items():
            if key in faults:
                faults[key] = type(faults[key])(value)
            elif key in ("rate_limit", "rate_limit_per_window"):
                rate["limit"] = int(value)
            elif key == "rate_window_seconds":
                rate["window_seconds"] = float(value)
            else:
                return error(422, f"unknown fault {key!r}")
        with state.lock:
            state.faults, state.rate = Faults(**faults), RateLimit(**rate)
            state.fault_counter = 0
            state.hits.clear()
        return {"faults": faults, "rate_limit": rate}

    @app.delete("/_sim/faults")
    def clear_faults() -> dict:
        with state.lock:
            state.faults, state.rate = Faults(), state.initial_rate
            state.fault_counter = 0
            state.hits.clear()
        return {"faults": asdict(state.faults), "rate_limit": asdict(state.rate)}

    @app.post("/_sim/reset")
    def reset() -> dict:
        """Faults off and the data re-read from the world's files (drops `mutate_every` changes)."""
        with state.lock:
            state.faults, state.rate = Faults(), state.initial_rate
            state.fault_counter = state.mutations = 0
            state.hits.clear()
            state._mtimes.clear()
        return {"ok": True}

    # --- writes (Harvest shape) -----------------------------------------------------------------
    def now_iso() -> str:
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def write_guard(request: Request) -> tuple[Any, JSONResponse | None]:
        if not _authorised(request, state.api_key):
            return None, error(401, "Invalid Basic Auth credentials", {"WWW-Authenticate": 'Basic realm="Harvest API"'})
        if not request.headers.get("on-behalf-of", "").strip():
            return None, error(403, "The On-Behalf-Of header is required for writes")
        try:
            body = await request.json() if (await request.body()) else {}
        except ValueError:
            return None, error(400, "the body is not JSON")
        return body, None

    def recorded(kind: str, request: Request, body: Any, result: dict) -> dict:
        with state.lock:
            state.writes.append({"seq": len(state.writes) + 1, "kind": kind, "method": request.method,
                                 "path": request.url.path, "on_behalf_of": request.headers.get("on-behalf-of"),
                                 "body": body, "result_id": result.get("id"), "at": now_iso()})
        return result

    def new_application(candidate_id: int, job_id: int, prospect: bool) -> dict:
        apps = state.table("applications")
        jobs = {j["id"]: j for j in state.table("jobs").rows()}
        if job_id not in jobs:
            raise KeyError(job_id)
        at = now_iso()
        with state.lock:
            return apps.append({
                "id": apps.next_id(), "candidate_id": candidate_id, "prospect": prospect, "applied_at": at,
                "rejected_at": None, "last_activity_at": at, "source": None, "credited_to": None,
                "rejection_reason": None, "jobs": [{"id": job_id, "name": jobs[job_id]["name"]}],
                "status": "active", "current_stage": None, "stage_history": []})

    @app.post("/v1/prospects")
    async def add_prospect(request: Request) -> Any:
        body, refused = await write_guard(request)
        if refused:
            return refused
        if not isinstance(body, dict) or not str(body.get("first_name") or "").strip() \
                or not str(body.get("last_name") or "").strip():
            return error(422, "first_name and last_name are required")
        cands = state.table("candidates")
        at = now_iso()
        try:
            with state.lock:
                cid = cands.next_id()
            apps = [new_application(cid, int(a["job_id"]), True) for a in body.get("applications") or []]
        except (KeyError, TypeError, ValueError):
            return error(422, "applications: every job_id must be an existing job")
        with state.lock:
            row = cands.append({
                "id": cid, "first_name": body["first_name"], "last_name": body["last_name"],
                "company": body.get("company"), "title": body.get("title"), "created_at": at, "updated_at": at,
                "last_activity": at, "is_prospect": True,
                "email_addresses": body.get("email_addresses") or [], "phone_numbers": body.get("phone_numbers") or [],
                "addresses": body.get("addresses") or [], "social_media_addresses": body.get("social_media_addresses") or [],
                "website_addresses": [], "tags": list(body.get("tags") or []),
                "application_ids": [a["id"] for a in apps], "recruiter": None, "employments": []})
        return JSONResponse(recorded("prospect", request, body, row), status_code=201)

    @app.post("/v1/candidates/{candidate_id}/applications")
    async def add_application(candidate_id: int, request: Request) -> Any:
        body, refused = await write_guard(request)
        if refused:
            return refused
        cands = state.table("candidates")
        with state.lock:
            found = cands.find(candidate_id)
        if found is None:
            return error(404, f"candidate {candidate_id} not found")
        try:
            app_row = new_application(candidate_id, int(body["job_id"]), bool(body.get("prospect")))
        except (KeyError, TypeError, ValueError):
            return error(422, "job_id must be an existing job")
        i, cand = found
        cand["application_ids"] = [*cand.get("application_ids", []), app_row["id"]]
        cand["updated_at"] = now_iso()
        with state.lock:
            cands.replace(i, cand)
        return JSONResponse(recorded("application", request, body, app_row), status_code=201)

    @app.get("/v1/tags/candidate")
    def list_tags(request: Request) -> Any:
        if not _authorised(request, state.api_key):
            return error(401, "Invalid Basic Auth credentials")
        return [{"id": i, "name": n} for n, i in state.candidate_tags.items()]

    @app.post("/v1/tags/candidate")
    async def add_tag(request: Request) -> Any:
        body, refused = await write_guard(request)
        if refused:
            return refused
        name = str((body or {}).get("name") or "").strip()
        if not name:
            return error(422, "name is required")
        with state.lock:
            tag_id = state.candidate_tags.setdefault(name, 900_000 + len(state.candidate_tags) + 1)
        return JSONResponse(recorded("tag", request, body, {"id": tag_id, "name": name}), status_code=201)

    @app.put("/v1/candidates/{candidate_id}/tags/{tag_id}")
    async def tag_candidate(candidate_id: int, tag_id: int, request: Request) -> Any:
        _, refused = await write_guard(request)
        if refused:
            return refused
        names = {i: n for n, i in state.candidate_tags.items()}
        if tag_id not in names:
            return error(404, f"tag {tag_id} not found")
        cands = state.table("candidates")
        with state.lock:
            found = cands.find(candidate_id)
            if found is None:
                return error(404, f"candidate {candidate_id} not found")
            i, cand = found
            if names[tag_id] not in cand.get("tags", []):
                cand["tags"] = [*cand.get("tags", []), names[tag_id]]
                cand["updated_at"] = now_iso()
                cands.replace(i, cand)
        return recorded("candidate_tag", request, {"tag_id": tag_id}, {"id": candidate_id, "tags": cand["tags"]})

    @app.get("/_sim/writes")
    def writes() -> list[dict]:
        return list(state.writes)

    @app.get("/v1/{endpoint}")
    async def list_endpoint(endpoint: str, request: Request) -> Response:
        if endpoint not in ENDPOINTS:
            return error(404, f"unknown endpoint {endpoint}")
        if not _authorised(request, state.api_key):
            return error(401, "Invalid Basic Auth credentials", {"WWW-Authenticate": 'Basic realm="Harvest API"'})
        fault = state.next_fault()
        f = state.faults
        if f.delay_seconds and (not f.slow_every or state.fault_counter % f.slow_every == 0):
            await asyncio.sleep(f.delay_seconds)
        if fault == "drop":
            return _DroppedResponse()
        if fault == "500":
            return error(500, "Internal Server Error (sandbox fault)")
        allowed, remaining, wait = state.take_token()
        limit_headers = {"X-RateLimit-Limit": str(state.rate.limit), "X-RateLimit-Remaining": str(remaining)}
        if fault == "429":
            allowed, wait = False, state.faults.retry_after
        if not allowed:
            return error(429, "Rate limit exceeded", dict(limit_headers, **{"Retry-After": str(wait),
                                                                             "X-RateLimit-Remaining": "0"}))
        q = request.query_params
        try:
            per_page = int(q.get("per_page", DEFAULT_PER_PAGE))
            page = int(q.get("page", 1))
            updated_after = _parse_time(q.get("updated_after") or
                                        (q.get("last_activity_after") if endpoint == "applications" else None))
            created_after = _parse_time(q.get("created_after"))
        except ValueError as exc:
            return error(422, f"invalid parameter: {exc}")
        if not 1 <= per_page <= MAX_PER_PAGE or page < 1:
            return error(422, f"per_page must be 1-{MAX_PER_PAGE} and page >= 1")
        table = await asyncio.to_thread(state.table, endpoint)
        if fault == "mutate" and page > 1:
            with state.lock:
                state.mutations += 1
                table.mutate((page - 1) * per_page, state.mutations,
                             datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        selected = table.select(updated_after, created_after)
        if endpoint == "candidates" and q.get("email"):  # Harvest: candidates by email address
            wanted = q["email"].strip().lower()
            selected = [i for i in selected if any((e.get("value") or "").strip().lower() == wanted
                                                   for e in json.loads(table.blobs[i]).get("email_addresses") or [])]
        last_page = max(1, math.ceil(len(selected) / per_page))
        chunk = selected[(page - 1) * per_page: page * per_page]
        body = b"[" + b",".join(table.blobs[i] for i in chunk) + b"]"
        links = []

        def link(n: int, rel: str) -> str:
            return f'<{request.url.include_query_params(page=n, per_page=per_page)}>; rel="{rel}"'

        if page < last_page:
            links.append(link(page + 1, "next"))
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last_page:
            links.append(link(last_page, "last"))
        headers = dict(limit_headers)
        if links:
            headers["Link"] = ", ".join(links)
        return Response(body, media_type="application/json", headers=headers)

    return app


def app_from_settings(settings=None, rate_limit: RateLimit | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_app(settings.sandbox_dir / "ats", settings.ats.api_key, rate_limit)
