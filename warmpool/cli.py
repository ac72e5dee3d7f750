"""The `warmpool` command line. Thin: every command calls a plain function elsewhere.

Heavy libraries are imported inside commands so `warmpool --help` stays fast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False, help="Warmpool: the recruiting CRM data platform.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The demo world: generator, ATS simulator, SMTP server.")
app.add_typer(sandbox_app, name="sandbox")


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
    input: Path = typer.Argument(..., exists=True, dir_okay=False, help="Candidate export (CSV)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write source, source_record_id, person_id."),
) -> None:
    """Identity resolution of any candidate export: one output row per input row."""
    from warmpool.identity.resolve import ResolveInputError, resolve_csv

    try:
        stats = resolve_csv(input, output)
    except ResolveInputError as exc:  # bad input is the user's to fix: say where, no traceback
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(stats.describe())


@app.command("demo")
def demo(
    people: int = typer.Option(20_000, envvar="PEOPLE", help="Size of the sandbox world."),
    seed: int = typer.Option(42, envvar="SEED"),
) -> None:
    """Generate the sandbox, start its services, run the whole asset graph, print a summary."""
    from warmpool.demo import run_demo

    run_demo(people=people, seed=seed)


@app.command("web")
def web(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8300)) -> None:
    """Serve the candidate-facing web service (talent network, referrals, preferences, tracking, webhooks)."""
    from web.server import run as run_web

    run_web(host=host, port=port)


@app.command("manifest")
def manifest(force: bool = typer.Option(True, help="Re-parse even if a manifest exists.")) -> None:
    """Prepare the dbt manifest ahead of any run (Dagster loads it)."""
    from assets.dbt_project import prepare_manifest

    typer.echo(f"dbt manifest: {prepare_manifest(force=force)}")


@app.command("run")
def run() -> None:
    """Run the whole asset graph once against the configured ATS, files and SMTP relay."""
    from dagster import DagsterInstance

    from warmpool.config import get_settings
    from warmpool.demo import run_pipeline

    import os

    os.environ.setdefault("DAGSTER_HOME", str(get_settings().ensure_dirs().dagster_home))
    run_pipeline(DagsterInstance.get())


if __name__ == "__main__":  # pragma: no cover
    app()
