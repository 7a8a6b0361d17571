"""Checkers for notebook 03: softmax with cross-entropy, and a sigmoid layer.

Values are compared with the course's references; gradients with finite differences
(:func:`course.checks._kit.check_gradient`: of the reference where the student's forward
or loss agrees with it, of the student's own otherwise), so a wrong loss costs only the
loss's points.  The suspects are the gradients that the bugs of :data:`BUGS` produce,
computed here by planting each bug in a small reference.

Shapes follow the course: logits z (K, N), one-hot targets Y (K, N), a layer's input
a_prev (nₘ₋₁, N), W (nₘ, nₘ₋₁), b (nₘ, 1), output a (nₘ, N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import grading
from ..activations import sigmoid, sigmoid_prime
from ..grading import GradingFailure, call, call_timed, quiet
from ..losses import log_softmax, softmax
from . import _kit as kit
from .catalogue import suspects, table

__all__ = [
    "BUGS",
    "LayerCase",
    "ce_gradient_suspects",
    "check_backprop",
    "check_ce_backprop",
    "check_ce_gradient",
    "check_ce_loss",
    "check_layer_backward",
    "check_layer_forward",
    "check_softmax",
    "layer_case",
    "layer_suspects",
    "logits_case",
]

STABILITY_HINT = (
    "subtract each column's own maximum before exponentiating, "
    "z − z.max(axis=0, keepdims=True): exp(z_k − c) / Σ_j exp(z_j − c) is the same number "
    "for any c, and with c = max_k z_k no exponential can overflow and the largest term is 1"
)

BUGS = table("03")


# --------------------------------------------------------------------------- softmax


def logits_case(K, N, seed, scale=3.0, offset=0.0):
    """Random logits z (K, N) and one-hot targets Y (K, N), from one seed.

    Parameters
    ----------
    K, N : int
        Classes and examples.
    seed : int
    scale : float
        Std of the logits.
    offset : float or array_like
        Added to every logit (or per column, shape (N,)), e.g. 1000 to test stability.

    Returns
    -------
    z, Y : ndarray, shape (K, N)
    """
    rng = np.random.default_rng(seed)
    z = scale * rng.normal(size=(K, N)) + np.asarray(offset, dtype=np.float64)
    labels = rng.integers(0, K, size=N)
    Y = np.zeros((K, N))
    Y[labels, np.arange(N)] = 1.0
    return z, Y


_UNSTABLE = ("FloatingPointError", "OverflowError", "RuntimeWarning", "ZeroDivisionError")


def _call_strict(fn, z, *rest, what):
    """Call `fn(z, *rest)` strictly; an overflow becomes the stability message."""
    try:
        with grading.strict_floats():
            return call(fn, z.copy(), *rest, what=what)
    except GradingFailure as failure:
        error = getattr(failure, "student_error", None)
        if error is None or error.type_name not in _UNSTABLE:
            raise
        if "divide by zero" in error.message and what == "cross_entropy_loss":
            raise GradingFailure(
                f"{what} hits {error.type_name} ({error.message}) for logits as large as "
                f"{float(np.max(np.abs(z))):.4g}.\n"
                f"Likely bug: {BUGS['03.loss.log-of-zero'].diagnosis}."
            ) from None
        raise GradingFailure(
            f"{what} is not numerically stable: with logits as large as "
            f"{float(np.max(np.abs(z))):.4g} it hits {error.type_name} ({error.message}).\n"
            f"Fix: {STABILITY_HINT}."
        ) from None


def _softmax_hint(y_hat, z):
    K, N = z.shape
    if kit.close(y_hat.sum(axis=0), np.ones(N), "exact"):
        return None
    if kit.close(y_hat.sum(axis=1), np.ones(K), "exact") and K != N:
        return "Likely bug: " + BUGS["03.softmax.wrong-axis"].diagnosis + "."
    with quiet():
        unnormalised = (np.exp(z), np.exp(z - z.max(axis=0, keepdims=True)))
    if any(kit.close(y_hat, e, "exact") for e in unnormalised):
        return "Likely bug: " + BUGS["03.softmax.not-normalised"].diagnosis + "."
    return "Likely bug: " + BUGS["03.softmax.columns"].diagnosis + "."


def check_softmax(softmax_fn, z, *, reveal=True):
    """Fail unless ``softmax_fn(z)`` is softmax per column, computed without overflow.

    Parameters
    ----------
    softmax_fn : callable
        The student's ``softmax(z) -> ŷ``.
    z : ndarray, shape (K, N)
        Logits; may be huge (|z| ~ 1000) to test stability.
    reveal : bool
        Show the expected entry on failure (False in hidden tests).

    Returns
    -------
    ndarray, shape (K, N)
        The student's probabilities.
    """
    z = np.asarray(z, dtype=np.float64)
    name = f"softmax(z) for z of shape {z.shape}"
    y_hat = _call_strict(softmax_fn, z, what="softmax")
    arr, _ = kit.values(name, y_hat, z.shape)
    if not np.all(np.isfinite(arr)):
        raise GradingFailure(
            f"{name} contains NaN or inf (largest |z| is {float(np.max(np.abs(z))):.4g}).\n"
            f"Fix: {STABILITY_HINT}."
        )
    return kit.check_values(name, y_hat, softmax(z), reveal=reveal, hint=_softmax_hint(arr, z))


# --------------------------------------------------------------------------- cross-entropy


def planted_loss(z, Y, bug=None):
    """J = −(1/N) Σ Y log softmax(z), optionally with a loss bug's key of :data:`BUGS`."""
    K, N = z.shape
    with quiet():
        log_y = z if bug == "logits" else log_softmax(z)
        terms = log_y if bug == "all" else Y * log_y
        J = -float(np.sum(terms)) / N
    factor = {"sign": -1.0, "sum": float(N), "twice": 1.0 / N, "classes": 1.0 / K}
    factor["times_N"] = float(N * N)
    return J * factor.get(bug, 1.0)


def _loss_models(z, Y):
    return suspects(
        {k: b for k, b in BUGS.items() if k.startswith("03.loss.")},
        lambda model: planted_loss(z, Y, model),
    )


def check_ce_loss(loss_fn, z, Y, *, reveal=True):
    """Fail unless ``loss_fn(z, Y)`` is J = −(1/N) Σ_n Σ_k Y_kn log softmax(z)_kn.

    Parameters
    ----------
    loss_fn : callable
        The student's ``cross_entropy_loss(z, Y) -> float``.
    z, Y : ndarray, shape (K, N)
        Logits may be large (|z| ~ 1000): the loss must stay finite.
    reveal : bool

    Returns
    -------
    float
        The student's J.
    """
    z = np.asarray(z, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    J = _call_strict(loss_fn, z, Y.copy(), what="cross_entropy_loss")
    arr, _ = kit.values("J = cross_entropy_loss(z, Y)", J)
    if arr.size != 1:
        raise GradingFailure(
            "cross_entropy_loss must return one number (the batch-averaged loss J), got "
            f"{kit.describe(J)}."
        )
    if not np.isfinite(arr.reshape(-1)[0]):
        raise GradingFailure(
            f"cross_entropy_loss returned {float(arr.reshape(-1)[0])} for logits as large as "
            f"{float(np.max(np.abs(z))):.4g}.\nLikely bug: {BUGS['03.loss.log-of-zero'].diagnosis}."
        )
    value = kit.check_values(
        "J = cross_entropy_loss(z, Y)",
        arr.reshape(()),
        planted_loss(z, Y),
        reveal=reveal,
        models=_loss_models(z, Y),
    )
    return float(value)


def ce_gradient_suspects(z, Y):
    """Gradients ∂J/∂z that the gradient bugs of :data:`BUGS` produce.

    Returns
    -------
    dict of str to ndarray, shape (K, N)
        Sentence naming the bug -> the gradient it gives.
    """
    N = z.shape[1]
    y_hat = softmax(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        models = {
            "logits": (z - Y) / N,
            "logits_sum": z - Y,
            "wrt_yhat": -Y / y_hat / N,
            "diagonal": -Y * (1.0 - y_hat) / N,
            "sign": (Y - y_hat) / N,
            "plus": (y_hat + Y) / N,
        }
    table = {k: b for k, b in BUGS.items() if k.startswith("03.grad.")}
    return suspects(table, models.get)


def check_ce_gradient(grad_fn, loss_fn, z, Y, *, reveal=True):
    """Fail unless ``grad_fn(z, Y)`` is the gradient of the cross-entropy loss.

    Judged against finite differences of the reference loss, or of the student's own
    ``cross_entropy_loss`` when that one differs (so a wrong loss costs only its own
    points, and a gradient consistent with the student's loss keeps its points).

    Parameters
    ----------
    grad_fn : callable
        The student's ``softmax_cross_entropy_grad(z, Y) -> ∂J/∂z``.
    loss_fn : callable
        The student's ``cross_entropy_loss(z, Y) -> J``.
    z, Y : ndarray, shape (K, N)
    reveal : bool

    Returns
    -------
    GradientCheck
    """
    z = np.asarray(z, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    grad = call(grad_fn, z.copy(), Y.copy(), what="softmax_cross_entropy_grad")
    return kit.check_gradient(
        "∂J/∂z",
        grad,
        z,
        entry="z",
        student=kit.evaluations(
            loss_fn,
            None,
            lambda p: ((p, Y.copy()), {}),
            lambda J: float(np.asarray(J, dtype=np.float64).reshape(())),
            "cross_entropy_loss",
        ),
        reference=lambda p: planted_loss(p, Y),
        forward="cross_entropy_loss",
        reveal=reveal,
        suspects=ce_gradient_suspects(z, Y),
        batch_size=z.shape[1],
    )


# --------------------------------------------------------------------------- sigmoid layer


@dataclass
class LayerCase:
    """Inputs of one sigmoid-layer check.

    Attributes
    ----------
    a_prev : ndarray, shape (nₘ₋₁, N)
    W : ndarray, shape (nₘ, nₘ₋₁)
    b : ndarray, shape (nₘ, 1)
    dJ_da : ndarray, shape (nₘ, N)
        The upstream gradient handed to the backward; the checks differentiate
        J = Σ dJ_da ∘ a, whose gradient with respect to a is exactly dJ_da.
    """

    a_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    dJ_da: np.ndarray

    @property
    def N(self):
        return self.a_prev.shape[1]

    def args(self, which=None, value=None):
        """(a_prev, W, b) as fresh copies, with `which` replaced by `value`."""
        args = {"da_prev": self.a_prev, "dW": self.W, "db": self.b}
        if which is not None:
            args[which] = value
        return tuple(np.array(v, dtype=np.float64) for v in args.values())


def layer_case(n_prev, n, N, seed):
    """A random LayerCase with weights of order 1 (so σ'(z) varies between units)."""
    rng = np.random.default_rng(seed)
    return LayerCase(
        a_prev=rng.normal(size=(n_prev, N)),
        W=rng.normal(size=(n, n_prev)),
        b=rng.normal(size=(n, 1)),
        dJ_da=rng.normal(size=(n, N)) / N,
    )


def planted_layer_forward(a_prev, W, b, bug=None):
    """a = σ(W a_prev + b), optionally with a layer-forward bug's key of :data:`BUGS`."""
    z = W @ a_prev + (0.0 if bug == "no_bias" else b)
    return {"no_sigma": lambda: z, "tanh": lambda: np.tanh(z)}.get(bug, lambda: sigmoid(z))()


def _forward_models(case):
    table = {k: b for k, b in BUGS.items() if k.startswith("03.layer.")}
    forward_bugs = ("no_bias", "no_sigma", "tanh")
    return suspects(
        table,
        lambda model: (
            planted_layer_forward(case.a_prev, case.W, case.b, model)
            if model in forward_bugs
            else None
        ),
    )


def forward_problem(forward_fn, case):
    """None when the student's sigmoid_layer_forward is right on `case`, else a sentence."""
    out = call(forward_fn, *case.args(), what="sigmoid_layer_forward")
    a = kit.unpack(out, "sigmoid_layer_forward", ("a", "cache"))[0]
    if kit.close(a, planted_layer_forward(case.a_prev, case.W, case.b), "float32"):
        return None
    return kit.matching(a, _forward_models(case)) or "its output differs from σ(W a_prev + b)"


def check_layer_forward(forward_fn, case, *, reveal=True):
    """Fail unless the student's ``sigmoid_layer_forward(a_prev, W, b)`` on the LayerCase
    `case` returns (σ(W a_prev + b), cache); returns their a.  `reveal`: show the
    expected entry (False in hidden tests)."""
    what = "sigmoid_layer_forward"
    out = call(forward_fn, *case.args(), what=what)
    a, _ = kit.unpack(out, what, ("a", "cache"))
    n, N = case.W.shape[0], case.N
    return kit.check_values(
        f"a from {what} (nₘ = {n}, N = {N})",
        a,
        planted_layer_forward(case.a_prev, case.W, case.b),
        reveal=reveal,
        models=_forward_models(case),
    )


def _layer_deltas(case, a):
    G = case.dJ_da
    return {
        "no_prime": G,
        "prime_of_a": G * sigmoid_prime(a),
        "half_prime": G * a,
        "prime_form": tuple(G * p for p in kit.prime_slips(a)),
    }


def layer_suspects(case):
    """What the backward bugs of :data:`BUGS` make of (da_prev, dW, db) on `case`.

    Returns
    -------
    dict
        {"da_prev": {sentence: array}, "dW": {...}, "db": {...}}; a bug that does not
        change a gradient, or gives it another shape, is left out of that entry.
    """
    a_prev, W, G = case.a_prev, case.W, case.dJ_da
    a = planted_layer_forward(a_prev, W, case.b)
    right = G * a * (1.0 - a)
    models = {"da_prev": {}, "dW": {}, "db": {}}
    for key, delta in _layer_deltas(case, a).items():
        forms = delta if isinstance(delta, tuple) else (delta,)
        grads = [(W.T @ d, d @ a_prev.T, d.sum(axis=1, keepdims=True)) for d in forms]
        for i, which in enumerate(("da_prev", "dW", "db")):
            models[which][key] = tuple(g[i] for g in grads) if len(grads) > 1 else grads[0][i]
    models["db"]["b_mean"] = right.mean(axis=1, keepdims=True)
    models["da_prev"]["prime_of_input"] = (W.T @ right) * a_prev * (1.0 - a_prev)
    if W.shape[0] == W.shape[1]:
        models["da_prev"]["W_not_T"] = W @ right
        models["dW"]["dW_T"] = a_prev @ right.T
    table = {k: b for k, b in BUGS.items() if k.startswith("03.layer.")}
    return {which: suspects(table, m.get) for which, m in models.items()}


_LAYER_GRADS = {
    "da_prev": ("∂J/∂a_prev (da_prev)", 0, "a_prev"),
    "dW": ("∂J/∂W (dW)", 1, "W"),
    "db": ("∂J/∂b (db)", 2, "b"),
}

_SHAPE_HINT = (
    "Hint: a matrix product with the wrong shapes. With W of shape (nₘ, nₘ₋₁) and δ of "
    "shape (nₘ, N), da_prev = Wᵀ δ needs the transpose (the lecture's Σ_j ∂J/∂z_j w_ij "
    "sums over the outputs j), and dW = δ a_prevᵀ is (nₘ, N) times (N, nₘ₋₁)."
)


def _call_layer_backward(backward_fn, case, cache):
    try:
        grads = call(backward_fn, case.dJ_da.copy(), cache, what="sigmoid_layer_backward")
    except GradingFailure as failure:
        error = getattr(failure, "student_error", None)
        if error is None or error.type_name != "ValueError":
            raise
        raise GradingFailure(f"{failure}\n{_SHAPE_HINT}") from None
    return kit.unpack(grads, "sigmoid_layer_backward", ("da_prev", "dW", "db"))


def check_layer_backward(which, forward_fn, backward_fn, case, *, reveal=True):
    """Fail unless one output of the student's backward is the gradient of J = Σ G ∘ a.

    ``sigmoid_layer_backward(G, cache)`` gets the cache of the student's forward.

    Parameters
    ----------
    which : {"da_prev", "dW", "db"}
    forward_fn, backward_fn : callable
        The student's forward and backward.
    case : LayerCase
    reveal : bool

    Returns
    -------
    GradientCheck
    """
    label, pos, entry = _LAYER_GRADS[which]
    out = call(forward_fn, *case.args(), what="sigmoid_layer_forward")
    _, cache = kit.unpack(out, "sigmoid_layer_forward", ("a", "cache"))
    grad = _call_layer_backward(backward_fn, case, cache)[pos]
    found = layer_suspects(case)[which]
    point = case.args()[pos]
    sentence = kit.matching(grad, found)
    if sentence and np.shape(grad) != point.shape:
        raise GradingFailure(
            f"{label} has shape {np.shape(grad)}, expected {point.shape}.\nLikely bug: {sentence}"
        )
    G = case.dJ_da
    return kit.check_forward_gradient(
        label,
        grad,
        point,
        entry=entry,
        forward_fn=forward_fn,
        arguments=lambda p: (case.args(which, p), {}),
        scalar=lambda a: float(np.sum(G * np.asarray(a, dtype=np.float64))),
        reference=lambda p: float(np.sum(G * planted_layer_forward(*case.args(which, p)))),
        forward="sigmoid_layer_forward",
        problem=lambda: forward_problem(forward_fn, case),
        reveal=reveal,
        suspects=found,
        batch_size=case.N,
    )


# --------------------------------------------------------------------------- speed


def check_backprop(forward_fn, backward_fn, seed=0):
    """sigmoid_layer_backward on a 300 × 300 layer and one example (9·10⁴ parameters) must
    take backpropagation's time, not numerical differentiation's (see
    :func:`course.checks._kit.check_backprop_speed`).  One example keeps a backward written
    as Python loops over every weight (the lecture's scalar formulas, about 0.2 s) inside
    the budget; such loops cost a per-weight step, finite differences a forward pass per
    parameter, so here the two stand only about 50× apart and the budget sits in between
    (≈ 7× from each, measured on a loaded 2-core machine)."""
    case = layer_case(300, 300, 1, seed)
    out, seconds = call_timed(
        forward_fn, *case.args(), budget=kit.BACKPROP_BUDGET, what="sigmoid_layer_forward"
    )
    _, cache = kit.unpack(out, "sigmoid_layer_forward", ("a", "cache"))
    return kit.check_backprop_speed(
        backward_fn,
        case.dJ_da.copy(),
        cache,
        what="sigmoid_layer_backward",
        n_params=case.W.size + case.b.size + case.a_prev.size,
        forward_seconds=seconds,
    )


def check_ce_backprop(grad_fn, seed=0):
    """softmax_cross_entropy_grad on 300 × 300 logits must take an analytic gradient's
    time, not numerical differentiation's (1.8·10⁵ evaluations of the loss)."""
    z, Y = logits_case(300, 300, seed)
    return kit.check_backprop_speed(
        grad_fn, z, Y, what="softmax_cross_entropy_grad", n_params=z.size
    )
