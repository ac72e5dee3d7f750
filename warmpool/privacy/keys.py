"""Keyed hashes of a person's identifiers: what Warmpool may keep about someone it erased.

A bare SHA-256 of an email address is reversible by anyone with a list of addresses, so every hash
kept after an erasure is an HMAC-SHA256 under ``WARMPOOL_PRIVACY_KEY`` (``Settings.secret``: the
sandbox's public value only in demo mode; refused elsewhere). Identifiers are put in the form
identity matches on first (``warmpool.identity.normalize``: canonical email, E.164 phone, LinkedIn
slug), so "Ana@Example.com" and "ana@example.com" give one key, and a source record is keyed as
``source:source_record_id``.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Iterable

from warmpool.config import Settings, get_settings
from warmpool.identity.normalize import email_value, linkedin_slug, phone_value

PRIVACY_KEY = "WARMPOOL_PRIVACY_KEY"

# kinds of identifier on the do-not-reingest list
EMAIL, PHONE, PROFILE_URL, SOURCE_RECORD, PERSON = "email", "phone", "profile_url", "source_record", "person"
KINDS = (EMAIL, PHONE, PROFILE_URL, SOURCE_RECORD, PERSON)


def normalized(kind: str, value: object) -> str | None:
    """The matching form of one identifier (None: nothing usable to key on)."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if kind == EMAIL:
        return email_value(text)
    if kind == PHONE:
        return phone_value(text)
    if kind == PROFILE_URL:
        slug = linkedin_slug(text)
        return f"linkedin:{slug}" if slug else text.lower().rstrip("/").split("://")[-1].removeprefix("www.")
    if kind in (SOURCE_RECORD, PERSON):
        return text
    raise ValueError(f"unknown identifier kind {kind!r}; one of {KINDS}")


@dataclass(frozen=True)
class Keyer:
    """HMAC-SHA256 of normalised identifiers under the deployment's privacy key."""
    secret: bytes

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Keyer":
        return cls((settings or get_settings()).secret(PRIVACY_KEY).encode("utf-8"))

    def key(self, kind: str, value: object) -> str | None:
        norm = normalized(kind, value)
        if norm is None:
            return None
        return hmac.new(self.secret, f"{kind}\x1f{norm}".encode("utf-8"), hashlib.sha256).hexdigest()

    def keys(self, kind: str, values: Iterable[object]) -> set[str]:
        return {k for k in (self.key(kind, v) for v in values) if k}

    def record_key(self, source: str, source_record_id: object) -> str:
        return self.key(SOURCE_RECORD, f"{source}:{source_record_id}")  # type: ignore[return-value]
