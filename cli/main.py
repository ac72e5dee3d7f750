"""The `warmpool` command line. Thin: every command calls a plain function elsewhere.

Heavy libraries are imported inside commands so `warmpool --help` stays fast.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from cli import search as search_cli

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False, help="Warmpool: the recruiting CRM data platform.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The demo world: generator, ATS simulator, SMTP server.")
app.add_typer(sandbox_app, name="sandbox")
app.command("search")(search_cli.search_command)
app.command("lookup")(search_cli.lookup_command)
app.command("rediscover")(search_cli.rediscover_command)
app.add_typer(search_cli.pipeline_app, name="pipeline")
app.add_typer(search_cli.index_app, name="search-index")
app.add_typer(search_cli.audit_app, name="search-audit")


@sandbox_app.command("generate")
def sandbox_generate(
    people: int = typer.Option(20_000, help="How many real people the world holds."),
    seed: int = typer.Option(42, help="Random seed; the same seed gives the same world."),
) -> None:
    """Generate the sandbox world under $WARMPOOL_HOME/sandbox (truth kept apart)."""
    from sandbox.world import generate_world

    summary = generate_world(people=people, seed=seed)
    typer.echo(summary.describe())


@sandbox_app.command("serve")
def sandbox_serve() -> None:
    """Serve the ATS API simulator and the SMTP sink until interrupted."""
    from sandbox.services import serve_forever

    serve_forever()


@app.command("resolve")
def resolve(
    input: Path = typer.Argument(..., help="Candidate export (CSV)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write source, source_record_id, person_id."),
    model: str = typer.Option("auto", "--model", help="saved: the shipped model as it is; adapt: re-estimated on "
                              "this input; auto: adapt only when the saved model does not fit the input."),
    save_model: Optional[Path] = typer.Option(None, "--save-model", help="Also write the model this run used "
                                              "(e.g. adapted), to promote with `warmpool identity promote-model`."),
) -> None:
    """Identity resolution of any candidate export: one output row per input row.

    Bad input ends with one line naming the file, row and problem, and exit status 2.
    """
    import os

    from warmpool.identity import MODEL_MODES, ResolveInputError, resolve_csv

    def fail(message: str, code: int = 2):
        # one printable line whatever the input held (a column name with a line break, a control byte)
        flat = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in " ".join(message.split()))
        typer.echo(f"error: {flat}", err=True)
        raise typer.Exit(code)

    if model not in MODEL_MODES:
        fail(f"--model must be one of {', '.join(MODEL_MODES)}, not {model!r}")
    if not input.is_file():
        fail(f"{input}: no such file")
    try:
        stats = resolve_csv(input, output, mode=model, save_model=save_model)
    except ResolveInputError as exc:  # bad input is the user's to fix: say where, no traceback
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or output}: {exc.strerror or exc}")
    except Exception as exc:  # a bug: one line, not a traceback (WARMPOOL_DEBUG=1 shows it)
        if os.environ.get("WARMPOOL_DEBUG"):
            raise
        fail(f"{input}: resolve failed unexpectedly ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}); "
             f"run with WARMPOOL_DEBUG=1 for the traceback and report it", 1)
    typer.echo(stats.describe())


@app.command("demo")
def demo(
    people: int = typer.Option(20_000, envvar="PEOPLE", help="Size of the sandbox world."),
    seed: int = typer.Option(42, envvar="SEED"),
    ats_port: Optional[int] = typer.Option(None, envvar="ATS_PORT",
                                           help="Port of the sandbox ATS API (default: config's ats.base_url; 0: any free port)."),
    smtp_port: Optional[int] = typer.Option(None, envvar="SMTP_PORT",
                                            help="Port of the sandbox SMTP server (default: config's smtp.port; 0: any free port)."),
) -> None:
    """Generate the sandbox, start its services, run the whole asset graph, print a summary."""
    from cli.demo import run_demo
    from warmpool.config import DEMO_ENV

    os.environ[DEMO_ENV] = "1"  # the demo is the sandbox: its mails' links are signed with its public secret

    if not run_demo(people=people, seed=seed, ats_port=ats_port, smtp_port=smtp_port):
        raise typer.Exit(1)


@app.command("web")
def web(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8300),
        demo: bool = typer.Option(False, "--demo", help="Demo mode (as WARMPOOL_DEMO=1): the sandbox's public "
                                  "secrets on loopback addresses only, a demo banner on every page.")) -> None:
    """Serve the candidate-facing web service (talent network, referrals, preferences, tracking, webhooks).
    Refuses to start on missing or public secrets outside demo mode (see web/README.md)."""
    from warmpool.config import DEMO_ENV, UnsafeDeployment
    from web.server import run as run_web

    if demo:
        os.environ[DEMO_ENV] = "1"  # the whole process is the demo: every signer reads the settings
    try:
        run_web(host=host, port=port)
    except UnsafeDeployment as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("dashboards")
def dashboards(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8501)) -> None:
    """Serve the dashboards (Streamlit) on the marts' parquet exports: the pages of your role
    (config/dashboards.yaml); local mode, or OIDC sign-in with `[auth]` in .streamlit/secrets.toml."""
    from cli.dashboards import serve

    raise typer.Exit(serve(host=host, port=port))


@app.command("manifest")
def manifest(force: bool = typer.Option(True, help="Re-parse even if a manifest exists.")) -> None:
    """Prepare the dbt manifest ahead of any run (Dagster loads it)."""
    from assets.dbt_project import prepare_manifest

    typer.echo(f"dbt manifest: {prepare_manifest(force=force)}")


@app.command("run")
def run(demo: bool = typer.Option(False, "--demo", help="Demo mode (as WARMPOOL_DEMO=1): campaign mails' links "
                                  "signed with the sandbox's public secret, for the sandbox on this machine.")) -> None:
    """Run the whole asset graph once against the configured ATS, files and SMTP relay (WARMPOOL_DEPLOYMENT
    picks the resources: local = the sandbox, production = endpoints and secrets from the environment)."""
    from cli.demo import run_once
    from warmpool.config import DEMO_ENV, get_settings

    if demo:
        os.environ[DEMO_ENV] = "1"

    if not run_once(get_settings().ensure_dirs()):
        raise typer.Exit(1)


# ---- identity: explain, review, unmerge (the warehouse at get_settings().warehouse_path) ----------
identity_app = typer.Typer(no_args_is_help=True, help="Person identity: explain, review uncertain pairs, unmerge.")
review_app = typer.Typer(no_args_is_help=True, help="The review queue of uncertain pairs and reviewers' decisions.")
app.add_typer(identity_app, name="identity")
identity_app.add_typer(review_app, name="review")


def _identity_call(fn, *, read_only: bool):
    """Open the warehouse, run ``fn(con)``, turn expected errors into a clean exit."""
    from warmpool.identity import ReviewError
    from warmpool.warehouse import warehouse

    try:
        with warehouse(read_only=read_only) as con:
            return fn(con)
    except ReviewError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)


@identity_app.command("resolve")
def identity_resolve(
    full: bool = typer.Option(False, "--full", help="Re-score the whole pool even if an incremental run would do."),
) -> None:
    """Resolve the warehouse's source records to persons (what the pipeline's identity asset runs).

    Incremental when only a small share of records changed since the last full run (see
    identity.incremental_max_share), otherwise full; both give the same answer. Writes the warehouse:
    run it only while no pipeline run is in progress (one writer at a time).
    """
    from warmpool.identity import resolve_pool

    typer.echo(_identity_call(lambda con: resolve_pool(con, full=full), read_only=False).describe())


@identity_app.command("explain")
def identity_explain(
    person_id: str = typer.Argument(..., help="Any person id (a merged-away id is followed to the current one)."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write Splink's waterfall chart (offline HTML)."),
    all_pairs: bool = typer.Option(False, "--all-pairs", help="Every scored pair among the records, not only the links used."),
) -> None:
    """A person's records and, for each link holding them together, the match weight of every comparison. Read-only."""
    from warmpool.identity import explain_person

    exp = _identity_call(lambda con: explain_person(con, person_id, all_pairs=all_pairs), read_only=True)
    typer.echo(exp.format_text())
    if html:
        typer.echo(f"\n{exp.write_html(html)} written to {html}")


@identity_app.command("retrain")
def identity_retrain(
    output: Optional[Path] = typer.Option(None, help="Where to write the candidate (default: data/identity/candidate_model.json)."),
) -> None:
    """Re-estimate the model on the pool's own records; writes a candidate, changes nothing until promoted. Read-only."""
    from warmpool.config import get_settings
    from warmpool.identity import retrain_on_pool

    path = output or get_settings().identity_dir / "candidate_model.json"
    typer.echo(_identity_call(lambda con: retrain_on_pool(con, path), read_only=True).describe())


@identity_app.command("promote-model")
def identity_promote_model(candidate: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Make a reviewed candidate the model every run loads (commit warmpool/identity/trained_model.json after)."""
    from warmpool.identity import MODEL_PATH, promote_model

    try:
        model = promote_model(candidate)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"model v{model.model_version} is now {MODEL_PATH}; the next run re-resolves the whole pool")


@identity_app.command("train-sandbox-model")
def identity_train_sandbox_model(
    people: int = typer.Option(40_000, help="People in the generated training world."),
    seed: Optional[int] = typer.Option(None, help="Training world seed (default: the shipped model's, model.TRAIN_SEED)."),
    tune_people: int = typer.Option(20_000, help="People in the held-out world the threshold is chosen on."),
    tune_seed: Optional[int] = typer.Option(None, help="Held-out world seed (default: model.TUNE_SEED)."),
    records_csv: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                               help="Train on this contract CSV instead of a sandbox world."),
    truth_csv: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                             help="Its truth (source, source_record_id, true_person_id), to tune the threshold."),
    output: Optional[Path] = typer.Option(None, help="Where to save (default: warmpool/identity/trained_model.json)."),
) -> None:
    """Developer tool: train the shipped model on generated sandbox worlds (threshold chosen on a held-out one)."""
    import json

    from cli.train_sandbox_model import train_sandbox_model

    model = train_sandbox_model(people=people, seed=seed, tune_people=tune_people, tune_seed=tune_seed,
                                records_csv=records_csv, truth_csv=truth_csv, output=output)
    typer.echo(json.dumps({"model_version": model.model_version, **model.metrics.get("chosen", {})}))


@identity_app.command("unmerge")
def identity_unmerge(
    person_id: str = typer.Argument(..., help="The person to split."),
    records: Optional[str] = typer.Option(None, "--records", help="SOURCE:ID,SOURCE:ID,... to split off together "
                                          "(default: every record becomes its own person)."),
    reviewer: str = typer.Option("unmerge", "--reviewer", help="Who decided (kept with the decisions)."),
) -> None:
    """Split a person without losing any record; recorded as 'separate' decisions that every later run keeps.

    Writes the warehouse: run it only while no pipeline run is in progress (one writer at a time).
    """
    from warmpool.identity import parse_record_key, unmerge

    def split(con):  # inside the call: a malformed key is reported like any other review error
        keys = [parse_record_key(k) for k in records.split(",") if k.strip()] if records else None
        return unmerge(con, person_id, keys, reviewer=reviewer)

    typer.echo(_identity_call(split, read_only=False).describe())



@review_app.command("list")
def identity_review_list(
    limit: int = typer.Option(20, help="How many pairs to show."),
    status: str = typer.Option("open", help="open | decided | all"),
) -> None:
    """Uncertain pairs (match probability inside identity.review_band), closest to a coin flip first. Read-only."""
    from warmpool.identity import open_items

    items = _identity_call(lambda con: open_items(con, limit, status), read_only=True)
    if items.height == 0:
        typer.echo("review queue: nothing to show")
        return
    for r in items.iter_rows(named=True):
        typer.echo(f"{r['left_source']}:{r['left_source_record_id']}  {r['right_source']}:{r['right_source_record_id']}"
                   f"  p={r['match_probability']:.3f}  weight={r['match_weight']:+.2f}  "
                   f"{'same person' if r['left_person_id'] == r['right_person_id'] else 'different people'}"
                   f"  [{r['status']}{' ' + r['decision'] if r['decision'] else ''}]")


@review_app.command("decide")
def identity_review_decide(
    left: str = typer.Argument(..., help="SOURCE:SOURCE_RECORD_ID of one record."),
    right: str = typer.Argument(..., help="SOURCE:SOURCE_RECORD_ID of the other."),
    link: bool = typer.Option(..., "--link/--separate", help="Same person (--link) or never (--separate)."),
    reviewer: str = typer.Option(..., "--reviewer", help="Who decided (audited)."),
    note: Optional[str] = typer.Option(None, help="Why (kept with the decision)."),
) -> None:
    """Record a reviewer's decision for two records and apply it now; every later run respects it.

    Writes the warehouse: run it only while no pipeline run is in progress (one writer at a time).
    """
    from warmpool.identity import decide, parse_record_key

    applied = _identity_call(lambda con: decide(con, parse_record_key(left), parse_record_key(right),
                                                "link" if link else "separate", reviewer=reviewer, note=note),
                             read_only=False)
    typer.echo(applied.describe())


# ---- segments and campaigns (config/segments, config/campaigns; the warehouse read-only) ---------
segment_app = typer.Typer(no_args_is_help=True, help="Segments of the talent pool (config/segments/*.yaml).")
campaign_app = typer.Typer(no_args_is_help=True, help="Campaigns (config/campaigns/*.yaml): list, preview, send, "
                           "status, pause, resume, read-replies.")
app.add_typer(segment_app, name="segment")
app.add_typer(campaign_app, name="campaign")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _segment(name: str):
    from warmpool.segments import SegmentConfigError, load_segments

    try:
        segments = load_segments()
    except SegmentConfigError as exc:
        _fail(str(exc))
    if name not in segments:
        _fail(f"unknown segment {name!r} (known: {', '.join(segments) or 'none'})")
    return segments[name]


@segment_app.command("list")
def segment_list() -> None:
    """Every segment with its version and description."""
    from warmpool.segments import SegmentConfigError, load_segments

    try:
        segments = load_segments()
    except SegmentConfigError as exc:
        _fail(str(exc))
    for s in segments.values():
        typer.echo(f"{s.name}  v{s.version}  ({s.definition_hash})  {s.description}")


@segment_app.command("show")
def segment_show(name: str = typer.Argument(...), sql: bool = typer.Option(False, help="Also print the compiled SQL.")) -> None:
    """A segment's condition, readable (and its SQL with --sql)."""
    from warmpool.segments import compile_segment, describe_condition

    s = _segment(name)
    typer.echo(f"{s.name} v{s.version} ({s.definition_hash}): {s.description}\n{describe_condition(s.where)}")
    if sql:
        compiled = compile_segment(s)
        typer.echo(f"\n{compiled.sql}\n-- parameters: {compiled.params}")


@segment_app.command("count")
def segment_count(name: str = typer.Argument(...),
                  as_of: Optional[str] = typer.Option(None, help="'Now' for activity windows (ISO date; default: now).")) -> None:
    """How many people of the pool are in the segment (reads the warehouse's marts)."""
    import datetime as dt

    from warmpool.segments import count_segment
    from warmpool.warehouse import warehouse

    s = _segment(name)
    now = dt.datetime.fromisoformat(as_of).replace(tzinfo=dt.timezone.utc) if as_of else None
    try:
        with warehouse(read_only=True) as con:
            n = count_segment(con, s, now)
    except Exception as exc:  # no warehouse yet, or one without marts: say so plainly
        _fail(f"cannot count {name}: {exc} (run `make demo` or `warmpool run` first)")
    typer.echo(f"{name}: {n}")


def _campaign(name: str):
    from warmpool.campaigns.config import CampaignConfigError, load_campaigns
    from warmpool.campaigns.operations import CampaignNotFound, find_campaign
    from warmpool.segments import SegmentConfigError

    try:
        return find_campaign(load_campaigns(), name)
    except (CampaignConfigError, SegmentConfigError, CampaignNotFound) as exc:
        _fail(str(exc))


def _members(campaign_id: str) -> list[dict]:
    from warmpool.campaigns.operations import audience

    return _with_marts(lambda con: audience(con, campaign_id) if con is not None else [])


def _with_marts(fn):
    """``fn(con)`` with the warehouse open read-only (a sequence's stops: applied, hired, in process),
    or ``fn(None)`` before there is one."""
    from warmpool.config import get_settings
    from warmpool.warehouse import warehouse

    if not get_settings().warehouse_path.exists():
        return fn(None)
    with warehouse(read_only=True) as con:
        return fn(con)


@campaign_app.command("list")
def campaign_list() -> None:
    """Every campaign: kind, segment, audience today, sends so far, paused or running."""
    from warmpool.campaigns.config import CampaignConfigError, load_campaigns
    from warmpool.campaigns.operations import status
    from warmpool.config import get_settings
    from warmpool.segments import SegmentConfigError

    try:
        campaigns = load_campaigns()
    except (CampaignConfigError, SegmentConfigError) as exc:
        _fail(str(exc))
    for c in campaigns:
        st = status(c, _members(c.campaign_id), get_settings())
        typer.echo(f"{c.campaign_id}  [{c.kind}]  segment={c.segment or '-'}  audience={st.audience}  "
                   f"sent={st.states.get('accepted', 0)}  {'PAUSED' if st.paused else 'running'}  {c.name}")


@campaign_app.command("preview")
def campaign_preview(name: str = typer.Argument(...),
                     person: Optional[str] = typer.Option(None, "--person", help="A member's person id (default: the first)."),
                     output: Optional[Path] = typer.Option(None, help="Also write the message as an .eml file.")) -> None:
    """The real message a real member would get now: headers and the text part."""
    from warmpool.campaigns.operations import CampaignNotFound, preview
    from warmpool.config import get_settings
    from warmpool.mail import wire_bytes

    campaign = _campaign(name)
    try:
        built = preview(campaign, _members(name), get_settings(), person)
    except CampaignNotFound as exc:
        _fail(str(exc))
    msg = built.message
    for header in ("From", "To", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post"):
        typer.echo(f"{header}: {msg[header]}")
    typer.echo("\n" + msg.get_body(("plain",)).get_content())
    if output:
        output.write_bytes(wire_bytes(msg))
        typer.echo(f"written to {output}")


@campaign_app.command("send")
def campaign_send(name: str = typer.Argument(...),
                  dry_run: bool = typer.Option(False, "--dry-run", help="Only show who would get what, and who is "
                                               "suppressed and why; nothing is sent or written.")) -> None:
    """Send the campaign to its audience now (exactly once per person), or show what would happen."""
    from collections import Counter

    from warmpool.campaigns.operations import dry_run as plan_dry_run
    from warmpool.campaigns.operations import send_now
    from warmpool.campaigns.sender import SendAborted
    from warmpool.config import CampaignSettingsError, get_settings

    campaign, settings, members = _campaign(name), get_settings(), _members(name)
    if dry_run:
        try:
            lines = _with_marts(lambda con: plan_dry_run(campaign, members, settings, con))
        except CampaignSettingsError as exc:
            _fail(str(exc))
        for line in lines:
            typer.echo(f"{line.outcome:15} {line.person_id}  {line.email or ''}  {line.detail}")
        typer.echo("total: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(l.outcome for l in lines).items())))
        return
    try:
        report = _with_marts(lambda con: send_now(campaign, members, settings, con))
    except (SendAborted, CampaignSettingsError) as exc:  # a bad campaigns.* setting: one line naming it
        _fail(str(exc))
    typer.echo(report.describe())


@campaign_app.command("status")
def campaign_status(name: str = typer.Argument(...)) -> None:
    """Ledger counts, audience today, and whether the campaign is paused (and why)."""
    from warmpool.campaigns.operations import status
    from warmpool.config import get_settings

    typer.echo(status(_campaign(name), _members(name), get_settings()).describe())


@campaign_app.command("pause")
def campaign_pause(name: str = typer.Argument(...), reason: str = typer.Option("paused by hand", help="Why (kept).")) -> None:
    """Stop the campaign's sends until `warmpool campaign resume NAME`."""
    import getpass

    from warmpool.campaigns.operations import pause
    from warmpool.config import get_settings

    pause(_campaign(name), get_settings(), by=getpass.getuser(), reason=reason)
    typer.echo(f"{name}: paused")


@campaign_app.command("resume")
def campaign_resume(name: str = typer.Argument(...)) -> None:
    """Let a paused campaign send again (the only way out of a reputation-guard pause)."""
    from warmpool.campaigns.operations import resume
    from warmpool.config import get_settings

    typer.echo(f"{name}: resumed" if resume(_campaign(name), get_settings()) else f"{name}: was not paused")


@campaign_app.command("read-replies")
def campaign_read_replies() -> None:
    """Read the replies mailbox over IMAP once (campaigns.replies.imap): replies to campaign mail stop
    the person's sequences and count for A/B tests; automatic answers are ignored."""
    from warmpool.campaigns.replies import ImapConfigError, read_imap_replies
    from warmpool.config import get_settings

    try:
        typer.echo(read_imap_replies(get_settings()).describe())
    except ImapConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


# ---- privacy: access export, erasure, the web queue, retention, auditor exports ------------------
privacy_app = typer.Typer(no_args_is_help=True, help="People's rights carried out: access, erasure, retention, audits.")
app.add_typer(privacy_app, name="privacy")


def _privacy_call(fn):
    """Run ``fn()``, turning a refused secret or a busy warehouse into a clean exit."""
    import duckdb

    from warmpool.config import UnsafeDeployment

    try:
        return fn()
    except UnsafeDeployment as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except duckdb.IOException as exc:  # another process holds the warehouse (a pipeline run)
        typer.echo(f"error: the warehouse is in use ({exc}); run this when no pipeline run is going", err=True)
        raise typer.Exit(3) from None


@privacy_app.command("export")
def privacy_export(
    who: str = typer.Argument(..., help="The person's email address or any person id they had."),
    output: Path = typer.Option(..., "--output", "-o", help="The JSON file to write; an .html beside it."),
) -> None:
    """Everything Warmpool holds on a person (GDPR Art. 15): JSON and a readable HTML page."""
    from pipelines.erasure import stores
    from warmpool.config import get_settings
    from warmpool.privacy.erasure import export_person
    from warmpool.privacy.render import write_access_export

    data = _privacy_call(lambda: export_person(who, stores()))
    json_path, html_path = write_access_export(data, output, get_settings().brand.company_name)
    held = sum(len(v) if isinstance(v, list) else sum(len(x) for x in v.values()) for v in data["stores"].values())
    typer.echo(f"{'found' if data['found'] else 'nothing held on'} {who}: {len(data['source_records'])} source "
               f"record(s), {held} row(s) in {len(data['stores'])} store(s) -> {json_path}, {html_path}")


@privacy_app.command("erase")
def privacy_erase(
    who: str = typer.Argument(..., help="The person's email address or any person id they had."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation (scripts)."),
) -> None:
    """Erase a person from every store (GDPR Art. 17), keep them out of later loads, compact the files.

    Writes the warehouse: run it while no pipeline run is going (the Dagster asset
    `privacy_erasures` works the web's requests inside runs)."""
    from pipelines.erasure import stores
    from warmpool.config import get_settings
    from warmpool.privacy.erasure import erase, locate, new_subject
    from warmpool.warehouse import warehouse

    settings = get_settings()
    if not yes:
        def found():
            with warehouse(read_only=True) as con:
                return locate(new_subject(who), settings, con)
        subject = _privacy_call(found) if settings.warehouse_path.exists() else locate(new_subject(who), settings, None)
        typer.echo(f"{who}: {len(subject.person_ids)} person id(s), {len(subject.records)} source record(s), "
                   f"{len(subject.emails)} address spelling(s), {len(subject.phones)} phone(s)")
        typer.confirm("Erase this person from every store? This cannot be undone", abort=True)
    report = _privacy_call(lambda: erase(who, stores(), settings))
    typer.echo(report.describe())


@privacy_app.command("queue")
def privacy_queue() -> None:
    """Carry out the confirmed erasure requests the web service received (what the Dagster asset runs)."""
    from pipelines.erasure import stores
    from warmpool.privacy.erasure import work_queue

    reports = _privacy_call(lambda: work_queue(stores(), actor="cli"))
    typer.echo(f"{len(reports)} erasure request(s) carried out")
    for report in reports:
        typer.echo(report.describe())


@privacy_app.command("retention")
def privacy_retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report who would be erased and why."),
    today: Optional[str] = typer.Option(None, help="The date to judge on (YYYY-MM-DD; default today, UTC)."),
) -> None:
    """Erase people kept past their retention period (never one under a legal hold)."""
    import datetime as dt

    from pipelines.erasure import stores
    from warmpool.privacy.retention import run_retention

    on = dt.date.fromisoformat(today) if today else None
    typer.echo(_privacy_call(lambda: run_retention(stores(), today=on, dry_run=dry_run)).describe())


@privacy_app.command("audit")
def privacy_audit(
    since: str = typer.Option(..., "--from", help="First day of the period (YYYY-MM-DD)."),
    until: str = typer.Option(..., "--until", help="Day after the period's last (YYYY-MM-DD)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the CSV files and manifest.json."),
) -> None:
    """Auditor exports for a period: consent evidence, the erasure log, the search audit, the access log."""
    import datetime as dt
    import json

    from warmpool.privacy.auditor import export_for_auditor

    manifest = _privacy_call(lambda: export_for_auditor(dt.date.fromisoformat(since), dt.date.fromisoformat(until),
                                                        output))
    typer.echo(json.dumps(manifest, indent=2))


if __name__ == "__main__":  # pragma: no cover
    app()
