"""The candidate-facing web service: talent-network opt-in (double opt-in), referrals, preference
centre and one-click unsubscribe, open/click tracking and the Mailgun webhook receiver.

Pages are server-rendered (Jinja2, autoescaped) and work without JavaScript. Everything durable
goes to ``warmpool.web_store`` (SQLite WAL) before anything is acknowledged or mailed.
"""
from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from warmpool.config import Settings, get_settings
from warmpool.tokens import InvalidToken, make_token, read_token
from warmpool import web_store as store
from web import forms, security
from web.mailer import Mailer, SmtpMailer, build_message

log = logging.getLogger("warmpool.web")
HERE = Path(__file__).parent
PROVIDER = "warmpool-web"
# The smallest transparent GIF (43 bytes).
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


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
    mailgun_signing_key: str | None = None  # default: env WARMPOOL_MAILGUN_SIGNING_KEY / sandbox key
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


def create_app(settings: Settings | None = None, *, mailer: Mailer | None = None,
               options: WebOptions | None = None) -> FastAPI:
    settings = settings or get_settings()
    opts = options or WebOptions()
    signing_key = opts.mailgun_signing_key or security.mailgun_signing_key()
    db = WebStore(settings.web_store_path)
    mail = mailer or SmtpMailer(settings.smtp)
    base_url = settings.smtp.public_base_url.rstrip("/")
    https = base_url.startswith("https://")
    limiter = security.RateLimiter(opts.submissions_per_minute, 60.0, clock=opts.clock)

    app = FastAPI(title="Warmpool", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.store, app.state.options = settings, db, opts
    templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape on for .html
    templates.env.globals["physical_address"] = settings.smtp.physical_address  # CAN-SPAM footer
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # ---------------------------------------------------------------- helpers
    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("title", "Warmpool")
        resp = templates.TemplateResponse(request, name, ctx, status_code=status)
        resp.headers["cache-control"] = "no-store"
        return resp

    def message(request: Request, title: str, text: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return page(request, "message.html", status, title=title, text=text, **ctx)

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def user_agent(request: Request) -> str:
        return (request.headers.get("user-agent") or "")[:500]

    def csrf_pair(request: Request, rendered_at: float | None = None) -> tuple[str, str, bool]:
        cookie = request.cookies.get(security.CSRF_COOKIE)
        fresh = not cookie or len(cookie) > 64
        if fresh:
            cookie = security.new_csrf_cookie()
        return cookie, security.make_csrf_field(cookie, rendered_at or opts.clock()), fresh

    def form_page(request: Request, name: str, status: int = 200, rendered_at: float | None = None,
                  **ctx: Any) -> HTMLResponse:
        cookie, field_value, fresh = csrf_pair(request, rendered_at)
        resp = page(request, name, status, csrf_field=security.CSRF_FIELD, csrf_token=field_value,
                    honeypot=security.HONEYPOT_FIELD, job_families=forms.JOB_FAMILIES, countries=forms.COUNTRIES,
                    relationships=forms.RELATIONSHIPS, consent_text=forms.CONSENT_TEXT,
                    consent_version=forms.CONSENT_VERSION, values=ctx.pop("values", {}),
                    errors=ctx.pop("errors", {}), **ctx)
        if fresh:
            resp.set_cookie(security.CSRF_COOKIE, cookie, max_age=12 * 3600, httponly=True, samesite="lax",
                            secure=https, path="/")
        return resp

    async def guarded_form(request: Request, bot_reply: Callable[[], Response]) -> tuple[Any, float] | Response:
        """Rate limit, CSRF, then the bot traps (honeypot, fill time). Returns (form, rendered_at) or
        the response to send; a bot gets ``bot_reply()``, the page a person would see: it tells a bot
        nothing."""
        if not limiter.hit(client_ip(request)):
            return message(request, "Too many submissions", "Please wait a minute and try again.", 429,
                           headers={"retry-after": "60"})
        form = await request.form(max_files=1, max_fields=80, max_part_size=opts.max_field_bytes)
        rendered_at = security.check_csrf(request.cookies.get(security.CSRF_COOKIE), form.get(security.CSRF_FIELD))
        if rendered_at is None:
            return csrf_refused(request)
        if is_bot(form, rendered_at):
            return bot_reply()
        return form, rendered_at

    def csrf_refused(request: Request) -> Response:
        return message(request, "This form has expired",
                       "For your security the form must be sent from this site with cookies enabled. "
                       "Please reload the page and try again.", 403)

    async def csrf_checked(request: Request) -> Any:
        """CSRF only, for forms a signed link already authorises (no per-IP limit, like /confirm).
        Returns the form, or the 403 response to send."""
        form = await request.form(max_files=0, max_fields=20, max_part_size=4096)
        if security.check_csrf(request.cookies.get(security.CSRF_COOKIE), form.get(security.CSRF_FIELD)) is None:
            return csrf_refused(request)
        return form

    def is_bot(form: Any, rendered_at: float) -> bool:
        if form.get(security.HONEYPOT_FIELD):
            return True
        return opts.clock() - rendered_at < opts.min_fill_seconds

    def send_once(email: str, kind: str, submission_id: int | None, build: Callable[[], Any]) -> str:
        """Send at most one mail of this kind per address per day; 'sent' | 'capped' | 'failed'."""
        now = opts.clock()
        claim = db.run(store.claim_mail, email.lower(), kind, iso(now), iso(now - 86400), submission_id)
        if claim is None:
            return "capped"
        msg = build()
        try:
            mail.send(msg)
        except Exception as exc:  # SMTP down: give the claim back so the person can retry
            log.error("mail to %s failed: %s", security.token_digest(email)[:8], exc)
            db.run(store.release_mail_claim, claim)
            return "failed"
        db.run(store.mark_mail_sent, claim, iso(opts.clock()), msg["Message-ID"])
        return "sent"

    # ---------------------------------------------------------------- errors
    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable) -> Response:
        if request.url.path.startswith("/webhooks/"):
            return JSONResponse({"error": "store unavailable"}, 503, headers={"retry-after": "60"})
        return message(request, "Please try again shortly",
                       "We could not save your request just now. Nothing was lost: please try again in a minute.",
                       503, headers={"retry-after": "60"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/webhooks/"):
            return JSONResponse({"error": exc.detail}, exc.status_code)
        titles = {404: "Page not found", 405: "Not allowed", 413: "Too large", 400: "Bad request"}
        return message(request, titles.get(exc.status_code, "Error"), str(exc.detail), exc.status_code)

    # ---------------------------------------------------------------- pages
    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        return page(request, "home.html", title="Careers at Warmpool")

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"ok": True}

    # ------------------------------------------------ talent network (double opt-in)
    @app.get("/talent-network", response_class=HTMLResponse)
    async def talent_form(request: Request) -> Response:
        return form_page(request, "talent_network.html", title="Join our talent network")

    @app.post("/talent-network", response_class=HTMLResponse)
    async def talent_submit(request: Request) -> Response:
        thanks = lambda: page(request, "thanks.html", title="Check your inbox", kind="talent_network")  # noqa: E731
        guarded = await guarded_form(request, thanks)
        if isinstance(guarded, Response):
            return guarded
        form, rendered_at = guarded

        res = forms.Result()
        v = res.values
        v["first_name"] = forms.clean_line(res, form, "first_name", "first name", required=True)
        v["last_name"] = forms.clean_line(res, form, "last_name", "last name", required=True)
        v["email"] = forms.clean_email(res, form, "email")
        v["country"] = forms.clean_choice(res, form, "country", forms.COUNTRIES, "country")
        v["phone"] = forms.clean_phone(res, form, "phone", v["country"])
        v["city"] = forms.clean_line(res, form, "city", "city")
        v["region"] = forms.clean_line(res, form, "region", "region or state")
        v["linkedin_url"] = forms.clean_url(res, form, "linkedin_url")
        v["current_title"] = forms.clean_line(res, form, "current_title", "current job title")
        families = forms.clean_multi(res, form.getlist("job_families"), "job_families", forms.JOB_FAMILIES,
                                     "job families", required=True)
        v["job_families"] = ";".join(families) or None
        v["skills"] = forms.clean_skills(res, form)
        if form.get("consent") != "yes":
            res.errors["consent"] = "Please tick the box: we can only keep you in the network with your consent."
        v["resume_text"] = await read_resume(form, res)
        if not res.ok:
            return form_page(request, "talent_network.html", 400, rendered_at=rendered_at, title="Join our talent network",
                             values=_echo(form), errors=res.errors, selected=set(form.getlist("job_families")))

        now = opts.clock()
        row = dict(v, form="talent_network", submitted_at=iso(now), consent_marketing=1,
                   consent_wording_version=forms.CONSENT_VERSION, consent_wording_hash=forms.CONSENT_HASH,
                   confirmed_at=None, ip=client_ip(request), user_agent=user_agent(request))
        return await run_in_threadpool(_store_and_confirm, request, row)

    def _store_and_confirm(request: Request, row: dict) -> Response:
        sid = db.run(store.insert_submission, row)
        email = row["email"]

        def build() -> Any:
            token = make_token("confirm", {"sid": sid, "email": email, "n": secrets.token_urlsafe(12)})
            return build_message(settings.smtp, email, "Please confirm you want to join our talent network",
                                 "confirm", {"first_name": row["first_name"], "confirm_url": f"{base_url}/confirm/{token}",
                                             "days": 3})

        outcome = send_once(email, "confirm", sid, build)
        if outcome == "failed":
            return message(request, "We could not send your confirmation email",
                           "Your details are saved, but our mail server did not answer. Please try again later.", 503)
        # 'capped' looks the same as 'sent': a second sign-up must not reveal anything about an address.
        return page(request, "thanks.html", title="Check your inbox", kind="talent_network")

    async def read_resume(form: Any, res: forms.Result) -> str | None:
        upload = form.get("resume")
        if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
            return None
        data = await upload.read(opts.max_upload_bytes + 1)
        if len(data) > opts.max_upload_bytes:
            res.errors["resume"] = f"The file is too large (at most {opts.max_upload_bytes // (1024 * 1024)} MB)."
            return None
        if not data:
            return None
        try:
            _, text = await run_in_threadpool(forms.sniff_and_extract, data)
        except forms.ResumeError as exc:
            res.errors["resume"] = str(exc)
            return None
        return text

    # ------------------------------------------------ confirmation
    def _confirm_token(token: str) -> dict | None:
        try:
            data = read_token("confirm", token)
        except InvalidToken:
            return None
        if not (isinstance(data, dict) and isinstance(data.get("sid"), int) and isinstance(data.get("email"), str)
                and isinstance(data.get("n"), str)):
            return None
        return data

    invalid_link = ("This link is not valid", "The link may have expired or been changed. "
                    "You can sign up again on the talent network page.")

    @app.get("/confirm/{token}", response_class=HTMLResponse)
    def confirm_page(request: Request, token: str) -> Response:
        # A GET changes nothing: mail scanners open links, only the person presses the button.
        data = _confirm_token(token)
        if data is None:
            return message(request, *invalid_link, 400, link="/talent-network")
        sub = db.run(store.get_submission, data["sid"])
        if sub is None or sub["email"] != data["email"]:
            return message(request, *invalid_link, 400, link="/talent-network")
        done = sub["confirmed_at"] is not None
        return page(request, "confirm.html", title="Confirm your email", done=done, first_name=sub["first_name"])

    @app.post("/confirm/{token}", response_class=HTMLResponse)
    def confirm_submit(request: Request, token: str) -> Response:
        data = _confirm_token(token)
        if data is None:
            return message(request, *invalid_link, 400, link="/talent-network")
        outcome = db.run(store.confirm_submission, data["sid"], data["email"], data["n"], iso(opts.clock()),
                         client_ip(request), user_agent(request))
        if outcome == "unknown":
            return message(request, *invalid_link, 400, link="/talent-network")
        sub = db.run(store.get_submission, data["sid"])
        return page(request, "confirm.html", title="You are in", done=True, just_now=outcome == "confirmed",
                    first_name=sub["first_name"] if sub else "")

    # ------------------------------------------------ referral
    @app.get("/referral", response_class=HTMLResponse)
    async def referral_form(request: Request) -> Response:
        return form_page(request, "referral.html", title="Refer someone")

    @app.post("/referral", response_class=HTMLResponse)
    async def referral_submit(request: Request) -> Response:
        guarded = await guarded_form(request, lambda: page(request, "thanks.html", title="Thank you", kind="referral"))
        if isinstance(guarded, Response):
            return guarded
        form, rendered_at = guarded
        res = forms.Result()
        v = res.values
        v["referrer_name"] = forms.clean_line(res, form, "referrer_name", "your name", required=True)
        v["referrer_email"] = forms.clean_email(res, form, "referrer_email", "work email address")
        v["first_name"] = forms.clean_line(res, form, "first_name", "candidate's first name", required=True)
        v["last_name"] = forms.clean_line(res, form, "last_name", "candidate's last name", required=True)
        v["email"] = forms.clean_email(res, form, "email", "candidate's email address")
        v["country"] = forms.clean_choice(res, form, "country", forms.COUNTRIES, "country")
        v["phone"] = forms.clean_phone(res, form, "phone", v["country"])
        v["city"] = forms.clean_line(res, form, "city", "city")
        v["region"] = forms.clean_line(res, form, "region", "region or state")
        v["linkedin_url"] = forms.clean_url(res, form, "linkedin_url")
        v["current_title"] = forms.clean_line(res, form, "current_title", "current job title")
        v["current_company"] = forms.clean_line(res, form, "current_company", "current employer")
        v["job_families"] = forms.clean_choice(res, form, "job_family", forms.JOB_FAMILIES, "job family", required=True)
        v["relationship"] = forms.clean_choice(res, form, "relationship", forms.RELATIONSHIPS, "relationship",
                                               required=True)
        v["skills"] = forms.clean_skills(res, form)
        if v["email"] and v["email"] == v["referrer_email"]:
            res.errors["email"] = "Please enter the candidate's address, not your own."
        if form.get("candidate_informed") != "yes":
            res.errors["candidate_informed"] = "Please tell the person you are referring them, then tick the box."
        if not res.ok:
            return form_page(request, "referral.html", 400, rendered_at=rendered_at, title="Refer someone",
                             values=_echo(form), errors=res.errors)
        row = dict(v, form="referral", submitted_at=iso(opts.clock()), consent_marketing=0, confirmed_at=None,
                   ip=client_ip(request), user_agent=user_agent(request))
        return await run_in_threadpool(_store_and_notify, request, row)

    def _store_and_notify(request: Request, row: dict) -> Response:
        sid = db.run(store.insert_submission, row)
        email = row["email"]

        def build() -> Any:
            # A referred person never gave us their data: tell them who did, what we keep, and how
            # to object (GDPR Art. 14). We notify everyone, the strictest region's rule.
            unsub = make_token("unsubscribe", {"email": email, "person_id": None, "campaign_id": "referral-notice"})
            unsub_url = f"{base_url}/u/{unsub}"
            return build_message(
                settings.smtp, email, "Someone referred you for a job at Warmpool", "referral_notice",
                {"first_name": row["first_name"], "referrer_name": row["referrer_name"],
                 "job_family": forms.JOB_FAMILIES.get(row["job_families"], ""), "unsubscribe_url": unsub_url,
                 "join_url": f"{base_url}/talent-network"},
                extra_headers={"List-Unsubscribe": f"<{unsub_url}>",
                               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})

        send_once(email, "referral_notice", sid, build)  # a failed notice is retried by the next referral
        return page(request, "thanks.html", title="Thank you", kind="referral")

    # ------------------------------------------------ preference centre and one-click unsubscribe
    def _link_token(purpose: str, token: str) -> dict | None:
        try:
            data = read_token(purpose, token)
        except InvalidToken:
            return None
        return data if isinstance(data, dict) and isinstance(data.get("email"), str) and data["email"] else None

    def _prefs_page(request: Request, data: dict, status: int = 200, **ctx: Any) -> Response:
        current = db.run(store.current_preferences, data["email"])
        erased = db.run(store.erasure_request_for, data["email"])
        path = request.url.path.rstrip("/")
        if current is None:
            topics = set(forms.TOPICS)  # nobody chose yet: everything they signed up for
        else:
            topics = set((current.get("topics") or "").split(";")) - {""}
        return page(request, "preferences.html", status, title="Your email preferences",
                    email=mask_email(data["email"]), topics=forms.TOPICS, frequencies=forms.FREQUENCIES,
                    chosen=topics, frequency=(current or {}).get("frequency") or "normal",
                    unsubscribed=bool(current and current["unsubscribed_all"])
                    or db.run(store.has_unsubscribed, data["email"]),
                    erased=erased, erase_url=path + "/erase", **ctx)

    def _unsubscribe(request: Request, token: str, data: dict, source: str) -> None:
        now = iso(opts.clock())
        event = {"provider_event_id": f"{PROVIDER}:unsubscribe:{security.token_digest(token)}", "provider": PROVIDER,
                 "event": "unsubscribe", "email": data["email"], "campaign_id": data.get("campaign_id"),
                 "occurred_at": now, "payload": {"source": source, "person_id": data.get("person_id")}}
        db.run(store.record_preferences, {"email": data["email"], "person_id": _s(data.get("person_id")),
                                          "campaign_id": _s(data.get("campaign_id")), "topics": None,
                                          "frequency": None, "unsubscribed_all": True, "changed_at": now,
                                          "source": source, "ip": client_ip(request),
                                          "user_agent": user_agent(request)}, event)

    for prefix, purpose in (("/u", "unsubscribe"), ("/p", "preferences")):
        def make_routes(purpose: str = purpose) -> tuple[Callable, Callable]:
            def show(request: Request, token: str) -> Response:
                # GET changes nothing: link scanners and prefetchers follow every link in a mail.
                data = _link_token(purpose, token)
                if data is None:
                    return message(request, *invalid_link[:1], "The link may have been changed. Use the link in "
                                   "your most recent email from us, or reply to it and we will remove you.", 400)
                return _prefs_page(request, data)

            async def change(request: Request, token: str) -> Response:
                form = await request.form(max_files=0, max_fields=20, max_part_size=4096)
                return await run_in_threadpool(_change, request, token, form)

            def _change(request: Request, token: str, form: Any) -> Response:
                data = _link_token(purpose, token)
                if data is None:
                    return message(request, *invalid_link[:1], "Nothing was changed.", 400)
                if form.get("List-Unsubscribe") == "One-Click":
                    # RFC 8058: no cookies, no redirect, idempotent, a plain 200.
                    _unsubscribe(request, token, data, "one_click")
                    return HTMLResponse("<!doctype html><title>Unsubscribed</title><p>You are unsubscribed.</p>",
                                        200, headers={"cache-control": "no-store"})
                action = form.get("action")
                if action == "unsubscribe":
                    _unsubscribe(request, token, data, "page")
                    return _prefs_page(request, data, notice="You are unsubscribed from all our emails.")
                if action == "save":
                    if db.run(store.has_erasure_request, data["email"]):
                        return _prefs_page(request, data)  # the page says the data is being deleted
                    if db.run(store.has_unsubscribed, data["email"]):
                        # Suppression is permanent downstream: saving topics would change nothing.
                        return _prefs_page(request, data, notice="You are unsubscribed from all our emails.")
                    res = forms.Result()
                    topics = forms.clean_multi(res, form.getlist("topics"), "topics", forms.TOPICS, "topics")
                    frequency = forms.clean_choice(res, form, "frequency", forms.FREQUENCIES, "frequency") or "normal"
                    if not res.ok:
                        return _prefs_page(request, data, 400, notice="Please choose from the options shown.")
                    if not topics:  # nothing left ticked means: no more mail
                        _unsubscribe(request, token, data, "page")
                        return _prefs_page(request, data, notice="You are unsubscribed from all our emails.")
                    db.run(store.record_preferences, {
                        "email": data["email"], "person_id": _s(data.get("person_id")),
                        "campaign_id": _s(data.get("campaign_id")), "topics": ";".join(topics),
                        "frequency": frequency, "unsubscribed_all": False, "changed_at": iso(opts.clock()),
                        "source": "page", "ip": client_ip(request), "user_agent": user_agent(request)})
                    return _prefs_page(request, data, notice="Your preferences are saved.")
                return message(request, "Nothing to do", "Nothing was changed.", 400)

            return show, change

        show, change = make_routes()
        app.add_api_route(prefix + "/{token}", show, methods=["GET"], response_class=HTMLResponse)
        app.add_api_route(prefix + "/{token}", change, methods=["POST"], response_class=HTMLResponse)

    # ------------------------------------------------ erasure (GDPR Art. 17)
    # The request is recorded and the address suppressed at once (the sender reads this table; the
    # pipeline suppresses the whole person). Deleting the person's records is the operator's job.
    erase_invalid = ("This link is not valid", "The link may have expired, been used already or been changed. "
                     "Nothing was changed. You can ask again on our \u201cDelete my data\u201d page.")

    def _erase_done(request: Request, outcome: str, row: dict | None) -> Response:
        return page(request, "erase_done.html", title="Your request to delete your data",
                    already=outcome != "recorded", requested_on=((row or {}).get("requested_at") or "")[:10])

    def _erase_confirm(request: Request, email: str, back: str | None = None) -> Response:
        # GET changes nothing (mail scanners follow links); the button POSTs with the CSRF pair.
        return form_page(request, "erase_confirm.html", title="Delete my data", email=mask_email(email), back=back)

    def _erase_row(request: Request, data: dict, source: str) -> dict:
        return {"email": data["email"].strip(), "person_id": _s(data.get("person_id")),
                "campaign_id": _s(data.get("campaign_id")), "requested_at": iso(opts.clock()),
                "ip": client_ip(request), "user_agent": user_agent(request), "source": source}

    # From the preference centre: the mail's signed link (unsubscribe or preferences token) is the
    # authorisation; the confirmation form adds the CSRF pair.
    for prefix, purpose in (("/u", "unsubscribe"), ("/p", "preferences")):
        def make_erase_routes(prefix: str = prefix, purpose: str = purpose) -> tuple[Callable, Callable]:
            def show(request: Request, token: str) -> Response:
                data = _link_token(purpose, token)
                if data is None:
                    return message(request, *erase_invalid, 400, link="/privacy/erase", link_text="Delete my data")
                existing = db.run(store.erasure_request_for, data["email"])
                if existing is not None:
                    return _erase_done(request, "exists", existing)
                return _erase_confirm(request, data["email"], back=f"{prefix}/{token}")

            async def submit(request: Request, token: str) -> Response:
                form = await csrf_checked(request)
                if isinstance(form, Response):
                    return form
                return await run_in_threadpool(_submit, request, token)

            def _submit(request: Request, token: str) -> Response:
                data = _link_token(purpose, token)
                if data is None:
                    return message(request, *erase_invalid, 400, link="/privacy/erase", link_text="Delete my data")
                outcome, row = db.run(store.record_erasure_request, _erase_row(request, data, "preference_centre"))
                return _erase_done(request, outcome, row)

            return show, submit

        erase_show, erase_submit = make_erase_routes()
        app.add_api_route(prefix + "/{token}/erase", erase_show, methods=["GET"], response_class=HTMLResponse)
        app.add_api_route(prefix + "/{token}/erase", erase_submit, methods=["POST"], response_class=HTMLResponse)

    # Standalone: anyone may ask, but only the mailbox's owner can confirm (a single-use link that
    # expires), so nobody can have someone else's data erased.
    @app.get("/privacy/erase", response_class=HTMLResponse)
    async def erase_form(request: Request) -> Response:
        return form_page(request, "erase_request.html", title="Delete my data")

    @app.post("/privacy/erase", response_class=HTMLResponse)
    async def erase_ask(request: Request) -> Response:
        guarded = await guarded_form(
            request, lambda: page(request, "thanks.html", title="Check your inbox", kind="erase"))
        if isinstance(guarded, Response):
            return guarded
        form, rendered_at = guarded
        res = forms.Result()
        email = forms.clean_email(res, form, "email", "email address")
        if not res.ok or email is None:
            return form_page(request, "erase_request.html", 400, rendered_at=rendered_at, title="Delete my data",
                             values=_echo(form), errors=res.errors)
        return await run_in_threadpool(_mail_erase_link, request, email)

    def _mail_erase_link(request: Request, email: str) -> Response:
        # The same answer whatever we know about the address: the page reveals nothing.
        checked = page(request, "thanks.html", title="Check your inbox", kind="erase")
        if db.run(store.has_erasure_request, email):
            return checked  # already asked: nothing to confirm, and no more mail to this address

        def build() -> Any:
            token = make_token("erase", {"email": email, "n": secrets.token_urlsafe(12)})
            return build_message(settings.smtp, email, "Please confirm that you want us to delete your data",
                                 "erase_confirm", {"confirm_url": f"{base_url}/privacy/erase/{token}", "hours": 24})

        if send_once(email, "erase_confirm", None, build) == "failed":
            return message(request, "We could not send your confirmation email",
                           "Our mail server did not answer. Nothing was recorded; please try again later.", 503)
        return checked

    def _erase_token(token: str) -> dict | None:
        try:
            data = read_token("erase", token)
        except InvalidToken:
            return None
        if not (isinstance(data, dict) and isinstance(data.get("email"), str) and data["email"]
                and isinstance(data.get("n"), str)):
            return None
        return data

    @app.get("/privacy/erase/{token}", response_class=HTMLResponse)
    def erase_link(request: Request, token: str) -> Response:
        data = _erase_token(token)
        if data is None:
            return message(request, *erase_invalid, 400, link="/privacy/erase", link_text="Delete my data")
        existing = db.run(store.erasure_request_for, data["email"])
        if existing is not None:
            return _erase_done(request, "exists", existing)
        if db.run(store.link_token_used, "erase", data["n"]):
            return message(request, *erase_invalid, 400, link="/privacy/erase", link_text="Delete my data")
        return _erase_confirm(request, data["email"])

    @app.post("/privacy/erase/{token}", response_class=HTMLResponse)
    async def erase_link_submit(request: Request, token: str) -> Response:
        form = await csrf_checked(request)
        if isinstance(form, Response):
            return form
        return await run_in_threadpool(_erase_link_submit, request, token)

    def _erase_link_submit(request: Request, token: str) -> Response:
        data = _erase_token(token)
        if data is None:
            return message(request, *erase_invalid, 400, link="/privacy/erase", link_text="Delete my data")
        outcome, row = db.run(store.record_erasure_request, _erase_row(request, data, "privacy_page"),
                              ("erase", data["n"]))
        if outcome == "used":
            existing = db.run(store.erasure_request_for, data["email"])
            if existing is None:
                return message(request, *erase_invalid, 400, link="/privacy/erase", link_text="Delete my data")
            return _erase_done(request, "exists", existing)
        return _erase_done(request, outcome, row)

    # ------------------------------------------------ tracking
    @app.get("/o/{token}.gif")
    def open_pixel(request: Request, token: str) -> Response:
        data = _tracking_token("open", token)
        if data is not None:
            ua = request.headers.get("user-agent") or ""
            # Apple Mail Privacy Protection prefetches through a proxy announcing a bare
            # "Mozilla/5.0": counted, but apart from human opens.
            machine = int(ua.strip() == "Mozilla/5.0")
            _track(request, token, "open", data, None, machine)
        # Same answer for a bad token: the pixel reveals nothing.
        return Response(PIXEL, media_type="image/gif",
                        headers={"cache-control": "no-store, no-cache, must-revalidate, private"})

    @app.get("/c/{token}")
    def click(request: Request, token: str) -> Response:
        data = _tracking_token("click", token)
        url = data.get("url") if data else None
        # Only a URL inside a token we signed (so one the campaign declared), and only web URLs:
        # this endpoint can never be used as an open redirect.
        if not _web_url(url):
            return message(request, "Link not found", "This link is not valid.", 404)
        _track(request, token, "click", data, url, 0)
        return RedirectResponse(url, 302, headers={"cache-control": "no-store"})

    def _tracking_token(purpose: str, token: str) -> dict | None:
        data = _link_token(purpose, token)
        return data

    def _track(request: Request, token: str, event: str, data: dict, url: str | None, machine: int) -> None:
        now = opts.clock()
        # One row per link per hour: reloads and proxies do not inflate the counts.
        event_id = f"{PROVIDER}:{event}:{security.token_digest(token)}:{int(now // 3600)}"
        try:
            db.run(store.insert_email_events, [{
                "provider_event_id": event_id, "provider": PROVIDER, "event": event, "email": data["email"],
                "campaign_id": _s(data.get("campaign_id")), "message_id": _s(data.get("message_id")),
                "occurred_at": iso(now), "url": url, "is_machine_open": machine,
                "payload": {"person_id": data.get("person_id"), "user_agent": user_agent(request)}}])
        except StoreUnavailable:
            pass  # the person still gets the pixel or the page they clicked; one lost count is logged

    # ------------------------------------------------ Mailgun webhooks
    @app.post("/webhooks/mailgun")
    async def mailgun_webhook(request: Request) -> Response:
        body = await request.body()
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "invalid JSON"}, 400)
        if not isinstance(doc, dict):
            return JSONResponse({"error": "invalid payload"}, 400)
        sig = doc.get("signature")
        problem = security.verify_mailgun(signing_key, sig, opts.clock(), opts.webhook_max_age)
        if problem:
            return JSONResponse({"error": problem}, 403)
        ed = doc.get("event-data")
        if not isinstance(ed, dict):
            return JSONResponse({"error": "missing event-data"}, 400)
        row = _mailgun_row(ed)
        if isinstance(row, str):
            return JSONResponse({"error": row}, 400)
        fresh, inserted = await run_in_threadpool(db.run, store.insert_webhook_events, "mailgun", sig["token"],
                                                  iso(opts.clock()), [row] if row else [])
        if not fresh:
            # 406 tells Mailgun not to retry: this signed request was already stored.
            return JSONResponse({"error": "replayed token"}, 406)
        return JSONResponse({"status": "stored" if inserted else ("duplicate" if row else "ignored")}, 200)

    app.add_middleware(security.BodySizeLimit, max_bytes=opts.max_body_bytes)
    app.add_middleware(security.SecurityHeaders, hsts=https)  # outermost: even a 413 carries the headers
    return app


MAILGUN_EVENTS = {"delivered": "delivered", "opened": "open", "clicked": "click", "failed": "bounce",
                  "complained": "complaint", "unsubscribed": "unsubscribe"}


def _mailgun_row(ed: dict) -> dict | None | str:
    """Mailgun event-data -> an email_events row; None for kinds we do not keep; str = error."""
    kind = MAILGUN_EVENTS.get(ed.get("event"))
    if kind is None:
        return None
    event_id, recipient = ed.get("id"), ed.get("recipient")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 200 or not isinstance(recipient, str):
        return "event-data needs id and recipient"
    try:
        occurred = iso(float(ed.get("timestamp")))
    except (TypeError, ValueError, OverflowError, OSError):
        return "bad event timestamp"
    uv = ed.get("user-variables") if isinstance(ed.get("user-variables"), dict) else {}
    headers = (ed.get("message") or {}).get("headers") if isinstance(ed.get("message"), dict) else None
    bounce = None
    if kind == "bounce":
        bounce = "hard" if ed.get("severity") == "permanent" else "soft"
    return {"provider_event_id": f"mailgun:{event_id}", "provider": "mailgun", "event": kind,
            "email": recipient.strip().lower(), "campaign_id": _s(uv.get("campaign_id")),
            "message_id": _s((headers or {}).get("message-id")) if isinstance(headers, dict) else None,
            "occurred_at": occurred, "url": _s(ed.get("url")), "bounce_type": bounce, "is_machine_open": 0,
            "payload": ed}


def _web_url(url: Any) -> bool:
    if not isinstance(url, str) or any(ch in url for ch in "\r\n\x00"):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _echo(form: Any) -> dict[str, str]:
    """Submitted values to re-fill a form after an error (escaped by the templates)."""
    return {k: v for k, v in form.multi_items() if isinstance(v, str) and k not in (security.CSRF_FIELD,)}
