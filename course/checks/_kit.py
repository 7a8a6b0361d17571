"""The checker kit: what the notebooks' checks share, written once.

Every check touches student code only through :mod:`course.grading`'s ``call``,
``call_each`` and ``call_timed``, treats what comes back as data, and judges it against a
reference computed here: the true answer, never one derived from the student's own
work.  The pieces:

- **one tolerance table**, :data:`TOLERANCES`, quoted by every comparison;
- **returns**: :func:`unpack` accepts any sequence where a notebook says "returns
  (a, b)" and says what came back otherwise (:func:`describe`); :func:`values` names a
  float32, float16 or integer result as the cause before comparing numbers;
- **drivers** (:func:`identity`, :func:`output`, :func:`seeded`, :func:`with_reference`):
  small functions that drive the student's objects from where the checks run (the
  grader, when grading) and return plain data;
- **gradients**: :func:`check_gradient` judges a backward pass against the true
  gradient, the finite differences of the reference J; the student's own forward, when
  given, only explains a failure ("fix the forward first");
- **backpropagation, not numerical differentiation**: :func:`check_backprop_speed` and
  :func:`check_timed_values` (the timed call's own values);
- **the student's own work**: :func:`own_work` fails an answer that calls the course's
  implementation of the exercise (and flags it for review);
- **notes**: :func:`fix_first` adds "fix X first" to a failure that an upstream bug
  explains; the tolerance policy is printed with the first gradient failure only
  (:func:`policy_note`).

The tolerance table (relative, absolute):

================  =========  =========  ===================================================
name              rtol       atol       what it compares
================  =========  =========  ===================================================
``exact``         1e-8       1e-12      float64 values against a float64 reference computed
                                        by another correct formula (round-off only)
``typed``         1e-6       1e-9       numbers typed by hand (a decimal like 0.25)
``model``         1e-6       1e-12      a value against a planted bug's value, to name it
``float32``       1e-4       1e-6       float32 values against the reference (7 digits)
``gradient``      1e-5       1e-8       the gradient-check policy of :mod:`course.gradcheck`
================  =========  =========  ===================================================

Statistical checks (dropout's dropped fraction and mean) derive their bounds from the
standard deviation of the estimate, written next to each.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from .. import gradcheck, grading
from ..grading import (
    GradingFailure,
    TimeBudgetExceeded,
    as_numbers,
    call,
    call_each,
    call_timed,
    policy_note,
    quiet,
    reset_notes,
)
from .catalogue import likely

__all__ = [
    "TOLERANCES",
    "Tolerance",
    "check_backprop_speed",
    "check_gradient",
    "check_values",
    "close",
    "describe",
    "evaluations",
    "fix_first",
    "identity",
    "own_work",
    "matching",
    "output",
    "policy_note",
    "problem_of",
    "with_problem",
    "reset_notes",
    "seeded",
    "student_value",
    "unpack",
    "values",
    "with_reference",
]


@dataclass(frozen=True)
class Tolerance:
    """|yours − expected| ≤ rtol·|expected| + atol, entry by entry."""

    rtol: float
    atol: float


TOLERANCES = {
    "exact": Tolerance(1e-8, 1e-12),
    "typed": Tolerance(1e-6, 1e-9),
    "model": Tolerance(1e-6, 1e-12),
    "float32": Tolerance(1e-4, 1e-6),
    "gradient": Tolerance(gradcheck.RTOL, gradcheck.ATOL),
}

LOW_PRECISION = ("float16", "float32")


def close(yours, expected, tol="exact"):
    """True when every entry of `yours` is within tolerance `tol` of `expected`."""
    t = TOLERANCES[tol]
    try:
        a = np.asarray(yours, dtype=np.float64)
        b = np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if a.shape != b.shape:
        return False
    with quiet():
        return bool(np.all(np.abs(a - b) <= t.rtol * np.abs(b) + t.atol))


def matching(value, models, tol="model"):
    """The sentence of the first model that `value` equals (same shape), or None.

    Parameters
    ----------
    value : array_like
    models : dict of str to array_like or None
        Sentence -> what the bug would give (None: not computable here).
    """
    for sentence, model in models.items():
        forms = model if isinstance(model, tuple) else (model,)
        if any(m is not None and close(value, m, tol) for m in forms):
            return sentence
    return None


def product_slips(factors):
    """What a product Π factors becomes when one factor divides instead of multiplying
    (one form per factor), as a tuple of models."""
    with quiet():
        full = np.prod(np.array(factors, dtype=object), axis=0)
        return tuple(full / f / f for f in factors)


def prime_slips(s):
    """σ' written wrong from the sigmoid's output s: s/(1 − s), s(1 + s), s(2 − s),
    (1 − s)/s (the slips of s(1 − s) at one operator or number)."""
    with quiet():
        return (s / (1.0 - s), s * (1.0 + s), s * (2.0 - s), (1.0 - s) / s)


# ------------------------------------------------------------------------------ returns


def describe(value):
    """What a student returned, for a message: type, length, shapes, keys."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} ({value.dtype})"
    if isinstance(value, tuple | list):
        inner = ", ".join(_short(v) for v in value[:5]) + (", …" if len(value) > 5 else "")
        return f"a {type(value).__name__} of length {len(value)} ({inner})"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return _short(value)


def _short(value):
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"array {value.shape}"
    if isinstance(value, bool | int | float | np.number):
        return f"{type(value).__name__} {value:.6g}" if not isinstance(value, bool) else "bool"
    if isinstance(value, tuple | list):
        return f"{type(value).__name__} of length {len(value)}"
    if isinstance(value, dict):
        return f"dict {sorted(map(str, value))[:6]}"
    return type(value).__name__


def unpack(value, what, names):
    """`value` as a tuple of len(names), for a notebook's "returns (a, b, ...)".

    Any sequence of that length is accepted: a tuple, a list, or a 1-d array of numbers
    (a 2-d array is taken as one value, the usual slip "returned a alone").

    Parameters
    ----------
    value : object
        What the student's function returned.
    what : str
        The function's name.
    names : sequence of str
        The names of the values, as the notebook writes them.
    """
    n = len(names)
    if isinstance(value, tuple | list) and len(value) == n:
        return tuple(value)
    if isinstance(value, np.ndarray) and value.ndim == 1 and len(value) == n:
        return tuple(value)
    raise GradingFailure(
        f"{what} must return {n} values ({', '.join(names)}), got {describe(value)}."
    )


def as_dict(value, what, keys):
    """`value` as a dict holding every key of `keys` (a structural message otherwise)."""
    if not isinstance(value, dict):
        raise GradingFailure(
            f"{what} must return a dict with keys {sorted(keys)}, got {describe(value)}."
        )
    missing = sorted(set(keys) - set(value))
    if missing:
        raise GradingFailure(f"{what} returned no {missing}: its dict holds {sorted(value)}.")
    return value


def values(name, value, shape=None, *, integers=False):
    """`value` as a float64 array, after naming a wrong type, shape or dtype.

    Parameters
    ----------
    name : str
    value : object
    shape : tuple, optional
        Required shape.
    integers : bool
        Whether an integer dtype is legitimate (counts, indices).

    Returns
    -------
    arr : ndarray of float64
    dtype : str
        The dtype the student's value had ("float64" for Python numbers).
    """
    raw = value if isinstance(value, np.ndarray | np.generic) else None
    if raw is not None and raw.dtype.kind == "b":
        raise GradingFailure(f"{name} is an array of booleans; it must hold numbers.")
    arr = as_numbers(name, value, shape, describe=describe)
    dtype = str(raw.dtype) if raw is not None else "float64"
    if raw is not None and raw.dtype.kind in "iu" and not integers:
        dtype = "integer"
    return arr, dtype


def _dtype_sentence(name, dtype):
    if dtype == "integer":
        return (
            f"{name} holds integers: the values it should hold are fractions. Start from a "
            "float array (np.zeros(shape), not np.zeros(shape, dtype=int)); an integer array "
            "updated in place truncates what is written into it."
        )
    return (
        f"{name} is {dtype}: compute in float64 (numpy's default). With {dtype} the values "
        "carry only about 7 digits, and finite differences need float64."
    )


def check_values(name, yours, expected, *, tol="exact", reveal=True, models=None, hint=None):
    """Fail unless `yours` equals the reference `expected`; dtype, shape, then values.

    Parameters
    ----------
    name : str
        What it is, as the student knows it.
    yours : object
        The student's value.
    expected : array_like
        The reference (computed by the checker).
    tol : str
        A key of :data:`TOLERANCES`.
    reveal : bool
        Show the expected entry (False in hidden tests and for hand numbers).
    models : dict of str to array_like, optional
        Planted bugs' values: a match is named ("Likely bug: ...").
    hint : str, optional
        Shown on any failure that no model explains.

    Returns
    -------
    ndarray of float64
        The student's values.
    """
    expected = np.asarray(expected, dtype=np.float64)
    arr, dtype = values(name, yours, expected.shape)
    if dtype in LOW_PRECISION + ("integer",) and (
        dtype != "integer" or not np.all(expected == np.round(expected))
    ):
        if close(arr, expected, "float32") or dtype == "integer":
            raise GradingFailure(_dtype_sentence(name, dtype))
    if close(arr, expected, tol):
        return arr
    sentence = matching(arr, models or {})
    text = _first_difference(name, arr, expected, TOLERANCES[tol], reveal)
    if sentence:  # a model's name: a diagnosis of the catalogue (catalogue.suspects)
        text += f"\nLikely bug: {sentence.rstrip('.')}."
    elif tol == "exact" and close(arr, expected, "float32"):
        text += "\n" + likely("kit.float32-digits")
    elif expected.size == 1 and float(expected) != 0 and close(-arr, expected, tol):
        text += "\n" + likely("kit.value-sign")
    elif hint:
        text += f"\n{hint}"
    if dtype in LOW_PRECISION:
        text = _dtype_sentence(name, dtype) + "\n" + text
    raise GradingFailure(text)


def _first_difference(name, arr, expected, t, reveal):
    with quiet():
        bad = ~(np.abs(arr - expected) <= t.rtol * np.abs(expected) + t.atol)
    idx = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
    where = f" at entry {list(map(int, idx))}" if bad.ndim else ""
    text = f"{name} is wrong{where}: yours {float(arr[idx]):.6g}"
    text += f", expected {float(expected[idx]):.6g}." if reveal else "."
    if bad.ndim and bad.sum() > 1:
        text += f" ({int(bad.sum())} of {bad.size} entries differ.)"
    return text


# ------------------------------------------------------------------------------ drivers
#
# Drivers are small functions of the checks that drive the student's objects: they run
# where the checks run (in the grader when grading, where the student's objects are
# handles into the kernel), and what they return is data the checks judge.


def identity(value):
    """`value` itself: reads a student's variable as data."""
    return value


def output(fn, index, *args, **kwargs):
    """``fn(*args, **kwargs)[index]``: one value of a function that returns several."""
    return fn(*args, **kwargs)[index]


def seeded(fn, seed, *args, **kwargs):
    """``fn(*args, rng=np.random.default_rng(seed), **kwargs)``: a fresh generator for the
    call (the student's function gets its own copy in its kernel)."""
    return fn(*args, rng=np.random.default_rng(seed), **kwargs)


def with_reference(fn, name, reference, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` with the global `name` of the student's namespace bound
    to the checker's `reference` (a function that runs where the checks run) for the call,
    then put the student's own back.  Lets a check judge a function apart from a wrong
    helper it calls (so a wrong forward costs only the forward's points)."""
    with grading.binding(fn, name, reference):
        return fn(*args, **kwargs)


def student_value(namespace, name):
    """The student's variable `name` of the notebook `namespace`, as data.

    Raises
    ------
    GradingFailure
        When `name` is not defined.
    """
    if name not in namespace:
        raise GradingFailure(
            f"{name} is not defined yet: write `{name} = <your answer>` in the answer cell "
            "above and run it."
        )
    return call(identity, namespace[name], what=name)


# ------------------------------------------------------------------------------ own work

#: Prefix of the checks' own code: calling any of it is never the student's work.
CHECKS_PREFIX = "course.checks."
#: The course's numerical gradient: a give-away of every backward pass.
NUMERICAL = "course.gradcheck.numerical_gradient"


def _gives_away(path, giveaways):
    return path in giveaways or path.startswith(CHECKS_PREFIX)


@contextlib.contextmanager
def own_work(what, giveaways=(), fn=None):
    """Fail (and flag for review) when, meanwhile, the student's code called a course
    function that computes this exercise's answer: one of `giveaways` (paths such as
    ``"course.network.forward"``) or anything of ``course.checks``; or when the student's
    function `fn` *is* one (a name imported from the course).

    The calls are seen where they cannot be hidden: when grading, every course function
    the kernel calls runs in the grader (its stubs say which); in the student's
    JupyterLab, a profile hook sees the calls from the student's code.

    Parameters
    ----------
    what : str
        The student's function, as the notebook names it.
    giveaways : sequence of str
        The course functions that give this exercise away.
    fn : callable, optional
        The student's function itself.
    """
    path = grading.library_path(fn) if fn is not None else None
    if path and _gives_away(path, giveaways):
        grading.flag(f"{what} is {path}, which computes the answer")
        raise GradingFailure(
            f"your {what} is {path} itself (imported from the course): the course's own "
            "implementation of what this exercise asks you to write, so it earns nothing "
            "here (and the instructor is told). Write it yourself; the library is for the "
            "later notebooks."
        )
    with grading.library_calls() as used:
        yield
    found = sorted(p for p in used if _gives_away(p, giveaways))
    if found:
        calls = ", ".join(found)
        grading.flag(f"{what} calls {calls}, which computes the answer")
        if found == [NUMERICAL]:
            raise GradingFailure(
                f"{what} calls {NUMERICAL}: that is numerical differentiation (finite "
                "differences), not the backward pass this exercise asks for, so it earns "
                "nothing here (and the instructor is told).\n" + likely("gradcheck.numerical")
            )
        raise GradingFailure(
            f"{what} calls {calls}: the course's own implementation of what this exercise "
            "asks you to write, so it earns nothing here (and the instructor is told). "
            "Write it yourself; the library is for the later notebooks."
        )


# ------------------------------------------------------------------------------ notes


@contextlib.contextmanager
def fix_first(problem, what):
    """Add "fix `what` first" to a failure when `problem()` names an upstream bug.

    Parameters
    ----------
    problem : callable
        ``problem() -> str or None``: what is wrong upstream (None: nothing).
    what : str
        The upstream function, as the student knows it.
    """
    try:
        yield
    except TimeBudgetExceeded:
        raise
    except GradingFailure as failure:
        try:
            sentence = problem()
        except GradingFailure:
            sentence = "it fails its own test"
        if not sentence or "Fix " + what in str(failure):
            raise
        raise GradingFailure(
            f"{failure}\nFix {what} first: it is wrong here too ({sentence}), and this test "
            "builds on it."
        ) from None


def with_problem(text, problem, what):
    """`text` (a gradient failure that says "Fix `what` first") with what `problem()` says
    is wrong with `what`, before the tolerance note; unchanged otherwise."""
    if f"Fix {what} first" not in text:
        return text
    try:
        sentence = problem()
    except GradingFailure:
        sentence = None
    if not sentence or sentence in text:
        return text
    head, note, tail = text.partition("\n(Gradient checks: ")
    return f"{head}\nWhat is wrong with {what}: {sentence}.{note}{tail}"


def problem_of(check, *args, **kwargs):
    """A `problem` for :func:`fix_first`: what ``check(*args, **kwargs)`` says is wrong
    (its "Likely bug" when it has one), or None when it passes."""

    def problem():
        try:
            check(*args, **kwargs)
        except GradingFailure as failure:
            text = str(failure)
            if "Likely bug: " in text:
                return text.split("Likely bug: ", 1)[1].split("\n")[0].rstrip(".")
            return text.split("\n")[0].rstrip(".")
        return None

    return problem


# ------------------------------------------------------------------------------ gradients
#
# A backward pass earns its points by the true gradient: the finite differences of the
# reference J (the correct function) at the correct forward values.  What the student's
# own forward computes never vouches for a gradient; it only explains a failure ("your
# gradient is the derivative of your forward, which is wrong here: fix it first").


def _points(x0, h):
    """x0, then x0 + h e_i and x0 − h e_i for every entry i, as float64 copies."""
    pts = [x0.copy()]
    flat = x0.reshape(-1)
    for i in range(flat.size):
        for step in (h, -h):
            p = x0.copy()
            p.reshape(-1)[i] = flat[i] + step
            pts.append(p)
    return pts


def _sides(values, shape):
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return values[0], values[1::2].reshape(shape), values[2::2].reshape(shape)


def reference_sides(reference, x0):
    """(J(x0), J(x0 + h e_i), J(x0 − h e_i)) of the checker's `reference` J."""
    with quiet():
        values = [reference(p) for p in _points(x0, gradcheck.H)]
    return _sides(values, x0.shape)


def _own_explanation(grad, x0, student, reference_f0, forward, reveal=True, **kwargs):
    """Why a gradient that is wrong against the network may still look right to its
    author: it is the derivative of their own forward, which differs from the network's
    here.  The sentence, or None (also when the student's forward cannot be evaluated)."""
    try:
        raw, _ = student(_points(x0, gradcheck.H))
        own = _sides(raw, x0.shape)
    except (GradingFailure, TypeError, ValueError):
        return None
    if not np.all(np.isfinite(own[1])) or close(own[0], reference_f0, "float32"):
        return None
    with quiet():
        result = gradcheck.check_gradient(None, x0, grad, sides=own[1:], f0=own[0], **kwargs)
    if not result.ok:
        return None
    values = f" (its value is {float(own[0]):.6g}, the right one {float(reference_f0):.6g})"
    return (
        f"Your gradient is the derivative of your {forward}, which is wrong here"
        f"{values if reveal else ''}: it earns nothing until {forward} is right. Fix "
        f"{forward} first; this test checks the true gradient."
    )


def check_gradient(
    name,
    grad,
    x0,
    *,
    entry,
    reference,
    student=None,
    forward="your forward pass",
    problem=None,
    reveal=True,
    **kwargs,
):
    """Fail unless `grad` is the true gradient at `x0`: the finite differences of the
    checker's `reference` J (the correct function, at the correct forward values).

    Parameters
    ----------
    name : str
        Display name, e.g. "∂J/∂W1".
    grad : object
        The student's gradient.
    x0 : array_like
        The point: the parameter's value.
    entry : str
        The parameter as messages name its entries, e.g. "W1".
    reference : callable
        ``reference(point) -> float``: the correct J, computed by the checker.
    student : callable, optional
        ``student(points) -> (values, dtype)``: the student's own J at each point (one
        batch).  Used only to explain a failure: a gradient right for a wrong forward of
        the student's earns nothing, and the message says to fix that forward first.
    forward : str
        The student's forward pass, as named in messages.
    problem : callable, optional
        ``problem() -> str or None``: what is wrong with the student's forward (added as
        "fix it first" to a failure).
    reveal : bool
    **kwargs
        Passed to :func:`course.gradcheck.check_gradient` (suspects, batch_size,
        activation_prime, transpose_hint).

    Returns
    -------
    GradientCheck
    """
    x0 = np.array(x0, dtype=np.float64)
    arr_dtype = str(grad.dtype) if isinstance(grad, np.ndarray | np.generic) else "float64"
    f0, plus, minus = reference_sides(reference, x0)
    with quiet():
        result = gradcheck.check_gradient(None, x0, grad, sides=(plus, minus), f0=f0, **kwargs)
    if result.ok:
        return result
    text = result.message(name, reveal=reveal)
    if arr_dtype in LOW_PRECISION:
        text = _dtype_sentence(name, arr_dtype) + "\n" + text
    own = _own_explanation(grad, x0, student, f0, forward, reveal, **kwargs) if student else None
    if own:
        text += "\n" + own
    else:
        sentence = None
        if problem is not None:
            try:
                sentence = problem()
            except GradingFailure:
                sentence = "it fails its own test"
        if sentence and "Fix " + forward not in text:
            text += (
                f"\nFix {forward} first: it is wrong here too ({sentence}), and this test "
                "builds on it."
            )
    raise GradingFailure(text + policy_note())


def evaluations(fn, index, arguments, scalar, what):
    """A `student` for :func:`check_gradient`: ``scalar(fn(*args, **kw)[index])`` at each
    point, with ``(args, kw) = arguments(point)``, in one batch (``call_each``).

    Parameters
    ----------
    fn : callable
        The student's forward pass.
    index : int or None
        Which returned value to keep (None: the whole return value).
    arguments : callable
        ``arguments(point) -> (args, kwargs)`` for `fn`.
    scalar : callable
        ``scalar(value) -> float``, computed by the checker (e.g. the loss of an output).
    what : str
        The forward's name.
    """

    def student(points):
        outs = call_each(fn, [arguments(p) for p in points], what=what)
        if index is not None:
            try:
                outs = [o[index] for o in outs]
            except (TypeError, IndexError, KeyError):
                raise GradingFailure(
                    f"{what} returned {describe(outs[0])}, which this test cannot use: fix "
                    f"{what} first (its own test says more)."
                ) from None
        first = outs[0]
        dtype = str(first.dtype) if isinstance(first, np.ndarray | np.generic) else "float64"
        try:
            with quiet():
                return [scalar(o) for o in outs], dtype
        except (TypeError, ValueError, IndexError, KeyError):
            raise GradingFailure(
                f"{what} returned {describe(first)} here, which this test cannot use: fix "
                f"{what} first (its own test says more)."
            ) from None

    return student


def check_forward_gradient(name, grad, x0, *, forward_fn, arguments, scalar, reference, **kw):
    """:func:`check_gradient` where the student's J is ``scalar`` of the first value that
    ``forward_fn`` returns, called with ``(args, kwargs) = arguments(point)``; `kw` are
    the keywords of :func:`check_gradient` (entry, forward, problem, suspects, ...)."""
    student = evaluations(forward_fn, 0, arguments, scalar, kw.get("forward", "forward"))
    return check_gradient(name, grad, x0, student=student, reference=reference, **kw)


def check_param_gradient(name, key, grads, params, *, fn, arguments, reference, **kw):
    """:func:`check_forward_gradient` for ``grads[key]`` of a parameter dict, the student's
    J being a number returned first by `fn`; `arguments` and `reference` take
    (key, point)."""
    return check_forward_gradient(
        name,
        grads[key],
        params[key],
        entry=key,
        forward_fn=fn,
        arguments=lambda point: arguments(key, point),
        scalar=lambda J: float(np.asarray(J, dtype=np.float64).reshape(())),
        reference=lambda point: reference(key, point),
        **kw,
    )


# ------------------------------------------------------------------------------ speed

#: A backward pass on the timing networks must finish within this many seconds.
#: Measured on a loaded 2-core machine (notebook 04's 600-600-10 network, N = 8, 3.7·10⁵
#: parameters): the vectorised backward takes 0.5 ms (3000× under the budget), a loop
#: over the examples 30 ms (≥ 40×); finite differences need 2·3.7·10⁵ forward passes of
#: 0.4 ms each, about 300 s (≈ 200× over), and are stopped at the budget.  The grader's
#: round trip (1–5 ms) does not matter at this scale.  Notebook 03's layer test trades
#: margin for the lecture's per-weight loops (see softmax_layer.check_backprop).
BACKPROP_BUDGET = 1.5


def check_backprop_speed(fn, *args, what, n_params, forward_seconds=None, **kwargs):
    """Fail unless ``fn(*args, **kwargs)`` (a backward pass) runs within the budget.

    A backward that is too slow is named as numerical differentiation and flagged for
    the instructor's review.

    Parameters
    ----------
    fn : callable
        The student's backward (or loss-and-gradients) function.
    *args, **kwargs
        Its arguments: a network with `n_params` ≥ 10⁴ parameters.
    what : str
        Its name.
    n_params : int
        Parameters of the network (for the message).
    forward_seconds : float, optional
        How long the student's forward took on the same network (for the message).

    Returns
    -------
    (object, float)
        What the timed call returned (judge it: :func:`check_timed_values`), and the
        seconds it took.
    """
    try:
        value, seconds = call_timed(fn, *args, budget=BACKPROP_BUDGET, what=what, **kwargs)
    except TimeBudgetExceeded:
        value, seconds = None, np.inf
    if seconds <= BACKPROP_BUDGET:
        return value, seconds
    fwd = f" (your forward pass: {1e3 * forward_seconds:.1f} ms)" if forward_seconds else ""
    grading.flag(f"{what} looks like numerical differentiation (too slow at {n_params} parameters)")
    raise GradingFailure(
        f"{what} did not finish within {BACKPROP_BUDGET:g} s on a network with {n_params} "
        f"parameters{fwd}. Backpropagation costs about two forward passes; numerical "
        f"differentiation costs two forward passes per parameter ({2 * n_params}).\n"
        + likely("gradcheck.numerical")
    )


def check_timed_values(what, grads, right, n_params, size=None):
    """The gradients a timed backward returned on the big network are the network's.

    A backward that is right on small networks and gives up on a big one (a numerical
    backward returning zeros beyond some size) earns nothing in the speed test and is
    flagged for review.

    Parameters
    ----------
    what : str
    grads : object
        What the timed call returned: a dict of gradients.
    right : dict of str to ndarray
        The true gradients (the reference backpropagation).
    n_params : int
    size : str, optional
        The timed case as the message names it (default: "the network of n_params
        parameters timed here").
    """
    wrong = None
    if not isinstance(grads, dict) or set(right) - set(grads):
        wrong = f"it returned {describe(grads)}"
    else:
        for key in sorted(right, key=lambda k: (k[1:], k[0])):
            if not close(grads[key], right[key], "gradient"):
                wrong = f"its ∂J/∂{key} differs from the network's"
                break
    if wrong is None:
        return
    size = size or f"the network of {n_params} parameters timed here"
    grading.flag(f"{what} is fast but wrong on a big network ({n_params} parameters)")
    raise GradingFailure(
        f"on {size}, {what} answered in time but "
        f"{wrong}, though the smaller tests may pass: a backward must compute the same "
        "gradient at every size (numerical differentiation that gives up on big networks "
        "earns nothing).\n" + likely("kit.gives-up-big")
    )
