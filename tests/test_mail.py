"""The one mail stack (``warmpool.mail``) against a real SMTP server (aiosmtpd on loopback): the
header guard, the bytes on the wire, connection reuse, and how each outcome of a transaction is
classified (the campaign send ledger relies on it)."""
from __future__ import annotations

import threading
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from conftest import free_port

from warmpool.config import SmtpSettings
from warmpool.mail import (DeliveryUnknown, HeaderInjectionError, NotSent, Refused, RelayMailer, SmtpClient,
                           SmtpUnreachable, compose)

LONG_URL = "https://talent.warmpool.example/u/" + "x" * 180


class Relay:
    """Keeps every accepted message and every connection; replies or hangs up as told per recipient."""

    def __init__(self):
        self.messages: list[bytes] = []
        self.connections: set[int] = set()
        self.mail_reply: str | None = None          # refuse MAIL FROM with this
        self.rcpt_reply: dict[str, str] = {}        # address -> reply
        self.hang_up_at: dict[str, str] = {}        # address -> "rcpt" | "data"
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, options):
        with self.lock:
            self.connections.add(id(session))
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.hang_up_at.get(address) == "rcpt":
            server.transport.close()
            return "250 OK"
        if address in self.rcpt_reply:
            return self.rcpt_reply[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(self.hang_up_at.get(a) == "data" for a in envelope.rcpt_tos):
            server.transport.close()
            return "250 OK"
        with self.lock:
            self.messages.append(envelope.original_content or envelope.content)
        return f"250 2.0.0 Ok: queued as Q{len(self.messages):05d}"


@pytest.fixture
def relay():
    handler = Relay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, SmtpSettings(host="127.0.0.1", port=controller.port)
    finally:
        controller.stop()


def mail(smtp: SmtpSettings, to: str = "ada@example.com", **kw):
    return compose(smtp, to=to, subject=kw.pop("subject", "Hello"), text="Hello Ada", html="<p>Hello Ada</p>", **kw)


def test_a_composed_mail_arrives_with_its_headers_on_one_line(relay):
    handler, smtp = relay
    headers = {"List-Unsubscribe": f"<{LONG_URL}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    with SmtpClient(smtp) as client:
        reply = client.send(mail(smtp, headers=headers))
    assert "queued as Q00001" in reply
    [raw] = handler.messages
    head = raw.split(b"\r\n\r\n", 1)[0]
    # Folded at 78 the URI would become RFC 2047 encoded-words, which providers do not decode.
    assert f"\r\nList-Unsubscribe: <{LONG_URL}>\r\n".encode() in head and b"=?" not in head
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["From"] == smtp.sender and parsed["To"] == "ada@example.com"
    assert parsed["Message-ID"].endswith("@warmpool.example>") and parsed["Date"]
    assert parsed.get_body(("plain",)).get_content().strip() == "Hello Ada"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hello Ada</p>"


@pytest.mark.parametrize("bad", ["Hello\r\nBcc: victim@example.com", "Hello\nX-Evil: 1", "Hello\x00"])
def test_the_header_guard_refuses_line_breaks_in_every_header(relay, bad):
    handler, smtp = relay
    with pytest.raises(HeaderInjectionError):
        mail(smtp, subject=bad)
    with pytest.raises(HeaderInjectionError):
        mail(smtp, to="ada@example.com" + bad[5:])
    with pytest.raises(HeaderInjectionError):
        mail(smtp, headers={"List-Unsubscribe": f"<{bad}>"})
    with pytest.raises(HeaderInjectionError):
        mail(SmtpSettings(host=smtp.host, port=smtp.port, sender=f"Warmpool {bad} <talent@warmpool.example>"))
    assert handler.messages == []


def test_one_client_keeps_one_connection_and_the_relay_mailer_one_per_mail(relay):
    handler, smtp = relay
    with SmtpClient(smtp) as client:
        for i in range(3):
            client.send(mail(smtp, to=f"p{i}@example.com"))
    assert len(handler.messages) == 3 and len(handler.connections) == 1
    mailer = RelayMailer(smtp)
    mailer.send(mail(smtp))
    mailer.send(mail(smtp))
    assert len(handler.messages) == 5 and len(handler.connections) == 3


def test_refusals_are_definite_and_the_connection_goes_on(relay):
    handler, smtp = relay
    handler.rcpt_reply = {"gone@example.com": "550 5.1.1 No such user", "busy@example.com": "451 4.3.0 Try later"}
    with SmtpClient(smtp) as client:
        with pytest.raises(Refused) as gone:
            client.send(mail(smtp, to="gone@example.com"))
        assert (gone.value.code, gone.value.sender_refused) == (550, False) and "No such user" in gone.value.text
        with pytest.raises(Refused) as busy:
            client.send(mail(smtp, to="busy@example.com"))
        assert busy.value.code == 451
        client.send(mail(smtp))  # the transaction was reset: the same connection carries the next mail
        handler.mail_reply = "553 5.7.1 Sender not allowed"
        with pytest.raises(Refused) as sender:
            client.send(mail(smtp))
        assert sender.value.sender_refused and sender.value.code == 553
    assert len(handler.messages) == 1 and len(handler.connections) == 1


def test_a_hang_up_before_data_is_not_sent_and_during_data_is_unknown(relay):
    handler, smtp = relay
    handler.hang_up_at = {"early@example.com": "rcpt", "late@example.com": "data"}
    with SmtpClient(smtp) as client:
        with pytest.raises(NotSent):
            client.send(mail(smtp, to="early@example.com"))
        with pytest.raises(DeliveryUnknown):
            client.send(mail(smtp, to="late@example.com"))
        client.send(mail(smtp))  # reconnects after either
    assert len(handler.messages) == 1 and len(handler.connections) == 3


def test_an_unreachable_relay_is_not_sent():
    dead = SmtpSettings(host="127.0.0.1", port=free_port())
    with pytest.raises(SmtpUnreachable, match="cannot reach the SMTP relay") as caught:
        SmtpClient(dead, timeout=5).connect()
    assert isinstance(caught.value, NotSent)  # nothing can have been accepted
    with pytest.raises(NotSent):
        RelayMailer(dead, timeout=5).send(mail(dead))


def test_text_in_any_script_and_long_lines_arrive_as_written(relay):
    """The hand-written wire format reads back (through the email package) exactly as composed: a
    subject and a sender name outside ASCII (RFC 2047), bodies in UTF-8 with lines over 78
    characters (quoted-printable), trailing blanks and lines that start with a dot or "From "."""
    handler, smtp = relay
    sender = SmtpSettings(host=smtp.host, port=smtp.port, sender="Équipe Talent Zürich <talent@warmpool.example>")
    text = ("Grüße aus Zürich — 東京 and Αθήνα.\n.a line starting with a dot\nFrom here on\ntrailing blanks   \n"
            + "long " * 40 + "\nend")
    html = "<p>Grüße " + "x" * 200 + "</p>"
    with SmtpClient(sender) as client:
        client.send(compose(sender, to="ada@example.com", subject="Neue Stellen für Sie – jetzt", text=text,
                            html=html))
    [raw] = handler.messages
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")) and raw.isascii()
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Subject"] == "Neue Stellen für Sie – jetzt" and parsed["From"] == sender.sender
    def body(kind):  # a quoted-printable part reads back with the wire's CRLF, as the email package's own
        return parsed.get_body((kind,)).get_content().replace("\r\n", "\n")
    assert body("plain") == text + "\n" and body("html") == html + "\n"
