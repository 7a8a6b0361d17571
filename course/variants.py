"""Your own numbers: what a notebook shows of its student's variant.

The hand calculations of some notebooks (01's graph, 02's worked example) are asked at
numbers drawn for each student (:mod:`course.variant_tables` explains how): these two
functions give the notebook the numbers of the student it runs for.  While grading they
give those of the submission's student, decided by the grader.
"""

from __future__ import annotations

import json

from . import variant_tables as _tables

__all__ = ["mine", "numbers"]


def numbers(assignment):
    """The numbers of the current student's variant of `assignment` (a dict, a copy)."""
    return json.loads(json.dumps(_tables.current(assignment).numbers))


def mine(assignment):
    """What a notebook shows of its student's variant: a dict with ``variant``, ``count``,
    ``student``, ``numbers`` and ``text`` (a sentence saying whose numbers they are)."""
    a = _tables.current(assignment)
    spec = _tables.SPECS.get(assignment)
    shown = spec.describe(a.numbers) if spec else json.dumps(a.numbers)
    if a.student:
        text = (
            f"Your numbers (variant {a.index} of {a.count}, drawn for {a.student}): {shown}. "
            "They are yours: other students have other numbers, and your answers are graded "
            "on these."
        )
    elif _tables.student_id():
        text = (
            f"This notebook's folder has no variant table ({_tables.FILE}), so these are the "
            f"course's example numbers (variant 0): {shown}. Fetch the assignment again (or "
            "keep the notebook in the folder it came in) to see your own."
        )
    else:
        text = (
            f"No student id is set, so these are the course's example numbers (variant 0): "
            f"{shown}. On the course's hub, or in `make lab` once it has your id, the "
            "notebook shows your own numbers."
        )
    return {
        "assignment": assignment,
        "variant": a.index,
        "count": a.count,
        "student": a.student,
        "numbers": json.loads(json.dumps(a.numbers)),
        "text": text,
    }
