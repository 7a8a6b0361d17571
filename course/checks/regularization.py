"""Checks behind notebook 07-regularization: L2 weight decay, dropout, early stopping.

A gradient earns its points by the true gradient (:func:`course.checks._kit.check_gradient`):
the finite differences of the correct regularised J at the correct forward values, never
of the student's own J.

- ``l2_loss_and_grads``: Ĵ against the reference J + (λ/2) Σ_m ‖Wᵐ‖² (weights only), each
  gradient against the finite differences of that Ĵ.
- ``dropout_loss_and_grads``: J against the reference network with the given mask, each
  gradient against the finite differences of that J; the course's ``dropout_forward``
  stands in for the student's wherever their function calls it, so a wrong
  ``dropout_forward`` costs only its own points.
- A gradient that is right only for the student's own wrong J earns nothing; the message
  says so, and what is wrong with that J.
- The speed tests judge the values of the call they timed.
- An answer that calls the course's own implementation earns nothing for that item and
  is flagged (:data:`GIVEAWAYS`).  ``network.loss_and_grads`` is what ``l2_loss_and_grads``
  builds on, but with ``l2=``, ``dropout=`` or ``masks=`` it computes the whole answer:
  a spy on the student's calls of it (:func:`_loss_and_grads_spy`) records those keyword
  arguments, since :func:`kit.own_work` records only which functions are called.
  Likewise ``training.train(..., patience=...)`` is the course's early stopping.  The
  weights' L2 gradients also exclude the course's training steps (one full-batch epoch of
  ``training.train(..., l2=λ)`` with lr = 1 moves every weight by −∂Ĵ/∂Wᵐ), and
  ``dropout_forward`` the course's networks (their caches hold the dropout masks).
- ``dropout_forward`` earns the expectation test only by really dropping: every output
  is a ∘ r with r's entries 0 or 1/(1−p), about a fraction p of them 0.

The suspects are gradients and values that the named bugs produce, computed here by
planting each bug in a reference.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import grading, network
from ..activations import get_activation
from ..grading import GradingFailure, call, quiet
from ..layers import dropout_forward
from ..losses import softmax_cross_entropy
from ..training import best_epoch
from . import _kit as kit
from .catalogue import likely, suspects, table

__all__ = [
    "BUGS",
    "DROPOUT_BUGS",
    "L2_BUGS",
    "GIVEAWAYS",
    "L2_WEIGHT_GIVEAWAYS",
    "check_backprop",
    "check_dropout_expectation",
    "check_dropout_forward",
    "check_dropout_grads",
    "check_dropout_loss",
    "check_dropout_mask_reused",
    "check_early_run",
    "check_early_stopping",
    "check_l2_grads",
    "check_l2_value",
    "dropout_problem",
    "l2_problem",
    "run_counted",
    "validation_loss",
]

BUGS = table("07")

#: The course's training steps: with l2=, training.train moves every weight by −α ∂Ĵ/∂Wᵐ
#: (one full-batch epoch with α = 1 is the regularised gradient), and sgd_step is its
#: update; neither has a place in computing a gradient.
_STEPS = ("course.training.train", "course.training.sgd_step")
#: The course's networks, which compute a dropout layer's output and mask along the way.
_NETWORKS = ("course.network.forward", "course.network.loss_and_grads", *_STEPS)

#: The course functions that give each exercise away (see _kit.own_work).  Not listed:
#: network.loss_and_grads for l2_loss_and_grads (the notebook builds on it; its l2=,
#: dropout= and masks= are caught by a spy) and training.train for
#: train_with_early_stopping (the notebook calls it; its patience= is caught the same way).
#: The L2 gradients of the weights also exclude the course's training steps
#: (:data:`L2_WEIGHT_GIVEAWAYS`); the biases' gradients are ∂J/∂bᵐ, which the notebook
#: takes from network.loss_and_grads.
GIVEAWAYS = {
    "l2_loss_and_grads": ("course.losses.l2_penalty", kit.NUMERICAL),
    "dropout_forward": (
        "course.layers.dropout_forward",
        "course.layers.dropout_backward",
        *_NETWORKS,
    ),
    "dropout_loss_and_grads": (
        "course.network.forward",
        "course.network.backward",
        "course.network.loss_and_grads",
        "course.layers.dense_backward",
        "course.layers.dropout_forward",
        "course.layers.dropout_backward",
        *_STEPS,
        kit.NUMERICAL,
    ),
    "early_stopping": ("course.training.best_epoch",),
    "train_with_early_stopping": (),
}

#: What gives ∂Ĵ/∂Wᵐ of l2_loss_and_grads away: its GIVEAWAYS and the training steps.
L2_WEIGHT_GIVEAWAYS = (*GIVEAWAYS["l2_loss_and_grads"], *_STEPS)

#: The keyword arguments of network.loss_and_grads that compute an exercise's answer.
_ANSWERING = ("l2", "dropout", "masks")


def _values_only(giveaways):
    """`giveaways` for a test of a value (Ĵ, J): numerical differentiation gives away the
    gradients, not the value."""
    return tuple(g for g in giveaways if g != kit.NUMERICAL)


@contextlib.contextmanager
def _loss_and_grads_spy(found, fn):
    """A context in which the student's calls of network.loss_and_grads are served by the
    course's own, and the answering keyword arguments they pass (:data:`_ANSWERING`, when
    not 0/None) are added to the set `found`."""
    original = network.loss_and_grads
    signature = inspect.signature(original)

    def spy(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return original(*args, **kwargs)  # its own error message
        for name in _ANSWERING:
            value = bound.arguments.get(name)
            if value is not None and not (np.isscalar(value) and value == 0):
                found.add(name)
        return original(*args, **kwargs)

    with grading.replacing("course.network.loss_and_grads", spy, fn):
        yield


@contextlib.contextmanager
def _own_work(what, fn, giveaways=None, spy=False):
    """:func:`kit.own_work` for the student's function `fn` (named `what`); with `spy`,
    its calls of network.loss_and_grads must not pass l2=, dropout= or masks= either."""
    giveaways = GIVEAWAYS[what] if giveaways is None else giveaways
    found = set()
    with contextlib.ExitStack() as stack:
        stack.enter_context(kit.own_work(what, giveaways, fn))
        if spy:
            stack.enter_context(_loss_and_grads_spy(found, fn))
        yield
    if found:
        used = ", ".join(f"{k}=" for k in _ANSWERING if k in found)
        grading.flag(f"{what} calls network.loss_and_grads with {used}, which computes the answer")
        raise GradingFailure(
            f"{what} calls network.loss_and_grads with {used}: with that the course computes "
            "the regularised loss and its gradients itself, which is what this exercise asks "
            "you to write, so it earns nothing here (and the instructor is told). Call it "
            "for J and its gradients alone (no l2=), then add the penalty yourself."
        )


def l2_problem(seed=0, sizes=(4, 5, 3), N=6, activation="tanh"):
    """Small parameters with non-zero biases, data and one-hot targets.

    Returns
    -------
    params : dict
    X : ndarray, shape (sizes[0], N)
    Y : ndarray, shape (sizes[-1], N)
    """
    rng = np.random.default_rng(seed)
    params = network.init_params(list(sizes), "xavier", rng)
    for k in params:
        if k.startswith("b"):
            params[k] = rng.normal(0.0, 0.5, params[k].shape)
    X = rng.normal(size=(sizes[0], N))
    Y = np.zeros((sizes[-1], N))
    Y[rng.integers(0, sizes[-1], N), np.arange(N)] = 1.0
    return params, X, Y


@dataclass(frozen=True)
class L2Bug:
    """How an L2 bug changes Ĵ = J + (λ/2) Σ_m ‖Wᵐ‖² and its gradient (each default: not
    at all).

    Attributes
    ----------
    J_factor : float
        Ĵ = J + J_factor · λ Σ ‖θ‖².
    g_factor : callable
        ``g_factor(N)``: ∂Ĵ/∂θ = ∂J/∂θ + g_factor · λ θ.
    biases : bool
        The biases penalised too.
    squared : bool
        False: Ĵ adds (λ/2) Σ of the weights' entries, not their squares, and the
        gradients none.
    """

    J_factor: float = 0.5
    g_factor: Callable = lambda N: 1.0
    biases: bool = False
    squared: bool = True


_BIASES = L2Bug(biases=True)
_NO_PENALTY = L2Bug(J_factor=0.0, g_factor=lambda N: 0.0)
_MINUS = L2Bug(J_factor=-0.5, g_factor=lambda N: -1.0)

#: The L2 bugs of :data:`BUGS` the reference plants, by catalogue id (a value bug and
#: its gradient's twin share one model).
L2_BUGS = {
    "07.l2.biases": _BIASES,
    "07.l2.no-half": L2Bug(J_factor=1.0),
    "07.l2.missing": _NO_PENALTY,
    "07.l2.sign": _MINUS,
    "07.l2.not-squared": L2Bug(squared=False),
    "07.l2.grad-biases": _BIASES,
    "07.l2.grad-two": L2Bug(g_factor=lambda N: 2.0),
    "07.l2.grad-sign": _MINUS,
    "07.l2.grad-missing": _NO_PENALTY,
    "07.l2.grad-over-N": L2Bug(g_factor=lambda N: 1.0 / N),
}


def planted_l2(params, X, Y, lam, activation, bug=None):
    """(Ĵ, grads) of the L2-penalised loss, grads keyed like `params`, with the L2 bug
    `bug` (a key of :data:`L2_BUGS`) planted, or none."""
    plant = L2_BUGS[bug] if bug else L2Bug()
    J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
    if not plant.squared:
        J += 0.5 * lam * sum(float(np.sum(v)) for k, v in params.items() if k.startswith("W"))
        return J, grads
    g_factor = plant.g_factor(X.shape[1])
    for k, v in params.items():
        if k.startswith("W") or plant.biases:
            J += plant.J_factor * lam * float(np.sum(v * v))
            grads[k] = grads[k] + g_factor * lam * v
    return J, grads


def _call_l2(fn, params, X, Y, lam, activation, giveaways=None):
    what = "l2_loss_and_grads"
    with _own_work(what, fn, giveaways, spy=True):
        out = call(fn, copy.deepcopy(params), X, Y, lam, activation=activation, what=what)
    J_hat, grads = kit.unpack(out, what, ("J_hat", "grads"))
    return J_hat, kit.as_dict(grads, "l2_loss_and_grads (grads)", params)


def _l2_models(params, X, Y, lam, activation, prefix, pick):
    table = {k: b for k, b in BUGS.items() if k.startswith(prefix) and k in L2_BUGS}
    right = pick(planted_l2(params, X, Y, lam, activation))

    def compute(bug):
        value = pick(planted_l2(params, X, Y, lam, activation, bug))
        return None if kit.close(value, right, "model") else value

    return suspects(table, compute)


def check_l2_value(fn, params, X, Y, lam, activation="tanh", reveal=True):
    """Ĵ = J + (λ/2) Σ_m ‖Wᵐ‖² at `params`, against the reference."""
    giveaways = _values_only(GIVEAWAYS["l2_loss_and_grads"])
    J_hat, _ = _call_l2(fn, params, X, Y, lam, activation, giveaways)
    expected, _ = planted_l2(params, X, Y, lam, activation)
    value_bugs = (
        "07.l2.biases",
        "07.l2.no-half",
        "07.l2.missing",
        "07.l2.sign",
        "07.l2.not-squared",
    )
    models = _l2_models(params, X, Y, lam, activation, "07.l2.", lambda r: r[0])
    models = {s: v for s, v in models.items() if s in {BUGS[b].text() for b in value_bugs}}
    return float(kit.check_values("J_hat", J_hat, expected, reveal=reveal, models=models))


def check_l2_grads(fn, params, X, Y, lam, keys, activation="tanh", reveal=True):
    """∂Ĵ/∂θ for each θ in `keys`: the true gradient, finite differences of the reference
    Ĵ = J + (λ/2) Σ_m ‖Wᵐ‖².  A gradient right only for the student's own wrong Ĵ earns
    nothing (the message says so, and what is wrong with that Ĵ)."""
    weights = any(k.startswith("W") for k in keys)
    giveaways = L2_WEIGHT_GIVEAWAYS if weights else None
    _, grads = _call_l2(fn, params, X, Y, lam, activation, giveaways)
    forward = "l2_loss_and_grads (its J_hat)"
    problem = kit.problem_of(check_l2_value, fn, params, X, Y, lam, activation, reveal=False)
    for k in keys:
        grad_bugs = ("07.l2.grad-",) if k.startswith("W") else ("07.l2.grad-biases",)
        models = _l2_models(params, X, Y, lam, activation, grad_bugs[0], lambda r, k=k: r[1][k])
        try:
            kit.check_param_gradient(
                f"∂Ĵ/∂{k}",
                k,
                grads,
                params,
                fn=fn,
                arguments=lambda key, point: (
                    (_with(params, key, point), X, Y, lam),
                    {"activation": activation},
                ),
                reference=lambda key, point: planted_l2(
                    _with(params, key, point), X, Y, lam, activation
                )[0],
                forward=forward,
                reveal=reveal,
                suspects=models,
                batch_size=X.shape[1],
            )
        except GradingFailure as failure:
            raise GradingFailure(kit.with_problem(str(failure), problem, forward)) from None


def _with(params, key, value):
    work = copy.deepcopy(params)
    work[key] = value
    return work


def check_backprop(l2_fn=None, dropout_fn=None, seed=0):
    """l2_loss_and_grads and dropout_loss_and_grads on a 600-600-10 network must take
    backpropagation's time, not numerical differentiation's (see
    :func:`course.checks._kit.check_backprop_speed`), and the gradients of the timed call
    must be the network's: the weights' ∂Ĵ/∂Wᵐ for L2 (the test cell of the weights), ∂J/∂W1
    and ∂J/∂b1 for dropout (the test cell of the hidden layer), with the course's
    dropout_forward standing in for the student's."""
    params, X, Y = l2_problem(seed, sizes=(600, 600, 10), N=8)
    n_params = sum(v.size for v in params.values())
    if l2_fn is not None:
        what = "l2_loss_and_grads"
        with _own_work(what, l2_fn, L2_WEIGHT_GIVEAWAYS, spy=True):
            grads, _ = kit.check_backprop_speed(
                l2_fn, params, X, Y, 0.01, activation="tanh", what=what, n_params=n_params
            )
        grads = kit.unpack(grads, what, ("J_hat", "grads"))[1]
        right = planted_l2(params, X, Y, 0.01, "tanh")[1]
        kit.check_timed_values(what, grads, {k: right[k] for k in ("W1", "W2")}, n_params)
    if dropout_fn is not None:
        what = "dropout_loss_and_grads"
        mask = np.where(np.random.default_rng(seed).random((600, 8)) < 0.5, 0.0, 2.0)
        with (
            _own_work(what, dropout_fn),
            grading.binding(dropout_fn, "dropout_forward", dropout_forward),
        ):
            out, _ = kit.check_backprop_speed(
                dropout_fn,
                params,
                X,
                Y,
                0.5,
                mask=mask,
                activation="tanh",
                what=what,
                n_params=n_params,
            )
        grads = kit.unpack(out, what, ("J", "grads", "mask"))[1]
        right = planted_dropout(params, X, Y, mask, "tanh", p=0.5)[1]
        kit.check_timed_values(what, grads, {k: right[k] for k in ("W1", "b1")}, n_params)


# -- dropout ------------------------------------------------------------------------------


def _call_dropout(fn, a, p, seed=None, mask=None):
    args = (np.array(a, dtype=np.float64), p)
    with _own_work("dropout_forward", fn):
        if seed is None:
            out = call(fn, *args, mask=mask, what="dropout_forward")
        else:
            out = call(kit.seeded, fn, seed, *args, mask=mask, what="dropout_forward")
    out, drawn = kit.unpack(out, "dropout_forward", ("out", "mask"))
    return kit.values("out", out, np.shape(a))[0], kit.values("mask", drawn, np.shape(a))[0]


def _factor_problem(name, factors, p):
    """What is wrong with the factors `factors` (the mask, or out / a) of dropout with drop
    probability `p`: entries 0 or 1/(1−p), a fraction p of them 0; None when right.

    Parameters
    ----------
    name : str
        What the factors are, for the message ("the mask", "out / a").
    factors : ndarray
        Every factor drawn (≥ 2000 of them: the dropped fraction then has a standard
        deviation of at most 0.011, and the bound 0.05 is more than 4σ).
    p : float
    """
    keep = 1.0 / (1.0 - p)
    with quiet():
        right = (np.abs(factors) <= 1e-12) | (np.abs(factors - keep) <= 1e-9 * keep)
    if not np.all(right):
        values = np.unique(np.round(factors, 9))
        hint = ""
        kept = [v for v in values.tolist() if v != 0.0]
        if values.tolist() == [1.0]:
            hint = "\n" + likely("07.dropout.nothing-dropped", keep=keep)
        elif set(values.tolist()) <= {0.0, 1.0}:
            hint = "\n" + likely("07.dropout.no-scaling", keep=keep)
        elif len(kept) == 1:
            hint = "\n" + likely("07.dropout.wrong-scaling", scale=kept[0], keep=keep)
        return (
            f"with p = {p} {name} must hold only 0 (dropped) and 1/(1−p) = {keep:g} (kept); "
            f"yours holds {values[:6].tolist()}.{hint}"
        )
    dropped = float(np.mean(np.abs(factors) <= 1e-12))
    if abs(dropped - p) > 0.05:
        bug = likely("07.dropout.keep-p")
        return f"with p = {p} a fraction {dropped:.3f} of the units was dropped.\n{bug}"
    return None


def check_dropout_forward(fn, p=0.25, shape=(40, 50), seed=0):
    """Mask entries 0 or 1/(1−p), about a fraction p dropped, out = a ∘ mask, reuse, p = 0."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 1.5, shape)
    out, mask = _call_dropout(fn, a, p, seed=seed + 1)
    keep = 1.0 / (1.0 - p)
    if not kit.close(out, a * mask):
        raise GradingFailure(likely("07.dropout.out"))
    problem = _factor_problem("the mask", mask, p)  # 2000 units
    if problem:
        raise GradingFailure(problem)
    fixed = np.where(rng.random(shape) < p, 0.0, keep)
    out2, mask2 = _call_dropout(fn, a, p, seed=seed + 3, mask=fixed)
    if not (np.array_equal(mask2, fixed) and kit.close(out2, a * fixed)):
        raise GradingFailure(likely("07.dropout.mask-ignored"))
    out0, _ = _call_dropout(fn, a, 0.0, seed=seed + 2)
    if not kit.close(out0, a):
        raise GradingFailure(likely("07.dropout.p0"))


def check_dropout_expectation(fn, p=0.4, draws=1500, seed=0):
    """E[out] = a: the mean of many training-time outputs is the test-time activation,
    from outputs that really drop: in every draw out = a ∘ r with r's entries 0 or
    1/(1−p), about a fraction p of them 0 (a dropout that drops nothing has E[out] = a
    too, and earns nothing)."""
    a = np.linspace(0.2, 2.0, 30).reshape(5, 6)
    argsets = [((kit.seeded, 0, fn, 1000 * seed + i, a.copy(), p), {}) for i in range(draws)]
    with _own_work("dropout_forward", fn):
        outs = kit.call_each(kit.output, argsets, what="dropout_forward")
    outs = np.array([kit.values("out", o, a.shape)[0] for o in outs])
    problem = _factor_problem("out / a (the factor each unit was multiplied by)", outs / a, p)
    if problem:
        raise GradingFailure(f"averaged over {draws} draws: {problem}")
    mean = outs.mean(axis=0)
    # The ratio's relative standard deviation is about sqrt(p / ((1−p)·30·draws)) ≤ 0.007
    # for the graded (p, draws): 0.03 is more than 4σ.
    ratio = float(np.sum(mean * a) / np.sum(a * a))
    if abs(ratio - 1.0) > 0.03:
        hint = " Drop each unit with probability p and scale the kept ones by 1/(1−p)."
        if abs(ratio - (1.0 - p)) < 0.03:
            hint = (
                "\n" + likely("07.dropout.no-scaling", keep=1.0 / (1.0 - p)) + "\nWithout it "
                f"E[out] = (1−p)·a = {1 - p:g}·a, so at test time (nothing dropped) the next "
                "layer would see larger inputs than in training."
            )
        raise GradingFailure(
            f"averaged over {draws} draws with p = {p}, the training-time output is about "
            f"{ratio:.3f}·a, but it must be a on average (then the test-time activation, "
            f"with nothing dropped, is what the next layer saw in training).{hint}"
        )
    return ratio


def dropout_problem(seed=0, sizes=(4, 6, 3), N=5, p=0.5):
    """Parameters, data, targets and a fixed dropout mask for the hidden layer."""
    params, X, Y = l2_problem(seed, sizes, N)
    rng = np.random.default_rng(seed + 100)
    mask = np.where(rng.random((sizes[1], N)) < p, 0.0, 1.0 / (1.0 - p))
    mask[:, 0] = 1.0 / (1.0 - p)  # keep some units for sure, so every weight matters
    return params, X, Y, mask


@dataclass(frozen=True)
class DropoutBug:
    """How a bug changes the dropout network's J and backward pass (each default: not
    at all).

    Attributes
    ----------
    loss : callable
        ``loss(J, params, h, Y)``: the J returned, from the right J.
    W2_of_h : bool
        ∂J/∂W² from h, the activations before dropout.
    backward_mask : callable
        ``backward_mask(mask, p)``: what multiplies the backward pass through layer 1.
    slope_of_h : bool
        f' evaluated at h = f(z¹) instead of at z¹.
    """

    loss: Callable = lambda J, params, h, Y: J
    W2_of_h: bool = False
    backward_mask: Callable = lambda mask, p: mask
    slope_of_h: bool = False


#: The dropout-network bugs of :data:`BUGS` the reference plants, by catalogue id.
DROPOUT_BUGS = {
    "07.net.no-mask": DropoutBug(backward_mask=lambda mask, p: 1.0),
    "07.net.unscaled-mask": DropoutBug(backward_mask=lambda mask, p: mask * (1.0 - p)),
    "07.net.mask-twice": DropoutBug(backward_mask=lambda mask, p: mask * mask),
    "07.net.f-prime-of-h": DropoutBug(slope_of_h=True),
    "07.net.W2-of-h": DropoutBug(W2_of_h=True),
    "07.net.J-sign": DropoutBug(loss=lambda J, params, h, Y: -J),
    "07.net.J-no-mask": DropoutBug(
        loss=lambda J, params, h, Y: softmax_cross_entropy(params["W2"] @ h + params["b2"], Y)[0]
    ),
}


def planted_dropout(params, X, Y, mask, activation, bug=None, p=0.5):
    """(J, grads) of the dropout network with `mask` (shape of the hidden layer's
    activations, (n₁, N)), with the bug `bug` (a key of :data:`DROPOUT_BUGS`) planted, or
    none."""
    plant = DROPOUT_BUGS[bug] if bug else DropoutBug()
    act = get_activation(activation)
    z1 = params["W1"] @ X + params["b1"]
    h = act.f(z1)
    a1 = h * mask
    z2 = params["W2"] @ a1 + params["b2"]
    J, delta2 = softmax_cross_entropy(z2, Y)
    J = plant.loss(J, params, h, Y)
    grads = {
        "W2": delta2 @ (h if plant.W2_of_h else a1).T,
        "b2": delta2.sum(axis=1, keepdims=True),
    }
    slope = act.f_prime(h if plant.slope_of_h else z1)
    delta1 = slope * (params["W2"].T @ delta2) * plant.backward_mask(mask, p)
    grads["W1"] = delta1 @ X.T
    grads["b1"] = delta1.sum(axis=1, keepdims=True)
    return J, grads


def _call_dropout_net(fn, params, X, Y, p, mask, seed, activation, giveaways=None):
    """``fn(params, X, Y, p, rng=default_rng(seed), mask=mask, activation=...)`` as the
    student's own work, with the course's dropout_forward standing in for theirs."""
    what = "dropout_loss_and_grads"
    args = (copy.deepcopy(params), X, Y, p)
    kw = {"mask": None if mask is None else mask.copy(), "activation": activation}
    with _own_work(what, fn, giveaways):
        out = call(
            kit.seeded,
            kit.with_reference,
            seed,
            fn,
            "dropout_forward",
            dropout_forward,
            *args,
            **kw,
            what=what,
        )
    J, grads, used = kit.unpack(out, what, ("J", "grads", "mask"))
    return J, kit.as_dict(grads, "dropout_loss_and_grads (grads)", params), used


def _dropout_models(params, X, Y, mask, activation, p, k):
    table = {i: b for i, b in BUGS.items() if i in DROPOUT_BUGS}
    right = planted_dropout(params, X, Y, mask, activation, p=p)[1][k]

    def compute(bug):
        g = planted_dropout(params, X, Y, mask, activation, bug, p)[1][k]
        return None if kit.close(g, right, "model") else g

    return suspects(table, compute)


def check_dropout_loss(fn, p=0.5, seed=0, activation="tanh", reveal=True):
    """J of the network with a fixed mask (the course's dropout_forward standing in for
    the student's) against the reference: the softmax cross-entropy of z² = W² ã¹ + b²."""
    params, X, Y, mask = dropout_problem(seed, p=p)
    giveaways = _values_only(GIVEAWAYS["dropout_loss_and_grads"])
    J, _, _ = _call_dropout_net(fn, params, X, Y, p, mask, seed + 1, activation, giveaways)
    arr, _ = kit.values("J", J)
    if arr.size != 1:
        raise GradingFailure(
            f"dropout_loss_and_grads must return J as one number first, got {kit.describe(J)}."
        )
    table = {i: b for i, b in BUGS.items() if i.startswith("07.net.J-") and i in DROPOUT_BUGS}
    models = suspects(table, lambda bug: planted_dropout(params, X, Y, mask, activation, bug, p)[0])
    expected = planted_dropout(params, X, Y, mask, activation, p=p)[0]
    return float(kit.check_values("J", arr.reshape(()), expected, reveal=reveal, models=models))


def _same_grads(a, b, keys):
    return all(
        k in a and k in b and np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True)
        for k in keys
    )


def check_dropout_grads(fn, keys, p=0.5, seed=0, activation="tanh", reveal=True):
    """Gradients with a fixed mask: the mask reused (two calls that differ only in their
    rng agree), and each gradient the true one, finite differences of the reference
    network's J with that mask.  The course's dropout_forward stands in for the student's
    throughout (a wrong dropout_forward costs only its own points); a gradient right only
    for the student's own wrong J earns nothing, and the message says so."""
    params, X, Y, mask = dropout_problem(seed, p=p)
    _, grads, _ = _call_dropout_net(fn, params, X, Y, p, mask, seed + 1, activation)
    _, again, _ = _call_dropout_net(fn, params, X, Y, p, mask, seed + 2, activation)
    finite = all(np.all(np.isfinite(np.asarray(grads.get(k), dtype=np.float64))) for k in keys)
    if finite and not _same_grads(grads, again, keys):
        raise GradingFailure(
            "the gradients changed between two calls with the same mask (only the rng "
            "differed).\n" + likely("07.net.fresh-mask")
        )
    forward = "dropout_loss_and_grads (its J)"
    problem = kit.problem_of(check_dropout_loss, fn, p, seed, activation, reveal=False)
    head = (kit.with_reference, fn, "dropout_forward", dropout_forward)
    for k in keys:
        try:
            kit.check_param_gradient(
                f"∂J/∂{k}",
                k,
                grads,
                params,
                fn=kit.seeded,
                arguments=lambda key, point: (
                    (head[0], seed + 3, *head[1:], _with(params, key, point), X, Y, p),
                    {"mask": mask.copy(), "activation": activation},
                ),
                reference=lambda key, point: planted_dropout(
                    _with(params, key, point), X, Y, mask, activation, p=p
                )[0],
                forward=forward,
                reveal=reveal,
                suspects=_dropout_models(params, X, Y, mask, activation, p, k),
                batch_size=X.shape[1],
            )
        except GradingFailure as failure:
            raise GradingFailure(kit.with_problem(str(failure), problem, forward)) from None


def check_dropout_mask_reused(fn, p=0.5, seed=0, activation="tanh"):
    """Without a given mask: the gradients returned are those of the mask returned (the
    backward pass reuses the mask the forward pass drew), with the course's
    dropout_forward standing in for the student's."""
    params, X, Y, _ = dropout_problem(seed, p=p)
    given = np.where(
        np.random.default_rng(seed + 6).random((params["W1"].shape[0], X.shape[1])) < p,
        0.0,
        1.0 / (1.0 - p),
    )
    _, _, back = _call_dropout_net(fn, params, X, Y, p, given, seed + 7, activation)
    if not kit.close(back, given):
        raise GradingFailure(
            f"given a mask, dropout_loss_and_grads returned {kit.describe(back)} as the "
            "mask.\n" + likely("07.net.returned-mask")
        )
    _, grads, used = _call_dropout_net(fn, params, X, Y, p, None, seed + 5, activation)
    used, _ = kit.values("the mask returned", used, (params["W1"].shape[0], X.shape[1]))
    keep = 1.0 / (1.0 - p)
    if not np.all(np.isclose(used, 0.0) | np.isclose(used, keep)):
        raise GradingFailure(
            f"the mask returned holds {np.unique(np.round(used, 6))[:6].tolist()}, not only 0 "
            f"and 1/(1−p) = {keep:g}: dropout_loss_and_grads must return the mask its "
            "dropout_forward drew."
        )
    _, expected = planted_dropout(params, X, Y, used, activation, p=p)
    for k in ("W1", "b1"):
        if not kit.close(grads[k], expected[k]):
            raise GradingFailure(
                f"∂J/∂{k} is not the gradient for the mask dropout_loss_and_grads returned "
                "(no mask given, so one was drawn).\n" + likely("07.net.fresh-mask")
            )


# -- early stopping -----------------------------------------------------------------------


def check_early_stopping(fn, val_losses, patience, reveal=True):
    """(best, stop) on a given validation-loss history."""
    expected = best_epoch(val_losses, patience)
    with _own_work("early_stopping", fn):
        out = call(fn, list(val_losses), patience, what="early_stopping")
    best, stop = kit.unpack(out, "early_stopping", ("best", "stop"))
    try:
        best, stop = int(best), int(stop)
    except (TypeError, ValueError):
        raise GradingFailure(
            f"early_stopping must return two integers (best, stop), got {kit.describe(out)}."
        ) from None
    if (best, stop) == expected:
        return best, stop
    shown = f", expected ({expected[0]}, {expected[1]})" if reveal else ""
    text = (
        f"early_stopping({[round(float(v), 3) for v in val_losses]}, patience={patience}) gave "
        + (f"(best, stop) = ({best}, {stop}){shown}.")
    )
    if not (0 <= best < len(val_losses) and 0 <= stop < len(val_losses)):
        bug = likely("07.early.outside", last=len(val_losses) - 1)
    elif best != expected[0]:
        last = best == stop or best == len(val_losses) - 1
        bug = likely("07.early.last-best" if last else "07.early.best-wrong")
    elif abs(stop - expected[1]) == 1:
        bug = likely("07.early.off-by-one")
    else:
        bug = likely("07.early.stop-wrong")
    raise GradingFailure(f"{text}\n{bug}")


def validation_loss(params, X, Y, activation="tanh"):
    """Mean cross-entropy (nats) of the network on (X, Y), without dropout."""
    return softmax_cross_entropy(network.predict(params, X, activation), Y)[0]


def run_counted(fn, params, split, seed, **kwargs):
    """Run ``fn(params, split, rng=default_rng(seed), **kwargs)`` counting the epochs it
    trains: the ``epochs`` of every ``training.train`` call and the minibatches of every
    ``network.loss_and_grads`` call (a driver).

    Returns
    -------
    out : object
        What fn returned.
    trained : dict
        "epochs": Σ epochs of training.train; "batches": calls of loss_and_grads;
        "patience": whether a call of training.train was given patience= (the course's
        own early stopping).
    """
    from .. import training

    counts = {"epochs": 0, "batches": 0, "patience": False}
    train, loss_and_grads = training.train, network.loss_and_grads

    def counted_train(*args, **kw):
        counts["epochs"] += int(kw.get("epochs", args[3] if len(args) > 3 else 0))
        counts["patience"] = counts["patience"] or kw.get("patience") is not None
        return train(*args, **kw)

    def counted_loss_and_grads(*args, **kw):
        counts["batches"] += 1
        return loss_and_grads(*args, **kw)

    with (
        grading.replacing("course.training.train", counted_train, fn),
        grading.replacing("course.network.loss_and_grads", counted_loss_and_grads, fn),
    ):
        out = fn(params, split, rng=np.random.default_rng(seed), **kwargs)
    return out, counts


def _check_rule(losses, patience, max_epochs):
    best, stop = best_epoch(losses, patience)
    last = len(losses) - 1
    patience_ran_out = last - best >= patience
    if last > max_epochs or stop != last or (not patience_ran_out and last != max_epochs):
        rule = (
            f"training stops at epoch {stop} (best epoch {best})"
            if stop < last or patience_ran_out
            else f"training continues to epoch {max_epochs} unless patience runs out"
        )
        raise GradingFailure(
            f"your history has {len(losses)} values (epochs 0..{last}), but with patience "
            f"{patience} and max_epochs {max_epochs} {rule}.\n" + likely("07.run.no-patience")
        )
    return best


def _check_epochs(trained, n_entries, n_train, batch_size):
    epochs = trained["epochs"] or trained["batches"] / max(1, -(-n_train // batch_size))
    if epochs and abs(epochs - (n_entries - 1)) > 1e-9:
        raise GradingFailure(
            f"your history has {n_entries} values (epochs 0..{n_entries - 1}), but "
            f"{epochs:g} epochs were trained.\n" + likely("07.run.epochs-per-entry")
        )


def check_early_run(
    fn,
    split,
    *,
    init_seed,
    seed,
    max_epochs,
    lr,
    batch_size,
    patience,
    hidden=64,
    activation="tanh",
):
    """A real run: the history follows the rule, one epoch per entry, and the parameters
    are the best epoch's."""
    params0 = network.init_params([64, hidden, 10], "xavier", np.random.default_rng(init_seed))
    run = {"max_epochs": max_epochs, "lr": lr, "batch_size": batch_size, "patience": patience}
    params, losses, trained = _early_run(fn, params0, split, seed, run, activation)
    _check_val_losses(losses, validation_loss(params0, split.X_val, split.Y_val, activation))
    best = _check_rule(losses, patience, max_epochs)
    _check_epochs(trained, len(losses), split.X_train.shape[1], batch_size)
    _check_best_params(params, losses, best, split, activation)
    return best


def _early_run(fn, params0, split, seed, run, activation):
    """(params, val_losses, what training.train was asked) of the student's run: the
    run must be the student's own early stopping, not training.train's."""
    what = "train_with_early_stopping"
    with _own_work(what, fn):
        out, trained = call(
            run_counted,
            fn,
            copy.deepcopy(params0),
            split,
            seed,
            **run,
            activation=activation,
            what="train_with_early_stopping",
        )
    if trained["patience"]:
        grading.flag(f"{what} calls training.train with patience=, which computes the answer")
        raise GradingFailure(
            f"{what} calls training.train with patience=: that is the course's own early "
            "stopping, what this exercise asks you to write, so it earns nothing here (and "
            "the instructor is told). Train one epoch per call (epochs=1, no patience) and "
            "apply the rule yourself."
        )
    params, losses = kit.unpack(out, "train_with_early_stopping", ("params", "val_losses"))
    params = kit.as_dict(params, "train_with_early_stopping (params)", params0)
    losses = [float(v) for v in kit.values("val_losses", losses)[0].reshape(-1)]
    return params, losses, trained


def _check_val_losses(losses, v0):
    """val_losses starts at the untrained network's loss `v0` and changes epoch by epoch."""
    if not losses or not kit.close(losses[0], v0, "exact"):
        raise GradingFailure(
            "val_losses[0] must be the validation loss of the untrained network (epoch 0), "
            "followed by one value after each epoch."
        )
    if len(losses) > 1 and kit.close(losses, [losses[0]] * len(losses)):
        raise GradingFailure(
            "the validation loss never changed: train one epoch between two entries of "
            "val_losses.\n" + likely("07.run.epochs-per-entry")
        )


def _check_best_params(params, losses, best, split, activation):
    """The returned parameters have the validation loss of the best epoch `best`."""
    with quiet():
        got = validation_loss(
            {k: np.asarray(v, dtype=np.float64) for k, v in params.items()},
            split.X_val,
            split.Y_val,
            activation,
        )
    if not kit.close(got, losses[best], "exact"):
        which = ""
        if kit.close(got, losses[-1], "exact"):
            which = f" which is that of the last epoch ({len(losses) - 1})"
        raise GradingFailure(
            f"the parameters you returned have validation loss {got:.6g}{which}, but the best "
            f"epoch ({best}) had {losses[best]:.6g}.\n"
            + likely("07.run.last-params" if which else "07.run.no-copy")
        )
