"""Email addresses: the one definition of a valid address and of the canonical (mailbox) key.

- **Validity** is email-validator's syntax rules (no DNS look-up: offline, and a form must not hang
  on a resolver). Every boundary asks here: the web forms, the vendor-file reader, the ATS loader's
  verdict column, the boundary validation, identity matching and the campaign sender.
- **canonical_email** is the key that suppression, caps, duplicate sends, the warehouse's address
  joins and identity matching compare on: lower case, no `+tag`, and for Gmail no dots and
  `googlemail.com` = `gmail.com` (Gmail delivers all those spellings to one mailbox). It is broader
  than the mailbox on other providers that also ignore `+tags`: for suppression, matching too much
  is the safe side. The dbt macro `canonical_email` (dbt_project/macros/text.sql) mirrors it, and
  tests/test_emails.py runs both over the same table of cases (tests/fixtures/canonical_emails.csv).

Plain functions, no I/O.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import polars as pl
from email_validator import EmailNotValidError, validate_email

from warmpool.frames import per_distinct

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
# Surrounding blanks are cosmetic (copy-paste); line breaks and other control characters are not
# stripped: an address holding them is refused, so none can ever reach a mail header.
_BLANKS = " \t"


class InvalidEmail(ValueError):
    """Not a valid email address (the message says why, in email-validator's words)."""


def normalize_email(value: Any, *, ascii_only: bool = False) -> str:
    """The address in email-validator's normalised form (domain lower-cased, Unicode NFC), or
    InvalidEmail. ``ascii_only`` refuses addresses that need SMTPUTF8 (not every relay carries
    them) and returns the all-ASCII form (an internationalised domain as IDNA)."""
    if not isinstance(value, str) or not value.strip(_BLANKS):
        raise InvalidEmail("no email address")
    try:
        info = validate_email(value.strip(_BLANKS), check_deliverability=False, allow_smtputf8=not ascii_only)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return (info.ascii_email or info.normalized) if ascii_only else info.normalized


def is_valid_email(value: Any) -> bool:
    """Whether ``value`` is a valid address by email-validator's rules (blank: no)."""
    if not isinstance(value, str):
        return False
    text = value.strip(_BLANKS)
    return bool(text) and _valid(text)


# A subset of what email-validator accepts (dot-atom local part of ASCII letters, digits, `_%+-` and
# the accented Latin letters U+00C0-U+017F, which it allows as internationalised letters; LDH domain
# labels; an alphabetic TLD that is not special-use; lengths within its limits, counted in UTF-8 as
# it counts them): such addresses skip the ~150 µs call, which matters when a million records are
# checked or matched; anything else is asked.
_SPECIAL_USE_TLDS = ("local", "localhost", "test", "invalid", "onion", "arpa", "internal", "home", "lan", "example")
_LOCAL_CHARS = "a-z0-9_%+\\-\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u017f"
_PLAIN_ADDRESS = re.compile(rf"^[{_LOCAL_CHARS}]+(\.[{_LOCAL_CHARS}]+)*@(?=.{{4,253}}$)"
                            r"([a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?\.)+"
                            rf"(?!(?:{'|'.join(_SPECIAL_USE_TLDS)})$)[a-z]{{2,24}}$",
                            re.IGNORECASE)
# The same shape in polars' regex dialect (no look-around: the lengths and the TLD are separate
# conditions; ASCII letters spelled out, a subset of Python's case-insensitive [a-z]).
_LOCAL_CHARS_POLARS = r"a-zA-Z0-9_%+\-\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{17F}"
_PLAIN_ADDRESS_POLARS = (rf"^[{_LOCAL_CHARS_POLARS}]+(?:\.[{_LOCAL_CHARS_POLARS}]+)*@"
                         r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,24}$")
_SPECIAL_USE_TLD_POLARS = rf"\.(?i:{'|'.join(_SPECIAL_USE_TLDS)})$"


@lru_cache(maxsize=200_000)
def _valid(address: str) -> bool:
    local = address.rpartition("@")[0]
    if len(address.encode("utf-8", "surrogatepass")) <= 254 and len(local) <= 64 and _PLAIN_ADDRESS.fullmatch(address):
        return True
    try:
        validate_email(address, check_deliverability=False)
        return True
    except EmailNotValidError:
        return False


def valid_email_mask(values: pl.Series) -> pl.Series:
    """``is_valid_email`` over a Series of text (null stays null), for a million rows at a time:
    plain addresses are recognised in one vectorised pass, email-validator is asked once per
    distinct remaining value."""
    text = values.str.strip_chars(_BLANKS)
    # The regex bounds the domain to 4+ characters; 254 bytes in all bound it to 253.
    plain = (text.str.contains(_PLAIN_ADDRESS_POLARS) & (text.str.len_bytes() <= 254)
             & ~text.str.contains(r"^[^@]{65}") & ~text.str.contains(_SPECIAL_USE_TLD_POLARS)).fill_null(False)
    asked = per_distinct(text, lambda v: bool(v) and _valid(v), pl.Boolean, where=~plain)
    return pl.select(pl.when(values.is_null()).then(None).when(plain).then(True)
                     .otherwise(asked)).to_series().rename(values.name)


def canonical_email(address: Any) -> str | None:
    """The mailbox key of an address, or None when it has no usable shape (blank, not exactly one
    ``@``, nothing before the ``+tag`` or after the ``@``). Syntax is not judged here (see
    ``is_valid_email``): the key of an odd but deliverable address must still match its events."""
    if not isinstance(address, str):
        return None
    text = address.strip(_BLANKS).lower()
    if text.count("@") != 1:
        return None
    local, domain = text.split("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    if not local or not domain:
        return None
    return f"{local}@{domain}"
