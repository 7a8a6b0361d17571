"""A grading run survives what goes wrong around it: a worker that dies, an interrupted
run (the next one resumes), a machine without bubblewrap (a clear stop, or a
deliberate --no-sandbox that every summary line says)."""

import contextlib
import io
import os
import shutil

import pytest

from autograder import cli, grade, sandbox
from autograder.course_config import Course
from classroom import fixture

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("autograder")]

A = fixture.ASSIGNMENT
HOSTILE = os.path.join(os.path.dirname(__file__), "hostile", "fixture")


@pytest.fixture(scope="module")
def _course_template(tmp_path_factory):
    """The course with its release and four submissions, made once for the module."""
    root = fixture.make_course(tmp_path_factory.mktemp("template") / "c")
    course = Course.load(root)
    grade.generate_release(course, A)
    for student, case in (("s1", "full"), ("s2", "blank"), ("s3", "full"), ("s4", "full")):
        folder = course.submitted / student / A
        folder.mkdir(parents=True)
        with open(os.path.join(HOSTILE, f"{case}.ipynb"), encoding="utf-8") as f:
            (folder / "fixture.ipynb").write_text(f.read(), encoding="utf-8")
    return root


@pytest.fixture
def course(_course_template, tmp_path):
    """A copy of the module's course of its own for each test (tests grade and change it)."""
    return Course.load(shutil.copytree(_course_template, tmp_path / "c", symlinks=True))


def _quiet():
    return io.StringIO()


_REAL_EXECUTE = sandbox.execute_notebook


def _dies_for_s3(task):
    """execute_notebook, except that the worker process vanishes on s3 (as on a segfault)."""
    if task["key"][0] == "s3":
        os._exit(1)
    return _REAL_EXECUTE(task)


def test_a_dying_worker_costs_only_its_own_notebook(course, monkeypatch):
    monkeypatch.setattr(sandbox, "execute_notebook", _dies_for_s3)
    out = _quiet()
    results = {r.student: r for r in grade.grade(course, A, jobs=2, out=out)}
    assert results["s3"].status == "worker crashed" and results["s3"].score == 0
    assert "died on it twice" in results["s3"].reasons[0]
    assert (results["s1"].score, results["s2"].score, results["s4"].score) == (3, 0, 3)
    assert "s3" in out.getvalue()


def test_an_interrupted_run_keeps_what_was_graded_and_the_next_resumes(course, monkeypatch):
    real = grade.GradingRun.record
    done = []

    def record_then_interrupt(self, students):
        real(self, students)  # a batch: committed to the gradebook, run records written
        done.extend(students)
        if len(done) >= 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(grade.GradingRun, "record", record_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        grade.grade(course, A, jobs=1, out=_quiet())
    monkeypatch.setattr(grade.GradingRun, "record", real)
    results = grade.grade(course, A, jobs=2, out=_quiet())
    skipped = sorted(r.student for r in results if r.skipped)
    assert skipped == sorted(done) and 2 <= len(done) < 4
    assert {r.student: r.score for r in results} == {"s1": 3, "s2": 0, "s3": 3, "s4": 3}


def test_a_failed_batch_is_recorded_again_one_by_one(course, monkeypatch):
    """A batch's transaction that fails loses nothing: each submission is recorded
    again alone, and every score is right."""
    real = grade.one_transaction
    failed = []

    @contextlib.contextmanager
    def failing_once(db_url):
        with real(db_url):
            yield
            if not failed:
                failed.append(True)
                raise RuntimeError("disk I/O error")

    monkeypatch.setattr(grade, "one_transaction", failing_once)
    results = grade.grade(course, A, jobs=2, out=_quiet(), force=True)
    assert failed
    assert {r.student: r.score for r in results} == {"s1": 3, "s2": 0, "s3": 3, "s4": 3}
    assert all(r.status == "ok" for r in results if r.student != "s2")


def test_without_bwrap_grade_stops_and_names_the_package(course, monkeypatch, capsys):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.probe.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="bubblewrap"):
            grade.grade(course, A, out=_quiet())
        assert cli.main(["--root", str(course.root), "grade", A]) == 2
        assert "bubblewrap" in capsys.readouterr().err
        assert not (course.root / "grading-records" / A).exists() or not any(
            (course.root / "grading-records" / A).iterdir()
        )
    finally:
        sandbox.probe.cache_clear()


def test_no_sandbox_is_deliberate_and_said_everywhere(course, capsys):
    args = ["--root", str(course.root), "grade", A, "--no-sandbox", "--student", "s1"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "sandbox: none (--no-sandbox)" in out and "WARNING: graded without a sandbox" in out
    record = grade.load_record(course, A, "s1")
    assert record.sandbox == sandbox.NO_SANDBOX and record.score == 3


def _variant(name):
    import copy

    import nbformat

    nb = nbformat.read(os.path.join(HOSTILE, "full.ipynb"), as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    if name == "split-answer":
        i = ids.index("answer_sigmoid_prime")
        lines = nb.cells[i].source.splitlines()
        second = copy.deepcopy(nb.cells[i])
        nb.cells[i].source, second.source = lines[0], "\n".join(lines[1:])
        nb.cells.insert(i + 1, second)
    elif name == "stripped-metadata":
        for cell in nb.cells:
            cell.metadata = {}
    elif name == "format-4.2-with-ids":
        nb.nbformat_minor = 2
    elif name == "stderr":
        i = ids.index("answer_sigmoid_prime")
        nb.cells[i].source = nb.cells[i].source.replace(
            "    s = ",
            "    import sys, warnings\n    print('progress', file=sys.stderr)\n"
            "    warnings.warn('a warning')\n    s = ",
        )
    elif name == "pasted-test":
        nb.cells.append(copy.deepcopy(nb.cells[ids.index("test_hand")]))
    elif name == "extra-grade-cell":  # marked as a grade cell the assignment lacks
        extra = nbformat.v4.new_code_cell("bonus = 1")
        extra.metadata["nbgrader"] = {
            "grade": True,
            "grade_id": "bonus",
            "locked": False,
            "points": 10,
            "schema_version": 3,
            "solution": False,
        }
        nb.cells.append(extra)
    return nbformat.writes(nb, version=4) if name != "format-4.2-with-ids" else _as_4_2(nb)


def _as_4_2(nb):
    import json

    import nbformat

    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = 2  # ids stay: invalid in 4.2, written so by some tools
    return json.dumps(data)


STRUCTURE = {
    "split-answer": "answer cell answer_sigmoid_prime was split",
    "stripped-metadata": "restored from the source",
    "format-4.2-with-ids": None,
    "stderr": None,
    "pasted-test": "pasted again",
    "extra-grade-cell": "the assignment does not have",
}


def test_structure_is_repaired_as_a_teacher_would(course):
    for name in STRUCTURE:
        folder = course.submitted / f"r-{name}" / A
        folder.mkdir(parents=True)
        (folder / "fixture.ipynb").write_text(_variant(name), encoding="utf-8")
    out = _quiet()
    students = [f"r-{n}" for n in STRUCTURE]
    results = {r.student: r for r in grade.grade(course, A, students, jobs=2, out=out)}
    for name, note in STRUCTURE.items():
        r = results[f"r-{name}"]
        assert (r.score, r.status) == (3, "ok"), (name, r.reasons, r.flags)
        if note:
            assert any(note in f for f in r.flags) and r.student in out.getvalue(), r.flags
        else:
            assert not r.needs_review, r.flags


def test_a_250_mib_answer_cannot_take_a_worker_over_its_limit(course):
    """A function returning a 250 MiB int8 array (the kernel's memory allows it): the
    grader never reads it (it is over the largest reply), the worker stays far below its
    own limit, and the rest of the notebook is graded."""
    import nbformat

    nb = nbformat.read(os.path.join(HOSTILE, "full.ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer_sigmoid_prime":
            cell.source = "def sigmoid_prime(z):\n    return np.zeros(250 * 2**20, dtype=np.int8)\n"
    folder = course.submitted / "big" / A
    folder.mkdir(parents=True)
    (folder / "fixture.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    (result,) = grade.grade(course, A, ["big"], jobs=1, out=_quiet())
    assert result.score == 1.0  # test_sigmoid_prime lost, test_hand kept
    peak = result.notebooks["fixture"]["worker_peak_mb"]
    assert peak < grade.WORKER_MEMORY_MB / 4, peak  # 250 MiB never entered the worker
    print(f"worker peak {peak:.0f} MB")


def test_grade_leaves_nothing_in_tmpdir_and_clears_what_a_killed_run_left(course, tmp_path):
    import tempfile

    # a $TMPDIR so long that a job's socket paths under it would not fit a Unix socket's
    # address (107 bytes): grading must not depend on it
    empty = tmp_path / ("tmp-" + "t" * 80)
    stale = empty / f"{grade.RUN_PREFIX}999999999-killed"  # a run killed before it cleaned
    (stale / "job-x").mkdir(parents=True)
    old = tempfile.tempdir
    tempfile.tempdir = str(empty)
    try:
        results = {r.student: r.score for r in grade.grade(course, A, jobs=2, out=_quiet())}
    finally:
        tempfile.tempdir = old
    assert results == {"s1": 3, "s2": 0, "s3": 3, "s4": 3}
    assert list(empty.iterdir()) == []


def test_the_notebook_limit_stops_a_notebook_whose_cells_each_keep_under_theirs(course):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.5)"),
        nbformat.v4.new_code_cell("y = 2"),
    ]
    task = {
        "key": ["s", "a", "n"],
        "notebook": nbformat.writes(nb),
        "cell_timeout": 60,  # the notebook limit fires first
        "notebook_timeout": 8,
        "sandbox": sandbox.BUBBLEWRAP,
    }
    result = sandbox.execute_notebook(task)
    assert result["status"] == "notebook timeout", result["reason"]
    assert "longer than 8 s" in result["reason"]
    ran = nbformat.reads(result["notebook"], as_version=4)
    last = [o for o in ran.cells[2].outputs if o.output_type == "error"]
    assert last and last[0].ename == "GradingAborted"
    # Grading forks its workers from this process, which has just run (and killed) a
    # kernel on an event loop of its own: the workers must not inherit it (they once
    # waited forever for their kernels).
    results = {r.student: r.score for r in grade.grade(course, A, jobs=2, out=_quiet())}
    assert results == {"s1": 3, "s2": 0, "s3": 3, "s4": 3}
