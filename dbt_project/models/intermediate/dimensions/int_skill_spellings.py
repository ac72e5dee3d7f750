"""One row per distinct skill list in the pool, normalised: case-folded, synonyms mapped to one
spelling (seed skill_aliases), each skill once, in the order written (warmpool/vocabulary.py)."""
import polars as pl

from warmpool.vocabulary import SkillVocabulary


def model(dbt, session):
    dbt.config(materialized="table")
    vocabulary = SkillVocabulary(aliases=dbt.ref("skill_aliases").pl().to_dicts())
    records = dbt.ref("int_source_records_unioned")
    listed = sorted(s for (s,) in records.project("skills").distinct().fetchall() if s is not None)
    rows = [{"skills_as_written": s, "skills": vocabulary.skills(s)} for s in listed]
    return pl.DataFrame(rows, schema={"skills_as_written": pl.String, "skills": pl.String})
