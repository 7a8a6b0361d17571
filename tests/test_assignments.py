"""Every assignment in solutions/, through nbgrader itself.

- the solutions notebook autogrades to full marks;
- the blank release autogrades to zero, without crashing the grader;
- each planted bug (autograder/plants) loses exactly the cells it should, and the
  failing output names the bug; each alternative correct answer keeps full marks;
- notebooks/ is what solutions/ generates.
"""

import pytest

from autograder.plants import plants_for
from classroom.harness import assignments, notebook_names

ASSIGNMENTS = assignments()


def _cases():
    for a in ASSIGNMENTS:
        for p in plants_for(a):
            yield pytest.param(a, p, id=f"{a}:{p.name}", marks=pytest.mark.xdist_group(a))


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
@pytest.mark.parametrize("assignment, plant", list(_cases()))
def test_planted(course_sandbox, assignment, plant):
    sb = course_sandbox(assignment)
    nbs = {n: sb.read_source(assignment, n) for n in notebook_names(assignment)}
    nbs[plant.notebook] = plant.apply(nbs[plant.notebook])
    student = "plant-" + "".join(ch if ch.isalnum() else "-" for ch in plant.name)
    report = sb.grade(assignment, student, nbs)
    assert report.success, report.log
    if not plant.is_bug:
        lost = {k: c.output for k, c in report.cells.items() if c.score < c.max_score}
        assert report.score == report.max_score, f"correct alternative lost points: {lost}"
        return
    assert report.score < report.max_score
    assert report.failing() == sorted(plant.failing), {
        k: report.cells[k].output for k in report.failing()
    }
    for gid in plant.failing:
        out = report.cells[gid].output
        assert plant.says.lower() in out.lower(), (
            f"{gid} does not name the bug {plant.says!r}:\n{out}"
        )
        assert "Traceback" not in out, f"{gid} shows a traceback instead of a message:\n{out}"


@pytest.mark.slow
def test_release_in_sync():
    from autograder import release

    assert release.check() == []
