"""One bug catalogue: each exercise's typical bugs, written once, as data.

The catalogue is the folder ``bugs/`` next to this module, one JSON file per notebook
(``01.json`` ... ``07.json``, and ``gradcheck.json``, ``kit.json``): one entry per bug,
keyed by its id ``<notebook>.<exercise>.<slug>`` (e.g. ``04.backward.no-fprime-hidden``; the generic
diagnoses of :mod:`course.gradcheck` and the checker kit are ``gradcheck.<slug>`` and
``kit.<slug>``), holding

- ``name``: what the bug is, as a teacher would say it;
- ``diagnosis``: what a failing test tells the student (after "Likely bug: ");
- ``model`` (optional): how the checker computes what the bug would produce, as the bug
  key its exercise's planted reference understands (e.g.
  ``recursion.planted_backward(..., bug="no_fprime_hidden")``); without it a rule of the
  checker recognises the bug;
- ``says`` (optional): the part of the diagnosis every failing test shows (default: the
  diagnosis up to its first colon).

The ``<exercise>`` of a bug id is the exercise in a word or two, not a grade id; grade
ids follow the scheme in the README's "Grade ids" section (Development).

The checkers build their suspects from these entries (:func:`suspects`); the test
support in ``classroom/`` plants the same bugs, by id, into the solution notebooks and
checks that the failing tests show ``says``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Bug", "all_bugs", "get", "suspects", "table"]

FOLDER = Path(__file__).with_name("bugs")


@dataclass(frozen=True)
class Bug:
    """One typical bug of one exercise (see the module docstring for the fields)."""

    id: str
    name: str
    diagnosis: str
    model: str | None = None
    says: str = ""

    def __post_init__(self):
        if not self.says:
            object.__setattr__(self, "says", self.diagnosis.split(":")[0].strip())


@functools.cache
def all_bugs():
    """Every bug of every notebook (and the generic diagnoses), by id, in file order."""
    found = {}
    for path in sorted(FOLDER.glob("*.json")):
        for key, entry in json.loads(path.read_text(encoding="utf-8")).items():
            if key in found:
                raise ValueError(f"bug id {key} is in two catalogue files")
            if not key.startswith(path.stem + "."):
                raise ValueError(f"bug id {key} is in {path.name}, not in its notebook's file")
            found[key] = Bug(key, **entry)
    return found


def get(bug_id):
    """The Bug with id `bug_id`."""
    return all_bugs()[bug_id]


def table(prefix):
    """The bugs whose id starts with ``prefix + "."`` (one notebook's or exercise's)."""
    return {k: b for k, b in all_bugs().items() if k.startswith(prefix + ".")}


def suspects(bugs, compute):
    """{diagnosis: what the bug gives} for the bugs of `bugs` that have a model.

    Parameters
    ----------
    bugs : dict of str to Bug
    compute : callable
        ``compute(model) -> array or None`` (None: not computable on this case, or the
        same as the right answer).
    """
    out = {}
    for bug in bugs.values():
        if bug.model is None:
            continue
        value = compute(bug.model)
        if value is not None:
            out.setdefault(bug.diagnosis, value)
    return out
