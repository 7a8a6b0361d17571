"""Small additions to nbgrader's gradebook that formgrader shows as they are.

- **Comments on test cells.**  nbgrader creates a comment row for answer (solution)
  and task cells only, so formgrader offers no comment box on a test cell and a remark
  on a manually regraded test has nowhere to go.  :class:`OpenTestComments` (an
  autograde preprocessor, in ``nbgrader_config.py``) and :func:`open_test_comments`
  add one row per test cell; the course's formgrade template shows its box, and
  feedback pages show what was typed there.
- **Flags.**  formgrader's "Flagged?" column reads each submitted notebook's ``flagged`` column;
  :func:`sync_flags` sets it on every notebook of a submission whose run record asks
  for review.
- **The score after the late penalty.**  formgrader's pages show the raw score only;
  :class:`FormgradeScores` (an HTMLExporter preprocessor, in ``nbgrader_config.py``)
  hands the grading page the gradebook's raw score, late penalty, final score, due date
  and submission time, which the course's formgrade template shows above the notebook.
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import NbGraderPreprocessor

#: The resources formgrader's grading page (its SubmissionHandler) hands the exporter.
FORMGRADE_KEYS = ("assignment_id", "notebook_id", "student", "submission_id")


class FormgradeScores(Preprocessor):
    """formgrader's grading page: ``resources["course_scores"]`` = {"raw", "penalty",
    "final", "max", "submitted", "due", "late_by"} of the notebook (points; times as
    "YYYY-MM-DD HH:MM UTC"), from the gradebook.  Any other export is left alone."""

    def preprocess(self, nb, resources):
        if "nbgrader" in resources or not all(resources.get(k) for k in FORMGRADE_KEYS):
            return nb, resources
        from nbgrader.coursedir import CourseDirectory

        from .feedback import _gradebook_facts

        try:
            facts = _gradebook_facts(
                CourseDirectory(config=self.config).db_url,
                resources["assignment_id"],
                resources["student"],
                resources["notebook_id"],
            )
        except Exception as exc:  # noqa: BLE001 - the page is still worth showing
            self.log.warning("no gradebook scores for the grading page: %s", exc)
            return nb, resources
        resources["course_scores"] = facts["late"]
        return nb, resources


def _open_rows(gb, sub_nb):
    from nbgrader.api import Comment

    have = {c.cell_id for c in sub_nb.comments}
    answers = {c.name for c in sub_nb.notebook.solution_cells}
    added = 0
    for cell in sub_nb.notebook.grade_cells:
        if cell.id not in have and cell.name not in answers:
            gb.db.add(Comment(cell_id=cell.id, notebook=sub_nb))
            added += 1
    if added:
        gb.db.commit()
    return added


class OpenTestComments(NbGraderPreprocessor):
    """Autograde step: a comment row for each test cell of the submitted notebook."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            sub_nb = gb.find_submission_notebook(
                info["notebook"], info["assignment"], info["student"]
            )
            _open_rows(gb, sub_nb)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        return cell, resources


def open_test_comments(course, assignment):
    """Comment rows for the test cells of every submission of `assignment` (idempotent)."""
    from nbgrader.api import Gradebook, MissingEntry

    added = 0
    with Gradebook(course.db_url) as gb:
        try:
            subs = gb.find_assignment(assignment).submissions
        except MissingEntry:
            return 0
        for sub in subs:
            for sub_nb in sub.notebooks:
                added += _open_rows(gb, sub_nb)
    return added


def sync_flags(course, assignment):
    """Flag (formgrader's "Flagged?") every submission whose run record needs review."""
    from nbgrader.api import Gradebook, MissingEntry

    from .grade import load_records

    flagged = []
    with Gradebook(course.db_url) as gb:
        for rec in load_records(course, assignment):
            if rec is None or not rec.needs_review:
                continue
            try:
                sub = gb.find_submission(assignment, rec.student)
            except MissingEntry:
                continue
            for sub_nb in sub.notebooks:
                if not sub_nb.flagged:
                    sub_nb.flagged = True
                    flagged.append(rec.student)
        gb.db.commit()
    return sorted(set(flagged))
