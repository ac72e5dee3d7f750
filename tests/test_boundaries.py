"""The package boundaries hold: import contracts (import-linter, configured in pyproject.toml) and no
first-party import hidden inside a function (the usual way to dodge an import cycle)."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout the tests run in


PACKAGES = ["warmpool", "cli", "pipelines", "assets", "web", "dashboards", "sandbox", "benchmarks"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_import_contracts_are_kept():
    result = _lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_a_framework_import_in_the_domain_breaks_the_contracts(tmp_path):
    """The contracts are not decorative: one `import dagster` in the domain package fails them."""
    for pkg in PACKAGES:
        shutil.copytree(REPO_ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    tables = tmp_path / "warmpool" / "tables.py"
    tables.write_text(tables.read_text(encoding="utf-8") + "\nimport dagster  # a boundary broken on purpose\n",
                      encoding="utf-8")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "warmpool is not allowed to import dagster" in result.stdout


def _function_level_first_party_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom) and node.level > 0:
                names = ["." * node.level + (node.module or "")]
            for name in names:
                if name.startswith(".") or name.split(".")[0] in PACKAGES:
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {name}")
    return found


@pytest.mark.parametrize("package", [p for p in PACKAGES if p not in ("cli", "benchmarks")])
def test_no_first_party_import_hides_inside_a_function(package):
    """Only the app layer (`cli`, which imports lazily so `warmpool --help` stays fast) and the benchmarks
    (whose child processes import only what they measure) may import
    first-party modules inside functions; anywhere else that is how an import cycle hides."""
    found = [hit for path in sorted((REPO_ROOT / package).rglob("*.py"))
             for hit in _function_level_first_party_imports(path)]
    assert not found, "first-party imports inside functions:\n" + "\n".join(found)
