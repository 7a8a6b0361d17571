"""Grades out of the nbgrader gradebook, in the layouts gradebooks import.

Each format is an nbgrader ``ExportPlugin``, so ``nbgrader export
--exporter=autograder.export.CanvasExport --to canvas.csv`` writes the same file as
``backprop-grade export --format canvas``.  Scores are the gradebook's: the raw score,
nbgrader's late penalty (from the configured late-penalty plugin) and the final score
``max(0, raw - penalty)``, as ``nbgrader export`` computes it.

- ``summary`` (default, ``grades.csv``): one row per student and assignment: raw score,
  penalty, final score, submission and due times, grading status, review flag and the
  sandbox the kernels ran in;
- ``wide``: one row per student, raw / penalty / score columns per assignment, total;
- ``long``: one row per student and question (and one per late penalty, negative);
- ``canvas``: Canvas's gradebook import: ``Student, ID, SIS User ID, SIS Login ID,
  Section``, one column per assignment, and a ``Points Possible`` row first;
- ``moodle``: Moodle's "Import grades from CSV": identifier columns (ID number, e-mail,
  full name) and one grade column per assignment.

A roster (:mod:`autograder.roster`) supplies names, e-mails, SIS ids and sections.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from .grade import load_record

FORMATS = ("summary", "wide", "long", "canvas", "moodle")


@dataclass
class Row:
    """One student's grade for one assignment, per question too."""

    student: str
    assignment: str
    score: float  # final: raw - late penalty, at least 0
    max_score: float
    raw: float = 0.0
    penalty: float = 0.0
    questions: dict = field(default_factory=dict)  # "<notebook>/<grade_id>" -> (score, max)
    needs_review: bool = False
    status: str = ""
    seconds: float | None = None
    flags: list = field(default_factory=list)
    sandbox: str = ""
    submitted: object = None  # datetime (UTC) or None
    due: object = None
    seconds_late: float = 0.0
    submitted_anything: bool = True

    @property
    def percent(self):
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    @property
    def late(self):
        return self.seconds_late > 0


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


def _row(course, a, sub):
    raw = float(sub.score or 0.0)
    penalty = float(sub.late_submission_penalty or 0.0)
    row = Row(
        sub.student.id,
        a.name,
        max(0.0, raw - penalty),
        float(sub.max_score),
        raw=raw,
        penalty=penalty,
        needs_review=bool(sub.needs_manual_grade),
        submitted=sub.timestamp,
        due=a.duedate,
        seconds_late=float(sub.total_seconds_late or 0.0),
    )
    for nb in sub.notebooks:
        row.needs_review = row.needs_review or bool(nb.flagged)
        for g in nb.grades:
            row.questions[f"{nb.name}/{g.name}"] = (float(g.score or 0.0), float(g.max_score))
    rec = load_record(course, a.name, sub.student.id)
    if rec is not None:
        row.status, row.seconds, row.flags = rec.status, rec.seconds, rec.flags
        row.needs_review = row.needs_review or rec.needs_review
        row.sandbox = getattr(rec, "sandbox", "") or ""
    return row


def rows_from(gb, course, assignment=None, students=None):
    """Rows for every submission in an open gradebook (of one assignment, or all)."""
    rows = []
    assignments = [gb.find_assignment(assignment)] if assignment else gb.assignments
    for a in sorted(assignments, key=lambda a: a.name):
        for sub in sorted(a.submissions, key=lambda s: s.student.id):
            if not students or sub.student.id in students:
                rows.append(_row(course, a, sub))
    return rows


def gradebook_rows(course, assignment=None, students=None):
    """Rows for every submission in the course's gradebook (of one assignment, or all)."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        return rows_from(gb, course, assignment, students)


def _fmt(x):
    return "" if x is None else f"{x:g}"


def _when(t):
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else ""


class CourseExport(ExportPlugin):
    """Base of the course's formats: rows from the gradebook, people from a roster."""

    roster = Unicode("", help="roster CSV (id, name, email, sis_id, section)").tag(config=True)
    default_name = "grades.csv"

    def course(self):
        if getattr(self, "_course", None) is not None:
            return self._course
        from nbgrader.coursedir import CourseDirectory

        from .course_config import Course

        return Course(Path(CourseDirectory(config=self.config).root), self.config)

    def people(self):
        from .roster import Person, Roster

        roster = Roster.read(self.roster) if self.roster else Roster()
        return roster, lambda sid: roster.by_id(sid) or Person(sid, name=sid)

    def export(self, gradebook):
        course = self.course()
        rows = []
        for a in self.assignment or [None]:
            rows += rows_from(gradebook, course, a, [str(s) for s in self.student] or None)
        dest = Path(self.to or course.root / self.default_name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("w", encoding="utf-8", newline="") as f:
            n = self.write(csv.writer(f), rows, course)
        self.log.info("wrote %s rows to %s", n, dest)
        self.written = (dest, n)

    def write(self, w, rows, course):
        raise NotImplementedError


class SummaryExport(CourseExport):
    """One row per student and assignment (the instructor's own CSV)."""

    COLUMNS = [
        "student_id", "name", "assignment", "raw_score", "late_penalty", "score",
        "max_score", "percent", "submitted", "due", "seconds_late", "status",
        "needs_review", "sandbox",
    ]  # fmt: skip

    def write(self, w, rows, course):
        _, person = self.people()
        w.writerow(self.COLUMNS)
        for r in rows:
            w.writerow(
                [
                    r.student, person(r.student).name, r.assignment, _fmt(r.raw),
                    _fmt(r.penalty), _fmt(r.score), _fmt(r.max_score), f"{r.percent:.1f}",
                    _when(r.submitted), _when(r.due), f"{r.seconds_late:.0f}",
                    r.status or "ok", "yes" if r.needs_review else "no", r.sandbox,
                ]
            )  # fmt: skip
        return len(rows)


def _by_student(rows):
    out = {}
    for r in rows:
        out.setdefault(r.student, {})[r.assignment] = r
    return out


def _max_scores(rows, course, assignments):
    """Points possible per assignment (from the gradebook rows, else the source)."""
    out = {r.assignment: r.max_score for r in rows}
    return {a: out.get(a, 0.0) for a in assignments}


class WideExport(CourseExport):
    """One row per student: raw, penalty and score per assignment, then the total."""

    default_name = "grades-wide.csv"

    def write(self, w, rows, course):
        roster, person = self.people()
        ids = sorted({r.assignment for r in rows})
        maxima = _max_scores(rows, course, ids)
        header = ["student_id", "name"]
        for a in ids:
            header += [f"{a} raw", f"{a} late penalty", f"{a} score"]
        w.writerow([*header, "total", "max_total"])
        table = _by_student(rows)
        students = sorted(set(table) | {p.id for p in roster.people})
        for s in students:
            line, total = [s, person(s).name], 0.0
            for a in ids:
                r = table.get(s, {}).get(a)
                line += [_fmt(r.raw), _fmt(r.penalty), _fmt(r.score)] if r else ["", "", ""]
                total += r.score if r else 0.0
            w.writerow([*line, _fmt(total), _fmt(sum(maxima.values()))])
        return len(students)


class LongExport(CourseExport):
    """One row per student and question; a late penalty is a row of its own (negative)."""

    default_name = "grades-long.csv"
    COLUMNS = ["student_id", "assignment", "notebook", "question", "score", "max_score"]

    def write(self, w, rows, course):
        w.writerow(self.COLUMNS)
        n = 0
        for r in rows:
            order = question_order(course, r.assignment)
            keys = [k for k in order if k in r.questions]
            keys += sorted(set(r.questions) - set(keys))
            for key in keys:
                notebook, question = key.split("/", 1)
                score, points = r.questions[key]
                w.writerow([r.student, r.assignment, notebook, question, _fmt(score), _fmt(points)])
                n += 1
            if r.penalty:
                w.writerow([r.student, r.assignment, "", "late penalty", _fmt(-r.penalty), "0"])
                n += 1
        return n


class CanvasExport(CourseExport):
    """Canvas's gradebook import: identifier columns, one column per assignment, and a
    "Points Possible" row.  Canvas matches students by ID, SIS User ID or SIS Login ID
    (from the roster); rename an assignment column to "<name> (<canvas id>)" to update
    an existing Canvas assignment rather than create one."""

    default_name = "grades-canvas.csv"
    IDS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]

    def write(self, w, rows, course):
        roster, person = self.people()
        ids = sorted({r.assignment for r in rows})
        maxima = _max_scores(rows, course, ids)
        w.writerow([*self.IDS, *ids])
        w.writerow(["    Points Possible", "", "", "", "", *[_fmt(maxima[a]) for a in ids]])
        table = _by_student(rows)
        students = sorted(set(table) | {p.id for p in roster.people})
        for s in students:
            p = person(s)
            scores = [_fmt(table[s][a].score) if a in table.get(s, {}) else "" for a in ids]
            w.writerow([p.name or s, p.lms_id, p.sis_id, p.sis_login, p.section, *scores])
        return len(students)


class MoodleExport(CourseExport):
    """Moodle's "Import grades from CSV": map "ID number" (or "Email address") to the
    user field of the same name, and each assignment column to a grade item."""

    default_name = "grades-moodle.csv"

    def write(self, w, rows, course):
        roster, person = self.people()
        ids = sorted({r.assignment for r in rows})
        w.writerow(["ID number", "Email address", "Full name", *ids])
        table = _by_student(rows)
        students = sorted(set(table) | {p.id for p in roster.people})
        for s in students:
            p = person(s)
            scores = [_fmt(table[s][a].score) if a in table.get(s, {}) else "" for a in ids]
            w.writerow([p.sis_id or s, p.email, p.name or s, *scores])
        return len(students)


PLUGINS = {
    "summary": SummaryExport,
    "wide": WideExport,
    "long": LongExport,
    "canvas": CanvasExport,
    "moodle": MoodleExport,
}


def export_csv(course, assignment=None, output=None, fmt="summary", roster=None):
    """Write the grades in format `fmt`; returns (path, number of rows)."""
    from nbgrader.api import Gradebook

    plugin = PLUGINS[fmt](config=course.config)
    plugin.to = str(output) if output else str(course.root / plugin.default_name)
    plugin.assignment = [assignment] if assignment else []
    plugin.roster = str(roster) if roster else ""
    plugin._course = course
    with Gradebook(course.db_url) as gb:
        plugin.export(gb)
    return plugin.written
