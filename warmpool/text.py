"""People's names and profile URLs: what a clean name and a usable profile URL are, in one place.

Every way in calls these (the vendor-file readers, the web forms, identity's normalisation), so a
name or a profile URL means the same wherever it came from.

- **Names** (`clean_name`): Unicode NFC (a decomposed "é" and a composed one are the same name);
  bidi controls (which reorder what a reader sees, e.g. U+202E RIGHT-TO-LEFT OVERRIDE), zero-width
  characters and every other invisible format character (category Cf: U+200B, U+2060, U+FEFF, soft
  hyphen, tag characters ...) removed; other control characters removed, tabs and line breaks read
  as a space; blanks collapsed. Real accents, combining marks and every script stay. The one
  exception: ZERO WIDTH NON-JOINER / JOINER between two letters of a non-Latin script are spelling
  (Persian, Devanagari ...) and stay.
- **Profile URLs** (`profile_url`): parsed with `urllib.parse` and `idna`: http or https only (a bare
  `linkedin.com/in/x` is read as https), a real DNS host (no IP address, no `localhost`, no user
  name before an `@`), no blanks, markup or template syntax (`<`, `>`, `{`, `}`, `"` ... cannot
  appear in a URL), at most 2,048 characters. The result is canonical: scheme and host lower case,
  an internationalised host in its ASCII form, no default port, no fragment, non-ASCII path
  characters percent-encoded. Known profile hosts get their canonical form: any LinkedIn host
  becomes `https://www.linkedin.com`, and a member profile `/in/<slug>` loses its sub-pages, query
  and trailing slash, its slug lower case (LinkedIn's are case-insensitive).

The ``*_many`` functions apply the same rules to a polars Series: plain values (ASCII names, a
canonical LinkedIn URL) are recognised in one vectorised pass, and the Python rule runs once per
distinct remaining value.

Plain functions, no I/O.
"""
from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import idna
import polars as pl

from warmpool.frames import per_distinct

MAX_URL_CHARS = 2048
_KEEP_BETWEEN_LETTERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: spelling in Persian and Indic scripts
_SPACES = re.compile(r"\s+")
# Characters RFC 3986 never allows unencoded; typical of markup and template syntax.
_NOT_IN_URLS = re.compile(r'[<>"{}|\\^`]')
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# Known profile hosts: every host under the key is rewritten to the value.
PROFILE_HOSTS = {"linkedin.com": "www.linkedin.com"}
LINKEDIN = "www.linkedin.com"
# The usual shapes of a LinkedIn member URL, answered without the general parse (same result).
_LINKEDIN_MEMBER = re.compile(r"^(?:https?://)?(?:(?:www|[a-z]{2})\.)?linkedin\.com/in/([^/?#]+)/?(?:[?#].*)?$",
                              re.IGNORECASE)


class InvalidProfileUrl(ValueError):
    """Not a profile URL Warmpool can use (the message says why, for the person who fixes it)."""


# --- names ------------------------------------------------------------------------------------

def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM" and not ch.isascii()


def clean_name(value: Any) -> str | None:
    """A person's name without invisible characters (see the module notes); blank -> None."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value))
    kept: list[str] = []
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Cf":
            if ch in _KEEP_BETWEEN_LETTERS and 0 < i < len(text) - 1 and _is_letter(text[i - 1]) \
                    and _is_letter(text[i + 1]):
                kept.append(ch)
            continue
        if category == "Cc":
            if ch.isspace():
                kept.append(" ")
            continue
        if category == "Cs":  # a lone surrogate cannot be stored as text
            continue
        kept.append(ch)
    cleaned = _SPACES.sub(" ", "".join(kept)).strip()
    return cleaned or None


# Printable ASCII without doubled or surrounding blanks: clean_name leaves such a value as it is.
_PLAIN_NAME = r"^[\x21-\x7e]+(?: [\x21-\x7e]+)*$"


def clean_names(values: pl.Series) -> pl.Series:
    """`clean_name` over a Series of text (nulls stay null)."""
    plain = values.str.contains(_PLAIN_NAME).fill_null(True)
    cleaned = per_distinct(values, clean_name, pl.String, where=~plain)
    return pl.select(pl.when(plain).then(values).otherwise(cleaned)).to_series().rename(values.name)


# --- profile URLs -----------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _host(hostname: str) -> str:
    try:
        ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        pass
    else:
        raise InvalidProfileUrl(f"{hostname!r} is an IP address, not a web site's name")
    try:
        host = idna.encode(hostname.rstrip("."), uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidProfileUrl(f"{hostname!r} is not a valid host name ({exc})") from None
    labels = host.split(".")
    if len(labels) < 2 or not (labels[-1].isalpha() or labels[-1].startswith("xn--")):
        raise InvalidProfileUrl(f"{hostname!r} is not a public host name")
    return host


def _canonical_host(host: str) -> str:
    for domain, canonical in PROFILE_HOSTS.items():
        if host == domain or host.endswith("." + domain):
            return canonical
    return host


def _percent_encoded(path: str) -> str:
    # Upper-case hex in existing escapes (RFC 3986 §6.2.2.1), then encode what is not URL-safe.
    path = re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), path)
    return quote(path, safe=_PATH_SAFE)


def profile_url(value: Any) -> str:
    """The canonical form of a profile URL, or InvalidProfileUrl saying what is wrong with it."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidProfileUrl("no URL")
    text = value.strip()
    if len(text) > MAX_URL_CHARS:
        raise InvalidProfileUrl(f"{len(text):,} characters, over the {MAX_URL_CHARS:,} a URL may have")
    if not text.isprintable() or " " in text:  # blanks, line breaks, controls, invisible characters
        raise InvalidProfileUrl("it contains blanks, line breaks or invisible characters")
    odd = sorted(set(_NOT_IN_URLS.findall(text)))
    if odd:
        raise InvalidProfileUrl(f"it contains {' '.join(odd)}, which no URL holds (markup or a template?)")
    member = _LINKEDIN_MEMBER.match(text)
    if member:
        return _linkedin_member(member.group(1))
    return _parsed(text)


def _linkedin_member(slug: str) -> str:
    return f"https://{LINKEDIN}/in/{quote(unquote(slug).lower(), safe='-_.~')}"


def _parsed(text: str) -> str:
    if "://" not in text:
        if _SCHEME.match(text) and not re.match(r"^[^:/]+:\d+(/|$)", text):
            raise InvalidProfileUrl(f"only http and https addresses are profile URLs, not {text.split(':')[0]!r}")
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a malformed port or bracketed host
        raise InvalidProfileUrl(str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidProfileUrl(f"only http and https addresses are profile URLs, not {scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise InvalidProfileUrl("a user name before '@' in a profile URL is a disguise for another host")
    if not parts.hostname:
        raise InvalidProfileUrl("it has no host name")
    host = _canonical_host(_host(parts.hostname))
    path = _percent_encoded(parts.path)
    query = _percent_encoded(parts.query)
    if host in PROFILE_HOSTS.values():
        scheme, port = "https", None
        member = re.match(r"^/in/([^/]+)", path)
        if member:
            return _linkedin_member(member.group(1))
        path, query = path.rstrip("/").lower(), ""
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, path, query, ""))


# A LinkedIn member URL in a usual spelling, its slug of letters that need no decoding (ASCII, and
# the accented Latin letters U+00C0-U+017F but for U+0130, whose lower case is two characters):
# answered in a vectorised pass, with the same result as profile_url.
_LINKEDIN_PLAIN_SLUG = (r"^(?i:https?://)?(?i:(?:www|[a-z]{2})\.)?(?i:linkedin\.com)/in/"
                        r"[A-Za-z0-9_\-\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{12F}\x{131}-\x{17F}]+/?$")
_SLUG_LETTERS = [chr(c) for c in range(0xC0, 0x180) if c not in (0xD7, 0xF7, 0x130)]


def _percent_encoded_many(values: pl.Series) -> pl.Series:
    """What `quote(value, safe="-_.~")` gives, for slugs of the characters `_LINKEDIN_PLAIN_SLUG`
    allows: each accented letter as its UTF-8 bytes in %XX, in one pass."""
    return values.str.replace_many(_SLUG_LETTERS, [quote(c) for c in _SLUG_LETTERS])


def profile_urls_many(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(canonical URL or null, why not or null) for a Series of text; nulls stay null."""
    plain = values.str.contains(_LINKEDIN_PLAIN_SLUG).fill_null(False)
    slug = values.str.splitn("/in/", 2).struct.field("field_1").str.strip_suffix("/")
    canonical = _percent_encoded_many(pl.select(pl.when(plain).then(slug.str.to_lowercase())).to_series())

    def verdict(value: str) -> dict[str, str | None]:
        try:
            return {"url": profile_url(value), "error": None}
        except InvalidProfileUrl as exc:
            return {"url": None, "error": str(exc)}

    looked_up = per_distinct(values, verdict, pl.Struct({"url": pl.String, "error": pl.String}), where=~plain)
    urls = pl.select(pl.when(plain).then(pl.lit(f"https://{LINKEDIN}/in/") + canonical)
                     .otherwise(looked_up.struct.field("url"))).to_series()
    return urls.rename(values.name), looked_up.struct.field("error").rename("error")
