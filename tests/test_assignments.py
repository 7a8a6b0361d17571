"""Every assignment in solutions/, in this process (fast) and through nbgrader (the wiring).

In this process (:mod:`classroom.runner`, no kernel, no nbgrader):

- each planted bug of ``classroom/plants`` loses exactly the test cells it should, and
  each of them shows the catalogue's diagnosis of that bug (every "Likely bug:" line it
  shows is a catalogue entry's, :func:`classroom.mutate.uncatalogued`); each correct
  alternative keeps full marks (the test cells run by the grader's own notebook model
  against a kernel of this process whose ``import course`` is the grader's:
  :mod:`classroom.inprocess`);
- a wrong forward pass (or loss, or dropout) costs only its own cell's points (02–07);
- the solutions earn full marks and the blank release earns nothing.

Through nbgrader, once per assignment: the solutions notebook grades to full marks, the
blank release to zero, and one planted bug loses the same cells as in this process (so
the runner agrees with nbgrader); notebooks/ is what solutions/ generates.
"""

import pytest

from classroom import mutate, runner
from classroom.harness import assignments, notebook_names
from classroom.plants import plants_for
from course import variant_tables
from course.checks import catalogue

ASSIGNMENTS = assignments()


def _plants():
    for a in ASSIGNMENTS:
        for i, p in enumerate(plants_for(a)):
            yield pytest.param(a, p, i, id=f"{a}:{_label(p)}")


def _label(plant):
    """A bug's catalogue id, with its name's qualifier where the assignment plants the bug
    more than once (e.g. "01.node.upstream (add)"); an alternative's name."""
    if not plant.is_bug:
        return plant.name
    return plant.bug + plant.name.removeprefix(catalogue.get(plant.bug).name)


def _variant(assignment, i):
    """Plant `i` of an assignment with variants is graded on variant i mod their number
    (of the course's own table, solutions/<assignment>/variants.json): every variant
    meets some plants, and test_variants grades the solution on each."""
    doc = variant_tables.read_table(runner.SOLUTIONS / assignment)
    if doc is None:
        return None
    k = i % len(doc["variants"])
    return {
        assignment: variant_tables.Assigned(assignment, k, doc["variants"][k], "s", doc["variants"])
    }


@pytest.fixture(scope="module")
def notebooks():
    return {a: runner.read(a) for a in ASSIGNMENTS}


@pytest.mark.parametrize("assignment, plant, index", list(_plants()))
def test_planted(notebooks, assignment, plant, index):
    nb = notebooks[assignment]
    tests = runner.affected_tests(nb, plant.cells)
    assert set(plant.failing) <= tests, "a failing cell cannot see the planted cells"
    # As the grader runs them: handles to the student's names, the library in the grader.
    report = runner.run(nb, plant.cells, tests=tests, variants=_variant(assignment, index))
    if not plant.is_bug:
        lost = {k: c.output for k, c in report.cells.items() if not c.passed}
        assert not lost, f"correct alternative lost points: {lost}"
        return
    assert report.failing() == sorted(plant.failing), {
        k: report.cells[k].output for k in report.failing()
    }
    for gid in plant.failing:
        out = report.cells[gid].output
        assert plant.says.lower() in out.lower(), f"{gid} does not name {plant.says!r}:\n{out}"
        assert "Traceback" not in out, f"{gid} shows a traceback instead of a message:\n{out}"
        # every "Likely bug:" line is a catalogue entry's, as catalogue.likely writes it
        assert not mutate.uncatalogued(assignment, out), f"{gid} names a bug in its own words"
        for line in out.splitlines():
            if "Likely bug:" in line:
                assert mutate.bug_named(assignment, line.strip().removeprefix("✗ ")), line


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_full_and_blank_zero_in_process(notebooks, assignment):
    report = runner.run(notebooks[assignment])
    assert report.score == report.max_score > 0, {
        k: c.output for k, c in report.cells.items() if not c.passed
    }
    blank = runner.run_assignment(assignment, folder=runner.RELEASE)
    assert blank.score == 0, [k for k, c in blank.cells.items() if c.points]


# A wrong forward pass (or loss, or helper) loses its own cell only: every later test
# is handed the network's forward values, or runs with the course's function standing in
# for the student's, and judges against the true answer.  A plant is named by its bug id,
# and by the qualifier of its name where its assignment plants that bug more than once.
FORWARD_ONLY = [
    ("01-chain-rule", "01.h.value", "dh/dx right", {"test-h-forward-backward-value"}),
    ("01-chain-rule", "01.graph.value", None, {"test-graph-forward-backward-value"}),
    ("02-sigmoid-network", "02.forward.transposed", None, {"test-forward"}),
    ("02-sigmoid-network", "02.forward.linear-output", "forward only", {"test-forward"}),
    ("02-sigmoid-network", "02.forward.no-hidden-bias", None, {"test-forward"}),
    ("03-softmax-layer", "03.loss.no-1/N", None, {"test-cross-entropy-loss"}),
    ("03-softmax-layer", "03.loss.sign", None, {"test-cross-entropy-loss"}),
    ("03-softmax-layer", "03.layer.no-sigma", "forward only", {"test-sigmoid-layer-forward"}),
    ("03-softmax-layer", "03.layer.no-bias", "a recomputed", {"test-sigmoid-layer-forward"}),
    ("03-softmax-layer", "03.softmax.not-normalised", None, {"test-softmax"}),
    ("04-backprop-recursion", "04.forward.no-f-output", None, {"test-forward"}),
    ("04-backprop-recursion", "kit.float32", None, {"test-forward"}),
    ("05-training", "05.sgd.no-reshuffle", None, {"test-train-sgd-reshuffle"}),
    ("07-regularization", "07.dropout.out", None, {"test-dropout-forward-mask"}),
    ("07-regularization", "07.l2.missing", None, {"test-l2-loss-and-grads-value"}),
    ("07-regularization", "07.net.J-no-mask", None, {"test-dropout-loss-and-grads-out"}),
    ("07-regularization", "07.dropout.mask-ignored", None, {"test-dropout-forward-mask"}),
]


@pytest.mark.parametrize(
    "assignment, bug, which, cells",
    FORWARD_ONLY,
    ids=[f"{a}:{b}" + (f" ({w})" if w else "") for a, b, w, _ in FORWARD_ONLY],
)
def test_a_wrong_forward_costs_only_its_own_points(notebooks, assignment, bug, which, cells):
    (plant,) = [
        p
        for p in plants_for(assignment)
        if p.bug == bug and (which is None or p.name.endswith(f" ({which})"))
    ]
    report = runner.run(notebooks[assignment], plant.cells)
    assert set(report.failing()) == cells


def test_every_catalogued_bug_of_a_notebook_is_planted():
    """The catalogue is data the tests use: every notebook bug is planted at least once
    (the generic gradient diagnoses are tested in tests/test_gradcheck.py)."""
    planted = {p.bug for a in ASSIGNMENTS for p in plants_for(a) if p.bug}
    known = catalogue.all_bugs()
    assert planted <= set(known)
    unplanted = sorted(
        k for k in known if not k.startswith(("gradcheck.", "kit.")) and k not in planted
    )
    assert not unplanted, unplanted


# ---------------------------------------------------------------- through nbgrader


def _per_assignment():
    return [pytest.param(a, id=a, marks=pytest.mark.xdist_group(a)) for a in ASSIGNMENTS]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", _per_assignment())
def test_solutions_earn_full_marks(course_sandbox, assignment):
    sb = course_sandbox(assignment)
    nbs = {n: sb.read_source(assignment, n) for n in notebook_names(assignment)}
    report = sb.grade(assignment, "solution", nbs)
    assert report.success, report.log
    assert report.max_score > 0
    lost = {k: c.output for k, c in report.cells.items() if c.score < c.max_score}
    assert report.score == report.max_score, f"solution lost points: {lost}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", _per_assignment())
def test_blank_release_scores_zero(course_sandbox, assignment):
    sb = course_sandbox(assignment)
    nbs = {n: sb.read_release(assignment, n) for n in notebook_names(assignment)}
    report = sb.grade(assignment, "blank", nbs)
    assert report.success, report.log
    assert report.max_score > 0
    earned = {k: c.score for k, c in report.cells.items() if c.score > 0}
    assert report.score == 0, f"a blank notebook earned points: {earned}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", _per_assignment())
def test_nbgrader_agrees_with_the_runner_on_a_planted_bug(course_sandbox, notebooks, assignment):
    plant = next(p for p in plants_for(assignment) if p.is_bug)
    sb = course_sandbox(assignment)
    nbs = {n: sb.read_source(assignment, n) for n in notebook_names(assignment)}
    nbs[plant.notebook] = plant.apply(nbs[plant.notebook])
    report = sb.grade(assignment, "plant", nbs)
    assert report.success, report.log
    assert report.failing() == runner.run(notebooks[assignment], plant.cells).failing()
    assert report.failing() == sorted(plant.failing)
    for gid in plant.failing:
        assert plant.says.lower() in report.cells[gid].output.lower()


@pytest.mark.slow
def test_release_in_sync():
    from autograder import release

    assert release.check() == []
