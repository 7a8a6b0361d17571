"""Run nbgrader itself on notebooks in a private course directory.

Used by the tests (does a solution earn full marks? a blank release zero? a planted bug
lose the right cell?) and by `backprop-grade` for one-off checks.  Nothing here touches
the repository's gradebook: each :class:`CourseSandbox` lives in its own directory.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course_config import load_config, prepare_environment

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
RELEASE = REPO / "notebooks"


def assignments():
    """Assignment ids found in solutions/, sorted."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and not p.name.startswith("."))


def notebook_names(assignment):
    """Notebook file names (without .ipynb) of an assignment in solutions/."""
    return sorted(p.stem for p in (SOLUTIONS / assignment).glob("*.ipynb"))


def nbgrader_config(root, timeout=60):
    """The course's nbgrader_config.py, re-rooted at `root` with its own gradebook and
    nbgrader's default source/ and release/ folders there."""
    c = load_config(
        REPO, db_url="sqlite:///" + str(Path(root) / "gradebook.db"), cell_timeout=timeout
    )
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    c.Exchange.root = str(Path(root) / "exchange")
    return c


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


class CourseSandbox:
    """A throw-away nbgrader course with some assignments generated from solutions/.

    Parameters
    ----------
    root : path
        An empty (or new) directory.
    assignment_ids : iterable of str
        Assignments to copy from solutions/ and generate.
    timeout : int
        Per-cell time limit while autograding, in seconds.
    """

    def __init__(self, root, assignment_ids, timeout=60):
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        prepare_environment()
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        config = nbgrader_config(self.root, timeout)
        self.api = NbGraderAPI(CourseDirectory(config=config), config=config)
        self.db_url = config.CourseDirectory.db_url
        for a in assignment_ids:
            shutil.copytree(SOLUTIONS / a, self.root / "source" / a, dirs_exist_ok=True)
            result = self.api.generate_assignment(a)
            if not result["success"]:
                raise RuntimeError(
                    f"nbgrader generate_assignment {a} failed:\n{result['log']}\n{result['error']}"
                )

    def release_path(self, assignment, name):
        return self.root / "release" / assignment / f"{name}.ipynb"

    def read_release(self, assignment, name):
        return nbformat.read(self.release_path(assignment, name), as_version=4)

    def read_source(self, assignment, name):
        return nbformat.read(self.root / "source" / assignment / f"{name}.ipynb", as_version=4)

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
        result = self.api.autograde(assignment, student, force=True)
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
                gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
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


def clean_release_differences(generated_dir, committed_dir):
    """Names of notebooks whose committed release differs from a freshly generated one.

    Compares notebook JSON after normalising nbformat's cell-order-insensitive parts;
    returns a list of human-readable differences (empty when in sync).
    """
    problems = []
    generated = {
        p.relative_to(generated_dir) for p in Path(generated_dir).rglob("*") if p.is_file()
    }
    committed = {
        p.relative_to(committed_dir) for p in Path(committed_dir).rglob("*") if p.is_file()
    }
    for rel in sorted(generated - committed):
        problems.append(f"missing from notebooks/: {rel}")
    for rel in sorted(committed - generated):
        problems.append(f"not generated from solutions/: {rel}")
    for rel in sorted(generated & committed):
        a = (Path(generated_dir) / rel).read_bytes()
        b = (Path(committed_dir) / rel).read_bytes()
        if rel.suffix == ".ipynb":
            a_nb, b_nb = nbformat.reads(a.decode(), 4), nbformat.reads(b.decode(), 4)
            if a_nb != b_nb:
                problems.append(f"differs from what solutions/ generates: {rel}")
        elif a != b:
            problems.append(f"differs from what solutions/ generates: {rel}")
    return problems
