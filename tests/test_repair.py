"""Notebook structure as students really send it, repaired before nbgrader sanitizes it."""

import copy

import nbformat
import pytest

from autograder import repair
from classroom import fixture
from classroom import nbbuild as nbb


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def _ids(nb):
    return [_meta(c).get("grade_id") for c in nb.cells]


@pytest.fixture
def source():
    return fixture.fixture_notebook()


def test_adjacent_halves_of_a_split_answer_are_joined_in_order(source):
    nb = copy.deepcopy(source)
    i = _ids(nb).index("answer_sigmoid_prime")
    first, second = copy.deepcopy(nb.cells[i]), copy.deepcopy(nb.cells[i])
    first.source, second.source = "def sigmoid_prime(z):", "    return z"
    nb.cells[i : i + 1] = [first, second]
    notes = repair.join_split_answers(nb)
    assert _ids(nb).count("answer_sigmoid_prime") == 1
    assert nb.cells[i].source == "def sigmoid_prime(z):\n    return z"
    assert "split in 2 cells" in notes[0]


def test_a_test_cell_pasted_twice_keeps_its_first_copy(source):
    nb = copy.deepcopy(source)
    i = _ids(nb).index("test_hand")
    nb.cells.append(copy.deepcopy(nb.cells[i]))
    notes = repair.drop_pasted_copies(nb)
    assert _ids(nb).count("test_hand") == 1 and "pasted again" in notes[0]


def test_stripped_metadata_is_restored_by_text_and_by_position(source):
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        if _meta(cell).get("grade_id") in ("test_hand", "answer_hand", "imports"):
            cell.metadata = {}
    notes = repair.restore_metadata(nb, source)
    assert _ids(nb) == _ids(source)
    assert len(notes) == 3 and all("restored from the source" in n for n in notes)


def test_an_ambiguous_cell_is_not_guessed_but_sent_to_manual_grading(source):
    nb = copy.deepcopy(source)
    i = _ids(nb).index("answer_hand")
    nb.cells[i].metadata = {}
    nb.cells.insert(i, nbb.code("x = 1", "tmp"))
    nb.cells[i].metadata = {}  # two unmarked code cells where one answer was
    notes = repair.restore_metadata(nb, source)
    assert "answer_hand" not in _ids(nb)
    assert "needs manual grading" in notes[-1] and "answer_hand" in notes[-1]


@pytest.mark.parametrize("minor", [0, 1, 2, 3, 4, 5])
def test_every_nbformat_4_minor_with_or_without_ids_reads_as_4_5(source, minor):
    nb = copy.deepcopy(source)
    nb.nbformat_minor = minor
    for k, cell in enumerate(nb.cells):
        if k % 2:
            cell.pop("id", None)
        else:
            cell["id"] = "same"  # duplicated ids, as some tools write them
    repair.normalize_format(nb)
    assert nb.nbformat_minor == 5
    ids = [c["id"] for c in nb.cells]
    assert len(set(ids)) == len(ids)
    nbformat.validate(nb)


def test_stderr_in_a_test_cell_becomes_stdout_with_a_note(source):
    nb = copy.deepcopy(source)
    i = _ids(nb).index("test_hand")
    nb.cells[i].outputs = [nbformat.v4.new_output("stream", name="stderr", text="warning\n")]
    cell, _ = repair.StderrToStdout().preprocess_cell(nb.cells[i], {}, i)
    assert cell.outputs[0]["name"] == "stdout"
    assert cell.outputs[0]["text"] == repair.STDERR_NOTE + "warning\n"


def test_a_cell_with_marks_the_assignment_lacks_is_ignored_not_fatal(source):
    nb = copy.deepcopy(source)
    fake = nbb.tests("assert True", "bonus-points", 100)
    nb.cells.append(fake)
    notes = repair.drop_unknown_marks(nb, source)
    assert _ids(nb) == _ids(source) + [None]
    assert nb.cells[-1].source == "assert True"  # it stays, as an ordinary cell
    assert "'bonus-points'" in notes[0] and "ordinary cell" in notes[0]
