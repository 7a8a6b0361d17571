"""Where the repository keeps the course: the one place a path is relative to the checkout.

The installed package (``course``, ``autograder``) takes a course root and nothing else;
the demo, the fixtures and the tests work on this repository's course and import its
paths from here.
"""

from __future__ import annotations

from pathlib import Path

#: The repository's root, which is also its nbgrader course root (nbgrader_config.py).
REPO = Path(__file__).resolve().parent.parent
#: The instructor's notebooks (the course's nbgrader source folder).
SOLUTIONS = REPO / "solutions"
#: The student release generated from them (the course's nbgrader release folder).
RELEASE = REPO / "notebooks"


def repo_course(**kwargs):
    """The repository's course (:meth:`autograder.course_config.Course.load` on REPO)."""
    from autograder.course_config import Course

    return Course.load(REPO, **kwargs)
