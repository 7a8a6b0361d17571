"""What kind of cell a notebook cell is, from its nbgrader metadata: the one module that
decides (integrity, repair, feedback, the trusted runner, exports and the tests' runner
ask here).

The predicates are nbgrader's own (``nbgrader.utils.is_grade``, ``is_solution``,
``is_locked``), read from the metadata alone so that a caller need not import nbgrader
(seconds, for the in-process runner); ``tests/test_cells.py`` checks that they agree with
nbgrader's on every cell of the course.  Cells may be NotebookNodes or plain dicts.

- a *test cell* is a graded code cell that is not an answer (the autograder's tests);
- an *answer cell* is a solution cell (code, or markdown for a written answer);
- a *locked cell* is one nbgrader overwrites from the source when it grades: graded and
  not an answer, or marked ``locked``;
- a *protected cell* is one the integrity check compares with the release: marked
  ``locked``, or a test cell.
"""

from __future__ import annotations

__all__ = [
    "grade_id",
    "is_answer_cell",
    "is_graded",
    "is_locked_cell",
    "is_protected_cell",
    "is_student_cell",
    "is_test_cell",
    "kind",
    "nbgrader_meta",
]


def nbgrader_meta(cell):
    """The cell's ``metadata.nbgrader`` dict ({} when it has none)."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell):
    """The cell's nbgrader grade_id, or None."""
    return nbgrader_meta(cell).get("grade_id")


def is_graded(cell):
    """Carries points (``nbgrader.utils.is_grade``): a test cell or a written answer."""
    return bool(nbgrader_meta(cell).get("grade", False))


def is_answer_cell(cell):
    """A solution cell, code or markdown (``nbgrader.utils.is_solution``)."""
    return bool(nbgrader_meta(cell).get("solution", False))


def is_locked_cell(cell):
    """Overwritten from the source when graded (``nbgrader.utils.is_locked``)."""
    if is_answer_cell(cell):
        return False
    return is_graded(cell) or bool(nbgrader_meta(cell).get("locked", False))


def is_test_cell(cell):
    """An autograder test cell: a graded code cell that is not an answer."""
    return cell.get("cell_type") == "code" and is_graded(cell) and not is_answer_cell(cell)


def is_student_cell(cell):
    """A code cell the student may edit: an answer cell or an unlocked cell."""
    return cell.get("cell_type") == "code" and not is_locked_cell(cell) and not is_test_cell(cell)


def is_protected_cell(cell):
    """A cell the integrity check compares with the release: marked locked, or a test."""
    return bool(nbgrader_meta(cell).get("locked")) or is_test_cell(cell)


def kind(cell):
    """The kind of cell: markdown (any non-code cell), test, answer or locked (other code)."""
    if cell.get("cell_type") != "code":
        return "markdown"
    if is_test_cell(cell):
        return "test"
    if is_answer_cell(cell):
        return "answer"
    return "locked"
