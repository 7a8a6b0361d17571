"""course.checks.catalogue: each exercise's typical bugs written once, as data."""

import re

import pytest

from course.checks import (
    catalogue,
    recursion,
    regularization,
    sigmoid_network,
    softmax_layer,
    vanishing,
)
from course.grading import GradingFailure


def test_ids_names_and_diagnoses_are_well_formed():
    bugs = catalogue.all_bugs()
    assert len(bugs) > 150
    for bug_id, bug in bugs.items():
        assert bug.id == bug_id
        assert re.fullmatch(r"(0[1-7]\.[a-z0-9]+|gradcheck|kit)\.[a-zA-Z0-9/'-]+", bug_id), bug_id
        assert bug.name and bug.diagnosis
        assert bug.says.lower() in bug.diagnosis.lower(), bug_id


def test_one_catalogue_per_notebook_module():
    prefixes = {k.split(".")[0] for k in catalogue.all_bugs()}
    assert prefixes == {"01", "02", "03", "04", "05", "06", "07", "gradcheck", "kit"}


def test_messages_use_plain_unicode_math():
    """No TeX-like ^{...} or _{...} in what students read (issue 13)."""
    for bug in catalogue.all_bugs().values():
        assert "^{" not in bug.diagnosis and "_{m" not in bug.diagnosis, bug.id
        assert "^m" not in bug.diagnosis, bug.id


def test_suspects_come_from_the_table():
    table = {b.id: b for b in catalogue.all_bugs().values() if b.id.startswith("04.backward.")}
    got = catalogue.suspects(table, lambda bug: "SIGN" if bug == "04.backward.sign" else None)
    assert got == {table["04.backward.sign"].diagnosis: "SIGN"}
    got = catalogue.suspects(table, {"04.backward.sign": 1.0, "04.forward.no-bias": 2.0})
    assert got == {table["04.backward.sign"].diagnosis: 1.0}  # only the bugs asked about


def test_suspects_refuse_a_model_keyed_by_anything_but_a_catalogue_id():
    table = catalogue.table("04.backward")
    with pytest.raises(KeyError, match="sign"):
        catalogue.suspects(table, {"sign": 1.0})


#: Every checker's table of planted bug models, by catalogue id.
MODEL_TABLES = {
    "recursion.FORWARD_BUGS": recursion.FORWARD_BUGS,
    "recursion.BACKWARD_BUGS": recursion.BACKWARD_BUGS,
    "sigmoid_network.FORWARD_BUGS": sigmoid_network.FORWARD_BUGS,
    "softmax_layer.LOSS_BUGS": softmax_layer.LOSS_BUGS,
    "softmax_layer.LAYER_BUGS": softmax_layer.LAYER_BUGS,
    "regularization.L2_BUGS": regularization.L2_BUGS,
    "regularization.DROPOUT_BUGS": regularization.DROPOUT_BUGS,
    "vanishing.NORMS_BUGS": vanishing.NORMS_BUGS,
}


@pytest.mark.parametrize("name", MODEL_TABLES)
def test_every_bug_model_is_keyed_by_a_catalogue_id(name):
    assert set(MODEL_TABLES[name]) <= set(catalogue.all_bugs()), name


def test_notation_of_each_notebook():
    bugs = catalogue.all_bugs().values()
    # 03 keeps δ for the error: the Kronecker delta is written [l = j].
    assert not any("δ_lj" in b.diagnosis for b in bugs if b.id.startswith("03."))
    # 07 calls the dropout mask "mask", never m (the layer index).
    assert not any(" m ∘" in b.diagnosis for b in bugs if b.id.startswith("07."))
    # 02 writes y for the output and y* for the target.
    assert not any("(a − y)" in b.diagnosis for b in bugs if b.id.startswith("02."))


# ---------------------------------------------------------------- the line a test shows


def test_every_entry_renders_its_line_with_its_fields_filled():
    for bug in catalogue.all_bugs().values():
        line = catalogue.likely(bug.id, **dict.fromkeys(bug.fields, 0.5))
        assert line.startswith("Likely bug: ") and line.endswith("."), bug.id
        assert not line.endswith(".."), bug.id
        assert bug.says.lower() in line.lower(), bug.id
        assert not any("{" + f for f in bug.fields if "{" + f in line), bug.id
        assert "\n" not in line, bug.id
        assert bug.text(**dict.fromkeys(bug.fields, 0.5)) in line, bug.id


def test_a_field_takes_the_case_numbers_and_a_literal_stays_literal():
    assert catalogue.likely("07.dropout.wrong-scaling", scale=0.5, keep=2.0) == (
        "Likely bug: the kept units are scaled by 0.5, not by 1/(1−p) = 2 (divide by 1 − p)."
    )
    assert catalogue.likely("07.early.outside", last=3).startswith(
        "Likely bug: best and stop are epochs of the history, 0 … 3 ("
    )
    assert "2, … counting updates." in catalogue.likely("02.sgd.decay")
    assert "(params = {k: v.copy() ...})" in catalogue.likely("02.sgd.changes-params")
    assert catalogue.get("02.sgd.changes-params").fields == ()
    # a diagnosis that ends its sentence gets no second full stop
    assert catalogue.likely("gradcheck.entries-sign", entries=[0]).endswith("(−= for +=?).")


def test_an_unknown_id_or_a_wrong_value_is_refused():
    with pytest.raises(KeyError, match="no bug '07.dropout.nope' in the catalogue"):
        catalogue.likely("07.dropout.nope")
    with pytest.raises(TypeError, match=r"missing \['keep'\]"):
        catalogue.likely("07.dropout.wrong-scaling", scale=0.5)
    with pytest.raises(TypeError, match=r"not a field \['p'\]"):
        catalogue.likely("07.dropout.wrong-scaling", scale=0.5, keep=2.0, p=0.5)
    with pytest.raises(TypeError, match="not a field"):
        catalogue.likely("07.dropout.p0", p=0.0)


def test_a_diagnosis_with_a_malformed_field_or_a_field_in_its_says_is_refused():
    for diagnosis in ("scaled by {}", "scaled by {0}", "entry {a.b}", "entry {a!r}", "a {b"):
        with pytest.raises(ValueError, match="bug x.y.z"):
            catalogue.Bug("x.y.z", "a bug", diagnosis)
    with pytest.raises(ValueError, match="give its says"):
        catalogue.Bug("x.y.z", "a bug", "scaled by {scale} instead: divide")
    bug = catalogue.Bug("x.y.z", "a bug", "scaled by {scale} instead: divide", says="instead")
    assert bug.fields == ("scale",) and bug.text(scale=3) == "scaled by 3 instead: divide"
    assert catalogue.Bug("x.y.z", "a bug", "no slope: {a} or {b}").says == "no slope"


def test_a_bug_with_fields_names_no_suspect():
    table = catalogue.table("04.update")
    with pytest.raises(ValueError, match="04.update.factor"):
        catalogue.suspects(table, {"04.update.factor": 1.0})
    got = catalogue.suspects(table, lambda bug: 1.0 if bug == "04.update.sign" else None)
    assert got == {catalogue.get("04.update.sign").text(): 1.0}


# ------------------------------------------------- the checkers' lines on planted bugs

#: A few plants per notebook whose failing tests show a line the catalogue fills with the
#: case's numbers, or one a checker used to write in its own words (the full set of plants
#: is graded, and its lines checked the same way, by tests/test_assignments.py).
PLANTED = (
    ("02-sigmoid-network", "02.sgd.decay"),
    ("02-sigmoid-network", "02.params.W2-column"),
    ("02-sigmoid-network", "02.partial.recomputes-z"),
    ("03-softmax-layer", "03.layer.cache-swapped"),
    ("04-backprop-recursion", "04.update.factor"),
    ("05-training", "05.sgd.not-updated"),
    ("05-training", "05.confusion.count"),
    ("06-vanishing-gradients", "06.number.sigma-of-0"),
    ("07-regularization", "07.dropout.wrong-scaling"),
    ("07-regularization", "07.early.outside"),
    ("07-regularization", "07.early.stop-wrong"),
)


@pytest.mark.parametrize("assignment, bug", PLANTED, ids=[b for _, b in PLANTED])
def test_a_planted_bug_is_named_in_the_words_of_its_catalogue_entry(assignment, bug):
    from classroom import mutate, runner
    from classroom.plants import plants_for

    plant = next(p for p in plants_for(assignment) if p.bug == bug)
    nb = runner.read(assignment)
    report = runner.run(nb, plant.cells, tests=runner.affected_tests(nb, plant.cells))
    lines = [
        ln.strip().removeprefix("✗ ")
        for g in report.failing()
        for ln in report.cells[g].output.splitlines()
        if "Likely bug:" in ln
    ]
    assert lines, f"{plant.name} names no likely bug"
    for g in report.failing():
        assert not mutate.uncatalogued(assignment, report.cells[g].output), g
    assert bug in {mutate.bug_named(assignment, ln) for ln in lines}, lines


def test_a_bug_named_in_a_checkers_own_words_is_caught():
    from classroom import mutate

    output = "✗ J is wrong.\n  Likely bug: the penalty is missing, as far as I can tell."
    assert mutate.uncatalogued("07-regularization", output) == [output.splitlines()[1]]
    inline = "  Likely bug: " + catalogue.get("07.l2.missing").text() + " (and more)."
    assert mutate.uncatalogued("07-regularization", inline) == [inline]
    mid = "✗ J is wrong. Likely bug: " + catalogue.get("07.l2.missing").text() + "."
    assert mutate.uncatalogued("07-regularization", mid) == [mid]
    ok = "✗ J is wrong.\n  " + catalogue.likely("07.l2.missing")
    assert mutate.uncatalogued("07-regularization", ok) == []
    # another notebook's entry is not this one's
    assert mutate.uncatalogued("06-vanishing-gradients", ok) == ok.splitlines()[1:]


def test_a_hand_number_names_its_bug_by_id_and_an_old_releases_sentence_by_its_entry():
    ns = {"sigma_prime_max": 0.5}
    wrong = {0.5: "06.number.sigma-of-0", 1.0: "06.number.tanh-slope"}
    line = catalogue.likely("06.number.sigma-of-0")
    with pytest.raises(GradingFailure) as err:
        vanishing.check_number(ns, "sigma_prime_max", 0.25, wrong=wrong)
    assert str(err.value) == f"sigma_prime_max = 0.5 is not right.\n{line}"
    # the hidden test of a release before the ids passes the sentence itself
    old = {0.5: catalogue.get("06.number.sigma-of-0").text() + "."}
    with pytest.raises(GradingFailure) as err:
        vanishing.check_number(ns, "sigma_prime_max", 0.25, wrong=old)
    assert str(err.value).endswith(line)
    with pytest.raises(KeyError, match="no bug"):
        vanishing.check_number(ns, "sigma_prime_max", 0.25, wrong={0.5: "a sentence"})
