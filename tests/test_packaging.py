"""Packaging holds without the checkout: the wheel, installed into a fresh venv that has the third-party
packages but not the checkout, runs `warmpool --help`, `warmpool web --help` and `warmpool resolve` from
an unrelated directory; and the dependency list is honest (every runtime dependency is imported by
shipped code, every third-party import of shipped code is declared)."""
from __future__ import annotations

import ast
import csv
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout the tests run in
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SHIPPED = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
FIRST_PARTY = {*SHIPPED, "benchmarks", "tests"}

# Runtime dependencies no shipped module imports, each for a reason.
NOT_IMPORTED = {
    "torch": "sentence-transformers' backend for the search embeddings; the CPU build pinned so nothing pulls CUDA",
    "dagster-webserver": "`make dagster` serves the UI with its command",
    "dbt-core": "the dbt command dagster-dbt runs",
    "dbt-duckdb": "dbt's DuckDB adapter, a plugin dbt loads by the profile's type",
    "python-multipart": "FastAPI imports it to parse form posts and uploads",
    "dbt-postgres": "dbt's PostgreSQL adapter, a plugin dbt loads by the profile's type",
    "psycopg2-binary": "the PostgreSQL driver dlt's destination and SQLAlchemy load by the URL's scheme",
}


def _dist(requirement: str) -> str:
    return re.split(r"[\[=<>!~ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def _imports(package: str) -> dict[str, set[str]]:
    """Top-level third-party module -> 'module' (imported at module level somewhere) or 'lazy'."""
    found: dict[str, set[str]] = {}
    for path in (REPO_ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lazy = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                for node in ast.walk(fn)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY and top != "__future__":
                    found.setdefault(top, set()).add("lazy" if id(node) in lazy else "module")
    return found


def _shipped_imports() -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for package in SHIPPED:
        for module, how in _imports(package).items():
            merged.setdefault(module, set()).update(how)
    return merged


def test_every_third_party_import_of_shipped_code_is_declared():
    """numpy, scipy and fsspec used to be imported but undeclared: an install that did not happen to pull
    them in broke. A package only an extra declares is imported lazily (inside a function)."""
    runtime = {_dist(r) for r in PYPROJECT["project"]["dependencies"]}
    extras = {_dist(r) for reqs in PYPROJECT["project"]["optional-dependencies"].values() for r in reqs}
    by_module = packages_distributions()
    missing = []
    for module, how in sorted(_shipped_imports().items()):
        dists = {_dist(d) for d in by_module.get(module, [])}
        if dists & runtime:
            continue
        if dists & extras and how == {"lazy"}:
            continue
        missing.append(f"{module} ({', '.join(sorted(dists)) or 'not installed'}; imported {'/'.join(sorted(how))})")
    assert missing == [], "imported by shipped code but not declared in [project.dependencies]:\n" + "\n".join(missing)


def test_every_runtime_dependency_is_imported_by_shipped_code():
    """cryptography and hypothesis used to be declared but never imported; benchmark-only (recordlinkage) and
    notebook-only (jupytext) packages live in extras."""
    imported = {_dist(d) for module in _shipped_imports() for d in packages_distributions().get(module, [])}
    unused = sorted(d for d in (_dist(r) for r in PYPROJECT["project"]["dependencies"])
                    if d not in imported and d not in NOT_IMPORTED)
    assert unused == [], f"declared runtime dependencies no shipped module imports: {unused}"
    assert {"recordlinkage"} <= {_dist(r) for r in PYPROJECT["project"]["optional-dependencies"]["bench"]}


def test_every_pin_says_why():
    lines = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    pins = [line for line in lines if re.match(r'^\s+"[A-Za-z0-9_.\[\]-]+(==|>=)', line)]
    assert pins and all("#" in line for line in pins), \
        [line for line in pins if "#" not in line]
    assert not any("ECDSA" in line for line in lines)


# ---- the wheel, installed without the checkout ---------------------------------------------------------
RESOLVE_INPUT = [
    ["source", "source_record_id", "first_name", "last_name", "email", "phone", "city", "region", "country",
     "linkedin_url", "current_title", "current_company", "skills", "years_experience", "updated_at"],
    ["ats", "1", "Katherine", "Johnson", "katherine.johnson@example.org", "+1 415 555 0100", "San Francisco", "CA",
     "US", "", "Data Engineer", "Acme", "python;sql", "7", "2026-01-02"],
    ["talentdb", "T1", "Kate", "Johnson", "Katherine.Johnson+jobs@example.org", "(415) 555-0100", "San Francisco",
     "CA", "USA", "", "Data Engineer", "Acme", "python", "7", "2025-11-02"],
    ["referral", "9", "Grace", "Hopper", "grace@example.com", "", "Arlington", "VA", "US", "", "", "", "", "", ""],
]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    """A fresh venv with the built wheel and, through a .pth, the project venv's third-party packages (but
    not its editable install, whose own .pth is only read in the project venv)."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([str(Path(sys.executable).parent / "hatchling"), "build", "-t", "wheel", "-d", str(root / "dist")],
                   cwd=REPO_ROOT, check=True, capture_output=True, timeout=300)
    [wheel] = (root / "dist").glob("warmpool-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "project_third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return env_dir


def _run(env_dir: Path, cwd: Path, *args: str, timeout: int = 300, **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WARMPOOL_", "PYTHON", "DAGSTER_"))}
    env.update(HOME=str(cwd), PATH=f"{env_dir / 'bin'}:/usr/bin:/bin", **env_vars)
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_the_wheel_runs_without_the_checkout(installed_wheel, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run(installed_wheel, work, str(installed_wheel / "bin" / "python"), "-c", (
        "import warmpool, cli.main, web.app, warmpool.config as c; "
        "print(warmpool.__file__); print(c.SOURCE_CHECKOUT); print(c.CONFIG_DIR); print(c.get_settings().home); "
        "print(web.app.create_app() is not None)"), WARMPOOL_DEMO="1")  # the shipped sandbox config: demo mode
    assert where.returncode == 0, where.stderr
    package_file, checkout, config_dir, home, app_ok = where.stdout.splitlines()[-5:]
    assert package_file.startswith(str(installed_wheel)) and str(REPO_ROOT) not in package_file
    assert checkout == "None"
    assert config_dir.startswith(str(installed_wheel)) and (Path(config_dir) / "warmpool.yaml").is_file()
    assert home == str((work / "data").resolve()) and app_ok == "True"  # templates and static files shipped

    warmpool = str(installed_wheel / "bin" / "warmpool")
    for args in ([warmpool, "--help"], [warmpool, "web", "--help"]):
        done = _run(installed_wheel, work, *args)
        assert done.returncode == 0, done.stderr
        assert "Usage" in done.stdout

    given, out = work / "candidates.csv", work / "resolved.csv"
    with open(given, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(RESOLVE_INPUT)
    done = _run(installed_wheel, work, warmpool, "resolve", str(given), "--output", str(out))
    assert done.returncode == 0, done.stderr
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["source_record_id"] for r in rows] == ["1", "T1", "9"]
    assert rows[0]["person_id"] == rows[1]["person_id"] != rows[2]["person_id"]  # the saved model shipped

    bad = work / "bad.csv"
    bad.write_text("first_name,last_name\nAda,Lovelace\n", encoding="utf-8")
    refused = _run(installed_wheel, work, warmpool, "resolve", str(bad), "--output", str(work / "x.csv"))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


@pytest.mark.parametrize("script", [".ci/run", "scripts/install.sh"])
def test_the_shell_entry_points_parse(script):
    """A CI script that bash cannot parse fails on the fresh machine after seconds, so check it here."""
    result = subprocess.run(["bash", "-n", str(REPO_ROOT / script)], capture_output=True, text=True)
    assert result.returncode == 0, f"{script} does not parse:\n{result.stderr}"
