"""Replies to campaign mail: an inbound message is matched to the message of ours it answers by its
``In-Reply-To`` and ``References`` headers (RFC 5322 threading), and recorded in the send ledger
(``SendLedger.record_reply``), where drip sequences stop the person and A/B tests count replies.

Inbound mail reaches Warmpool through the web service's signed Mailgun-routes webhook
(``POST /webhooks/mailgun/inbound``, web/webhooks.py), or is read from a mailbox over IMAP
(``read_imap_replies``, configured under ``campaigns.replies.imap``)::

    campaigns:
      replies:
        imap:
          host: imap.example.com
          port: 993                     # default: 993 for ssl, else 143
          security: ssl                 # ssl (IMAP over TLS) | starttls | none (loopback tests only)
          username: replies@warmpool.example
          password_env: WARMPOOL_IMAP_PASSWORD   # the password stays in the environment
          mailbox: INBOX
          ca_file: null                 # a CA bundle for a private certificate authority

Reading is incremental by UID: the mailbox's UIDVALIDITY and the last UID read are kept in the send
ledger, so each message is looked at once (a new UIDVALIDITY starts the mailbox over; recording a
reply is idempotent, so that is safe). The mailbox is opened read-only: nothing is flagged or moved.
Automatic answers (RFC 3834 ``Auto-Submitted``, ``X-Autoreply`` / ``X-Autorespond``, ``Precedence:
bulk|junk|list|auto_reply``: out-of-office notes, vacation responders) are not replies.
"""
from __future__ import annotations

import datetime as dt
import imaplib
import os
import re
import ssl
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping

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


_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


def is_auto_reply(headers: Message) -> bool:
    """An automatic answer (out of office, vacation, a list), not a person replying (RFC 3834 and the
    headers common responders add)."""
    auto = str(headers.get("Auto-Submitted") or "").strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if headers.get("X-Autoreply") or headers.get("X-Autorespond") or headers.get("X-Auto-Response-Suppress"):
        return True
    return str(headers.get("Precedence") or "").strip().lower() in _AUTO_PRECEDENCE


class ImapConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str          # ssl | starttls | none
    username: str
    password: str
    mailbox: str = "INBOX"
    ca_file: str | None = None

    @property
    def key(self) -> str:
        """Names the mailbox in the ledger's cursor table."""
        return f"{self.username}@{self.host}:{self.port}/{self.mailbox}"


def imap_settings(raw: Mapping[str, Any] | None) -> ImapSettings | None:
    """``campaigns.replies.imap`` (None when replies are not read over IMAP)."""
    cfg = (((raw or {}).get("campaigns") or {}).get("replies") or {}).get("imap")
    if not cfg:
        return None
    security = str(cfg.get("security", "ssl")).lower()
    if security not in ("ssl", "starttls", "none"):
        raise ImapConfigError(f"campaigns.replies.imap.security: {security!r} is not one of ssl, starttls, none")
    missing = [k for k in ("host", "username", "password_env") if not cfg.get(k)]
    if missing:
        raise ImapConfigError(f"campaigns.replies.imap: set {', '.join(missing)}")
    password = os.environ.get(str(cfg["password_env"]))
    if password is None:
        raise ImapConfigError(f"campaigns.replies.imap: the environment variable {cfg['password_env']} "
                              "(password_env) is not set")
    return ImapSettings(host=str(cfg["host"]), port=int(cfg.get("port") or (993 if security == "ssl" else 143)),
                        security=security, username=str(cfg["username"]), password=password,
                        mailbox=str(cfg.get("mailbox") or "INBOX"), ca_file=cfg.get("ca_file"))


@dataclass
class ImapReport:
    read: int = 0           # new messages looked at
    replies: int = 0        # answered one of our mails (recorded; stops the person's sequences)
    auto_replies: int = 0   # out of office and other automatic answers: ignored
    not_ours: int = 0       # answer nothing we sent

    def describe(self) -> str:
        return (f"{self.read} new messages: {self.replies} replies to campaign mail, "
                f"{self.auto_replies} automatic answers ignored, {self.not_ours} not about our mail")


_FETCHED_UID = re.compile(rb"UID (\d+)")


def read_imap_replies(settings: Settings, imap: ImapSettings | None = None,
                      clock: Callable[[], dt.datetime] | None = None, timeout: float = 30.0) -> ImapReport:
    """Read the replies mailbox's new messages once; each reply to a campaign mail is recorded."""
    imap = imap or imap_settings(settings.raw)
    if imap is None:
        raise ImapConfigError("campaigns.replies.imap is not configured")
    clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
    report = ImapReport()
    parser = BytesParser(policy=policy.default)
    with _connect(imap, timeout) as con:
        _ok(con.login(imap.username, imap.password), "login")
        _ok(con.select(_quoted(imap.mailbox), readonly=True), f"select {imap.mailbox}")
        validity = int(con.response("UIDVALIDITY")[1][0])
        with open_ledger(settings) as ledger:
            last_uid = ledger.imap_last_uid(imap.key, validity)
        uids = sorted(u for u in map(int, _ok(con.uid("search", None, "UID", f"{last_uid + 1}:*"), "search")[0].split())
                      if u > last_uid)  # "n:*" names the newest message even when it is older than n
        for uid in uids:
            data = _ok(con.uid("fetch", str(uid), "(UID BODY.PEEK[HEADER])"), f"fetch {uid}")
            raw = next((part[1] for part in data if isinstance(part, tuple) and _FETCHED_UID.search(part[0])), None)
            report.read += 1
            if raw is not None:
                headers = parser.parsebytes(raw, headersonly=True)
                if is_auto_reply(headers):
                    report.auto_replies += 1
                elif record_inbound_reply(settings, headers.get("In-Reply-To"), headers.get("References"),
                                          _received_at(headers, clock)):
                    report.replies += 1
                else:
                    report.not_ours += 1
            with open_ledger(settings) as ledger:  # after the message: a crash re-reads it (idempotent)
                ledger.set_imap_last_uid(imap.key, validity, uid)
        con.close()
    return report


def _connect(imap: ImapSettings, timeout: float) -> imaplib.IMAP4:
    context = ssl.create_default_context(cafile=imap.ca_file)
    if imap.security == "ssl":
        return imaplib.IMAP4_SSL(imap.host, imap.port, ssl_context=context, timeout=timeout)
    con = imaplib.IMAP4(imap.host, imap.port, timeout=timeout)
    if imap.security == "starttls":
        con.starttls(ssl_context=context)
    return con


def _ok(answer: tuple[str, list], what: str) -> list:
    status, data = answer
    if status != "OK":
        raise imaplib.IMAP4.error(f"IMAP {what}: {status} {data!r}")
    return data


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _received_at(headers: Message, clock: Callable[[], dt.datetime]) -> dt.datetime:
    try:
        at = parsedate_to_datetime(str(headers.get("Date")))
        return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        return clock()
