"""Engagement tracking from campaign mails: the open pixel and the click redirect, each carrying a
signed token (written by ``warmpool.campaigns.message``)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from warmpool import web_store as store
from warmpool.mail import breaks_header
from web import security
from web.context import PROVIDER, StoreUnavailable, Web, WebDep, iso, text_or_none, user_agent
from web.links import read_link

router = APIRouter()

# The smallest transparent GIF (43 bytes).
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


@router.get("/o/{token}.gif")
def open_pixel(request: Request, token: str, web: WebDep) -> Response:
    data = read_link("open", token)
    if data is not None:
        ua = request.headers.get("user-agent") or ""
        # Apple Mail Privacy Protection prefetches through a proxy announcing a bare
        # "Mozilla/5.0": counted, but apart from human opens.
        machine = int(ua.strip() == "Mozilla/5.0")
        _track(web, request, token, "open", data, None, machine)
    # Same answer for a bad token: the pixel reveals nothing.
    return Response(PIXEL, media_type="image/gif",
                    headers={"cache-control": "no-store, no-cache, must-revalidate, private"})


@router.get("/c/{token}")
def click(request: Request, token: str, web: WebDep) -> Response:
    data = read_link("click", token)
    url = data.get("url") if data else None
    # Only a URL inside a token we signed (so one the campaign declared), and only web URLs:
    # this endpoint can never be used as an open redirect.
    if not _web_url(url):
        return web.message(request, "Link not found", "This link is not valid.", 404)
    _track(web, request, token, "click", data, url, 0)
    return RedirectResponse(url, 302, headers={"cache-control": "no-store"})


def _track(web: Web, request: Request, token: str, event: str, data: dict, url: str | None, machine: int) -> None:
    now = web.now()
    # One row per link per hour: reloads and proxies do not inflate the counts.
    event_id = f"{PROVIDER}:{event}:{security.token_digest(token)}:{int(now // 3600)}"
    try:
        web.store.run(store.insert_email_events, [{
            "provider_event_id": event_id, "provider": PROVIDER, "event": event, "email": data["email"],
            "campaign_id": text_or_none(data.get("campaign_id")), "message_id": text_or_none(data.get("message_id")),
            "occurred_at": iso(now), "url": url, "is_machine_open": machine,
            "payload": {"person_id": data.get("person_id"), "user_agent": user_agent(request)}}])
    except StoreUnavailable:
        pass  # the person still gets the pixel or the page they clicked; one lost count is logged


def _web_url(url: Any) -> bool:
    # The URL becomes the Location header: the one header guard refuses line breaks.
    if not isinstance(url, str) or breaks_header(url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False
