"""The Mailgun webhook receiver: signed (HMAC-SHA256, fresh timestamp, single-use token) JSON
events stored in the web store's ``email_events``; 200 only after the commit. And the inbound route
(Mailgun routes "forward" shape, form-encoded, signed the same way): a reply to campaign mail is
matched by In-Reply-To / References and recorded in the send ledger (warmpool/campaigns/replies.py).

Nothing an unauthenticated caller sends can make it fail: the body's size and JSON nesting are
bounded before it is parsed (413 / 400), then the signature is checked (403), then the signed payload's
shape is validated (pydantic; 406 with the reason, Mailgun's "do not retry", nothing stored).
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Optional
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from warmpool import web_store as store
from warmpool.campaigns.replies import record_inbound_reply
from warmpool.emails import InvalidEmail, normalize_email
from web import security
from web.context import WebDep, iso

router = APIRouter()

MAILGUN_EVENTS = {"delivered": "delivered", "opened": "open", "clicked": "click", "failed": "bounce",
                  "complained": "complaint", "unsubscribed": "unsubscribe"}
MAX_JSON_DEPTH = 16  # Mailgun's events nest about 5 deep
# Event times Mailgun can send: after 2000-01-01 and before 3000 (iso() handles every such value).
EARLIEST_EVENT, LATEST_EVENT = 946684800.0, 32503680000.0


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class MailgunSignature(_Event):
    timestamp: StrictStr | StrictInt
    token: StrictStr = Field(min_length=1, max_length=200)
    signature: StrictStr = Field(min_length=1, max_length=200)


class MailgunHeaders(_Event):
    message_id: Optional[StrictStr] = Field(None, alias="message-id", max_length=998)


class MailgunMessage(_Event):
    headers: Optional[MailgunHeaders] = None


class MailgunUserVariables(_Event):
    campaign_id: Optional[StrictStr | StrictInt] = None


class MailgunEventData(_Event):
    """One event (``event-data``) as Mailgun sends it; only the fields that are stored are checked."""
    event: StrictStr = Field(max_length=64)
    id: StrictStr = Field(min_length=1, max_length=200)
    timestamp: StrictFloat = Field(ge=EARLIEST_EVENT, le=LATEST_EVENT, allow_inf_nan=False)
    recipient: StrictStr = Field(max_length=320)
    severity: Optional[StrictStr] = Field(None, max_length=32)
    url: Optional[StrictStr] = Field(None, max_length=4096)
    user_variables: Optional[MailgunUserVariables] = Field(None, alias="user-variables")
    message: Optional[MailgunMessage] = None

    @field_validator("recipient")
    @classmethod
    def _an_address(cls, value: str) -> str:
        try:
            return normalize_email(value).lower()
        except InvalidEmail as exc:
            raise ValueError(f"recipient is not an email address ({exc})") from None


class MailgunEventKind(_Event):
    event: StrictStr = Field(max_length=64)


class MailgunWebhook(_Event):
    """The request body (its schema is the endpoint's documented body)."""
    signature: MailgunSignature
    event_data: MailgunEventData = Field(alias="event-data")


def _inline(schema: dict) -> dict:
    """A pydantic JSON schema with its ``$defs`` written in place (the route documents it inline)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return walk(defs[node["$ref"].rsplit("/", 1)[1]]) if "$ref" in node else {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node
    return walk(schema)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # json.loads would otherwise accept NaN and Infinity


@router.post("/webhooks/mailgun", openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": _inline(MailgunWebhook.model_json_schema(by_alias=True))}}}},
    responses={200: {"description": "stored, duplicate or ignored"}, 400: {"description": "not a JSON object"},
               403: {"description": "bad or stale signature"},
               406: {"description": "replayed token, or a signed event that is unusable: do not retry"},
               413: {"description": "body too large"}, 503: {"description": "store unavailable: retry"}})
async def mailgun_webhook(request: Request, web: WebDep) -> Response:
    body = await _bounded_body(request, web.options.max_webhook_bytes)
    if body is None:
        return JSONResponse({"error": "body too large"}, 413)
    if security.json_too_deep(body, MAX_JSON_DEPTH):
        return JSONResponse({"error": f"JSON nested deeper than {MAX_JSON_DEPTH} levels"}, 400)
    try:
        doc = json.loads(body, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "invalid JSON"}, 400)
    if not isinstance(doc, dict):
        return JSONResponse({"error": "invalid payload"}, 400)
    sig = doc.get("signature")
    problem = security.verify_mailgun(web.mailgun_signing_key, sig, web.now(), web.options.webhook_max_age)
    if problem:
        return JSONResponse({"error": problem}, 403)
    row = mailgun_row(doc.get("event-data"))
    if isinstance(row, str):
        return JSONResponse({"error": row}, 406)
    fresh, inserted = await run_in_threadpool(web.store.run, store.insert_webhook_events, "mailgun", sig["token"],
                                              web.now_iso(), [row] if row else [], _tokens_expire(web))
    if not fresh:
        # 406 tells Mailgun not to retry: this signed request was already stored.
        return JSONResponse({"error": "replayed token"}, 406)
    return JSONResponse({"status": "stored" if inserted else ("duplicate" if row else "ignored")}, 200)


@router.post("/webhooks/mailgun/inbound",
             responses={200: {"description": "matched to a campaign mail, or not ours"},
                        403: {"description": "bad or stale signature"},
                        406: {"description": "replayed token: do not retry"}, 413: {"description": "body too large"},
                        415: {"description": "not form-encoded"}})
async def mailgun_inbound(request: Request, web: WebDep) -> Response:
    """An inbound message forwarded by a Mailgun route (``application/x-www-form-urlencoded`` fields
    ``timestamp``, ``token``, ``signature``, ``In-Reply-To``, ``References``, ...)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return JSONResponse({"error": "expected application/x-www-form-urlencoded"}, 415)
    body = await _bounded_body(request, web.options.max_webhook_bytes)
    if body is None:
        return JSONResponse({"error": "body too large"}, 413)
    try:
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), max_num_fields=500).items()}
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "invalid form body"}, 400)
    sig = {k: fields.get(k) for k in ("timestamp", "token", "signature")}
    problem = security.verify_mailgun(web.mailgun_signing_key, sig, web.now(), web.options.webhook_max_age)
    if problem:
        return JSONResponse({"error": problem}, 403)
    # Recording a reply is idempotent, so the token is spent after it: a failure in between leaves
    # the request retryable, and a replay changes nothing and is refused here.
    matched = await run_in_threadpool(record_inbound_reply, web.settings, fields.get("In-Reply-To"),
                                      fields.get("References"), dt.datetime.fromtimestamp(web.now(), dt.timezone.utc))
    fresh = await run_in_threadpool(web.store.run, store.spend_webhook_token, "mailgun", sig["token"], web.now_iso(),
                                    _tokens_expire(web))
    if not fresh:
        return JSONResponse({"error": "replayed token"}, 406)
    return JSONResponse({"status": "reply recorded" if matched else "not a reply to a campaign mail"}, 200)


def _tokens_expire(web) -> str:
    """Tokens received before this are forgotten: a signature is accepted up to ``webhook_max_age``
    away from now either way, so a token older than twice that can never pass the check again."""
    return iso(web.now() - 2 * web.options.webhook_max_age)  # the form tokens are stored in (compared as text)


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds ``limit`` bytes (nothing more is read)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"invalid event-data{'.' + where if where else ''}: {first['msg']}"


def mailgun_row(ed: Any) -> dict | None | str:
    """Mailgun event-data -> an email_events row; None for kinds we do not keep; str = why it is unusable."""
    try:
        kind = MAILGUN_EVENTS.get(MailgunEventKind.model_validate(ed).event)
        if kind is None:
            return None
        event = MailgunEventData.model_validate(ed)
    except ValidationError as exc:
        return _reason(exc)
    campaign = event.user_variables.campaign_id if event.user_variables else None
    headers = event.message.headers if event.message else None
    bounce = ("hard" if event.severity == "permanent" else "soft") if kind == "bounce" else None
    return {"provider_event_id": f"mailgun:{event.id}", "provider": "mailgun", "event": kind,
            "email": event.recipient, "campaign_id": None if campaign is None else str(campaign),
            "message_id": headers.message_id if headers else None, "occurred_at": iso(float(event.timestamp)),
            "url": event.url, "bounce_type": bounce, "is_machine_open": 0, "payload": ed}

