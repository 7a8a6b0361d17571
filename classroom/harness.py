"""Run nbgrader itself on notebooks in a private course directory (tests only).

Does a solution earn full marks? a blank release zero? a planted bug lose the right
cell?  :class:`CourseSandbox` is a :class:`autograder.workspace.ScratchCourse` that can
also autograde a submission with plain ``nbgrader autograde`` (tests in the kernel, as
in the student's JupyterLab) and report each cell's score and output.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.cells import grade_id
from autograder.workspace import ScratchCourse

from .paths import RELEASE, REPO, SOLUTIONS, repo_course  # noqa: F401 - re-exported for the tests


def assignments():
    """Assignment ids found in the repository's solutions/, sorted."""
    return repo_course().assignments()


def notebook_names(assignment):
    """Notebook file names (without .ipynb) of an assignment in solutions/."""
    return repo_course().notebook_names(assignment)


@dataclass
class CellGrade:
    """One graded cell: nbgrader's score and the text the student saw."""

    grade_id: str
    score: float
    max_score: float
    output: str = ""


@dataclass
class GradeReport:
    """The outcome of grading one submission of one assignment."""

    student: str
    assignment: str
    score: float
    max_score: float
    cells: dict = field(default_factory=dict)
    log: str = ""
    success: bool = True

    def cell(self, grade_id):
        return self.cells[grade_id]

    def failing(self):
        """grade_ids of graded cells that lost points."""
        return sorted(k for k, c in self.cells.items() if c.score < c.max_score)


def _cell_text(cell):
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            parts.append(
                "\n".join(out.get("traceback", [])) or f"{out.get('ename')}: {out.get('evalue')}"
            )
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    return "\n".join(parts)


class CourseSandbox(ScratchCourse):
    """A scratch course whose submissions are graded by plain ``nbgrader autograde``:
    nbgrader's own steps, test cells in the kernel (``execution.stock_preprocessors``),
    to show that stock nbgrader gives honest work the scores the trusted path gives."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("course", repo_course())
        super().__init__(*args, **kwargs)
        from autograder.execution import stock_preprocessors

        self.api.config.Autograde.autograde_preprocessors = stock_preprocessors()

    def grade(self, assignment, student, notebooks):
        """Autograde one submission.

        Parameters
        ----------
        assignment : str
        student : str
            A new id per submission (ids are reused only to regrade).
        notebooks : dict of str to (NotebookNode or path or bytes)
            Notebook name (no .ipynb) to content; missing notebooks are simply absent.

        Returns
        -------
        GradeReport
        """
        from nbgrader.api import Gradebook

        sub = self.root / "submitted" / student / assignment
        if sub.exists():
            shutil.rmtree(sub)
        sub.mkdir(parents=True)
        for name, content in notebooks.items():
            target = sub / f"{name}.ipynb"
            if isinstance(content, bytes):
                target.write_bytes(content)
            elif isinstance(content, str | Path):
                shutil.copy(content, target)
            else:
                nbformat.write(content, target)
        with Gradebook(self.db_url) as gb:
            gb.update_or_create_student(student)
        # the kernel's checks draw the student's variant as a student's own kernel would
        # (course.variant_tables: BACKPROP_STUDENT and the table nbgrader copies in)
        saved = os.environ.get("BACKPROP_STUDENT")
        os.environ["BACKPROP_STUDENT"] = student
        try:
            result = self.api.autograde(assignment, student, force=True)
        finally:
            if saved is None:
                os.environ.pop("BACKPROP_STUDENT", None)
            else:
                os.environ["BACKPROP_STUDENT"] = saved
        report = GradeReport(
            student,
            assignment,
            0.0,
            0.0,
            log=result.get("log", "") or "",
            success=bool(result["success"]),
        )
        if not result["success"]:
            report.log += "\n" + str(result.get("error", ""))
        texts = {}
        for path in (self.root / "autograded" / student / assignment).glob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                gid = grade_id(cell)
                if gid:
                    texts[gid] = _cell_text(cell)
        with Gradebook(self.db_url) as gb:
            try:
                submission = gb.find_submission(assignment, student)
            except Exception:  # noqa: BLE001 - no submission recorded: nothing graded
                return report
            for nb in submission.notebooks:
                for g in nb.grades:
                    score = g.score if g.score is not None else 0.0
                    report.cells[g.name] = CellGrade(
                        g.name, float(score), float(g.max_score), texts.get(g.name, "")
                    )
            report.score = float(submission.score)
            report.max_score = float(submission.max_score)
        return report
