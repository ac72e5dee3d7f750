"""Run a job of the Dagster code location in this process, as a run of that code location.

A run made with `execute_in_process` carries no repository origin, so the Dagster UI lists it under
no job ("No runs" on the job's page and the timeline). `launch` creates the run the way the UI's
launchpad does, with the origin of the code location workspace.yaml declares (location `warmpool`),
then executes it here, step by step, handing every event to the caller (the demo's stage lines).
Other resources than the code location's (the sandbox's ports, a test's files) go into the run's
config, where the UI shows them.

Dagster has no public API for "create a run of this remote job and execute it in-process" (the CLI's
`dagster job execute` records no remote origin either); the few internals used are named below.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run_iterator
from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.workspace.load import location_origin_from_module_name

from assets.resources import run_config_for
from warmpool.config import SOURCE_CHECKOUT

DEFINITIONS_MODULE = "assets.definitions"
DEFINITIONS_ATTRIBUTE = "defs"
LOCATION_NAME = "warmpool"  # workspace.yaml's location_name (tests/test_launch.py keeps them equal)
JOB_NAME = "warmpool_all"


@dataclass
class LaunchedRun:
    run_id: str
    success: bool
    events: list[dg.DagsterEvent] = field(default_factory=list)

    def asset_check_evaluations(self) -> list:
        return [e.asset_check_evaluation_data for e in self.events if e.event_type_value == "ASSET_CHECK_EVALUATION"]


def code_location_origin(working_directory: Path | None = None):
    """The origin of the code location `make dagster` serves (workspace.yaml)."""
    return location_origin_from_module_name(
        DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE, str(working_directory or SOURCE_CHECKOUT or Path.cwd()),
        location_name=LOCATION_NAME, executable_path=sys.executable)


def launch(instance: dg.DagsterInstance, job_name: str = JOB_NAME, *,
           resources: Mapping[str, dg.ConfigurableResource] | None = None, tags: Mapping[str, str] | None = None,
           on_event: Callable[[dg.DagsterEvent], None] | None = None) -> LaunchedRun:
    """Create a run of `job_name` as the code location's and execute it here; returns when it ends."""
    origin = code_location_origin()
    recon_repo = ReconstructableRepository.for_module(
        DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE, origin.loadable_target_origin.working_directory)
    repository = recon_repo.get_definition()
    recon_job = recon_repo.get_reconstructable_job(job_name).with_repository_load_data(
        repository.repository_load_data)
    run = instance.create_run_for_job(
        job_def=recon_job.get_definition(),
        run_config=run_config_for(resources or {}),
        tags=dict(tags or {}),
        remote_job_origin=RemoteJobOrigin(RemoteRepositoryOrigin(origin, repository.name), job_name),
        job_code_origin=recon_job.get_python_origin(),
        repository_load_data=repository.repository_load_data,
    )
    events = []
    for event in execute_run_iterator(recon_job, run, instance):
        events.append(event)
        if on_event:
            on_event(event)
    finished = instance.get_run_by_id(run.run_id)
    return LaunchedRun(run.run_id, bool(finished and finished.status == dg.DagsterRunStatus.SUCCESS), events)
