"""Each student's own numbers (course.variant_tables): the tables, the notebooks on every
variant, and two students graded by the real grader on their own and on each other's."""

import json
import os

import nbformat
import pytest

from autograder import grade
from autograder.course_config import Course
from classroom import fixture, runner, samples
from classroom.plants import plants_for
from course import variant_tables as vt
from course import variants
from course.checks import catalogue

A1 = "01-chain-rule"


def test_every_variant_of_every_table_is_well_posed_and_the_first_is_the_example():
    for assignment, spec in vt.SPECS.items():
        table = vt.generate(assignment, "a key")
        assert len(table) == spec.count
        assert table[0] == spec.example
        for k, numbers in enumerate(table):
            assert spec.problems(numbers) == [], (assignment, k)
        assert table == vt.generate(assignment, "a key")  # the key fixes the table
        assert table[1:] != vt.generate(assignment, "another key")[1:]


@pytest.mark.parametrize("key", ["k", "another", "a third"])
def test_no_two_variants_of_01_share_g_or_f(key):
    table = vt.generate(A1, key)
    for name in ("g_value", "f_value"):
        values = [vt.SPECS[A1].answers(n)[name] for n in table]
        assert len(set(values)) == len(values)


def test_every_hand_bug_of_01_is_in_the_catalogue_and_differs_on_every_variant():
    table = vt.generate(A1, "k")
    for name, bugs in vt.GRAPH_HAND_BUGS.items():
        for bug, model in bugs:
            assert bug in catalogue.all_bugs()
            for numbers in table:
                right = vt.SPECS[A1].answers(numbers)[name]
                assert model(*numbers["point"]) != right, (bug, numbers)


def test_a_table_keeps_its_key_and_variants_and_takes_overrides(tmp_path):
    doc = vt.write_table(tmp_path, A1, "course")
    again = vt.write_table(tmp_path, A1, "course", {"alice": 3})
    assert again["key"] == doc["key"] and again["variants"] == doc["variants"]
    assert vt.index_for(vt.read_table(tmp_path), "alice") == 3
    with pytest.raises(vt.VariantError, match="variants 0 to 15"):
        vt.write_table(tmp_path, A1, "course", {"bob": 16})
    with pytest.raises(vt.VariantError, match="not of"):
        vt.write_table(tmp_path, "02-sigmoid-network", "course")
    (tmp_path / vt.FILE).write_text('{"assignment": 1}')
    with pytest.raises(vt.VariantError, match="not a variant table"):
        vt.read_table(tmp_path)


def test_students_spread_over_the_variants_by_a_keyed_hash(tmp_path):
    doc = vt.write_table(tmp_path, A1, "course")
    seen = {vt.index_for(doc, f"student{i}") for i in range(200)}
    assert len(seen) == len(doc["variants"])
    other = dict(doc, key="another key")
    moved = sum(vt.index_for(doc, f"s{i}") != vt.index_for(other, f"s{i}") for i in range(50))
    assert moved > 30  # the key, not the name alone, decides


def test_the_notebook_says_whose_numbers_it_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.delenv("BACKPROP_STUDENT", raising=False)
    assert "example numbers (variant 0)" in variants.mine(A1)["text"]
    doc = vt.write_table(tmp_path, A1, "course", {"alice": 5})
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    mine = variants.mine(A1)
    assert mine["variant"] == 5 and mine["numbers"] == doc["variants"][5]
    assert "drawn for alice" in mine["text"] and "yours" in mine["text"]
    monkeypatch.setenv("BACKPROP_STUDENT", "bob")  # make lab's id comes first
    assert variants.mine(A1)["student"] == "bob"
    # while grading, the grader's variant and nothing of the environment
    with vt.grading_as({A1: vt.assign(doc, A1, "carol")}):
        assert variants.mine(A1)["student"] == "carol"
    with vt.grading_as({}):
        assert variants.mine(A1)["variant"] == 0


def _as(doc, k):
    return {A1: vt.Assigned(A1, k, doc["variants"][k], f"student-{k}", doc["variants"])}


@pytest.mark.slow
def test_every_variant_of_01_full_marks_and_every_plant_named(tmp_path):
    doc = vt.write_table(tmp_path, A1, "course")
    nb = runner.read(A1)
    for k in range(len(doc["variants"])):
        report = runner.run(nb, variants=_as(doc, k))
        assert report.failing() == [], (k, {g: report.cells[g].output for g in report.failing()})
        for plant in plants_for(A1):
            if not any(c.startswith(("hand-", "graph-forward-values")) for c in plant.cells):
                continue  # the other exercises do not depend on the variant
            tests = runner.affected_tests(nb, plant.cells)
            report = runner.run(nb, plant.cells, tests=tests, variants=_as(doc, k))
            if not plant.is_bug:
                assert report.failing() == [], (k, plant.name)
                continue
            assert report.failing() == sorted(plant.failing), (k, plant.name)
            for gid in plant.failing:
                assert plant.says.lower() in report.cells[gid].output.lower(), (k, plant.name)


def _hand_answers(numbers):
    """The solution with 01's hand answers written as the numbers of `numbers`."""
    answers = vt.SPECS[A1].answers(numbers)
    cells = {
        "graph-forward-values": f"g_value = {answers['g_value']!r}\nf_value = {answers['f_value']!r}\n"
    }
    for name in ("dfdx", "dfdy", "dfdz"):
        cells[f"hand-{name}"] = f"{name} = {answers[name]!r}\n"
    return cells


@pytest.mark.parametrize("key", ["k", "another"])
def test_answers_of_another_variant_are_named_and_flagged(key):
    doc = {"assignment": A1, "key": key, "variants": vt.generate(A1, key)}
    nb = runner.read(A1)
    own = runner.run(nb, _hand_answers(doc["variants"][4]), variants=_as(doc, 4))
    assert own.failing() == []
    theirs = runner.run(nb, _hand_answers(doc["variants"][7]), variants=_as(doc, 4))
    hand = ["test-graph-forward-values", "test-hand-dfdx", "test-hand-dfdy", "test-hand-dfdz"]
    assert theirs.failing() == sorted(hand)
    for gid in hand:
        assert "answers of variant 7" in theirs.cells[gid].output
        assert str(vt.SPECS[A1].answers(doc["variants"][4])["dfdy"]) not in theirs.cells[gid].output


def _students_with_two_variants(doc):
    by_variant = {}
    for i in range(100):
        by_variant.setdefault(vt.index_for(doc, f"s{i:02d}"), f"s{i:02d}")
    (ka, a), (kb, b) = sorted(by_variant.items())[1:3]
    return (a, ka), (b, kb)


def _released_01(tmp_path):
    """(course, its variant table, the release with the solution's answers) of a course
    of 01 made and released for the test."""
    course = Course.load(fixture.make_course(tmp_path / "c", [A1], fixture=False))
    doc = vt.write_table(course.source / A1, A1, "backprop-course")
    grade.generate_release(course, A1)
    release = nbformat.read(course.release / A1 / "chain_rule.ipynb", as_version=4)
    source = nbformat.read(course.source / A1 / "chain_rule.ipynb", as_version=4)
    return course, doc, samples.filled(release, source)


@pytest.mark.slow
def test_two_students_graded_on_their_own_variants_and_on_each_others(tmp_path):
    """The real grader (sandboxed kernels): each student's own numbers earn full marks,
    the other's earn nothing for the hand items, are named and flag the submission."""
    course, doc, solution = _released_01(tmp_path)
    (a, ka), (b, kb) = _students_with_two_variants(doc)
    submissions = {
        f"{a}": (a, ka),  # own numbers
        f"{b}": (b, kb),
    }

    def write(student, numbers):
        nb = runner._with_replacements(solution, _hand_answers(numbers))
        folder = course.submitted / student / A1
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / "chain_rule.ipynb")

    for student, (_, k) in submissions.items():
        write(student, doc["variants"][k])
    results = {r.student: r for r in grade.grade(course, A1, jobs=2, out=open(os.devnull, "w"))}  # noqa: SIM115
    for student, (_, k) in submissions.items():
        r = results[student]
        assert r.score == r.max_score and not r.flags, (student, r.reasons, r.flags)
        assert r.variant == k
    write(a, doc["variants"][kb])  # each answers the other's numbers
    write(b, doc["variants"][ka])
    results = {
        r.student: r
        for r in grade.grade(course, A1, jobs=2, force=True, out=open(os.devnull, "w"))  # noqa: SIM115
    }
    for student, other in ((a, kb), (b, ka)):
        r = results[student]
        assert r.max_score - r.score == 4  # the four hand test cells, a point each
        assert any(f"variant {other}" in f for f in r.flags), r.flags
        fed = json.dumps(
            [
                c.get("outputs")
                for c in nbformat.read(
                    course.autograded / student / A1 / "chain_rule.ipynb", as_version=4
                ).cells
            ]
        )
        assert f"answers of variant {other}" in fed
    assert grade.recorded_variants(course.db_url, A1) == {a: ka, b: kb}


@pytest.mark.slow
def test_hand_answers_written_as_fractions_or_decimals_earn_their_points(tmp_path):
    """An unusual correct answer through the real grader: 01's hand numbers written with
    the standard library's exact numbers (Fraction, Decimal) are the student's numbers."""
    course, doc, solution = _released_01(tmp_path)
    k = vt.index_for(doc, "s01")
    answers = vt.SPECS[A1].answers(doc["variants"][k])
    exact = "from decimal import Decimal\nfrom fractions import Fraction\n"
    cells = {
        "graph-forward-values": exact
        + f"g_value = Fraction({answers['g_value']!r})\n"
        + f"f_value = Decimal({str(answers['f_value'])!r})\n",
        "hand-dfdx": exact + f"dfdx = Fraction({str(answers['dfdx'])!r})\n",
        "hand-dfdy": exact + f"dfdy = Decimal({str(answers['dfdy'])!r})\n",
        "hand-dfdz": exact + f"dfdz = Fraction({answers['dfdz']!r}).limit_denominator()\n",
    }
    folder = course.submitted / "s01" / A1
    folder.mkdir(parents=True)
    nbformat.write(runner._with_replacements(solution, cells), folder / "chain_rule.ipynb")
    (r,) = grade.grade(course, A1, jobs=1, out=open(os.devnull, "w"))  # noqa: SIM115
    assert r.score == r.max_score and not r.flags, (r.reasons, r.flags)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(vt.SPECS))
def test_the_solution_earns_full_marks_on_every_variant_of_the_course_table(assignment):
    """On every variant of the committed table, and the blank release earns nothing
    (test_assignments grades each plant on one of them: plant i on variant i mod their
    number)."""
    doc = vt.read_table(runner.SOLUTIONS / assignment)
    nb, blank = runner.read(assignment), runner.read(assignment, runner.RELEASE)
    for k, numbers in enumerate(doc["variants"]):
        on = {assignment: vt.Assigned(assignment, k, numbers, f"s{k}", doc["variants"])}
        report = runner.run(nb, variants=on)
        assert report.failing() == [], (k, {g: report.cells[g].output for g in report.failing()})
        zero = runner.run(blank, variants=on)
        assert all(c.points == 0 for c in zero.cells.values()), k


@pytest.mark.slow
def test_nbgrader_autograde_grades_on_the_submitters_variant(tmp_path):
    """formgrader's Autograde and `nbgrader autograde` (GradedExecution) take the variant
    from the course's own table too, and record it."""
    from nbgrader.api import Gradebook

    from autograder.workspace import ScratchCourse

    root = fixture.make_course(tmp_path / "c", [A1], fixture=False)
    course = Course.load(root)
    doc = vt.write_table(course.source / A1, A1, "backprop-course")
    sb = ScratchCourse(tmp_path / "scratch", [A1], course=course)
    (a, ka), (_, kb) = _students_with_two_variants(vt.read_table(sb.root / "source" / A1))
    release = sb.read_release(A1, "chain_rule")
    nb = runner._with_replacements(
        samples.filled(release, sb.read_source(A1, "chain_rule")),
        _hand_answers(doc["variants"][kb]),
    )
    folder = sb.root / "submitted" / a / A1
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "chain_rule.ipynb")
    with Gradebook(sb.db_url) as gb:
        gb.update_or_create_student(a)
    result = sb.api.autograde(A1, a, force=True)
    assert result["success"], result.get("log")
    with Gradebook(sb.db_url) as gb:
        sub = gb.find_submission(A1, a)
        assert sub.max_score - sub.score == 4
        assert all(n.flagged for n in sub.notebooks)
    assert grade.recorded_variants(sb.db_url, A1) == {a: ka}


def test_make_lab_asks_the_id_once_and_the_notebook_shows_that_students_numbers(tmp_path):
    """`make lab`'s steps: the edition in a working folder (the variant table with each
    release notebook), the id asked once and kept, a kernel there draws that student's."""
    import subprocess
    import sys

    from backprop_hub import edition, student_id

    work = tmp_path / "lab"
    edition.prepare_workdir(work)
    table = work / "notebooks" / A1 / vt.FILE
    assert table.is_file()
    answers = iter(["not an id!", "alice"])
    env_before = os.environ.pop("BACKPROP_STUDENT", None)
    try:
        assert student_id.student_id(work, ask=lambda _: next(answers)) == "alice"
        assert student_id.student_id(work, ask=lambda _: pytest.fail("asked twice")) == "alice"
    finally:
        if env_before is not None:
            os.environ["BACKPROP_STUDENT"] = env_before
    table.write_text("{}")  # a stale or broken table is replaced on the next start
    edition.prepare_workdir(work)
    doc = vt.read_table(table.parent)
    code = "from course import variants; import json; print(json.dumps(variants.mine('01-chain-rule')))"
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER", "BACKPROP_STUDENT")}
    env.update(PYTHONPATH=str(work / "lib"), BACKPROP_STUDENT="alice")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=table.parent, env=env, capture_output=True, text=True
    )
    mine = json.loads(out.stdout)
    assert (
        mine["student"] == "alice"
        and mine["numbers"] == doc["variants"][vt.index_for(doc, "alice")]
    )


@pytest.mark.slow
def test_the_demo_class_has_a_student_with_a_classmates_numbers(tmp_path):
    root = fixture.make_course(tmp_path / "c", [A1], fixture=False)
    course = Course.load(root)
    vt.write_table(course.source / A1, A1, "backprop-course")
    grade.generate_release(course, A1)
    manifest = samples.generate(course, tmp_path / "class", [A1], seed=0, hostile=[])
    student, whose, k = samples.add_other_variant(course, tmp_path / "class", manifest)[A1]
    assert manifest[A1][student]["kind"] == "other-variant"
    folder = course.submitted / student / A1
    folder.mkdir(parents=True)
    for path in (tmp_path / "class" / A1 / student).glob("*.ipynb"):
        (folder / path.name).write_bytes(path.read_bytes())
    (r,) = grade.grade(course, A1, [student], jobs=1, out=open(os.devnull, "w"))  # noqa: SIM115
    assert r.max_score - r.score == 4 and r.variant != k
    assert any(f"variant {k}" in f for f in r.flags), r.flags


@pytest.mark.slow
def test_sequential_nbgrader_grades_the_same_variant(course_sandbox):
    """Stock nbgrader (test cells in the kernel, the kernel knowing its student as a
    student's own does) gives a student's own numbers full marks and a classmate's none,
    as backprop-grade does."""
    sb = course_sandbox(A1)
    doc = vt.read_table(sb.root / "source" / A1)
    (a, ka), (_, kb) = _students_with_two_variants(doc)
    assert ka != 0 and kb != 0
    filled = samples.filled(sb.read_release(A1, "chain_rule"), sb.read_source(A1, "chain_rule"))
    own = sb.grade(
        A1, a, {"chain_rule": runner._with_replacements(filled, _hand_answers(doc["variants"][ka]))}
    )
    assert own.score == own.max_score, own.log
    theirs = sb.grade(
        A1, a, {"chain_rule": runner._with_replacements(filled, _hand_answers(doc["variants"][kb]))}
    )
    assert own.max_score - theirs.score == 4
    assert f"answers of variant {kb}" in theirs.cells["test-hand-dfdy"].output
