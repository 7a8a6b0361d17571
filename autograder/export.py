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
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import ExportPlugin
from traitlets import Dict, Unicode

from .cells import grade_id, is_graded
from .grade import load_record
from .roster import Person

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
            if is_graded(cell) and grade_id(cell):
                keys.append(f"{n}/{grade_id(cell)}")
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


def lms_number(x):
    """A score as both importers read it: at most two decimals, a point, never 1e-05."""
    text = f"{round(float(x), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _unique(people, attr):
    """{value: student id} for values of `attr` that name one student only."""
    seen = {}
    for p in people.values():
        value = getattr(p, attr)
        if value:
            seen.setdefault(value, []).append(p.id)
    return {v: ids[0] for v, ids in seen.items() if len(ids) == 1}


class LmsExport(CourseExport):
    """What the LMS formats share: the rows that name a student the LMS knows, the rest
    left out and listed (`left_out`: (student id, name, why)), and `warnings`."""

    def lms_people(self):
        """(roster or None, {student id: Person}): the roster's people, blanks filled
        from what the gradebook holds (collect's names, e-mails, Canvas user ids)."""
        from .roster import Roster, gradebook_people, merged

        roster = Roster.read(self.roster) if self.roster else None
        known = gradebook_people(self._gradebook) if getattr(self, "_gradebook", None) else {}
        return roster, merged(roster, known)

    def export(self, gradebook):
        self._gradebook = gradebook
        self.left_out, self.warnings = [], []
        super().export(gradebook)
        # `nbgrader export --exporter ...` shows these in its log
        for w in self.warnings:
            self.log.warning(w)
        for sid, name, why in self.left_out:
            self.log.warning("left out: %s (%s): %s", name, sid, why)

    def leave_out(self, person, why):
        self.left_out.append((person.id, person.name or person.id, why))

    def students(self, rows, roster, people):
        """Student ids with a row: those graded, and (with a roster) its students."""
        graded = {r.student for r in rows}
        listed = {p.id for p in roster.people} if roster else set()
        return sorted(graded | listed)


class CanvasExport(LmsExport):
    """Canvas's gradebook import (``GradebookImporter``): a header ``Student, ID, SIS User
    ID, SIS Login ID, Section`` and one column per assignment, a ``Points Possible`` row,
    then one row per student.  Canvas finds a student by the numeric ``ID`` (its user id),
    else the SIS User ID, else the SIS Login ID, else the exact name; a row it cannot
    match is "not found".  So a row is written only for a student with one of those ids
    (from the roster, or the Canvas user id ``collect`` read from a Canvas download into
    the gradebook); the others are left out and listed.  An assignment column
    ``Title (123)`` updates Canvas assignment 123; a bare title updates the assignment of
    exactly that title, or creates a new one: give the ids with
    ``CanvasExport.assignment_ids`` (nbgrader_config.py) or ``--canvas-assignment``."""

    default_name = "grades-canvas.csv"
    IDS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assignment_ids = Dict(
        per_key_traits=Unicode(),
        help="Canvas assignment id per assignment name: columns become 'name (id)'",
    ).tag(config=True)

    def title(self, assignment):
        cid = str(self.assignment_ids.get(assignment, "")).strip()
        return f"{assignment} ({cid})" if cid.isdigit() else assignment

    def write(self, w, rows, course):
        roster, people = self.lms_people()
        ids = sorted({r.assignment for r in rows})
        maxima = _max_scores(rows, course, ids)
        w.writerow([*self.IDS, *(self.title(a) for a in ids)])
        w.writerow(["    Points Possible", "", "", "", "", *[lms_number(maxima[a]) for a in ids]])
        table = _by_student(rows)
        unique = {a: _unique(people, a) for a in ("lms_id", "sis_id", "sis_login")}
        n = 0
        for s in self.students(rows, roster, people):
            p = people.get(s) or Person(s)
            cells = [
                p.lms_id if unique["lms_id"].get(p.lms_id) == s and p.lms_id.isdigit() else "",
                p.sis_id if unique["sis_id"].get(p.sis_id) == s else "",
                p.sis_login if unique["sis_login"].get(p.sis_login) == s else "",
            ]
            if not any(cells):
                self.leave_out(p, self._why_not(p))
                continue
            scores = [lms_number(table[s][a].score) if a in table.get(s, {}) else "" for a in ids]
            w.writerow([p.name or s, *cells, p.section, *scores])
            n += 1
        self._warn(roster, ids)
        return n

    @staticmethod
    def _why_not(p):
        if p.lms_id or p.sis_id or p.sis_login:
            return "its Canvas ID / SIS id is not a unique number for one student"
        return "no Canvas ID, SIS User ID or SIS Login ID (roster or gradebook)"

    def _warn(self, roster, ids):
        if roster is None:
            self.warnings.append(
                "no --roster: Canvas matches rows by its user ID, SIS User ID or SIS Login ID;"
                " only students whose Canvas ID collect read from a Canvas download are in"
                " the file. Give a roster with sis_id / sis_login / lms_id columns."
            )
        bare = [a for a in ids if self.title(a) == a]
        if bare:
            self.warnings.append(
                "assignment columns without a Canvas id (" + ", ".join(bare) + "): Canvas "
                "updates an assignment of exactly that title, or creates a new one. Give "
                "the ids with --canvas-assignment NAME=ID."
            )


MOODLE_IDS = {"idnumber": "ID number", "email": "Email address", "username": "Username"}
_MOODLE_ATTR = {"idnumber": "sis_id", "email": "email", "username": "username"}


class MoodleExport(LmsExport):
    """Moodle's "Import grades from CSV" (``gradeimport_csv_load_data``): one identifier
    column, mapped in Moodle's form to the user field it names (``--moodle-id``:
    ``idnumber`` = the roster's sis_id, ``email``, or ``username``), and one column per
    assignment, mapped to a grade item.  Moodle stops the whole import at the first
    identifier it does not know, skips a row whose identifier is blank but files its
    grades under the previous row's student, and reads an empty cell of a new grade item
    as a grade: so every row carries a known identifier (from the roster, or an e-mail
    the gradebook holds), students without one are left out and listed, and a missing
    grade is ``-`` (Moodle's "no grade")."""

    default_name = "grades-moodle.csv"
    identifier = Unicode("idnumber", help="idnumber, email or username").tag(config=True)

    def write(self, w, rows, course):
        roster, people = self.lms_people()
        key = self.identifier
        if key not in MOODLE_IDS:
            raise ValueError(f"--moodle-id must be one of {', '.join(MOODLE_IDS)}, not {key!r}")
        attr = _MOODLE_ATTR[key]
        ids = sorted({r.assignment for r in rows})
        w.writerow([MOODLE_IDS[key], *ids])
        table = _by_student(rows)
        unique = _unique(people, attr)
        n = 0
        for s in self.students(rows, roster, people):
            p = people.get(s) or Person(s)
            value = getattr(p, attr).strip()
            if roster is not None and roster.by_id(s) is None:
                self.leave_out(p, "not in the roster")
            elif not value:
                self.leave_out(p, f"no {MOODLE_IDS[key]}")
            elif unique.get(value) != s:
                self.leave_out(p, f"{MOODLE_IDS[key]} {value!r} is shared with another student")
            else:
                marks = table.get(s, {})
                scores = [lms_number(marks[a].score) if a in marks else "-" for a in ids]
                w.writerow([value, *scores])
                n += 1
        if roster is None:
            self.warnings.append(
                f"no --roster: Moodle needs each student's {MOODLE_IDS[key]}; only students "
                "whose identifier the gradebook holds are in the file."
            )
        return n


PLUGINS = {
    "summary": SummaryExport,
    "wide": WideExport,
    "long": LongExport,
    "canvas": CanvasExport,
    "moodle": MoodleExport,
}


@dataclass
class ExportResult:
    """What an export wrote: ``path``, ``rows`` (student rows), the students ``left_out``
    ((id, name, why), LMS formats) and ``warnings``.  Unpacks as ``path, rows``."""

    path: Path
    rows: int
    fmt: str = "summary"
    left_out: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def __iter__(self):
        return iter((self.path, self.rows))

    @property
    def notes_path(self):
        """The text file next to the CSV that says what the import needs to know."""
        return self.path.with_name(self.path.stem + ".warnings.txt")

    def lines(self):
        out = [f"warning: {w}" for w in self.warnings]
        if self.left_out:
            out.append(
                f"left out of {self.path.name} ({len(self.left_out)} students; the LMS "
                "could not match them):"
            )
            out += [f"  {name} ({sid}): {why}" for sid, name, why in self.left_out]
        return out


#: The last export of each format, for the report: ``<root>/reports/exports.json``.
EXPORTS_LOG = "exports.json"


def _log(course, result):
    import json

    log = course.root / "reports" / EXPORTS_LOG
    try:
        data = json.loads(log.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data[result.fmt] = {
        "path": str(result.path),
        "rows": result.rows,
        "left_out": [list(x) for x in result.left_out],
        "warnings": list(result.warnings),
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")


def read_exports_log(course):
    """{format: {"path", "rows", "left_out", "warnings"}} of the course's last exports."""
    import json

    try:
        return json.loads((course.root / "reports" / EXPORTS_LOG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def export_csv(
    course,
    assignment=None,
    output=None,
    fmt="summary",
    roster=None,
    moodle_id=None,
    canvas_assignments=None,
    err=None,
):
    """Write the grades in format `fmt`.

    Parameters
    ----------
    course : Course
    assignment : str, optional
        One assignment (default: all in the gradebook).
    output : path, optional
        Default ``<root>/<format's default name>``.
    fmt : str
        One of :data:`FORMATS`.
    roster : path, optional
        Roster CSV (:mod:`autograder.roster`).
    moodle_id : str, optional
        ``idnumber``, ``email`` or ``username`` (Moodle's identifier column).
    canvas_assignments : dict, optional
        {assignment: Canvas assignment id}, added to ``CanvasExport.assignment_ids``.
    err : file, optional
        Where warnings and left-out students are printed (default: ``sys.stderr``).

    Returns
    -------
    ExportResult
        Unpacks as ``(path, rows)``.  For the LMS formats, warnings and left-out
        students also go to ``<name>.warnings.txt`` next to the CSV (removed when there
        are none) and to ``<root>/reports/exports.json`` (the report shows them).
    """
    from nbgrader.api import Gradebook

    plugin = PLUGINS[fmt](config=course.config)
    plugin.to = str(output) if output else str(course.root / plugin.default_name)
    plugin.assignment = [assignment] if assignment else []
    plugin.roster = str(roster) if roster else ""
    plugin._course = course
    if moodle_id and fmt == "moodle":
        plugin.identifier = moodle_id
    if canvas_assignments and fmt == "canvas":
        plugin.assignment_ids = {**plugin.assignment_ids, **canvas_assignments}
    with Gradebook(course.db_url) as gb:
        plugin.export(gb)
    path, n = plugin.written
    result = ExportResult(
        Path(path), n, fmt, getattr(plugin, "left_out", []), getattr(plugin, "warnings", [])
    )
    if isinstance(plugin, LmsExport):
        lines = result.lines()
        if lines:
            result.notes_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        else:
            result.notes_path.unlink(missing_ok=True)
        _log(course, result)
        for line in lines:
            print(line, file=err or sys.stderr)
    return result
