"""Planted bugs and alternative correct answers, per assignment, as edits of the solutions.

Each module ``classroom/plants/<assignment id with - as _>.py`` (e.g. ``_01_chain_rule``
for "01-chain-rule") defines ``PLANTS``: a list of :class:`Plant`.  A plant is a record:
its key, the notebook, per answer cell (grade id) its edit of the solution cell in
``solutions/`` as (old, new) text replacements, and the test cells that must lose points.

A module is a table, a bug one row of it: ``cell(key, failing, *edits)``, where ``cell``
is the maker of an answer cell (:func:`on`), `key` the bug's catalogue id
(:mod:`course.checks.catalogue`, the one key the checkers' bug models and the mutation
corpus use too), `failing` a tuple of test grade ids and each edit an (old, new) pair or
a :func:`sub` of a solution line; module-level names stand for the lines and grade ids
the rows use.  A bug of several cells is :func:`bug`.  The catalogue names a bug plant:
its name is the catalogue's ``name`` of its id, with a qualifier (``which``) only where
two plants of one assignment would share a name.  Its failing tests must show the
catalogue's ``says`` of it, or a more particular part of that message (:func:`showing`,
:func:`calls`).  A correct alternative has no catalogue id and loses no points: its key
is :data:`ALTERNATIVE`, its name (unique in its assignment) says what it does
differently (``cell.alternative(name, *edits)``, or a :class:`Plant`).

:func:`edit_solution` builds every planted cell and fails, naming the plant, when the
solution no longer contains the text an edit replaces, so a plant cannot drift from the
solution it edits.  The notebook tests plant each into the solutions notebook and assert
the grade (bugs lose exactly the listed cells' points and the failing output names the
bug; alternatives keep full marks); the sample-class generator reuses them as realistic
submissions.
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
        Short label, unique in the assignment: a bug's is the catalogue's name of it
        (:func:`bug`), e.g. "∂J/∂W transposed"; an alternative's says what it does.
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


def calls(function):
    """The key of a plant of "calls the course's function" (``kit.library-call``) whose
    failing tests show that it calls ``course.<function>`` (e.g. "losses.log_softmax")."""
    return showing("kit.library-call", f"calls course.{function}")


def bug(key, notebook, edits, failing, which=None):
    """A bug plant, named by the catalogue: `key` is a catalogue id (the failing tests must
    show its ``says``) or :func:`showing` of one; `edits` is grade id -> (old, new) pairs.
    `which`, a qualifier in two or three words, goes after the catalogue's name where the
    assignment has another plant of that name."""
    bug_id, says = key if isinstance(key, tuple) else (key, "")
    from course.checks import catalogue

    known = catalogue.all_bugs().get(bug_id)  # an unknown id: Plant says so
    name = known.name if known else str(bug_id)
    name = f"{name} ({which})" if which else name
    return Plant(name, notebook, edits, failing, says=says, bug=bug_id)


@dataclass(frozen=True)
class _Cell:
    notebook: str
    cell: str

    def __call__(self, key, failing, *edits, which=None):
        return bug(key, self.notebook, {self.cell: edits}, failing, which)

    def alternative(self, name, *edits):
        return Plant(name, self.notebook, {self.cell: edits})


def on(notebook, cell):
    """The maker of the plants that edit only the answer cell `cell` of `notebook`: a bug
    is ``make(key, failing, *edits, which=None)`` (as :func:`bug`), a correct alternative
    ``make.alternative(name, *edits)``."""
    return _Cell(notebook, cell)


def body(new):
    """The edit of a cell whose whole answer (between the markers) is `new`."""
    return ((BODY, new),)


def sub(line, part, new):
    """The edit of the solution's `line` with its `part` (once in it) replaced by `new`: a
    bug that changes a line a little, written as what it changes."""
    if line.count(part) != 1:
        raise PlantError(f"{part!r} is in {line!r} {line.count(part)} times, not once")
    return (line, line.replace(part, new))


def subs(lines, part, new):
    """:func:`sub` of each of `lines` (e.g. a node's two gradient lines)."""
    return tuple(sub(line, part, new) for line in lines)


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
