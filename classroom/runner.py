"""Run a solutions notebook in this process and score its test cells as nbgrader would.

Only the cells the graded cells need run: every answer and test cell, and the locked
code cells that define a name an answer or test cell uses (imports, the example's
weights, ``Node``, ``split``...), so the slow demonstrations are skipped.  A test cell
earns its points when it raises nothing and writes nothing to stderr, which is what
nbgrader's autograder checks (its numeric-value partial credit is not used by the course).

One nbgrader run per assignment (``tests/test_assignments.py``) proves that this agrees
with nbgrader on the real pipeline.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import os
import traceback
from dataclasses import dataclass
from pathlib import Path

import nbformat

# kind and meta are also the runner's for its callers (classroom.mutate, the tests).
from autograder.cells import kind
from autograder.cells import nbgrader_meta as meta
from course import variant_tables

from .paths import RELEASE, REPO, SOLUTIONS  # noqa: F401 - runner.SOLUTIONS etc. for callers


@dataclass
class CellResult:
    """The verdict on one test cell."""

    grade_id: str
    points: float
    max_points: float
    output: str

    @property
    def passed(self):
        return self.points == self.max_points


@dataclass
class Report:
    """Test cell -> CellResult, in notebook order."""

    cells: dict

    @property
    def score(self):
        return sum(c.points for c in self.cells.values())

    @property
    def max_score(self):
        return sum(c.max_points for c in self.cells.values())

    def failing(self):
        return sorted(k for k, c in self.cells.items() if not c.passed)


def notebook_path(assignment, folder=SOLUTIONS):
    """The one notebook of `assignment` in `folder`."""
    (path,) = sorted((Path(folder) / assignment).glob("*.ipynb"))
    return path


def read(assignment, folder=SOLUTIONS):
    return nbformat.read(notebook_path(assignment, folder), as_version=4)


def _names(source, strings=False):
    """(names the code stores or binds, names it loads); with `strings`, string constants
    count as loaded names too (``hand_number(globals(), "dfdx")``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), set()
    stored, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            stored.add(node.name)
        elif isinstance(node, ast.alias):
            stored.add((node.asname or node.name).split(".")[0])
        elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str):
            loaded.add(node.value)  # globals()["name"], hand_number(globals(), "name")
    return stored, loaded


def needed_cells(nb):
    """Indices of the code cells to run: answers, tests, and the locked cells they need."""
    free = set()
    for cell in nb.cells:
        if kind(cell) in ("answer", "test"):
            stored, loaded = _names(cell.source)
            free |= loaded - stored
    keep = []
    for i, cell in enumerate(nb.cells):
        k = kind(cell)
        if k in ("answer", "test") or (k == "locked" and _names(cell.source)[0] & free):
            keep.append(i)
    return keep


def _top_level(source):
    """Names a cell binds at module level (functions, classes, assignments, imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            names |= {
                n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
    return names


def affected_tests(nb, grade_ids):
    """The test cells that can see a change of the answer cells `grade_ids`: those that
    use a name the changed cells define, directly or through other answer cells."""
    cells = [c for c in nb.cells if kind(c) in ("answer", "test")]
    defines = {}
    for c in cells:
        if kind(c) == "answer":
            for name in _top_level(c.source):
                defines.setdefault(name, set()).add(meta(c)["grade_id"])
    uses = {}
    for c in cells:
        stored, loaded = _names(c.source, strings=True)
        uses[meta(c)["grade_id"]] = {g for n in loaded for g in defines.get(n, ())}
    affected = set(grade_ids)
    changed = True
    while changed:
        changed = False
        for c in cells:
            gid = meta(c)["grade_id"]
            if kind(c) == "answer" and gid not in affected and uses[gid] & affected:
                affected.add(gid)
                changed = True
    return {
        meta(c)["grade_id"]
        for c in cells
        if kind(c) == "test" and uses[meta(c)["grade_id"]] & affected
    }


def _score(cell, outputs):
    """nbgrader's verdict on a test cell from its outputs: full points unless an error or
    anything on stderr."""
    points = float(meta(cell).get("points", 0))
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    failed = [o for o in outputs if o.get("output_type") == "error"]
    stderr = [o for o in outputs if o.get("name") == "stderr"]
    if failed or stderr:
        detail = "\n".join("\n".join(o.get("traceback", [])) or o.get("evalue", "") for o in failed)
        return CellResult(meta(cell)["grade_id"], 0.0, points, text + detail)
    return CellResult(meta(cell)["grade_id"], points, points, text)


def _run_in_the_lab(cell, namespace):
    """A test cell run in the student's own namespace, as the Lab and Validate run it."""
    out, err = io.StringIO(), io.StringIO()
    points = float(meta(cell).get("points", 0))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(compile(cell.source, f"<{meta(cell).get('grade_id')}>", "exec"), namespace)
    except Exception as exc:  # noqa: BLE001 - a failing test cell, as nbgrader sees it
        text = str(exc) if type(exc).__name__ == "GradingFailure" else traceback.format_exc()
        return CellResult(meta(cell)["grade_id"], 0.0, points, out.getvalue() + text)
    if err.getvalue():
        return CellResult(meta(cell)["grade_id"], 0.0, points, out.getvalue() + err.getvalue())
    return CellResult(meta(cell)["grade_id"], points, points, out.getvalue())


def _with_replacements(nb, replacements):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        gid = meta(cell).get("grade_id")
        if gid in replacements:
            cell.source = replacements[gid]
    return nb


def run(nb, replacements=None, tests=None, lab=False, cell_timeout=60.0, variants=None):
    """Execute notebook `nb` and score its test cells.

    Parameters
    ----------
    nb : NotebookNode
        A solutions (or release) notebook.
    replacements : dict of str to str, optional
        grade_id of an answer cell -> its new source (a plant or a mutant).
    tests : collection of str, optional
        Score only these test cells (others are skipped, not scored).
    lab : bool
        Run the test cells in the student's namespace, with the real course library, as
        the student's JupyterLab (and Validate) do.  By default they run as
        ``backprop-grade grade`` runs them: the student's cells in a kernel of this
        process whose ``import course`` gives the grader's stubs
        (:class:`classroom.inprocess.InProcessKernel`), the test cells in the grader's
        own :class:`autograder.trusted.TrustedNotebook`.
    variants : dict, optional
        assignment -> :class:`course.variant_tables.Assigned`: the numbers of the student
        graded (default: every assignment's example, variant 0).

    Returns
    -------
    Report
    """
    import matplotlib

    matplotlib.use("Agg")
    from course import grading

    grading.reset_notes()
    nb = _with_replacements(nb, replacements or {})
    results = {}
    env = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        if lab:
            with variant_tables.grading_as(variants):
                _run_lab(nb, tests, results)
        else:
            _run_graded(nb, tests, results, cell_timeout, variants)
    finally:
        if env is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = env
        import matplotlib.pyplot as plt

        plt.close("all")
    return Report(results)


def _run_lab(nb, tests, results):
    namespace = {"__name__": "__main__"}
    for i in needed_cells(nb):
        cell = nb.cells[i]
        gid = meta(cell).get("grade_id")
        if kind(cell) == "test":
            if tests is None or gid in tests:
                results[gid] = _run_in_the_lab(cell, namespace)
            continue
        with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
            with contextlib.redirect_stderr(io.StringIO()):
                exec(compile(cell.source, f"<{gid}>", "exec"), namespace)


def _run_graded(nb, tests, results, cell_timeout, variants=None):
    from autograder.trusted import TrustedNotebook
    from classroom.inprocess import InProcessKernel

    with InProcessKernel(call_timeout=cell_timeout) as kernel:
        kernel.session.variants = dict(variants or {})
        trusted = TrustedNotebook(nb, kernel.session, cell_timeout, variants)
        for i in needed_cells(nb):
            cell = nb.cells[i]
            gid = meta(cell).get("grade_id")
            if kind(cell) == "test":
                if tests is None or gid in tests:
                    results[gid] = _score(cell, trusted.run_test_cell(i, cell))
                continue
            out, exc = kernel.run_cell(cell.source, f"<{gid}>")
            if exc is not None and os.environ.get("BACKPROP_RUNNER_DEBUG"):
                print(f"cell {gid}: {type(exc).__name__}: {exc}\n{out[-2000:]}")


def run_assignment(assignment, replacements=None, tests=None, folder=SOLUTIONS, variants=None):
    """:func:`run` on the notebook of `assignment` (solutions by default)."""
    return run(read(assignment, folder), replacements, tests, variants=variants)
