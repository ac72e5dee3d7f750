"""The mails the web service sends itself: the double opt-in confirmation, the notice to a referred
candidate and the erasure confirmation. Their templates live in ``templates/mail``; the message is
built and sent by the shared mail stack (``warmpool.mail``), so its header guard applies: only
validated addresses and fixed subjects ever reach a header, and every mail ends with the same footer
(postal address, privacy notice). Names typed into a public form reach these mails only as
``warmpool.mail.plain_name`` lets them: these mails go to any address someone enters."""
from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from warmpool.config import Settings
from warmpool.mail import add_footer, compose

TEMPLATES = Path(__file__).parent / "templates" / "mail"
_text_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, keep_trailing_newline=True)
_html_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def transactional_message(settings: Settings, to: str, subject: str, template: str, context: dict,
                          extra_headers: dict[str, str] | None = None) -> EmailMessage:
    """``templates/mail/<template>.txt`` and ``.html`` rendered with ``context`` (plus the brand's name
    and colour), with the footer every mail carries, as one message to ``to``."""
    smtp = settings.smtp
    ctx = dict(context, company_name=settings.brand.company_name, brand_color=settings.brand.primary_color)
    text, html = add_footer(smtp, _text_env.get_template(f"{template}.txt").render(ctx),
                            _html_env.get_template(f"{template}.html").render(ctx),
                            text_lines=(f"{smtp.company_name} recruiting team",),
                            html_lines=(f"{_html_env.filters['e'](smtp.company_name)} recruiting team",))
    return compose(smtp, to=to, subject=subject, text=text, html=html, headers=extra_headers)
