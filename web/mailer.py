"""The mails the web service sends itself: the double opt-in confirmation, the notice to a referred
candidate and the erasure confirmation. Their templates live in ``templates/mail``; the message is
built and sent by the shared mail stack (``warmpool.mail``), so its header guard applies: only
validated addresses and fixed subjects ever reach a header."""
from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from warmpool.config import SmtpSettings
from warmpool.mail import compose

TEMPLATES = Path(__file__).parent / "templates" / "mail"
_text_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, keep_trailing_newline=True)
_html_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def transactional_message(smtp: SmtpSettings, to: str, subject: str, template: str, context: dict,
                          extra_headers: dict[str, str] | None = None) -> EmailMessage:
    """``templates/mail/<template>.txt`` and ``.html`` rendered with ``context`` (plus the physical
    address for the footer), as one message to ``to``."""
    ctx = dict(context, physical_address=smtp.physical_address)
    return compose(smtp, to=to, subject=subject, text=_text_env.get_template(f"{template}.txt").render(ctx),
                   html=_html_env.get_template(f"{template}.html").render(ctx), headers=extra_headers)
