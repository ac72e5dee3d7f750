"""Replies to campaign mail: an inbound message is matched to the message of ours it answers by its
``In-Reply-To`` and ``References`` headers (RFC 5322 threading), and recorded in the send ledger
(``SendLedger.record_reply``), where drip sequences stop the person and A/B tests count replies.

Inbound mail reaches Warmpool through the web service's signed Mailgun-routes webhook
(``POST /webhooks/mailgun/inbound``, web/webhooks.py).
"""
from __future__ import annotations

import datetime as dt
import re

from warmpool.campaigns.sender import open_ledger
from warmpool.config import Settings

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,500}>")


def referenced_message_ids(in_reply_to: str | None, references: str | None) -> list[str]:
    """The Message-IDs a reply names, In-Reply-To first, then References newest first."""
    ids = _MESSAGE_ID.findall(in_reply_to or "") + list(reversed(_MESSAGE_ID.findall(references or "")))
    return list(dict.fromkeys(ids))


def record_inbound_reply(settings: Settings, in_reply_to: str | None, references: str | None,
                         received_at: dt.datetime) -> tuple[str, str] | None:
    """(campaign_id, person_id) of the campaign mail this inbound message replies to, recorded once;
    None when it answers none of ours."""
    ids = referenced_message_ids(in_reply_to, references)
    if not ids:
        return None
    with open_ledger(settings) as ledger:
        return ledger.record_reply(ids, received_at)
