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
import io
import os
import traceback
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
RELEASE = REPO / "notebooks"


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


def meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def notebook_path(assignment, folder=SOLUTIONS):
    """The one notebook of `assignment` in `folder`."""
    (path,) = sorted((Path(folder) / assignment).glob("*.ipynb"))
    return path


def read(assignment, folder=SOLUTIONS):
    return nbformat.read(notebook_path(assignment, folder), as_version=4)


def kind(cell):
    m = meta(cell)
    if cell.cell_type != "code":
        return "markdown"
    if m.get("grade") and not m.get("solution"):
        return "test"
    if m.get("solution"):
        return "answer"
    return "locked"


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


def _run_test_cell(cell, namespace, double, student_names, classes):
    if not double:
        return _run_test(cell, namespace)
    from classroom import remote_double

    view = _grader_view(namespace, student_names, classes)
    with remote_double.session():
        return _run_test(cell, view)


def _run_test(cell, namespace):
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


def _grader_view(namespace, student_names, classes):
    """The test cells' namespace under the remote double: what the student defined (and
    the classes of locked cells, which the student's code uses in the kernel) becomes
    handles; everything else is the grader's own."""
    from classroom import remote_double

    view = dict(namespace)
    for name in student_names | classes:
        if name in namespace:
            view[name] = remote_double.Handle(namespace[name])
    return view


def run(nb, replacements=None, tests=None, double=False):
    """Execute notebook `nb` in a fresh namespace and score its test cells.

    Parameters
    ----------
    nb : NotebookNode
        A solutions (or release) notebook.
    replacements : dict of str to str, optional
        grade_id of an answer cell -> its new source (a plant or a mutant).
    tests : collection of str, optional
        Score only these test cells (others are skipped, not scored).
    double : bool
        Run the test cells as the grader does, against handles to the student's names
        (:mod:`classroom.remote_double`), instead of in the student's namespace.

    Returns
    -------
    Report
    """
    import matplotlib

    matplotlib.use("Agg")
    from course import grading

    grading.reset_notes()
    replacements = replacements or {}
    namespace = {"__name__": "__main__"}
    results = {}
    env = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    student_names, classes = set(), set()
    try:
        for i in needed_cells(nb):
            cell = nb.cells[i]
            gid = meta(cell).get("grade_id")
            if kind(cell) == "test":
                if tests is None or gid in tests:
                    results[gid] = _run_test_cell(cell, namespace, double, student_names, classes)
                continue
            source = replacements.get(gid, cell.source)
            if kind(cell) == "answer":
                student_names |= _top_level(source)
            else:
                classes |= {n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}
            with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
                with contextlib.redirect_stderr(io.StringIO()):
                    exec(compile(source, f"<{gid}>", "exec"), namespace)
    finally:
        if env is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = env
        import matplotlib.pyplot as plt

        plt.close("all")
    return Report(results)


def run_assignment(assignment, replacements=None, tests=None, folder=SOLUTIONS):
    """:func:`run` on the notebook of `assignment` (solutions by default)."""
    return run(read(assignment, folder), replacements, tests)
