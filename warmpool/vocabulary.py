"""Controlled vocabularies: job families and skills, with case and synonyms folded.

The words live in dbt seeds, read by the warehouse and by Python alike:
``dbt_project/seeds/job_families.csv`` (every accepted spelling -> one of the families) and
``skill_aliases.csv`` (a synonym -> the skill's one spelling). SQL maps a job family with the macro
``job_family`` (a join on the seed); this module applies the same seed to campaign files and, through
the dbt Python model ``int_skill_spellings``, to skill lists (a list cannot be split portably in SQL).
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from typing import Iterable

from warmpool.config import DBT_PROJECT_DIR

JOB_FAMILIES_FILE = DBT_PROJECT_DIR / "seeds" / "job_families.csv"
SKILL_ALIASES_FILE = DBT_PROJECT_DIR / "seeds" / "skill_aliases.csv"
_SPACES = re.compile(r"\s+")


def vocabulary_key(text: str | None) -> str | None:
    """How a word is looked up: trimmed, single-spaced, case-folded."""
    if text is None:
        return None
    key = _SPACES.sub(" ", str(text)).strip().casefold()
    return key or None


def _read(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def job_family_aliases() -> dict[str, str]:
    return {vocabulary_key(r["alias"]): r["job_family"] for r in _read(JOB_FAMILIES_FILE)}


def job_families() -> list[str]:
    """The vocabulary itself, sorted."""
    return sorted(set(job_family_aliases().values()))


def job_family(text: str | None) -> str | None:
    """The family a spelling stands for ("engineering", "Software Engineering" -> "Engineering"),
    or None when the vocabulary has no such word."""
    return job_family_aliases().get(vocabulary_key(text))


class SkillVocabulary:
    """Skill lists in one spelling: case-folded, synonyms mapped (seed skill_aliases), each once."""

    def __init__(self, aliases: Iterable[dict] | None = None):
        rows = _read(SKILL_ALIASES_FILE) if aliases is None else aliases
        self._aliases = {vocabulary_key(r["alias"]): vocabulary_key(r["skill"]) for r in rows}

    def skill(self, text: str | None) -> str | None:
        key = vocabulary_key(text)
        return self._aliases.get(key, key) if key else None

    def skills(self, listed: str | None) -> str | None:
        """A ';'-separated list normalised, in the order given, duplicates dropped; None if empty."""
        if listed is None:
            return None
        out = dict.fromkeys(s for s in (self.skill(part) for part in str(listed).split(";")) if s)
        return ";".join(out) or None
