"""Reading the signed links the service mails or that campaign mails carry (``warmpool.tokens``):
one reader for every purpose. A token is usable only if its signature, purpose and age are valid and
its payload has the fields the purpose needs; anything else reads as None (the caller shows one
"link not valid" page, whatever was wrong)."""
from __future__ import annotations

from typing import Any

from warmpool.tokens import InvalidToken, read_token

# Every payload carries a non-empty "email"; these purposes need more.
REQUIRED_FIELDS: dict[str, dict[str, type]] = {
    "confirm": {"sid": int, "n": str},  # the submission to confirm; single-use nonce
    "erase": {"n": str},                # single-use nonce
    "access": {"n": str},               # single-use nonce
}


def read_link(purpose: str, token: str) -> dict[str, Any] | None:
    """The payload of a valid ``purpose`` token, else None."""
    try:
        data = read_token(purpose, token)
    except InvalidToken:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("email"), str) or not data["email"]:
        return None
    if any(not isinstance(data.get(name), kind) for name, kind in REQUIRED_FIELDS.get(purpose, {}).items()):
        return None
    return data
