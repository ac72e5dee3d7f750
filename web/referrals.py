"""Employee referrals: the form stores the referred candidate (no marketing consent: they gave us
nothing) and mails them a notice saying who referred them and how to object (GDPR Art. 14)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from warmpool import web_store as store
from warmpool.mail import plain_name
from warmpool.tokens import make_token
from web import forms
from web.context import Web, WebDep, client_ip, user_agent
from web.guards import TEXT, choice, echo_form, form_body, form_page, guarded_form
from web.mailer import transactional_message

router = APIRouter()


def _thanks(web: Web, request: Request) -> Response:
    return web.page(request, "thanks.html", title="Thank you", kind="referral")


@router.get("/referral", response_class=HTMLResponse)
async def referral_form(request: Request, web: WebDep) -> Response:
    return form_page(web, request, "referral.html", title="Refer someone")


@router.post("/referral", response_class=HTMLResponse, openapi_extra=form_body({
    **{name: TEXT for name in ("referrer_name", "referrer_email", "first_name", "last_name", "email", "phone", "city",
                               "region", "linkedin_url", "current_title", "current_company", "skills")},
    "country": choice(forms.COUNTRIES), "job_family": choice(forms.JOB_FAMILIES),
    "relationship": choice(forms.RELATIONSHIPS), "candidate_informed": {"type": "string", "enum": ["yes"]}}))
async def referral_submit(request: Request, web: WebDep) -> Response:
    form, rendered_at = await guarded_form(web, request, lambda: _thanks(web, request))
    res = forms.Result()
    v = res.values
    # The referrer's name goes into the notice mailed to the candidate: a plain name only.
    v["referrer_name"] = forms.clean_plain_name(res, form, "referrer_name", "your name")
    v["referrer_email"] = forms.clean_email(res, form, "referrer_email", "your work email address")
    v["first_name"] = forms.clean_person_name(res, form, "first_name", "the candidate's first name", required=True)
    v["last_name"] = forms.clean_person_name(res, form, "last_name", "the candidate's last name", required=True)
    v["email"] = forms.clean_email(res, form, "email", "the candidate's email address")
    forms.clean_candidate_profile(res, form)
    v["current_company"] = forms.clean_line(res, form, "current_company", "the current employer")
    v["job_families"] = forms.clean_choice(res, form, "job_family", forms.JOB_FAMILIES, "a job family",
                                           required=True)
    v["relationship"] = forms.clean_choice(res, form, "relationship", forms.RELATIONSHIPS, "how you know them",
                                           required=True)
    v["skills"] = forms.clean_skills(res, form)
    if v["email"] and v["email"] == v["referrer_email"]:
        res.errors["email"] = "Please enter the candidate's address, not your own."
    if form.get("candidate_informed") != "yes":
        res.errors["candidate_informed"] = "Please tell the person you are referring them, then tick the box."
    if not res.ok:
        return form_page(web, request, "referral.html", 400, rendered_at=rendered_at, title="Refer someone",
                         values=echo_form(form), errors=res.errors)
    row = dict(v, form="referral", submitted_at=web.now_iso(), consent_marketing=0, confirmed_at=None,
               ip=client_ip(request), user_agent=user_agent(request))
    return await run_in_threadpool(_store_and_notify, web, request, row)


def _store_and_notify(web: Web, request: Request, row: dict) -> Response:
    sid = web.store.run(store.insert_submission, row)
    email = row["email"]

    def build() -> Any:
        # A referred person never gave us their data: tell them who did, what we keep, and how
        # to object (GDPR Art. 14). We notify everyone, the strictest region's rule.
        unsub = make_token("unsubscribe", {"email": email, "person_id": None, "campaign_id": "referral-notice"})
        unsub_url = f"{web.base_url}/u/{unsub}"
        return transactional_message(
            web.settings, email, f"Someone referred you for a job at {web.brand.company_name}", "referral_notice",
            {"first_name": plain_name(row["first_name"]), "referrer_name": plain_name(row["referrer_name"]),
             "job_family": forms.JOB_FAMILIES.get(row["job_families"], ""), "unsubscribe_url": unsub_url,
             "join_url": f"{web.base_url}/talent-network"},
            extra_headers={"List-Unsubscribe": f"<{unsub_url}>",
                           "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})

    web.send_once(email, "referral_notice", sid, build)  # a failed notice is retried by the next referral
    return _thanks(web, request)
