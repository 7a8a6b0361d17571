"""The autograder end to end through the real nbgrader, on a generated sample class.

One class of the fixture assignment (every hostile case) is collected from its LMS zip
and graded once in parallel; the tests then check what each kind of student got, that
the scores equal sequential ``nbgrader autograde`` on the same files, that regrading is
idempotent and leaves the other students alone, the dask path, and the feedback /
export / report commands.  The course's real assignments are graded too.
"""

import csv
import io
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import cli, collect, feedback, grade
from autograder.course_config import Course
from classroom import fixture, samples
from classroom.harness import assignments as repo_assignments
from classroom.plants import plants_for

# one xdist worker builds the graded class once (module-scoped fixture)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("autograder")]

A = fixture.ASSIGNMENT
# The notebook limit only has to stop a runaway here (test_grade_run checks it works);
# CI runs two test workers on two cores, and a kernel start in bubblewrap under that load
# once took a fixture notebook past 20 s.
CELL_TIMEOUT, NOTEBOOK_TIMEOUT = 5, 120


def _scores(course, assignment):
    """student -> (total, {grade_id: score}) from the gradebook."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(course.db_url) as gb:
        for sub in gb.find_assignment(assignment).submissions:
            cells = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            out[sub.student.id] = (sub.score, cells)
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("agcourse") / "course"
    fixture.make_course(root)
    course = Course.load(root)
    grade.generate_release(course, A)
    manifest = samples.generate(course, root.parent / "class", seed=0)[A]
    rep = collect.collect(course, A, root.parent / "class" / f"{A}.zip")
    assert rep.duplicates and rep.unreadable
    results = grade.grade(
        course,
        A,
        jobs=2,
        cell_timeout=CELL_TIMEOUT,
        notebook_timeout=NOTEBOOK_TIMEOUT,
        out=open(os.devnull, "w"),  # noqa: SIM115
    )
    return course, manifest, {r.student: r for r in results}


def test_every_kind_of_student_gets_what_it_earned(graded):
    course, manifest, results = graded
    from nbgrader.api import Gradebook

    assert set(results) == set(manifest)
    with Gradebook(course.db_url) as gb:
        review = {s.student.id: s.needs_manual_grade for s in gb.find_assignment(A).submissions}
    for student, info in manifest.items():
        r, expect = results[student], info["expect"]
        assert r.max_score == 3, student
        if expect["score"] == "full":
            assert r.score == r.max_score, (student, r)
        elif expect["score"] == "zero":
            assert r.score == 0, (student, r)
        else:
            assert r.score < r.max_score, (student, r)
        assert r.status == expect.get("status", "ok"), (student, r.status, r.reasons)
        if expect.get("status"):
            assert r.reasons, student
        assert r.needs_review == bool(expect.get("flagged")), (student, r.flags)
        crashes = [c for nb in r.notebooks.values() for c in nb.get("crashes", [])]
        assert bool(crashes) == bool(expect.get("crashed")), (student, crashes)
        # nbgrader leaves a submission it could not run as "needs manual grade"
        could_not_run = expect.get("status") in ("invalid JSON", "missing notebook")
        assert review[student] == bool(expect.get("flagged") or could_not_run), student


def test_hostile_cases_in_detail(graded):
    course, manifest, results = graded
    by_kind = {info["kind"]: results[s] for s, info in manifest.items()}
    # a cell that aborts the kernel costs that cell: the hand number in it scores 0, the
    # answer before it keeps its points, and the feedback says which cell and why
    crash = by_kind["kernel-crash"]
    assert crash.status == "ok" and crash.score == 2
    (c,) = [c for nb in crash.notebooks.values() for c in nb["crashes"]]
    assert "abort" in c["cause"]
    assert c["cost"] == [{"test": "test_hand", "points": 1.0, "needs": "hand"}]
    # tampering with the checks earns nothing (the grader runs the tests), and is named
    tamper = by_kind["tamper"]
    assert tamper.score == 0
    assert any("rebinds check_close" in f for f in tamper.flags)
    # snooping finds nothing to read in the sandbox; the honest answers still count
    snoop = by_kind["snoop"]
    assert snoop.score == snoop.max_score and snoop.needs_review
    # restored test cells: the blank answer under the edited/deleted test scores 0 there
    for kind in ("edited-test", "deleted-test"):
        r = by_kind[kind]
        assert any("test_sigmoid_prime" in f for f in r.flags)
        assert _scores(course, A)[r.student][1]["test_sigmoid_prime"] == 0
    # the loop that ignores KeyboardInterrupt is stopped; the cells before it still count
    stuck = by_kind["loop-ignores-interrupt"]
    assert "did not stop when interrupted" in stuck.reasons[0]
    assert _scores(course, A)[stuck.student][1]["test_sigmoid_prime"] == 2
    assert "memory" in by_kind["memory-hog"].reasons[0]
    assert _scores(course, A)[crash.student][1]["test_sigmoid_prime"] == 2
    assert by_kind["corrupt-file"].reasons[0].startswith("invalid JSON")
    assert "not valid JSON at line" in by_kind["corrupt-file"].reasons[0]  # where, no dump
    assert by_kind["missing-notebook"].reasons == ["missing notebook: fixture.ipynb"]


#: Kinds that plain nbgrader grades the same way (the others hang it, exhaust memory,
#: earn tampered credit, or make it record nothing).
PARITY = {
    "correct",
    "blank",
    "half-done",
    "syntax-error",
    "edited-test",
    "deleted-test",
    "snoop",
    "corrupt-file",
}


def test_parallel_scores_equal_sequential_nbgrader_autograde(graded, tmp_path):
    """Honest work: `backprop-grade grade` and stock nbgrader (its own Execute, test cells
    in the kernel) give every student and every cell the same score."""
    course, manifest, _ = graded
    copy = tmp_path / "seq"
    (copy / "submitted").mkdir(parents=True)
    shutil.copy(course.root / "nbgrader_config.py", copy)
    with open(copy / "nbgrader_config.py", "a", encoding="utf-8") as f:  # stock nbgrader
        f.write(
            "\nfrom autograder.execution import stock_preprocessors\n"
            "c.Autograde.autograde_preprocessors = stock_preprocessors()\n"
        )
    shutil.copytree(course.source, copy / "solutions")
    students = sorted(s for s, info in manifest.items() if info["kind"] in PARITY)
    for s in students:
        shutil.copytree(course.submitted / s, copy / "submitted" / s)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run(
        [*nbgrader, "generate_assignment", A, "--force"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run([*nbgrader, "autograde", A], cwd=copy, env=env, capture_output=True)
    sequential = _scores(Course.load(copy), A)
    parallel = _scores(course, A)
    assert set(sequential) == set(students)
    for s in students:
        assert parallel[s] == sequential[s], s


def test_regrade_is_idempotent_and_leaves_other_students_untouched(graded):
    course, manifest, _ = graded
    before = _scores(course, A)
    others = {
        s: (course.autograded / s / A / "fixture.ipynb").stat().st_mtime_ns
        for s in manifest
        if (course.autograded / s / A / "fixture.ipynb").exists()
    }
    # nothing to do without --force
    again = grade.grade(course, A, out=open(os.devnull, "w"))  # noqa: SIM115
    assert all(r.skipped for r in again)
    assert _scores(course, A) == before
    chosen = sorted(s for s, i in manifest.items() if i["kind"] in ("correct", "tamper"))
    redo = grade.grade(
        course,
        A,
        students=chosen,
        force=True,
        jobs=2,
        cell_timeout=CELL_TIMEOUT,
        out=open(os.devnull, "w"),  # noqa: SIM115
    )
    assert sorted(r.student for r in redo if not r.skipped) == chosen
    assert _scores(course, A) == before
    for s, mtime in others.items():
        if s not in chosen:
            assert (course.autograded / s / A / "fixture.ipynb").stat().st_mtime_ns == mtime


def test_grade_command_prints_progress_and_summary(graded, capsys):
    course, manifest, _ = graded
    before = _scores(course, A)
    correct = sorted(s for s, i in manifest.items() if i["kind"] == "correct")
    args = ["--root", str(course.root), "grade", A, "--jobs", "1", "--timeout", "5"]
    assert cli.main([*args, "--student", correct[0], "--force"]) == 0
    out = capsys.readouterr().out
    assert "[1/1]" in out and f"{correct[0]}: ok" in out and "/s" in out
    assert "1 graded, 0 skipped" in out and "sandbox: " in out
    assert cli.main([*args, "--student", correct[0], "--student", "nobody"]) == 0
    out = capsys.readouterr().out
    assert "already graded, skipped" in out and "no submission of" in out and "nobody" in out
    assert _scores(course, A) == before


def test_dask_local_cluster_gives_the_same_scores(graded):
    distributed = pytest.importorskip("distributed")
    course, manifest, _ = graded
    before = _scores(course, A)
    address_space = resource.getrlimit(resource.RLIMIT_AS)
    chosen = sorted(s for s, i in manifest.items() if i["kind"] in ("correct", "half-done"))
    # an in-process cluster, reached by its address as `--scheduler ADDRESS` does
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        res = grade.grade(
            course,
            A,
            students=chosen,
            force=True,
            scheduler=cluster.scheduler_address,
            cell_timeout=CELL_TIMEOUT,
            out=open(os.devnull, "w"),  # noqa: SIM115
        )
    workers = {nb["worker"] for r in res for nb in r.notebooks.values()}
    assert workers == {f"{os.uname().nodename}:{os.getpid()}"}  # ran in the dask threads
    # this process is not a grading worker: its address space is left as it was
    assert resource.getrlimit(resource.RLIMIT_AS) == address_space
    assert [r.student for r in res if not r.skipped] == chosen
    assert _scores(course, A) == before


def test_feedback_export_report_commands(graded, capsys):
    """Every hostile kind gets a feedback page without hidden tests, a CSV row and a place
    in the report (the details: tests/test_after_grading.py, tests/test_feedback.py)."""
    course, manifest, results = graded
    root = str(course.root)
    assert cli.main(["--root", root, "feedback", A]) == 0
    source = nbformat.read(course.source / A / "fixture.ipynb", as_version=4)
    hidden = feedback.hidden_lines(source)
    assert hidden
    pages = sorted(course.feedback.glob(f"*/{A}/fixture.html"))
    assert len(pages) == len(manifest)  # unreadable and missing notebooks get a page too
    missing = next(s for s, i in manifest.items() if i["kind"] == "missing-notebook")
    assert "missing notebook" in (course.feedback / missing / A / "fixture.html").read_text()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert fixture.HIDDEN_MARK not in text and "HIDDEN TESTS" not in text
        for line in hidden:
            assert line not in text, (page, line)
    half = next(s for s, i in manifest.items() if i["kind"] == "half-done")
    page = (course.feedback / half / A / "fixture.html").read_text(encoding="utf-8")
    assert "2 / 3" in page and "name 'hand' is not defined" in page

    out_csv = course.root / "out" / "grades.csv"
    assert cli.main(["--root", root, "export", "-o", str(out_csv)]) == 0
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert len(rows) == len(manifest)
    by = {r["student_id"]: r for r in rows}
    correct = next(s for s, i in manifest.items() if i["kind"] == "correct")
    assert by[correct]["score"] == "3" and by[correct]["raw_score"] == "3"
    tamper = next(s for s, i in manifest.items() if i["kind"] == "tamper")
    assert by[tamper]["needs_review"] == "yes" and by[tamper]["score"] == "0"

    assert cli.main(["--root", root, "report"]) == 0
    html = (course.root / "reports" / "report.html").read_text(encoding="utf-8")
    # a distribution per assignment and the hardest items (this class has no diagnoses)
    assert html.count("data:image/png;base64,") >= 2
    for s, r in results.items():
        if r.failed or r.needs_review:
            assert s in html
    assert "report:" in capsys.readouterr().out


REAL = repo_assignments()


@pytest.mark.parametrize("assignment", REAL)
def test_real_assignment_through_the_trusted_path(assignment, tmp_path):
    """The course's own notebooks through backprop-grade (sandboxed kernels, test cells run
    by the grader): the solution, every correct alternative and the work students really
    send (stderr, lists for tuples, a split answer cell, stripped metadata) earn full
    marks; the blank release scores zero; a float32 forward and the sampled bugs lose
    exactly their cells, and say why."""
    root = fixture.make_course(tmp_path / "c", assignments=[assignment], fixture=False)
    course = Course.load(root)
    grade.generate_release(course, assignment)
    plants = plants_for(assignment)
    manifest = samples.generate(course, tmp_path / "class", [assignment], hostile=[])[assignment]
    kinds = {"correct", "blank", "bug", *samples.FAIRNESS}
    keep = {s for s, i in manifest.items() if i["kind"] in kinds}
    for s in keep:
        shutil.copytree(tmp_path / "class" / assignment / s, tmp_path / "in" / s)
    alternatives = {}
    for k, plant in enumerate(p for p in plants if not p.is_bug):
        release = nbformat.read(course.release / assignment / f"{plant.notebook}.ipynb", 4)
        source = nbformat.read(course.source / assignment / f"{plant.notebook}.ipynb", 4)
        folder = tmp_path / "in" / f"alt{k:02d}"
        folder.mkdir(parents=True)
        nbformat.write(
            plant.apply(samples.filled(release, source)), folder / f"{plant.notebook}.ipynb"
        )
        alternatives[folder.name] = plant.name
    collect.collect(course, assignment, tmp_path / "in")
    out = io.StringIO()
    res = {r.student: r for r in grade.grade(course, assignment, jobs=2, out=out)}
    scores = _scores(course, assignment)
    for s, r in res.items():
        kind = manifest[s]["kind"] if s in manifest else "alternative"
        expect = samples.EXPECT[kind]
        if expect["score"] == "full":
            assert r.score == r.max_score > 0, (
                s,
                alternatives.get(s),
                r.reasons,
                _failing(course, s),
            )
        elif expect["score"] == "zero":
            assert r.score == 0, s
        plant = next((p for p in plants if p.name == manifest.get(s, {}).get("plant")), None)
        if expect["score"] not in ("full", "zero"):
            lost = sorted(g for g, v in scores[s][1].items() if v < _max(course, assignment, g))
            assert lost == sorted(plant.failing), (s, plant.name)
        flagged = expect.get("flagged") or (plant is not None and plant.flagged)
        assert r.needs_review == bool(flagged), (s, r.flags)
        if expect.get("says"):
            said = " ".join(r.flags) + _failing(course, s)
            assert expect["says"] in said, (s, said)
            if expect.get("flagged"):
                assert s in out.getvalue()


def _failing(course, student):
    """The text of the failing test cells of a student's graded notebooks."""
    texts = []
    for path in (course.autograded / student).rglob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            for o in cell.get("outputs", []):
                if o.get("output_type") == "error":
                    texts.append(str(o.get("evalue", "")))
    return " ".join(texts)


def _max(course, assignment, grade_id):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        for nb in gb.find_assignment(assignment).notebooks:
            for gc in nb.grade_cells:
                if gc.name == grade_id:
                    return gc.max_score
    raise KeyError(grade_id)
