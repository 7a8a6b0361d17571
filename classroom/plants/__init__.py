"""Planted bugs and alternative correct answers, per assignment.

Each module ``classroom/plants/<assignment id with - as _>.py`` (e.g. ``_01_chain_rule``
for "01-chain-rule") defines ``PLANTS``: a list of :class:`Plant`.  The notebook tests
plant each into the solutions notebook and assert the grade (bugs lose exactly the
listed cells' points and the failing output names the bug; alternatives keep full
marks); the sample-class generator of the autograder reuses them as realistic
submissions.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field

import nbformat


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
    cells : dict of str to str
        grade_id of an autograded answer cell -> replacement source (the whole cell).
    failing : tuple of str
        grade_ids of test cells expected to lose points (empty for an alternative
        correct answer).
    says : str
        Case-insensitive substring that the failing tests' output must contain (the
        diagnosis); by default the catalogue's ``says`` of `bug`.
    bug : str or None
        The id of the bug in :mod:`course.checks.catalogue` (None for an alternative).
    """

    name: str
    notebook: str
    cells: dict = field(default_factory=dict)
    failing: tuple = ()
    says: str = ""
    bug: str | None = None

    def __post_init__(self):
        if self.bug and not self.says:
            from course.checks import catalogue

            object.__setattr__(self, "says", catalogue.get(self.bug).says)

    @property
    def is_bug(self):
        return bool(self.failing)

    @property
    def flagged(self):
        """True for a plant that uses the library's answer or differentiates numerically:
        the checks ask for the instructor's review of it (their message says so)."""
        said = self.says.lower()
        library = said.startswith("calls ") or "course." in said or "course's own" in said
        return library or "numerical differentiation" in said

    def apply(self, nb):
        """Return a copy of notebook `nb` with the replacement cells planted."""
        nb = nbformat.from_dict(nb)
        found = set()
        for cell in nb.cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid in self.cells:
                cell.source = self.cells[gid]
                found.add(gid)
        missing = set(self.cells) - found
        if missing:
            raise KeyError(f"plant {self.name!r}: no cells with grade_id {sorted(missing)}")
        return nb


def planted(name, notebook, cells, failing, key):
    """A bug plant: `key` is a catalogue id (its ``says`` is used), or else the text the
    failing cells must show (bugs whose message names no kind, e.g. a wrong hand number)."""
    from course.checks import catalogue

    if key in catalogue.all_bugs():
        return Plant(name, notebook, cells, tuple(failing), bug=key)
    return Plant(name, notebook, cells, tuple(failing), says=key)


def plants_for(assignment):
    """The PLANTS list of an assignment ([] when it has none)."""
    module = "classroom.plants._" + assignment.replace("-", "_")
    try:
        return list(importlib.import_module(module).PLANTS)
    except ModuleNotFoundError:
        return []


@functools.cache
def solution_cells(assignment, notebook):
    """grade_id -> source of the answer cells of a solutions notebook."""
    from classroom.runner import SOLUTIONS

    nb = nbformat.read(SOLUTIONS / assignment / f"{notebook}.ipynb", as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def edit_solution(assignment, notebook, grade_id, *replacements):
    """The solution's answer cell `grade_id` with each (old, new) pair replaced.

    Each `old` must occur exactly once, so a plant breaks loudly (instead of silently
    planting nothing) when the solution it edits changes.
    """
    source = solution_cells(assignment, notebook)[grade_id]
    for old, new in replacements:
        if source.count(old) != 1:
            raise ValueError(f"{grade_id}: {old!r} occurs {source.count(old)} times")
        source = source.replace(old, new)
    return source
