"""The recruiters' commands: search, lookup (search first), rediscover, pipelines, saved searches, the
search index and the search audit log. Every search a person runs here is audited (warmpool.search)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional

import typer

pipeline_app = typer.Typer(no_args_is_help=True, help="Pipelines per requisition: people, stages, ATS push, saved searches.")
index_app = typer.Typer(no_args_is_help=True, help="The search index (rebuilt by every pipeline run).")
audit_app = typer.Typer(no_args_is_help=True, help="The append-only search audit log (OFCCP record keeping).")

USER_HELP = "Who is searching (default: $WARMPOOL_USER, else your login name); kept in the audit log."


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _filters(city, region, country, near, radius_km, job_family, skill, min_years, max_years, contactable,
             active_since, source, silver, segment):
    from warmpool.search import FilterError, SearchFilters

    try:
        return SearchFilters(city=city, region=region, country=country, near=near, radius_km=radius_km,
                             job_families=tuple(job_family or ()), skills=tuple(skill or ()), min_years=min_years,
                             max_years=max_years, contactable_only=contactable, active_since=active_since,
                             sources=tuple(source or ()), silver_medalist_only=silver, segment=segment)
    except (FilterError, ValueError) as exc:
        _fail(str(exc))


# the filter options of `search` and `pipeline save-search`
CITY = typer.Option(None, help="City of the golden profile.")
REGION = typer.Option(None, help="State, province or county.")
COUNTRY = typer.Option(None, help="Country (name or ISO code).")
NEAR = typer.Option(None, help="With --radius-km: a place ('Berlin', 'Berlin, DE' or 'lat,lon').")
RADIUS = typer.Option(None, "--radius-km", help="Within this many km of --near (people whose city has coordinates).")
FAMILY = typer.Option(None, "--job-family", help="Job family (repeat for any of several).")
SKILL = typer.Option(None, "--skill", help="A skill the person must have (repeat: all of them).")
MIN_YEARS = typer.Option(None, help="At least this many years of experience.")
MAX_YEARS = typer.Option(None, help="At most this many years of experience.")
CONTACTABLE = typer.Option(False, "--contactable", help="Only people who may be contacted now (consent, no suppression).")
ACTIVE = typer.Option(None, "--active-since", help="Last activity on or after this date (YYYY-MM-DD).")
SOURCE = typer.Option(None, "--source", help="Found in this source (repeat for any of several).")
SILVER = typer.Option(False, "--silver", help="Only silver medalists.")
SEGMENT = typer.Option(None, "--segment", help="Only members of this segment (`warmpool segment list`), as of the "
                       "last pipeline run.")


def _print_results(results, as_json: bool, payload: dict) -> None:
    if as_json:
        typer.echo(json.dumps(payload, indent=1, default=str))
        return
    if not results:
        typer.echo("no results")
    for r in results:
        p, why = r.profile, r.why
        name = " ".join(x for x in (p.get("first_name"), p.get("last_name")) if x)
        where = ", ".join(x for x in (p.get("city"), p.get("country")) if x)
        flags = " ".join(x for x in ("contactable" if p.get("is_contactable") else "not contactable",
                                     "silver medalist" if p.get("is_silver_medalist") else "") if x)
        sim = f"similarity {why['similarity']:.2f}" if why.get("similarity") is not None else ""
        terms = f"terms: {', '.join(why['matched_terms'])}" if why.get("matched_terms") else ""
        typer.echo(f"{r.rank:>3}. {r.person_id}  {name}  {p.get('current_title') or ''} @ {p.get('current_company') or ''}"
                   f"  ({where}; {flags}; sources {p.get('sources') or ''})")
        typer.echo(f"       why: {'; '.join(x for x in (sim, terms) if x)}")


def search_command(
    query: str = typer.Argument("", help="What you are looking for, in words (blank: filters only)."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=1000, help="How many results."),
    as_json: bool = typer.Option(False, "--json", help="JSON: {query, filters, allowed, results: [...]}."),
    user: Optional[str] = typer.Option(None, help=USER_HELP),
    requisition: Optional[str] = typer.Option(None, help="The ATS job / requisition this search is for (audited)."),
    city: Optional[str] = CITY, region: Optional[str] = REGION, country: Optional[str] = COUNTRY,
    near: Optional[str] = NEAR, radius_km: Optional[float] = RADIUS, job_family: Optional[List[str]] = FAMILY,
    skill: Optional[List[str]] = SKILL, min_years: Optional[float] = MIN_YEARS, max_years: Optional[float] = MAX_YEARS,
    contactable: bool = CONTACTABLE, active_since: Optional[str] = ACTIVE, source: Optional[List[str]] = SOURCE,
    silver: bool = SILVER, segment: Optional[str] = SEGMENT,
) -> None:
    """Hybrid search of the pool (meaning + keywords + filters); each result says why it matched. Audited."""
    from warmpool.search import FilterError, IndexNotBuilt, search

    filters = _filters(city, region, country, near, radius_km, job_family, skill, min_years, max_years, contactable,
                       active_since, source, silver, segment)
    try:
        response = search(query, filters, limit, user=user, requisition_id=requisition, channel="cli")
    except (IndexNotBuilt, FilterError) as exc:
        _fail(str(exc))
    _print_results(response.results, as_json, response.as_dict())
    if not as_json:
        typer.echo(f"({len(response.results)} of {response.allowed:,} people matching the filters; "
                   f"{response.search_seconds * 1000:.0f} ms)")


def lookup_command(
    name: Optional[str] = typer.Option(None, help="Full name as the vendor shows it."),
    email: Optional[str] = typer.Option(None, help="Email address."),
    phone: Optional[str] = typer.Option(None, help="Phone number, any format."),
    url: Optional[str] = typer.Option(None, "--url", help="Profile URL (LinkedIn or other)."),
    city: Optional[str] = typer.Option(None, help="City, if shown."),
    country: Optional[str] = typer.Option(None, help="Country, if shown."),
    company: Optional[str] = typer.Option(None, help="Current employer, if shown."),
    as_json: bool = typer.Option(False, "--json", help="JSON: {query, verdict, threshold, matches: [...]}."),
    user: Optional[str] = typer.Option(None, help=USER_HELP),
) -> None:
    """Search first: is this person already in the pool (before you buy the profile)? Audited."""
    from warmpool.search import IndexNotBuilt, LookupQuery, NothingToLookUp, lookup_person

    try:
        answer = lookup_person(LookupQuery(name=name, email=email, phone=phone, profile_url=url, city=city,
                                           country=country, company=company), user=user)
    except (IndexNotBuilt, NothingToLookUp) as exc:
        _fail(str(exc))
    typer.echo(json.dumps(answer.as_dict(), indent=1) if as_json else answer.describe())


def rediscover_command(
    job_id: int = typer.Argument(..., help="The ATS job id."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=500),
    any_family: bool = typer.Option(False, "--any-family", help="Also people outside the job's family."),
    as_json: bool = typer.Option(False, "--json"),
    user: Optional[str] = typer.Option(None, help=USER_HELP),
) -> None:
    """Talent rediscovery: past applicants and silver medalists for an open job, by fit and history. Audited."""
    from warmpool.config import get_settings
    from warmpool.search import IndexNotBuilt, rediscover

    try:
        found = rediscover(get_settings(), job_id, limit=limit, user=user, any_family=any_family)
    except (IndexNotBuilt, KeyError) as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"job": found.job, "results": [dict(r.as_dict(), rediscovery_score=s, history=h)
                                                              for r, s, h in found.results]}, indent=1, default=str))
        return
    typer.echo(f"{found.job['job_name']} (job {job_id}, {found.job.get('job_family')})")
    for n, (r, score, h) in enumerate(found.results, start=1):
        p = r.profile
        typer.echo(f"{n:>3}. {r.person_id}  {p.get('first_name') or ''} {p.get('last_name') or ''}  "
                   f"{p.get('current_title') or ''}  score {score:.2f} (fit {h['fit']:.2f}; furthest "
                   f"{h.get('furthest_stage') or '-'}; last archived: {h.get('last_archive_reason') or '-'}; "
                   f"{h.get('heat_band')}; {'contactable' if h['is_contactable'] else 'not contactable'})")


# --- pipelines ----------------------------------------------------------------------------------
def _store():
    from warmpool.config import get_settings
    from warmpool.search import sourcing_store

    return sourcing_store.sourcing_store(get_settings().sourcing_store_path)


def _pipeline_id(con, name: str) -> int:
    from warmpool.search import sourcing_store

    pipe = sourcing_store.pipeline(con, name)
    if pipe is None:
        _fail(f"no pipeline named {name!r} (`warmpool pipeline create`)")
    return int(pipe["pipeline_id"])


@pipeline_app.command("create")
def pipeline_create(name: str = typer.Argument(...), job_id: Optional[int] = typer.Option(None, help="ATS job it sources for."),
                    tag: Optional[List[str]] = typer.Option(None, "--tag", help="Tag pushed to the ATS (repeat)."),
                    user: Optional[str] = typer.Option(None, help=USER_HELP)) -> None:
    """A pipeline for an ATS job (or a future need). An existing one of that name is kept."""
    from warmpool.search import sourcing_store, who

    with _store() as con:
        pid = sourcing_store.create_pipeline(con, name, who(user), job_id, tag or ())
    typer.echo(f"pipeline {name!r} (id {pid})")


@pipeline_app.command("list")
def pipeline_list() -> None:
    """Every pipeline with its people per stage."""
    from collections import Counter

    from warmpool.search import sourcing_store

    with _store() as con:
        for p in sourcing_store.pipelines(con):
            stages = Counter(m["stage"] for m in sourcing_store.members(con, p["pipeline_id"]))
            typer.echo(f"{p['name']}  job {p['job_id'] or '-'}  owner {p['owner']}  "
                       + ", ".join(f"{s} {stages.get(s, 0)}" for s in sourcing_store.STAGES))


@pipeline_app.command("show")
def pipeline_show(name: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """A pipeline's people, their stage and how they were added."""
    from warmpool.search import sourcing_store

    with _store() as con:
        rows = sourcing_store.members(con, _pipeline_id(con, name))
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    for m in rows:
        typer.echo(f"{m['person_id']}  {m['stage']:<10}  added {m['added_at']} by {m['added_by']} via {m['added_via']}")


@pipeline_app.command("add")
def pipeline_add(name: str = typer.Argument(...), person_ids: List[str] = typer.Argument(...),
                 user: Optional[str] = typer.Option(None, help=USER_HELP)) -> None:
    """Add people by hand (stage: identified)."""
    from warmpool.search import sourcing_store, who

    with _store() as con:
        added = sourcing_store.add_members(con, _pipeline_id(con, name), person_ids, who(user), "hand")
    typer.echo(f"{len(added)} added, {len(set(person_ids)) - len(added)} already in {name!r}")


@pipeline_app.command("stage")
def pipeline_stage(name: str = typer.Argument(...), person_id: str = typer.Argument(...),
                   stage: str = typer.Argument(..., help="identified | contacted | replied | submitted"),
                   user: Optional[str] = typer.Option(None, help=USER_HELP)) -> None:
    """Move a person to another stage of the pipeline."""
    from warmpool.search import sourcing_store, who

    with _store() as con:
        try:
            moved = sourcing_store.set_stage(con, _pipeline_id(con, name), person_id, stage, who(user))
        except (KeyError, ValueError) as exc:
            _fail(str(exc))
    typer.echo(f"{person_id}: {stage}" if moved else f"{person_id} was already {stage}")


@pipeline_app.command("save-search")
def pipeline_save_search(
    pipeline: str = typer.Argument(..., help="The pipeline new matches join."),
    name: str = typer.Argument(..., help="The saved search's name."),
    query: str = typer.Argument(...),
    top: int = typer.Option(25, "--top", min=1, max=500, help="It keeps its best N; newcomers among them join."),
    user: Optional[str] = typer.Option(None, help=USER_HELP),
    city: Optional[str] = CITY, region: Optional[str] = REGION, country: Optional[str] = COUNTRY,
    near: Optional[str] = NEAR, radius_km: Optional[float] = RADIUS, job_family: Optional[List[str]] = FAMILY,
    skill: Optional[List[str]] = SKILL, min_years: Optional[float] = MIN_YEARS, max_years: Optional[float] = MAX_YEARS,
    contactable: bool = CONTACTABLE, active_since: Optional[str] = ACTIVE, source: Optional[List[str]] = SOURCE,
    silver: bool = SILVER, segment: Optional[str] = SEGMENT,
) -> None:
    """Save a search that keeps sourcing into a pipeline (runs after every pipeline run and on its schedule)."""
    from warmpool.search import FilterError, IndexNotBuilt, check_filters, sourcing_store, who

    filters = _filters(city, region, country, near, radius_km, job_family, skill, min_years, max_years, contactable,
                       active_since, source, silver, segment)
    try:
        check_filters(filters)
    except IndexNotBuilt:
        pass  # nothing to check against yet; a filter the first index cannot apply is reported by its runs
    except FilterError as exc:
        _fail(str(exc))
    with _store() as con:
        sid = sourcing_store.save_search(con, name, query, filters.as_dict(), _pipeline_id(con, pipeline), who(user),
                                         top)
    typer.echo(f"saved search {name!r} (id {sid}) -> pipeline {pipeline!r}")


@pipeline_app.command("run-saved")
def pipeline_run_saved() -> None:
    """Run every saved search now; new matches join their pipelines once each. Audited."""
    from warmpool.config import get_settings
    from warmpool.search import IndexNotBuilt, run_saved_searches, who

    try:
        for run in run_saved_searches(get_settings(), actor=who(None)):
            typer.echo(run.describe())
    except IndexNotBuilt as exc:
        _fail(str(exc))


@pipeline_app.command("push")
def pipeline_push(name: str = typer.Argument(...),
                  on_behalf_of: int = typer.Option(..., "--on-behalf-of", help="The ATS user id the writes are for.")) -> None:
    """Push the pipeline's people to the ATS as prospects with its tags (each person once)."""
    from warmpool.config import get_settings
    from warmpool.search import IndexNotBuilt, push_pipeline

    try:
        report = push_pipeline(get_settings(), name, on_behalf_of=on_behalf_of)
    except (IndexNotBuilt, KeyError) as exc:
        _fail(str(exc))
    typer.echo(report.describe())
    for failure in report.failed:
        typer.echo(f"  failed: {failure}", err=True)
    if report.failed:
        raise typer.Exit(1)


# --- index and audit ------------------------------------------------------------------------------
@index_app.command("refresh")
def index_refresh(full: bool = typer.Option(False, "--full", help="Build every document, token and place again "
                                            "instead of reusing the current index's for unchanged people.")) -> None:
    """Rebuild the search index from the warehouse (documents built and embedded for new or changed profiles
    only). Reads the warehouse: run it while no pipeline run is writing."""
    from warmpool.config import get_settings
    from warmpool.search import refresh_index
    from warmpool.warehouse import open_warehouse

    def progress(p) -> None:
        typer.echo(f"\rembedding {p.done:,}/{p.total:,} ({p.per_second:.0f}/s)", nl=p.done == p.total)

    with open_warehouse(read_only=True) as con:
        report = refresh_index(con, get_settings(), progress=progress, reuse=not full)
    typer.echo(report.describe())


def _day(value: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc) if value else None


@audit_app.command("export")
def audit_export(output: Path = typer.Option(..., "--output", "-o"),
                 since: Optional[str] = typer.Option(None, "--from", help="First day (YYYY-MM-DD, UTC)."),
                 until: Optional[str] = typer.Option(None, "--to", help="Day after the last (YYYY-MM-DD, UTC).")) -> None:
    """Every search of an audit period to CSV: who, when, requisition, query and filters, the ids returned."""
    from warmpool.config import get_settings
    from warmpool.search import audit_log

    try:
        start, end = _day(since), _day(until)
    except ValueError as exc:
        _fail(f"dates are YYYY-MM-DD: {exc}")
    with audit_log.audit_log(get_settings().search_audit_path) as con:
        n = audit_log.export_csv(con, output, start, end)
    typer.echo(f"{n:,} searches written to {output}")
