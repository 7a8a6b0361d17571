"""Planted bugs and alternative correct answers, per assignment, as edits of the solutions.

Each module ``classroom/plants/<assignment id with - as _>.py`` (e.g. ``_01_chain_rule``
for "01-chain-rule") defines ``PLANTS``: a list of :class:`Plant`.  A plant is a record:
its key, the notebook, and per answer cell (grade id) the edit as old → new text
replacements of the solution cell in ``solutions/``, with the test cells that must lose
points and what their output must say.

The key of a bug is its catalogue id (:mod:`course.checks.catalogue`), the one key the
checkers' bug models and the mutation corpus use too; what the failing tests must show
is the catalogue's ``says`` of it, or a more particular part of the same message
(:func:`showing`: which library function a "calls the course's function" bug calls).  A
correct alternative is not a bug: it has no catalogue id, loses no points, and its key
is :data:`ALTERNATIVE` (its name, unique in its assignment, says what it does
differently).
:func:`edit_solution` builds every planted cell and fails, naming the plant, when the
solution no longer contains the text an edit replaces, so a plant cannot drift from the
solution it edits.

The notebook tests plant each into the solutions notebook and assert the grade (bugs lose
exactly the listed cells' points and the failing output names the bug; alternatives keep
full marks); the sample-class generator reuses them as realistic submissions.
"""

from __future__ import annotations

import functools
import importlib
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.cells import grade_id, is_answer_cell

#: The `old` of an edit that stands for the whole answer between the solution markers
#: (``### BEGIN SOLUTION`` … ``### END SOLUTION``): its `new` is the answer, unindented.
BODY = "<the solution between its markers>"
#: The `old` of an edit that stands for the whole cell: its `new` keeps nothing of the
#: solution (e.g. a cell that only imports the library's function).
CELL = "<the whole cell>"
#: The key of every correct alternative (a plant that is not a bug of the catalogue).
ALTERNATIVE = "alternative"

_REGION = re.compile(
    r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*\n(?P<body>.*?)^[ \t]*### END SOLUTION",
    re.MULTILINE | re.DOTALL,
)


class PlantError(ValueError):
    """A plant's edit no longer applies to the solution it edits."""


def _solutions_root():
    from classroom.paths import SOLUTIONS

    return SOLUTIONS


@functools.cache
def solution_cells(notebook, root=None):
    """grade_id -> source of the answer cells of the solutions notebook `notebook`
    (found in any assignment folder of `root`, default ``solutions/``)."""
    root = Path(root or _solutions_root())
    paths = sorted(root.glob(f"*/{notebook}.ipynb"))
    if len(paths) != 1:
        raise PlantError(f"notebook {notebook!r}: {len(paths)} solutions notebooks in {root}")
    nb = nbformat.read(paths[0], as_version=4)
    return {grade_id(c): c.source for c in nb.cells if is_answer_cell(c)}


def _replace_body(source, new):
    match = _REGION.search(source)
    if match is None:
        return None
    body = textwrap.indent(textwrap.dedent(new).strip("\n") + "\n", match["indent"])
    return source[: match.start("body")] + body + source[match.end("body") :]


def edit_solution(notebook, cell, edits, plant=None, root=None):
    """The solution's answer cell `cell` of `notebook` with each (old, new) of `edits` replaced.

    Each `old` must occur exactly once (:data:`BODY` stands for the whole answer between
    the markers, :data:`CELL` for the whole cell), so a plant breaks loudly, naming
    `plant`, instead of silently planting nothing when the solution it edits changes.
    """
    who = f"plant {plant!r}" if plant else "edit"
    cells = solution_cells(notebook, root)
    if cell not in cells:
        raise PlantError(f"{who}: {notebook} has no answer cell {cell!r}")
    source = cells[cell]
    for old, new in edits:
        if old == CELL:
            source = new
            continue
        if old == BODY:
            edited = _replace_body(source, new)
            if edited is None:
                raise PlantError(f"{who}: {notebook}:{cell} has no solution markers")
            source = edited
            continue
        n = source.count(old)
        if n != 1:
            raise PlantError(
                f"{who}: the solution of {notebook}:{cell} contains {old!r} {n} times, "
                "not once: update the plant's edit to the solution"
            )
        source = source.replace(old, new)
    return source


@dataclass(frozen=True)
class Plant:
    """A modification of a solutions notebook: a bug of the catalogue, or a correct
    alternative.

    Attributes
    ----------
    name : str
        Short label, e.g. "dW transposed".
    notebook : str
        Notebook name without .ipynb.
    edits : dict of str to tuple
        grade_id of an answer cell -> its edit: (old, new) pairs applied to the
        solution's cell by :func:`edit_solution`.
    failing : tuple of str
        grade_ids of test cells expected to lose points (empty for an alternative
        correct answer).
    says : str
        Case-insensitive substring that the failing tests' output must contain (the
        diagnosis); by default the catalogue's ``says`` of `bug`.
    bug : str or None
        The id of the bug in :mod:`course.checks.catalogue` (None for an alternative).

    Raises
    ------
    PlantError
        A plant that loses points without a catalogue id, or an alternative (no failing
        tests) with one.
    """

    name: str
    notebook: str
    edits: dict = field(default_factory=dict)
    failing: tuple = ()
    says: str = ""
    bug: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "failing", tuple(self.failing))
        edits = {gid: tuple((old, new) for old, new in pairs) for gid, pairs in self.edits.items()}
        object.__setattr__(self, "edits", edits)
        from course.checks import catalogue

        if bool(self.failing) != bool(self.bug):
            raise PlantError(
                f"plant {self.name!r}: a bug loses points and has a catalogue id, an "
                "alternative has neither"
            )
        if self.bug and self.bug not in catalogue.all_bugs():
            raise PlantError(f"plant {self.name!r}: {self.bug!r} is not a catalogue id")
        if self.bug and not self.says:
            object.__setattr__(self, "says", catalogue.get(self.bug).says)

    @property
    def is_bug(self):
        return bool(self.failing)

    @property
    def key(self):
        """The bug's catalogue id, or :data:`ALTERNATIVE`."""
        return self.bug or ALTERNATIVE

    @property
    def flagged(self):
        """True for a plant that uses the library's answer or differentiates numerically:
        the checks ask for the instructor's review of it (their message says so)."""
        said = self.says.lower()
        library = said.startswith("calls ") or "course." in said or "course's own" in said
        return library or "numerical differentiation" in said

    def build(self, root=None):
        """grade_id -> planted source of each edited cell (solutions from `root`)."""
        return {
            gid: edit_solution(self.notebook, gid, edits, plant=self.name, root=root)
            for gid, edits in self.edits.items()
        }

    @functools.cached_property
    def cells(self):
        """grade_id -> planted source, built from the solutions/ of this checkout."""
        return self.build()

    def apply(self, nb):
        """Return a copy of notebook `nb` with the planted cells."""
        nb = nbformat.from_dict(nb)
        cells = self.cells
        found = set()
        for cell in nb.cells:
            gid = grade_id(cell)
            if gid in cells:
                cell.source = cells[gid]
                found.add(gid)
        missing = set(cells) - found
        if missing:
            raise KeyError(f"plant {self.name!r}: no cells with grade_id {sorted(missing)}")
        return nb


def showing(bug_id, says):
    """The key of a plant of the bug `bug_id` whose failing tests show `says`, a more
    particular part of the message than the catalogue's ``says`` (e.g. the library
    function a "calls the course's function" bug calls)."""
    return (bug_id, says)


def bug(key, name, notebook, edits, failing):
    """A bug plant: `key` is a catalogue id (the failing tests must show its ``says``) or
    :func:`showing` of one."""
    bug_id, says = key if isinstance(key, tuple) else (key, "")
    return Plant(name, notebook, edits, failing, says=says, bug=bug_id)


def on(notebook, cell):
    """A maker of the bug plants that edit one answer cell: ``make(key, name, failing, *edits)``."""

    def make(key, name, failing, *edits):
        return bug(key, name, notebook, {cell: edits}, failing)

    return make


def bugs_in(notebook):
    """A maker of the bug plants that edit one cell of `notebook`:
    ``make(name, cell, edits, failing, key)``, `key` as for :func:`bug`."""

    def make(name, cell, edits, failing, key):
        return bug(key, name, notebook, {cell: edits}, failing)

    return make


def body(new):
    """The edit of a cell whose whole answer (between the markers) is `new`."""
    return ((BODY, new),)


def imports(function, line):
    """An edit that puts `line` (an import) above the definition of `function`."""
    return (f"def {function}(", f"{line}\n\n\ndef {function}(")


def plants_for(assignment):
    """The PLANTS list of an assignment ([] when it has none)."""
    module = "classroom.plants._" + assignment.replace("-", "_")
    try:
        return list(importlib.import_module(module).PLANTS)
    except ModuleNotFoundError:
        return []
