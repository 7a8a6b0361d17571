"""The Canvas and Moodle exports, checked against the LMSs' own import rules.

Each importer is restated here as a small model of its published code, and the exports
of a demo-like class (27 students, three assignments, some not handed in, late
penalties) are run through it with and without a roster:

- Canvas, ``app/models/gradebook_importer.rb`` (instructure/canvas-lms): the header must
  start ``Student``, ``ID`` and end its student columns with ``Section`` (SIS User ID and
  SIS Login ID in between are recognised); a row whose first cell contains ``Points
  Possible`` sets the points; a student is found by the numeric ``ID`` (Canvas's user
  id), else the SIS User ID, else the SIS Login ID, else the exact name, or is "not
  found"; an assignment column ``Title (123)`` is assignment 123
  (``Assignment.title_and_id``: ``/\\A(.*)\\s\\((\\d+)\\)\\z/``), else the assignment of
  exactly that title, else a new assignment.
- Moodle, ``grade/import/csv/classes/load_data.php`` (moodle/moodle): one column is
  mapped to a user field; a row whose identifier is blank is skipped but keeps the
  previous row's student; an identifier Moodle does not know aborts the whole import;
  in a new grade item only ``-`` is "no grade" (an empty cell is a grade); a grade must
  be a number (``unformat_float``) not above 100 (``gradepointmax``).

The gradebook is filled through nbgrader's API (no grading: these tests take well
under a second each).
"""

import csv
import datetime as dt
import io
import re
import shutil

import pytest
from nbgrader.api import Gradebook

from autograder import cli
from autograder.course_config import Course
from classroom import fixture

#: the class gradebook takes a few seconds to build through nbgrader's API
pytestmark = pytest.mark.slow

KINDS = [
    "correct", "alternative", "bug", "bug", "bug", "bug", "bug", "blank", "half-done",
    "syntax-error", "infinite-loop", "loop-ignores-interrupt", "memory-hog",
    "kernel-crash", "edited-test", "deleted-test", "tamper", "snoop", "corrupt-file",
    "missing-notebook", "stderr", "lists", "float32", "split-cell",
    "stripped-metadata", "correct", "bug",
]  # fmt: skip
STUDENTS = [f"s{i + 1:02d}-{k}" for i, k in enumerate(KINDS)]
#: assignment -> {grade cell: points}
ASSIGNMENTS = {
    "01-chain-rule": {"test_graph": 4, "test_paths": 3},
    "02-sigmoid-network": {"test_forward": 5, "test_backward": 7, "test_step": 5},
    "03-softmax-layer": {"test_loss": 2.5, "test_grad": 3.5},
}
LATE = {"s03-bug": 1.36}  # penalty in points on 01
NOT_HANDED_IN = {
    ("s09-half-done", "03-softmax-layer"),
    ("s20-missing-notebook", "02-sigmoid-network"),
}


def _score(student, cell, points):
    """A seeded, student- and cell-specific score in [0, points] with odd decimals."""
    h = sum(map(ord, student + cell))
    return round(points * ((h * 37) % 101) / 100, 3)


@pytest.fixture(scope="module")
def class_gradebook(tmp_path_factory):
    """The demo-like class's gradebook, made once (nbgrader's API, no grading)."""
    root = fixture.make_course(tmp_path_factory.mktemp("lms") / "course", fixture=False)
    course = Course.load(root)
    with Gradebook(course.db_url) as gb:
        for a, cells in ASSIGNMENTS.items():
            gb.update_or_create_assignment(a, duedate=dt.datetime(2026, 11, 2, 23, 59))
            gb.add_notebook("nb", a)
            for name, points in cells.items():
                gb.add_grade_cell(name, "nb", a, max_score=points, cell_type="code")
        for s in STUDENTS:
            gb.add_student(s)
        for a, cells in ASSIGNMENTS.items():
            for s in STUDENTS:
                if (s, a) in NOT_HANDED_IN:
                    continue
                gb.add_submission(a, s)
                for name, points in cells.items():
                    gb.find_grade(name, "nb", a, s).auto_score = _score(s, name, points)
                if a == "01-chain-rule" and s in LATE:
                    gb.find_submission_notebook("nb", a, s).late_submission_penalty = LATE[s]
        gb.db.commit()
    return root / "gradebook.db"


@pytest.fixture()
def course(tmp_path, class_gradebook):
    root = fixture.make_course(tmp_path / "course", fixture=False)
    shutil.copy(class_gradebook, root / "gradebook.db")
    return Course.load(root)


def expected_scores(course):
    """{(student, assignment): final score} as the gradebook says."""
    with Gradebook(course.db_url) as gb:
        return {
            (sub.student.id, a.name): max(
                0.0, float(sub.score) - float(sub.late_submission_penalty or 0)
            )
            for a in gb.assignments
            for sub in a.submissions
        }


def write_roster(path, people):
    """people: dicts with id and any roster columns."""
    cols = ["id", "name", "email", "sis_id", "sis_login", "username", "lms_id", "section"]
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        for p in people:
            w.writerow(p)


def run_export(course, capsys, *args):
    assert cli.main(["--root", str(course.root), "export", *args]) == 0
    return capsys.readouterr()


# -- Canvas, as app/models/gradebook_importer.rb reads a file ---------------------------

CANVAS_NON_ASSIGNMENT = re.compile(
    "Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
    "Override Score|Override Grade|Override Status"
)


class CanvasCourse:
    """Canvas's side: its students (user id, SIS ids, names) and assignments (id, title)."""

    def __init__(self, students=(), assignments=()):
        self.students = list(students)  # dicts: id, sis_user_id, login_id, name
        self.assignments = dict(assignments)  # id -> title


def canvas_import(text, canvas):
    """What Canvas makes of an uploaded gradebook CSV.

    Returns {"students": {canvas user id: {assignment key: grade}}, "not_found": [row
    names], "new_assignments": [titles], "points": {assignment key: points}} where an
    assignment key is an existing id or ("new", title).  Raises ValueError("Invalid
    header row") as Canvas fails the upload.
    """
    rows = [r for r in csv.reader(io.StringIO(text)) if not re.fullmatch(r"[;, ]*", ",".join(r))]
    header = rows[0]
    if not (len(header) > 3 and "Student" in header[0] and "ID" in header[1]):
        raise ValueError("Invalid header row")
    ncols, sis_col, login_col = 3, None, None
    if re.search(r"SIS\s+Login\s+ID", header[2]):
        login_col, ncols = 2, 4
    elif re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]):
        sis_col, login_col = 2, 3
        ncols = 5 + (1 if re.search(r"Integration\s+ID", header[4]) else 0)
    if "Section" not in header[ncols - 1]:
        raise ValueError("Invalid header row")
    out = {"students": {}, "not_found": [], "new_assignments": [], "points": {}}
    columns = {}
    for i, name in enumerate(header[ncols:], start=ncols):
        if CANVAS_NON_ASSIGNMENT.search(name):
            continue
        m = re.fullmatch(r"(.*)\s\((\d+)\)", name, flags=re.S)
        key = int(m.group(2)) if m and int(m.group(2)) in canvas.assignments else None
        if key is None:
            key = next((k for k, t in canvas.assignments.items() if t == name), None)
        if key is None:
            key = ("new", m.group(1) if m else name)
            out["new_assignments"].append(key[1])
        columns[i] = key
    for row in rows[1:]:
        if "Points Possible" in row[0]:
            out["points"] = {k: row[i] for i, k in columns.items()}
            continue
        student = None
        if row[1].strip():
            student = next((s for s in canvas.students if str(s["id"]) == row[1].strip()), None)
        if student is None and sis_col is not None and row[sis_col]:
            student = next((s for s in canvas.students if s["sis_user_id"] == row[sis_col]), None)
        if student is None and login_col is not None and row[login_col]:
            student = next((s for s in canvas.students if s["login_id"] == row[login_col]), None)
        if student is None:
            student = next((s for s in canvas.students if s["name"] == row[0]), None)
        if student is None:
            out["not_found"].append(row[0])
            continue
        out["students"][student["id"]] = {k: row[i].strip() for i, k in columns.items()}
    return out


def canvas_file(course, name="grades-canvas.csv"):
    return (course.root / name).read_text(encoding="utf-8")


def test_canvas_model_catches_what_issue_19_saw():
    """The model itself: blank ids go to "not found", bare titles become new assignments."""
    canvas = CanvasCourse([{"id": 7, "sis_user_id": "", "login_id": "", "name": "Ada"}], {9: "A"})
    text = "Student,ID,SIS User ID,SIS Login ID,Section,B\n    Points Possible,,,,,3\nbob,,,,,1\n"
    got = canvas_import(text, canvas)
    assert got["not_found"] == ["bob"] and got["new_assignments"] == ["B"]
    with pytest.raises(ValueError):
        canvas_import("Name,ID,Section,A\n", canvas)


def test_canvas_without_roster_has_only_students_canvas_can_find(course, capsys):
    """No roster: the Canvas user ids collect read from a Canvas download (in the
    gradebook) are what Canvas matches on; nobody else is written, and it says why."""
    with_ids = {"s01-correct": "1001", "s02-alternative": "1002", "s08-blank": "1008"}
    with Gradebook(course.db_url) as gb:
        for s, uid in with_ids.items():
            gb.update_or_create_student(s, lms_user_id=uid)
    out = run_export(course, capsys, "--format", "canvas")
    assert "no --roster" in out.err
    for s in STUDENTS:
        if s not in with_ids:
            assert s in out.err  # listed by name
    notes = (course.root / "grades-canvas.warnings.txt").read_text(encoding="utf-8")
    assert "no --roster" in notes and "s27-bug" in notes

    canvas = CanvasCourse(
        [{"id": int(u), "sis_user_id": "", "login_id": "", "name": s} for s, u in with_ids.items()],
        {},
    )
    got = canvas_import(canvas_file(course), canvas)
    assert got["not_found"] == []
    assert sorted(got["students"]) == [1001, 1002, 1008]
    want = expected_scores(course)
    for s, uid in with_ids.items():
        for a in ASSIGNMENTS:
            assert float(got["students"][int(uid)][("new", a)]) == pytest.approx(
                want[(s, a)], abs=0.005
            )
    assert got["points"][("new", "02-sigmoid-network")] == "17"


def test_canvas_with_roster_and_assignment_ids_updates_existing_assignments(
    course, tmp_path, capsys
):
    """Three students in the roster with SIS ids (one by login only, one by Canvas id):
    each row is found; columns "Title (id)" update the existing assignments even though
    their Canvas titles differ; a student without any id is left out and listed."""
    roster = tmp_path / "roster.csv"
    write_roster(
        roster,
        [
            {"id": "s01-correct", "name": "Ada Lovelace", "sis_id": "S-1", "section": "A"},
            {"id": "s03-bug", "name": "Alan Turing", "sis_login": "aturing"},
            {"id": "s19-corrupt-file", "name": "Grace Hopper", "lms_id": "77"},
            {"id": "s09-half-done", "name": "Kurt Gödel"},
        ],
    )
    ids = {"01-chain-rule": 501, "02-sigmoid-network": 502, "03-softmax-layer": 503}
    flags = [x for a, i in ids.items() for x in ("--canvas-assignment", f"{a}={i}")]
    out = run_export(course, capsys, "--format", "canvas", "--roster", str(roster), *flags)
    assert "no --roster" not in out.err and "without a Canvas id" not in out.err
    assert "Kurt Gödel" in out.err  # no id: left out, by name

    canvas = CanvasCourse(
        [
            {"id": 11, "sis_user_id": "S-1", "login_id": "ada", "name": "Lovelace, Ada"},
            {"id": 12, "sis_user_id": "", "login_id": "aturing", "name": "Alan M. Turing"},
            {"id": 77, "sis_user_id": "", "login_id": "gh", "name": "Grace Brewster Hopper"},
            {"id": 13, "sis_user_id": "", "login_id": "kg", "name": "Kurt Gödel"},
        ],
        {501: "Chain rule", 502: "Sigmoid network", 503: "Softmax"},
    )
    got = canvas_import(canvas_file(course), canvas)
    assert got["not_found"] == [] and got["new_assignments"] == []
    assert sorted(got["students"]) == [11, 12, 77]
    want = expected_scores(course)
    assert float(got["students"][12][501]) == pytest.approx(want[("s03-bug", "01-chain-rule")])
    assert want[("s03-bug", "01-chain-rule")] < sum(
        _score("s03-bug", c, p) for c, p in ASSIGNMENTS["01-chain-rule"].items()
    )  # the late penalty is in
    assert got["points"] == {501: "7", 502: "17", 503: "6"}


def test_canvas_with_roster_but_no_assignment_ids_warns_about_new_assignments(
    course, tmp_path, capsys
):
    roster = tmp_path / "roster.csv"
    write_roster(roster, [{"id": "s01-correct", "name": "Ada", "sis_id": "S-1"}])
    out = run_export(course, capsys, "--format", "canvas", "--roster", str(roster))
    assert "without a Canvas id" in out.err and "--canvas-assignment" in out.err
    canvas = CanvasCourse([{"id": 1, "sis_user_id": "S-1", "login_id": "", "name": "x"}], {})
    got = canvas_import(canvas_file(course), canvas)
    assert got["new_assignments"] == list(ASSIGNMENTS) and got["not_found"] == []


# -- Moodle, as grade/import/csv/classes/load_data.php reads a file ---------------------


def moodle_import(text, users, field, label):
    """What Moodle's CSV grade import makes of a file, the column named `label` mapped
    to user field `field` and every other column to a new grade item.

    Returns {user: {item: grade or None}}; raises ValueError with Moodle's reason when
    it aborts the import.  A blank identifier keeps the previous row's user, as Moodle
    does: the returned grades then show who received them.
    """
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip() for h in rows[0]]
    if header.count(label) != 1:
        raise ValueError(f"no single column {label!r} to map from")
    key = header.index(label)
    by_value = {u[field]: u["id"] for u in users if u.get(field)}
    out, student = {}, None
    for line in rows[1:]:
        if len(line) <= 1:
            continue
        grades = {}
        for i, value in enumerate(line):
            value = value.strip()
            if i == key:
                if value:  # "Skip invalid row with blank user field"
                    if value not in by_value:
                        raise ValueError(f"usermappingerror: {field} {value!r}")
                    student = by_value[value]
                continue
            if value == "-":
                grades[header[i]] = None
            else:
                try:
                    number = float(value)  # unformat_float; '' is a grade of '' (0)
                except ValueError:
                    number = 0.0 if value == "" else None
                if number is None:
                    raise ValueError(f"badgrade: {value!r}")
                if number > 100:
                    raise ValueError("gradevaluetoobig")
                grades[header[i]] = value
        if student is None:
            raise ValueError("usermappingerrorusernotfound")
        out.setdefault(student, {}).update(grades)
    return out


def test_moodle_model_aborts_and_misfiles_as_moodle_does():
    users = [{"id": 1, "email": "a@x"}, {"id": 2, "email": "b@x"}]
    with pytest.raises(ValueError, match="usermappingerror"):
        moodle_import("Email address,A\nc@x,1\n", users, "email", "Email address")
    got = moodle_import("Email address,A\na@x,1\n,2\n", users, "email", "Email address")
    assert got == {1: {"A": "2"}}  # the blank row's grade landed on the previous student
    got = moodle_import("Email address,A\na@x,\nb@x,-\n", users, "email", "Email address")
    assert got == {1: {"A": ""}, 2: {"A": None}}  # '' is a grade, '-' is none


def _moodle_users(roster_people):
    return [
        {"id": p["id"], "idnumber": p.get("sis_id", ""), "email": p.get("email", ""),
         "username": p.get("username", "")}
        for p in roster_people
    ]  # fmt: skip


def _check_moodle(course, users, field, label, expect_students):
    text = (course.root / "grades-moodle.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [label, *ASSIGNMENTS]  # one identifier column, then the items
    assert all(r[0].strip() for r in rows[1:])  # no blank identifier, ever
    got = moodle_import(text, users, field, label)
    assert sorted(got) == sorted(expect_students)
    want = expected_scores(course)
    for s in expect_students:
        for a in ASSIGNMENTS:
            if (s, a) in want:
                assert float(got[s][a]) == pytest.approx(want[(s, a)], abs=0.005), (s, a)
            else:
                assert got[s][a] is None, (s, a)  # "-": no grade, not a 0
    return got


def test_moodle_by_idnumber_with_a_roster_that_has_two_sis_ids(course, tmp_path, capsys):
    """The demo's case: 27 students in the roster, 2 with an ID number.  Moodle would
    stop at the first row without one; the file holds the two, the 25 are listed."""
    people = [{"id": s, "name": f"Student {s}", "email": f"{s}@uni.edu"} for s in STUDENTS]
    people[0]["sis_id"] = "10001"
    people[19]["sis_id"] = "10020"  # s20-missing-notebook: no 02 handed in
    roster = tmp_path / "roster.csv"
    write_roster(roster, people)
    out = run_export(course, capsys, "--format", "moodle", "--roster", str(roster))
    _check_moodle(
        course, _moodle_users(people), "idnumber", "ID number", [STUDENTS[0], STUDENTS[19]]
    )
    left = [line for line in out.err.splitlines() if "no ID number" in line]
    assert len(left) == 25 and all(f"Student {s}" in out.err for s in STUDENTS[1:19])
    notes = (course.root / "grades-moodle.warnings.txt").read_text(encoding="utf-8")
    assert notes.count("no ID number") == 25


def test_moodle_by_email_leaves_out_blank_and_unknown_rows(course, tmp_path, capsys):
    """Mapped by e-mail: blank e-mails would put grades on the previous row's student,
    a student the roster does not list would abort the import: neither is written."""
    people = [{"id": s, "name": f"N {s}", "email": f"{s}@uni.edu"} for s in STUDENTS[:20]]
    people[4]["email"] = ""
    people[5]["email"] = ""
    roster = tmp_path / "roster.csv"
    write_roster(roster, people)
    out = run_export(
        course, capsys, "--format", "moodle", "--roster", str(roster), "--moodle-id", "email"
    )
    expect = [p["id"] for p in people if p["email"]]
    _check_moodle(course, _moodle_users(people), "email", "Email address", expect)
    assert "N s05-bug" in out.err and "N s06-bug" in out.err
    for s in STUDENTS[20:]:  # graded, not in the roster
        assert f"{s} ({s}): not in the roster" in out.err


def test_moodle_by_username_and_without_a_roster(course, tmp_path, capsys):
    people = [{"id": s, "username": s.split("-")[0]} for s in STUDENTS]
    roster = tmp_path / "roster.csv"
    write_roster(roster, people)
    run_export(
        course, capsys, "--format", "moodle", "--roster", str(roster), "--moodle-id", "username"
    )
    _check_moodle(course, _moodle_users(people), "username", "Username", STUDENTS)
    assert not (course.root / "grades-moodle.warnings.txt").exists()

    # no roster: no ID numbers anywhere, so no rows; the file still imports (nothing)
    out = run_export(course, capsys, "--format", "moodle")
    assert "no --roster" in out.err
    _check_moodle(course, [], "idnumber", "ID number", [])
    # the e-mails the gradebook holds (collect fills them) are identifiers Moodle knows
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_student("s02-alternative", email="ada@uni.edu")
    run_export(course, capsys, "--format", "moodle", "--moodle-id", "email")
    users = [{"id": "s02-alternative", "email": "ada@uni.edu"}]
    _check_moodle(course, users, "email", "Email address", ["s02-alternative"])


def test_exports_log_feeds_the_report(course, capsys):
    from autograder.export import read_exports_log

    run_export(course, capsys, "--format", "moodle")
    log = read_exports_log(course)
    assert log["moodle"]["rows"] == 0 and len(log["moodle"]["left_out"]) == len(STUDENTS)
    assert any("no --roster" in w for w in log["moodle"]["warnings"])
