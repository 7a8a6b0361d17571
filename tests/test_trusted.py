"""The grader's side of a notebook: which locked cells it re-creates, which names it asks
the student's kernel for, and how a test cell's verdict becomes its outputs."""

import ast

import nbformat
import pytest

from autograder import trusted
from classroom import nbbuild as nbb
from classroom.harness import SOLUTIONS


def _nb(*cells):
    return nbb.notebook(list(cells), title="t")


def test_free_names_skip_what_the_cell_binds_and_builtins():
    tree = ast.parse("x = f(y)\nfor i in range(3):\n    g(i, x)\nprint(globals())")
    assert trusted.free_names(tree) == {"f", "y", "g", "globals"}


def test_pure_locked_cells_are_replayed_whole_and_others_for_their_imports():
    nb = _nb(
        nbb.code("import numpy as np\nfrom math import pi\nK = 3", "setup"),
        nbb.code("import os\nresult = answer(2)", "demo"),
        nbb.solution("def answer(x):\n    return x", "answer"),
        nbb.tests("assert answer(K) == 3 and np.pi == pi", "test", 1),
    )
    plan = trusted.plan(nb)
    assert plan.student_names == {"answer"}  # not its parameter x
    replay = {i: ast.unparse(t) for i, t in plan.replay.items()}
    assert "K = 3" in replay[0]  # K is needed by a test and defined by instructor code
    assert replay[1] == "import os"  # the demo uses the student's answer: imports only


@pytest.mark.parametrize(
    "assignment, names, kernels",
    [
        ("01-chain-rule", set(), {"Node"}),  # the student's nodes build the kernel's Nodes
        ("02-sigmoid-network", {"loss", "params"}, set()),
        ("05-training", {"split"}, set()),
    ],
)
def test_the_course_notebooks_tests_find_their_instructor_names(assignment, names, kernels):
    (path,) = (SOLUTIONS / assignment).glob("*.ipynb")
    nb = nbformat.read(path, as_version=4)
    plan = trusted.plan(nb)
    ns = {}
    for i, tree in sorted(plan.replay.items()):
        exec(compile(tree, f"<cell {i}>", "exec"), ns)  # noqa: S102
    assert names <= set(ns)
    assert not (names & plan.student_names)
    assert not (kernels & set(ns))  # a class a locked cell defines is taken from the kernel


def test_a_verdict_becomes_outputs_and_a_missing_answer_is_explained():
    nb = _nb(
        nbb.code("from course.grading import passed, check_close", "setup"),
        nbb.solution("def answer(x):\n    raise NotImplementedError()", "answer"),
        nbb.tests("check_close('K', 2, 3, reveal=False)\npassed('fine')", "bad", 1),
        nbb.tests("passed('fine')", "good", 1),
        nbb.tests("answer(1)", "missing", 1),
    )
    tn = trusted.TrustedNotebook(nb, session=None)
    bad = tn.run_test_cell(2, nb.cells[2])
    assert bad[-1]["output_type"] == "error" and bad[-1]["ename"] == "GradingFailure"
    assert tn.run_test_cell(3, nb.cells[3]) == [
        nbformat.v4.new_output("stream", name="stdout", text="✓ fine\n")
    ]
    missing = tn.run_test_cell(4, nb.cells[4])[-1]
    assert "answer is not defined: its cell did not run" in missing["evalue"]


def test_what_is_printed_during_hidden_tests_is_not_kept():
    """A student's print inside a hidden test's call would show its inputs in feedback."""
    nb = _nb(
        nbb.code("from course.grading import passed", "setup"),
        nbb.tests(
            "print('visible input 1')\n"
            "### BEGIN HIDDEN TESTS\n"
            "print('hidden input 42')\n"
            "### END HIDDEN TESTS\n"
            "passed('fine')",
            "t",
            1,
        ),
    )
    out = trusted.TrustedNotebook(nb, session=None).run_test_cell(1, nb.cells[1])
    text = "".join(o.get("text", "") for o in out)
    assert "visible input 1" in text and "✓ fine" in text
    assert "hidden input 42" not in text
