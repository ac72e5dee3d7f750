"""Normalise resolve-contract columns into matching features.

Every function here is plain (no I/O, no Splink). Scalar functions (``*_value``) define the rule;
the frame-level ``normalize_records`` applies them vectorised: cheap string work is done with
polars expressions, and the expensive per-value functions (unidecode, nickname lookup, email
syntax check, phone parsing) run once per *distinct* value and are joined back, because recruiting
data repeats the same names, cities and companies a lot.
"""
from __future__ import annotations

import multiprocessing
import os
import re
import unicodedata
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable, Iterable
from urllib.parse import unquote

import phonenumbers
import polars as pl
from unidecode import unidecode

from warmpool.emails import canonical_email, is_valid_email
from warmpool.text import clean_name

# The resolve contract's input columns (docs/data-contracts.md section 4).
KEY_COLUMNS = ("source", "source_record_id")
CONTRACT_COLUMNS = (
    "source", "source_record_id", "first_name", "last_name", "email", "phone", "city", "region",
    "country", "linkedin_url", "current_title", "current_company", "skills", "years_experience",
    "updated_at",
)

# Bumped whenever a rule below changes what a feature looks like: a saved model was trained on
# features of one version, so resolve refuses a model trained on another (see model.py).
NORMALIZE_VERSION = 3

# Optional columns of the contract (docs/data-contracts.md section 4): exports are free to leave them
# out, but when an input carries them they are normalised and compared (a model adapted to the input
# compares every one the input populates, see estimate.py). ``full_name`` fills first / middle / last
# name where those are empty; ``middle_name`` is compared on its own.
OPTIONAL_COLUMNS = ("date_of_birth", "postcode", "address_line", "middle_name", "full_name")
# Several addresses or phones of one record, in one field: "a@x.com; b@y.org".
MULTI_VALUE_SEP = ";"

_NON_ALNUM = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def ascii_lower(value: str | None) -> str | None:
    """Lower-case ASCII folding ("Zoë Šimić" -> "zoe simic"), invisible characters dropped first
    (`warmpool.text.clean_name`: "Le\u200be" is "lee", not "le e"); empty -> None."""
    value = clean_name(value)
    if value is None:
        return None
    folded = unidecode(unicodedata.normalize("NFKC", value)).lower()
    folded = _SPACES.sub(" ", _NON_ALNUM.sub(" ", folded.replace("'", ""))).strip()
    return folded or None


# ---------------------------------------------------------------------------------------------
# names

@lru_cache(maxsize=1)
def _nickname_table() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """(canonical form, alias group) per name, from the shipped ``nicknames`` table.

    The table says "robert has_nickname bob"; a nickname may belong to several formal names
    ("ron": aaron, ronald, veronica...). A *single* canonical form is needed for blocking, so a
    name maps to whichever of itself and its formal names scores best: the number of nicknames a
    formal name has (a proxy for how common it is) plus a bonus when it starts like the nickname
    ("ron" -> "ronald", not "veronica"); ties go to the longer, then alphabetical. Imperfect for a
    few ("bill" -> "robert"), which is why the *alias group* (the name plus every formal name it
    may stand for) feeds a more forgiving comparison level as well.
    """
    from nicknames import name_triplets

    formal_to_nicks: dict[str, set[str]] = {}
    nick_to_formals: dict[str, set[str]] = {}
    for t in name_triplets():
        formal, nick = t[0].lower(), t[2].lower()
        formal_to_nicks.setdefault(formal, set()).add(nick)
        nick_to_formals.setdefault(nick, set()).add(formal)

    def score(name: str, candidate: str) -> tuple:
        prefix = 0
        for x, y in zip(name, candidate):
            if x != y:
                break
            prefix += 1
        bonus = 5 if prefix >= 3 and len(candidate) > len(name) else 0  # nickname -> a longer formal name
        return (len(formal_to_nicks.get(candidate, ())) + bonus, len(candidate), candidate)

    canonical: dict[str, str] = {}
    aliases: dict[str, frozenset[str]] = {}
    for name in set(formal_to_nicks) | set(nick_to_formals):
        formals = nick_to_formals.get(name, set())
        canonical[name] = max(formals | {name}, key=lambda c: score(name, c))
        aliases[name] = frozenset(formals | {name})
    return canonical, aliases


def name_value(value: str | None) -> str | None:
    """A name as compared: ASCII lower case, punctuation to spaces ("Jean-Luc" -> "jean luc")."""
    return ascii_lower(value)


def surname_value(value: str | None) -> str | None:
    """Surnames compare without spaces or hyphens ("van der Berg" == "Vanderberg")."""
    v = ascii_lower(value)
    return v.replace(" ", "") if v else None


@lru_cache(maxsize=1)
def _name_particles() -> tuple[frozenset[str], frozenset[str]]:
    """(titles, suffixes) as nameparser knows them, lower case without dots."""
    from nameparser.config import CONSTANTS

    def clean(items) -> frozenset[str]:
        return frozenset(str(x).lower().replace(".", "") for x in items)

    return clean(CONSTANTS.titles), clean(CONSTANTS.suffix_acronyms) | clean(CONSTANTS.suffix_not_acronyms)


def split_full_name(value: str | None) -> tuple[str | None, str | None, str | None]:
    """(first, middle, last) of a name written in one field ("Dr. María José García", "García, María").

    Two plain words are split directly ("first last"); anything else (a comma, titles, suffixes,
    particles, three or more words) goes to nameparser, which is slower (~0.2 ms a name).
    """
    if value is None:
        return None, None, None
    text = " ".join(str(value).split())
    if not text:
        return None, None, None
    words = text.split(" ")
    titles, suffixes = _name_particles()
    if len(words) == 2 and "," not in text and "." not in text and not {w.lower() for w in words} & (titles | suffixes):
        return words[0], None, words[1]
    if len(words) == 1 and "," not in text:
        return words[0], None, None
    from nameparser import HumanName  # its parser tables load on first use; most names never need it

    parsed = HumanName(text)
    return parsed.first or None, parsed.middle or None, parsed.last or None


def first_name_canonical(value: str | None) -> str | None:
    """Nickname-canonical form of a first name's first token ("Bob" -> "robert")."""
    v = ascii_lower(value)
    if not v:
        return None
    token = v.split(" ")[0]
    return _nickname_table()[0].get(token, token)


def first_name_aliases(value: str | None) -> list[str] | None:
    """Every name the first token may stand for, itself included ("ron" -> [aaron, ron, ronald, ...])."""
    v = ascii_lower(value)
    if not v:
        return None
    token = v.split(" ")[0]
    return sorted(_nickname_table()[1].get(token, frozenset({token})))


# ---------------------------------------------------------------------------------------------
# emails

# Domain typos seen in hand-typed forms, mapped to the real domain.
EMAIL_DOMAIN_FIXES = {
    "gmial.com": "gmail.com", "gmai.com": "gmail.com", "gmail.co": "gmail.com", "gamil.com": "gmail.com",
    "gnail.com": "gmail.com", "gmal.com": "gmail.com", "gmaill.com": "gmail.com", "gmail.cm": "gmail.com",
    "gmail.con": "gmail.com", "gmail.om": "gmail.com", "gmailcom": "gmail.com", "googlemail.com": "gmail.com",
    "hotmial.com": "hotmail.com", "hotmai.com": "hotmail.com", "hotmail.co": "hotmail.com",
    "hotmail.con": "hotmail.com", "hotnail.com": "hotmail.com",
    "yaho.com": "yahoo.com", "yahooo.com": "yahoo.com", "yahoo.co": "yahoo.com", "yahoo.con": "yahoo.com",
    "outlok.com": "outlook.com", "outllook.com": "outlook.com", "outlook.co": "outlook.com",
    "iclod.com": "icloud.com", "icloud.co": "icloud.com",
}
# Free-mail providers: an address there is the person's own, not an employer's. A person rarely
# keeps two personal mailboxes, but work addresses come and go with jobs, so "two different
# personal addresses" is much stronger evidence of two people than "personal vs work address".
# Matched on the domain's first label (yahoo.co.uk, hotmail.fr, gmx.net ...) or on the whole domain.
_FREEMAIL_LABELS = frozenset({
    "gmail", "googlemail", "yahoo", "ymail", "rocketmail", "hotmail", "outlook", "live", "msn", "icloud", "aol",
    "protonmail", "proton", "pm", "gmx", "zoho", "yandex", "mail", "fastmail", "tutanota", "hushmail",
    "rediffmail", "btinternet", "orange", "wanadoo", "laposte", "sfr", "libero", "virgilio", "seznam",
    "rogers", "shaw", "sympatico", "bigpond", "optusnet", "comcast", "verizon", "att", "sbcglobal",
})
_FREEMAIL_DOMAINS = frozenset({
    "me.com", "mac.com", "web.de", "t-online.de", "posteo.de", "freenet.de", "free.fr", "sky.com",
    "virginmedia.com", "qq.com", "163.com", "126.com", "wp.pl", "o2.pl", "interia.pl", "naver.com",
})


def email_is_freemail(value: str | None) -> bool | None:
    """Whether a *normalised* address is at a free-mail provider (None when there is no address)."""
    if not value or "@" not in value:
        return None
    domain = value.rsplit("@", 1)[1]
    return domain in _FREEMAIL_DOMAINS or domain.split(".", 1)[0] in _FREEMAIL_LABELS


def email_value(value: str | None) -> str | None:
    """Matching key of an address: hand-typed wrapping (`<...>`, `mailto:`, a trailing dot) and
    domain typos repaired, then ``warmpool.emails.canonical_email`` (lower case, +tags and Gmail dots
    dropped). An invalid address (email-validator's rules, ``is_valid_email``) gives None: a
    garbage address must not become a shared blocking key.
    """
    if value is None:
        return None
    raw = str(value).strip().strip("<>").strip().lower()
    if raw.startswith("mailto:"):
        raw = raw[7:]
    if raw.count("@") != 1:
        return None
    local, domain = raw.split("@")
    domain = domain.strip().rstrip(".")
    key = canonical_email(f"{local.strip()}@{EMAIL_DOMAIN_FIXES.get(domain, domain)}")
    return key if key is not None and is_valid_email(key) else None


def email_values(value: str | None) -> list[str] | None:
    """Every valid address of a ``;``-separated field, as ``email_value`` keys, first-seen order, distinct."""
    if value is None:
        return None
    out: list[str] = []
    for part in str(value).split(MULTI_VALUE_SEP):
        key = email_value(part)
        if key is not None and key not in out:
            out.append(key)
    return out or None


def mailbox_from_name(local: pl.Expr, first: pl.Expr, last: pl.Expr) -> pl.Expr:
    """Whether a mailbox name is made of the person's own names ("maria.garcia", "mgarcia",
    "garcia.m2", "maria"), as a polars expression over normalised columns (null without a mailbox).

    Namesakes get such mailboxes at different employers, so the same mailbox name at two domains
    says little beyond the names agreeing: model.py's conditional email level uses this.
    """
    letters = local.str.replace_all(r"[^a-z]", "")
    f = first.str.replace_all(" ", "").fill_null("")
    s = last.str.replace_all(" ", "").fill_null("")
    f0, s0 = f.str.slice(0, 1), s.str.slice(0, 1)
    both = (f != "") & (s != "")
    shapes = [(f != "", f), (s != "", s), (both, f + s), (both, s + f), (both, f0 + s), (both, s + f0),
              (both, f + s0), (both, s0 + f), (both, f0 + s0)]
    made_of_name = pl.lit(False)
    for usable, shape in shapes:
        made_of_name = made_of_name | (usable & (letters == shape))
    return pl.when(local.is_null()).then(None).otherwise(made_of_name & (letters != ""))


# ---------------------------------------------------------------------------------------------
# countries and phones

# Country names / codes seen in exports -> ISO 3166 alpha-2 (also the phonenumbers region).
_COUNTRY_ALIASES = {
    "united states": "US", "united states of america": "US", "usa": "US", "us": "US", "u s a": "US", "u s": "US",
    "america": "US", "united kingdom": "GB", "uk": "GB", "gb": "GB", "great britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "britain": "GB", "germany": "DE", "deutschland": "DE", "de": "DE",
    "france": "FR", "fr": "FR", "spain": "ES", "espana": "ES", "es": "ES", "italy": "IT", "italia": "IT",
    "it": "IT", "canada": "CA", "ca": "CA", "ireland": "IE", "ie": "IE", "netherlands": "NL",
    "the netherlands": "NL", "holland": "NL", "nl": "NL", "portugal": "PT", "pt": "PT", "poland": "PL",
    "polska": "PL", "pl": "PL", "india": "IN", "in": "IN", "australia": "AU", "au": "AU", "brazil": "BR",
    "brasil": "BR", "br": "BR", "mexico": "MX", "mx": "MX", "sweden": "SE", "se": "SE", "switzerland": "CH",
    "ch": "CH", "austria": "AT", "at": "AT", "belgium": "BE", "be": "BE", "denmark": "DK", "dk": "DK",
    "norway": "NO", "no": "NO", "finland": "FI", "fi": "FI", "japan": "JP", "jp": "JP", "singapore": "SG",
    "sg": "SG", "new zealand": "NZ", "nz": "NZ", "south africa": "ZA", "za": "ZA", "israel": "IL", "il": "IL",
}


def country_value(value: str | None) -> str | None:
    """ISO alpha-2 for known names and codes ("Deutschland" -> "DE"), else lower ASCII."""
    v = ascii_lower(value)
    if not v:
        return None
    if v in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[v]
    if len(v) == 2 and v.upper() in phonenumbers.SUPPORTED_REGIONS:
        return v.upper()
    return v


@lru_cache(maxsize=500_000)
def phone_value(value: str | None, region: str | None = None) -> str | None:
    """E.164 ("+14155550123") using the record's country as the region hint.

    Parsing is slow (~20 µs), so this is cached and callers pass distinct (value, region) pairs.
    A number that cannot be parsed but has enough digits keeps a "#digits" form: still an exact
    key for the same string written twice, never equal to a real E.164 value.
    """
    if value is None:
        return None
    raw = str(value).strip()
    if not raw:
        return None
    hint = region if region and len(region) == 2 and region.isupper() else None
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    fast = _phone_fast(raw, hint)
    if fast is not None:
        return fast
    for r in (hint, "US") if hint != "US" else ("US",):
        try:
            num = phonenumbers.parse(raw, r)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        if raw.startswith("+"):
            break  # an explicit country code: another region hint cannot help
    digits = "".join(ch for ch in raw if ch.isdigit())
    return f"#{digits}" if len(digits) >= 7 else None


def phone_values(value: str | None, region: str | None = None) -> list[str] | None:
    """Every number of a ``;``-separated field, as ``phone_value`` keys, first-seen order, distinct."""
    if value is None:
        return None
    out: list[str] = []
    for part in str(value).split(MULTI_VALUE_SEP):
        key = phone_value(part.strip() or None, region)
        if key is not None and key not in out:
            out.append(key)
    return out or None


_PHONE_SHAPE = re.compile(r"^\+?[0-9 ().\-/]+$")


@lru_cache(maxsize=None)
def _phone_region_info(region: str) -> tuple[str, str, frozenset[int]] | None:
    """(country calling code, national prefix, possible national lengths) of a region."""
    from phonenumbers.phonemetadata import PhoneMetadata

    md = PhoneMetadata.metadata_for_region(region)
    if md is None or md.general_desc is None:
        return None
    return str(md.country_code), md.national_prefix or "", frozenset(md.general_desc.possible_length or ())


@lru_cache(maxsize=None)
def _phone_cc_lengths(cc: str) -> frozenset[int] | None:
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(cc))
    if not regions:
        return None
    out: set[int] = set()
    for r in regions:
        info = _phone_region_info(r)
        if info:
            out |= info[2]
    return frozenset(out)


def _phone_fast(raw: str, hint: str | None) -> str | None:
    """E.164 for the plain shapes (digits with spaces, dots, dashes, brackets) without the
    ~90 µs phonenumbers parse: a known calling code or national prefix and a possible length.
    None means "ask phonenumbers" (anything unusual: letters, extensions, odd lengths)."""
    if not _PHONE_SHAPE.match(raw):
        return None
    raw = raw.replace("(0)", "")
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        for n in (1, 2, 3):  # calling codes are prefix-free
            lengths = _phone_cc_lengths(digits[:n]) if len(digits) > n else None
            if lengths is not None:
                return "+" + digits if len(digits) - n in lengths and not digits[n:].startswith("0") else None
        return None
    info = _phone_region_info(hint) if hint else None
    if info is None:
        return None
    cc, prefix, lengths = info
    if prefix and digits.startswith(prefix) and len(digits) - len(prefix) in lengths:
        nsn = digits[len(prefix):]
    elif not prefix or (cc == "1" and len(digits) == 10):
        nsn = digits
    else:
        return None
    return f"+{cc}{nsn}" if len(nsn) in lengths and not nsn.startswith("0") else None


# ---------------------------------------------------------------------------------------------
# profile URL, employer, title, skills

_LINKEDIN_PATH = re.compile(r"linkedin\.com/(?:in|pub)/([^/?#\s]+)", re.IGNORECASE)
_BARE_SLUG = re.compile(r"^[a-z0-9][a-z0-9\-_%.]{1,99}$")


def linkedin_slug(value: str | None) -> str | None:
    """The profile slug of a LinkedIn URL in any of its shapes (www / country sub-domain, trailing
    slash, query string, percent-encoding, "in/slug"), or a bare slug; lower case."""
    if value is None:
        return None
    raw = str(value).strip()
    if not raw:
        return None
    m = _LINKEDIN_PATH.search(raw)
    if m:
        slug = m.group(1)
    elif raw.lower().startswith("in/"):
        slug = raw[3:].split("/")[0]
    elif "/" not in raw and "." not in raw and _BARE_SLUG.match(raw.lower()):
        slug = raw
    else:
        return None
    slug = unidecode(unquote(slug)).lower().strip("-_ ")
    return slug or None


_COMPANY_SUFFIXES = frozenset({
    "inc", "incorporated", "ltd", "limited", "llc", "llp", "plc", "corp", "corporation", "co", "company",
    "gmbh", "ag", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "ab", "oy", "as", "pty", "group", "the",
})


def company_value(value: str | None) -> str | None:
    """Employer without legal-form noise ("Acme, Inc." == "ACME Corporation")."""
    v = ascii_lower(value)
    if not v:
        return None
    tokens = [t for t in v.split(" ") if t not in _COMPANY_SUFFIXES]
    return " ".join(tokens) or v


_TITLE_ABBREVIATIONS = {
    "sr": "senior", "snr": "senior", "jr": "junior", "jnr": "junior", "eng": "engineer", "engr": "engineer",
    "mgr": "manager", "dev": "developer", "swe": "software engineer", "vp": "vice president", "dir": "director",
    "mktg": "marketing", "assoc": "associate", "asst": "assistant", "admin": "administrator", "ops": "operations",
}


def title_value(value: str | None) -> str | None:
    """Job title, lower ASCII with common abbreviations expanded ("Sr. SWE" -> "senior software engineer")."""
    v = ascii_lower(value)
    if not v:
        return None
    return " ".join(_TITLE_ABBREVIATIONS.get(t, t) for t in v.split(" "))


def location_value(value: str | None) -> str | None:
    """City / region: lower ASCII ("São Paulo" -> "sao paulo")."""
    return ascii_lower(value)


_SLASH_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})[/.\-]?(\d{1,2})[/.\-]?(\d{1,2})\s*$")


def date_order(values: Iterable[str | None]) -> str:
    """Whether a column's ``nn/nn/yyyy`` dates are day first ("dmy") or month first ("mdy").

    Decided per column, from the values that can only be read one way: a first number above 12 is a
    day (day first), a second number above 12 is a day (month first). The majority wins; a column with
    no such value is read day first (most of the world; the US exports that write month first give
    themselves away with any day after the 12th).
    """
    day_first = month_first = 0
    for v in values:
        m = _SLASH_DATE.match(v) if v else None
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            day_first += a > 12 >= b
            month_first += b > 12 >= a
    return "mdy" if month_first > day_first else "dmy"


def date_value(value: str | None, order: str = "dmy") -> str | None:
    """A date of birth as ``YYYYMMDD`` from ``YYYY-MM-DD`` / ``YYYYMMDD`` or ``nn/nn/YYYY`` read in
    ``order`` ("dmy" or "mdy", see ``date_order``); else None. A typo'd date (month 13, day 71) is
    kept as its digits: still comparable with the right one by edit distance."""
    if value is None:
        return None
    raw = str(value).strip()
    m = _SLASH_DATE.match(raw)
    if m:
        a, b, year = m.group(1).zfill(2), m.group(2).zfill(2), m.group(3)
        digits = year + (b + a if order == "dmy" else a + b)
    else:
        m = _ISO_DATE.match(raw)
        if not m:
            return None
        digits = m.group(1) + m.group(2).zfill(2) + m.group(3).zfill(2)
    return digits if len(digits) == 8 and 1800 <= int(digits[:4]) <= 2100 else None


_STREET_WORDS = {
    "street": "st", "str": "st", "road": "rd", "avenue": "ave", "av": "ave", "boulevard": "blvd",
    "drive": "dr", "lane": "ln", "court": "ct", "place": "pl", "square": "sq", "terrace": "tce",
    "crescent": "cres", "highway": "hwy", "parkway": "pkwy", "circle": "cir", "apartment": "apt",
    "suite": "ste", "north": "n", "south": "s", "east": "e", "west": "w", "strasse": "str",
}


def address_value(value: str | None) -> str | None:
    """Street address: lower ASCII, common street words abbreviated ("12 Oak Street" == "12 oak st")."""
    v = ascii_lower(value)
    if not v:
        return None
    return " ".join(_STREET_WORDS.get(t, t) for t in v.split(" ") if t)


def postcode_value(value: str | None) -> str | None:
    """Postcode: upper-case letters and digits only ("sw1a 1aa" -> "SW1A1AA")."""
    v = ascii_lower(value)
    return v.replace(" ", "").upper() if v else None


def skills_value(value: str | None) -> list[str] | None:
    """``;``-separated skills -> sorted distinct lower-case list."""
    if value is None:
        return None
    items = sorted({s for s in (ascii_lower(p) for p in str(value).split(";")) if s})
    return items or None


# ---------------------------------------------------------------------------------------------
# frame level

# Inputs with more distinct values than this in one column map them on every core (a pool of worker
# processes, one per core): phone parsing, name splitting and email checks are Python per value, and
# at a million records with lists of addresses and phones they are ~30 s of one core's time.
PARALLEL_MIN_DISTINCT = 50_000
_CHUNK = 20_000


def _apply(fn: Callable, rows: list[tuple]) -> list:
    return [fn(*row) for row in rows]


@contextmanager
def _worker_pool(records: int):
    """Worker processes for ``_map_distinct`` when the input is big enough to pay their start-up,
    else None. Forked: a spawned worker would re-run the caller's main script (any script without
    a ``__main__`` guard), and the workers only run the pure-Python value functions here, never
    polars or DuckDB, whose threads a fork does not copy."""
    cores = os.cpu_count() or 1
    if cores < 2 or records < PARALLEL_MIN_DISTINCT:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=cores, mp_context=multiprocessing.get_context("fork"))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def _map_distinct(df: pl.DataFrame, cols: list[str], fn: Callable, out: str, dtype: pl.DataType,
                  pool: Executor | None = None) -> pl.Series:
    """Apply ``fn(*row_values)`` once per distinct combination of ``cols`` and join it back (on the
    ``pool``'s workers, in chunks, when there are many: ``fn`` must then be a module-level function
    or a ``partial`` of one)."""
    distinct = df.select(cols).unique()
    rows = distinct.rows()
    if pool is not None and len(rows) >= PARALLEL_MIN_DISTINCT:
        chunks = [rows[i:i + _CHUNK] for i in range(0, len(rows), _CHUNK)]
        values = [v for chunk in pool.map(partial(_apply, fn), chunks) for v in chunk]
    else:
        values = _apply(fn, rows)
    del rows
    if dtype == pl.List(pl.String):
        # polars builds a list column from Python lists slowly (an object per element); one joined
        # string per row, split by polars, is ~10x faster
        joined = pl.Series(out, ["\x1f".join(v) if v else None for v in values], dtype=pl.String)
        column = joined.str.split("\x1f")
    else:
        column = pl.Series(out, values, dtype=dtype)
    lookup = distinct.with_columns(column)
    return df.select(cols).join(lookup, on=cols, how="left", nulls_equal=True, maintain_order="left")[out]


def _blank_to_null(col: str) -> pl.Expr:
    c = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(c == "").then(None).otherwise(c).alias(col)


def to_contract_frame(records) -> pl.DataFrame:
    """Any pandas/polars frame (or a polars LazyFrame, collected streaming) -> polars, every contract
    column present as text (missing -> null).

    ``OPTIONAL_COLUMNS`` present in the input are kept (as text) after the contract columns; any
    other column is dropped.
    """
    df = records if isinstance(records, (pl.DataFrame, pl.LazyFrame)) else pl.from_pandas(records)
    columns = df.collect_schema().names()
    missing = [c for c in CONTRACT_COLUMNS if c not in columns]
    df = df.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in missing])
    extra = [c for c in OPTIONAL_COLUMNS if c in columns]
    out = df.select([_blank_to_null(c) for c in (*CONTRACT_COLUMNS, *extra)])
    return out.collect(engine="streaming") if isinstance(out, pl.LazyFrame) else out


def _has_several(df: pl.DataFrame, col: str) -> bool:
    """Whether any value of ``col`` (absent: none) holds several ``;``-separated values."""
    if col not in df.columns:
        return False
    return bool(df.select(pl.col(col).cast(pl.String).str.contains(MULTI_VALUE_SEP, literal=True).any()).item())


def _full_name_parts(value: str | None) -> dict:
    return dict(zip(("f", "m", "l"), split_full_name(value)))


def _metaphone(value: str | None) -> str | None:
    import jellyfish  # C extension with a slow first import: only normalising needs it

    return jellyfish.metaphone(value) if value else None


def _names(df: pl.DataFrame, pool: Executor | None = None) -> pl.DataFrame:
    """``first_name, middle_name, last_name`` with empty parts filled from ``full_name`` when it exists."""
    first, last = pl.col("first_name"), pl.col("last_name")
    middle = pl.col("middle_name") if "middle_name" in df.columns else pl.lit(None, pl.String)
    if "full_name" not in df.columns:
        return df.select(first, middle.alias("middle_name"), last)
    parts = _map_distinct(df, ["full_name"], _full_name_parts, "v",
                          pl.Struct({"f": pl.String, "m": pl.String, "l": pl.String}), pool)
    split = df.select("first_name", "last_name", middle.alias("middle_name"), parts.alias("_p")).unnest("_p")
    # a split only fills what the record leaves empty; a given first or last name is never overridden
    return split.select(pl.coalesce("first_name", "f").alias("first_name"),
                        pl.coalesce("middle_name", "m").alias("middle_name"),
                        pl.coalesce("last_name", "l").alias("last_name"))


def normalize_records(records) -> pl.DataFrame:
    """Contract columns -> the frame Splink sees: ``unique_id`` (row position) plus features.

    Feature columns (None when absent or unusable):
      first_name_norm, first_name_canonical, first_name_aliases (list), last_name_norm,
      last_name_metaphone, email_norm (the first valid address), email_local, email_local_is_name
      (bool), email_freemail (bool), phone_e164 (the first number), phone_digits (its digits as
      written), city_norm, region_norm,
      country_norm, linkedin_slug, company_norm, title_norm
    and, only when the input has them (``features.OPTIONAL_FEATURES``): dob_norm, address_norm,
    postcode_norm, middle_name_norm, and email_list / phone_list (every address / number, when some
    record has several). First / last names empty in a record are taken from its ``full_name``.
    """
    df = records if isinstance(records, pl.DataFrame) else pl.from_pandas(records)
    # what depends on the whole input is decided once: which columns are lists, the date order
    whole = _WholeInput(_has_several(df, "email"), _has_several(df, "phone"),
                        date_order(df.select(_blank_to_null("date_of_birth")).to_series().drop_nulls().unique().to_list())
                        if "date_of_birth" in df.columns else "dmy")
    with _worker_pool(df.height) as pool:
        # each chunk made a contract frame on its own: never a second copy of the whole input
        parts = [_normalize(to_contract_frame(df.slice(start, NORMALIZE_CHUNK_RECORDS)), pool, whole, start)
                 for start in range(0, max(df.height, 1), NORMALIZE_CHUNK_RECORDS)]
    features = pl.concat(parts, how="vertical", rechunk=False)
    del parts
    # One chunk per column, column by column (never a second copy of the whole frame): the record
    # keys come in the reader's many chunks, the rest in one per normalised chunk, and polars copies
    # a whole frame whose columns are chunked differently on every expression over it (at 1M
    # records, 0.4 GB and 5x the time for each blocking key).
    for col in features.columns:
        features = features.with_columns(features.get_column(col).rechunk())
    return features


# Records are normalised this many at a time: every value is normalised on its own, so chunks give
# the same features, and the intermediate frames and Python value lists of one chunk (several times
# the chunk's size) are what a run holds beside its records, not those of all of them.
NORMALIZE_CHUNK_RECORDS = 500_000


@dataclass(frozen=True)
class _WholeInput:
    several_emails: bool
    several_phones: bool
    date_order: str


def _normalize(df: pl.DataFrame, pool: Executor | None, whole: _WholeInput, first_id: int) -> pl.DataFrame:
    out = pl.DataFrame({"unique_id": pl.int_range(first_id, first_id + df.height, eager=True, dtype=pl.Int64)})
    str_t, list_t = pl.String, pl.List(pl.String)
    names = _names(df, pool)

    country = _map_distinct(df, ["country"], country_value, "v", str_t)
    work = df.with_columns(country.alias("country_norm"))
    several_emails, several_phones = whole.several_emails, whole.several_phones
    if several_emails:
        email_list = _map_distinct(df, ["email"], email_values, "v", list_t, pool)
        email = email_list.list.first()
    else:
        email = _map_distinct(df, ["email"], email_value, "v", str_t, pool)
    if several_phones:
        phone_list = _map_distinct(work, ["phone", "country_norm"], phone_values, "v", list_t, pool)
        phone = phone_list.list.first()
    else:
        phone = _map_distinct(work, ["phone", "country_norm"], phone_value, "v", str_t, pool)
    out = out.with_columns(
        source=df["source"],
        source_record_id=df["source_record_id"],
        first_name_norm=_map_distinct(names, ["first_name"], name_value, "v", str_t, pool),
        first_name_canonical=_map_distinct(names, ["first_name"], first_name_canonical, "v", str_t, pool),
        first_name_aliases=_map_distinct(names, ["first_name"], first_name_aliases, "v", list_t, pool),
        last_name_norm=_map_distinct(names, ["last_name"], surname_value, "v", str_t, pool),
        email_norm=email,
        phone_e164=phone,
        city_norm=_map_distinct(df, ["city"], location_value, "v", str_t, pool),
        region_norm=_map_distinct(df, ["region"], location_value, "v", str_t, pool),
        country_norm=country,
        linkedin_slug=_map_distinct(df, ["linkedin_url"], linkedin_slug, "v", str_t, pool),
        company_norm=_map_distinct(df, ["current_company"], company_value, "v", str_t, pool),
        title_norm=_map_distinct(df, ["current_title"], title_value, "v", str_t, pool),
    )
    if several_emails:
        out = out.with_columns(email_list=email_list)
    if several_phones:
        out = out.with_columns(phone_list=phone_list)
    if "date_of_birth" in df.columns:
        out = out.with_columns(dob_norm=_map_distinct(df, ["date_of_birth"], partial(date_value, order=whole.date_order),
                                                      "v", str_t, pool))
    if "address_line" in df.columns:
        out = out.with_columns(address_norm=_map_distinct(df, ["address_line"], address_value, "v", str_t, pool))
    if "postcode" in df.columns:
        out = out.with_columns(postcode_norm=_map_distinct(df, ["postcode"], postcode_value, "v", str_t, pool))
    if "middle_name" in df.columns or "full_name" in df.columns:
        out = out.with_columns(middle_name_norm=_map_distinct(names, ["middle_name"], name_value, "v", str_t, pool))
    out = out.with_columns(
        # every digit of the (first) phone as written, extension included: equal where parsing was not
        phone_digits=pl.when(pl.col("phone_e164").is_not_null()).then(
            df["phone"].str.split(MULTI_VALUE_SEP).list.first().str.replace_all(r"\D", "")),
        email_local=pl.col("email_norm").str.split("@").list.first(),
        email_freemail=_map_distinct(out, ["email_norm"], email_is_freemail, "v", pl.Boolean, pool),
        last_name_metaphone=_map_distinct(out, ["last_name_norm"], _metaphone, "v", str_t, pool),
    )
    return out.with_columns(email_local_is_name=mailbox_from_name(
        pl.col("email_local"), pl.col("first_name_norm"), pl.col("last_name_norm")))


def normalize_many(fn: Callable, values: Iterable):
    """Convenience for tests and notebooks: ``[fn(v) for v in values]``."""
    return [fn(v) for v in values]
