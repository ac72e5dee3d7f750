"""Talent-network opt-in with double opt-in: the form stores a pending submission with its consent
record and mails a confirmation link; the link's page confirms once."""
from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from warmpool import web_store as store
from warmpool.mail import plain_name
from warmpool.resumes import ResumeError
from warmpool.tokens import make_token
from web import forms
from web.context import Web, WebDep, client_ip, user_agent
from web.guards import TEXT, choice, echo_form, form_body, form_page, guarded_form
from web.links import read_link
from web.mailer import transactional_message

router = APIRouter()

INVALID_LINK = ("This link is not valid", "The link may have expired or been changed. "
                "You can sign up again on the talent network page.")


def _thanks(web: Web, request: Request) -> Response:
    return web.page(request, "thanks.html", title="Check your inbox", kind="talent_network")


@router.get("/talent-network", response_class=HTMLResponse)
async def talent_form(request: Request, web: WebDep) -> Response:
    return form_page(web, request, "talent_network.html", title="Join our talent network")


@router.post("/talent-network", response_class=HTMLResponse, openapi_extra=form_body({
    **{name: TEXT for name in ("first_name", "last_name", "email", "phone", "city", "region", "linkedin_url",
                               "current_title", "skills")},
    "country": choice(forms.COUNTRIES), "job_families": {"type": "array", "items": choice(forms.JOB_FAMILIES)},
    "consent": {"type": "string", "enum": ["yes"]}, "resume": {"type": "string", "format": "binary"}}, files=True))
async def talent_submit(request: Request, web: WebDep) -> Response:
    form, rendered_at = await guarded_form(web, request, lambda: _thanks(web, request))

    res = forms.Result()
    v = res.values
    v["first_name"] = forms.clean_person_name(res, form, "first_name", "your first name", required=True)
    v["last_name"] = forms.clean_person_name(res, form, "last_name", "your last name", required=True)
    v["email"] = forms.clean_email(res, form, "email")
    forms.clean_candidate_profile(res, form)
    families = forms.clean_multi(res, form.getlist("job_families"), "job_families", forms.JOB_FAMILIES,
                                 "the job families", required=True)
    v["job_families"] = ";".join(families) or None
    v["skills"] = forms.clean_skills(res, form)
    if form.get("consent") != "yes":
        res.errors["consent"] = "Please tick the box: we can only keep you in the network with your consent."
    v["resume_text"] = await _read_resume(web, form, res)
    if not res.ok:
        return form_page(web, request, "talent_network.html", 400, rendered_at=rendered_at,
                         title="Join our talent network", values=echo_form(form), errors=res.errors,
                         selected=set(form.getlist("job_families")))

    row = dict(v, form="talent_network", submitted_at=web.now_iso(), consent_marketing=1,
               consent_wording_version=web.brand.consent_version, consent_wording_hash=web.brand.consent_hash,
               confirmed_at=None, ip=client_ip(request), user_agent=user_agent(request))
    return await run_in_threadpool(_store_and_confirm, web, request, row)


def _store_and_confirm(web: Web, request: Request, row: dict) -> Response:
    sid = web.store.run(store.insert_submission, row)
    email = row["email"]

    def build() -> Any:
        token = make_token("confirm", {"sid": sid, "email": email, "n": secrets.token_urlsafe(12)})
        return transactional_message(web.settings, email, "Please confirm you want to join our talent network",
                                     "confirm", {"first_name": plain_name(row["first_name"]),
                                                 "confirm_url": f"{web.base_url}/confirm/{token}", "days": 3})

    outcome = web.send_once(email, "confirm", sid, build)
    if outcome == "failed":
        return web.message(request, "We could not send your confirmation email",
                           "Your details are saved, but our mail server did not answer. Please try again later.", 503)
    # 'capped' looks the same as 'sent': a second sign-up must not reveal anything about an address.
    return _thanks(web, request)


async def _read_resume(web: Web, form: Any, res: forms.Result) -> str | None:
    upload = form.get("resume")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        return None
    limit = web.options.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        res.errors["resume"] = f"The file is too large (at most {limit // (1024 * 1024)} MB)."
        return None
    if not data:
        return None
    try:
        # A bounded child process reads it (warmpool.resumes): no file can tie up the service.
        return (await run_in_threadpool(web.resumes.read, data)).text
    except ResumeError as exc:
        res.errors["resume"] = str(exc)
        return None


# --- confirmation (the mailed link) ---------------------------------------------------------------

@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str, web: WebDep) -> Response:
    # A GET changes nothing: mail scanners open links, only the person presses the button.
    data = read_link("confirm", token)
    if data is None:
        return web.message(request, *INVALID_LINK, 400, link="/talent-network")
    sub = web.store.run(store.get_submission, data["sid"])
    if sub is None or sub["email"] != data["email"]:
        return web.message(request, *INVALID_LINK, 400, link="/talent-network")
    done = sub["confirmed_at"] is not None
    return web.page(request, "confirm.html", title="Confirm your email", done=done, first_name=sub["first_name"])


@router.post("/confirm/{token}", response_class=HTMLResponse, openapi_extra=form_body({}))
def confirm_submit(request: Request, token: str, web: WebDep) -> Response:
    data = read_link("confirm", token)
    if data is None:
        return web.message(request, *INVALID_LINK, 400, link="/talent-network")
    outcome = web.store.run(store.confirm_submission, data["sid"], data["email"], data["n"], web.now_iso(),
                            client_ip(request), user_agent(request))
    if outcome == "unknown":
        return web.message(request, *INVALID_LINK, 400, link="/talent-network")
    sub = web.store.run(store.get_submission, data["sid"])
    return web.page(request, "confirm.html", title="You are in", done=True, just_now=outcome == "confirmed",
                    first_name=sub["first_name"] if sub else "")
