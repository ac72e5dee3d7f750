"""The candidate-facing web service: ``create_app`` wires settings, the store, the mailer, templates,
middleware and one router per area:

- ``site``: the start page and ``/healthz``
- ``talent_network``: opt-in form and double opt-in confirmation
- ``referrals``: employee referrals and the notice to the referred candidate
- ``preferences``: preference centre and (RFC 8058 one-click) unsubscribe
- ``privacy``: erasure requests
- ``access``: self-service access export (a mailed single-use link to a download)
- ``tracking``: open pixel and click redirect
- ``webhooks``: the Mailgun webhook receiver

What they share is in ``context`` (a ``Web`` per app, a FastAPI dependency), ``guards`` (form
handling: CSRF, honeypot, fill time, rate limit) and ``links`` (reading signed links). Pages are
server-rendered (Jinja2, autoescaped) and work without JavaScript. Everything durable goes to
``warmpool.web_store`` (SQLite WAL) before anything is acknowledged or mailed.
"""
from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from warmpool.config import WEB_SECRETS, Settings, check_deployment, get_settings
from warmpool.mail import Mailer, RelayMailer
from web import access, preferences, privacy, referrals, security, site, talent_network, tracking, webhooks
from web.context import StoreUnavailable, Web, WebOptions, web_of
from web.guards import Refusal, answer_refusal

log = logging.getLogger("warmpool.web")
STATIC = Path(__file__).parent / "static"
ROUTERS = (site.router, talent_network.router, referrals.router, preferences.router, privacy.router,
           access.router, tracking.router, webhooks.router)


def create_app(settings: Settings | None = None, *, mailer: Mailer | None = None,
               options: WebOptions | None = None) -> FastAPI:
    """The app; UnsafeDeployment (``warmpool.config.check_deployment``) instead of one that would run on
    the sandbox's public secrets outside demo mode, or in demo mode beyond this machine."""
    settings = settings or get_settings()
    check_deployment(settings, WEB_SECRETS)
    if settings.demo:
        log.warning("DEMO MODE: the sandbox's public secrets sign links and webhooks; this machine only "
                    "(every page shows a demo banner). Unset WARMPOOL_DEMO and set the secrets to go live.")
    web = Web(settings, options or WebOptions(), mailer or RelayMailer(settings.smtp))
    # /openapi.json describes every public endpoint, form bodies and the webhook's included (the
    # schema-driven fuzz tests read it); no docs pages are served.
    app = FastAPI(title=f"{settings.brand.company_name} careers", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json")
    app.state.web = web
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_exception_handler(StoreUnavailable, store_down)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Refusal, answer_refusal)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(security.BodySizeLimit, max_bytes=web.options.max_body_bytes)
    app.add_middleware(security.SecurityHeaders, hsts=web.https)  # outermost: even a 413 carries the headers
    return app


async def store_down(request: Request, exc: StoreUnavailable) -> Response:
    if request.url.path.startswith("/webhooks/"):
        return JSONResponse({"error": "store unavailable"}, 503, headers={"retry-after": "60"})
    return web_of(request).message(
        request, "Please try again shortly",
        "We could not save your request just now. Nothing was lost: please try again in a minute.",
        503, headers={"retry-after": "60"})


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if request.url.path.startswith("/webhooks/"):
        return JSONResponse({"error": exc.detail}, exc.status_code)
    titles = {404: "Page not found", 405: "Not allowed", 413: "Too large", 400: "Bad request"}
    return web_of(request).message(request, titles.get(exc.status_code, "Error"), str(exc.detail), exc.status_code)
