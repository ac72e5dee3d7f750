"""Profile documents: one searchable document per person.

A document is built from what the marts hold about a person: the golden profile (current title and
company, skills, years, seniority, job family), the work history from every source (titles and
companies) and the resume text people uploaded. It has two texts:

- ``text``: what the embedding model reads (a few short sentences, most telling first, because the
  model reads at most 256 word pieces);
- ``keyword_text``: what the keyword (BM25) index reads: the current title, skills and resume text.
  Past titles stay out of it: a "Senior Sales Manager" who once was a "Data Analyst" must not match
  "data analyst" on words alone (measured on the relevance set: keyword nDCG@10 0.435 -> 0.446,
  hybrid 0.478 -> 0.510); the embedded text keeps the history as context.

Names, contact details and places are left out of both on purpose: a search for "python engineer"
must not rank people by their name, and places are structured filters, not words.

``doc_hash`` keys the embedding cache: it covers the embedded text and the document version, so an
unchanged profile is never embedded twice and a changed one always is.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

DOCUMENT_VERSION = 1           # bump when the text a document is built from changes shape
MAX_HISTORY_POSITIONS = 4      # past positions in the embedded text (the model reads 256 word pieces)
MAX_RESUME_CHARS = 600         # resume text in the embedded text; the keyword index reads all of it
# the profile columns a document reads (a ``dim_candidates`` row may have many more)
DOCUMENT_COLUMNS = ("person_id", "current_title", "current_company", "skills", "years_experience", "seniority",
                    "job_family")


@dataclass(frozen=True)
class ProfileDocument:
    person_id: str
    text: str
    keyword_text: str
    doc_hash: str


def split_skills(skills: str | Sequence[str] | None) -> list[str]:
    """Skills as a clean list: ';'-separated text (the marts' form) or a list; blanks dropped, order kept."""
    if skills is None:
        return []
    items = skills.split(";") if isinstance(skills, str) else list(skills)
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        s = " ".join(str(item).split()).strip()
        if s and s.lower() not in seen:
            seen.add(s.lower())
            out.append(s)
    return out


def _clean(value) -> str:
    return "" if value is None else " ".join(str(value).split())


def _years(value) -> str:
    try:
        years = float(value)
    except (TypeError, ValueError):
        return ""
    return f"{years:g} years of experience" if years == years else ""  # NaN check


def build_document(profile: Mapping, positions: Iterable[Mapping] = (), resumes: Iterable[str] = ()) -> ProfileDocument:
    """One person's document.

    profile: a ``dim_candidates`` row (person_id, current_title, current_company, skills,
        years_experience, seniority, job_family; other keys ignored).
    positions: that person's ``dim_candidate_work_history`` rows (title, company_name), newest first.
    resumes: the person's resume texts (``dim_candidate_resumes``), newest first.
    """
    title = _clean(profile.get("current_title"))
    company = _clean(profile.get("current_company"))
    skills = split_skills(profile.get("skills"))
    family = _clean(profile.get("job_family"))
    seniority = _clean(profile.get("seniority"))
    current = f"{title} at {company}" if title and company else title or (f"works at {company}" if company else "")
    past = []
    for pos in positions:
        t, c = _clean(pos.get("title")), _clean(pos.get("company_name"))
        if (t, c) == (title, company) or not (t or c):
            continue
        past.append(f"{t} at {c}" if t and c else t or c)
    resume_texts = [_clean(r) for r in resumes if _clean(r)]
    sentences = [
        current,
        f"Skills: {', '.join(skills)}" if skills else "",
        " ".join(x for x in (seniority, family and f"{family} professional", _years(profile.get("years_experience")))
                 if x),
        f"Previously: {'; '.join(past[:MAX_HISTORY_POSITIONS])}" if past else "",
        resume_texts[0][:MAX_RESUME_CHARS] if resume_texts else "",
    ]
    text = ". ".join(s.rstrip(".") for s in sentences if s) + "."
    keyword_text = " \n".join(x for x in (title, " ; ".join(skills), *resume_texts) if x)
    digest = hashlib.blake2b(f"v{DOCUMENT_VERSION}\x00{text}".encode("utf-8"), digest_size=16).hexdigest()
    return ProfileDocument(person_id=str(profile["person_id"]), text=text, keyword_text=keyword_text,
                           doc_hash=digest)


def build_documents(profiles: Iterable[Mapping], positions_by_person: Mapping[str, list] | None = None,
                    resumes_by_person: Mapping[str, list] | None = None) -> list[ProfileDocument]:
    """Documents for many people (``positions_by_person`` / ``resumes_by_person`` keyed by person_id)."""
    positions_by_person = positions_by_person or {}
    resumes_by_person = resumes_by_person or {}
    return [build_document(p, positions_by_person.get(str(p["person_id"]), ()),
                           resumes_by_person.get(str(p["person_id"]), ())) for p in profiles]
