"""classroom.plants: every plant is an edit of the solutions that fails loudly when the
solution drifts from it (no grading here: tests/test_assignments.py grades the plants)."""

import re
import shutil

import nbformat
import pytest

from classroom.harness import assignments
from classroom.plants import (
    ALTERNATIVE,
    BODY,
    CELL,
    Plant,
    PlantError,
    bug,
    edit_solution,
    plants_for,
    sub,
)
from classroom.runner import SOLUTIONS
from course.checks import catalogue

PLANTS = [p for a in assignments() for p in plants_for(a)]


def test_every_plant_applies_to_the_solutions_and_names_a_catalogued_bug():
    known = catalogue.all_bugs()
    for plant in PLANTS:
        cells = plant.cells  # raises PlantError, naming the plant, when an edit is stale
        assert cells and all(cells.values()), plant.name
        if plant.is_bug:
            assert plant.key == plant.bug and plant.bug in known, (plant.name, plant.bug)
            assert plant.says, plant.name
        else:
            assert plant.key == ALTERNATIVE and plant.bug is None, plant.name


def test_a_bug_plant_is_keyed_by_a_catalogue_id_and_an_alternative_by_none():
    edits = {"train-sgd": (("params[k] = params[k] - lr", "params[k] = params[k] + lr"),)}
    with pytest.raises(PlantError, match="not a catalogue id"):
        bug("the sign is flipped", "training", edits, ("test-train-sgd-step",))
    with pytest.raises(PlantError, match="an alternative has neither"):
        Plant("a bug without its id", "training", edits, ("test-train-sgd-step",))
    with pytest.raises(PlantError, match="an alternative has neither"):
        Plant("an alternative with an id", "training", edits, bug="05.sgd.sign")
    assert bug("05.sgd.sign", "training", edits, ("test-train-sgd-step",)).key == "05.sgd.sign"


def test_a_bug_plant_is_named_by_the_catalogue_and_qualified_only_where_needed():
    edits = {"train-sgd": (sub("params[k] = params[k] - lr", "-", "+"),)}
    sign = catalogue.get("05.sgd.sign").name
    assert bug("05.sgd.sign", "training", edits, ("test-train-sgd-step",)).name == sign
    twice = bug("05.sgd.sign", "training", edits, ("test-train-sgd-step",), which="again")
    assert twice.name == f"{sign} (again)"
    for plant in PLANTS:
        if plant.is_bug:
            assert re.fullmatch(
                rf"{re.escape(catalogue.get(plant.bug).name)}( \(.+\))?", plant.name
            )


def test_a_sub_edit_changes_a_part_that_is_once_in_its_line():
    assert sub("a.grad += out.grad", "+=", "=") == ("a.grad += out.grad", "a.grad = out.grad")
    with pytest.raises(PlantError, match="2 times"):
        sub("z - z.max(axis=0)", "z", "y")


def test_plant_names_are_unique_per_assignment():
    for a in assignments():
        names = [p.name for p in plants_for(a)]
        assert len(names) == len(set(names)), a


def _drifted_copy(tmp_path, assignment, notebook, grade_id, old, new):
    """solutions/ with `old` replaced by `new` in one answer cell (a solution that moved on)."""
    root = tmp_path / "solutions"
    (root / assignment).mkdir(parents=True)
    path = root / assignment / f"{notebook}.ipynb"
    shutil.copy(SOLUTIONS / assignment / f"{notebook}.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)
    return root


@pytest.mark.parametrize("assignment", assignments())
def test_a_plant_fails_naming_itself_when_the_solution_no_longer_has_its_text(tmp_path, assignment):
    plant, grade_id, old = next(
        (p, g, old)
        for p in plants_for(assignment)
        if p.is_bug
        for g, edits in p.edits.items()
        for old, _ in edits
        if old not in (BODY, CELL)
    )
    root = _drifted_copy(tmp_path, assignment, plant.notebook, grade_id, old, "pass  # rewritten")
    assert plant.build() == plant.cells  # the real solutions still take the edit
    with pytest.raises(
        PlantError, match=rf"plant {re.escape(repr(plant.name))}.*{grade_id}.*0 times"
    ):
        plant.build(root)


def test_an_edit_of_text_that_occurs_twice_is_refused():
    with pytest.raises(PlantError, match="2 times"):
        edit_solution("training", "train-sgd", [("params[k]", "x")], plant="twice")


def test_a_body_edit_replaces_the_answer_between_the_markers():
    source = edit_solution("training", "confusion-matrix", [(BODY, "return np.eye(K)")])
    assert "    ### BEGIN SOLUTION\n    return np.eye(K)\n    ### END SOLUTION" in source
    assert source.startswith("def confusion_matrix(y_true, y_pred, K):")
