"""Building one campaign mail: personalised bodies, compliance footer, tracking links, and the
campaign's headers (RFC 8058 List-Unsubscribe) on top of the shared builder (``warmpool.mail``).

Data about candidates (names, cities) only ever reaches the bodies: the HTML part is rendered with
autoescape, the text part is plain text. Headers carry only the campaign's fixed subject, the sender
from configuration and a validated address, each checked by ``warmpool.mail``'s header guard.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from warmpool.campaigns.config import Campaign
from warmpool.config import SmtpSettings
from warmpool.mail import add_footer, breaks_header, compose_wire, needs_smtputf8, new_message_id, sender_address
from warmpool.tokens import make_token, secret_key

# An <a ...> tag's href in rendered HTML. Autoescape turns '<' and '"' from data into entities, so
# only template authors can produce a match: data never becomes a tracked (signed) link target.
_ANCHOR_HREF = re.compile(r'(<a\b[^>]*?\bhref\s*=\s*")([^"]*)(")', re.IGNORECASE)
_URL_TAIL = r"(?![A-Za-z0-9/_~%#?&=+\-])"


@dataclass(frozen=True)
class BuiltMessage:
    data: bytes                    # the SMTP wire bytes (before any DKIM signature)
    utf8: bool                     # an envelope address outside ASCII: needs the SMTPUTF8 extension
    message_id: str
    to_addr: str
    from_addr: str
    unsubscribe_url: str
    tracked_links: dict[str, str]  # original URL -> click redirect URL

    @property
    def message(self) -> EmailMessage:
        """The mail as the email package reads it (previews and tests; sending uses ``data``)."""
        return BytesParser(policy=policy.default).parsebytes(self.data)


def build_message(campaign: Campaign, member: dict[str, Any], smtp: SmtpSettings, *, to_addr: str,
                  now: dt.datetime, message_id: str | None = None, env=None,
                  signing_key: str | None = None) -> BuiltMessage:
    """The complete MIME message (multipart/alternative: text, then HTML) for one member.
    ``env`` (the campaign's template environment) and ``signing_key`` (``secret_key()``) are read once
    by a caller building many."""
    signing_key = signing_key or secret_key()
    base = smtp.public_base_url.rstrip("/")
    message_id = message_id or new_message_id(smtp.sender)
    person_id = str(member.get("person_id"))
    # Every token carries the address: the web service records unsubscribes and engagement from the
    # token alone, with no look-up (CAN-SPAM: opting out needs an address and one web page).
    ids = {"campaign_id": campaign.campaign_id, "content_version": campaign.content_version,
           "person_id": person_id, "message_id": message_id, "email": to_addr}
    unsubscribe_url = f"{base}/u/{make_token('unsubscribe', ids, signing_key)}"
    pixel_url = f"{base}/o/{make_token('open', ids, signing_key)}.gif"

    values = {
        "first_name": _clean(member.get("first_name")),
        "last_name": _clean(member.get("last_name")),
        "city": _clean(member.get("city")),
        "country": _clean(member.get("country")),
        "job_family": _clean(member.get("job_family")),
        "campaign_name": campaign.name,
        "unsubscribe_url": unsubscribe_url,
        "physical_address": smtp.physical_address,
    }
    env = env or campaign.template_env()
    html_body = env.get_template(campaign.html_template).render(values)
    text_body = env.get_template(campaign.text_template).render(values)

    tracked: dict[str, str] = {}

    def track(url: str) -> str:
        if not url.startswith(("http://", "https://")) or url.startswith(base + "/"):
            return url  # mailto:, anchors and our own links stay as they are
        if url not in tracked:
            tracked[url] = f"{base}/c/{make_token('click', {**ids, 'url': url}, signing_key)}"
        return tracked[url]

    html_body = _ANCHOR_HREF.sub(
        lambda m: m.group(1) + html.escape(track(html.unescape(m.group(2))), quote=True) + m.group(3), html_body)
    # The text part: only URLs that the template's HTML links to are rewritten (never text from data).
    for url in sorted(tracked, key=len, reverse=True):
        text_body = re.sub(re.escape(url) + _URL_TAIL, lambda _m, u=url: tracked[u], text_body)

    why = f"You receive this because you are in the {smtp.company_name} talent community."
    text_body, html_body = add_footer(
        smtp, text_body, html_body, text_lines=(why, f"Unsubscribe with one click: {unsubscribe_url}"),
        html_lines=(f'{html.escape(why)} <a href="{html.escape(unsubscribe_url, quote=True)}">Unsubscribe</a> '
                    "with one click at any time.",),
        html_after=f'<img src="{html.escape(pixel_url, quote=True)}" width="1" height="1" alt="" '
                   'style="display:block;border:0">')

    # RFC 8058: one HTTPS URI and the One-Click POST marker (both to be covered by DKIM at the relay).
    from_addr = sender_address(smtp.sender)
    utf8 = needs_smtputf8(from_addr, to_addr)
    data = compose_wire(smtp, to=to_addr, subject=campaign.subject, text=text_body, html=html_body, date=now,
                        message_id=message_id, utf8=utf8,
                        headers={"List-Unsubscribe": f"<{unsubscribe_url}>",
                                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    return BuiltMessage(data, utf8, message_id, to_addr, from_addr, unsubscribe_url, dict(tracked))


def _clean(value: Any) -> str | None:
    """Merge field text: None stays None (templates write a fallback); control characters go."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", str(value)).strip()
    return text or None
