"""Checkers for notebook 02 (the 2-2-1 sigmoid network by hand).

Parameters are kept in the lecture's notation: ``params["wh"]`` of shape (3, 2) holds
wʰᵢⱼ at ``[i, j − 1]`` (row 0: the biases wʰ₀ⱼ), ``params["wo"]`` of shape (3,) holds wᵒᵢ₁
at ``[i]`` (entry 0: the bias wᵒ₀₁).  An input is x = (x₁, x₂); y is the network's output,
y* the target, and the loss L = ½(y − y*)².

The forward is judged against the network's (:func:`course.lecture.forward`, the one
implementation, which the notebook's demonstration uses too).  Every partial derivative
earns its points by the **true** gradient: the student's function is called with the
network's forward bound in place of their ``forward`` (:func:`course.checks._kit.with_reference`),
and what it returns is compared with central differences of the network's
L = ½(y − y*)² (:func:`course.checks._kit.check_gradient`).  So a wrong forward costs only
the forward's points, and a partial that is right only for the student's own wrong
forward earns nothing: a second call with their own forward only explains the failure
("the derivative of the loss of your forward: fix forward first").  A partial is the
chain rule on the values forward returns: it is called once more with the forward values
of other hidden weights (:func:`_probe`), where finite differences of any forward the
check cannot replace (a default argument, a closure, a copy) give the partial at the
weights passed in instead, and earn nothing (flagged).  SGD is run by a driver that hands
the student's ``sgd`` a recording ``grad_fn``; the verdict replays the run with the
network's gradients, and the XOR test takes the weights only as the end of the run's own
steps.

An answer that calls a course function computing it (:data:`GIVEAWAYS`: the lecture's
network, the course's general network, numerical differentiation) earns nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import gradcheck, grading, lecture, variant_tables
from ..activations import sigmoid, sigmoid_prime
from ..grading import GradingFailure, TimeBudgetExceeded, call, quiet
from . import _kit as kit
from .catalogue import likely, suspects, table

__all__ = [
    "BUGS",
    "FORWARD_BUGS",
    "EXAMPLE_X",
    "EXAMPLE_Y",
    "GIVEAWAYS",
    "example",
    "XOR_X",
    "XOR_Y",
    "check_course_params",
    "check_forward",
    "check_partials",
    "check_partials_loss",
    "check_sgd_shuffles",
    "check_sgd_steps",
    "check_sgd_xor",
    "check_single_partial",
    "example_params",
    "random_case",
    "reference_forward",
    "reference_loss_and_partials",
    "xor_init",
]

#: The worked example: x = (x₁, x₂) and its target y*.
#: The assignment whose variants give each student their worked example.
ASSIGNMENT = "02-sigmoid-network"
_EXAMPLE = variant_tables.SPECS[ASSIGNMENT].example
#: The course's example (variant 0): input, target and weights.
EXAMPLE_X = tuple(_EXAMPLE["x"])
EXAMPLE_Y = _EXAMPLE["y_star"]
_EXAMPLE_WH = tuple(tuple(row) for row in _EXAMPLE["wh"])
_EXAMPLE_WO = tuple(_EXAMPLE["wo"])

#: The four XOR points as columns, and their targets.
XOR_X = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])

#: Which entry of which array each single partial of the notebook differentiates.
_SINGLE = {
    "dL_dwo01": ("wo", (0,), "∂L/∂wᵒ₀₁"),
    "dL_dwo11": ("wo", (1,), "∂L/∂wᵒ₁₁"),
    "dL_dwh22": ("wh", (2, 1), "∂L/∂wʰ₂₂"),
}

BUGS = table("02")

#: The layout of ∂L/∂wh, for a transposed gradient.
WH_TRANSPOSE_HINT = BUGS["02.partials.transposed"].text()

_NUMERICAL = (kit.NUMERICAL, "course.gradcheck.check_gradient", "course.gradcheck.check_gradients")
_FORWARDS = (
    "course.lecture.forward",
    "course.lecture.loss_and_partials",
    "course.network.forward",
    "course.network.predict",
    "course.network.loss_and_grads",
)
_PARTIALS = (*_FORWARDS, "course.network.backward", "course.layers.dense_backward", *_NUMERICAL)

#: The course functions that give each exercise away (see _kit.own_work).  sigmoid is
#: the network's own ingredient; the partials call the student's own forward (the checks
#: bind the network's in its place), not the library's (differentiated numerically, it
#: would be the answer).
GIVEAWAYS = {
    "forward": _FORWARDS,
    "dL_dwo01": _PARTIALS,
    "dL_dwo11": _PARTIALS,
    "dL_dwh22": _PARTIALS,
    "loss_and_partials": _PARTIALS,
    "to_course_params": (),
    "sgd": ("course.training.sgd_step", "course.training.train"),
}


def example_params():
    """The course's example weights (variant 0), as fresh float64 arrays (dict with "wh"
    (3, 2), "wo" (3,)); each student's own worked example is :func:`example`."""
    return {"wh": np.array(_EXAMPLE_WH), "wo": np.array(_EXAMPLE_WO)}


def example():
    """The worked example of the current student's variant (grading: of the submission's
    student, course.variant_tables).

    Returns
    -------
    params : dict
        "wh" (3, 2) and "wo" (3,), float64.
    x : ndarray, shape (2,)
    y_star : float
    """
    n = variant_tables.current(ASSIGNMENT).numbers
    params = {"wh": np.array(n["wh"], dtype=np.float64), "wo": np.array(n["wo"], dtype=np.float64)}
    return params, np.array(n["x"], dtype=np.float64), float(n["y_star"])


def random_case(seed):
    """Random weights, input and target for hidden tests.

    Returns
    -------
    params : dict
    x : ndarray, shape (2,)
    y_star : float
    """
    rng = np.random.default_rng(seed)
    params = {"wh": rng.normal(0.0, 1.0, (3, 2)), "wo": rng.normal(0.0, 1.0, 3)}
    return params, rng.normal(0.0, 1.0, 2), float(rng.uniform(0.0, 1.0))


def xor_init(seed):
    """Initial weights for XOR, drawn N(0, 1) from ``default_rng(seed)`` (wh first, then wo)."""
    rng = np.random.default_rng(seed)
    return {"wh": rng.normal(0.0, 1.0, (3, 2)), "wo": rng.normal(0.0, 1.0, 3)}


def _copy(params):
    return {k: np.array(v, dtype=np.float64) for k, v in params.items()}


def reference_forward(params, x):
    """The network's (y, z): :func:`course.lecture.forward`.

    Returns
    -------
    y : float
    z : ndarray, shape (2,)
    """
    return lecture.forward(params, x)


def reference_loss_and_partials(params, x, y_star):
    """The network's L = ½(y − y*)² and nine partials: :func:`course.lecture.loss_and_partials`.

    Returns
    -------
    L : float
    grads : dict
        "wh" (3, 2) and "wo" (3,), shaped like the parameters.
    """
    return lecture.loss_and_partials(params, x, y_star)


@dataclass(frozen=True)
class ForwardBug:
    """How a forward bug changes the 2-2-1 network (each default: not at all).

    Attributes
    ----------
    hidden : callable
        ``hidden(wh, x)``: the hidden pre-activations (s₁, s₂), shape (2,).
    output : callable
        ``output(s)``: y from the output's pre-activation s.
    """

    hidden: Callable = lambda wh, x: wh[0] + x @ wh[1:]
    output: Callable = sigmoid


#: The forward bugs of :data:`BUGS` the reference forward plants, by catalogue id.
FORWARD_BUGS = {
    "02.forward.transposed": ForwardBug(hidden=lambda wh, x: wh[0] + wh[1:] @ x),
    "02.forward.linear-output": ForwardBug(output=lambda s: s),
    "02.forward.no-hidden-bias": ForwardBug(hidden=lambda wh, x: 0.0 + x @ wh[1:]),
}


def planted_forward(params, x, bug=None):
    """(y, z) of the 2-2-1 network, z of shape (2,), with the forward bug `bug` (a key
    of :data:`FORWARD_BUGS`) planted, or none."""
    plant = FORWARD_BUGS[bug] if bug else ForwardBug()
    x = np.asarray(x, dtype=np.float64)
    wh, wo = np.asarray(params["wh"]), np.asarray(params["wo"])
    z = sigmoid(plant.hidden(wh, x))
    s_out = wo[0] + wo[1:] @ z
    return float(plant.output(s_out)), z


# ---------------------------------------------------------------- forward


def _term_slips(bias, weights, inputs):
    """σ(s) when one term of s = bias + Σ weights·inputs is missing, negated, divided or
    takes another row's weights or another input (single-point slips), as a tuple."""
    terms = [bias] + [w * v for w, v in zip(weights, inputs, strict=True)]
    pool = [bias, *weights]
    out = []
    with quiet():
        for k in range(len(terms)):
            rest = sum(t for i, t in enumerate(terms) if i != k)
            out += [sigmoid(rest), sigmoid(rest - terms[k])]
            for other in pool:
                factor = inputs[k - 1] if k else 1.0
                out.append(sigmoid(rest + other * factor))
            if k:
                out.append(sigmoid(rest + inputs[k - 1] / weights[k - 1]))
                for v in inputs:
                    out.append(sigmoid(rest + weights[k - 1] * v))
    return tuple(o for o in out if np.all(np.isfinite(o)))


def _forward_models(params, x):
    table = {k: b for k, b in BUGS.items() if k in FORWARD_BUGS}
    models = {
        which: suspects(table, lambda bug, i=i: planted_forward(params, x, bug)[i])
        for i, which in enumerate(("y", "z"))
    }
    wh, wo = np.asarray(params["wh"], dtype=np.float64), np.asarray(params["wo"], dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    _, z = reference_forward(params, x)
    term = BUGS["02.forward.term"].text()
    models["z"].setdefault(term, _term_slips(wh[0], [wh[1], wh[2]], [x[0], x[1]]))
    models["y"].setdefault(term, _term_slips(wo[0], [wo[1], wo[2]], [z[0], z[1]]))
    return models


#: What the forward computes, as its messages say it.
Z_RULE = "z_j = σ(wʰ₀ⱼ + wʰ₁ⱼ x₁ + wʰ₂ⱼ x₂), with wʰᵢⱼ = wh[i, j − 1]"
Y_RULE = "y = σ(wᵒ₀₁ + wᵒ₁₁ z₁ + wᵒ₂₁ z₂)"


def forward_problem(forward, params, x):
    """None when the student's forward is right at (params, x), else a short sentence."""
    out = call(forward, _copy(params), np.array(x, dtype=np.float64), what="forward")
    y, z = kit.unpack(out, "forward", ("y", "z"))
    y_ref, z_ref = reference_forward(params, x)
    models = _forward_models(params, x)
    if not kit.close(z, z_ref, "float32"):
        return kit.matching(z, models["z"]) or f"its z is wrong: {Z_RULE}"
    if not kit.close(y, y_ref, "float32"):
        return kit.matching(y, models["y"]) or f"its y is wrong: {Y_RULE}"
    return None


def check_forward(forward, params, x, reveal=True):
    """Check ``forward(params, x) -> (y, z)`` against the network's values (`reveal`: show
    the expected entry; False in hidden tests)."""
    with kit.own_work("forward", GIVEAWAYS["forward"]):
        out = call(forward, _copy(params), np.array(x, dtype=np.float64), what="forward")
    y, z = kit.unpack(out, "forward", ("y", "z"))
    y_ref, z_ref = reference_forward(params, x)
    models = _forward_models(params, x)
    kit.check_values("z = (z₁, z₂)", z, z_ref, models=models["z"], hint=f"{Z_RULE}.", reveal=reveal)
    kit.check_values("y", y, y_ref, models=models["y"], hint=f"{Y_RULE}.", reveal=reveal)


def _with(params, key, index, p):
    """A copy of `params` with params[key] (or its entry `index`) set from the point p."""
    work = _copy(params)
    if index is None:
        work[key] = p
    else:
        work[key][index] = p[0]
    return work


def _reference_loss(params, x, y_star, key, index=None):
    return lambda p: 0.5 * (reference_forward(_with(params, key, index, p), x)[0] - y_star) ** 2


def _arguments(params, x, y_star):
    return _copy(params), np.array(x, dtype=np.float64), float(y_star)


def _same_point(p, x_in, params, x):
    """Whether forward was called at the point (params, x) a partial was given."""
    try:
        return all(
            np.array_equal(np.asarray(p[k], dtype=np.float64), params[k]) for k in params
        ) and np.array_equal(np.ravel(np.asarray(x_in, dtype=np.float64)), np.ravel(x))
    except (TypeError, ValueError, KeyError, IndexError):
        return False


def _watched_forward(params, x, moved, values_of=None):
    """The network's forward as a check binds it for one call of a partial, noting in
    `moved` a call at other weights or another input (finite differences through forward:
    with the network's forward bound in, they would differentiate the network's, not the
    student's work).  At the point given it returns the network's values there, or, with
    `values_of`, those of the network with these other weights (a probe, see
    :func:`_probe`).  A closure, not a function of this module: in the student's
    JupyterLab :func:`kit.own_work` must not count the check's own stand-in as the
    student's call of a course function (when grading it runs in the grader)."""
    given, given_x = _copy(params), np.array(x, dtype=np.float64)
    shown = given if values_of is None else _copy(values_of)

    def stand_in(params, x):  # the notebook's names: keyword calls work too
        if not _same_point(params, x, given, given_x):
            moved.append(True)
            return reference_forward(params, x)
        return reference_forward(shown, given_x)

    return stand_in


def _with_the_networks_forward(fn, what, params, x, y_star, watch=True, values_of=None):
    """``fn(params, x, y_star)`` with the network's forward bound in place of the
    student's ``forward`` (the call every partial is judged by; `values_of`: the weights
    whose forward values it returns, see :func:`_watched_forward`).  With `watch`, a
    partial that calls forward at other weights (numerical differentiation) earns
    nothing."""
    moved = []
    with kit.own_work(what, GIVEAWAYS[what]):
        out = call(
            kit.with_reference,
            fn,
            "forward",
            _watched_forward(params, x, moved, values_of),
            *_arguments(params, x, y_star),
            what=what,
        )
    if watch and moved:
        grading.flag(f"{what} differentiates forward numerically")
        raise GradingFailure(
            f"{what} calls forward at weights (or an input) other than the ones it was given: "
            "that is numerical differentiation (finite differences), not the chain rule this "
            "exercise asks for, so it earns nothing here (and the instructor is told).\n"
            + likely("gradcheck.numerical")
        )
    return out


#: How the probe's hidden weights differ from the ones a partial is given (tried in turn
#: until the partials there differ; see :func:`_probe`).
_PROBE_OFFSETS = (
    np.array([[0.7, -0.5], [-0.6, 0.9], [0.8, -0.4]]),
    np.array([[-0.9, 0.6], [0.5, -0.8], [-0.4, 1.1]]),
    np.array([[1.5, 1.2], [-1.3, -1.0], [1.1, -1.4]]),
)


def _probe_weights(params, x, y_star, pick):
    """(weights, their partials, the partials at `params`): other hidden weights wʰ with
    the same wᵒ, where the entries `pick` takes of the network's partials are far apart
    from those at `params` (None when no offset of :data:`_PROBE_OFFSETS` gets there)."""
    here = pick(reference_loss_and_partials(params, x, y_star)[1])
    for offset in _PROBE_OFFSETS:
        other = _copy(params)
        other["wh"] = other["wh"] + offset
        there = pick(reference_loss_and_partials(other, x, y_star)[1])
        scale = max(float(np.max(np.abs(here))), float(np.max(np.abs(there))))
        if float(np.max(np.abs(there - here))) > 1e-3 * scale + 1e-6:
            return other, there, here
    return None


def _probe(fn, what, params, x, y_star, mine, pick):
    """A partial is the chain rule on the values forward returns: called once more with
    the forward values of other hidden weights wʰ (the same wᵒ, x and y*), it must give
    the network's partials there.  Finite differences of a forward this check cannot
    replace (a default argument, a closure, a copy of forward's code) give the partials
    at the weights passed in instead, whatever forward returns: they earn nothing, and
    are flagged.

    Parameters
    ----------
    mine : callable
        What the student's function returned -> the checked entries (float64 array).
    pick : callable
        The network's grads dict -> the same entries.
    """
    found = _probe_weights(params, x, y_star, pick)
    if found is None:
        return
    other, right, at_given = found
    got = mine(_with_the_networks_forward(fn, what, params, x, y_star, values_of=other))
    if kit.close(got, right, "gradient"):
        return
    if kit.close(got, at_given, "gradient"):
        grading.flag(f"{what} differentiates numerically: forward's values make no difference")
        raise GradingFailure(
            f"{what} gives the partial at the weights it was given even when forward returns "
            "the values of other hidden weights wʰ: not the chain rule on forward's cached "
            "values that this exercise asks for, so it earns nothing here (and the instructor "
            "is told).\n" + likely("02.partial.own-forward")
        )
    raise GradingFailure(
        f"{what} is right at the weights it was given, but not when forward returns the "
        "values of other hidden weights wʰ (the same wᵒ, x and y*): part of it does not come "
        "from the y and z that forward returns.\n" + likely("02.partial.recomputes-z")
    )


def _own_forward_note(fn, forward, params, x, y_star, pick, key, index, what):
    """Why a partial that fails with the network's forward may look right to its author:
    called with their own forward, it is the derivative of the loss of that forward,
    which is wrong here.  The sentence, or None (their forward is right here)."""
    try:
        problem = forward_problem(forward, params, x)
    except GradingFailure:
        problem = "it does not run here"
    if problem is None:
        return None
    x_arr = np.array(x, dtype=np.float64)

    def own_loss(p):
        out = call(forward, _with(params, key, index, p), x_arr.copy(), what="forward")
        y = kit.unpack(out, "forward", ("y", "z"))[0]
        return 0.5 * (float(np.asarray(y, dtype=np.float64).reshape(())) - y_star) ** 2

    x0 = np.array(params[key], dtype=np.float64)
    x0 = x0 if index is None else np.array([x0[index]])
    try:
        own = pick(call(fn, *_arguments(params, x, y_star), what=what))
        with quiet():
            consistent = gradcheck.check_gradient(own_loss, x0, own).ok
    except (GradingFailure, TypeError, ValueError, IndexError, KeyError):
        consistent = False
    if consistent:
        return (
            f"With your own forward, your {what} is the derivative of the loss of that "
            f"forward, which is wrong here ({problem}): a partial earns its points only as "
            "the derivative of the network's L. Fix forward first (its own test says more)."
        )
    return (
        f"Your forward is wrong here too ({problem}); its own test says more. This test "
        f"calls {what} with the network's forward in place of yours."
    )


@contextlib.contextmanager
def _explained(*note_args):
    """Add :func:`_own_forward_note` to a failing partial's message."""
    try:
        yield
    except TimeBudgetExceeded:
        raise
    except GradingFailure as failure:
        note = _own_forward_note(*note_args)
        if not note:
            raise
        head, policy, tail = str(failure).partition("\n(Gradient checks: ")
        raise GradingFailure(f"{head}\n{note}{policy}{tail}") from None


# ---------------------------------------------------------------- three single partials


def _single_models(which, params, x, y_star):
    x1, x2 = (float(v) for v in x)
    y, z = reference_forward(params, x)
    wo = np.asarray(params["wo"], dtype=np.float64)
    e, yp, zp = y - y_star, y * (1.0 - y), z * (1.0 - z)
    head = {  # ∂L/∂s as each bug computes it
        "02.partial.slide-form": e,
        "02.partial.sign": -e * yp,
        "02.partial.factor-2": 2 * e * yp,
        "02.partial.sigma-prime-of-y": e * float(sigmoid_prime(y)),
        "02.partial.sigma-squared": e * y * y,
    }
    tail = {"dL_dwo01": [1.0], "dL_dwo11": [z[0]], "dL_dwh22": [wo[2], z[1], 1 - z[1], x2]}[which]
    t = float(np.prod(tail))
    models = {k: [v * t] for k, v in head.items()}
    models["02.partial.sigma-prime-form"] = tuple([e * p * t] for p in kit.prime_slips(y))
    models["02.partial.factor-divided"] = tuple(
        [v] for v in kit.product_slips([e, y, 1 - y, *tail])
    )
    if which == "dL_dwo11":
        models["02.partial.z2-for-z1"] = [e * yp * z[1]]
    if which == "dL_dwh22":
        models.update(
            {
                "02.partial.no-hidden-prime": [e * yp * wo[2] * x2],
                "02.partial.no-primes": [e * wo[2] * x2],
                "02.partial.wo11-for-wo21": [e * yp * wo[1] * zp[1] * x2],
                "02.partial.x1-for-x2": [e * yp * wo[2] * zp[1] * x1],
                "02.partial.unit1-prime": [e * yp * wo[2] * zp[0] * x2],
                "02.partial.hidden-prime-of-z": [e * yp * wo[2] * float(sigmoid_prime(z[1])) * x2],
                "02.partial.hidden-prime-form": tuple(
                    [e * yp * wo[2] * p * x2] for p in kit.prime_slips(z[1])
                ),
            }
        )
    table = {k: b for k, b in BUGS.items() if k.startswith("02.partial.")}
    return suspects(table, models)


@contextlib.contextmanager
def _bias_zero(which, value):
    """Name a ∂L/∂wᵒ₀₁ of exactly 0 as the bias input taken as 0 (the gradient checker's
    own diagnosis, "zero everywhere", comes before any suspect)."""
    try:
        yield
    except GradingFailure as failure:
        if which != "dL_dwo01" or float(value) != 0.0:
            raise
        head, sep, tail = str(failure).partition("\nLikely bug: ")  # the checker's own line
        rest = tail.partition("\n")[2] if sep else ""
        bias = likely("02.partial.bias-input-0")
        raise GradingFailure(f"{head}\n{bias}" + (f"\n{rest}" if rest else "")) from None


def check_single_partial(which, fn, forward, params, x, y_star, reveal=False):
    """Check one of the three single partials against the true partial (see the module
    docstring): `fn` is called with the network's forward in place of `forward`.

    Parameters
    ----------
    which : {"dL_dwo01", "dL_dwo11", "dL_dwh22"}
    fn : callable
        The student's ``fn(params, x, y_star) -> float``.
    forward : callable
        The student's forward pass (only to explain a failure).
    params, x, y_star
        The point.
    reveal : bool
        Show the finite-difference value (False at the notebook's own weights).
    """
    key, index, label = _SINGLE[which]
    value, _ = kit.values(label, _with_the_networks_forward(fn, which, params, x, y_star), ())

    def pick(out):
        return np.array([float(kit.values(label, out, ())[0])])

    with (
        _explained(fn, forward, params, x, y_star, pick, key, index, which),
        _bias_zero(which, value),
    ):
        result = kit.check_gradient(
            label,
            np.array([float(value)]),
            np.array([float(np.asarray(params[key])[index])]),
            entry=label.split("∂")[-1],
            reference=_reference_loss(params, x, y_star, key, index),
            reveal=reveal,
            suspects=_single_models(which, params, x, y_star),
        )
    _probe(fn, which, params, x, y_star, pick, lambda grads: np.array([grads[key][index]]))
    return result


# ---------------------------------------------------------------- all nine partials


def _result(value):
    L, grads = kit.unpack(value, "loss_and_partials", ("L", "grads"))
    return L, kit.as_dict(grads, "loss_and_partials (grads)", ("wh", "wo"))


def check_partials_loss(loss_and_partials, params, x, y_star, reveal=True):
    """The L of ``loss_and_partials`` is ½(y − y*)², judged with the network's forward in
    place of the student's (so the loss test does not depend on the forward); `reveal`:
    show the expected L (False in hidden tests)."""
    y_ref, _ = reference_forward(params, x)
    expected = 0.5 * (y_ref - y_star) ** 2
    out = _with_the_networks_forward(
        loss_and_partials, "loss_and_partials", params, x, y_star, watch=False
    )
    L, _ = _result(out)
    models = {
        BUGS["02.loss.no-half"].text(): (y_ref - y_star) ** 2,
        BUGS["02.loss.sign"].text(): -expected,
    }
    kit.check_values("L", L, expected, models=models, hint="L = ½(y − y*)².", reveal=reveal)


def _group_models(group, params, x, y_star):
    x = np.asarray(x, dtype=np.float64)
    y, z = reference_forward(params, x)
    wo = np.asarray(params["wo"], dtype=np.float64)
    e = y - y_star
    d_o = e * y * (1.0 - y)
    zp = z * (1.0 - z)
    xb = np.concatenate(([1.0], x))
    s = np.asarray(params["wh"])[0] + x @ np.asarray(params["wh"])[1:]
    if group == "wo":
        models = {
            "02.partials.slide-form": e * np.concatenate(([1.0], z)),
            "02.partials.pre-activations": d_o * np.concatenate(([1.0], s)),
            "02.partials.bias-input-0": d_o * np.concatenate(([0.0], z)),
        }
    else:
        models = {
            "02.partials.slide-form": np.outer(xb, e * wo[1:] * zp),
            "02.partials.no-hidden-prime": np.outer(xb, d_o * wo[1:]),
            "02.partials.wo-shifted": np.outer(xb, d_o * wo[:2] * zp),
            "02.partials.prime-of-z": np.outer(xb, d_o * wo[1:] * sigmoid_prime(z)),
            "02.partials.bias-input-0": np.outer(np.concatenate(([0.0], x)), d_o * wo[1:] * zp),
            "02.partial.hidden-prime-form": tuple(
                np.outer(xb, d_o * wo[1:] * p) for p in kit.prime_slips(z)
            ),
        }
    with quiet():
        if group == "wo":
            models["02.partial.factor-divided"] = (d_o / np.concatenate(([1.0], z)),)
        else:
            models["02.partial.factor-divided"] = tuple(
                np.outer(xb, v) for v in kit.product_slips([d_o, wo[1:], z, 1 - z])
            )
    prefixes = ("02.partials.", "02.partial.hidden-prime-form", "02.partial.factor-divided")
    table = {k: b for k, b in BUGS.items() if k.startswith(prefixes)}
    return suspects(table, models)


def check_partials(group, loss_and_partials, forward, params, x, y_star, reveal=True):
    """Check the "wo" (3 partials) or "wh" (6 partials) group of ``loss_and_partials``
    against the true partials: it is called with the network's forward in place of
    `forward` (the student's, used only to explain a failure)."""
    label = {"wo": "∂L/∂wo (the 3 output partials)", "wh": "∂L/∂wh (the 6 hidden partials)"}
    what = "loss_and_partials"
    _, grads = _result(_with_the_networks_forward(loss_and_partials, what, params, x, y_star))

    def pick(out):
        return _result(out)[1][group]

    with _explained(loss_and_partials, forward, params, x, y_star, pick, group, None, what):
        result = kit.check_gradient(
            label[group],
            grads[group],
            np.asarray(params[group], dtype=np.float64),
            entry=group,
            reference=_reference_loss(params, x, y_star, group),
            reveal=reveal,
            suspects=_group_models(group, params, x, y_star),
            transpose_hint=WH_TRANSPOSE_HINT,
        )

    def mine(out):
        return kit.values(label[group], pick(out), np.shape(params[group]))[0]

    _probe(loss_and_partials, what, params, x, y_star, mine, lambda grads: grads[group])
    return result


# ---------------------------------------------------------------- course notation


def check_course_params(to_course_params, params, reveal=True):
    """Check W1 (2, 2), b1 (2, 1), W2 (1, 2), b2 (1, 1) built from the lecture's weights
    (`reveal`: show the expected entry; False in hidden tests)."""
    with kit.own_work("to_course_params", GIVEAWAYS["to_course_params"]):
        out = call(to_course_params, _copy(params), what="to_course_params")
    out = kit.as_dict(out, "to_course_params", ("W1", "b1", "W2", "b2"))
    wh, wo = np.asarray(params["wh"]), np.asarray(params["wo"])
    expected = {
        "W1": wh[1:].T,
        "b1": wh[0].reshape(2, 1),
        "W2": wo[1:].reshape(1, 2),
        "b2": wo[:1].reshape(1, 1),
    }
    bugs = {
        "W1": "02.params.W1-not-transposed",
        "b1": "02.params.b1-flat",
        "W2": "02.params.W2-column",
        "b2": "02.params.b2-number",
    }
    for key, value in expected.items():
        try:
            kit.values(key, out[key], value.shape)
        except GradingFailure as failure:
            raise GradingFailure(f"{failure}\n" + likely(bugs[key])) from None
        rule = BUGS[bugs[key]].text()
        models = {rule: wh[1:]} if key == "W1" else {}
        kit.check_values(key, out[key], value, models=models, hint=f"{rule}.", reveal=reveal)


# ---------------------------------------------------------------- SGD


def run_sgd(sgd, params, X, Y, epochs, gamma0, T, seed):
    """Run the student's sgd with a recording grad_fn (a driver).

    Returns
    -------
    out : object
        What sgd returned.
    calls : list of (dict, ndarray, float)
        The parameters, x and y* of every grad_fn call, in order.
    """
    calls = []

    def grad_fn(params, x, y_star):  # the notebook's names: keyword calls work too
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.shape != (2,):
            raise ValueError(f"grad_fn got x of shape {x.shape}: pass one column X[:, i]")
        calls.append((_copy(params), x.copy(), float(y_star)))
        L, grads = reference_loss_and_partials(params, x, float(y_star))
        return L, {k: v.copy() for k, v in grads.items()}

    out = sgd(
        params,
        X,
        Y,
        epochs=epochs,
        gamma0=gamma0,
        T=T,
        rng=np.random.default_rng(seed),
        grad_fn=grad_fn,
    )
    return out, calls


def _sgd(sgd, params, epochs, gamma0, T, seed, caller_check=False, own_work=True):
    """(final params, history, calls, example index of every call) of one recorded run;
    with `caller_check`, also that the caller's arrays are left unchanged; with
    `own_work`, that sgd calls none of :data:`GIVEAWAYS` (in the student's JupyterLab
    that watch doubles the time of a long run: the XOR run leaves it to the short ones)."""
    given = _copy(params)  # a copy only this check reads: it sees what sgd does to it
    watch = kit.own_work("sgd", GIVEAWAYS["sgd"]) if own_work else contextlib.nullcontext()
    with watch:
        out, calls = call(
            run_sgd,
            sgd,
            given,
            XOR_X.copy(),
            XOR_Y.copy(),
            epochs,
            gamma0,
            T,
            seed,
            what="sgd",
            in_place=caller_check,
        )
    final, history = kit.unpack(out, "sgd", ("params", "history"))
    for k in params:
        if caller_check and not np.array_equal(given[k], params[k]):
            raise GradingFailure(likely("02.sgd.changes-params"))
    final = kit.as_dict(final, "sgd (params)", ("wh", "wo"))
    order = []
    for _, x, y_star in calls:
        match = [i for i in range(4) if np.array_equal(XOR_X[:, i], x) and XOR_Y[i] == y_star]
        if not match:
            raise GradingFailure(
                f"sgd called grad_fn with x = {x}, y* = {y_star}, which is not an example of "
                "the training set: pass one column X[:, i] and its target Y[i]."
            )
        order.append(match[0])
    return final, history, calls, order


def _orders(order, epochs, n=4):
    if len(order) != epochs * n:
        raise GradingFailure(
            f"sgd computed {len(order)} gradients in {epochs} epochs of {n} examples; "
            f"per-example SGD takes one step per example per epoch ({epochs * n})."
        )
    orders = [order[e * n : (e + 1) * n] for e in range(epochs)]
    for e, o in enumerate(orders):
        if sorted(o) != list(range(n)):
            raise GradingFailure(
                f"epoch {e} visited the examples {o}: each epoch visits every example "
                "exactly once, in a shuffled order (rng.permutation(n))."
            )
    return orders


def _replay(params, order, gamma):
    """The reference run: parameters before every step, then after the last; losses."""
    states, losses = [_copy(params)], []
    for t, i in enumerate(order):
        L, grads = reference_loss_and_partials(states[-1], XOR_X[:, i], XOR_Y[i])
        losses.append(L)
        states.append({k: states[-1][k] - gamma[t] * grads[k] for k in grads})
    return states, losses


def _step_size(before, after, grads):
    """The γ of one step, or NaN when it is not −γ · (the gradient)."""
    g = np.concatenate([grads[k].ravel() for k in ("wh", "wo")])
    d = np.concatenate([(np.asarray(after[k]) - before[k]).ravel() for k in ("wh", "wo")])
    if g @ g == 0:
        return np.nan
    gamma = -float(d @ g / (g @ g))
    return gamma if kit.close(d, -gamma * g, "exact") else np.nan


def _used_steps(calls, final, losses=None):
    """The γ each recorded update used (NaN where a step is not −γ · the gradient); the
    true loss of each call is appended to the list `losses` when given."""
    used = []
    for t in range(len(calls)):
        after = calls[t + 1][0] if t + 1 < len(calls) else final
        L, grads = reference_loss_and_partials(calls[t][0], calls[t][1], calls[t][2])
        used.append(_step_size(calls[t][0], after, grads))
        if losses is not None:
            losses.append(L)
    return np.array(used)


def _explain_step(t, n, calls, final, gamma, gamma0, T):
    """The failure for update t, the first one that differs from the reference."""
    with quiet():
        used = _used_steps(calls, final)
    text = (
        f"update t = {t} (epoch {t // n}) is not w ← w − γ_t ∇L(xᵢ) with "
        f"γ_t = γ₀ / (1 + t/T) = {gamma[t]:.6g}"
    )
    if np.isnan(used[t]):
        return f"{text}.\n" + likely("02.sgd.not-its-steps")
    text += f"; yours used γ = {used[t]:.6g}."
    steps = np.arange(len(used))
    for model, bug in (
        (-gamma, "02.sgd.uphill"),
        (gamma0 / (1.0 + (steps // n) / T), "02.sgd.t-epochs"),
        (np.full(len(used), gamma0), "02.sgd.constant-step"),
    ):
        if kit.close(used, model, "model"):
            return f"{text}\n" + likely(bug)
    return f"{text}\n" + likely("02.sgd.decay")


def check_sgd_steps(sgd, params, epochs, gamma0, T, seed, reveal=True):
    """Every step is w ← w − γ_t ∇L(xᵢ) with γ_t = γ₀ / (1 + t/T), t = 0, 1, ...

    Also checks that each epoch visits every example once, that history[e] is the mean
    of the losses of epoch e, and that the caller's arrays are left unchanged (`reveal`:
    show the expected history; False in hidden tests).
    """
    final, history, calls, order = _sgd(sgd, params, epochs, gamma0, T, seed, caller_check=True)
    _orders(order, epochs)
    gamma = gamma0 / (1.0 + np.arange(len(order)) / T)
    with quiet():
        states, losses = _replay(params, order, gamma)
    for t in range(len(order)):
        after = calls[t + 1][0] if t + 1 < len(calls) else final
        if not all(kit.close(after.get(k), states[t + 1][k]) for k in ("wh", "wo")):
            if t == 0 and not all(kit.close(calls[0][0][k], params[k]) for k in params):
                raise GradingFailure("the first gradient must be taken at the initial parameters.")
            raise GradingFailure(_explain_step(t, 4, calls, final, gamma, gamma0, T))
    means = [np.mean(losses[e * 4 : (e + 1) * 4]) for e in range(epochs)]
    hist, _ = kit.values("history", history, (epochs,))
    kit.check_values(
        "history",
        hist,
        means,
        hint=likely("02.sgd.history"),
        reveal=reveal,
    )


def check_sgd_shuffles(sgd, params, epochs, seeds):
    """Each epoch draws a new order from the rng passed in (reproducible, seed-dependent)."""
    runs = []
    for seed in (seeds[0], seeds[0], seeds[1]):
        order = _sgd(sgd, params, epochs, 0.1, 100.0, seed)[3]
        runs.append(_orders(order, epochs))
    first = runs[0]
    if all(o == first[0] for o in first):
        raise GradingFailure(
            f"every epoch visits the examples in the same order {first[0]}.\n"
            + likely("02.sgd.no-reshuffle")
        )
    if runs[0] != runs[1]:
        raise GradingFailure(
            "two runs with the same seed visited the examples in different orders.\n"
            + likely("02.sgd.global-rng")
        )
    if runs[0] == runs[2]:
        raise GradingFailure(
            "runs with different seeds visited the examples in the same orders: draw the "
            "shuffles from the rng passed to sgd."
        )


#: The XOR runs graded: 1000 epochs, γ₀ = 2, T = 2000.  Over 20 shuffle seeds for each
#: graded start (tests/test_checks_sigmoid_network.py) the reference run classifies all
#: four points with every output at least XOR_MARGIN from ½.
XOR_MARGIN = 0.2


def _stepped(params, calls, final, n=4):
    """The true mean loss of each epoch of a recorded run, once every update has been
    seen to be a step w ← w − γ ∇L(xᵢ) (γ > 0, any schedule) from the parameters of the
    gradient before it, starting at `params`: so the final weights are where the run's own
    steps led, not weights written down (a failure otherwise)."""
    if not calls or not all(kit.close(calls[0][0][k], params[k]) for k in params):
        raise GradingFailure("the first gradient must be taken at the initial parameters.")
    losses = []
    with quiet():
        used = _used_steps(calls, final, losses)
    bad = np.flatnonzero(~(used > 0))
    if bad.size:
        t = int(bad[0])
        text = (
            f"update t = {t} (epoch {t // n}) is not a step w ← w − γ ∇L(xᵢ) (γ > 0) from "
            "the parameters of the gradient just taken"
        )
        if not np.isnan(used[t]):
            raise GradingFailure(f"{text}.\n" + likely("02.sgd.uphill"))
        where = (
            "the parameters sgd returned are not one step from those of the last gradient"
            if t == len(calls) - 1
            else f"the parameters of gradient t = {t + 1} are not one step from those of t = {t}"
        )
        raise GradingFailure(
            f"{text}: {where}. The weights sgd returns must be where its own steps lead.\n"
            + likely("02.sgd.not-its-steps")
        )
    return [float(np.mean(losses[e * n : (e + 1) * n])) for e in range(len(losses) // n)]


def check_sgd_xor(sgd, init_seed, seed, epochs=1000, gamma0=2.0, T=2000.0):
    """SGD from xor_init(init_seed) must classify the four XOR points (y > ½ for label 1).

    The weights must be where the run's own steps lead: every update a step
    w ← w − γ ∇L(xᵢ) with γ > 0 from the parameters of the gradient before it (whatever
    the schedule, which :func:`check_sgd_steps` judges), the final weights one step from
    the last gradient's, and the true mean loss (of the recorded gradients) falling.  The
    4000 steps call the recording grad_fn back 4000 times; whether sgd uses a course
    function that gives it away is judged by the short runs of :func:`check_sgd_steps` and
    :func:`check_sgd_shuffles`."""
    start = xor_init(init_seed)
    final, history, calls, order = _sgd(sgd, start, epochs, gamma0, T, seed, own_work=False)
    kit.values("history", history, (epochs,))
    _orders(order, epochs)
    final = {k: kit.values(f'params["{k}"] from sgd', final[k], start[k].shape)[0] for k in start}
    means = _stepped(start, calls, final)
    outputs = np.array([reference_forward(final, XOR_X[:, i])[0] for i in range(4)])
    correct = int(np.sum((outputs > 0.5) == (XOR_Y > 0.5)))
    if not means[-1] < means[0]:
        raise GradingFailure(
            f"the mean loss did not decrease: {means[0]:.4g} in the first epoch, "
            f"{means[-1]:.4g} in the last. Check the update w ← w − γ_t ∇L(xᵢ)."
        )
    if correct != 4:
        raise GradingFailure(
            f"after {epochs} epochs the network classifies {correct} of 4 XOR points "
            f"correctly (outputs {np.round(outputs, 3).tolist()}, targets {XOR_Y.tolist()}). "
            "Check the update w ← w − γ_t ∇L(xᵢ) and the step sizes γ_t."
        )
