"""course.checks.catalogue: each exercise's typical bugs written once, as data."""

import re

from course.checks import catalogue


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
    got = catalogue.suspects(table, lambda model: model.upper() if model == "sign" else None)
    assert got == {table["04.backward.sign"].diagnosis: "SIGN"}


def test_notation_of_each_notebook():
    bugs = catalogue.all_bugs().values()
    # 03 keeps δ for the error: the Kronecker delta is written [l = j].
    assert not any("δ_lj" in b.diagnosis for b in bugs if b.id.startswith("03."))
    # 07 calls the dropout mask "mask", never m (the layer index).
    assert not any(" m ∘" in b.diagnosis for b in bugs if b.id.startswith("07."))
    # 02 writes y for the output and y* for the target.
    assert not any("(a − y)" in b.diagnosis for b in bugs if b.id.startswith("02."))
