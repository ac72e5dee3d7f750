"""The one SMTP client: any provider's relay (or the sandbox's loopback server) as configured in
``SmtpSettings``: implicit TLS on port 465, otherwise plain with optional STARTTLS, then login.

One transaction's outcome is classified the way the campaign send ledger needs it:

- ``Refused``: the server answered with an error code, a definite outcome: nothing was accepted
  (4xx: try again later; 5xx: never; ``sender_refused`` when MAIL FROM itself was refused);
- ``NotSent``: the connection failed before DATA, so the message cannot have been accepted
  (``SmtpUnreachable``, no connection at all, is one of these);
- ``DeliveryUnknown``: the connection was lost during DATA: the server may have the message, so it
  must never be resent blindly.
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any, Protocol

from warmpool.config import SmtpSettings
from warmpool.mail.message import needs_smtputf8, sender_address, wire_bytes


class Mailer(Protocol):
    """What sends a built message (``RelayMailer``; tests pass an in-memory one)."""

    def send(self, message: EmailMessage) -> Any: ...


class Refused(Exception):
    """The server answered with an error code: a definite outcome (nothing was accepted)."""

    def __init__(self, code: int, text: str, sender_refused: bool = False):
        super().__init__(f"{code} {text}")
        self.code, self.text, self.sender_refused = code, text, sender_refused


class NotSent(Exception):
    """The connection failed before DATA: the message cannot have been accepted."""


class SmtpUnreachable(NotSent):
    """The relay could not be reached (connect, TLS or login failed)."""


class DeliveryUnknown(Exception):
    """The connection was lost during DATA: the server may or may not have accepted the message."""


def _text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


class SmtpClient:
    """One SMTP connection, opened on first use, kept across messages, reopened after a drop."""

    def __init__(self, smtp: SmtpSettings, *, timeout: float = 30.0, helo: str | None = None):
        self.cfg, self.timeout, self.helo = smtp, timeout, helo
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection unless it is open; SmtpUnreachable if the relay cannot be reached."""
        if self._smtp is not None:
            return
        cfg = self.cfg
        try:
            if cfg.port == 465:  # implicit TLS ("SMTPS")
                smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, local_hostname=self.helo, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, local_hostname=self.helo, timeout=self.timeout)
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
            if cfg.username:
                smtp.login(cfg.username, cfg.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpUnreachable(f"cannot reach the SMTP relay {cfg.host}:{cfg.port}: {exc!r}") from exc
        self._smtp = smtp

    def send(self, message: EmailMessage, *, from_addr: str | None = None, to_addr: str | None = None) -> str:
        """Send ``message`` (envelope: its From and To addresses unless given); returns the server's
        final reply (often holding its queue id). Raises Refused, NotSent or DeliveryUnknown."""
        from_addr = from_addr or sender_address(str(message["From"]))
        to_addr = to_addr or message["To"].addresses[0].addr_spec
        utf8 = needs_smtputf8(from_addr, to_addr)
        return self.transmit(from_addr, to_addr, wire_bytes(message, utf8), utf8)

    def transmit(self, from_addr: str, to_addr: str, data: bytes, utf8: bool = False) -> str:
        """One SMTP transaction of ready wire bytes; see ``send``."""
        self.connect()
        smtp = self._smtp
        try:
            smtp.ehlo_or_helo_if_needed()
            options: list[str] = []
            if utf8:
                if not smtp.has_extn("smtputf8"):
                    raise Refused(553, "recipient or sender needs SMTPUTF8, which the server does not offer")
                options = ["SMTPUTF8", "BODY=8BITMIME"]
            code, resp = smtp.mail(from_addr, options)
            if code != 250:
                self._refused(code, resp, sender_refused=True)
            code, resp = smtp.rcpt(to_addr)
            if code not in (250, 251):
                self._refused(code, resp)
        except (smtplib.SMTPException, OSError) as exc:
            self.drop()
            raise NotSent(f"connection lost before DATA: {exc!r}") from exc
        try:
            code, resp = smtp.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused
            self._refused(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:
            self.drop()
            raise DeliveryUnknown(f"connection lost during DATA: {exc!r}") from exc
        if code != 250:
            self._refused(code, resp)
        return _text(resp)

    def _refused(self, code: int, resp: bytes | str, sender_refused: bool = False) -> None:
        # Reset the transaction so the connection can carry the next message; 421 means the server
        # is closing the channel, so the next message needs a new one.
        if code == 421:
            self.drop()
        else:
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                pass
        raise Refused(code, _text(resp), sender_refused=sender_refused)

    def drop(self) -> None:
        """Forget the connection without a goodbye (it is broken or being closed by the server)."""
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self.drop()


class RelayMailer:
    """Transactional mail: each message on its own connection. The web service sends seldom and from
    many threads; one shared connection would need a lock and would go stale between mails."""

    def __init__(self, smtp: SmtpSettings, timeout: float = 15.0):
        self.smtp, self.timeout = smtp, timeout

    def send(self, message: EmailMessage) -> str:
        with SmtpClient(self.smtp, timeout=self.timeout) as client:
            return client.send(message)
