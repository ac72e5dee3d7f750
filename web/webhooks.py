"""The Mailgun webhook receiver: signed (HMAC-SHA256, fresh timestamp, single-use token) JSON
events stored in the web store's ``email_events``; 200 only after the commit."""
from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from warmpool import web_store as store
from web import security
from web.context import WebDep, iso, text_or_none

router = APIRouter()

MAILGUN_EVENTS = {"delivered": "delivered", "opened": "open", "clicked": "click", "failed": "bounce",
                  "complained": "complaint", "unsubscribed": "unsubscribe"}


@router.post("/webhooks/mailgun")
async def mailgun_webhook(request: Request, web: WebDep) -> Response:
    body = await request.body()
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "invalid JSON"}, 400)
    if not isinstance(doc, dict):
        return JSONResponse({"error": "invalid payload"}, 400)
    sig = doc.get("signature")
    problem = security.verify_mailgun(web.mailgun_signing_key, sig, web.now(), web.options.webhook_max_age)
    if problem:
        return JSONResponse({"error": problem}, 403)
    ed = doc.get("event-data")
    if not isinstance(ed, dict):
        return JSONResponse({"error": "missing event-data"}, 400)
    row = mailgun_row(ed)
    if isinstance(row, str):
        return JSONResponse({"error": row}, 400)
    fresh, inserted = await run_in_threadpool(web.store.run, store.insert_webhook_events, "mailgun", sig["token"],
                                              web.now_iso(), [row] if row else [])
    if not fresh:
        # 406 tells Mailgun not to retry: this signed request was already stored.
        return JSONResponse({"error": "replayed token"}, 406)
    return JSONResponse({"status": "stored" if inserted else ("duplicate" if row else "ignored")}, 200)


def mailgun_row(ed: dict) -> dict | None | str:
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
            "email": recipient.strip().lower(), "campaign_id": text_or_none(uv.get("campaign_id")),
            "message_id": text_or_none((headers or {}).get("message-id")) if isinstance(headers, dict) else None,
            "occurred_at": occurred, "url": text_or_none(ed.get("url")), "bounce_type": bounce, "is_machine_open": 0,
            "payload": ed}
