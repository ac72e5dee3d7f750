"""Signed, opaque tokens shared by the mail sender (which writes links) and the web service
(which reads them): unsubscribe / preference links, open pixels, click redirects, opt-in
confirmation. itsdangerous signs and timestamps them; the secret is ``WARMPOOL_SECRET_KEY`` (the
sandbox's public one only in demo mode: ``warmpool.config.Settings.secret``).
"""
from __future__ import annotations

import functools
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from warmpool.config import get_settings

# How long each kind of token stays valid. CASL asks unsubscribe links to work 60 days after
# sending; we keep them a year.
MAX_AGE_SECONDS = {
    "unsubscribe": 365 * 86400,
    "preferences": 365 * 86400,
    "open": 365 * 86400,
    "click": 365 * 86400,
    "confirm": 3 * 86400,
    # The link mailed from /privacy/erase: proves the person asking controls the address. Short
    # lived and single use (its nonce is spent when the request is recorded).
    "erase": 86400,
    # The link mailed from /privacy/access: opening it once downloads the person's data.
    "access": 86400,
}


class InvalidToken(ValueError):
    """A token that was tampered with, expired, or made for another purpose."""


def secret_key() -> str:
    """The signing secret of every token (and the web service's CSRF fields); UnsafeDeployment when
    it is missing or public outside demo mode, so no link is ever signed with a key anyone can read."""
    return get_settings().secret("WARMPOOL_SECRET_KEY")


@functools.lru_cache(maxsize=64)
def _serializer(purpose: str, key: str) -> URLSafeTimedSerializer:
    if purpose not in MAX_AGE_SECONDS:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(key, salt=f"warmpool:{purpose}")


def make_token(purpose: str, payload: dict[str, Any], key: str | None = None) -> str:
    """``key``: the secret when the caller already holds it (``secret_key()``, read once for a whole
    campaign run: looking the settings up costs about a millisecond a token)."""
    return _serializer(purpose, key or secret_key()).dumps(payload)


def read_token(purpose: str, token: str, max_age: int | None = None) -> dict[str, Any]:
    try:
        return _serializer(purpose, secret_key()).loads(token, max_age=max_age or MAX_AGE_SECONDS[purpose])
    except SignatureExpired as exc:
        raise InvalidToken("token expired") from exc
    except BadSignature as exc:
        raise InvalidToken("token invalid") from exc
