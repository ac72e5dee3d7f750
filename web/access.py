"""Self-service access export (GDPR Art. 15): ``/privacy/access``.

A person enters an address; the service mails it a signed link that works once and for 24 hours
(``warmpool.tokens``, purpose ``access``). The page answers the same whatever the address is (in the
pool or not, mailed or capped), so it tells nobody who is in the pool. Opening the link shows a
button (a GET changes nothing: mail scanners follow links); pressing it makes the export
(``warmpool.privacy.access``: the CLI's ``export_person`` over every store) and spends the link.
Limits: the per-IP form limit of every form (``guards``) and the per-mailbox daily mail cap
(``Web.send_once``). Requests, refusals and downloads go to the privacy access log.
"""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from pipelines.erasure import stores
from warmpool import web_store as store
from warmpool.privacy import access
from warmpool.tokens import MAX_AGE_SECONDS, make_token
from web.context import Web, WebDep, mask_email
from web.guards import TEXT, email_form, form_body, form_page, require_csrf
from web.links import read_link
from web.mailer import transactional_message

router = APIRouter()
PURPOSE = "access"
TITLE = "Get a copy of my data"


def _now(web: Web) -> dt.datetime:
    return dt.datetime.fromtimestamp(web.now(), dt.timezone.utc)


def _check_inbox(web: Web, request: Request) -> Response:
    return web.page(request, "thanks.html", title="Check your inbox", kind="access")


def _refused(web: Web, request: Request, email: str | None, reason: str) -> Response:
    access.log_event(web.settings, "access_refused", email, {"reason": reason}, _now(web))
    return web.message(request, "This link is not valid",
                       "The link may have expired, been used already or been changed. Nothing was sent. "
                       "You can ask for a new one on our \u201cGet a copy of my data\u201d page.", 400,
                       link="/privacy/access", link_text=TITLE)


def _unused_link(web: Web, request: Request, token: str) -> dict[str, Any] | Response:
    """The payload of a valid access link not used yet, or the refusal page."""
    data = read_link(PURPOSE, token)
    if data is None:
        return _refused(web, request, None, "invalid or expired")
    if web.store.run(store.link_token_used, PURPOSE, data["n"]):
        return _refused(web, request, data["email"], "used")
    return data


@router.get("/privacy/access", response_class=HTMLResponse)
async def access_form(request: Request, web: WebDep) -> Response:
    return form_page(web, request, "access_request.html", title=TITLE)


@router.post("/privacy/access", response_class=HTMLResponse, openapi_extra=form_body({"email": TEXT}))
async def access_ask(request: Request, web: WebDep) -> Response:
    email = await email_form(web, request, "access_request.html", TITLE, lambda: _check_inbox(web, request))
    if isinstance(email, Response):
        return email
    return await run_in_threadpool(_mail_access_link, web, request, email)


def _mail_access_link(web: Web, request: Request, email: str) -> Response:
    # Mailed whether or not the address is in the pool: the answer and the mail reveal nothing here,
    # and only the mailbox's owner reads the export.
    def build() -> Any:
        token = make_token(PURPOSE, {"email": email, "n": secrets.token_urlsafe(12)})
        return transactional_message(web.settings, email, "Your link to a copy of your data", "access_link",
                                     {"access_url": f"{web.base_url}/privacy/access/{token}",
                                      "hours": MAX_AGE_SECONDS[PURPOSE] // 3600})

    outcome = web.send_once(email, "access_link", None, build)
    access.log_event(web.settings, "access_request", email, {"mail": outcome}, _now(web))
    if outcome == "failed":
        return web.message(request, "We could not send your email",
                           "Our mail server did not answer. Nothing was recorded; please try again later.", 503)
    return _check_inbox(web, request)


@router.get("/privacy/access/{token}", response_class=HTMLResponse)
def access_link(request: Request, token: str, web: WebDep) -> Response:
    data = _unused_link(web, request, token)
    if isinstance(data, Response):
        return data
    return form_page(web, request, "access_download.html", title=TITLE, email=mask_email(data["email"]))


@router.post("/privacy/access/{token}", openapi_extra=form_body({}))
async def access_download(request: Request, token: str, web: WebDep) -> Response:
    await require_csrf(web, request)
    return await run_in_threadpool(_download, web, request, token)


def _download(web: Web, request: Request, token: str) -> Response:
    data = _unused_link(web, request, token)
    if isinstance(data, Response):
        return data
    now = _now(web)
    try:
        archive = access.export_archive(data["email"], stores(), web.settings, now)
    except access.ExportUnavailable:
        return web.message(request, "Please try again shortly",
                           "Your data is being updated just now. Your link has not been used: open it again "
                           "in a few minutes.", 503, headers={"retry-after": "300"})
    # Spent after the export is made (a busy warehouse leaves the link working), before it is handed
    # over; of two presses at once only the one that spends it gets the file.
    if not web.store.run(store.spend_link_token, PURPOSE, data["n"], web.now_iso()):
        return _refused(web, request, data["email"], "used")
    return Response(archive, media_type="application/zip", headers={
        "content-disposition": f'attachment; filename="my-data-{now.date().isoformat()}.zip"',
        "cache-control": "no-store"})
