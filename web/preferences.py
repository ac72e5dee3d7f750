"""The preference centre and unsubscribing, reached by the signed link in every mail: ``/u/{token}``
(an ``unsubscribe`` token, also the List-Unsubscribe header's URL) and ``/p/{token}`` (a
``preferences`` token). The token is the authorisation: RFC 8058 one-click must work without cookies.
GET changes nothing (link scanners and prefetchers follow every link in a mail)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from warmpool import web_store as store
from web import forms, security
from web.context import PROVIDER, Web, WebDep, client_ip, mask_email, text_or_none, user_agent
from web.guards import choice, form_body, small_form
from web.links import read_link

router = APIRouter()

UNSUBSCRIBED = "You are unsubscribed from all our emails."
# The page's two buttons and RFC 8058's one-click body.
PREFERENCES_FORM = form_body({"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]},
                              "action": {"type": "string", "enum": ["unsubscribe", "save"]},
                              "topics": {"type": "array", "items": choice(forms.TOPICS)},
                              "frequency": choice(forms.FREQUENCIES)})


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, web: WebDep) -> Response:
    return _show(web, request, "unsubscribe", token)


@router.post("/u/{token}", response_class=HTMLResponse, openapi_extra=PREFERENCES_FORM)
async def unsubscribe_change(request: Request, token: str, web: WebDep) -> Response:
    return await run_in_threadpool(_change, web, request, "unsubscribe", token, await small_form(request))


@router.get("/p/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str, web: WebDep) -> Response:
    return _show(web, request, "preferences", token)


@router.post("/p/{token}", response_class=HTMLResponse, openapi_extra=PREFERENCES_FORM)
async def preferences_change(request: Request, token: str, web: WebDep) -> Response:
    return await run_in_threadpool(_change, web, request, "preferences", token, await small_form(request))


def _show(web: Web, request: Request, purpose: str, token: str) -> Response:
    data = read_link(purpose, token)
    if data is None:
        return web.message(request, "This link is not valid", "The link may have been changed. Use the link in "
                           "your most recent email from us, or reply to it and we will remove you.", 400)
    return _prefs_page(web, request, data)


def _change(web: Web, request: Request, purpose: str, token: str, form: Any) -> Response:
    data = read_link(purpose, token)
    if data is None:
        return web.message(request, "This link is not valid", "Nothing was changed.", 400)
    if form.get("List-Unsubscribe") == "One-Click":
        # RFC 8058: no cookies, no redirect, idempotent, a plain 200.
        _unsubscribe(web, request, token, data, "one_click")
        return HTMLResponse("<!doctype html><title>Unsubscribed</title><p>You are unsubscribed.</p>",
                            200, headers={"cache-control": "no-store"})
    action = form.get("action")
    if action == "unsubscribe":
        _unsubscribe(web, request, token, data, "page")
        return _prefs_page(web, request, data, notice=UNSUBSCRIBED)
    if action == "save":
        if web.store.run(store.has_erasure_request, data["email"]):
            return _prefs_page(web, request, data)  # the page says the data is being deleted
        if web.store.run(store.has_unsubscribed, data["email"]):
            # Suppression is permanent downstream: saving topics would change nothing.
            return _prefs_page(web, request, data, notice=UNSUBSCRIBED)
        res = forms.Result()
        topics = forms.clean_multi(res, form.getlist("topics"), "topics", forms.TOPICS, "the topics")
        frequency = forms.clean_choice(res, form, "frequency", forms.FREQUENCIES, "how often") or "normal"
        if not res.ok:
            return _prefs_page(web, request, data, 400, notice="Please choose from the options shown.")
        if not topics:  # nothing left ticked means: no more mail
            _unsubscribe(web, request, token, data, "page")
            return _prefs_page(web, request, data, notice=UNSUBSCRIBED)
        web.store.run(store.record_preferences, {
            "email": data["email"], "person_id": text_or_none(data.get("person_id")),
            "campaign_id": text_or_none(data.get("campaign_id")), "topics": ";".join(topics),
            "frequency": frequency, "unsubscribed_all": False, "changed_at": web.now_iso(),
            "source": "page", "ip": client_ip(request), "user_agent": user_agent(request)})
        return _prefs_page(web, request, data, notice="Your preferences are saved.")
    return web.message(request, "Nothing to do", "Nothing was changed.", 400)


def _prefs_page(web: Web, request: Request, data: dict, status: int = 200, **ctx: Any) -> Response:
    current = web.store.run(store.current_preferences, data["email"])
    erased = web.store.run(store.erasure_request_for, data["email"])
    path = request.url.path.rstrip("/")
    if current is None:
        topics = set(forms.TOPICS)  # nobody chose yet: everything they signed up for
    else:
        topics = set((current.get("topics") or "").split(";")) - {""}
    return web.page(request, "preferences.html", status, title="Your email preferences",
                    email=mask_email(data["email"]), topics=forms.TOPICS, frequencies=forms.FREQUENCIES,
                    chosen=topics, frequency=(current or {}).get("frequency") or "normal",
                    unsubscribed=bool(current and current["unsubscribed_all"])
                    or web.store.run(store.has_unsubscribed, data["email"]),
                    erased=erased, erase_url=path + "/erase", **ctx)


def _unsubscribe(web: Web, request: Request, token: str, data: dict, source: str) -> None:
    now = web.now_iso()
    # One event per link: a repeated one-click (providers retry) is stored once.
    event = {"provider_event_id": f"{PROVIDER}:unsubscribe:{security.token_digest(token)}", "provider": PROVIDER,
             "event": "unsubscribe", "email": data["email"], "campaign_id": data.get("campaign_id"),
             "occurred_at": now, "payload": {"source": source, "person_id": data.get("person_id")}}
    web.store.run(store.record_preferences, {"email": data["email"], "person_id": text_or_none(data.get("person_id")),
                                             "campaign_id": text_or_none(data.get("campaign_id")), "topics": None,
                                             "frequency": None, "unsubscribed_all": True, "changed_at": now,
                                             "source": source, "ip": client_ip(request),
                                             "user_agent": user_agent(request)}, event)
