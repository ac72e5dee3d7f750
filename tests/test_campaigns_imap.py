"""Replies read from a real IMAP mailbox (pymap, started on loopback with STARTTLS and a certificate
made here): replies to campaign mail are recorded once each, automatic answers are not replies,
and a second read looks only at what arrived since (UID cursor in the send ledger)."""
from __future__ import annotations

import datetime as dt
import imaplib
import ipaddress
import ssl
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from conftest import free_port
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.test_campaigns_send import T0, audience, campaigns, nurture, send, settings, smtp  # noqa: F401
from warmpool.campaigns.replies import ImapSettings, imap_settings, read_imap_replies
from warmpool.campaigns.sender import open_ledger

USER, PASSWORD = "replies@warmpool.example", "imap-test-password"


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "imap.crt", folder / "imap.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def mailbox(tmp_path):
    """A real IMAP server (pymap's in-memory backend) offering STARTTLS on a free loopback port."""
    cert, key = _certificate(tmp_path)
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("pymap")), "--host", "127.0.0.1", "--port", str(port),
                             "--cert", str(cert), "--key", str(key), "dict", "--demo-user", USER,
                             "--demo-password", PASSWORD], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                imaplib.IMAP4("127.0.0.1", port, timeout=2).logout()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pymap did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)
        yield ImapSettings(host="127.0.0.1", port=port, security="starttls", username=USER, password=PASSWORD,
                           ca_file=str(cert))
    finally:
        proc.terminate()
        proc.wait(10)


def deliver(imap: ImapSettings, *messages: EmailMessage) -> None:
    """Put messages in the mailbox as a mail server would (IMAP APPEND over STARTTLS)."""
    con = imaplib.IMAP4(imap.host, imap.port)
    con.starttls(ssl_context=ssl.create_default_context(cafile=imap.ca_file))
    con.login(imap.username, imap.password)
    for m in messages:
        assert con.append("INBOX", None, None, bytes(m))[0] == "OK"
    con.logout()


def inbound(to_message_id: str | None, **headers) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "ada@example.com", "talent@warmpool.example", "Re: news"
    m["Date"] = format_datetime(T0 + dt.timedelta(days=1))
    m["Message-ID"] = make_msgid(domain="example.com")
    if to_message_id:
        m["In-Reply-To"] = to_message_id
        m["References"] = to_message_id
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content("Thanks, yes please.")
    return m


def test_replies_are_read_over_imap_once_and_automatic_answers_are_not_replies(smtp, settings, nurture, mailbox):
    sink, _ = smtp
    send(nurture, audience(5), settings)
    ids = {str(m["To"]): str(m["Message-ID"]) for m in sink.parsed()}
    deliver(mailbox,
            inbound(ids["person0@example.com"]),                                   # a person answers
            inbound(ids["person1@example.com"], Auto_Submitted="auto-replied"),     # RFC 3834 out of office
            inbound(ids["person2@example.com"], X_Autoreply="yes"),
            inbound(ids["person3@example.com"], Precedence="bulk"),
            inbound("<somebody-else@elsewhere.example>"))                           # not about our mail
    first = read_imap_replies(settings, mailbox)
    assert (first.read, first.replies, first.auto_replies, first.not_ours) == (5, 1, 3, 1), first.describe()
    with open_ledger(settings) as ledger:
        assert ledger.replied(nurture.campaign_id) == {"p-0"}  # drip sequences stop on this

    again = read_imap_replies(settings, mailbox)
    assert again.read == 0, again.describe()  # nothing is looked at twice

    deliver(mailbox, inbound(ids["person4@example.com"], Auto_Submitted="no"))  # "no" is a person writing
    later = read_imap_replies(settings, mailbox)
    assert (later.read, later.replies) == (1, 1), later.describe()
    with open_ledger(settings) as ledger:
        assert ledger.replied(nurture.campaign_id) == {"p-0", "p-4"}


def test_imap_settings_come_from_configuration_with_the_password_in_the_environment(monkeypatch):
    raw = {"campaigns": {"replies": {"imap": {"host": "imap.example.com", "username": USER,
                                              "password_env": "TEST_IMAP_PASSWORD"}}}}
    monkeypatch.delenv("TEST_IMAP_PASSWORD", raising=False)
    with pytest.raises(ValueError, match="TEST_IMAP_PASSWORD"):
        imap_settings(raw)
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "s3cret")
    cfg = imap_settings(raw)
    assert (cfg.security, cfg.port, cfg.mailbox, cfg.password) == ("ssl", 993, "INBOX", "s3cret")
    assert imap_settings({}) is None
    with pytest.raises(ValueError, match="security"):
        imap_settings({"campaigns": {"replies": {"imap": {**raw["campaigns"]["replies"]["imap"], "security": "tls"}}}})
