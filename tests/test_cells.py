"""autograder.cells decides a cell's kind as nbgrader does (``nbgrader.utils``)."""

import nbformat
import pytest
from nbgrader import utils

from autograder import cells
from classroom import fixture
from classroom.paths import RELEASE, SOLUTIONS


def _course_cells():
    paths = sorted(SOLUTIONS.glob("*/*.ipynb")) + sorted(RELEASE.glob("*/*.ipynb"))
    notebooks = [nbformat.read(p, as_version=4) for p in paths] + [fixture.fixture_notebook()]
    return [c for nb in notebooks for c in nb.cells]


def test_predicates_agree_with_nbgrader_on_every_course_cell():
    all_cells = _course_cells()
    assert {cells.kind(c) for c in all_cells} == {"markdown", "test", "answer", "locked"}
    for c in all_cells:
        assert cells.is_graded(c) == bool(utils.is_grade(c))
        assert cells.is_answer_cell(c) == bool(utils.is_solution(c))
        assert cells.is_locked_cell(c) == bool(utils.is_locked(c))


@pytest.mark.parametrize(
    ("meta", "cell_type", "kind", "locked", "student"),
    [
        ({}, "code", "locked", False, True),
        ({"locked": True}, "code", "locked", True, False),
        ({"solution": True}, "code", "answer", False, True),
        ({"grade": True, "locked": True}, "code", "test", True, False),
        ({"grade": True, "solution": True}, "markdown", "markdown", False, False),
    ],
)
def test_kinds_of_hand_made_cells(meta, cell_type, kind, locked, student):
    new = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    cell = new("x = 1", metadata={"nbgrader": {"grade_id": "q", **meta}})
    assert cells.kind(cell) == kind
    assert cells.is_locked_cell(cell) == locked == bool(utils.is_locked(cell))
    assert cells.is_student_cell(cell) == student
    assert cells.is_test_cell(cell) == (kind == "test")
    assert cells.grade_id(cell) == "q"
    assert cells.is_protected_cell(cell) == (meta.get("locked", False) or kind == "test")
