"""How a person's name is written: case repair and the spelling a name is voted on.

The one owner of the case-repair rule. A name typed ALL CAPS or all lower case is rewritten in
proper case (Mc/Mac, O', d', particles such as "van der" and "de la" in a family name, hyphenated
parts, accented letters), with the `nameparser` library's rules; a name written in mixed case is
kept exactly as the person wrote it ("McDonald", "van Dijk", "DeShawn" are never touched).

The warehouse applies it through the dbt Python model ``int_name_spellings`` (one row per distinct
spelling in the pool), and the golden profile's survivorship (``int_candidates_golden``) votes on
``spelling_key``: two records agree on a name when their repaired spellings are equal ignoring case
and accents (an export that cannot store "é" writes "e"; the accented spelling is the one shown).
A first name that is a nickname of another of the person's spellings ("Bill" beside "William", the
``nicknames`` package's table) gives way to it when the votes are equal.
"""
from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from typing import Iterable, Literal

import nameparser
from nicknames import NickNamer
from unidecode import unidecode

NamePart = Literal["first", "last"]

# "Mac" + two letters is read as a Gaelic prefix (MacDonald); these common surnames only look like
# one. Case masks for nameparser's exceptions map (the key's letters in the case they should take).
_NOT_MAC_NAMES = ("Machado", "Macias", "Macías", "Macedo", "Macey", "Mackie", "Macklin", "Mackey", "Machin",
                  "Machlin", "Macon", "Maciel", "Macario", "Macri", "Mackle", "Macquarie", "Macomber")
_INITIAL = re.compile(r"^\w\.?$")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _parser() -> tuple[nameparser.Parser, nameparser.ParsedName]:
    lexicon = nameparser.Lexicon.default()
    masks = tuple((name.lower(), name) for name in _NOT_MAC_NAMES)
    lexicon = dataclasses.replace(lexicon, capitalization_exceptions=(*lexicon.capitalization_exceptions, *masks))
    parser = nameparser.Parser(lexicon=lexicon)
    return parser, parser.parse("")


def is_one_case(value: str) -> bool:
    """Written all upper or all lower case (a name with no cased letter counts as neither)."""
    return value != value.swapcase() and value in (value.upper(), value.lower())


@lru_cache(maxsize=200_000)
def repair_name_case(value: str | None, part: NamePart = "last") -> str | None:
    """The name in proper case when it was typed in one case, else exactly as written.

    ``part`` is which field the value is: a family name lowers its particles ("VAN DER BERG" ->
    "van der Berg", "DE LA CRUZ" -> "de la Cruz"); a given name keeps its first word capitalised
    ("jean-luc" -> "Jean-Luc", "MARÍA DEL CARMEN" -> "María del Carmen").
    Blank -> None; surrounding and repeated spaces are dropped only when the case is repaired.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value)
    if not is_one_case(text):
        return text
    text = _SPACES.sub(" ", text.strip())
    parser, empty = _parser()
    if part == "first":
        head, _, tail = text.partition(" ")
        first = parser.capitalized(parser.revise(empty, given=head)).given or head
        if not tail:
            return first
        rest = parser.capitalized(parser.revise(empty, family=tail)).family or tail
        return f"{first} {rest}"
    repaired = parser.capitalized(parser.revise(empty, family=text)).family or text
    # a family name that is a single particle-like word ("LE", "DA") is still a name: capitalise it
    return repaired[:1].upper() + repaired[1:] if " " not in repaired else repaired


def spelling_key(value: str | None) -> str | None:
    """What two spellings must share to count as the same vote: the repaired spelling without
    accents, case-folded ("José", "JOSE" and "jose" agree)."""
    return unidecode(value).casefold() if value else None


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


def formal_names(value: str | None) -> tuple[str, ...]:
    """The longer given names a first name may be short for, as spelling keys ("Bill" ->
    ("will", "william", "willis", ...) minus the shorter ones); empty for a formal name."""
    key = spelling_key(value)
    if not key or " " in key:
        return ()
    return tuple(sorted(n for n in _nicknamer().canonicals_of(key) if len(n) > len(key)))


def is_initial(value: str | None) -> bool:
    """"J" or "J." : an initial, never preferred to a written-out name."""
    return bool(value) and bool(_INITIAL.match(value.strip()))


@dataclasses.dataclass(frozen=True)
class NameSpelling:
    name_part: str          # first | last
    spelling: str           # as written in a source record
    display_spelling: str   # the case-repaired spelling (== spelling when written in mixed case)
    spelling_key: str       # the vote key
    is_case_repaired: bool
    is_initial: bool
    has_accent: bool        # shown before an ASCII spelling of the same key
    formal_keys: str | None  # first names: ';'-list of the formal names it may be a nickname of


def name_spellings(values: Iterable[tuple[str, str | None]]) -> list[NameSpelling]:
    """One row per distinct (name part, spelling) given: the table survivorship votes with."""
    out: list[NameSpelling] = []
    for part, spelling in dict.fromkeys(values):
        if spelling is None or not spelling.strip():
            continue
        display = repair_name_case(spelling, "first" if part == "first" else "last")
        formal = formal_names(display) if part == "first" else ()
        out.append(NameSpelling(part, spelling, display, spelling_key(display), display != spelling,
                                is_initial(spelling), unidecode(display) != display, ";".join(formal) or None))
    return out
