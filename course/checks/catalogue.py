"""One bug catalogue: each exercise's typical bugs, written once, as data.

The catalogue is the folder ``bugs/`` next to this module, one JSON file per notebook
(``01.json`` ... ``07.json``, and ``gradcheck.json``, ``kit.json``): one entry per bug,
keyed by its id ``<notebook>.<exercise>.<slug>`` (e.g. ``04.backward.no-fprime-hidden``; the generic
diagnoses of :mod:`course.gradcheck` and the checker kit are ``gradcheck.<slug>`` and
``kit.<slug>``), holding

- ``name``: what the bug is, as a teacher would say it;
- ``diagnosis``: what a failing test tells the student (after "Likely bug: ");
- ``says`` (optional): the part of the diagnosis every failing test shows (default: the
  diagnosis up to its first colon).

The ``<exercise>`` of a bug id is the exercise in a word or two, not a grade id; grade
ids follow the scheme in the README's "Grade ids" section (Development).

The id is the one key of a bug everywhere.  A checker that can compute what a bug would
produce keeps its **bug models** keyed by the id (e.g. ``recursion.BACKWARD_BUGS``, the
δᵐ recursion's table, or a case's ``{id: value}``) and builds its suspects from them with
:func:`suspects`; a bug without a model is recognised by a rule of its checker.  The test
support in ``classroom/`` plants the same bugs, by id, into the solution notebooks and
checks that the failing tests show ``says``; the mutation corpus records the id of the
bug each mutant's failing test names.
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


def suspects(bugs, models):
    """{diagnosis: what the bug gives} for the bugs of `bugs` that `models` models, in
    the catalogue's order (the first of two bugs with one diagnosis wins).

    Parameters
    ----------
    bugs : dict of str to Bug
    models : mapping or callable
        ``{bug id: value}`` (a bug it leaves out has no model here), or
        ``models(bug_id) -> value or None`` called for each of `bugs`.  A value of None:
        not computable on this case, or the same as the right answer.

    Raises
    ------
    KeyError
        A key of the mapping `models` that is not a catalogue id.
    """
    if not callable(models):
        unknown = sorted(set(models) - set(all_bugs()))
        if unknown:
            raise KeyError(f"bug models for ids not in the catalogue: {unknown}")
        models = models.get
    out = {}
    for bug in bugs.values():
        value = models(bug.id)
        if value is not None:
            out.setdefault(bug.diagnosis, value)
    return out
