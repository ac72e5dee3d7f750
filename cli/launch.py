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

import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.events import DagsterEventType
from dagster._core.execution.api import execute_run_iterator
from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.workspace.load import location_origin_from_module_name

from assets.operations import run_record
from assets.resources import run_config_for
from warmpool.config import SOURCE_CHECKOUT, get_settings
from warmpool.run_status import record_run

DEFINITIONS_MODULE = "assets.definitions"
DEFINITIONS_ATTRIBUTE = "defs"
LOCATION_NAME = "warmpool"  # workspace.yaml's location_name (tests/test_launch.py keeps them equal)
JOB_NAME = "warmpool_all"
HOST_TAG = "warmpool/host"  # the machine whose process executes the run (launch runs it in-process)
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


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
    recover_interrupted_runs(instance)
    origin = code_location_origin()
    recon_repo = ReconstructableRepository.for_module(
        DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE, origin.loadable_target_origin.working_directory)
    repository = recon_repo.get_definition()
    recon_job = recon_repo.get_reconstructable_job(job_name).with_repository_load_data(
        repository.repository_load_data)
    run = instance.create_run_for_job(
        job_def=recon_job.get_definition(),
        run_config=run_config_for(resources or {}),
        tags={HOST_TAG: socket.gethostname(), **dict(tags or {})},
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
    record_run(get_settings(), run_record(instance, finished))  # the data-health page's run status
    return LaunchedRun(run.run_id, bool(finished and finished.status == dg.DagsterRunStatus.SUCCESS), events)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def recover_interrupted_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark as failed every run `launch` started on this machine whose process is gone (killed, or the
    machine restarted), and free the pool slots it held; returns their ids.

    Without this a killed run stays "started" and keeps its `warehouse` slot, so the next run would wait
    for it for ever. Its work is not lost: every step is idempotent, so the next run redoes what the
    killed one left unfinished (docs/operations.md). Runs the daemon launched are the daemon's run
    monitoring's to settle (dagster.yaml: run_monitoring)."""
    recovered = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED,
                                                                  tags={HOST_TAG: socket.gethostname()})):
        run = record.dagster_run
        pids = {e.dagster_event.pid for e in instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_START)
                if e.dagster_event and e.dagster_event.pid}
        if not pids or any(_alive(pid) for pid in pids):  # no RUN_START yet: its process is starting it now
            continue
        instance.report_run_failed(run, f"the process that ran it ({', '.join(map(str, sorted(pids)))}) "
                                        "ended without finishing it; the next run redoes its unfinished steps")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(run.run_id)
    return recovered
