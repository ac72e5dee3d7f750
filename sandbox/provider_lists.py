"""A simulator of SendGrid's Marketing Contacts API (the shapes Warmpool uses), served over real HTTP
by the sandbox services and the tests. It keeps contacts and lists in memory and records every
request it received (``GET /_sim/requests``) so a test can see what was sent.

    POST   /v3/marketing/lists                      {"name"} -> 201 {"id", "name", "contact_count"}
    GET    /v3/marketing/lists                      -> {"result": [{"id", "name", "contact_count"}]}
    PUT    /v3/marketing/contacts                   {"list_ids", "contacts": [{"email", ...}]} -> 202 {"job_id"}
                                                    (upsert by email; contacts join the lists)
    POST   /v3/marketing/contacts/search/emails     {"emails"} -> 200 {"result": {email: {"contact": {...}}}}
                                                    (404 when none is found, as SendGrid does)
    DELETE /v3/marketing/lists/{id}/contacts?contact_ids=a,b -> 202 {"job_id"}
    GET    /_sim/lists/{id}/emails                  the list's members' addresses (for tests)

Authentication: ``Authorization: Bearer <api key>`` (401 otherwise).
"""
from __future__ import annotations

import threading
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class ProviderListsState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.contacts: dict[str, dict] = {}      # id -> contact
        self.by_email: dict[str, str] = {}       # lower-case email -> id
        self.lists: dict[str, dict] = {}         # id -> {"id", "name", "contact_ids": set}
        self.requests: list[dict] = []

    def list_emails(self, list_id: str) -> list[str]:
        with self.lock:
            return sorted(self.contacts[c]["email"] for c in self.lists[list_id]["contact_ids"])


def provider_lists_app(api_key: str) -> FastAPI:
    app = FastAPI(title="SendGrid Marketing Contacts (sandbox)")
    state = ProviderListsState()
    app.state.sim = state

    @app.middleware("http")
    async def auth_and_record(request: Request, call_next):
        if request.url.path.startswith("/v3/"):
            body = await request.body()
            with state.lock:
                state.requests.append({"method": request.method, "path": request.url.path,
                                       "query": str(request.url.query), "body": body.decode("utf-8", "replace")})
            if request.headers.get("authorization") != f"Bearer {api_key}":
                return JSONResponse({"errors": [{"message": "authorization required"}]}, 401)
        return await call_next(request)

    def _list_view(lst: dict) -> dict:
        return {"id": lst["id"], "name": lst["name"], "contact_count": len(lst["contact_ids"])}

    @app.post("/v3/marketing/lists", status_code=201)
    async def create_list(payload: dict):
        with state.lock:
            lst = {"id": str(uuid.uuid4()), "name": str(payload.get("name")), "contact_ids": set()}
            state.lists[lst["id"]] = lst
            return _list_view(lst)

    @app.get("/v3/marketing/lists")
    async def get_lists():
        with state.lock:
            return {"result": [_list_view(lst) for lst in state.lists.values()]}

    @app.put("/v3/marketing/contacts", status_code=202)
    async def upsert_contacts(payload: dict):
        list_ids = payload.get("list_ids") or []
        with state.lock:
            unknown = [i for i in list_ids if i not in state.lists]
            if unknown:
                return JSONResponse({"errors": [{"field": "list_ids", "message": f"unknown list {unknown[0]}"}]}, 400)
            for contact in payload.get("contacts") or []:
                email = str(contact.get("email") or "").lower()
                if not email:
                    return JSONResponse({"errors": [{"field": "email", "message": "email is required"}]}, 400)
                cid = state.by_email.setdefault(email, str(uuid.uuid4()))
                state.contacts[cid] = {**state.contacts.get(cid, {}), **contact, "id": cid, "email": email}
                for list_id in list_ids:
                    state.lists[list_id]["contact_ids"].add(cid)
        return {"job_id": str(uuid.uuid4())}

    @app.post("/v3/marketing/contacts/search/emails")
    async def search_emails(payload: dict):
        with state.lock:
            found = {e: {"contact": state.contacts[state.by_email[e.lower()]]}
                     for e in payload.get("emails") or [] if e.lower() in state.by_email}
        return {"result": found} if found else JSONResponse({"errors": [{"message": "No contacts found"}]}, 404)

    @app.delete("/v3/marketing/lists/{list_id}/contacts", status_code=202)
    async def remove_from_list(list_id: str, contact_ids: str = ""):
        with state.lock:
            if list_id not in state.lists:
                return JSONResponse({"errors": [{"message": "list not found"}]}, 404)
            state.lists[list_id]["contact_ids"] -= set(filter(None, contact_ids.split(",")))
        return {"job_id": str(uuid.uuid4())}

    @app.get("/_sim/lists/{list_id}/emails")
    async def sim_list_emails(list_id: str):
        return state.list_emails(list_id)

    @app.get("/_sim/health")
    async def health():
        return {"ok": True}

    return app
