"""The hostile corpus (tests/hostile/) graded through `backprop-grade grade`.

Every attack of issues 10 and 11 is a committed notebook of the fixture assignment.
They are graded in one run with ``--jobs 2``, between honest students (a full and a
blank notebook sorted before them and after them).  For each: the honest students
score exactly what they score alone, the attacker scores what the same notebook scores
without its attack, the course root is unchanged except for grading's own records, no
process outlives grading, and the summary names the attacker with a reason.
"""

import hashlib
import io
import json
import resource
import uuid
from pathlib import Path

import nbformat
import pytest

from autograder import grade, sandbox
from autograder.course_config import Course
from classroom import fixture

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("autograder")]

HERE = Path(__file__).resolve().parent / "hostile"
CASES = json.loads((HERE / "cases.json").read_text())
A = fixture.ASSIGNMENT
HONEST = {"a1-full": "full", "a2-blank": "blank", "z1-full": "full", "z2-blank": "blank"}
BASELINE = {"full": (3.0, {"test_sigmoid_prime": 2.0, "test_hand": 1.0}), "blank": (0.0, {})}
#: What grading itself writes into the course root.
RECORDS = {"gradebook.db", "gradebook.db-journal", "autograded", "grading-records", "feedback"}
#: Set in the environment of this run's kernels: every process they start inherits it.
TOKEN = f"BACKPROP_HOSTILE_RUN={uuid.uuid4().hex}".encode()


def _tree_hash(root):
    """sha256 of every file under `root` except grading's own records."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in RECORDS or p.is_dir():
            continue
        h.update(str(rel).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _marked_processes():
    """Processes started by this run's kernels (they carry TOKEN in their environment)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                env = (proc / "environ").read_bytes()
            except OSError:
                continue
            if TOKEN in env.split(b"\0"):
                found.add(int(proc.name))
    return found


def _deep_notebook(depth=200_000):
    return '{"cells": ' + "[" * depth + "]" * depth + ', "metadata": {}}'


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    sandbox.require_sandbox(sandbox.BUBBLEWRAP)  # a missing bwrap fails here, loudly
    root = tmp_path_factory.mktemp("hostile") / "course"
    fixture.make_course(root)
    course = Course.load(root)
    grade.generate_release(course, A)
    students = dict(HONEST) | {f"h-{c}": c for c in CASES}
    for student, case in students.items():
        folder = course.submitted / student / A
        folder.mkdir(parents=True)
        text = (HERE / "fixture" / f"{case}.ipynb").read_text(encoding="utf-8")
        (folder / "fixture.ipynb").write_text(text.replace("@@COURSE_ROOT@@", str(root)))
    deep = course.submitted / "h-deep-json" / A
    deep.mkdir(parents=True)
    (deep / "fixture.ipynb").write_text(_deep_notebook())
    before = _tree_hash(root)
    procs = _marked_processes()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = io.StringIO()
    name, value = TOKEN.decode().split("=")
    results = grade.grade(
        course, A, jobs=2, cell_timeout=10, notebook_timeout=120, out=out, kernel_env={name: value}
    )
    return {
        "course": course,
        "results": {r.student: r for r in results},
        "summary": out.getvalue(),
        "hash": (before, _tree_hash(root)),
        "procs": (procs, _marked_processes()),
        "rss_growth_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss,
    }


def _cells(course, student):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        sub = gb.find_submission(A, student)
        return sub.score, {g.name: g.score for nb in sub.notebooks for g in nb.grades if g.score}


def test_honest_students_score_as_alone(hostile):
    for student, kind in HONEST.items():
        assert _cells(hostile["course"], student) == BASELINE[kind], student
        assert hostile["results"][student].status == "ok"
        assert not hostile["results"][student].needs_review


@pytest.mark.parametrize("case", sorted(CASES))
def test_attack_scores_what_it_scores_without_the_attack(hostile, case):
    spec = CASES[case]
    r = hostile["results"][f"h-{case}"]
    assert _cells(hostile["course"], r.student) == BASELINE[spec["baseline"]], (r.reasons, r.flags)
    if spec["status"]:
        assert r.status == spec["status"], r.reasons
    else:
        assert r.status in ("ok", *grade.FAILURES)
    if r.failed:
        assert r.reasons and r.student in hostile["summary"]
    if spec["flag"]:
        assert any(spec["flag"] in f for f in r.flags), r.flags
        assert r.needs_review and r.student in hostile["summary"]


def test_the_course_root_is_unchanged_except_for_grading_records(hostile):
    before, after = hostile["hash"]
    assert before == after


def test_no_process_outlives_grading(hostile):
    before, after = hostile["procs"]
    assert before == set() and after == set()


def test_a_200000_deep_notebook_is_named_and_does_not_stop_the_run(hostile):
    r = hostile["results"]["h-deep-json"]
    assert r.status == "invalid JSON" and "nested deeper" in r.reasons[0]
    assert "h-deep-json" in hostile["summary"] and r.score == 0


def test_a_flood_of_output_stays_bounded(hostile):
    course = hostile["course"]
    path = course.autograded / "h-output-flood" / A / "fixture.ipynb"
    assert path.stat().st_size < 4 * sandbox.CELL_OUTPUT_LIMIT
    text = nbformat.read(path, as_version=4)
    assert "output truncated by the grader" in json.dumps(text)
    # 64 x 8 MB printed: the grader's own process did not hold it
    assert hostile["rss_growth_kb"] < 1024 * 1024


def test_every_job_ran_in_bubblewrap_with_limits(hostile):
    for r in hostile["results"].values():
        assert r.sandbox == sandbox.BUBBLEWRAP
        for nb in r.notebooks.values():
            assert "address space per process" in nb["limits"]
    assert "sandbox: bubblewrap" in hostile["summary"]


def test_formgraders_autograde_takes_the_trusted_path_and_keeps_the_flag(hostile):
    """What formgrader's Autograde button runs (NbGraderAPI.autograde, the course's
    nbgrader_config.py): a forging submission, flagged by `backprop-grade grade`, regraded
    there: the same trusted score (sandbox, test cells by the grader), the flag kept."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    course = hostile["course"]
    student = "h-displayhook"
    before = _cells(course, student)

    def review():
        with Gradebook(course.db_url) as gb:
            nb = gb.find_submission_notebook("fixture", A, student)
            return nb.flagged, sorted(g.name for g in nb.grades if g.needs_manual_grade)

    flagged = review()
    assert flagged[0] and flagged[1], "grade flagged it for review"
    api = NbGraderAPI(CourseDirectory(config=course.config), config=course.config)
    result = api.autograde(A, student, force=True)
    assert result["success"], result.get("log")
    assert _cells(course, student) == before == BASELINE["blank"]
    assert review() == flagged


# -- the course's notebooks: the student's own work, judged by the true answer -----------
#
# issues 11 and 18: a backward that is not backpropagation, forwards that lie or tell the
# checker's calls apart, course code rewritten in the kernel, the library's answers, a
# huge answer, an extra graded cell.  Each assignment's cases are graded in one run with
# their baselines (the same work without the trick).

NOTEBOOK_CASES = {
    p.stem.split("-", 1)[1]: json.loads(p.read_text()) for p in sorted(HERE.glob("cases-*.json"))
}
ASSIGNMENTS = {
    nb: next(d.name for d in HERE.iterdir() if d.is_dir() and d.name.startswith(nb + "-"))
    for nb in NOTEBOOK_CASES
}
PARAMS = [
    pytest.param(ASSIGNMENTS[nb], case, id=f"{ASSIGNMENTS[nb]}:{case}")
    for nb, cases in NOTEBOOK_CASES.items()
    for case in sorted(cases)
]


@pytest.fixture(scope="module")
def graded_notebooks(tmp_path_factory):
    """Every assignment's cases and baselines, graded (one course, one run each)."""
    root = tmp_path_factory.mktemp("notebooks") / "course"
    assignments = sorted(ASSIGNMENTS.values())
    fixture.make_course(root, assignments=assignments, fixture=False)
    course = Course.load(root)
    found = {}
    for assignment in assignments:
        grade.generate_release(course, assignment)
        (name,) = {p.name for p in (course.source / assignment).glob("*.ipynb")}
        for path in sorted((HERE / assignment).glob("*.ipynb")):
            target = course.submitted / path.stem / assignment
            target.mkdir(parents=True)
            (target / name).write_bytes(path.read_bytes())
        out = io.StringIO()
        results = grade.grade(course, assignment, jobs=2, out=out)
        found[assignment] = ({r.student: r for r in results}, out.getvalue())
    return course, found


def _cell_scores(course, assignment, student):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        sub = gb.find_submission(assignment, student)
        return {g.name: g.score for nb in sub.notebooks for g in nb.grades}


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENTS.values()))
def test_the_full_baseline_earns_full_marks(graded_notebooks, assignment):
    course, found = graded_notebooks
    results, _ = found[assignment]
    assert results["full"].score == results["full"].max_score, results["full"].reasons


@pytest.mark.parametrize("assignment, case", PARAMS)
def test_a_trick_scores_what_the_same_work_earns_without_it(graded_notebooks, assignment, case):
    course, found = graded_notebooks
    results, summary = found[assignment]
    spec = NOTEBOOK_CASES[assignment[:2]][case]
    expected = _cell_scores(course, assignment, spec["baseline"])
    for grade_id in spec["lose"]:
        expected[grade_id] = 0.0
    assert _cell_scores(course, assignment, case) == expected, results[case].reasons
    assert results[case].status == spec["status"], results[case].reasons
    if spec["flag"]:
        assert any(spec["flag"] in f for f in results[case].flags), results[case].flags
        assert case in summary


def test_numerical_differentiation_is_named_in_the_verdict(graded_notebooks):
    course, _ = graded_notebooks
    import nbformat

    path = course.autograded / "fd-backward" / "04-backprop-recursion" / "backprop_recursion.ipynb"
    nb = nbformat.read(path, as_version=4)
    (cell,) = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test-backward-W1"
    ]
    assert "numerical differentiation" in json.dumps(cell.outputs)


def test_a_grading_kernel_holds_no_course_code_while_a_check_runs():
    """The kernel's sys.modules, read by a test cell while it runs: the course is only the
    grader's stubs (no file behind any of them), and neither the grader nor the test
    support is there; what a course function computes, the grader computed."""
    import nbformat

    from classroom import nbbuild as nbb

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbb.solution(
            "import sys\n"
            "import numpy as np\n"
            "from course import network, grading\n"
            "from course.checks import chain_rule as checks\n"
            "from course.activations import sigmoid\n"
            "def modules():\n"
            "    found = []\n"
            "    for name, mod in sorted(sys.modules.items()):\n"
            "        if name.split('.')[0] in ('course', 'autograder', 'classroom', 'backprop_agent'):\n"
            "            found.append((name, type(mod).__name__, getattr(mod, '__file__', None)))\n"
            "    return found\n"
            "def pid():\n"
            "    import os\n"
            "    return os.getpid()\n",
            "answer",
        ),
        nbb.tests(
            "import os\n"
            "found = modules()\n"
            "kinds = {name: kind for name, kind, _ in found}\n"
            "assert kinds['course.network'] == 'CourseModule', kinds\n"
            "assert kinds['course.checks.chain_rule'] == 'CourseModule', kinds\n"
            "for name, kind, path in found:\n"
            "    top = name.split('.')[0]\n"
            "    assert top in ('course', 'backprop_agent'), name\n"
            "    assert top != 'course' or (kind == 'CourseModule' and path is None), (name, path)\n"
            "assert 'backprop_agent.agent' in kinds  # the agent, and the wire format\n"
            "assert pid() != os.getpid()  # the kernel is another process than this check's\n",
            "t",
            1,
        ),
    ]
    task = {
        "key": ["s", "a", "n"],
        "notebook": nbformat.writes(nb),
        "cell_timeout": 60,
        "notebook_timeout": 120,
        "sandbox": sandbox.BUBBLEWRAP,
    }
    result = sandbox.execute_notebook(task)
    ran = nbformat.reads(result["notebook"], as_version=4)
    errors = [o for o in ran.cells[1].outputs if o.output_type == "error"]
    assert result["status"] == "ok" and not errors, (result["reason"], errors)
