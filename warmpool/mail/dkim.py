"""DKIM signing of outgoing campaign mail (dkimpy), by configuration::

    smtp:
      dkim:
        domain: warmpool.example          # the d= domain (aligned with the From domain for DMARC)
        selector: wp2026                  # the s= selector: <selector>._domainkey.<domain> holds the public key
        private_key_file: /etc/warmpool/dkim.pem   # PEM (PKCS#1 or PKCS#8 RSA); or the environment
                                          # variable WARMPOOL_DKIM_PRIVATE_KEY_FILE

The signature covers From, To, Subject, Date, Message-ID and the RFC 8058 pair List-Unsubscribe and
List-Unsubscribe-Post (Gmail and Yahoo require DKIM to cover both for one-click unsubscribe). Many
relays sign for you; sign here when yours does not, or to sign with your own domain.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import dkim

SIGNED_HEADERS = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"List-Unsubscribe", b"List-Unsubscribe-Post")
KEY_FILE_ENV = "WARMPOOL_DKIM_PRIVATE_KEY_FILE"


class DkimConfigError(ValueError):
    pass


@dataclass(frozen=True)
class DkimSigner:
    domain: str
    selector: str
    private_key: bytes

    def sign(self, data: bytes) -> bytes:
        """The message's wire bytes with a DKIM-Signature header in front (relaxed/relaxed, rsa-sha256)."""
        headers = [h for h in SIGNED_HEADERS if h.lower() + b":" in data.split(b"\r\n\r\n", 1)[0].lower()]
        signature = dkim.sign(data, self.selector.encode(), self.domain.encode(), self.private_key,
                              canonicalize=(b"relaxed", b"relaxed"), include_headers=headers)
        return signature + data


def dkim_signer(raw_settings: Mapping[str, Any] | None) -> DkimSigner | None:
    """The signer configured under ``smtp.dkim`` (None when DKIM signing is not configured)."""
    cfg = ((raw_settings or {}).get("smtp") or {}).get("dkim")
    if not cfg:
        return None
    missing = [k for k in ("domain", "selector") if not cfg.get(k)]
    key_file = os.environ.get(KEY_FILE_ENV) or cfg.get("private_key_file")
    if missing or not key_file:
        raise DkimConfigError(f"smtp.dkim: set {', '.join(missing + ([] if key_file else ['private_key_file']))}")
    try:
        key = Path(key_file).read_bytes()
    except OSError as exc:
        raise DkimConfigError(f"smtp.dkim: cannot read the private key {key_file}: {exc}") from exc
    return DkimSigner(str(cfg["domain"]), str(cfg["selector"]), key)
