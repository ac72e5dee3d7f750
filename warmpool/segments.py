"""Segments: named, versioned selections of people from the talent pool, one YAML file each under
``config/segments/`` (reused by campaigns, saved searches and dashboards).

A file looks like::

    segment: senior-data-eu            # must equal the file name (without .yaml)
    version: 2                         # the author's version; raise it when the meaning changes
    description: Senior data people in Germany or France, active this year
    where:
      all:                             # all / any / not nest freely
        - job_family: [data]
        - country: [Germany, FR]       # any spelling: stored as ISO codes
        - years_experience: {min: 5}
        - any:
            - heat_band: [hot, warm]
            - silver_medalist: {job_families: [data]}
        - not: {source: [vendor_hirebase]}
        - last_activity: {within_days: 365}

A mapping of several filters means all of them. Filters (over ``marts.dim_candidates`` and, for
silver medalists, ``marts.fct_applications``): ``job_family``, ``city``, ``region``, ``country``,
``skills`` (any of), ``seniority``, ``years_experience`` ({min, max}), ``talent_type``, ``heat_band``,
``silver_medalist`` (true / false / {job_families: [...]}), ``source``, ``consent_basis``,
``last_activity`` ({within_days: N} or {not_within_days: N}), ``in_pipeline`` (true: in any
pipeline of the search area; or a list of pipeline names, any case; ``not: {in_pipeline: ...}`` for
"not in"; ``marts.fct_pipeline_members``). Values are checked against the
vocabularies; an error names the file and the key path (``where.all[1].country``).

``compile_segment`` is the one place a segment becomes SQL (SQL DuckDB and PostgreSQL both run);
``segment_person_ids`` runs it; ``write_segment_members`` writes every segment's members to
``marts.segment_members`` on the configured warehouse.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import polars as pl

from warmpool import tables
from warmpool.config import CONFIG_DIR, Settings, get_settings, load_yaml_mapping
from warmpool.eeo import EeoFilterError, refuse_eeo_filters
from warmpool.places import Gazetteer
from warmpool.vocabulary import job_families, job_family
from warmpool.warehouse import open_warehouse, replace_table_on, rewrite_table, table_exists

SEGMENTS_DIR = CONFIG_DIR / "segments"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SENIORITIES = ("intern", "junior", "mid", "senior", "lead", "executive")
HEAT_BANDS = ("hot", "warm", "cold", "inactive")
CONSENT_BASES = ("opt_in", "legitimate_interest")
# What kind of talent a person is, from what the pool knows of them (see TALENT_TYPE_SQL).
TALENT_TYPES = ("applicant", "prospect", "silver_medalist", "alumni", "talent_network", "referral")


class SegmentConfigError(ValueError):
    """A segment file is invalid; the message names the file and the key."""

    def __init__(self, path: Path | str, key: str | None, problem: str):
        self.path, self.key, self.problem = Path(path), key, problem
        super().__init__(f"{path}: key '{key}': {problem}" if key else f"{path}: {problem}")


@dataclass(frozen=True)
class Segment:
    name: str
    version: int
    where: dict            # the normalised condition tree (vocabulary forms), JSON-serialisable
    description: str = ""
    source_file: Path | None = field(default=None, compare=False)

    @property
    def definition_hash(self) -> str:
        """Short hash of what the segment selects (changes whenever the condition does)."""
        return hashlib.sha256(json.dumps(self.where, sort_keys=True).encode()).hexdigest()[:12]

    def as_row(self) -> dict[str, Any]:
        return {"segment": self.name, "version": self.version, "definition_hash": self.definition_hash,
                "description": self.description, "definition": json.dumps(self.where, sort_keys=True)}


# --- loading and validation -----------------------------------------------------------------------

def load_segments(dir: Path | str | None = None) -> dict[str, Segment]:
    """Every segment file in ``dir`` (default ``config/segments``), validated, by name."""
    directory = Path(dir) if dir is not None else SEGMENTS_DIR
    out: dict[str, Segment] = {}
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        segment = load_segment_file(path)
        if segment.name in out:
            raise SegmentConfigError(path, "segment", f"duplicate name {segment.name!r}")
        out[segment.name] = segment
    return dict(sorted(out.items()))


def load_segment_file(path: Path | str) -> Segment:
    path = Path(path)
    data = load_yaml_mapping(path, SegmentConfigError)
    segment = parse_segment(data, path)
    if segment.name != path.stem:
        raise SegmentConfigError(path, "segment", f"{segment.name!r} must equal the file name {path.stem!r}")
    return segment


def parse_segment(data: dict, path: Path | str = "<segment>") -> Segment:
    """A Segment from its mapping (a file's content, or a definition stored in the warehouse)."""
    unknown = sorted(set(map(str, data)) - {"segment", "version", "description", "where"})
    if unknown:
        raise SegmentConfigError(path, unknown[0], "unknown key (allowed: segment, version, description, where)")
    name = data.get("segment")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SegmentConfigError(path, "segment", "is required: a lower-case slug (a-z, 0-9, '-')")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SegmentConfigError(path, "version", "is required: a whole number >= 1")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise SegmentConfigError(path, "description", "must be text")
    if "where" not in data or data["where"] is None:
        raise SegmentConfigError(path, "where", "is required: the condition (use `where: {all: []}` for everyone)")
    return Segment(name=name, version=version, description=description.strip(),
                   where=_condition(path, "where", data["where"]), source_file=path if isinstance(path, Path) else None)


def _condition(path, key: str, node: Any) -> dict:
    if not isinstance(node, dict) or not node:
        raise SegmentConfigError(path, key, "must be a mapping: all / any / not, or filters")
    if set(node) & {"all", "any", "not"}:
        if len(node) != 1:
            raise SegmentConfigError(path, key, "all / any / not must stand alone in their mapping")
        (op, value), = node.items()
        if op == "not":
            return {"not": _condition(path, f"{key}.not", value)}
        if not isinstance(value, list):
            raise SegmentConfigError(path, f"{key}.{op}", "must be a list of conditions")
        return {op: [_condition(path, f"{key}.{op}[{i}]", item) for i, item in enumerate(value)]}
    if len(node) > 1:  # several filters side by side: all of them
        return {"all": [_condition(path, key, {k: v}) for k, v in node.items()]}
    (name, value), = node.items()
    try:  # a rule, not a typo: EEO answers never select anyone (docs/privacy.md)
        refuse_eeo_filters([str(name)], "segment")
    except EeoFilterError as exc:
        raise SegmentConfigError(path, f"{key}.{name}", str(exc)) from None
    spec = FILTERS.get(str(name))
    if spec is None:
        raise SegmentConfigError(path, f"{key}.{name}", f"unknown filter (one of {', '.join(FILTERS)}, all, any, not)")
    return {str(name): spec.normalise(path, f"{key}.{name}", value)}


# --- filters ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filter:
    normalise: Callable[[Any, str, Any], Any]      # (path, key, raw value) -> stored value
    compile: Callable[[Any, dt.datetime], tuple[str, list]]  # (stored value, now) -> SQL over `c`, params


def _names(path, key, value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise SegmentConfigError(path, key, "must be a name or a non-empty list of names")
    return [v.strip() for v in value]


def _vocab(lookup, what):
    """``what`` names the vocabulary in errors; a callable is asked only then (files are read lazily)."""
    def normalise(path, key, value):
        out = []
        for item in _names(path, key, value):
            found = lookup(item)
            if found is None:
                raise SegmentConfigError(path, key, f"{item!r} is not {what() if callable(what) else what}")
            out.append(found)
        return sorted(set(out))
    return normalise


def _choice(options: tuple[str, ...], what: str):
    return _vocab(lambda v: v.strip().lower() if v.strip().lower() in options else None,
                  f"{what} ({', '.join(options)})")


def _lower_names(path, key, value) -> list[str]:
    return sorted({v.lower() for v in _names(path, key, value)})


def _in_list(column: str):
    return lambda value, now: (f"lower({column}) in (select unnest(?::varchar[]))", [[v.lower() for v in value]])


def _range(path, key, value) -> dict:
    if not isinstance(value, dict) or not value or set(value) - {"min", "max"}:
        raise SegmentConfigError(path, key, "must be {min: N} and/or {max: N}")
    for bound, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
            raise SegmentConfigError(path, f"{key}.{bound}", "must be a number >= 0")
    return dict(sorted(value.items()))


def _compile_range(value, now):
    parts, params = [], []
    if "min" in value:
        parts.append("c.years_experience >= ?"), params.append(value["min"])
    if "max" in value:
        parts.append("c.years_experience <= ?"), params.append(value["max"])
    return " and ".join(parts), params


def _activity(path, key, value) -> dict:
    if not isinstance(value, dict) or len(value) != 1 or set(value) - {"within_days", "not_within_days"}:
        raise SegmentConfigError(path, key, "must be {within_days: N} or {not_within_days: N}")
    (bound, days), = value.items()
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise SegmentConfigError(path, f"{key}.{bound}", "must be a whole number of days >= 0")
    return {bound: days}


def _compile_activity(value, now):
    (bound, days), = value.items()
    since = (now - dt.timedelta(days=days)).astimezone(dt.timezone.utc).replace(tzinfo=None)
    if bound == "within_days":
        return "c.last_activity_at >= ?", [since]
    return "(c.last_activity_at is null or c.last_activity_at < ?)", [since]


def _silver(path, key, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, dict) and set(value) == {"job_families"}:
        return {"job_families": _vocab(job_family, lambda: f"a job family ({', '.join(job_families())})")(
            path, f"{key}.job_families", value["job_families"])}
    raise SegmentConfigError(path, key, "must be true, false or {job_families: [...]}")


def _compile_silver(value, now):
    if value is True:
        return "c.is_silver_medalist", []
    if value is False:
        return "not c.is_silver_medalist", []
    return (f"c.is_silver_medalist and exists (select 1 from {tables.FCT_APPLICATIONS} a "
            f"where a.person_id = c.person_id and a.is_silver_medal_application "
            f"and lower(a.job_family) in (select unnest(?::varchar[])))", [[f.lower() for f in value["job_families"]]])


def _pipelines(path, key, value):
    if value is True:
        return True
    return _names(path, key, value)


def _compile_pipelines(value, now):
    sql = f"exists (select 1 from {tables.FCT_PIPELINE_MEMBERS} p where p.person_id = c.person_id"
    if value is True:
        return sql + ")", []
    return sql + " and lower(p.pipeline_name) in (select unnest(?::varchar[])))", [[v.lower() for v in value]]


# The compiled SQL is what DuckDB and PostgreSQL both accept (the warehouse is either): string_to_array,
# && (lists overlap), = any(list), unnest, ?::varchar[].
def _any_of_list(column: str):
    return lambda value, now: (f"string_to_array(lower(coalesce({column}, '')), ';') && ?::varchar[]", [list(value)])


TALENT_TYPE_SQL = {
    "applicant": "coalesce(c.application_count, 0) > 0",
    "prospect": "coalesce(c.application_count, 0) = 0",
    "silver_medalist": "c.is_silver_medalist",
    "alumni": "coalesce(c.is_hired, false)",
    "talent_network": f"'{tables.SOURCE_TALENT_NETWORK}' = any(string_to_array(coalesce(c.sources, ''), ';'))",
    "referral": f"'{tables.SOURCE_REFERRAL}' = any(string_to_array(coalesce(c.sources, ''), ';'))",
}


def _compile_talent_type(value, now):
    return "(" + " or ".join(TALENT_TYPE_SQL[v] for v in value) + ")", []


FILTERS: dict[str, Filter] = {
    "job_family": Filter(_vocab(job_family, lambda: f"a job family ({', '.join(job_families())})"),
                         _in_list("c.job_family")),
    "city": Filter(_lower_names, _in_list("c.city")),
    "region": Filter(_lower_names, _in_list("c.region")),
    "country": Filter(_vocab(lambda v: Gazetteer().country_code(v), "a country (name, ISO code or a known alias)"),
                      _in_list("c.country_code")),
    "skills": Filter(_lower_names, _any_of_list("c.skills")),
    "seniority": Filter(_choice(SENIORITIES, "a seniority"), _in_list("c.seniority")),
    "years_experience": Filter(_range, _compile_range),
    "talent_type": Filter(_choice(TALENT_TYPES, "a talent type"), _compile_talent_type),
    "heat_band": Filter(_choice(HEAT_BANDS, "a heat band"), _in_list("c.heat_band")),
    "silver_medalist": Filter(_silver, _compile_silver),
    "source": Filter(_lower_names, _any_of_list("c.sources")),
    "consent_basis": Filter(_choice(CONSENT_BASES, "a consent basis"), _in_list("c.consent_basis")),
    "last_activity": Filter(_activity, _compile_activity),
    "in_pipeline": Filter(_pipelines, _compile_pipelines),
}


# --- compiling and running ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CompiledSegment:
    """``select person_id from marts.dim_candidates c where ...`` with its parameters (``?``), in SQL that
    DuckDB and PostgreSQL both run."""
    sql: str
    params: list
    predicate: str   # the where clause alone (over alias `c`), for callers that join it elsewhere


def compile_condition(where: dict, now: dt.datetime) -> tuple[str, list]:
    """The SQL predicate over ``marts.dim_candidates`` aliased ``c`` and its parameters."""
    (op, value), = where.items()
    if op in ("all", "any"):
        if not value:  # all of nothing: everyone; any of nothing: no one
            return ("true" if op == "all" else "false"), []
        parts = [compile_condition(item, now) for item in value]
        joiner = " and " if op == "all" else " or "
        return "(" + joiner.join(f"({sql})" for sql, _ in parts) + ")", [p for _, ps in parts for p in ps]
    if op == "not":
        sql, params = compile_condition(value, now)
        return f"not coalesce(({sql}), false)", params  # unknown (null) counts as "does not match"
    sql, params = FILTERS[op].compile(value, now)
    return f"coalesce(({sql}), false)", params


def compile_segment(segment: Segment, now: dt.datetime | None = None,
                    candidates_table: str = tables.DIM_CANDIDATES) -> CompiledSegment:
    now = now or dt.datetime.now(dt.timezone.utc)
    predicate, params = compile_condition(segment.where, now)
    return CompiledSegment(f"select c.person_id from {candidates_table} c where {predicate} order by c.person_id",
                           params, predicate)


def segment_person_ids(con, segment: Segment, now: dt.datetime | None = None) -> list[str]:
    """The person ids a segment selects today (a connection to the warehouse, either engine)."""
    compiled = compile_segment(segment, now)
    return [r[0] for r in con.execute(compiled.sql, compiled.params).fetchall()]


def count_segment(con, segment: Segment, now: dt.datetime | None = None) -> int:
    compiled = compile_segment(segment, now)
    return con.execute(f"select count(*) from ({compiled.sql}) as members", compiled.params).fetchall()[0][0]


def describe_condition(where: dict, indent: int = 0) -> str:
    """The condition as readable indented lines (``warmpool segment show``)."""
    pad = "  " * indent
    (op, value), = where.items()
    if op in ("all", "any"):
        head = f"{pad}{'all of' if op == 'all' else 'any of'}:"
        return "\n".join([head] + [describe_condition(v, indent + 1) for v in value]) if value else f"{head} (none)"
    if op == "not":
        return f"{pad}not:\n" + describe_condition(value, indent + 1)
    return f"{pad}{op}: {json.dumps(value)}"


def load_segments_table(con, segments: dict[str, Segment] | None = None) -> int:
    """(Re)write ``raw_campaigns.segments`` in one transaction on a warehouse connection (either engine;
    ``write_segment_members`` runs them); files are validated before the transaction, so a bad file leaves the old table."""
    rows = [s.as_row() for s in (segments if segments is not None else load_segments()).values()]
    columns = ["segment", "version", "definition_hash", "description", "definition"]
    return rewrite_table(con, tables.SEGMENT_DEFINITIONS, """
        segment varchar not null primary key, version integer not null, definition_hash varchar not null,
        description varchar, definition varchar not null""", columns, [[r[c] for c in columns] for r in rows])


def members_from_definitions(con, definitions: list[tuple[str, int, str]], now: dt.datetime | None) -> list[tuple]:
    """``(segment, version, person_id)`` for stored definitions ``(segment, version, definition JSON)``."""
    out = []
    for name, version, definition in definitions:
        segment = parse_segment({"segment": name, "version": int(version), "where": json.loads(definition)},
                                f"{tables.SEGMENT_DEFINITIONS}:{name}")
        out.extend((name, int(version), pid) for pid in segment_person_ids(con, segment, now))
    return out


def as_of_time(as_of: str | None) -> dt.datetime:
    """"Now" of a run: its ``as_of`` day (``YYYY-MM-DD``, as dbt's), else the configured one
    (``Settings.as_of``), else now."""
    day = as_of or get_settings().as_of
    return (dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc) if day
            else dt.datetime.now(dt.timezone.utc))


def write_segment_members(settings: Settings | None = None, as_of: str | None = None) -> int:
    """Rewrite ``marts.segment_members`` (one row per segment and person, as of ``as_of``) from the stored
    definitions over the marts, on the configured warehouse (DuckDB or PostgreSQL): the step between the
    marts and ``audience_members`` (dbt reads it as a source). Returns the rows written."""
    with open_warehouse(settings) as con:
        # a warehouse whose campaign definitions were never loaded has no segments yet
        definitions = (con.execute(f"select segment, version, definition from {tables.SEGMENT_DEFINITIONS} "
                                   "order by segment").fetchall()
                       if table_exists(con, tables.SEGMENT_DEFINITIONS) else [])
        rows = members_from_definitions(con, definitions, as_of_time(as_of))
        frame = pl.DataFrame(rows, schema={"segment": pl.String, "segment_version": pl.Int64, "person_id": pl.String},
                             orient="row")
        return replace_table_on(con, tables.SEGMENT_MEMBERS, frame)
