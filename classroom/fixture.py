"""A tiny stand-alone nbgrader course, for tests and benchmarks of the autograder.

:func:`make_course` writes ``<root>/nbgrader_config.py`` (the course's own, so paths
resolve under `root`) and one assignment ``00-fixture`` with one notebook ``fixture``:
an answer function (the sigmoid derivative) with a visible and a hidden test, and a
hand number with a test that does not reveal it.  It runs in well under a second, so
grading costs are dominated by what the autograder adds (kernel start, bookkeeping).
Optionally the course's real assignments are copied in too.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from . import nbbuild as nbb
from .paths import REPO

ASSIGNMENT = "00-fixture"
NOTEBOOK = "fixture"

HIDDEN_MARK = "hidden check: sigmoid_prime at z = 2.5"

CELLS = [
    nbb.markdown("# Fixture\nThe derivative of the sigmoid is σ'(z) = σ(z)(1 − σ(z)).", "intro"),
    nbb.code("import numpy as np\nfrom course.grading import call, check_close, passed", "imports"),
    nbb.solution(
        "def sigmoid_prime(z):\n"
        '    """σ\'(z) for an array z."""\n'
        "    ### BEGIN SOLUTION\n"
        "    s = 1.0 / (1.0 + np.exp(-z))\n"
        "    return s * (1.0 - s)\n"
        "    ### END SOLUTION",
        "answer_sigmoid_prime",
    ),
    nbb.tests(
        "# Does sigmoid_prime(z) equal σ(z)(1 − σ(z)) at a few points?\n"
        "z = np.array([-1.0, 0.0, 2.0])\n"
        "s = 1 / (1 + np.exp(-z))\n"
        'check_close("sigmoid_prime(z)", call(sigmoid_prime, z), s * (1 - s),\n'
        '            hint="Likely bug: missing the factor (1 − σ(z)).")\n'
        "### BEGIN HIDDEN TESTS\n"
        f"# {HIDDEN_MARK}\n"
        "z2 = np.array([[2.5]])\n"
        "s2 = 1 / (1 + np.exp(-z2))\n"
        'check_close("sigmoid_prime(z)", call(sigmoid_prime, z2), s2 * (1 - s2), reveal=False)\n'
        "### END HIDDEN TESTS\n"
        'passed("sigmoid_prime matches σ(z)(1 − σ(z))")',
        "test_sigmoid_prime",
        2,
    ),
    nbb.markdown("What is σ'(0)? Write the number.", "q_hand"),
    nbb.solution("### BEGIN SOLUTION\nhand = 0.25\n### END SOLUTION", "answer_hand"),
    nbb.tests(
        "# Is your σ'(0) right? (The value is not revealed.)\n"
        'check_close("hand", hand, 0.25, reveal=False,\n'
        '            hint="Likely bug: σ(0) is 1/2, so σ\'(0) = 1/2 · 1/2.")\n'
        'passed("σ\'(0) is right")',
        "test_hand",
        1,
    ),
]


def fixture_notebook():
    """A fresh notebook (its cells are copies: callers may edit them)."""
    return nbb.notebook(copy.deepcopy(CELLS), title="Autograder fixture")


def make_course(root, assignments=(), fixture=True):
    """Create a course at `root` (its nbgrader_config.py, solutions/, notebooks/).

    Parameters
    ----------
    root : path
    assignments : iterable of str
        Real assignments to copy from the repository's solutions/ (and notebooks/).
    fixture : bool
        Add ``00-fixture``.

    Returns
    -------
    Path
        The root.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    if fixture:
        (root / "solutions" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
        nbb.write(fixture_notebook(), root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    for a in assignments:
        shutil.copytree(REPO / "solutions" / a, root / "solutions" / a, dirs_exist_ok=True)
    return root
