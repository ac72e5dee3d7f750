"""One row per distinct skill list in the pool, normalised: case-folded, synonyms mapped to one
spelling (seed skill_aliases), each skill once, in the order written (warmpool/vocabulary.py).
Incremental: only lists not yet in the table are normalised (warmpool/spellings.py)."""
import polars as pl

import warmpool.vocabulary
from warmpool.spellings import rules_version, spellings_to_normalise
from warmpool.vocabulary import SkillVocabulary


def model(dbt, session):
    dbt.config(materialized="incremental", on_schema_change="sync_all_columns")
    aliases = dbt.ref("skill_aliases").pl().to_dicts()
    version = rules_version(warmpool.vocabulary.__file__, aliases)
    vocabulary = SkillVocabulary(aliases=aliases)
    records = dbt.ref("int_source_records_unioned")
    current = records.project("skills as skills_as_written").filter("skills_as_written is not null").distinct().pl()
    new = spellings_to_normalise(session, str(dbt.this) if dbt.is_incremental else None, current, version)
    rows = [{"skills_as_written": s, "skills": vocabulary.skills(s)} for s in sorted(new["skills_as_written"])]
    return pl.DataFrame(rows, schema={"skills_as_written": pl.String, "skills": pl.String}).with_columns(
        rules_version=pl.lit(version))
