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

import numpy as np

from .. import flow, network
from ..activations import get_activation
from ..grading import GradingFailure, call, check_shape
from ..losses import softmax_cross_entropy
from .chain_rule import hand_number

__all__ = [
    "CHOICES",
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

WHAT = {"delta": "‖δ^m‖ (delta_norms)", "dW": "‖∂J/∂W^m‖ (dW_norms)"}


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


def planted_norms(params, X, Y, activation, bug=None):
    """(delta_norms, dW_norms) computed with one typical bug planted.

    Parameters
    ----------
    bug : str or None
        None (correct), "no_f_prime", "f_prime_of_a", "norms_of_a", "reversed",
        "batch_sum", "no_1_over_N" or "per_example".

    Returns
    -------
    delta_norms, dW_norms : ndarray, shape (M,)
    """
    out, caches = network.forward(params, X, activation)
    _, delta = softmax_cross_entropy(out, Y)
    N = X.shape[1]
    if bug == "no_1_over_N":
        delta = delta * N
    M = len(caches)
    deltas = [None] * M
    for m in range(M, 0, -1):
        deltas[m - 1] = delta
        if m > 1:
            below = caches[m - 2]
            back = caches[m - 1]["W"].T @ delta
            if bug == "no_f_prime":
                delta = back
            elif bug == "f_prime_of_a":
                delta = get_activation(activation).f_prime(below["h"]) * back
            else:
                delta = get_activation(activation).f_prime(below["z"]) * back
    dW = [d @ c["a_prev"].T for d, c in zip(deltas, caches, strict=True)]
    if bug == "norms_of_a":
        delta_norms = np.array([np.linalg.norm(c["h"]) for c in caches])
    elif bug == "batch_sum":
        delta_norms = np.array([np.linalg.norm(d.sum(axis=1)) for d in deltas])
    elif bug == "per_example":
        delta_norms = np.array([np.linalg.norm(d, axis=0).mean() for d in deltas])
    else:
        delta_norms = np.array([np.linalg.norm(d) for d in deltas])
    dW_norms = np.array([np.linalg.norm(g) for g in dW])
    if bug == "reversed":
        delta_norms, dW_norms = delta_norms[::-1], dW_norms[::-1]
    return delta_norms, dW_norms


#: Bug -> the sentence a failing test prints when the student's norms match it.
SUSPECTS = {
    "no_f_prime": "missing f'(z^m) in the recursion: δ^{m-1} = f'(z^{m-1}) ∘ (W^m)ᵀ δ^m, "
    "and the f' factor is what makes sigmoid gradients shrink",
    "f_prime_of_a": "f' evaluated at a^m = f(z^m) instead of at z^m (sigmoid_prime(a) is "
    "σ'(σ(z)), not σ'(z); use the cached z, or a·(1 − a))",
    "norms_of_a": "these are norms of the activations a^m, not of the errors δ^m = ∂J/∂z^m",
    "reversed": "the layers come in reverse order: entry 0 must be layer m = 1 (the first "
    "hidden layer) and entry M − 1 the output layer",
    "batch_sum": "norms of δ^m summed over the batch (that is ∂J/∂b^m): take the Frobenius "
    "norm of the whole matrix δ^m, shape (n_m, N)",
    "no_1_over_N": "missing 1/N: J is the batch average, so δ^M = (softmax(z^M) − Y) / N",
    "per_example": "per-example norms averaged over the batch: take the Frobenius norm of the "
    "whole matrix δ^m (np.linalg.norm(delta) with no axis)",
}


def _same(a, b, rtol=1e-6):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * np.abs(b) + 1e-300))


def _student_norms(fn, params, X, Y, activation):
    work = {k: v.copy() for k, v in params.items()}
    result = call(fn, work, X.copy(), Y.copy(), activation, what="layer_gradient_norms")
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise GradingFailure(
            "layer_gradient_norms must return two arrays, (delta_norms, dW_norms); got "
            f"{type(result).__name__}"
            + (f" of length {len(result)}" if hasattr(result, "__len__") else "")
        )
    return result


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
    yours = check_shape(name, _student_norms(fn, params, X, Y, activation)[idx], (M,))
    expected = reference_norms(params, X, Y, activation)[idx]
    if _same(yours, expected):
        return yours
    if not np.all(np.isfinite(yours)):
        raise GradingFailure(f"{name} contains nan or inf: {yours}.")
    bad = int(np.argmax(~(np.abs(yours - expected) <= 1e-6 * np.abs(expected))))
    text = (
        f"{name} is wrong at layer m = {bad + 1} of M = {M} ({activation} net, widths "
        f"{network.layer_sizes_of(params)}, N = {X.shape[1]}): yours {yours[bad]:.6g}"
    )
    text += f", expected {expected[bad]:.6g}." if reveal else "."
    for bug, sentence in SUSPECTS.items():
        if _same(yours, planted_norms(params, X, Y, activation, bug)[idx]):
            text += "\nThis looks like: " + sentence + "."
            break
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
        Typical wrong answers and what they mean.
    hint : str, optional
        Shown on any other wrong answer.
    """
    value = hand_number(namespace, name)
    if abs(value - expected) <= 1e-9 + 1e-6 * abs(expected):
        return value
    for v, meaning in (wrong or {}).items():
        if abs(value - v) <= 1e-9 + 1e-6 * abs(v):
            raise GradingFailure(f"{name} = {value:g} is not right: {meaning}")
    raise GradingFailure(f"{name} = {value:g} is not right." + (f"\n{hint}" if hint else ""))


#: The multiple-choice questions' letters.
CHOICES = ("a", "b", "c")


def _letter(namespace, name):
    if name not in namespace:
        raise GradingFailure(
            f'{name} is not defined yet: write `{name} = "a"` (or b or c) in the answer '
            "cell above and run it."
        )
    value = namespace[name]
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
