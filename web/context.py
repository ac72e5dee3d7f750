"""What every router of the web service shares, built once by ``create_app``: settings, limits
(``WebOptions``), the store, the mailer, the page templates, and the few helpers around them (page
rendering, the clock, the once-a-day mail). Routers get it as a FastAPI dependency (``WebDep``)."""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from warmpool import web_store as store
from warmpool.config import Settings
from warmpool.emails import canonical_email
from warmpool.mail import Mailer
from warmpool.resumes import ReadLimits, ResumeReader
from web import security

log = logging.getLogger("warmpool.web")
TEMPLATES = Path(__file__).parent / "templates"
# The provider name of the events the service records itself (unsubscribes, opens, clicks).
PROVIDER = "warmpool-web"


@dataclass
class WebOptions:
    """Every limit is configuration (tests and the load benchmark loosen some)."""
    min_fill_seconds: float = 3.0           # a person needs longer than this to fill the form
    submissions_per_minute: int = 5         # per client IP across the forms; the next one gets 429
    confirm_mails_per_day: int = 1          # per address (confirmation and referral notices alike)
    max_body_bytes: int = 6 * 1024 * 1024   # whole request
    max_upload_bytes: int = 5 * 1024 * 1024  # resume file
    max_field_bytes: int = 64 * 1024        # any non-file form part
    webhook_max_age: float = 300.0          # Mailgun timestamps older than this are refused
    max_webhook_bytes: int = 256 * 1024     # a webhook body (Mailgun's events are a few KB)
    resume_limits: ReadLimits = field(default_factory=ReadLimits)  # what reading one resume may cost
    resume_workers: int = 1                 # resumes read at once (each in its own child process)
    resume_queue: int = 4                   # more uploads waiting than this are told to try again
    mailgun_signing_key: str | None = None  # default: settings.secret("WARMPOOL_MAILGUN_SIGNING_KEY")
    clock: Callable[[], float] = time.time


class StoreUnavailable(RuntimeError):
    pass


class WebStore:
    """One SQLite connection per worker thread (sqlite3 connections are not shared across threads)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            con = getattr(self._local, "con", None)
            if con is None:
                con = store.connect_web(self.path)
                self._local.con = con
            return fn(con, *args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            self._drop()
            log.error("web store unavailable: %s", exc)
            raise StoreUnavailable(str(exc)) from exc

    def _drop(self) -> None:
        con = getattr(self._local, "con", None)
        self._local.con = None
        if con is not None:
            try:
                con.close()
            except Exception:
                pass


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return (local[:1] + "•••" if local else "") + "@" + domain


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def user_agent(request: Request) -> str:
    return (request.headers.get("user-agent") or "")[:500]


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class Web:
    """The shared things of one app instance."""

    def __init__(self, settings: Settings, options: WebOptions, mailer: Mailer):
        self.settings, self.options, self.mailer = settings, options, mailer
        self.store = WebStore(settings.web_store_path)
        self.base_url = settings.smtp.public_base_url.rstrip("/")
        self.https = self.base_url.startswith("https://")
        self.brand = settings.brand
        self.mailgun_signing_key = options.mailgun_signing_key or settings.secret("WARMPOOL_MAILGUN_SIGNING_KEY")
        self.limiter = security.RateLimiter(options.submissions_per_minute, 60.0, clock=options.clock)
        self.resumes = ResumeReader(options.resume_limits, options.resume_workers, options.resume_queue)
        self.templates = Jinja2Templates(directory=str(TEMPLATES))  # autoescape on for .html
        # Every page: the brand, the CAN-SPAM postal address, the privacy notice, and the demo banner.
        self.templates.env.globals.update(brand=settings.brand, physical_address=settings.smtp.physical_address,
                                          privacy_notice_url=settings.brand.privacy_notice_url, demo=settings.demo)

    def now(self) -> float:
        return self.options.clock()

    def now_iso(self) -> str:
        return iso(self.options.clock())

    def page(self, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("title", self.brand.company_name)
        resp = self.templates.TemplateResponse(request, name, ctx, status_code=status)
        resp.headers["cache-control"] = "no-store"
        return resp

    def message(self, request: Request, title: str, text: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return self.page(request, "message.html", status, title=title, text=text, **ctx)

    def send_once(self, email: str, kind: str, submission_id: int | None, build: Callable[[], Any]) -> str:
        """Send at most ``confirm_mails_per_day`` mails of this kind per mailbox in any 24 hours (so the
        forms cannot be used to flood someone's inbox); 'sent' | 'capped' | 'failed'."""
        now = self.now()
        mailbox = canonical_email(email) or email.strip().lower()
        claim = self.store.run(store.claim_mail, mailbox, kind, iso(now), iso(now - 86400), submission_id,
                               self.options.confirm_mails_per_day)
        if claim is None:
            return "capped"
        msg = build()
        try:
            self.mailer.send(msg)
        except Exception as exc:  # SMTP down: give the claim back so the person can retry
            log.error("mail to %s failed: %s", security.token_digest(email)[:8], exc)
            self.store.run(store.release_mail_claim, claim)
            return "failed"
        self.store.run(store.mark_mail_sent, claim, iso(self.now()), msg["Message-ID"])
        return "sent"


def web_of(request: Request) -> Web:
    return request.app.state.web


async def _web_dependency(request: Request) -> Web:
    # async on purpose: FastAPI runs a sync dependency in the thread pool, one thread hop per request.
    return web_of(request)


WebDep = Annotated[Web, Depends(_web_dependency)]
