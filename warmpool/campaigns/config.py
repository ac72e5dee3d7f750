"""Campaign definitions: one YAML file per campaign under ``config/campaigns/`` (versioned in git).

A file looks like::

    campaign_id: tn-engineering-nurture      # must equal the file name (without .yaml)
    name: Engineering and data nurture
    kind: nurture                            # nurture | invite_to_apply
    segment: engineering-and-data            # who: a segment of config/segments/ (warmpool/segments.py);
                                             # the audience is its contactable members
    subject: What's new at Warmpool          # plain text, the same for every recipient
    template: whats_new                      # templates/whats_new.html.j2 + templates/whats_new.txt.j2
    starts_at: 2025-01-01T00:00:00Z          # nothing is sent before this instant
    frequency_cap_days: 7                    # optional: defer people mailed by any campaign this recently
    audience_preset: hubspot                 # optional: the provider the audience file is imported into
                                             # (mailchimp - the default -, hubspot or sendgrid)
    schedule: "0 9 * * 1"                    # optional: cron (UTC); sent only by its own Dagster schedule

A drip sequence replaces ``subject`` and ``template`` by its steps (docs/campaigns.md)::

    sequence:
      - {subject: Welcome, template: whats_new}                     # step 1: as soon as a person joins
      - {subject: Roles for you, template: invite_to_apply, wait_days: 7}  # 7 days after step 1 went out
    stop_on: [replied, applied, hired, unsubscribed, bounced, in_process]   # the default: all of them

Segments are the one way to pick people: a campaign names one, and the segment's filters (job
family, place, experience, heat, ...) decide who is in its audience.

The subject is deliberately not personalised: data from candidates reaches only the bodies, never a
header. ``content_version`` is a hash of the subject and every template file the mail uses, so
editing the mail yields a new version (and a new ledger key: see ``sender.py``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from croniter import croniter
from jinja2 import DictLoader, StrictUndefined, TemplateError, TemplateSyntaxError, meta, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from warmpool import tables
from warmpool.campaigns.audience import AUDIENCE_PRESETS, DEFAULT_PRESET
from warmpool.config import CONFIG_DIR, load_yaml_mapping
from warmpool.eeo import EeoFilterError, is_eeo_field, refuse_eeo_filters
from warmpool.segments import load_segments
from warmpool.warehouse import rewrite_table

CAMPAIGNS_DIR = CONFIG_DIR / "campaigns"
KINDS = ("nurture", "invite_to_apply")
DEFAULT_FREQUENCY_CAP_DAYS = 7

# Contract columns of raw_campaigns.campaigns (docs/data-contracts.md section 5), in order.
CONTRACT_COLUMNS = ("campaign_id", "name", "kind", "subject", "template", "content_version", "starts_at", "segment")

# Variables a template may use; the sender passes exactly these (StrictUndefined catches typos).
MERGE_FIELDS = ("first_name", "last_name", "city", "country", "job_family", "campaign_name",
                "unsubscribe_url", "physical_address")

_REQUIRED = ("campaign_id", "name", "kind", "segment", "starts_at")
_OPTIONAL = ("subject", "template", "frequency_cap_days", "audience_preset", "description", "schedule", "sequence",
             "stop_on", "variants", "ab_test")
# Filters campaigns once carried themselves: a segment says who is in an audience now.
_FILTERS_MOVED_TO_SEGMENTS = ("job_families", "countries", "min_years_experience")
AB_METRICS = ("clicks", "replies", "applications")
AB_DEFAULTS = {"metric": "clicks", "min_sample": 100, "alpha": 0.05, "test_share": 1.0, "send_winner_to_rest": True}
# Why a person leaves a drip sequence before its last step (warmpool/campaigns/sequence.py).
STOP_CONDITIONS = ("replied", "applied", "hired", "unsubscribed", "bounced", "in_process")
# Lower-case slug: it becomes a file name (audiences/<id>.csv) and a token field, so no paths.
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TEMPLATE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_HEADER_UNSAFE = re.compile(r"[\r\n\x00]")


class CampaignConfigError(ValueError):
    """A campaign file is invalid; the message names the file and the key."""

    def __init__(self, path: Path | str, key: str | None, problem: str):
        self.path, self.key, self.problem = Path(path), key, problem
        where = f"{path}: key '{key}'" if key else str(path)
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class SequenceStep:
    number: int                    # 1-based
    subject: str
    template: str
    wait_days: int                 # after the previous step was sent to the person (0 for step 1)
    content_version: str
    template_sources: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class Variant:
    name: str
    subject: str
    template: str
    weight: float                  # share of the test group
    content_version: str
    template_sources: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class AbTest:
    metric: str = "clicks"         # clicks | replies | applications
    min_sample: int = 100          # messages per variant before a winner may be named
    alpha: float = 0.05            # significance level of the two-proportion z-test
    test_share: float = 1.0        # share of the audience in the test; the rest waits for the winner
    send_winner_to_rest: bool = True


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    kind: str
    segment: str                                   # who: a segment of config/segments/
    subject: str
    template: str
    content_version: str
    starts_at: dt.datetime
    frequency_cap_days: int = DEFAULT_FREQUENCY_CAP_DAYS
    audience_preset: str = DEFAULT_PRESET
    schedule: str | None = None                    # cron (UTC): sent by its own Dagster schedule only
    steps: tuple[SequenceStep, ...] = ()           # a drip sequence (step 1 is also subject/template above)
    stop_on: tuple[str, ...] = STOP_CONDITIONS
    variants: tuple[Variant, ...] = ()             # an A/B test (subject and/or template per variant)
    ab_test: AbTest | None = None
    source_file: Path | None = field(default=None, compare=False)
    # The exact template sources that were hashed into content_version: the sender renders these,
    # not the files on disk, so a file edited mid-run cannot go out under the old version.
    template_sources: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)

    @property
    def html_template(self) -> str:
        return f"{self.template}.html.j2"

    @property
    def text_template(self) -> str:
        return f"{self.template}.txt.j2"

    def template_env(self) -> SandboxedEnvironment:
        return make_template_env(dict(self.template_sources))

    @property
    def is_sequence(self) -> bool:
        return bool(self.steps)

    def for_variant(self, name: str) -> "Campaign":
        """The campaign as it mails one A/B variant."""
        v = next(v for v in self.variants if v.name == name)
        return replace(self, subject=v.subject, template=v.template, content_version=v.content_version,
                       template_sources=v.template_sources)

    def for_step(self, number: int) -> "Campaign":
        """The campaign as it mails one step: that step's subject, template and content version."""
        step = self.steps[number - 1]
        return replace(self, subject=step.subject, template=step.template, content_version=step.content_version,
                       template_sources=step.template_sources)


def make_template_env(sources: dict[str, str]) -> SandboxedEnvironment:
    """Sandboxed Jinja2 with autoescape on for the HTML part only (the text part is not HTML)."""
    return SandboxedEnvironment(
        loader=DictLoader(sources),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "html.j2"), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def load_campaigns(dir: Path | str | None = None, segments_dir: Path | str | None = None) -> list[Campaign]:
    """Every ``*.yaml`` campaign in ``dir`` (default ``config/campaigns``), validated, sorted by id.
    A campaign's ``segment`` must name a segment of ``segments_dir`` (default ``config/segments``)."""
    directory = Path(dir) if dir is not None else CAMPAIGNS_DIR
    segments = load_segments(segments_dir)
    campaigns = [load_campaign_file(p, templates_dir=directory / "templates", segments=segments)
                 for p in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))]
    seen: dict[str, Path] = {}
    for c in campaigns:
        if c.campaign_id in seen:
            raise CampaignConfigError(c.source_file, "campaign_id",
                                      f"duplicate id {c.campaign_id!r} (also in {seen[c.campaign_id]})")
        seen[c.campaign_id] = c.source_file
    return sorted(campaigns, key=lambda c: c.campaign_id)


def load_campaign_file(path: Path, templates_dir: Path | None = None, segments: dict | None = None) -> Campaign:
    path = Path(path)
    templates_dir = Path(templates_dir) if templates_dir is not None else path.parent / "templates"
    data = load_yaml_mapping(path, CampaignConfigError)

    try:  # before the unknown-key check: this refusal is a rule, not a typo
        refuse_eeo_filters(map(str, data), "campaign audience")
    except EeoFilterError as exc:
        raise CampaignConfigError(path, next(k for k in map(str, data) if is_eeo_field(k)), str(exc)) from None
    moved = [k for k in _FILTERS_MOVED_TO_SEGMENTS if k in data]
    if moved:
        raise CampaignConfigError(path, moved[0], "campaigns pick people by segment only: put this filter in a "
                                  "segment of config/segments/ and name it under `segment`")
    unknown = sorted(set(map(str, data)) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:  # a typo such as `job_familes` would otherwise silently widen the audience
        raise CampaignConfigError(path, unknown[0], f"unknown key (allowed: {', '.join(_REQUIRED + _OPTIONAL)})")
    for key in _REQUIRED:
        if data.get(key) in (None, ""):
            raise CampaignConfigError(path, key, "is required")

    campaign_id = _text(path, data, "campaign_id")
    if not _ID_RE.match(campaign_id):
        raise CampaignConfigError(path, "campaign_id", "must be a lower-case slug (a-z, 0-9, '-'), at most 63 characters")
    if campaign_id != path.stem:
        raise CampaignConfigError(path, "campaign_id", f"{campaign_id!r} must equal the file name {path.stem!r}")
    kind = _text(path, data, "kind")
    if kind not in KINDS:
        raise CampaignConfigError(path, "kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    steps = _sequence(path, data, templates_dir)
    if steps:
        subject, template, sources = steps[0].subject, steps[0].template, dict(steps[0].template_sources)
        version = content_version(" | ".join(f"{st.wait_days}:{st.subject}" for st in steps),
                                  {f"step{st.number}/{k}": v for st in steps for k, v in st.template_sources})
    else:
        subject, template = _subject(path, data, "subject"), _template_name(path, data, "template")
        sources = _read_templates(path, templates_dir, template)
        _check_renders(path, sources, template)
        version = content_version(subject, sources)
    variants, ab_test = _variants(path, data, templates_dir, subject, template)
    if variants and steps:
        raise CampaignConfigError(path, "variants", "A/B variants of a sequence are not supported; test a one-off")
    stop_on = _str_list(path, data, "stop_on") or STOP_CONDITIONS
    for item in stop_on:
        if item not in STOP_CONDITIONS:
            raise CampaignConfigError(path, "stop_on", f"{item!r} is not one of {', '.join(STOP_CONDITIONS)}")
    schedule = data.get("schedule")
    if schedule is not None and (not isinstance(schedule, str) or not croniter.is_valid(schedule)
                                 or len(schedule.split()) != 5):
        raise CampaignConfigError(path, "schedule", f"{schedule!r} is not a cron expression such as '0 9 * * 1'")

    cap = data.get("frequency_cap_days", DEFAULT_FREQUENCY_CAP_DAYS)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
        raise CampaignConfigError(path, "frequency_cap_days", "must be a whole number of days >= 0 (0 = no cap)")

    preset = data.get("audience_preset", DEFAULT_PRESET)
    if preset not in AUDIENCE_PRESETS:
        raise CampaignConfigError(path, "audience_preset", f"{preset!r} is not one of {', '.join(AUDIENCE_PRESETS)}")

    segment = _text(path, data, "segment")
    known = load_segments() if segments is None else segments
    if segment not in known:
        raise CampaignConfigError(path, "segment", f"{segment!r} is not a segment of config/segments "
                                  f"(known: {', '.join(known) or 'none'})")

    return Campaign(
        campaign_id=campaign_id,
        name=_text(path, data, "name"),
        kind=kind,
        subject=subject,
        template=template,
        content_version=version,
        starts_at=_instant(path, data["starts_at"]),
        frequency_cap_days=cap,
        audience_preset=preset,
        segment=segment,
        schedule=schedule,
        steps=steps,
        stop_on=tuple(stop_on),
        variants=variants,
        ab_test=ab_test,
        source_file=path,
        template_sources=tuple(sorted(sources.items())),
    )


def content_version(subject: str, sources: dict[str, str]) -> str:
    """Short, stable hash of what the recipient reads: the subject and every template file used."""
    canonical = json.dumps({"subject": subject, "templates": sources}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def campaign_rows(campaigns: list[Campaign]) -> list[dict[str, Any]]:
    """Rows for ``raw_campaigns.campaigns`` with exactly the contract columns."""
    return [{
        "campaign_id": c.campaign_id,
        "name": c.name,
        "kind": c.kind,
        "subject": c.subject,
        "template": c.template,
        "content_version": c.content_version,
        "starts_at": c.starts_at,
        "segment": c.segment,
    } for c in campaigns]


def load_campaigns_table(con, campaigns: list[Campaign] | None = None, dir: Path | str | None = None) -> int:
    """(Re)write ``raw_campaigns.campaigns`` in one transaction on a warehouse connection (either engine); returns the row count.

    Files are loaded and validated before the transaction starts, so an invalid file leaves the
    previous table untouched.
    """
    rows = campaign_rows(campaigns if campaigns is not None else load_campaigns(dir))
    return rewrite_table(con, tables.CAMPAIGN_DEFINITIONS, """
        campaign_id varchar not null primary key, name varchar not null, kind varchar not null,
        subject varchar not null, template varchar not null, content_version varchar not null,
        starts_at timestamptz not null, segment varchar""", list(CONTRACT_COLUMNS),
                         [[row[c] for c in CONTRACT_COLUMNS] for row in rows])


# --- helpers -------------------------------------------------------------------------------------

def _subject(path: Path, data: dict, key: str) -> str:
    if data.get(key.rpartition(".")[2]) in (None, ""):
        raise CampaignConfigError(path, key, "is required")
    subject = _text(path, data, key.rpartition(".")[2])
    if _HEADER_UNSAFE.search(subject):
        raise CampaignConfigError(path, key, "must be one line (no CR, LF or NUL: header injection)")
    if "{{" in subject or "{%" in subject:
        raise CampaignConfigError(path, key, "is not a template: personalise the body, never a header")
    return subject


def _template_name(path: Path, data: dict, key: str) -> str:
    if data.get(key.rpartition(".")[2]) in (None, ""):
        raise CampaignConfigError(path, key, "is required")
    template = _text(path, data, key.rpartition(".")[2])
    if not _TEMPLATE_RE.match(template):
        raise CampaignConfigError(path, key, "must be a bare template name such as 'whats_new' (no path)")
    return template


def _variants(path: Path, data: dict, templates_dir: Path, subject: str, template: str
              ) -> tuple[tuple[Variant, ...], AbTest | None]:
    raw = data.get("variants")
    if raw is None:
        if data.get("ab_test") is not None:
            raise CampaignConfigError(path, "ab_test", "needs `variants`")
        return (), None
    if not isinstance(raw, list) or len(raw) < 2:
        raise CampaignConfigError(path, "variants", "must list at least two variants")
    out, names = [], set()
    for i, item in enumerate(raw):
        key = f"variants[{i}]"
        if not isinstance(item, dict) or set(map(str, item)) - {"name", "subject", "template", "weight"}:
            raise CampaignConfigError(path, key, "must be a mapping of name, subject, template and weight")
        name = item.get("name")
        if not isinstance(name, str) or not _ID_RE.match(name) or name in names:
            raise CampaignConfigError(path, f"{key}.name", "must be a unique lower-case slug")
        names.add(name)
        v_subject = _subject(path, item, f"{key}.subject") if "subject" in item else subject
        v_template = _template_name(path, item, f"{key}.template") if "template" in item else template
        weight = item.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            raise CampaignConfigError(path, f"{key}.weight", "must be a number > 0")
        sources = _read_templates(path, templates_dir, v_template)
        _check_renders(path, sources, v_template)
        out.append(Variant(name, v_subject, v_template, float(weight), content_version(v_subject, sources),
                           tuple(sorted(sources.items()))))
    total = sum(v.weight for v in out)
    variants = tuple(replace(v, weight=v.weight / total) for v in out)
    cfg = data.get("ab_test") or {}
    if not isinstance(cfg, dict) or set(map(str, cfg)) - set(AB_DEFAULTS):
        raise CampaignConfigError(path, "ab_test", f"allowed keys: {', '.join(AB_DEFAULTS)}")
    ab = {**AB_DEFAULTS, **cfg}
    if ab["metric"] not in AB_METRICS:
        raise CampaignConfigError(path, "ab_test.metric", f"{ab['metric']!r} is not one of {', '.join(AB_METRICS)}")
    if isinstance(ab["min_sample"], bool) or not isinstance(ab["min_sample"], int) or ab["min_sample"] < 1:
        raise CampaignConfigError(path, "ab_test.min_sample", "must be a whole number >= 1")
    if not isinstance(ab["alpha"], float) or not 0 < ab["alpha"] < 0.5:
        raise CampaignConfigError(path, "ab_test.alpha", "must be a number between 0 and 0.5")
    if isinstance(ab["test_share"], bool) or not isinstance(ab["test_share"], (int, float)) or not 0 < ab["test_share"] <= 1:
        raise CampaignConfigError(path, "ab_test.test_share", "must be a share in (0, 1]")
    return variants, AbTest(str(ab["metric"]), int(ab["min_sample"]), float(ab["alpha"]), float(ab["test_share"]),
                            bool(ab["send_winner_to_rest"]))


def _sequence(path: Path, data: dict, templates_dir: Path) -> tuple[SequenceStep, ...]:
    raw = data.get("sequence")
    if raw is None:
        return ()
    if data.get("subject") is not None or data.get("template") is not None:
        raise CampaignConfigError(path, "sequence", "a sequence's steps carry the subject and template: "
                                  "remove the top-level `subject` and `template`")
    if not isinstance(raw, list) or not raw:
        raise CampaignConfigError(path, "sequence", "must be a non-empty list of steps")
    steps = []
    for i, item in enumerate(raw, start=1):
        key = f"sequence[{i - 1}]"
        if not isinstance(item, dict) or set(map(str, item)) - {"subject", "template", "wait_days"}:
            raise CampaignConfigError(path, key, "must be a mapping of subject, template and wait_days")
        wait = item.get("wait_days", 0)
        if isinstance(wait, bool) or not isinstance(wait, int) or wait < 0 or (i > 1 and wait < 1):
            raise CampaignConfigError(path, f"{key}.wait_days", "must be a whole number of days (>= 1 after step 1)")
        subject, template = _subject(path, item, f"{key}.subject"), _template_name(path, item, f"{key}.template")
        sources = _read_templates(path, templates_dir, template)
        _check_renders(path, sources, template)
        steps.append(SequenceStep(i, subject, template, wait, f"s{i}-{content_version(subject, sources)}",
                                  tuple(sorted(sources.items()))))
    return tuple(steps)


def _text(path: Path, data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CampaignConfigError(path, key, "must be a non-empty text")
    return value.strip()


def _str_list(path: Path, data: dict, key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None or value == "any":
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise CampaignConfigError(path, key, "must be a non-empty list of names, or null for any")
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or ";" in item:
            raise CampaignConfigError(path, key, f"item {item!r} must be a non-empty name without ';'")
        out.append(item.strip())
    return tuple(dict.fromkeys(out))


def _instant(path: Path, value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, dt.date):
        out = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            out = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise CampaignConfigError(path, "starts_at", f"{value!r} is not an ISO-8601 date or time") from exc
    else:
        raise CampaignConfigError(path, "starts_at", "must be an ISO-8601 date or time")
    # A naive time is read as UTC: one meaning everywhere, whatever the machine's zone.
    return out.replace(tzinfo=dt.timezone.utc) if out.tzinfo is None else out.astimezone(dt.timezone.utc)


def _read_templates(path: Path, templates_dir: Path, template: str) -> dict[str, str]:
    """The campaign's two template files plus everything they extend / include / import."""
    sources: dict[str, str] = {}
    pending = [f"{template}.html.j2", f"{template}.txt.j2"]
    env = make_template_env({})
    root = templates_dir.resolve()
    while pending:
        name = pending.pop()
        if name in sources:
            continue
        file = (templates_dir / name).resolve()
        if root not in file.parents:  # `{% include "../../secret" %}` stays out
            raise CampaignConfigError(path, "template", f"template {name!r} is outside {templates_dir}")
        if not file.is_file():
            raise CampaignConfigError(path, "template", f"template file {file} does not exist")
        text = file.read_text(encoding="utf-8")
        try:
            referenced = meta.find_referenced_templates(env.parse(text, name=name, filename=str(file)))
        except TemplateSyntaxError as exc:
            raise CampaignConfigError(path, "template", f"{file}, line {exc.lineno}: {exc.message}") from exc
        sources[name] = text
        for ref in referenced:
            if ref is None:  # dynamic name: cannot be hashed into the content version
                raise CampaignConfigError(path, "template", f"{name}: extends/includes must name a fixed file")
            pending.append(ref)
    return sources


def _check_renders(path: Path, sources: dict[str, str], template: str) -> None:
    """Render both parts with sample data so a misspelt variable fails now, not mid-send."""
    env = make_template_env(sources)
    sample = {k: f"sample-{k}" for k in MERGE_FIELDS}
    for name in (f"{template}.html.j2", f"{template}.txt.j2"):
        try:
            env.get_template(name).render(sample)
        except TemplateError as exc:
            raise CampaignConfigError(path, "template", f"{name} does not render: {exc} "
                                      f"(available variables: {', '.join(MERGE_FIELDS)})") from exc
