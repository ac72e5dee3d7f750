"""The pool's distinct names, places and skills in their normalised spellings, written to the warehouse.

Runs between dbt's two phases (after ``int_source_records_unioned`` is built, before the models that read
``int_name_spellings`` / ``int_place_spellings`` / ``int_skill_spellings``, which select these tables as
sources). The rules have one owner each (``warmpool.names``, ``warmpool.places``, ``warmpool.vocabulary``,
with the override seeds under ``dbt_project/seeds``); this module only applies them to each distinct value
once. It reads and writes through the one warehouse helper, so it runs the same on DuckDB and PostgreSQL.

Incremental: a day's change brings a few new spellings among tens of thousands, so a spelling already
normalised under the same rules is kept, one the pool no longer holds (an erased person's, a corrected
record's) is dropped, and only the new ones go through the rule; the table then holds exactly what a full
rebuild would. ``rules_version`` fingerprints what decides a row (the rule's source file, its override seed
rows): when it changes, every spelling is normalised again.
"""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

import warmpool.names
import warmpool.places
import warmpool.vocabulary
from warmpool import tables
from warmpool.config import Settings, get_settings
from warmpool.names import name_spellings
from warmpool.places import CITY_ALIASES_FILE, COUNTRY_ALIASES_FILE, Gazetteer
from warmpool.vocabulary import SKILL_ALIASES_FILE, SkillVocabulary
from warmpool.warehouse import read_frame, replace_table

RULES_VERSION_COLUMN = "rules_version"
NAME_SCHEMA = {"name_part": pl.String, "spelling": pl.String, "display_spelling": pl.String,
               "spelling_key": pl.String, "is_case_repaired": pl.Boolean, "is_initial": pl.Boolean,
               "has_accent": pl.Boolean, "formal_keys": pl.String}
PLACE_SCHEMA = {c: pl.String for c in ("city_as_written", "region_as_written", "country_as_written", "city",
                                       "region", "country_code", "country_name")}
SKILL_SCHEMA = {"skills_as_written": pl.String, "skills": pl.String}


def rules_version(rule_file: str | Path, *override_rows: Sequence[dict[str, Any]]) -> str:
    """A short fingerprint of a rule module's source and its override seeds' rows."""
    h = hashlib.sha256(Path(rule_file).read_bytes())
    for rows in override_rows:
        h.update(json.dumps(list(rows), sort_keys=True, default=str).encode("utf-8"))
    return h.hexdigest()[:16]


def _seed_rows(path: Path) -> list[dict]:
    """An override seed's rows as the rules take them (every field text, as dbt's CSV holds it)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _text_key(row: tuple) -> tuple:
    return tuple(v or "" for v in row)


def name_spelling_frame(values: list[tuple[str, str | None]]) -> pl.DataFrame:
    """``(name_part, spelling)`` pairs -> one row per spelling, case-repaired, with its vote key."""
    rows = name_spellings(sorted(values, key=_text_key))
    return pl.DataFrame([r.__dict__ for r in rows], schema=NAME_SCHEMA)


def place_spelling_frame(triples: list[tuple[str | None, str | None, str | None]],
                         gazetteer: Gazetteer | None = None) -> pl.DataFrame:
    """``(city, region, country)`` as written -> the place in the normalised dimensions."""
    rows = []
    for city, region, country in sorted(set(triples), key=_text_key):
        if city is None and region is None and country is None:
            continue
        gazetteer = gazetteer or Gazetteer()
        place = gazetteer.place(city, region, country)
        rows.append((city, region, country, place.city, place.region, place.country_code, place.country_name))
    return pl.DataFrame(rows, schema=PLACE_SCHEMA, orient="row")


def skill_spelling_frame(listed: list[str | None], vocabulary: SkillVocabulary | None = None) -> pl.DataFrame:
    """Skill lists as written -> normalised (case-folded, synonyms mapped, each skill once)."""
    vocabulary = vocabulary or SkillVocabulary()
    rows = [(s, vocabulary.skills(s)) for s in sorted({s for s in listed if s is not None})]
    return pl.DataFrame(rows, schema=SKILL_SCHEMA, orient="row")


def _existing(table: str, settings: Settings) -> pl.DataFrame | None:
    schema, _, name = table.partition(".")
    found = read_frame(f"select count(*) as n from information_schema.tables "
                       f"where table_schema = '{schema}' and table_name = '{name}'", settings)
    return read_frame(f"select * from {table}", settings) if found.item() else None


def _refresh(table: str, current: pl.DataFrame, version: str, normalise: Callable[[list[tuple]], pl.DataFrame],
             settings: Settings) -> int:
    """Keep the rows of ``table`` whose key the pool still holds and that ``version`` wrote; normalise the
    rest of ``current`` (distinct keys, one column per key, named as in the table); replace the table."""
    keys = current.columns
    existing = _existing(table, settings)
    kept = None
    if existing is not None and RULES_VERSION_COLUMN in existing.columns and existing.height:
        kept = (existing.filter(pl.col(RULES_VERSION_COLUMN) == version)
                .join(current, on=keys, how="semi", nulls_equal=True))  # a place without a region is one place
    new = current if kept is None else current.join(kept.select(keys), on=keys, how="anti", nulls_equal=True)
    made = normalise(new.rows()).with_columns(pl.lit(version).alias(RULES_VERSION_COLUMN))
    rows = made if kept is None else pl.concat([kept.select(made.columns).cast(made.schema), made])
    return replace_table(table, rows.sort(keys, nulls_last=True), settings)


def write_spellings(settings: Settings | None = None) -> dict[str, int]:
    """(Re)write the three spelling tables from the pool's records; returns rows per table. Safe to re-run:
    each table is replaced whole, in one transaction."""
    s = settings or get_settings()
    unioned = tables.SOURCE_RECORDS_UNIONED
    names = read_frame(f"select distinct 'first' as name_part, first_name as spelling from {unioned} union "
                       f"select distinct 'last' as name_part, last_name as spelling from {unioned}", s)
    places = read_frame(f"select distinct city as city_as_written, region as region_as_written, "
                        f"country as country_as_written from {unioned}", s)
    skills = read_frame(f"select distinct skills as skills_as_written from {unioned}", s)
    country_aliases, city_aliases = _seed_rows(COUNTRY_ALIASES_FILE), _seed_rows(CITY_ALIASES_FILE)
    skill_aliases = _seed_rows(SKILL_ALIASES_FILE)
    gazetteer = Gazetteer(country_aliases=country_aliases, city_aliases=city_aliases)
    vocabulary = SkillVocabulary(aliases=skill_aliases)
    return {
        tables.NAME_SPELLINGS: _refresh(
            tables.NAME_SPELLINGS, names.cast(pl.String), rules_version(warmpool.names.__file__),
            name_spelling_frame, s),
        tables.PLACE_SPELLINGS: _refresh(
            tables.PLACE_SPELLINGS, places.cast(pl.String),
            rules_version(warmpool.places.__file__, country_aliases, city_aliases),
            lambda rows: place_spelling_frame(rows, gazetteer), s),
        tables.SKILL_SPELLINGS: _refresh(
            tables.SKILL_SPELLINGS, skills.cast(pl.String),
            rules_version(warmpool.vocabulary.__file__, skill_aliases),
            lambda rows: skill_spelling_frame([r[0] for r in rows], vocabulary), s),
    }
