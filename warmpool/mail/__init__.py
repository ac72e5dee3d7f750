"""One mail stack for everything Warmpool sends: the web service's transactional mail (double opt-in
confirmation, referral notice, erasure confirmation) and campaign mail.

- ``compose_wire`` writes the MIME message (From, To, Subject, Date, Message-ID, extra headers; text
  then HTML) as SMTP wire bytes with one header-injection guard (``check_header``); ``compose`` gives it
  as an ``EmailMessage``; ``wire_bytes`` serialises an ``EmailMessage`` for SMTP.
- ``add_footer`` ends every mail the same way: its own lines, the postal address, the privacy notice.
- ``plain_name`` is the only form in which a name someone typed into a public form reaches a mail.
- ``SmtpClient`` is the one SMTP client (implicit TLS / STARTTLS / login from ``SmtpSettings``, the
  connection kept across messages) and classifies each transaction's outcome the way the campaign
  send ledger needs it (``Refused``, ``NotSent``, ``DeliveryUnknown``); ``RelayMailer`` sends one
  transactional mail per connection.

What a campaign adds on top (List-Unsubscribe, tracking links, the footer) lives in
``warmpool.campaigns.message``; the web's mail templates live in ``web/``.
"""
from warmpool.mail.message import (MAX_PLAIN_NAME_WORDS, HeaderInjectionError, add_footer, breaks_header, check_header, compose,
                                   compose_wire,
                                   needs_smtputf8, new_message_id, plain_name, sender_address, sender_domain,
                                   wire_bytes)
from warmpool.mail.smtp import (DeliveryUnknown, Mailer, NotSent, Refused, RelayMailer, SmtpClient,
                                SmtpUnreachable)

__all__ = [
    "MAX_PLAIN_NAME_WORDS", "DeliveryUnknown", "HeaderInjectionError", "Mailer", "NotSent", "Refused", "RelayMailer", "SmtpClient",
    "SmtpUnreachable", "add_footer", "breaks_header", "check_header", "compose", "compose_wire", "needs_smtputf8",
    "new_message_id", "plain_name", "sender_address", "sender_domain", "wire_bytes",
]
