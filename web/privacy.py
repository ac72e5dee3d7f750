"""Erasure requests (GDPR Art. 17). A request is recorded and the address suppressed at once (the
sender reads this table; the pipeline suppresses the whole person); the privacy job
(``warmpool privacy queue``, Dagster's ``privacy_erasures_job``) then erases the person from every
store (docs/privacy.md).

Two ways in: from the preference centre (``/u|p/{token}/erase``: the mail's signed link is the
authorisation, the confirmation button adds the CSRF pair), or standalone (``/privacy/erase``: anyone
may ask, but only the mailbox's owner can confirm, with a single-use link that expires, so nobody can
have someone else's data erased)."""
from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from warmpool import web_store as store
from warmpool.tokens import make_token
from web.context import Web, WebDep, client_ip, mask_email, text_or_none, user_agent
from web.guards import TEXT, email_form, form_body, form_page, require_csrf
from web.links import read_link
from web.mailer import transactional_message

router = APIRouter()

INVALID_LINK = ("This link is not valid", "The link may have expired, been used already or been changed. "
                "Nothing was changed. You can ask again on our \u201cDelete my data\u201d page.")


def _invalid(web: Web, request: Request) -> Response:
    return web.message(request, *INVALID_LINK, 400, link="/privacy/erase", link_text="Delete my data")


def _done(web: Web, request: Request, outcome: str, row: dict | None) -> Response:
    return web.page(request, "erase_done.html", title="Your request to delete your data",
                    already=outcome != "recorded", requested_on=((row or {}).get("requested_at") or "")[:10])


def _confirm(web: Web, request: Request, email: str, back: str | None = None) -> Response:
    # GET changes nothing (mail scanners follow links); the button POSTs with the CSRF pair.
    return form_page(web, request, "erase_confirm.html", title="Delete my data", email=mask_email(email), back=back)


def _request_row(web: Web, request: Request, data: dict, source: str) -> dict:
    return {"email": data["email"].strip(), "person_id": text_or_none(data.get("person_id")),
            "campaign_id": text_or_none(data.get("campaign_id")), "requested_at": web.now_iso(),
            "ip": client_ip(request), "user_agent": user_agent(request), "source": source}


# --- from the preference centre --------------------------------------------------------------------

@router.get("/u/{token}/erase", response_class=HTMLResponse)
def unsubscribe_link_erase(request: Request, token: str, web: WebDep) -> Response:
    return _show_from_link(web, request, "unsubscribe", token, back=f"/u/{token}")


@router.post("/u/{token}/erase", response_class=HTMLResponse, openapi_extra=form_body({}))
async def unsubscribe_link_erase_submit(request: Request, token: str, web: WebDep) -> Response:
    return await _submit_from_link(web, request, "unsubscribe", token)


@router.get("/p/{token}/erase", response_class=HTMLResponse)
def preferences_link_erase(request: Request, token: str, web: WebDep) -> Response:
    return _show_from_link(web, request, "preferences", token, back=f"/p/{token}")


@router.post("/p/{token}/erase", response_class=HTMLResponse, openapi_extra=form_body({}))
async def preferences_link_erase_submit(request: Request, token: str, web: WebDep) -> Response:
    return await _submit_from_link(web, request, "preferences", token)


def _show_from_link(web: Web, request: Request, purpose: str, token: str, back: str) -> Response:
    data = read_link(purpose, token)
    if data is None:
        return _invalid(web, request)
    existing = web.store.run(store.erasure_request_for, data["email"])
    if existing is not None:
        return _done(web, request, "exists", existing)
    return _confirm(web, request, data["email"], back=back)


async def _submit_from_link(web: Web, request: Request, purpose: str, token: str) -> Response:
    await require_csrf(web, request)
    return await run_in_threadpool(_record_from_link, web, request, purpose, token)


def _record_from_link(web: Web, request: Request, purpose: str, token: str) -> Response:
    data = read_link(purpose, token)
    if data is None:
        return _invalid(web, request)
    outcome, row = web.store.run(store.record_erasure_request, _request_row(web, request, data, "preference_centre"))
    return _done(web, request, outcome, row)


# --- standalone: ask, then confirm from the mailed link -----------------------------------------

@router.get("/privacy/erase", response_class=HTMLResponse)
async def erase_form(request: Request, web: WebDep) -> Response:
    return form_page(web, request, "erase_request.html", title="Delete my data")


def _check_inbox(web: Web, request: Request) -> Response:
    return web.page(request, "thanks.html", title="Check your inbox", kind="erase")


@router.post("/privacy/erase", response_class=HTMLResponse, openapi_extra=form_body({"email": TEXT}))
async def erase_ask(request: Request, web: WebDep) -> Response:
    email = await email_form(web, request, "erase_request.html", "Delete my data", lambda: _check_inbox(web, request))
    if isinstance(email, Response):
        return email
    return await run_in_threadpool(_mail_erase_link, web, request, email)


def _mail_erase_link(web: Web, request: Request, email: str) -> Response:
    # The same answer whatever we know about the address: the page reveals nothing.
    if web.store.run(store.has_erasure_request, email):
        return _check_inbox(web, request)  # already asked: nothing to confirm, and no more mail to this address

    def build() -> Any:
        token = make_token("erase", {"email": email, "n": secrets.token_urlsafe(12)})
        return transactional_message(web.settings, email, "Please confirm that you want us to delete your data",
                                     "erase_confirm", {"confirm_url": f"{web.base_url}/privacy/erase/{token}",
                                                       "hours": 24})

    if web.send_once(email, "erase_confirm", None, build) == "failed":
        return web.message(request, "We could not send your confirmation email",
                           "Our mail server did not answer. Nothing was recorded; please try again later.", 503)
    return _check_inbox(web, request)


@router.get("/privacy/erase/{token}", response_class=HTMLResponse)
def erase_link(request: Request, token: str, web: WebDep) -> Response:
    data = read_link("erase", token)
    if data is None:
        return _invalid(web, request)
    existing = web.store.run(store.erasure_request_for, data["email"])
    if existing is not None:
        return _done(web, request, "exists", existing)
    if web.store.run(store.link_token_used, "erase", data["n"]):
        return _invalid(web, request)
    return _confirm(web, request, data["email"])


@router.post("/privacy/erase/{token}", response_class=HTMLResponse, openapi_extra=form_body({}))
async def erase_link_submit(request: Request, token: str, web: WebDep) -> Response:
    await require_csrf(web, request)
    return await run_in_threadpool(_record_from_erase_link, web, request, token)


def _record_from_erase_link(web: Web, request: Request, token: str) -> Response:
    data = read_link("erase", token)
    if data is None:
        return _invalid(web, request)
    outcome, row = web.store.run(store.record_erasure_request, _request_row(web, request, data, "privacy_page"),
                                 ("erase", data["n"]))
    if outcome == "used":
        existing = web.store.run(store.erasure_request_for, data["email"])
        if existing is None:
            return _invalid(web, request)
        return _done(web, request, "exists", existing)
    return _done(web, request, outcome, row)
