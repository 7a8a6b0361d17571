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

# -- Grading: one trusted path, whatever runs it ----------------------------------------
# Submissions as students really send them (split or pasted cells, stripped metadata,
# nbformat 4.0-4.5) are repaired before nbgrader's own sanitizing.  nbgrader's Execute
# step (test cells in the student's kernel) is replaced by the course's: the kernel in a
# bubblewrap sandbox, the test cells run by the grader; SaveAutoGrades by one that never
# clears a review flag.  The same converter serves `backprop-grade grade` (which hands
# it its parallel workers' outputs), `nbgrader autograde` and formgrader's Autograde.
# (the `autograder` package is the course's own: installed with it, see pyproject.toml)
import nbgrader  # noqa: E402
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.preprocessors import Execute, GetGrades, SaveAutoGrades  # noqa: E402

from autograder.execution import GradedExecution, SaveTrustedGrades  # noqa: E402
from autograder.feedback import TEMPLATES, CourseFeedback, FeedbackExporter  # noqa: E402
from autograder.nbgrader_hooks import OpenTestComments  # noqa: E402
from autograder.repair import RepairStructure  # noqa: E402

c.Autograde.sanitize_preprocessors = [
    RepairStructure,
    *Autograde.sanitize_preprocessors.default(),
]
# nbgrader's own autograde steps, the execution and the grade saving the course's, and a
# comment row on every test cell for formgrader.
_trusted = {Execute: GradedExecution, SaveAutoGrades: SaveTrustedGrades}
c.Autograde.autograde_preprocessors = [
    *(_trusted.get(p, p) for p in Autograde.autograde_preprocessors.default()),
    OpenTestComments,
]

# -- After grading: late penalties, feedback, formgrader ---------------------------------
# Due dates live in the gradebook (`backprop-grade release --due`); a late notebook loses
# 10 % of its score per started day after it (nbgrader's AssignLatePenalties step).
c.AssignLatePenalties.plugin_class = "autograder.late.PercentPerDay"
c.PercentPerDay.percent = 10.0

# One feedback path: formgrader's "Generate Feedback", `nbgrader generate_feedback` and
# `backprop-grade feedback` all write the course's pages (no hidden tests, math as
# MathML, no script) with the gradebook's scores, comments and late penalties.
c.GenerateFeedback.preprocessors = [GetGrades, CourseFeedback]
c.GenerateFeedback.exporter_class = FeedbackExporter

# formgrader's grading page, with a comment box on test cells too.
c.HTMLExporter.template_name = "backprop_formgrade"
c.HTMLExporter.template_file = "test_comments.html.j2"
FORMGRADER_TEMPLATES = os.path.join(
    os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates"
)
c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), FORMGRADER_TEMPLATES]
# Students' HTML, SVG and JavaScript outputs and markdown never run in the instructor's
# browser (formgrader's page is on the Jupyter server's origin): bleached, not live.
c.HTMLExporter.sanitize_html = True
# ... with the course's sanitizer (allow-listed tags, data: images only, MathML): nbconvert's
# own clean_html escapes even <p>, which would show student Markdown as tags.
# Formulas become MathML on the server (course_markdown): formgrader's page loads no MathJax.
# formgrader's grading page shows the score after the late penalty and the due date too.
c.HTMLExporter.preprocessors = ["autograder.nbgrader_hooks.FormgradeScores"]
c.HTMLExporter.filters = {
    "clean_html": "autograder.safe_html.clean",
    "course_markdown": "autograder.safe_html.markdown",
}
