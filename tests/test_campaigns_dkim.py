"""DKIM: campaign mail signed by configuration verifies as received by the real loopback SMTP server,
with the signature covering From, Subject and the RFC 8058 one-click pair; a changed header fails."""
from __future__ import annotations

import base64
import dataclasses
import re

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.test_campaigns_send import T0, audience, campaigns, nurture, send, settings, smtp  # noqa: F401
from warmpool.mail.dkim import DkimConfigError, dkim_signer


@pytest.fixture
def key_pair(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path / "dkim.pem"
    path.write_bytes(pem)
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_a_received_campaign_mail_carries_a_dkim_signature_that_verifies(smtp, settings, nurture, key_pair):
    sink, _ = smtp
    path, record = key_pair
    signed = dataclasses.replace(settings, raw={**settings.raw, "smtp": {"dkim": {
        "domain": "warmpool.example", "selector": "wp2026", "private_key_file": str(path)}}})
    assert send(nurture, audience(2), signed).sent == 2

    asked = []

    def dns(name, timeout=5):  # the test's DNS: only the selector's TXT record exists
        asked.append(name)
        return record if name == b"wp2026._domainkey.warmpool.example." else None

    for _, _, raw in sink.messages:
        assert dkim.verify(raw, dnsfunc=dns), raw[:400]
        header = raw.split(b"\r\n\r\n", 1)[0].decode()
        signed_headers = re.search(r"h=([^;]+);", re.sub(r"\s+", "", header.split("DKIM-Signature:", 1)[1])).group(1)
        assert {"from", "subject", "list-unsubscribe", "list-unsubscribe-post"} <= set(signed_headers.lower().split(":"))
        tampered = raw.replace(b"List-Unsubscribe: <https://", b"List-Unsubscribe: <https://evil.", 1)
        assert not dkim.verify(tampered, dnsfunc=dns)
    assert asked and set(asked) == {b"wp2026._domainkey.warmpool.example."}


def test_unsigned_without_configuration_and_a_clear_error_when_half_configured(smtp, settings, nurture):
    sink, _ = smtp
    send(nurture, audience(1), settings)
    assert b"DKIM-Signature" not in sink.messages[0][2]
    assert dkim_signer({"smtp": {}}) is None
    with pytest.raises(DkimConfigError, match="private_key_file"):
        dkim_signer({"smtp": {"dkim": {"domain": "d.example", "selector": "s"}}})
