"""Form handling shared by every form of the service, in one place: rendering a form with its CSRF
pair and honeypot, and checking a submission (per-IP rate limit, CSRF, honeypot, minimum fill time).
The primitives (signed double-submit CSRF, the limiter) are in ``security``."""
from __future__ import annotations

from typing import Any, Callable

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from web import forms, security
from web.context import Web, client_ip


class Refusal(Exception):
    """A guard's answer instead of handling the form (429, 403, the decoy page a bot gets); the app
    sends ``response`` (``answer_refusal`` is its exception handler)."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


async def answer_refusal(request: Request, exc: Refusal) -> Response:
    return exc.response


def form_page(web: Web, request: Request, name: str, status: int = 200, rendered_at: float | None = None,
              **ctx: Any) -> HTMLResponse:
    """A page holding a form: the CSRF field signed with the render time (kept across a re-shown form
    so the fill time counts from the first render), the honeypot, the choice lists."""
    cookie = request.cookies.get(security.CSRF_COOKIE)
    fresh = not cookie or len(cookie) > 64
    if fresh:
        cookie = security.new_csrf_cookie()
    resp = web.page(request, name, status, csrf_field=security.CSRF_FIELD,
                    csrf_token=security.make_csrf_field(cookie, rendered_at or web.now()),
                    honeypot=security.HONEYPOT_FIELD, job_families=forms.JOB_FAMILIES, countries=forms.COUNTRIES,
                    relationships=forms.RELATIONSHIPS, consent_text=web.brand.consent_text,
                    consent_version=web.brand.consent_version, values=ctx.pop("values", {}),
                    errors=ctx.pop("errors", {}), **ctx)
    if fresh:
        resp.set_cookie(security.CSRF_COOKIE, cookie, max_age=12 * 3600, httponly=True, samesite="lax",
                        secure=web.https, path="/")
    return resp


async def guarded_form(web: Web, request: Request, bot_reply: Callable[[], Response]) -> tuple[Any, float]:
    """Rate limit, CSRF, then the bot traps (honeypot, fill time). Returns (form, rendered_at), or
    raises Refusal; a bot gets ``bot_reply()``, the page a person would see: it tells a bot nothing."""
    if not web.limiter.hit(client_ip(request)):
        raise Refusal(web.message(request, "Too many submissions", "Please wait a minute and try again.", 429,
                                  headers={"retry-after": "60"}))
    form = await request.form(max_files=1, max_fields=80, max_part_size=web.options.max_field_bytes)
    rendered_at = security.check_csrf(request.cookies.get(security.CSRF_COOKIE), form.get(security.CSRF_FIELD))
    if rendered_at is None:
        raise Refusal(csrf_refused(web, request))
    if form.get(security.HONEYPOT_FIELD) or web.now() - rendered_at < web.options.min_fill_seconds:
        raise Refusal(bot_reply())
    return form, rendered_at


async def email_form(web: Web, request: Request, template: str, title: str,
                     bot_reply: Callable[[], Response]) -> str | Response:
    """A one-field form asking for an address (the privacy pages): the guards of ``guarded_form``, then
    the clean address, or the form again with the error beside the field (400)."""
    form, rendered_at = await guarded_form(web, request, bot_reply)
    res = forms.Result()
    email = forms.clean_email(res, form, "email", "your email address")
    if not res.ok or email is None:
        return form_page(web, request, template, 400, rendered_at=rendered_at, title=title,
                         values=echo_form(form), errors=res.errors)
    return email


async def small_form(request: Request) -> Any:
    """The form of a button on a page reached by a signed link (a few fields, no files)."""
    return await request.form(max_files=0, max_fields=20, max_part_size=4096)


async def require_csrf(web: Web, request: Request) -> None:
    """CSRF only, for a button a signed link already authorises (no per-IP limit, like /confirm);
    raises Refusal (403) without a valid pair."""
    form = await small_form(request)
    if security.check_csrf(request.cookies.get(security.CSRF_COOKIE), form.get(security.CSRF_FIELD)) is None:
        raise Refusal(csrf_refused(web, request))


def csrf_refused(web: Web, request: Request) -> Response:
    return web.message(request, "This form has expired",
                       "For your security the form must be sent from this site with cookies enabled. "
                       "Please reload the page and try again.", 403)


def form_body(fields: dict[str, dict], *, files: bool = False) -> dict:
    """The OpenAPI description of a form post (``openapi_extra``): the fields as a person's browser
    sends them, plus the CSRF field and the honeypot. The handler reads and validates the form itself
    (errors shown beside the fields), so this only documents it, for the schema-driven fuzzer."""
    properties = {security.CSRF_FIELD: {"type": "string"}, security.HONEYPOT_FIELD: {"type": "string"}, **fields}
    media = "multipart/form-data" if files else "application/x-www-form-urlencoded"
    return {"requestBody": {"required": True, "content": {media: {"schema": {"type": "object",
                                                                             "properties": properties}}}}}


TEXT = {"type": "string"}


def choice(options: dict[str, str]) -> dict:
    return {"type": "string", "enum": list(options)}


def echo_form(form: Any) -> dict[str, str]:
    """Submitted values to re-fill a form after an error (escaped by the templates)."""
    return {k: v for k, v in form.multi_items() if isinstance(v, str) and k != security.CSRF_FIELD}
