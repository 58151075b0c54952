"""The packages' direction holds (pyproject.toml [tool.importlinter]): the domain imports no AWS and
no adapter; use-cases and adapters never import each other."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "core" / "python" / "creditrefunds"


def lint_imports(source: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the package found at `source` (ahead of the installed one)."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--config", str(ROOT / "pyproject.toml"),
                           "--no-cache"], capture_output=True, text=True, cwd=cwd, env=env, check=False, timeout=120)


def test_the_import_contract_is_kept():
    done = lint_imports(PACKAGE.parent, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def with_import(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over a copy of the package in which `module` (a path under it) adds `line`."""
    copy = tmp_path / "python" / "creditrefunds"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    changed = copy / module
    changed.write_text(changed.read_text() + f"\n{line}  # noqa: E402,F401\n")
    return lint_imports(copy.parent, tmp_path)


def test_a_domain_module_that_imports_boto3_breaks_it(tmp_path):
    done = with_import(tmp_path, "domain/money.py", "import boto3")
    assert done.returncode == 1
    assert "the domain is pure" in done.stdout and "creditrefunds.domain.money -> boto3" in done.stdout


def test_a_use_case_that_imports_an_adapter_breaks_it(tmp_path):
    done = with_import(tmp_path, "usecases/review.py", "from creditrefunds.adapters import dynamo")
    assert done.returncode == 1
    assert "creditrefunds.usecases.review -> creditrefunds.adapters.dynamo" in done.stdout
