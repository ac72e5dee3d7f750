"""Talent rediscovery: for an open ATS job, the pool's past applicants and silver medalists ranked by fit
and by what their history says.

Fit is the hybrid search of the job (its title and description as the query; its job family as a
filter unless ``any_family``) among people who applied before or are silver medalists, excluding
those already in this job. Each hit then gets a rediscovery score (docs/search.md):

    score = fit (the fused search score, scaled to 0..1 over the hits)
          + 0.30 x how far they got (furthest stage rank / 5: Offer = 4/5, Final Interview = 3/5)
          + 0.15 if a silver medalist
          + 0.10 / 0.05 / 0 / -0.05 for engagement heat hot / warm / cold / inactive
          + 0.10 if contactable now, and -0.30 if they turned us down last time ("They rejected us")

A person the history marks as contactable, close to an offer and still warm comes first among
equally good fits; someone who declined us recently sinks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from warmpool.config import Settings
from warmpool.search.engine import SearchResult
from warmpool.search.filters import SearchFilters
from warmpool.search.service import audit, engine

STAGE_WEIGHT = 0.30
SILVER_BONUS = 0.15
HEAT_BONUS = {"hot": 0.10, "warm": 0.05, "cold": 0.0, "inactive": -0.05}
CONTACTABLE_BONUS = 0.10
DECLINED_PENALTY = -0.30
MAX_STAGE_RANK = 5.0
DECLINED_TYPE = "They rejected us"


@dataclass(frozen=True)
class Rediscovered:
    job: dict
    results: list[tuple[SearchResult, float, dict]]   # (search result, rediscovery score, history)

    @property
    def person_ids(self) -> list[str]:
        return [r.person_id for r, _, _ in self.results]


def _job(jobs: pd.DataFrame, job_id: int) -> dict:
    if jobs.empty or job_id not in set(jobs["job_id"].astype(int)):
        raise KeyError(f"job {job_id} is not in the pool's ATS jobs")
    return jobs[jobs["job_id"].astype(int) == int(job_id)].iloc[0].to_dict()


def job_query(job: dict) -> str:
    name = str(job.get("job_name") or "").replace("(Evergreen)", "").strip()
    return " ".join(x for x in (name, str(job.get("job_description") or "")) if x)


def rediscover(settings: Settings, job_id: int, *, limit: int = 20, user: str | None = None,
               any_family: bool = False) -> Rediscovered:
    eng = engine(settings)
    index = eng.index
    job = _job(index.frame("jobs"), int(job_id))
    profiles = index.profiles
    applied_before = profiles.get("application_count", pd.Series(0, index=profiles.index)).fillna(0) > 0
    silver = profiles.get("is_silver_medalist", pd.Series(False, index=profiles.index)).fillna(False).astype(bool)
    in_this_job = profiles.get("applied_job_ids", pd.Series([None] * len(profiles))).map(
        lambda ids: ids is not None and int(job_id) in set(np.asarray(ids, dtype=np.int64).tolist()))
    eligible = (applied_before | silver) & ~in_this_job
    exclude = set(profiles.loc[~eligible, "person_id"])
    filters = SearchFilters(job_families=() if any_family or not job.get("job_family") else (job["job_family"],))
    query = job_query(job)
    response = eng.search(query, filters, limit=max(limit * 3, 50), exclude=exclude)
    scores = [r.score for r in response.results]
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
    ranked = []
    row_of = index.row_of()
    for result in response.results:
        p = profiles.iloc[row_of[result.person_id]]
        fit = (result.score - lo) / (hi - lo) if hi > lo else 1.0
        stage = float(p.get("furthest_stage_rank") or 0) if pd.notna(p.get("furthest_stage_rank")) else 0.0
        declined = p.get("last_archive_reason_type") == DECLINED_TYPE
        score = (fit + STAGE_WEIGHT * min(stage, MAX_STAGE_RANK) / MAX_STAGE_RANK
                 + (SILVER_BONUS if bool(p.get("is_silver_medalist")) else 0.0)
                 + HEAT_BONUS.get(str(p.get("heat_band")), 0.0)
                 + (CONTACTABLE_BONUS if bool(p.get("is_contactable")) else 0.0)
                 + (DECLINED_PENALTY if declined else 0.0))
        history = {"furthest_stage": p.get("furthest_stage"), "last_archive_reason": p.get("last_archive_reason"),
                   "last_archive_reason_type": p.get("last_archive_reason_type"), "heat_band": p.get("heat_band"),
                   "is_silver_medalist": bool(p.get("is_silver_medalist")),
                   "is_contactable": bool(p.get("is_contactable")), "fit": round(fit, 4)}
        ranked.append((result, round(score, 4), {k: (None if isinstance(v, float) and np.isnan(v) else v)
                                                  for k, v in history.items()}))
    ranked.sort(key=lambda t: (-t[1], t[0].rank))
    ranked = ranked[:limit]
    audit(settings, user=user, channel="rediscovery", query=query, filters=filters.as_dict(),
          person_ids=[r.person_id for r, _, _ in ranked], requisition_id=job.get("requisition_id") or job_id)
    return Rediscovered(job=job, results=ranked)
