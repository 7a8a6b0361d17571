"""Build nbgrader notebooks in code: cells with the right metadata (schema version 3).

Handy for authoring scripts and tests; the course's notebooks themselves are committed
as .ipynb files.
"""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None):
    meta = {
        "grade": grade,
        "solution": solution,
        "locked": locked,
        "grade_id": grade_id,
        "schema_version": 3,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(source, grade_id):
    """A read-only markdown cell."""
    return new_markdown_cell(source, metadata=_meta(grade_id, locked=True))


def code(source, grade_id=None):
    """A read-only code cell (locked when it has a grade_id), e.g. imports or a demo."""
    if grade_id is None:
        return new_code_cell(source)
    return new_code_cell(source, metadata=_meta(grade_id, locked=True))


def solution(source, grade_id):
    """An autograded answer cell: put the answer between ### BEGIN/END SOLUTION."""
    return new_code_cell(source, metadata=_meta(grade_id, solution=True))


def written(source, grade_id, points):
    """A manually graded markdown answer (use sparingly: everything else is autograded)."""
    return new_markdown_cell(
        source, metadata=_meta(grade_id, grade=True, solution=True, points=points)
    )


def tests(source, grade_id, points):
    """An autograder test cell worth `points`."""
    return new_code_cell(source, metadata=_meta(grade_id, grade=True, locked=True, points=points))


def notebook(cells, title=None):
    """A notebook with the python3 kernelspec."""
    nb = new_notebook(
        cells=list(cells), metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    )
    if title:
        nb.metadata["title"] = title
    return nb


def write(nb, path):
    nbformat.write(nb, str(path))
