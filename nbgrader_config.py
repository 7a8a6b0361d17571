"""nbgrader configuration of the course (read by `nbgrader`, JupyterLab's formgrader and
`backprop-grade`)."""

import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "backprop-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Per-cell wall-clock limit while grading; an infinite loop scores 0 for that cell.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# Test cells a student deleted are put back before grading.
c.OverwriteCells.add_missing_cells = True

# Submissions as students really send them (split or pasted cells, stripped metadata,
# nbformat 4.0-4.5) are repaired before nbgrader's own sanitizing, and stderr of a test
# cell (a warning, a progress bar) is moved to stdout so that it costs no points.
# nbgrader's own preprocessor lists, extended: the same converter serves
# `nbgrader autograde`, formgrader and `backprop-grade grade`.
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402

from autograder.repair import RepairStructure, StderrToStdout  # noqa: E402

c.Autograde.sanitize_preprocessors = [
    RepairStructure,
    *Autograde.sanitize_preprocessors.default(),
]
_autograde = list(Autograde.autograde_preprocessors.default())
_autograde.insert(_autograde.index(Execute) + 1, StderrToStdout)
c.Autograde.autograde_preprocessors = _autograde
