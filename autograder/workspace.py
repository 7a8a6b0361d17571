"""A course's solutions and release as nbgrader sees them, and scratch courses.

:class:`ScratchCourse` runs nbgrader in a private directory (its own gradebook), which is
how ``backprop-grade release`` generates a course's release (``notebooks/`` in this
repository) from its sources (``solutions/``) and checks it.  The tests' harness
(``classroom.harness``) grades submissions in the same way.  Every path comes from the
course root (:class:`autograder.course_config.Course`, the current directory's course by
default), never from where this package is installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from .course_config import Course, load_config, prepare_environment
from .limits import CELL_TIMEOUT


def course_or_current(course):
    """`course`, or the current directory's course when None."""
    return course if course is not None else Course.load()


def assignments(course=None):
    """Assignment ids found in the course's source folder (solutions/ here), sorted."""
    return course_or_current(course).assignments()


def notebook_names(assignment, course=None):
    """Notebook file names (without .ipynb) of an assignment in the course's sources."""
    return course_or_current(course).notebook_names(assignment)


def nbgrader_config(root, timeout=CELL_TIMEOUT, course=None):
    """The course's nbgrader_config.py, re-rooted at `root` with its own gradebook and
    nbgrader's default source/ and release/ folders there."""
    c = load_config(
        course_or_current(course).root,
        db_url="sqlite:///" + str(Path(root) / "gradebook.db"),
        cell_timeout=timeout,
    )
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    c.Exchange.root = str(Path(root) / "exchange")
    return c


class ScratchCourse:
    """A throw-away nbgrader course with some assignments generated from a course's
    sources (how `backprop-grade release` builds the release without touching a real
    gradebook).

    Parameters
    ----------
    root : path
        An empty (or new) directory.
    assignment_ids : iterable of str
        Assignments to copy from the course's sources and generate.
    timeout : int
        Per-cell time limit while autograding, in seconds.
    course : autograder.course_config.Course, optional
        Whose nbgrader_config.py and sources (default: the current directory's course).
    """

    def __init__(self, root, assignment_ids, timeout=CELL_TIMEOUT, course=None):
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        prepare_environment()
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        course = course_or_current(course)
        config = nbgrader_config(self.root, timeout, course)
        self.api = NbGraderAPI(CourseDirectory(config=config), config=config)
        self.db_url = config.CourseDirectory.db_url
        for a in assignment_ids:
            shutil.copytree(course.source / a, self.root / "source" / a, dirs_exist_ok=True)
            result = self.api.generate_assignment(a)
            if not result["success"]:
                raise RuntimeError(
                    f"nbgrader generate_assignment {a} failed:\n{result['log']}\n{result['error']}"
                )

    def release_path(self, assignment, name):
        return self.root / "release" / assignment / f"{name}.ipynb"

    def read_release(self, assignment, name):
        return nbformat.read(self.release_path(assignment, name), as_version=4)

    def read_source(self, assignment, name):
        return nbformat.read(self.root / "source" / assignment / f"{name}.ipynb", as_version=4)


def clean_release_differences(generated_dir, committed_dir):
    """Names of notebooks whose committed release differs from a freshly generated one.

    Compares notebook JSON after normalising nbformat's cell-order-insensitive parts;
    returns a list of human-readable differences (empty when in sync).
    """
    problems = []
    generated = {
        p.relative_to(generated_dir) for p in Path(generated_dir).rglob("*") if p.is_file()
    }
    committed = {
        p.relative_to(committed_dir) for p in Path(committed_dir).rglob("*") if p.is_file()
    }
    for rel in sorted(generated - committed):
        problems.append(f"missing from notebooks/: {rel}")
    for rel in sorted(committed - generated):
        problems.append(f"not generated from solutions/: {rel}")
    for rel in sorted(generated & committed):
        a = (Path(generated_dir) / rel).read_bytes()
        b = (Path(committed_dir) / rel).read_bytes()
        if rel.suffix == ".ipynb":
            a_nb, b_nb = nbformat.reads(a.decode(), 4), nbformat.reads(b.decode(), 4)
            if a_nb != b_nb:
                problems.append(f"differs from what solutions/ generates: {rel}")
        elif a != b:
            problems.append(f"differs from what solutions/ generates: {rel}")
    return problems
