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
