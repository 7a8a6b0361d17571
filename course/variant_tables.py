"""Each student's own numbers: the variant tables of an assignment's hand calculations.

Copying a hand calculation pays when every student is given the same numbers.  So an
assignment that asks for numbers declares a :class:`Spec`: how to draw its numbers, what
makes a draw well posed (no answer 0 or ±1, the planted bugs' answers distinguishable
from the right ones and from each other, no saturated sigmoid...), and how many
variants a class gets.  Its **variant table** is generated once, at release, into the
assignment's folder (``variants.json``, :func:`write_table`), and ships with the release:
it holds only the numbers, never an answer.

A student's variant is fixed by a keyed hash (HMAC-SHA256) of the course, the
assignment and the student id, with the table's random key, so a bad draw is replaced
by editing one row of one table, not by changing everyone's; the instructor can give a
student another variant (``backprop-grade release --variant STUDENT=K``, stored in the
table's ``overrides``).  Variant 0 is the course's example, the numbers the notebook's
text was written with; it is what a notebook shows when no student id is known.

Where the student id comes from: ``BACKPROP_STUDENT`` (``make lab`` asks for it once),
else ``JUPYTERHUB_USER`` (the hub).  While grading, none of that is read: the grader
decides the variant of the submission it grades from its own copy of the table
(:func:`grading_as`), and the course functions the kernel calls run in the grader.

The numbers are plain data: lists and floats (they cross to the kernel as they are).
What a notebook calls is :mod:`course.variants` (``mine``, ``numbers``); this module is
the grader's and the release's, and a grading kernel cannot call it.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .gradcheck import _DIAG_RTOL

__all__ = [
    "FILE",
    "SPECS",
    "Assigned",
    "assign",
    "current",
    "generate",
    "grading_as",
    "write_table",
]

#: The variant table's file name, in the assignment's folder.
FILE = "variants.json"
SCHEMA = 1


@dataclass(frozen=True)
class Spec:
    """How an assignment's variants are drawn.

    Attributes
    ----------
    assignment : str
        The assignment id (e.g. "01-chain-rule").
    count : int
        Variants in a class's table (variant 0 is `example`).
    example : dict
        The course's example numbers, variant 0.
    draw : callable
        ``draw(rng) -> dict`` of new numbers (rng a numpy Generator).
    problems : callable
        ``problems(numbers) -> list of str``: why a draw is not well posed (empty: it is).
    describe : callable
        ``describe(numbers) -> str``: the numbers as the notebook's text writes them.
    answers : callable, optional
        ``answers(numbers) -> dict`` of the hand answers, by the notebook's names: what
        tells "the answers of another variant" apart.
    distinct : tuple of str
        Answers no two variants of a table share (so that those alone tell which
        variant a student's numbers belong to).
    """

    assignment: str
    count: int
    example: dict
    draw: Callable
    problems: Callable
    describe: Callable
    answers: Callable | None = None
    distinct: tuple = ()


# -- 01: the graph f(x, y, z) = x (y² + z) at the student's point ---------------------------


def _graph_answers(n):
    x, y, z = n["point"]
    g = y * y + z
    return {"g_value": g, "f_value": x * g, "dfdx": g, "dfdy": 2 * x * y, "dfdz": x}


#: The hand answers' typical bugs, by the answer's name: (catalogue id, what the bug
#: computes at the point).  Each is checked distinguishable on every variant.
GRAPH_HAND_BUGS = {
    "g_value": (("01.hand.g-no-square", lambda x, y, z: y + z),),
    "f_value": (
        ("01.hand.f-no-square", lambda x, y, z: x * (y + z)),
        ("01.hand.f-precedence", lambda x, y, z: x * y * y + z),
    ),
    "dfdx": (("01.hand.dfdx-x", lambda x, y, z: x),),
    "dfdy": (
        ("01.hand.dfdy-no-x", lambda x, y, z: 2 * y),
        ("01.hand.dfdy-no-2", lambda x, y, z: x * y),
    ),
    "dfdz": (("01.hand.dfdz-local", lambda x, y, z: 1.0),),
}


def _graph_draw(rng):
    inputs = [-5, -4, -3, -2, 2, 3, 4, 5]
    x, y = (float(v) for v in rng.choice(inputs, size=2))
    z = float(rng.choice([v for v in range(-9, 10) if v not in (0, 1, -1)]))
    return {"point": [x, y, z]}


def _round(v):
    return abs(v) < 1.5 or abs(v) >= 100


def _graph_problems(n):
    x, y, z = n["point"]
    out = []
    answers = _graph_answers(n)
    for name, value in answers.items():
        if _round(value):
            out.append(f"{name} = {value:g} is too round to tell a method from a guess")
    if len({abs(answers[k]) for k in ("dfdx", "dfdy", "dfdz")}) < 3:
        out.append("two partials have the same size: a mix-up would not show")
    for name, bugs in GRAPH_HAND_BUGS.items():
        seen = {answers[name]}
        for bug, model in bugs:
            wrong = model(x, y, z)
            if wrong in seen:
                out.append(f"{bug} gives {name} = {wrong:g}, the answer or another bug's")
            seen.add(wrong)
    return out


def _graph_describe(n):
    x, y, z = (f"{v:g}" for v in n["point"])
    return f"x = {x}, y = {y}, z = {z}"


# -- 02: the 2-2-1 network's worked example --------------------------------------------------


def _sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


def _network_draw(rng):
    def one_decimal(size, low, high):
        values = np.round(rng.uniform(low, high, size) * 10) / 10
        return np.where(values == 0, 0.1, values)

    return {
        "wh": one_decimal((3, 2), -1.0, 1.0).tolist(),
        "wo": one_decimal(3, -1.0, 1.0).tolist(),
        "x": one_decimal(2, -1.5, 1.5).tolist(),
        "y_star": float(rng.choice([0.0, 1.0])),
    }


#: How far a slip's ratio to the right value must stay from a factor the gradient check
#: names (2, 4...), relative: three times the check's own tolerance (gradcheck._DIAG_RTOL).
_NAMED_FACTOR_MARGIN = 3 * _DIAG_RTOL


def _network_problems(n):
    wh, wo, x = np.array(n["wh"]), np.array(n["wo"]), np.array(n["x"])
    out = []
    s_hidden = wh[0] + x @ wh[1:]
    z = _sigmoid(s_hidden)
    s = wo[0] + wo[1:] @ z
    y = _sigmoid(s)
    if np.max(np.abs(s_hidden)) > 2.0 or abs(s) > 2.0:
        out.append("a sigmoid saturates (|s| > 2): its slope would hide a missing factor")
    for v in (*z, y):  # σ' slipped to v(1 + v) must not pass for a constant factor
        ratio = (1 + v) / (1 - v)
        for c in (2.0, 4.0):
            if abs(ratio - c) < _NAMED_FACTOR_MARGIN * c:
                out.append(f"σ' written v(1 + v) at v = {v:.4f} would look like a factor {c:g}")
    if abs(y - n["y_star"]) < 0.1:
        out.append("y is too close to y*: every partial is nearly 0")
    delta_o = (y - n["y_star"]) * y * (1 - y)
    delta_h = delta_o * wo[1:] * z * (1 - z)
    grads = np.concatenate([delta_o * np.r_[1.0, z], np.outer(np.r_[1.0, x], delta_h).ravel()])
    if np.min(np.abs(grads)) < 1e-3:
        out.append("a partial is nearly 0: a wrong factor would not show")
    gaps = np.abs(grads[:, None] - grads[None, :]) / np.abs(grads).max()
    if np.min(gaps[np.triu_indices(len(grads), 1)]) < 0.01:
        out.append("two partials are nearly equal: an index mix-up would not show")
    if len({abs(v) for v in np.ravel(wh)} | {abs(v) for v in wo}) < 8:
        out.append("weights repeat: a wrong index would not show")
    return out


def _network_describe(n):
    wh, wo = np.array(n["wh"]), np.array(n["wo"])
    rows = "; ".join(", ".join(f"{v:g}" for v in row) for row in wh)
    return (
        f"w^h (rows i = 0, 1, 2; columns j = 1, 2) = [{rows}], "
        f"w^o = ({', '.join(f'{v:g}' for v in wo)}), "
        f"x = ({', '.join(f'{v:g}' for v in n['x'])}), y* = {n['y_star']:g}"
    )


SPECS = {
    s.assignment: s
    for s in (
        Spec(
            "01-chain-rule",
            16,
            {"point": [-2.0, 3.0, -4.0]},
            _graph_draw,
            _graph_problems,
            _graph_describe,
            _graph_answers,
            ("g_value", "f_value"),
        ),
        Spec(
            "02-sigmoid-network",
            12,
            {
                "wh": [[0.1, -0.2], [0.4, 0.6], [-0.3, 0.8]],
                "wo": [0.05, -0.7, 0.9],
                "x": [0.5, -1.0],
                "y_star": 1.0,
            },
            _network_draw,
            _network_problems,
            _network_describe,
        ),
    )
}


# -- the table --------------------------------------------------------------------------------


class VariantError(ValueError):
    """A variant table that cannot be used (malformed, or another assignment's)."""


def _rng(key, assignment, k, attempt):
    digest = hashlib.sha256(f"{key}/{assignment}/{k}/{attempt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _same_answers(spec, a, b):
    """Whether two variants could be taken for each other: they share one of the hand
    answers that tell variants apart (01: g and f, the first two a student writes)."""
    if spec.answers is None:
        return a == b
    ours, theirs = spec.answers(a), spec.answers(b)
    return any(ours[k] == theirs[k] for k in spec.distinct)


def generate(assignment, key, count=None):
    """The variant table of `assignment`: `count` well-posed draws (variant 0 the example).

    Draw k is seeded from (key, assignment, k), so the same key gives the same table.

    Raises
    ------
    VariantError
        When the assignment declares no variants, or no well-posed draw is found.
    """
    spec = SPECS.get(assignment)
    if spec is None:
        raise VariantError(f"{assignment} has no variants")
    count = int(count or spec.count)
    if count < 1:
        raise VariantError("a variant table needs at least one variant")
    table = [spec.example]
    for k in range(1, count):
        for attempt in range(10_000):
            numbers = spec.draw(_rng(key, assignment, k, attempt))
            if not spec.problems(numbers) and not any(
                _same_answers(spec, numbers, other) for other in table
            ):
                break
        else:
            raise VariantError(f"{assignment}: no well-posed draw for variant {k}")
        table.append(numbers)
    return table


def new_key():
    """A fresh random key for a course's tables (hex)."""
    return secrets.token_hex(16)


def write_table(folder, assignment, course_id, overrides=None, count=None, released=None):
    """Write (or refresh) ``<folder>/variants.json`` for `assignment`; returns the document.

    An existing table keeps its key, its variants and its overrides (a release run again
    must not change anyone's numbers); without one, the table the students were given
    (`released`, the release's folder) is taken back rather than drawing new numbers.
    `overrides` (student -> variant) are added.  `count` other than the table's draws a
    new table (everyone's numbers change).
    """
    path = Path(folder) / FILE
    doc = read_table(folder, assignment) if path.exists() else None
    if doc is None and released is not None:
        doc = read_table(released, assignment)
    if doc is None or (count and int(count) != len(doc["variants"])):
        key = doc["key"] if doc else new_key()
        doc = {
            "schema": SCHEMA,
            "course": course_id,
            "assignment": assignment,
            "key": key,
            "variants": generate(assignment, key, count),
            "overrides": dict(doc["overrides"]) if doc else {},
        }
    for student, k in (overrides or {}).items():
        if not 0 <= int(k) < len(doc["variants"]):
            raise VariantError(
                f"variant {k} for {student}: {assignment} has variants 0 to "
                f"{len(doc['variants']) - 1}"
            )
        doc["overrides"][str(student)] = int(k)
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return doc


def read_table(folder, assignment=None):
    """The variant table in `folder` (a dict), or None when there is none.

    Parameters
    ----------
    folder : path
    assignment : str, optional
        The assignment it must be the table of (its rows are checked against its spec).

    Raises
    ------
    VariantError
        When the file is not a variant table (of `assignment`), or a row is not well posed.
    """
    path = Path(folder) / FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise VariantError(f"{path}: not a variant table ({exc})") from None
    ok = (
        isinstance(doc, dict)
        and isinstance(doc.get("assignment"), str)
        and isinstance(doc.get("key"), str)
        and isinstance(doc.get("variants"), list)
        and doc["variants"]
        and all(isinstance(v, dict) for v in doc["variants"])
        and isinstance(doc.get("overrides", {}), dict)
    )
    if not ok:
        raise VariantError(f"{path}: not a variant table")
    doc.setdefault("overrides", {})
    doc.setdefault("course", "")
    if assignment is not None:
        if doc["assignment"] != assignment:
            raise VariantError(f"{path} is the table of {doc['assignment']}, not of {assignment}")
        spec = SPECS.get(assignment)
        for k, numbers in enumerate(doc["variants"] if spec else ()):
            try:
                problems = (
                    ["its numbers are not " + ", ".join(sorted(spec.example))]
                    if set(numbers) != set(spec.example)
                    else spec.problems(numbers)
                )
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                problems = [f"its numbers cannot be read ({exc})"]
            if problems:
                raise VariantError(f"{path}: variant {k} is not well posed: {problems[0]}")
    return doc


def index_for(doc, student):
    """The variant of `student` in table `doc`: the instructor's override, else
    HMAC-SHA256(key, course/assignment/student) modulo the number of variants."""
    student = str(student)
    given = doc.get("overrides", {}).get(student)
    if isinstance(given, int) and 0 <= given < len(doc["variants"]):
        return given
    message = f"{doc.get('course', '')}/{doc['assignment']}/{student}".encode()
    digest = hmac.new(doc["key"].encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % len(doc["variants"])


@dataclass(frozen=True)
class Assigned:
    """One student's variant of one assignment.

    Attributes
    ----------
    assignment : str
    index : int
        The variant (0 .. count - 1).
    numbers : dict
        Its numbers.
    student : str or None
        Whose it is (None: no student id known, the course's example).
    table : list of dict
        Every variant of the class (to recognise another variant's answers).
    released : int or None
        The student's variant by the keyed hash alone, when an instructor's override
        gave them another (what their notebook showed if they fetched it before).
    """

    assignment: str
    index: int
    numbers: dict
    student: str | None = None
    table: list = field(default_factory=list)
    released: int | None = None

    @property
    def count(self):
        return len(self.table) or 1


def assign(doc, assignment, student):
    """The :class:`Assigned` variant of `student` from table `doc` (None: the example)."""
    spec = SPECS.get(assignment)
    if doc is None:  # no table: everyone has the example (no student's own numbers)
        example = spec.example if spec else {}
        return Assigned(assignment, 0, example, None, [example])
    if doc["assignment"] != assignment:
        raise VariantError(f"the table of {doc['assignment']} is not that of {assignment}")
    k = index_for(doc, student) if student else 0
    hashed = index_for({**doc, "overrides": {}}, student) if student else 0
    return Assigned(
        assignment,
        k,
        doc["variants"][k],
        student,
        list(doc["variants"]),
        hashed if hashed != k else None,
    )


def to_plain(assigned):
    """`assigned` (an :class:`Assigned`) as plain data, for a grading task."""
    return {
        "assignment": assigned.assignment,
        "index": assigned.index,
        "numbers": assigned.numbers,
        "student": assigned.student,
        "table": assigned.table,
        "released": assigned.released,
    }


def from_plain(data):
    """assignment -> :class:`Assigned` from a grading task's ``variants`` (plain data)."""
    out = {}
    for item in (data or {}).values():
        a = Assigned(
            str(item["assignment"]),
            int(item["index"]),
            dict(item["numbers"]),
            item.get("student"),
            list(item.get("table") or [item["numbers"]]),
            item.get("released"),
        )
        out[a.assignment] = a
    return out


def for_submission(folder, assignment, student):
    """The grader's variants for `student`'s submission of `assignment`, as plain data
    (assignment -> :func:`to_plain`): from the instructor's table in `folder` (the
    assignment's source folder); empty when the assignment declares no variants."""
    if assignment not in SPECS:
        return {}
    return of_student(read_table(folder, assignment), assignment, student)


def of_student(doc, assignment, student):
    """:func:`for_submission` from a table already read (`doc`, or None: the example)."""
    if assignment not in SPECS:
        return {}
    return {assignment: to_plain(assign(doc, assignment, student))}


def check_tables(source, release, assignment):
    """Raise :class:`VariantError` unless `assignment` can be graded on its variants: the
    source folder's table (if any) is well posed, and a release that went out with a
    table still has it in the source (else every student would be graded on the example).
    """
    if assignment not in SPECS:
        return
    doc = read_table(source, assignment)
    if doc is None and (Path(release) / FILE).is_file():
        raise VariantError(
            f"{assignment} was released with a variant table, but {Path(source) / FILE} is "
            f"missing: `backprop-grade release {assignment}` takes the released one back"
        )


# -- which variant is "mine" ------------------------------------------------------------------

#: While grading: assignment -> Assigned of the submission being graded (see grading_as).
_GRADING = contextvars.ContextVar("course.variants.grading", default=None)


@contextlib.contextmanager
def grading_as(assigned):
    """Within: the variants are the grader's, `assigned` (assignment -> :class:`Assigned`,
    possibly empty), and nothing of the process's environment or files is read."""
    token = _GRADING.set(dict(assigned or {}))
    try:
        yield
    finally:
        _GRADING.reset(token)


def student_id():
    """The student id the notebook runs for: ``BACKPROP_STUDENT``, else
    ``JUPYTERHUB_USER``, else None."""
    for name in ("BACKPROP_STUDENT", "JUPYTERHUB_USER"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _table_near():
    """The variant table of the notebook's folder (the kernel's working directory)."""
    try:
        return read_table(Path.cwd())
    except VariantError:
        return None


def current(assignment):
    """The :class:`Assigned` variant the current notebook of `assignment` uses."""
    grading = _GRADING.get()
    if grading is not None:
        given = grading.get(assignment)
        return given if given is not None else assign(None, assignment, None)
    doc = _table_near()
    if doc is not None and doc.get("assignment") != assignment:
        doc = None
    return assign(doc, assignment, student_id())


def matching_variants(assignment, given, tol=1e-6):
    """Variants (other than the current one) whose hand answers all agree with `given`.

    Parameters
    ----------
    given : dict
        Answer name -> the student's number (the answers the student wrote).

    Returns
    -------
    list of int
    """
    a = current(assignment)
    spec = SPECS.get(assignment)
    if spec is None or spec.answers is None or not given:
        return []
    found = []
    for k, numbers_k in enumerate(a.table):
        if k == a.index:
            continue
        answers = spec.answers(numbers_k)
        if all(
            name in answers and abs(value - answers[name]) <= tol * max(1.0, abs(answers[name]))
            for name, value in given.items()
        ):
            found.append(k)
    return found
