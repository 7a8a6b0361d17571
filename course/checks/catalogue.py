"""One bug catalogue: each exercise's typical bugs, written once, as data.

A :class:`Bug` says what the bug is (``name``), what a failing test tells the student
(``diagnosis``) and how the checker computes what the bug would produce (``model``: the
key that the exercise's planted reference understands, e.g.
``recursion.planted_backward(..., bug="no_fprime_hidden")``; None when a rule recognises
the bug instead of a model).  The checkers build their suspects from these entries; the
test support in ``classroom/`` plants the same bugs, by id, into the solution notebooks
and into mutants, and checks that the failing tests show ``says``.

Ids read ``<notebook>.<exercise>.<slug>``, e.g. ``04.backward.no-fprime-hidden``; the
generic diagnoses of :mod:`course.gradcheck` are ``gradcheck.<slug>``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["Bug", "all_bugs", "get", "register", "suspects"]

#: The checker modules, one per notebook (imported by :func:`all_bugs`).
MODULES = (
    "chain_rule",
    "sigmoid_network",
    "softmax_layer",
    "recursion",
    "training",
    "vanishing",
    "regularization",
)


@dataclass(frozen=True)
class Bug:
    """One typical bug of one exercise.

    Attributes
    ----------
    id : str
        ``<notebook>.<exercise>.<slug>``.
    name : str
        A short label, as a teacher would say it.
    diagnosis : str
        What a failing test says about it (after "Likely bug: ").
    model : str or None
        How the checker computes its suspect: the bug key of the exercise's planted
        reference; None when a rule recognises it.
    says : str
        A distinctive part of `diagnosis` that every failing test shows (default: the
        whole diagnosis up to its first colon).
    """

    id: str
    name: str
    diagnosis: str
    model: str | None = None
    says: str = ""

    def __post_init__(self):
        if not self.says:
            object.__setattr__(self, "says", self.diagnosis.split(":")[0].strip())


_REGISTRY: dict[str, Bug] = {}


def register(*bugs):
    """Add `bugs` to the catalogue; returns them as a dict keyed by id."""
    table = {}
    for bug in bugs:
        if bug.id in _REGISTRY and _REGISTRY[bug.id] != bug:
            raise ValueError(f"bug id {bug.id!r} is defined twice")
        _REGISTRY[bug.id] = bug
        table[bug.id] = bug
    return table


def all_bugs():
    """Every bug of every notebook (and the generic gradient diagnoses), by id."""
    for name in MODULES:
        importlib.import_module(f"{__package__}.{name}")
    return dict(_REGISTRY)


def get(bug_id):
    """The Bug with id `bug_id`."""
    return all_bugs()[bug_id]


def suspects(table, compute):
    """{diagnosis: what the bug gives} for the bugs of `table` that have a model.

    Parameters
    ----------
    table : dict of str to Bug
    compute : callable
        ``compute(model) -> array or None`` (None: not computable on this case, or the
        same as the right answer).
    """
    out = {}
    for bug in table.values():
        if bug.model is None:
            continue
        value = compute(bug.model)
        if value is not None:
            out.setdefault(bug.diagnosis, value)
    return out


# The diagnoses course.gradcheck gives on its own (any notebook), so that tests and the
# mutation report can tell a named bug from an unnamed one.
GRADCHECK = register(
    Bug("gradcheck.nan", "NaN or inf in the gradient", "it contains NaN or inf", says="NaN or inf"),
    Bug(
        "gradcheck.tiny",
        "too small to diagnose",
        "none can be named: the gradient is too small here",
        says="too small",
    ),
    Bug("gradcheck.zero", "all zero", "it is zero everywhere", says="zero everywhere"),
    Bug("gradcheck.sign", "sign flipped", "the sign is flipped", says="sign"),
    Bug("gradcheck.fprime-missing", "f' missing", "missing the factor f'(z)"),
    Bug("gradcheck.fprime-extra", "f' twice", "one factor f'(z) too many"),
    Bug("gradcheck.transposed", "transposed", "it looks transposed", says="transpose"),
    Bug("gradcheck.factor", "off by a constant factor", "off by a constant factor"),
    Bug("gradcheck.factor-2", "twice too large", "off by a factor 2", says="factor 2"),
    Bug("gradcheck.factor-half", "half too small", "off by a factor ½", says="factor ½"),
    Bug(
        "gradcheck.N-large",
        "1/N missing",
        "N times too large: the batch average's 1/N is missing",
        says="1/N",
    ),
    Bug(
        "gradcheck.N-small", "1/N twice", "N times too small: the 1/N is applied twice", says="1/N"
    ),
    Bug("gradcheck.wrong-sign-scale", "wrong sign and size", "it has the wrong sign"),
    Bug("gradcheck.opposite", "opposite and rescaled", "it points the opposite way"),
    Bug(
        "gradcheck.rows",
        "some rows wrong",
        "right in some rows but wrong in rows",
        says="wrong in rows",
    ),
    Bug(
        "gradcheck.columns",
        "some columns wrong",
        "right in some columns but wrong in columns",
        says="wrong in columns",
    ),
    Bug("gradcheck.keepdims", "bias gradient flat", "keepdims=True", says="keepdims=True"),
    Bug("gradcheck.axis", "bias summed over the wrong axis", "wrong axis", says="wrong axis"),
    Bug("gradcheck.shape", "wrong shape", "but the parameter has shape", says="has shape"),
    Bug(
        "gradcheck.numerical",
        "numerical differentiation",
        "the gradient is computed by numerical differentiation (finite differences), not "
        "by backpropagation",
        says="numerical differentiation",
    ),
    Bug(
        "gradcheck.flat-forward",
        "flat forward",
        "the forward pass does not change when the parameter changes",
        says="does not change when",
    ),
    Bug(
        "kit.float32",
        "float32 or float16 result",
        "compute in float64 (numpy's default): with float32 the values carry only about 7 digits",
        says="compute in float64",
    ),
    Bug(
        "kit.integer",
        "integer result",
        "it holds integers: the values it should hold are fractions",
        says="holds integers",
    ),
    Bug(
        "gradcheck.lying-forward",
        "forward right only at the test point",
        "the forward pass is right at the test point but not at a nearby point",
        says="right at the test point but not",
    ),
)
