"""scripts/rename_grade_ids.py: the tree follows its mapping, the notebooks the scheme
(README, "Grade ids"), whole tokens only, and a gradebook under way renamed in place."""

import json
import re
import sys

import pytest

from classroom.paths import REPO

sys.path.insert(0, str(REPO / "scripts"))
import rename_grade_ids as rename  # noqa: E402

NOTEBOOKS = sorted((REPO / "solutions").glob("*/*.ipynb"))
KEBAB = re.compile(r"^[a-z0-9][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$")
DEF = re.compile(r"^def (\w+)\(", re.M)
SETS = re.compile(r"^(\w+) = ", re.M)
#: Tests of several answers at once, named after what they check.
SEVERAL_ANSWERS = {"test-two-paths"}


def test_the_tree_follows_the_mapping(capsys):
    assert rename.main(["--check"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_every_grade_id_follows_the_scheme(path):
    cells = [c for c in json.loads(path.read_text())["cells"] if "nbgrader" in c["metadata"]]
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "intro" and ids[1] == "setup"
    names = set()  # what answers define: their ids and the quantities they set
    for cell, gid in zip(cells, ids, strict=True):
        meta = cell["metadata"]["nbgrader"]
        assert KEBAB.match(gid), gid
        assert not gid.startswith(("sl-", "br-", "vg-")), gid
        assert gid.startswith("test-") == bool(meta.get("grade")), gid
        source = "".join(cell["source"])
        functions = DEF.findall(source)
        if meta.get("solution") and functions:
            assert gid == functions[0].replace("_", "-"), (gid, functions)
        if meta.get("solution"):
            names |= {gid, *(q.replace("_", "-") for q in SETS.findall(source))}
    for gid in ids:
        if gid.startswith("test-") and gid not in SEVERAL_ANSWERS:
            assert any(gid == f"test-{n}" or gid.startswith(f"test-{n}-") for n in names), gid


def test_only_whole_quoted_tokens_are_replaced():
    mapping = rename.MAPPING["01-chain-rule"]
    text = (
        '"test-h-value" \'test-h-value\' `test-h-value` \\"test-h-value\\" '
        '"test-h-value-2" "x-test-h-value" test-h-value "test-h-value\''
    )
    out, n = rename.replace_tokens(text, mapping)
    assert n == 4
    assert out.count("test-h-forward-backward-value") == 4
    assert out.endswith('"test-h-value-2" "x-test-h-value" test-h-value "test-h-value\'')
    assert rename.replace_tokens(out, mapping) == (out, 0)  # a second run changes nothing


def test_mutant_keys_are_renamed_by_their_own_assignment():
    text = '{"03-softmax-layer:sl-ce-loss:17:keyword:9": 1, "05-training:sl-ce-loss:1:op:0": 2}'
    out, n = rename.replace_keys(text)
    assert n == 1 and '"03-softmax-layer:cross-entropy-loss:17:' in out
    assert '"05-training:sl-ce-loss:1:' in out


def test_ambiguous_old_ids_only_in_their_notebooks_files():
    line = 'GIVEAWAYS = {"train_sgd": ()}; SGD = ("test_sgd_step",)'
    out, _ = rename.rewrite("course/checks/training.py", line)
    assert out == 'GIVEAWAYS = {"train_sgd": ()}; SGD = ("test-train-sgd-step",)'
    out, _ = rename.rewrite("classroom/plants/_05_training.py", line)
    assert '{"train-sgd": ()}' in out


def test_a_gradebook_under_way_keeps_its_grades_and_comments(tmp_path):
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    a, nb = "03-softmax-layer", "softmax_layer"
    release = nbformat.read(REPO / "notebooks" / a / f"{nb}.ipynb", as_version=4)
    cells = {c.metadata.nbgrader["grade_id"]: c for c in release.cells if "nbgrader" in c.metadata}
    test = cells["test-softmax"]
    old_test = nbformat.from_dict(test)
    old_test.metadata.nbgrader["grade_id"] = "sl-test-softmax"
    with Gradebook(url) as gb:
        gb.add_assignment(a)
        gb.add_notebook(nb, a)
        gb.add_grade_cell("sl-test-softmax", nb, a, max_score=2, cell_type="code")
        gb.add_solution_cell("sl-softmax", nb, a)
        gb.add_source_cell("sl-softmax", nb, a, cell_type="code", source="def softmax(z):")
        gb.add_source_cell(
            "sl-test-softmax",
            nb,
            a,
            cell_type="code",
            source=test.source,
            locked=True,
            checksum=compute_checksum(old_test),
        )
        gb.add_student("alice")
        gb.add_submission(a, "alice")
        grade = gb.find_grade("sl-test-softmax", nb, a, "alice")
        grade.manual_score = 1.5
        comment = gb.find_comment("sl-softmax", nb, a, "alice")
        comment.manual_comment = "see me"
        gb.db.commit()

    assert rename.rename_in_gradebook(url, commit=False) == 4
    assert rename.rename_in_gradebook(url) == 4
    assert rename.rename_in_gradebook(url) == 0
    with Gradebook(url) as gb:
        assert gb.find_grade("test-softmax", nb, a, "alice").manual_score == 1.5
        assert gb.find_comment("softmax", nb, a, "alice").manual_comment == "see me"
        assert gb.find_source_cell("softmax", nb, a).source == "def softmax(z):"
        # the checksum nbgrader's autograde compares with is the new release's
        assert (
            gb.find_source_cell("test-softmax", nb, a).checksum
            == test.metadata.nbgrader["checksum"]
        )


def test_a_students_notebook_is_renamed_in_its_assignments_folder(tmp_path):
    sub = tmp_path / "submitted" / "alice" / "04-backprop-recursion"
    sub.mkdir(parents=True)
    source = REPO / "tests/hostile/04-backprop-recursion/full.ipynb"
    old = source.read_text().replace('"test-backward-W1"', '"br-test-W1"')
    (sub / "backprop_recursion.ipynb").write_text(old)
    assert rename.main(["--notebooks", str(tmp_path / "submitted")]) == 0
    assert (sub / "backprop_recursion.ipynb").read_text() == source.read_text()
