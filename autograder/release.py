"""Generate the student release notebooks/ from solutions/ with nbgrader, or check it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .workspace import RELEASE, ScratchCourse, assignments, clean_release_differences


def generate(assignment_ids=None, target=RELEASE):
    """Regenerate ``notebooks/<id>/`` for each assignment (all by default).

    Returns
    -------
    list of str
        The assignment ids written.
    """
    ids = list(assignment_ids or assignments())
    with tempfile.TemporaryDirectory(prefix="backprop-release-") as tmp:
        scratch = ScratchCourse(tmp, ids)
        for a in ids:
            dest = Path(target) / a
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(scratch.root / "release" / a, dest)
    return ids


def check(assignment_ids=None, target=RELEASE):
    """Differences between the committed release and a fresh one ([] when in sync)."""
    ids = list(assignment_ids or assignments())
    problems = []
    with tempfile.TemporaryDirectory(prefix="backprop-release-") as tmp:
        scratch = ScratchCourse(tmp, ids)
        for a in ids:
            committed = Path(target) / a
            if not committed.exists():
                problems.append(f"notebooks/{a} is missing: run `make release`")
                continue
            problems += [
                f"{a}: {p}"
                for p in clean_release_differences(scratch.root / "release" / a, committed)
            ]
    committed_ids = (
        {p.name for p in Path(target).iterdir() if p.is_dir()} if Path(target).exists() else set()
    )
    if assignment_ids is None:
        problems += [
            f"notebooks/{a} has no source in solutions/" for a in sorted(committed_ids - set(ids))
        ]
    return problems
