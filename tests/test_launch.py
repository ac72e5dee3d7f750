"""The demo's run belongs to its job: launched as a run of the workspace's code location, the Dagster UI
(its GraphQL API, what the job's Runs tab and the Overview timeline read) lists it under `warmpool_all`
with its repository and location. And what the demo prints: one line per stage, the logs in a file."""
from __future__ import annotations

import io
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load import location_origins_from_yaml_paths
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster_graphql.test.utils import execute_dagster_graphql

from cli.demo import job_steps
from cli.launch import DEFINITIONS_MODULE, JOB_NAME, LOCATION_NAME
from assets.definitions import defs
from cli.stages import STEP_LABELS, StageReport
from warmpool import tables
from warmpool.warehouse import warehouse

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout the tests run in
WORKSPACE = REPO_ROOT / "workspace.yaml"

JOB_RUNS = """
query JobRuns($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline {
      runs { runId status repositoryOrigin { repositoryLocationName repositoryName } }
    }
  }
}
"""


def test_runs_are_launched_as_the_code_location_workspace_yaml_declares():
    [origin] = location_origins_from_yaml_paths([str(WORKSPACE)])
    assert origin.location_name == LOCATION_NAME
    assert origin.loadable_target_origin.module_name == DEFINITIONS_MODULE


@pytest.mark.slow
def test_the_pipeline_run_is_listed_under_its_job_in_the_dagster_ui(pipeline_world):
    """What `make dagster` shows after `make demo`: the run on the job's Runs tab, with its location. A run
    record without the code location's origin (how the demo used to run) is not listed there."""
    dagster_home = pipeline_world.home / "dagster"
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        orphan = instance.create_run_for_job(defs.resolve_job_def(JOB_NAME))  # no origin: execute_in_process's kind
        with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(WORKSPACE)])) as workspace, \
                ThreadPoolExecutor(1) as thread:
            # its own thread: the session's Playwright keeps an event loop running in this one
            result = thread.submit(execute_dagster_graphql, workspace.create_request_context(), JOB_RUNS, {"selector": {
                "pipelineName": JOB_NAME, "repositoryName": "__repository__", "repositoryLocationName": LOCATION_NAME,
            }}).result(timeout=300)
    assert result.errors is None, result.errors
    job = result.data["pipelineOrError"]
    assert job["__typename"] == "Pipeline", job
    runs = {run["runId"]: run for run in job["runs"]}
    assert pipeline_world.first_run.run_id in runs
    listed = runs[pipeline_world.first_run.run_id]
    assert listed["status"] == "SUCCESS"
    assert listed["repositoryOrigin"] == {"repositoryLocationName": LOCATION_NAME, "repositoryName": "__repository__"}
    assert orphan.run_id not in runs


@pytest.mark.slow
def test_one_line_per_stage_with_the_counts_a_person_checks(pointed_at_pipeline_world):
    """The run's events, as the demo receives them, become one short line per stage; the numbers are the
    warehouse's."""
    out = io.StringIO()
    steps, check_steps = job_steps()
    report = StageReport(out, steps, check_steps)
    for event in pointed_at_pipeline_world.first_run.events:
        report.on_event(event)
    lines = out.getvalue().splitlines()
    labels = [label for label in STEP_LABELS.values()]
    assert len(lines) == len(labels) + 1, out.getvalue()  # every step, plus one line for all the boundary checks
    for label in labels:
        assert sum(label in line for line in lines) == 1, label
    assert all(line.lstrip().startswith("✓") and line.rstrip().endswith(" s)") for line in lines), out.getvalue()
    with warehouse(read_only=True) as con:
        people = con.execute(f"select count(distinct person_id) from {tables.PERSON_ASSIGNMENTS}").fetchone()[0]
    identity_line = next(line for line in lines if STEP_LABELS["identity__source_record_person"] in line)
    assert f"-> {people:,} people" in identity_line
    assert report.failed == []


LOGGING_SCRIPT = """
import logging, subprocess, sys
from pathlib import Path
from cli.stages import StageReport, log_to

logging.basicConfig()  # a library's logger writing to stderr, as dlt's does
with log_to(Path(sys.argv[1])) as terminal:
    StageReport(terminal).line("a stage", "3 things done", 1.25)
    print("a library printing to stdout")
    logging.getLogger("dlt").warning("a library's warning on stderr")
    subprocess.run([sys.executable, "-c", "import sys; print('a child process'); print('its error', file=sys.stderr)"],
                   check=True)
print("after the run")
"""


def test_the_log_file_gets_every_library_s_output_and_the_terminal_only_the_lines(tmp_path):
    log = tmp_path / "logs" / "demo.log"
    done = subprocess.run([sys.executable, "-c", LOGGING_SCRIPT, str(log)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.splitlines() == [f"  ✓ {'a stage':<36} 3 things done  (1.2 s)", "after the run"]
    assert done.stderr == ""
    text = log.read_text()
    for expected in ("a library printing to stdout", "a library's warning on stderr", "a child process", "its error"):
        assert expected in text
    assert "a stage" not in text
