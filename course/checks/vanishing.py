"""Checkers for notebook 06: vanishing gradients.

The student's ``layer_gradient_norms(params, X, Y, activation)`` returns
``(delta_norms, dW_norms)``, one Frobenius norm per layer m = 1..M.  It is compared with
the reference :func:`course.flow.gradient_flow` (itself tested against finite
differences in tests/test_flow.py); when it is wrong, the norms that typical bugs
produce ("suspects", computed here by planting each bug in a reference) name the bug.

The nets are softmax classifiers: hidden layers f = `activation`, identity output,
softmax cross-entropy averaged over the batch, as in :mod:`course.flow`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import flow, network
from ..activations import get_activation
from ..grading import GradingFailure, call
from ..losses import softmax_cross_entropy
from . import _kit as kit
from .catalogue import likely, table
from .chain_rule import hand_number

__all__ = [
    "BUGS",
    "CHOICES",
    "NORMS_BUGS",
    "check_choice",
    "check_choice_format",
    "check_layer_norms",
    "check_number",
    "check_slowest_layer",
    "hand_number",
    "net_case",
    "planted_norms",
    "reference_norms",
]

WHAT = {"delta": "‖δᵐ‖ (delta_norms)", "dW": "‖∂J/∂Wᵐ‖ (dW_norms)"}

BUGS = table("06")


def net_case(depth, width, activation="sigmoid", init="lecun", N=6, n_in=4, K=3, seed=0):
    """A small classification problem: params, X (n_in, N), one-hot Y (K, N).

    Parameters
    ----------
    depth, width : int
        Hidden layers and their width (M = depth + 1).
    activation : str
    init : {"normal", "lecun", "xavier", "he"}
    N, n_in, K : int
        Batch size, input dimension, classes.
    seed : int

    Returns
    -------
    params : dict
    X : ndarray, shape (n_in, N)
    Y : ndarray, shape (K, N)
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_in, N))
    Y = np.eye(K)[:, rng.integers(0, K, size=N)]
    params = flow.build_params(depth, width, n_in, K, init, 1.0, seed)
    for m in range(1, depth + 2):  # non-zero biases, so a bug ignoring them shows
        params[f"b{m}"] = rng.normal(scale=0.2, size=params[f"b{m}"].shape)
    return params, X, Y


def reference_norms(params, X, Y, activation):
    """(delta_norms, dW_norms), each shape (M,), from :func:`course.flow.gradient_flow`."""
    f = flow.gradient_flow(params, X, Y, activation)
    return f.delta_norms, f.dW_norms


@dataclass(frozen=True)
class NormsBug:
    """How a bug changes the per-layer norms of the δᵐ recursion (each default: not at
    all); ``caches`` are :func:`course.network.forward`'s, layer m's at index m − 1.

    Attributes
    ----------
    top : callable
        ``top(delta, caches, act, N)``: δᴹ from the right δᴹ = ∂J/∂zᴹ.
    back : callable
        ``back(Wᵐ, δᵐ)``: what is carried down to layer m − 1.
    slope_at : callable or None
        ``slope_at(caches, m)``: where f' of δᵐ⁻¹ is evaluated (None: f' left out).
    dW_input : str
        The cache entry ∂J/∂Wᵐ multiplies δᵐ by: "a_prev", or "h" (layer m's output).
    delta_norm : callable
        ``delta_norm(δᵐ, cache)``: the number reported for layer m.
    finish : callable
        ``finish(delta_norms, dW_norms)``: what is returned.
    """

    top: Callable = lambda delta, caches, act, N: delta
    back: Callable = lambda W, delta: W.T @ delta
    slope_at: Callable | None = lambda caches, m: caches[m - 2]["z"]
    dW_input: str = "a_prev"
    delta_norm: Callable = lambda d, c: np.linalg.norm(d)
    finish: Callable = lambda d, w: (d, w)


#: The bugs of :data:`BUGS` the reference norms plant, by catalogue id.
NORMS_BUGS = {
    "06.norms.no-f-prime": NormsBug(slope_at=None),
    "06.norms.f-prime-of-a": NormsBug(slope_at=lambda caches, m: caches[m - 2]["h"]),
    # f'(z) of layer m: a ValueError unless the layers are square
    "06.norms.f-prime-wrong-layer": NormsBug(slope_at=lambda caches, m: caches[m - 1]["z"]),
    "06.norms.of-a": NormsBug(delta_norm=lambda d, c: np.linalg.norm(c["h"])),
    "06.norms.reversed": NormsBug(finish=lambda d, w: (d[::-1], w[::-1])),
    "06.norms.batch-sum": NormsBug(delta_norm=lambda d, c: np.linalg.norm(d.sum(axis=1))),
    "06.norms.no-1/N": NormsBug(top=lambda delta, caches, act, N: delta * N),
    "06.norms.extra-1/N": NormsBug(top=lambda delta, caches, act, N: delta / N),
    "06.norms.factor-2": NormsBug(top=lambda delta, caches, act, N: 2 * delta),
    "06.norms.f-prime-output": NormsBug(
        top=lambda delta, caches, act, N: act.f_prime(caches[-1]["z"]) * delta
    ),
    # W @ δ: a ValueError unless the layers are square
    "06.norms.W-not-transposed": NormsBug(back=lambda W, delta: W @ delta),
    "06.norms.per-example": NormsBug(delta_norm=lambda d, c: np.linalg.norm(d, axis=0).mean()),
    "06.norms.squared": NormsBug(finish=lambda d, w: (d**2, w**2)),
    "06.norms.dW-of-a": NormsBug(dW_input="h"),
}


def planted_norms(params, X, Y, activation, bug=None):
    """(delta_norms, dW_norms) computed with the bug `bug` (a key of
    :data:`NORMS_BUGS`) planted, or none.

    Raises
    ------
    ValueError
        When the bug cannot run with these shapes.

    Returns
    -------
    delta_norms, dW_norms : ndarray, shape (M,)
    """
    plant = NORMS_BUGS[bug] if bug else NormsBug()
    act = get_activation(activation)
    out, caches = network.forward(params, X, activation)
    _, delta = softmax_cross_entropy(out, Y)
    delta = plant.top(delta, caches, act, X.shape[1])
    M = len(caches)
    deltas = [None] * M
    for m in range(M, 0, -1):
        deltas[m - 1] = delta
        if m > 1:
            back = plant.back(caches[m - 1]["W"], delta)
            at = plant.slope_at
            delta = back if at is None else act.f_prime(at(caches, m)) * back
    pairs = list(zip(deltas, caches, strict=True))
    delta_norms = np.array([plant.delta_norm(d, c) for d, c in pairs])
    dW_norms = np.array([np.linalg.norm(d @ c[plant.dW_input].T) for d, c in pairs])
    return plant.finish(delta_norms, dW_norms)


def _modelled():
    """The bugs of :data:`NORMS_BUGS`, in the catalogue's order."""
    return [bug for bug in BUGS.values() if bug.id in NORMS_BUGS]


def _same(a, b):
    return kit.close(a, b, "model")


def _planted_error(params, X, Y, activation, message):
    """The id of the bug whose planted model raises the same error, or None."""
    for bug in _modelled():
        try:
            with kit.quiet():
                planted_norms(params, X, Y, activation, bug.id)
        except ValueError as exc:
            if str(exc) == message:
                return bug.id
    return None


#: The course functions that give each of layer_gradient_norms' answers away (see
#: _kit.own_work): the gradient-flow numbers themselves for both, and the library's
#: backward pass for ‖∂J/∂Wᵐ‖ (its forward pass and loss are what the notebook's
#: solution uses, and are fine).
GIVEAWAYS = {
    "delta": ("course.flow.gradient_flow", "course.gradcheck.numerical_gradient"),
    "dW": (
        "course.flow.gradient_flow",
        "course.network.backward",
        "course.network.loss_and_grads",
        "course.gradcheck.numerical_gradient",
    ),
}


def _student_norms(fn, params, X, Y, activation, which):
    work = {k: v.copy() for k, v in params.items()}
    try:
        with kit.own_work(f"layer_gradient_norms (its {WHAT[which]})", GIVEAWAYS[which]):
            result = call(fn, work, X.copy(), Y.copy(), activation, what="layer_gradient_norms")
    except GradingFailure as failure:
        error = getattr(failure, "student_error", None)
        bug = error and _planted_error(params, X, Y, activation, error.message)
        if not bug:
            raise
        raise GradingFailure(f"{failure}\n" + likely(bug)) from None
    try:
        return kit.unpack(result, "layer_gradient_norms", ("delta_norms", "dW_norms"))
    except GradingFailure as failure:
        raise GradingFailure(f"{failure}\n" + likely("06.norms.two-arrays")) from None


def _bug_named(yours, params, X, Y, activation, idx):
    """The id of the first modelled bug whose norms are `yours`, or None."""
    for bug in _modelled():
        try:
            with kit.quiet():
                model = planted_norms(params, X, Y, activation, bug.id)[idx]
        except ValueError:
            continue
        if _same(yours, model):
            return bug.id
    return None


def check_layer_norms(fn, params, X, Y, activation, which="delta", *, reveal=True):
    """Fail unless the student's per-layer norms `which` match the reference.

    Parameters
    ----------
    fn : callable
        The student's ``layer_gradient_norms(params, X, Y, activation)``.
    params, X, Y : as from :func:`net_case`
    activation : str
    which : {"delta", "dW"}
    reveal : bool
        Show the expected value of the first wrong layer.
    """
    M = network.n_layers(params)
    idx = 0 if which == "delta" else 1
    name = WHAT[which]
    yours, _ = kit.values(name, _student_norms(fn, params, X, Y, activation, which)[idx], (M,))
    expected = reference_norms(params, X, Y, activation)[idx]
    if _same(yours, expected):
        return yours
    if not np.all(np.isfinite(yours)):
        raise GradingFailure(f"{name} contains nan or inf: {yours}.")
    bad = np.flatnonzero(~(np.abs(yours - expected) <= 1e-6 * np.abs(expected))) + 1
    top = int(bad.max())
    text = (
        f"{name} is wrong at layers m = {bad.tolist()} of M = {M} ({activation} net, widths "
        f"{network.layer_sizes_of(params)}, N = {X.shape[1]}); the recursion runs down from "
        f"m = M, so look first at layer m = {top}: yours {yours[top - 1]:.6g}"
    )
    text += f", expected {expected[top - 1]:.6g}." if reveal else "."
    bug = _bug_named(yours, params, X, Y, activation, idx)
    if bug:
        text += "\n" + likely(bug)
    raise GradingFailure(text)


def check_number(namespace, name, expected, wrong=None, hint=None):
    """Fail unless the student's number `name` equals `expected` (never revealed).

    Parameters
    ----------
    namespace : dict
        The notebook's ``globals()``.
    name : str
    expected : float
    wrong : dict of float to str, optional
        Typical wrong answers and the catalogue id of the bug each one is (the test cell
        of a release before the ids, kept in a class's gradebook, gives the bug's
        diagnosis instead: it is taken for that bug's id).
    hint : str, optional
        Shown on any other wrong answer.

    Returns
    -------
    float
        The student's number.

    Raises
    ------
    GradingFailure
        A wrong number (naming its bug when it is one of `wrong`).
    KeyError
        A value of `wrong` that is neither a catalogue id nor an 06 diagnosis.
    """
    value = hand_number(namespace, name)
    if kit.close(value, expected, "typed"):
        return value
    for v, bug in (wrong or {}).items():
        if kit.close(value, v, "typed"):
            raise GradingFailure(f"{name} = {value:g} is not right.\n" + likely(_bug_id(bug)))
    if expected != 0 and kit.close(-value, expected, "typed"):
        hint = likely("kit.value-sign")
    raise GradingFailure(f"{name} = {value:g} is not right." + (f"\n{hint}" if hint else ""))


def _bug_id(bug):
    """`bug`, a catalogue id, or the id of the 06 bug whose diagnosis it is."""
    if bug in BUGS:
        return bug
    by_text = {b.text(): b.id for b in BUGS.values() if not b.fields}
    return by_text.get(bug.rstrip("."), bug)


#: The multiple-choice questions' letters.
CHOICES = ("a", "b", "c")


def _letter(namespace, name):
    if name not in namespace:
        raise GradingFailure(
            f'{name} is not defined yet: write `{name} = "a"` (or b or c) in the answer '
            "cell above and run it."
        )
    value = kit.student_value(namespace, name)
    if not isinstance(value, str) or value.strip().lower() not in CHOICES:
        raise GradingFailure(f"{name} must be one of the letters 'a', 'b', 'c'; got {value!r}.")
    return value.strip().lower()


def check_choice_format(namespace, name):
    """Fail unless `name` holds one of the letters a, b, c (the visible test)."""
    return _letter(namespace, name)


def check_choice(namespace, name, answer, hint):
    """Fail unless `name` holds the letter `answer` (a hidden test: the answer is not shown)."""
    if _letter(namespace, name) != answer:
        raise GradingFailure(f"{name} is not right. {hint}")


def check_slowest_layer(namespace, name, depth):
    """The visible check of the prediction: an integer layer number 1..depth + 1."""
    value = hand_number(namespace, name)
    if value != int(value) or not 1 <= value <= depth + 1:
        raise GradingFailure(
            f"{name} must be a layer number m between 1 and M = {depth + 1}, got {value:g}."
        )
    return int(value)
