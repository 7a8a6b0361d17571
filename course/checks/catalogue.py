"""One bug catalogue: each exercise's typical bugs, written once, as data.

The catalogue is the folder ``bugs/`` next to this module, one JSON file per notebook
(``01.json`` ... ``07.json``, and ``gradcheck.json``, ``kit.json``): one entry per bug,
keyed by its id ``<notebook>.<exercise>.<slug>`` (e.g. ``04.backward.no-fprime-hidden``; the generic
diagnoses of :mod:`course.gradcheck` and the checker kit are ``gradcheck.<slug>`` and
``kit.<slug>``), holding

- ``name``: what the bug is, as a teacher would say it;
- ``diagnosis``: what a failing test tells the student (after "Likely bug: "), written
  in the notebook's own symbols.  The numbers of the case are **fields** in braces, as in
  :meth:`str.format`: ``{scale:g}`` or ``{entries}``, filled by the checker's values; a
  literal brace is doubled (``{{k: v.copy() ...}}``) and an ellipsis "…" is only ever
  text ("t = 0, 1, 2, … counting updates");
- ``says`` (optional): the part of the diagnosis every failing test shows, literal text
  without fields (default: the diagnosis up to its first colon, which must then come
  before any field).

A checker never writes a "Likely bug:" sentence itself: :func:`likely` gives the line,

>>> likely("07.dropout.wrong-scaling", scale=0.5, keep=2.0)
'Likely bug: the kept units are scaled by 0.5, not by 1/(1−p) = 2 (divide by 1 − p).'

and :meth:`Bug.text` the diagnosis alone (a suspect's name, a sentence a check passes
on).

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
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter

__all__ = ["Bug", "all_bugs", "get", "likely", "suspects", "table"]

FOLDER = Path(__file__).with_name("bugs")


@dataclass(frozen=True)
class Bug:
    """One typical bug of one exercise (see the module docstring for the fields).

    Raises
    ------
    ValueError
        A diagnosis whose fields are not plain names (``{}``, ``{0}``, ``{a.b}``,
        ``{a!r}``), or one that needs an explicit ``says`` and has none.
    """

    id: str
    name: str
    diagnosis: str
    says: str = ""
    #: The names of the diagnosis's fields, in order (empty: a sentence without numbers).
    fields: tuple = field(init=False, repr=False, compare=False)
    #: The diagnosis's literal text before, between and after its fields (one more part
    #: than fields; a literal brace undoubled): what every message of the bug shows.
    literals: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        parts = _parts(self.id, self.diagnosis)
        object.__setattr__(self, "fields", tuple(name for _, name in parts if name))
        literals, text = [], ""
        for literal, name in parts:  # a doubled brace splits the literal text
            text += literal
            if name:
                literals, text = [*literals, text], ""
        object.__setattr__(self, "literals", (*literals, text))
        if not self.says:
            object.__setattr__(self, "says", _default_says(self.id, parts))

    def text(self, **values):
        """The diagnosis with its fields filled from `values` (formatted as each field
        says, e.g. ``{scale:g}``).

        Returns
        -------
        str

        Raises
        ------
        TypeError
            A field without a value, or a value for no field.
        """
        missing = [f for f in self.fields if f not in values]
        extra = sorted(set(values) - set(self.fields))
        if missing or extra:
            raise TypeError(
                f"bug {self.id}: its diagnosis has the fields {list(self.fields)}; "
                f"missing {missing}, not a field {extra}"
            )
        return self.diagnosis.format(**values)


def _parts(bug_id, diagnosis):
    """[(literal text, field name or "")] of a diagnosis (a literal brace undoubled)."""
    try:
        parsed = list(Formatter().parse(diagnosis))
    except ValueError as err:
        raise ValueError(f"bug {bug_id}: its diagnosis does not parse ({err})") from None
    out = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (not name.isidentifier() or conversion or "{" in spec):
            raise ValueError(
                f"bug {bug_id}: the field {{{name}}} of its diagnosis is not a plain name "
                "(write {name} or {name:spec}; a literal brace is doubled)"
            )
        out.append((literal, name or ""))
    return out


def _default_says(bug_id, parts):
    """The diagnosis up to its first colon (no field may come before it)."""
    head = []
    for literal, name in parts:
        head.append(literal.split(":")[0])
        if ":" in literal:
            break
        if name:
            raise ValueError(
                f"bug {bug_id}: a field comes before the first colon of its diagnosis, "
                "so give its says (the text every failing test shows)"
            )
    return "".join(head).strip()


def _ending(sentence):
    """`sentence` ending with one full stop."""
    return sentence if sentence.endswith((".", "?", "!")) else sentence + "."


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
    """The Bug with id `bug_id`.

    Returns
    -------
    Bug

    Raises
    ------
    KeyError
        No bug of the catalogue has that id.
    """
    try:
        return all_bugs()[bug_id]
    except KeyError:
        raise KeyError(f"no bug {bug_id!r} in the catalogue ({FOLDER})") from None


def likely(bug_id, **values):
    """The line a failing test shows for the bug `bug_id`: ``"Likely bug: "``, its
    diagnosis with the fields filled from `values` (:meth:`Bug.text`), and one full stop.

    Returns
    -------
    str

    Raises
    ------
    KeyError
        No bug of the catalogue has the id `bug_id`.
    TypeError
        A field of its diagnosis without a value, or a value for no field.
    """
    return "Likely bug: " + _ending(get(bug_id).text(**values))


def table(prefix):
    """The bugs whose id starts with ``prefix + "."`` (one notebook's or exercise's)."""
    return {k: b for k, b in all_bugs().items() if k.startswith(prefix + ".")}


def suspects(bugs, models):
    """{diagnosis: what the bug gives} for the bugs of `bugs` that `models` models, in
    the catalogue's order (the first of two bugs with one diagnosis wins).  A suspect is
    named by its diagnosis as it stands (:meth:`Bug.text`): a bug whose diagnosis has
    fields (numbers of the case) cannot be one.

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
    ValueError
        A model of a bug whose diagnosis has fields.
    """
    if not callable(models):
        unknown = sorted(set(models) - set(all_bugs()))
        if unknown:
            raise KeyError(f"bug models for ids not in the catalogue: {unknown}")
        models = models.get
    out = {}
    for bug in bugs.values():
        value = models(bug.id)
        if value is None:
            continue
        if bug.fields:
            raise ValueError(f"bug {bug.id} has fields {list(bug.fields)}: it names no suspect")
        out.setdefault(bug.text(), value)
    return out
