"""A labelled relevance set for search, generated from the sandbox (tests and benchmarks only).

Queries are written from the ATS jobs' descriptions the way a recruiter would type them: the job's
title and the skills its description asks for ("Senior Data Engineer spark airflow dbt sql").
Relevance comes from what the generator made each person (``truth/people.csv``), never from what
the pipeline shows:

    gain 3   the job's family and seniority, and 2+ of the skills the job asks for
    gain 2   the job's family and seniority, and 1 of its skills
    gain 1   the job's family, a neighbouring seniority, and 2+ of its skills
    gain 0   anyone else

nDCG@k = DCG of the ranking / DCG of the ideal ranking, DCG = sum (2^gain - 1) / log2(rank + 1).
"""
from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

SENIORITY_ORDER = ["junior", "mid", "senior", "lead", "director"]


@dataclass(frozen=True)
class LabelledQuery:
    job_id: int
    query: str
    family: str
    gains: dict[str, int]       # person id -> gain (> 0 only)


def query_for(job: Mapping) -> str:
    title = str(job["job_name"]).replace("(Evergreen)", "").strip()
    return f"{title} {' '.join(str(job['skills']).split(';'))}"


def gain(person: Mapping, job: Mapping) -> int:
    if person["job_family"] != job["job_family"]:
        return 0
    wanted = set(str(job["skills"]).split(";"))
    shared = len(wanted & set(str(person["skills"]).split(";")))
    if person["seniority"] == job["seniority"]:
        return 3 if shared >= 2 else 2 if shared == 1 else 0
    s = SENIORITY_ORDER
    near = abs(s.index(person["seniority"]) - s.index(job["seniority"])) == 1 if job["seniority"] in s else False
    return 1 if near and shared >= 2 else 0


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def labelled_queries(jobs: Iterable[Mapping], people: Iterable[Mapping], person_ids: Mapping[str, str] | None = None,
                     *, distinct: bool = True) -> list[LabelledQuery]:
    """One labelled query per job (per distinct query text when ``distinct``).

    people: truth rows (true_person_id, job_family, seniority, skills); person_ids: true person id ->
    the pool's person id (identity resolution's), or None when the pool's ids are the true ones.
    """
    people = list(people)
    out, seen = [], set()
    for job in jobs:
        q = query_for(job)
        if distinct and q in seen:
            continue
        seen.add(q)
        gains: dict[str, int] = {}
        for p in people:
            g = gain(p, job)
            if g:
                pid = p["true_person_id"] if person_ids is None else person_ids.get(p["true_person_id"])
                if pid is not None:
                    gains[pid] = max(g, gains.get(pid, 0))
        if gains:
            out.append(LabelledQuery(int(job["job_id"]), q, job["job_family"], gains))
    return out


def pool_ids_from_records(truth_dir: Path, records: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """True person id -> the pool person id most of their records were assigned to.

    records: (person_id, source, source_record_id) of the pool (bridge_candidate_records)."""
    true_of = {(r["source"], r["source_record_id"]): r["true_person_id"]
               for r in read_csv(Path(truth_dir) / "source_record_person.csv")}
    votes: dict[str, Counter] = {}
    for person_id, source, record_id in records:
        t = true_of.get((source, str(record_id)))
        if t is not None:
            votes.setdefault(t, Counter())[person_id] += 1
    return {t: c.most_common(1)[0][0] for t, c in votes.items()}


def world_relevance_set(truth_dir: Path, records: Iterable[tuple[str, str, str]]) -> list[LabelledQuery]:
    """The relevance set of a sandbox world that went through the pipeline (its jobs, its people)."""
    truth_dir = Path(truth_dir)
    return labelled_queries(read_csv(truth_dir / "jobs.csv"), read_csv(truth_dir / "people.csv"),
                            pool_ids_from_records(truth_dir, records))


def ndcg_at(ranking: Sequence[str], gains: Mapping[str, int], k: int = 10) -> float:
    dcg = sum((2 ** gains.get(pid, 0) - 1) / math.log2(i + 2) for i, pid in enumerate(ranking[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0
