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
