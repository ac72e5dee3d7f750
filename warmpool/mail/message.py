"""Building a mail: one multipart/alternative message (text, then HTML) with safe headers.

Headers carry only fixed text (subjects), the sender from configuration and validated addresses, and
every value is refused if it holds CR, LF or NUL: written into a header those would start a new one
(header injection). Data about people only ever reaches the bodies.
"""
from __future__ import annotations

import binascii
import datetime as dt
import functools
import html as html_lib
import re
import secrets
import unicodedata
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Mapping

from warmpool.config import SmtpSettings

_HEADER_BREAK = re.compile(r"[\r\n\x00]")

# Headers fold only at RFC 5322's hard limit: folded at 78, a long List-Unsubscribe URI would be
# turned into RFC 2047 encoded-words, which mailbox providers do not decode (one-click would break).
_WIRE = policy.SMTP.clone(max_line_length=998)
_WIRE_UTF8 = policy.SMTPUTF8.clone(max_line_length=998)


class HeaderInjectionError(ValueError):
    """A header value holds CR, LF or NUL."""


def breaks_header(value: str | None) -> bool:
    """True if ``value`` holds CR, LF or NUL (it would end the header it is written into)."""
    return bool(_HEADER_BREAK.search(value or ""))


def check_header(name: str, value: str) -> str:
    """``value`` unchanged, or HeaderInjectionError."""
    if breaks_header(value):
        raise HeaderInjectionError(f"refused: header {name} contains CR, LF or NUL")
    return value


@functools.lru_cache(maxsize=64)  # parsed for every campaign mail; the configured senders are few
def sender_address(sender: str) -> str:
    """The bare address of a configured sender (``Name <addr>``): the SMTP envelope sender."""
    return parseaddr(sender)[1]


def sender_domain(sender: str) -> str:
    return sender_address(sender).rpartition("@")[2] or "warmpool.localhost"


def new_message_id(sender: str) -> str:
    """A fresh ``<...@sender-domain>`` Message-ID (campaign links carry it before the mail is built)."""
    return make_msgid(domain=sender_domain(sender))


def compose(smtp: SmtpSettings, *, to: str, subject: str, text: str, html: str, date: dt.datetime | None = None,
            message_id: str | None = None, headers: Mapping[str, str] | None = None) -> EmailMessage:
    """The message of ``compose_wire`` as an ``EmailMessage`` (transactional mail, previews)."""
    return _PARSER.parsebytes(compose_wire(smtp, to=to, subject=subject, text=text, html=html, date=date,
                                           message_id=message_id, headers=headers, utf8=not to.isascii()))


def compose_wire(smtp: SmtpSettings, *, to: str, subject: str, text: str, html: str,
                 date: dt.datetime | None = None, message_id: str | None = None,
                 headers: Mapping[str, str] | None = None, utf8: bool = False) -> bytes:
    """The complete message from ``smtp.sender`` to the bare address ``to`` (never a display name taken
    from data), as SMTP wire bytes: multipart/alternative, text then HTML, CRLF line ends. ``headers``
    follow Message-ID in their order. HeaderInjectionError if any header value holds CR, LF or NUL.
    ``utf8``: for a server that speaks SMTPUTF8 (addresses and headers then travel as raw UTF-8).

    Written out directly rather than through ``email.message.EmailMessage``: the email package parses
    every header it is given back into objects (about 5 ms a message), which capped campaign sending
    far below what the SMTP connection carries. ``compose`` (and every test) reads the result with
    the email package, so both sides agree on what a mail is."""
    lines = [_header("From", smtp.sender, utf8), _header("To", to, utf8, address=True),
             _header("Subject", subject, utf8),
             _header("Date", format_datetime((date or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)), utf8),
             _header("Message-ID", message_id or new_message_id(smtp.sender), utf8)]
    lines += [_header(name, value, utf8) for name, value in (headers or {}).items()]
    text_cte, text_body = _body(text)
    html_cte, html_body = _body(html)
    boundary = "===============" + secrets.token_hex(12) + "=="
    while boundary.encode() in text_body or boundary.encode() in html_body:  # as unlikely as it gets
        boundary = "===============" + secrets.token_hex(12) + "=="
    head = "".join(lines) + f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n'
    return b"".join((
        head.encode("utf-8"), b"\r\n",
        f'--{boundary}\r\nContent-Type: text/plain; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {text_cte}\r\n\r\n".encode(), text_body,
        f'\r\n--{boundary}\r\nContent-Type: text/html; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {html_cte}\r\n\r\n".encode(), html_body,
        f"\r\n--{boundary}--\r\n".encode()))


_PARSER = BytesParser(policy=policy.default)
# RFC 5322's line limit less a margin: a plain header line up to this length goes out as it is.
_MAX_PLAIN_HEADER = 990
# One bare address: no display name, comment, group, quoting or second address can ride along.
_BARE_ADDRESS = re.compile(r'[^\s<>(),;:"\\\[\]@]+@[^\s<>(),;:"\\\[\]@]+\Z')
_MAX_BODY_LINE = 78  # as the email package: longer lines (or any non-ASCII) are quoted-printable


@functools.lru_cache(maxsize=1024)
def _encoded_header(name: str, value: str, utf8: bool) -> str:
    # Non-ASCII or very long values (a display name, a subject in another script): the email package's
    # folding and RFC 2047 encoding. Cached, since these are the campaign's fixed From and Subject.
    wire = _WIRE_UTF8 if utf8 else _WIRE
    return wire.fold(name, wire.header_factory(name, value))


def _header(name: str, value: str, utf8: bool, address: bool = False) -> str:
    check_header(name, value)
    if address and not _BARE_ADDRESS.match(value):
        raise ValueError(f"refused: header {name} must be one bare address, got {value!r}")
    if value.isascii() and len(name) + len(value) < _MAX_PLAIN_HEADER:
        return f"{name}: {value}\r\n"
    return _encoded_header(name, value, utf8)


def _body(text: str) -> tuple[str, bytes]:
    """A text part's transfer encoding and CRLF-ended bytes: 7bit when it is short-lined ASCII,
    else quoted-printable of its UTF-8 (binascii's C encoder)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    if text.isascii() and all(len(line) <= _MAX_BODY_LINE for line in text.split("\n")):
        return "7bit", text.replace("\n", "\r\n").encode("ascii")
    return "quoted-printable", binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


MAX_PLAIN_NAME_CHARS = 60
MAX_PLAIN_NAME_WORDS = 5
_NAME_MARKS = frozenset(" -'\u2019")  # space, hyphen, apostrophe and its typographic form


def plain_name(value: Any) -> str | None:
    """``value`` (blanks collapsed) if it is a plain personal name: letters of any script with their
    combining marks, spaces, hyphens and apostrophes, at most 5 words and 60 characters; else None.

    What a stranger types into a public form may reach company mail sent to any address (a
    confirmation, a referral notice) only as such a name: no URL, address, digits, markup or sentence
    rides along. A caller leaves the name out (or refuses the form) when this says None."""
    if not isinstance(value, str):
        return None
    name = " ".join(value.split())
    if not name or len(name) > MAX_PLAIN_NAME_CHARS or len(name.split()) > MAX_PLAIN_NAME_WORDS:
        return None
    categories = [unicodedata.category(ch)[0] for ch in name]
    if "L" not in categories:
        return None
    if any(cat not in ("L", "M") and ch not in _NAME_MARKS for ch, cat in zip(name, categories)):
        return None
    return name


def add_footer(smtp: SmtpSettings, text: str, html: str, *, text_lines: tuple[str, ...] = (),
               html_lines: tuple[str, ...] = (), html_after: str = "") -> tuple[str, str]:
    """Both bodies with every mail's footer: the mail's own lines (``html_lines`` are HTML, written by
    the caller), then the company's postal address (CAN-SPAM) and a link to its privacy notice.
    ``html_after`` (e.g. an open pixel) follows the footer."""
    text = text.rstrip() + "\n\n-- \n" + "\n".join(
        [*text_lines, smtp.physical_address, f"Privacy notice: {smtp.privacy_notice_url}"]) + "\n"
    footer = ('<hr style="border:none;border-top:1px solid #d9e2ec;margin-top:24px">'
              '<p style="font-size:12px;color:#52606d">' + "<br>".join(
                  [*html_lines, html_lib.escape(smtp.physical_address),
                   f'<a href="{html_lib.escape(smtp.privacy_notice_url, quote=True)}">Privacy notice</a>']) + "</p>"
              + html_after)
    at = html.lower().rfind("</body>")
    return text, (html[:at] + footer + "\n" + html[at:] if at >= 0 else html + footer)


def needs_smtputf8(from_addr: str, to_addr: str) -> bool:
    """An envelope address outside ASCII can only travel with the SMTPUTF8 extension."""
    return not (from_addr + to_addr).isascii()


def wire_bytes(message: EmailMessage, utf8: bool = False) -> bytes:
    """The message as sent over SMTP (CRLF, headers folded only at 998 characters)."""
    return message.as_bytes(policy=_WIRE_UTF8 if utf8 else _WIRE)
