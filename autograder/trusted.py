"""Test cells run by the grader, never by the student's kernel.

nbgrader scores a test cell from what the kernel reports about it, and the kernel runs
the student's code: an input transformer, a patched check or a lying ``displayhook``
decides the verdict.  So the grading worker sends the kernel every cell *except* the
test cells, and runs each test cell itself with :meth:`TrustedNotebook.run_test_cell`:

- the names the test cell uses are looked up **on the grader's side** first: what the
  locked cells import (``checks``, ``np``, ``passed``...) and what a locked cell defines
  with instructor code alone (02's ``params`` and ``loss``, 05's ``split``), which the
  grader re-creates by running those locked cells itself (:func:`plan`);
- every other name comes from the student's namespace through :mod:`autograder.remote`:
  numbers and arrays as copies, functions, classes and other objects as handles whose
  calls run in the kernel and return plain data (a class a locked cell defines, such as
  01's ``Node``, too: the student's code builds the kernel's own instances);
- the verdict (stdout of the checks, or the ``GradingFailure``) becomes the cell's
  outputs, exactly what nbgrader scores afterwards.

Nothing the kernel prints, displays or transforms reaches a test cell's outputs; what a
student function prints during a check is shown as stdout text, which nbgrader ignores.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import time
import traceback
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import nbformat
import numpy as np

from course import grading, variant_tables
from course.grading import GradingFailure

from . import capture, remote, syntax
from .cells import grade_id, is_locked_cell, is_test_cell
from .integrity import HIDDEN_TESTS
from .limits import CELL_TIMEOUT

#: Characters of stdout one test cell keeps.
STDOUT_LIMIT = 20_000

_BUILTIN_NAMES = set(dir(builtins)) - {"globals"}


def _strip_magics(source):
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def _parse(source):
    try:
        return syntax.parse(_strip_magics(source))
    except SyntaxError:
        return None


def bound_names(tree):
    """Names a cell binds at any depth (assignments, defs, imports, loop targets...)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.GeneratorExp,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
)


def global_names(tree):
    """Names a cell binds in the notebook's namespace (not a function's locals)."""
    names = set()
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            names |= {n for g in ast.walk(node) if isinstance(g, ast.Global) for n in g.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    return names


def free_names(tree):
    """Names a cell reads and does not bind itself (builtins excluded, ``globals`` kept)."""
    loads = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return loads - bound_names(tree) - _BUILTIN_NAMES


def _imports_only(tree):
    body = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return ast.Module(body=body, type_ignores=[])


@dataclass
class Plan:
    """Which cells the grader runs on its own side before which test cell.

    Attributes
    ----------
    replay : dict of int to ast.Module
        Cell index -> code to run on the grader's side: the import statements of every
        locked cell, and the whole cell for locked cells that define names a test cell
        needs with instructor code alone.
    student_names : set of str
        Names bound by the cells the student may edit.
    """

    replay: dict = field(default_factory=dict)
    student_names: set = field(default_factory=set)


def plan(nb):
    """The :class:`Plan` of notebook `nb` (a sanitized submission)."""
    cells = [(i, c) for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]
    trees = {i: _parse(c.get("source", "")) for i, c in cells}
    locked = {i for i, c in cells if is_locked_cell(c) and not is_test_cell(c)}
    tests = {i for i, c in cells if is_test_cell(c)}
    result = Plan()
    for i, _ in cells:
        if i not in locked and i not in tests and trees[i] is not None:
            result.student_names |= global_names(trees[i])
    needed = set()
    for i in tests:
        if trees[i] is not None:
            needed |= free_names(trees[i])
    whole = set()
    for i in sorted(locked, reverse=True):
        tree = trees[i]
        if tree is None or free_names(tree) & result.student_names:
            continue
        if any(isinstance(node, ast.ClassDef) for node in tree.body):
            continue  # its instances live in the kernel: the test cells use the kernel's
        if global_names(tree) & needed:
            whole.add(i)
            needed |= free_names(tree)
    for i in sorted(locked):
        if trees[i] is not None:
            result.replay[i] = trees[i] if i in whole else _imports_only(trees[i])
    return result


class NotebookGlobals(Mapping):
    """``globals()`` of a test cell: the grader's names, then the student's namespace."""

    def __init__(self, ns, session):
        self._ns = ns
        self._session = session

    def __getitem__(self, key):
        if key in self._ns:
            return self._ns[key]
        if not isinstance(key, str) or self._session is None:
            raise KeyError(key)
        return self._session.lookup(key)

    def __iter__(self):
        names = set(self._ns)
        if self._session is not None:
            names |= set(self._session.names())
        return iter(sorted(names, key=str))

    def __len__(self):
        return sum(1 for _ in self)


class TrustedNotebook:
    """The grader's side of one notebook: its namespace and its test cells' verdicts.

    Parameters
    ----------
    nb : NotebookNode
        The sanitized notebook (test cells as the instructor wrote them).
    session : course.remote.Session or None
        The connection to the student's kernel (None: it never started).
    cell_timeout : float
        Seconds each test cell's calls into student code may take in all.
    variants : dict, optional
        assignment -> :class:`course.variant_tables.Assigned`: the submission's numbers,
        decided by the grader (none: every assignment's example).
    """

    def __init__(self, nb, session, cell_timeout=float(CELL_TIMEOUT), variants=None):
        self.nb = nb
        self.variants = dict(variants or {})
        self.session = session
        self.cell_timeout = float(cell_timeout)
        self.plan = plan(nb)
        self.ns = {"__name__": remote.NOTEBOOK_MODULE, "__builtins__": builtins}
        self.ns["globals"] = lambda: NotebookGlobals(self.ns, self.session)
        self._replayed = set()
        self._fetched = {}
        grading.reset_notes()  # this worker process may have graded other notebooks
        #: Seconds spent running test cells here (the trusted path's cost).
        self.seconds = 0.0
        #: Why the checks ask for the instructor's review (course.grading.flag).
        self.flags = []

    def _replay_before(self, index):
        for i, tree in sorted(self.plan.replay.items()):
            if i >= index or i in self._replayed:
                continue
            self._replayed.add(i)
            with capture.output(capture.Buffer()):
                try:
                    exec(syntax.compile_tree(tree, f"<locked cell {i}>"), self.ns)  # noqa: S102
                except Exception:  # noqa: BLE001 - a test that needs it fails with a NameError
                    pass
            _close_figures()

    def _fetch(self, names):
        """Bring the student's values of `names` into the namespace (missing ones stay out)."""
        for name in sorted(names):
            if name in self.ns or self.session is None:
                continue
            try:
                self.ns[name] = self._fetched[name] = self.session.lookup(name)
            except KeyError:
                continue

    def _forget_fetched(self):
        """Drop the student's values fetched for the last test cell (they may change).

        A name the test cell itself assigned since is the grader's own and stays.
        """
        for name, value in self._fetched.items():
            if self.ns.get(name) is value:
                del self.ns[name]
        self._fetched = {}

    def run_test_cell(self, index, cell):
        """Run test cell `index` here; returns its outputs (a list of nbformat outputs)."""
        start = time.perf_counter()
        try:
            with variant_tables.grading_as(self.variants):
                return self._run_test_cell(index, cell)
        finally:
            self.seconds += time.perf_counter() - start

    def _backend(self):
        if self.session is None:
            return contextlib.nullcontext()
        return grading.calls_through(remote.SessionBackend(self.session))

    def _run_test_cell(self, index, cell):
        self._replay_before(index)
        tree = _parse(cell.source)
        stdout, stderr = capture.Buffer(STDOUT_LIMIT), capture.Buffer(STDOUT_LIMIT)
        error = None
        lock = self.session.lock if self.session is not None else contextlib.nullcontext()
        if self.session is not None:
            self.session.deadline = time.monotonic() + self.cell_timeout
        try:
            with lock, self._backend(), grading.collecting_flags(self.flags):
                if tree is None:
                    raise SyntaxError("the test cell does not parse")
                where = f"<test cell {grade_id(cell) or index}>"
                with _quiet(stdout, stderr):
                    self._fetch(free_names(tree) - set(self.ns))
                for part, hidden in _parts(cell.source, tree):
                    # What the student's code prints during hidden tests would show their
                    # inputs on the feedback page: it is not kept.
                    with _quiet(capture.Buffer() if hidden else stdout, stderr):
                        exec(syntax.compile_tree(part, where), self.ns)  # noqa: S102
        except BaseException as exc:  # noqa: BLE001 - every failure is the cell's verdict
            error = _error_output(exc, self.plan.student_names)
        finally:
            if self.session is not None:
                self.session.deadline = None
            self._forget_fetched()
            _close_figures()
        return _outputs(stdout.text(), error, stderr.text())


def _parts(source, tree):
    """The test cell as (code, hidden) pieces in order: before, inside and after its
    hidden-tests region, when each piece is whole statements; else the cell whole."""
    match = HIDDEN_TESTS.search(source)
    if match is None:
        return [(tree, False)]
    pieces = [
        (source[: match.start()], False),
        (match.group(0), True),
        (source[match.end() :], False),
    ]
    parsed = [(_parse(text), hidden) for text, hidden in pieces]
    if any(t is None for t, _ in parsed):
        return [(tree, False)]
    return parsed


@contextlib.contextmanager
def _quiet(stdout, stderr):
    """Keep what runs here printing into `stdout` and `stderr` (capture.Buffer), warnings
    silenced.  What a student's function prints comes back from the kernel as text and
    is shown on stdout; what the test cell's own code writes to stderr stays stderr, which
    nbgrader scores 0, as it would in the kernel."""
    with capture.output(stdout, stderr), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _close_figures():
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def _error_output(exc, student_names):
    name = type(exc).__name__
    if isinstance(exc, GradingFailure):
        lines = exc._render_traceback_()
        return nbformat.v4.new_output("error", ename=name, evalue=str(exc), traceback=lines)
    if isinstance(exc, NameError) and getattr(exc, "name", None) in student_names:
        text = (
            f"{exc.name} is not defined: its cell did not run, or it raised an error before "
            f"defining {exc.name} (see that cell's output)."
        )
        return nbformat.v4.new_output("error", ename=name, evalue=text, traceback=["✗ " + text])
    lines = traceback.format_exception_only(type(exc), exc)
    text = "".join(lines).strip()
    return nbformat.v4.new_output("error", ename=name, evalue=str(exc), traceback=[text])


def _outputs(text, error, errors=""):
    outputs = []
    if text:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
    if errors:
        outputs.append(nbformat.v4.new_output("stream", name="stderr", text=errors))
    if error is not None:
        outputs.append(error)
    return outputs
