"""The two mails the web service sends itself: the double opt-in confirmation and the notice to a
referred candidate. Only validated addresses reach a header; the subjects are fixed text, so no
form input can ever inject a header (and the SMTP policy refuses CR/LF in headers regardless)."""
from __future__ import annotations

import smtplib
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape

from warmpool.config import SmtpSettings

TEMPLATES = Path(__file__).parent / "templates"
_text_env = Environment(loader=FileSystemLoader(TEMPLATES / "mail"), autoescape=False, keep_trailing_newline=True)
_html_env = Environment(loader=FileSystemLoader(TEMPLATES / "mail"), autoescape=select_autoescape(["html"]))


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    def __init__(self, smtp: SmtpSettings, timeout: float = 15.0):
        self.smtp, self.timeout = smtp, timeout

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.timeout) as client:
            if self.smtp.starttls:
                client.starttls()
            if self.smtp.username:
                client.login(self.smtp.username, self.smtp.password or "")
            client.send_message(message)


def _no_breaks(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("line break in a mail header value")
    return value


def build_message(smtp: SmtpSettings, to: str, subject: str, template: str, context: dict,
                  extra_headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    display, sender_addr = parseaddr(smtp.sender)
    msg["From"] = Address(display_name=display, addr_spec=sender_addr) if display else sender_addr
    msg["To"] = _no_breaks(to)  # bare validated address: no display name taken from the form
    msg["Subject"] = _no_breaks(subject)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender_addr.rpartition("@")[2] or "warmpool.local")
    for name, value in (extra_headers or {}).items():
        msg[name] = _no_breaks(value)
    ctx = dict(context, physical_address=smtp.physical_address)
    msg.set_content(_text_env.get_template(f"{template}.txt").render(ctx))
    msg.add_alternative(_html_env.get_template(f"{template}.html").render(ctx), subtype="html")
    return msg
