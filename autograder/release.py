"""Generate a course's student release from its sources with nbgrader, or check it.

One way to generate, for every course root: nbgrader's converter, GenerateAssignment,
into the course's release folder and gradebook (:func:`generate`); :func:`check`
compares that folder with a generation in a scratch course.  In this repository the
course's nbgrader_config.py names them ``notebooks/`` and ``solutions/``; every path
comes from the course root (the current directory's by default).

The release notebooks are stored exactly as JupyterLab saves them, so a student who opens
one and closes it untouched is not asked to save: nbformat's JSON layout (what Jupyter
Server writes), and the kernel's full ``language_info`` in the notebook metadata (which
JupyterLab writes into the notebook as soon as the kernel connects, marking it modified
when it differs).  notebooks/README.md, the students' guide, is not generated and is kept.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat

from .workspace import ScratchCourse, assignments, clean_release_differences, course_or_current


def kernel_language_info():
    """The ``language_info`` the course's Python kernel reports (ipykernel, this Python).

    JupyterLab copies the kernel's reply into ``metadata.language_info`` when a notebook's
    kernel connects; a notebook that already holds the same dict stays unmodified.
    """
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


def to_student_format(path, language_info=None):
    """Rewrite one notebook file the way JupyterLab would save it after opening it.

    Parameters
    ----------
    path : path
        A release ``.ipynb``; rewritten in place.
    language_info : dict, optional
        Default: :func:`kernel_language_info`.
    """
    nb = nbformat.read(path, as_version=4)
    nb.metadata["language_info"] = language_info or kernel_language_info()
    nbformat.write(nb, path)  # the JSON layout Jupyter Server writes on save


def _to_student_format_all(folder):
    info = kernel_language_info()
    for path in sorted(Path(folder).rglob("*.ipynb")):
        to_student_format(path, info)


def generate(assignment_ids=None, course=None):
    """Regenerate ``<release>/<id>/`` (``notebooks/<id>/`` here) for each assignment (all
    by default) with nbgrader's converter, GenerateAssignment (which records the
    assignment in the course's gradebook), stored as JupyterLab saves it.

    Parameters
    ----------
    assignment_ids : list of str, optional
    course : autograder.course_config.Course, optional
        Default: the current directory's course.

    Returns
    -------
    list of str
        The assignment ids written.

    Raises
    ------
    RuntimeError
        When nbgrader fails to generate one.
    """
    from .grade import generate_release

    course = course_or_current(course)
    ids = list(assignment_ids or assignments(course))
    for a in ids:
        generate_release(course, a)
        _to_student_format_all(course.release / a)
    return ids


def check(assignment_ids=None, target=None, course=None):
    """Differences between the committed release and a fresh one, generated in a scratch
    course ([] when in sync); `target`: the release folder (default the course's), other
    arguments as for :func:`generate`."""
    course = course_or_current(course)
    target = course.release if target is None else target
    ids = list(assignment_ids or assignments(course))
    problems = []
    with tempfile.TemporaryDirectory(prefix="backprop-release-") as tmp:
        scratch = ScratchCourse(tmp, ids, course=course)
        for a in ids:
            _to_student_format_all(scratch.root / "release" / a)
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
