"""The class on JupyterHub through the exchange and the file system, as its own users.

Two students of one course try to read, overwrite, delete and impersonate each other's
work; a student of a second course tries to see the first; Validate runs from the student
edition (what it holds: tests/test_edition.py).  Every command runs as the local user it is about
(their uid and groups, the class environment), as from a terminal in their JupyterLab.
The browser walk through the same loop is tests/test_hub_browser.py.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import nbformat
import pytest
from hub_util import (
    ASSIGNMENT,
    COURSE_A,
    COURSE_B,
    NOTEBOOK,
    STATE,
    class_lock,
    completed,
    fresh_class,
    probe,
    run_as,
)

from autograder import cli
from backprop_hub import exchange, setup
from classroom.paths import REPO

EXCHANGE = STATE / "exchange"
ALICE, BOB = COURSE_A.students
CAROL = COURSE_B.students[0]
TEACHER = COURSE_A.instructors[0]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hub")]


def hub(course, *argv):
    assert cli.main(["hub", "--state", str(STATE), "--course", course.course_id, *argv]) in (
        0,
        None,
    )


@pytest.fixture(scope="module")
def klass():
    """The tests' class, fresh, with 01 released in both courses."""
    with class_lock():
        yield _released(fresh_class())


def _released(accounts):
    for course in (COURSE_A, COURSE_B):
        # the course roots hold the repository's generated release: only publish it
        # (`hub release` also regenerates it; the browser test goes that way)
        root = setup.course_root(course)
        run_as(TEACHER, "nbgrader", "release_assignment", ASSIGNMENT, "--force", cwd=root)
    return accounts


def work_of(student, course=COURSE_A):
    """Fetch the assignment as ``student`` and sign the notebook with their name."""
    run_as(student, "nbgrader", "fetch_assignment", ASSIGNMENT, "--course", course.course_id)
    path = Path(f"/home/{student}") / course.course_id / ASSIGNMENT / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"signed: {student}"))
    text = nbformat.writes(nb)
    run_as(student, "/usr/bin/python3", "-c", f"open({str(path)!r}, 'w').write({text!r})")
    return path


def submit(student, *extra, course=COURSE_A):
    run_as(student, "nbgrader", "submit", ASSIGNMENT, "--course", course.course_id, *extra)


def inbound(course=COURSE_A):
    return EXCHANGE / course.course_id / "inbound"


def entries_of(student, course=COURSE_A):
    return sorted(p for p in inbound(course).iterdir() if p.name.startswith(student + "+"))


def own_entry(student):
    """The student's own submission in inbound (a forged one in their name is not)."""
    uid = pwd.getpwnam(student).pw_uid
    (entry,) = [p for p in entries_of(student) if p.lstat().st_uid == uid]
    return entry


@pytest.fixture(scope="module")
def submissions(klass):
    """Alice and Bob fetched 01, signed it and submitted it (any test may run first)."""
    for student in (ALICE, BOB):
        work_of(student)
        submit(student)


def test_students_cannot_read_change_or_delete_each_others_submissions(submissions):
    theirs, mine = own_entry(ALICE), own_entry(BOB)
    assert os.stat(theirs).st_uid != os.stat(mine).st_uid
    assert (
        probe(
            BOB,
            ("list", inbound()),
            ("list", theirs),
            ("read", theirs / NOTEBOOK),
            ("read", theirs / "submission_secret.txt"),
            ("write", theirs / NOTEBOOK, "overwritten by bob"),
            ("write", theirs / "extra.txt", "planted by bob"),
            ("delete", theirs),
            ("rename", theirs, inbound() / "gone"),
            ("write", EXCHANGE / COURSE_A.course_id / "outbound" / ASSIGNMENT / NOTEBOOK, "x"),
            ("delete", EXCHANGE / COURSE_A.course_id / "outbound" / ASSIGNMENT),
            ("list", Path(f"/home/{ALICE}")),
        )
        == ["PermissionError"] * 11
    )
    # what each may do: read their own submission, and the release
    assert probe(BOB, ("read", mine / NOTEBOOK)) == ["ok"]
    released = EXCHANGE / COURSE_A.course_id / "outbound" / ASSIGNMENT / NOTEBOOK
    assert probe(ALICE, ("read", released)) == ["ok"]
    assert b"signed: bpt-alice" in (theirs / NOTEBOOK).read_bytes()


def test_collect_takes_each_submission_from_its_own_student_only(submissions, capsys):
    # bob submits in alice's name, and plants a link to the instructor's solutions
    submit(BOB, "--student", ALICE)
    solution = setup.course_root(COURSE_A) / "solutions" / ASSIGNMENT
    link = inbound() / f"{BOB}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+planted"
    run_as(
        BOB, "/usr/bin/python3", "-c", f"import os; os.symlink({str(solution)!r}, {str(link)!r})"
    )
    assert len(entries_of(ALICE)) >= 2 and link.is_symlink()
    capsys.readouterr()
    hub(COURSE_A, "collect", ASSIGNMENT)
    out = capsys.readouterr().out
    assert f"Refused {ALICE}+{ASSIGNMENT}" in out and f"{BOB} made it" in out
    assert f"Refused {link.name}: not a folder" in out
    submitted = setup.course_root(COURSE_A) / "submitted"
    assert b"signed: bpt-alice" in (submitted / ALICE / ASSIGNMENT / NOTEBOOK).read_bytes()
    # the exchange's time of submission is the one late penalties are computed from
    hers = own_entry(ALICE)
    stamp = (submitted / ALICE / ASSIGNMENT / "timestamp.txt").read_text()
    assert stamp == (hers / "timestamp.txt").read_text() and stamp in hers.name
    assert b"signed: bpt-bob" in (submitted / BOB / ASSIGNMENT / NOTEBOOK).read_bytes()
    assert b"BEGIN SOLUTION" not in (submitted / BOB / ASSIGNMENT / NOTEBOOK).read_bytes()


def test_tampering_names_what_is_not_the_students_own(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / NOTEBOOK).write_text("{}")
    assert exchange.tampering(folder, "root") is None
    (folder / "link").symlink_to("/etc/passwd")
    assert exchange.tampering(folder, "root") == "holds a symbolic link (link)"
    (folder / "link").unlink()
    assert "made it" in exchange.tampering(folder, "nobody")
    assert (
        exchange.tampering(folder, "no-such-user-here")
        == "no user no-such-user-here on this machine"
    )


def _feedback_page(student, text):
    folder = setup.course_root(COURSE_A) / "feedback" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NOTEBOOK.replace(".ipynb", ".html")).write_text(f"<p>{text}</p>")
    owner = setup.course_root(COURSE_A).stat()
    for p in (folder.parent.parent, folder.parent, folder, *folder.iterdir()):
        os.chown(p, owner.st_uid, owner.st_gid)


def test_each_student_fetches_only_their_own_feedback(submissions):
    hub(COURSE_A, "collect", ASSIGNMENT)
    for student in (ALICE, BOB):
        _feedback_page(student, f"feedback for {student}")
    run_as(TEACHER, "nbgrader", "release_feedback", ASSIGNMENT, cwd=setup.course_root(COURSE_A))
    pages = sorted((EXCHANGE / COURSE_A.course_id / "feedback").glob("*.html"))
    assert len(pages) == 2
    by_student = {p.read_text(): p for p in pages}
    alices = by_student[f"<p>feedback for {ALICE}</p>"]
    assert probe(BOB, ("read", alices), ("list", alices.parent)) == ["PermissionError"] * 2
    assert probe(CAROL, ("read", alices)) == ["PermissionError"]
    assert probe(ALICE, ("read", alices)) == ["ok"]
    for student in (ALICE, BOB):
        run_as(student, "nbgrader", "fetch_feedback", ASSIGNMENT, "--course", COURSE_A.course_id)
        got = list(
            (Path(f"/home/{student}") / COURSE_A.course_id / ASSIGNMENT).glob("feedback/*/*.html")
        )
        assert [p.read_text() for p in got] == [f"<p>feedback for {student}</p>"]


def test_a_second_course_sees_nothing_of_the_first(klass):
    course_a = EXCHANGE / COURSE_A.course_id
    assert (
        probe(
            CAROL,
            ("list", course_a),
            ("list", course_a / "outbound"),
            ("read", course_a / "outbound" / ASSIGNMENT / NOTEBOOK),
            ("mkdir", course_a / "inbound" / f"{CAROL}+{ASSIGNMENT}+x"),
        )
        == ["PermissionError"] * 4
    )
    listed = run_as(CAROL, "nbgrader", "list").stderr.splitlines()
    assert [line.split("] ", 1)[1] for line in listed if ASSIGNMENT in line] == [
        f"{COURSE_B.course_id} {ASSIGNMENT}"
    ]
    fetch = run_as(
        ALICE,
        "nbgrader",
        "fetch_assignment",
        ASSIGNMENT,
        "--course",
        COURSE_B.course_id,
        check=False,
    )
    assert fetch.returncode != 0
    assert probe(ALICE, ("list", EXCHANGE / COURSE_B.course_id)) == ["PermissionError"]


def test_validate_runs_from_the_edition_as_a_student(klass):
    home = Path(f"/home/{ALICE}")
    done = completed(
        REPO / "notebooks" / ASSIGNMENT / NOTEBOOK, REPO / "solutions" / ASSIGNMENT / NOTEBOOK
    )
    text = nbformat.writes(done)
    target = home / "validate-me.ipynb"
    run_as(ALICE, "/usr/bin/python3", "-c", f"open({str(target)!r}, 'w').write({text!r})")
    ok = run_as(ALICE, "nbgrader", "validate", target, check=False)
    assert "Success! Your notebook passes all the tests." in ok.stdout, ok.stdout + ok.stderr
    blank = run_as(
        ALICE,
        "nbgrader",
        "validate",
        STATE / "edition" / "notebooks" / ASSIGNMENT / NOTEBOOK,
        check=False,
    )
    assert "NotImplementedError" in blank.stdout and "ModuleNotFoundError" not in blank.stdout
    # the kernel's course is the edition's, and the grader is not there
    where = run_as(
        ALICE,
        "python",
        "-c",
        "import course, importlib.util as u; print(course.__file__, u.find_spec('autograder'))",
    ).stdout.split()
    assert where == [str(STATE / "edition" / "lib" / "course" / "__init__.py"), "None"]
