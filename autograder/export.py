"""Grades out of the nbgrader gradebook: one row per student and assignment, as CSV."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from .grade import load_record


@dataclass
class Row:
    """One student's grade for one assignment, per question too."""

    student: str
    assignment: str
    score: float
    max_score: float
    questions: dict = field(default_factory=dict)  # "<notebook>/<grade_id>" -> (score, max)
    needs_review: bool = False
    status: str = ""
    seconds: float | None = None
    flags: list = field(default_factory=list)

    @property
    def percent(self):
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


def question_order(course, assignment):
    """Test cells of an assignment in notebook order: ["<notebook>/<grade_id>", ...]."""
    import nbformat

    keys = []
    for n in course.notebook_names(assignment):
        nb = nbformat.read(course.source / assignment / f"{n}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id"):
                keys.append(f"{n}/{meta['grade_id']}")
    return keys


def gradebook_rows(course, assignment=None):
    """Rows for every submission in the gradebook (of one assignment, or all)."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(course.db_url) as gb:
        assignments = [gb.find_assignment(assignment)] if assignment else gb.assignments
        for a in sorted(assignments, key=lambda a: a.name):
            for sub in sorted(a.submissions, key=lambda s: s.student.id):
                row = Row(
                    sub.student.id,
                    a.name,
                    float(sub.score),
                    float(sub.max_score),
                    needs_review=bool(sub.needs_manual_grade),
                )
                for nb in sub.notebooks:
                    for g in nb.grades:
                        row.questions[f"{nb.name}/{g.name}"] = (
                            float(g.score or 0.0),
                            float(g.max_score),
                        )
                rec = load_record(course, a.name, sub.student.id)
                if rec is not None:
                    row.status, row.seconds, row.flags = rec.status, rec.seconds, rec.flags
                    row.needs_review = row.needs_review or rec.needs_review
                rows.append(row)
    return rows


def export_csv(course, assignment=None, output=None):
    """Write the grades CSV; returns (path, number of rows).

    Columns: ``student_id, assignment, score, max_score, percent, status, needs_review``,
    then one column per question, ``<assignment>:<notebook>/<grade_id>`` (empty for
    other assignments' rows), so the file imports into an LMS gradebook as it is.
    """
    rows = gradebook_rows(course, assignment)
    ids = sorted({r.assignment for r in rows})
    qcols = [f"{a}:{q}" for a in ids for q in question_order(course, a)]
    path = Path(output) if output else course.root / "grades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["student_id", "assignment", "score", "max_score", "percent", "status", "needs_review"]
            + qcols
        )
        for r in rows:
            per = {f"{r.assignment}:{k}": v[0] for k, v in r.questions.items()}
            w.writerow(
                [
                    r.student,
                    r.assignment,
                    f"{r.score:g}",
                    f"{r.max_score:g}",
                    f"{r.percent:.1f}",
                    r.status or "ok",
                    "yes" if r.needs_review else "no",
                ]
                + [f"{per[c]:g}" if c in per else "" for c in qcols]
            )
    return path, len(rows)
