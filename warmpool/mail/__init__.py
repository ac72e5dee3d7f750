"""One mail stack for everything Warmpool sends: the web service's transactional mail (double opt-in
confirmation, referral notice, erasure confirmation) and campaign mail.

- ``compose`` builds the MIME message (From, To, Subject, Date, Message-ID, extra headers; text then
  HTML) with one header-injection guard (``check_header``); ``wire_bytes`` serialises it for SMTP.
- ``SmtpClient`` is the one SMTP client (implicit TLS / STARTTLS / login from ``SmtpSettings``, the
  connection kept across messages) and classifies each transaction's outcome the way the campaign
  send ledger needs it (``Refused``, ``NotSent``, ``DeliveryUnknown``); ``RelayMailer`` sends one
  transactional mail per connection.

What a campaign adds on top (List-Unsubscribe, tracking links, the footer) lives in
``warmpool.campaigns.message``; the web's mail templates live in ``web/``.
"""
from warmpool.mail.message import (HeaderInjectionError, breaks_header, check_header, compose, needs_smtputf8,
                                   new_message_id, sender_address, sender_domain, wire_bytes)
from warmpool.mail.smtp import (DeliveryUnknown, Mailer, NotSent, Refused, RelayMailer, SmtpClient,
                                SmtpUnreachable)

__all__ = [
    "DeliveryUnknown", "HeaderInjectionError", "Mailer", "NotSent", "Refused", "RelayMailer", "SmtpClient",
    "SmtpUnreachable", "breaks_header", "check_header", "compose", "needs_smtputf8", "new_message_id",
    "sender_address", "sender_domain", "wire_bytes",
]
