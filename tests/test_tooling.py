"""The project's own tooling holds on the committed tree: ruff, pre-commit, stripped solutions."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from classroom.paths import REPO

BIN = Path(sys.executable).parent


def _run(*args):
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True)


def test_ruff_lint_passes():
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_config_is_valid():
    result = _run(str(BIN / "pre-commit"), "validate-config", ".pre-commit-config.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "path", sorted((REPO / "solutions").glob("*/*.ipynb")), ids=lambda p: p.parent.name
)
def test_solutions_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    with_outputs = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not with_outputs, f"{path.name}: cells {with_outputs} carry outputs; run nbstripout"
