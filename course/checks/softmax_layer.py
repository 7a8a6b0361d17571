"""Checkers for notebook 03: softmax with cross-entropy, and a sigmoid layer.

Values are compared with the course's references.  A gradient earns its points by the
true gradient (:func:`course.checks._kit.check_gradient`): the finite differences of the
correct function at the correct forward values, never of the student's own forward.

- ``softmax_cross_entropy_grad`` is judged against finite differences of the reference
  cross-entropy loss; where it calls the student's ``softmax``, the reference softmax is
  bound in for the call, so a wrong softmax or loss costs only its own points.
- ``sigmoid_layer_backward(dJ_da, cache)`` is handed the cache of the reference forward
  in the layout the notebook prescribes, ``(a_prev, W, b, z, a)``
  (:func:`reference_cache`), and ``check_layer_forward`` checks that the student's
  forward returns that cache.  Should the backward call ``sigmoid_layer_forward``, the
  reference stands in, watched: a call at inputs other than the cache's is numerical
  differentiation (of the reference, not of the student's work), earns nothing and is
  flagged.  A backward that is right only for the student's own
  wrong forward (a tanh layer with tanh's derivative) earns nothing, and says so.
- The speed tests judge the values of the call they timed (numerical differentiation
  that gives up at scale earns nothing).
- An answer that calls the course's own implementation (:data:`GIVEAWAYS`) earns
  nothing for that exercise.

The suspects are the gradients that the bugs of :data:`BUGS` produce, computed here by
planting each bug in a small reference.

Shapes follow the course: logits z (K, N), one-hot targets Y (K, N), a layer's input
a_prev (nₘ₋₁, N), W (nₘ, nₘ₋₁), b (nₘ, 1), output a (nₘ, N).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import gradcheck, grading
from ..activations import sigmoid, sigmoid_prime
from ..grading import GradingFailure, call, call_each, quiet
from ..losses import log_softmax, softmax
from . import _kit as kit
from .catalogue import likely, suspects, table

__all__ = [
    "BUGS",
    "LAYER_BUGS",
    "LOSS_BUGS",
    "CACHE_LAYOUT",
    "GIVEAWAYS",
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
    "reference_cache",
    "reference_layer_forward",
]

STABILITY_HINT = (
    "subtract each column's own maximum before exponentiating, "
    "z − z.max(axis=0, keepdims=True): exp(z_k − c) / Σ_j exp(z_j − c) is the same number "
    "for any c, and with c = max_k z_k no exponential can overflow and the largest term is 1"
)

BUGS = table("03")

#: The course functions that compute softmax, the loss or its gradient.
_LOSSES = (
    "course.losses.softmax",
    "course.losses.log_softmax",
    "course.losses.softmax_cross_entropy",
    "course.losses.cross_entropy",
)
#: The course's layers and networks, which compute a layer's forward and backward.
_LAYERS = (
    "course.layers.dense_forward",
    "course.layers.dense_backward",
    "course.network.forward",
    "course.network.predict",
    "course.network.backward",
    "course.network.loss_and_grads",
)

#: The course functions that give each exercise away (see _kit.own_work).  The
#: elementwise activations (sigmoid, sigmoid_prime) are the layer's own ingredients.
GIVEAWAYS = {
    "softmax": _LOSSES,
    "cross_entropy_loss": _LOSSES,
    "softmax_cross_entropy_grad": (*_LOSSES, kit.NUMERICAL),
    "sigmoid_layer_forward": _LAYERS,
    "sigmoid_layer_backward": (*_LAYERS, kit.NUMERICAL),
}


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
    """Call `fn(z, *rest)` strictly (as the student's own work); an overflow becomes the
    stability message."""
    try:
        with kit.own_work(what, GIVEAWAYS[what], fn), grading.strict_floats():
            return call(fn, z.copy(), *rest, what=what)
    except GradingFailure as failure:
        error = getattr(failure, "student_error", None)
        if error is None or error.type_name not in _UNSTABLE:
            raise
        if "divide by zero" in error.message and what == "cross_entropy_loss":
            raise GradingFailure(
                f"{what} hits {error.type_name} ({error.message}) for logits as large as "
                f"{float(np.max(np.abs(z))):.4g}.\n" + likely("03.loss.log-of-zero")
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
        return likely("03.softmax.wrong-axis")
    with quiet():
        unnormalised = (np.exp(z), np.exp(z - z.max(axis=0, keepdims=True)))
    if any(kit.close(y_hat, e, "exact") for e in unnormalised):
        return likely("03.softmax.not-normalised")
    return likely("03.softmax.columns")


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


@dataclass(frozen=True)
class LossBug:
    """How a loss bug changes J = −(1/N) Σ Y log softmax(z) (each default: not at all).

    Attributes
    ----------
    log_y : callable
        ``log_y(z)``: what stands for log ŷ, shape (K, N).
    terms : callable
        ``terms(Y, log_y)``: what is summed.
    factor : callable
        ``factor(K, N)``: what J is multiplied by.
    """

    log_y: Callable = lambda z: log_softmax(z)
    terms: Callable = lambda Y, log_y: Y * log_y
    factor: Callable = lambda K, N: 1.0


#: The loss bugs of :data:`BUGS` the reference loss plants, by catalogue id.
LOSS_BUGS = {
    "03.loss.sign": LossBug(factor=lambda K, N: -1.0),
    "03.loss.no-1/N": LossBug(factor=lambda K, N: float(N)),
    "03.loss.1/N-twice": LossBug(factor=lambda K, N: 1.0 / N),
    "03.loss.times-N": LossBug(factor=lambda K, N: float(N * N)),
    "03.loss.classes": LossBug(factor=lambda K, N: 1.0 / K),
    "03.loss.all-classes": LossBug(terms=lambda Y, log_y: log_y),
    "03.loss.logits": LossBug(log_y=lambda z: z),
}


def planted_loss(z, Y, bug=None):
    """J = −(1/N) Σ Y log softmax(z) for z, Y of shape (K, N), with the loss bug `bug`
    (a key of :data:`LOSS_BUGS`) planted, or none."""
    plant = LOSS_BUGS[bug] if bug else LossBug()
    K, N = z.shape
    with quiet():
        J = -float(np.sum(plant.terms(Y, plant.log_y(z)))) / N
    return J * plant.factor(K, N)


def _loss_models(z, Y):
    return suspects(
        {k: b for k, b in BUGS.items() if k in LOSS_BUGS},
        lambda bug: planted_loss(z, Y, bug),
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
            f"{float(np.max(np.abs(z))):.4g}.\n" + likely("03.loss.log-of-zero")
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
            "03.grad.logits": (z - Y) / N,
            "03.grad.logits-no-1/N": z - Y,
            "03.grad.wrt-yhat": -Y / y_hat / N,
            "03.grad.diagonal": -Y * (1.0 - y_hat) / N,
            "03.grad.sign": (Y - y_hat) / N,
            "03.grad.plus": (y_hat + Y) / N,
            "03.grad.no-target": y_hat / N,
        }
    table = {k: b for k, b in BUGS.items() if k.startswith("03.grad.")}
    return suspects(table, models)


def _call_ce_gradient(grad_fn, z, Y):
    """``grad_fn(z, Y)`` as the student's own work, with the reference softmax standing in
    for the student's ``softmax`` (should their gradient call it)."""
    what = "softmax_cross_entropy_grad"
    with kit.own_work(what, GIVEAWAYS[what], grad_fn):
        return call(
            kit.with_reference,
            grad_fn,
            "softmax",
            softmax,
            z.copy(),
            Y.copy(),
            what=what,
        )


def check_ce_gradient(grad_fn, loss_fn, z, Y, *, reveal=True):
    """Fail unless ``grad_fn(z, Y)`` is the true gradient of the cross-entropy loss.

    Judged against finite differences of the reference loss J = −(1/N) Σ Y log softmax(z),
    with the reference softmax bound in where the gradient calls the student's
    ``softmax``: a wrong softmax or loss costs only its own points.  A gradient that is
    the derivative of the student's own wrong ``cross_entropy_loss`` earns nothing; the
    message says so, and what is wrong with that loss.

    Parameters
    ----------
    grad_fn : callable
        The student's ``softmax_cross_entropy_grad(z, Y) -> ∂J/∂z``.
    loss_fn : callable
        The student's ``cross_entropy_loss(z, Y) -> J`` (only to explain a failure).
    z, Y : ndarray, shape (K, N)
    reveal : bool

    Returns
    -------
    GradientCheck
    """
    z = np.asarray(z, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    grad = _call_ce_gradient(grad_fn, z, Y)
    try:
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
    except GradingFailure as failure:
        problem = kit.problem_of(check_ce_loss, loss_fn, z, Y, reveal=False)
        text = kit.with_problem(str(failure), problem, "cross_entropy_loss")
        raise GradingFailure(text) from None


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


@dataclass(frozen=True)
class LayerBug:
    """How a forward bug changes the sigmoid layer (each default: not at all).

    Attributes
    ----------
    bias : callable
        ``bias(b)``: what is added to W a_prev.
    f : callable
        ``f(z)``: the layer's activation.
    """

    bias: Callable = lambda b: b
    f: Callable = sigmoid


#: The layer-forward bugs of :data:`BUGS` the reference layer plants, by catalogue id.
LAYER_BUGS = {
    "03.layer.no-bias": LayerBug(bias=lambda b: 0.0),
    "03.layer.minus-bias": LayerBug(bias=lambda b: -b),
    "03.layer.no-sigma": LayerBug(f=lambda z: z),
    "03.layer.tanh": LayerBug(f=np.tanh),
}


def planted_layer_forward(a_prev, W, b, bug=None):
    """a = σ(W a_prev + b), shape (n, N), with the forward bug `bug` (a key of
    :data:`LAYER_BUGS`) planted, or none."""
    plant = LAYER_BUGS[bug] if bug else LayerBug()
    return plant.f(W @ a_prev + plant.bias(b))


#: The cache a sigmoid layer's forward returns and its backward reads (the notebook's).
CACHE_LAYOUT = "(a_prev, W, b, z, a)"
_CACHE_ENTRIES = ("a_prev", "W", "b", "z", "a")


def reference_layer_forward(a_prev, W, b):
    """``(a, cache)`` of the sigmoid layer, the cache in the notebook's layout
    (:data:`CACHE_LAYOUT`)."""
    a_prev, W, b = (np.array(v, dtype=np.float64) for v in (a_prev, W, b))
    z = W @ a_prev + b
    a = sigmoid(z)
    return a, (a_prev, W, b, z, a)


def reference_cache(case):
    """The cache ``(a_prev, W, b, z, a)`` of the reference forward on the LayerCase
    `case`: what the backward tests hand the student's backward."""
    return reference_layer_forward(case.a_prev, case.W, case.b)[1]


def _forward_models(case):
    table = {k: b for k, b in BUGS.items() if k in LAYER_BUGS}
    return suspects(table, lambda bug: planted_layer_forward(case.a_prev, case.W, case.b, bug))


def _call_layer_forward(forward_fn, case):
    what = "sigmoid_layer_forward"
    with kit.own_work(what, GIVEAWAYS[what], forward_fn):
        out = call(forward_fn, *case.args(), what=what)
    return kit.unpack(out, what, ("a", "cache"))


def forward_problem(forward_fn, case):
    """None when the student's sigmoid_layer_forward is right on `case`, else a sentence."""
    a, _ = _call_layer_forward(forward_fn, case)
    if kit.close(a, planted_layer_forward(case.a_prev, case.W, case.b), "float32"):
        return None
    return kit.matching(a, _forward_models(case)) or "its output differs from σ(W a_prev + b)"


def _check_cache(cache, case, reveal):
    """The cache in the notebook's layout, holding this forward's own values."""
    what = "sigmoid_layer_forward"
    if not isinstance(cache, tuple | list) or len(cache) != len(_CACHE_ENTRIES):
        raise GradingFailure(
            f"{what}'s cache is {kit.describe(cache)}; sigmoid_layer_backward is handed a "
            f"cache in the notebook's layout, the tuple {CACHE_LAYOUT}, so {what} must "
            "return that one (five arrays, in this order)."
        )
    right = reference_cache(case)
    for i, name in enumerate(_CACHE_ENTRIES):
        swapped = {
            BUGS["03.layer.cache-swapped"].text(index=i, other=other, name=name): right[j]
            for j, other in enumerate(_CACHE_ENTRIES)
            if j != i
        }
        kit.check_values(f"cache[{i}] ({name})", cache[i], right[i], reveal=reveal, models=swapped)


def check_layer_forward(forward_fn, case, *, reveal=True):
    """Fail unless the student's ``sigmoid_layer_forward(a_prev, W, b)`` on the LayerCase
    `case` returns (σ(W a_prev + b), cache) with the cache in the notebook's layout,
    :data:`CACHE_LAYOUT`; returns their a.  `reveal`: show the expected entry (False in
    hidden tests)."""
    what = "sigmoid_layer_forward"
    a, cache = _call_layer_forward(forward_fn, case)
    n, N = case.W.shape[0], case.N
    a = kit.check_values(
        f"a from {what} (nₘ = {n}, N = {N})",
        a,
        planted_layer_forward(case.a_prev, case.W, case.b),
        reveal=reveal,
        models=_forward_models(case),
    )
    _check_cache(cache, case, reveal)
    return a


def _layer_deltas(case, a):
    G = case.dJ_da
    return {
        "03.layer.no-sigma-prime": G,
        "03.layer.sigma-prime-of-a": G * sigmoid_prime(a),
        "03.layer.half-prime": G * a,
        "03.layer.prime-form": tuple(G * p for p in kit.prime_slips(a)),
        "03.layer.tanh-prime": G * (1.0 - a * a),
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
    models["db"]["03.layer.bias-mean"] = right.mean(axis=1, keepdims=True)
    models["da_prev"]["03.layer.prime-of-input"] = (W.T @ right) * a_prev * (1.0 - a_prev)
    if W.shape[0] == W.shape[1]:
        models["da_prev"]["03.layer.W-not-transposed"] = W @ right
        models["dW"]["03.layer.dW-transposed"] = a_prev @ right.T
    table = {k: b for k, b in BUGS.items() if k.startswith("03.layer.")}
    return {which: suspects(table, m) for which, m in models.items()}


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


def _watched_layer_forward(case, moved):
    """The reference forward as the backward tests bind it in place of the student's
    ``sigmoid_layer_forward``, noting in `moved` a call at inputs other than the cache's
    (a_prev, W, b): finite differences through that name would differentiate the
    reference layer, not the student's work.  A closure, not a function of this module
    (see sigmoid_network._watched_forward)."""
    given = case.args()

    def stand_in(a_prev, W, b):  # the notebook's names: keyword calls work too
        try:
            same = all(
                np.array_equal(np.asarray(v, dtype=np.float64), g)
                for v, g in zip((a_prev, W, b), given, strict=True)
            )
        except (TypeError, ValueError):
            same = False
        if not same:
            moved.append(True)
        return reference_layer_forward(a_prev, W, b)

    return stand_in


def _numerical_through_forward(what):
    """The failure (flagged) of a backward that calls sigmoid_layer_forward at inputs
    other than its cache's."""
    grading.flag(f"{what} differentiates sigmoid_layer_forward numerically")
    return GradingFailure(
        f"{what} calls sigmoid_layer_forward at inputs other than the cache's (a_prev, W, b): "
        "that is numerical differentiation (finite differences), not the backward pass this "
        "exercise asks for, so it earns nothing here (and the instructor is told). The "
        f"backward reads what it needs from the cache {CACHE_LAYOUT}.\n"
        + likely("03.layer.numerical")
    )


def _call_layer_backward(backward_fn, case):
    """The student's backward on the reference forward's cache, as their own work (with
    the reference forward standing in for theirs, should the backward call it, and
    watched: calls at other inputs are numerical differentiation)."""
    what = "sigmoid_layer_backward"
    moved = []
    try:
        with kit.own_work(what, GIVEAWAYS[what], backward_fn):
            grads = call(
                kit.with_reference,
                backward_fn,
                "sigmoid_layer_forward",
                _watched_layer_forward(case, moved),
                case.dJ_da.copy(),
                reference_cache(case),
                what=what,
            )
    except GradingFailure as failure:
        error = getattr(failure, "student_error", None)
        if error is None or error.type_name != "ValueError":
            raise
        raise GradingFailure(f"{failure}\n{_SHAPE_HINT}") from None
    if moved:
        raise _numerical_through_forward(what)
    return kit.unpack(grads, what, ("da_prev", "dW", "db"))


def _layer_J(case, which):
    """J = Σ G ∘ a of the reference layer, as a function of the input `which` stands for."""
    G = case.dJ_da
    return lambda p: float(np.sum(G * planted_layer_forward(*case.args(which, p))))


def _points(x0):
    """x0, then x0 ± h e_i for every entry i (the finite differences' points)."""
    pts = [x0.copy()]
    for i in range(x0.size):
        for step in (gradcheck.H, -gradcheck.H):
            p = x0.copy()
            p.reshape(-1)[i] += step
            pts.append(p)
    return pts


def _own_layer_explanation(which, forward_fn, backward_fn, case):
    """Why a backward that fails here may look right to its author: on the cache of their
    own forward, it is the derivative of that forward, which is not the sigmoid layer's.
    The sentence, or None."""
    try:
        problem = forward_problem(forward_fn, case)
        if problem is None:
            return None
        _, pos, _ = _LAYER_GRADS[which]
        _, cache = _call_layer_forward(forward_fn, case)
        what = "sigmoid_layer_backward"
        own = kit.unpack(
            call(backward_fn, case.dJ_da.copy(), cache, what=what), what, ("da_prev", "dW", "db")
        )[pos]
        x0 = case.args()[pos]
        outs = call_each(
            forward_fn,
            [(case.args(which, p), {}) for p in _points(x0)],
            what="sigmoid_layer_forward",
        )
        with quiet():
            J = np.array(
                [float(np.sum(case.dJ_da * np.asarray(o[0], dtype=np.float64))) for o in outs]
            )
            result = gradcheck.check_gradient(
                None, x0, own, sides=(J[1::2].reshape(x0.shape), J[2::2].reshape(x0.shape)), f0=J[0]
            )
    except (GradingFailure, TypeError, ValueError, IndexError):
        return None
    if not result.ok:
        return None
    return (
        "Your sigmoid_layer_backward is the derivative of your sigmoid_layer_forward, which is "
        f"not the sigmoid layer ({problem}): it earns nothing until that forward is right. "
        "Fix sigmoid_layer_forward first, then write the backward for a = σ(z); this test "
        f"hands your backward the sigmoid layer's cache {CACHE_LAYOUT} and checks the sigmoid "
        "layer's gradient."
    )


def check_layer_backward(which, forward_fn, backward_fn, case, *, reveal=True):
    """Fail unless one output of the student's backward is the true gradient of
    J = Σ G ∘ a, a = σ(W a_prev + b).

    ``sigmoid_layer_backward(G, cache)`` is handed the reference forward's cache in the
    notebook's layout (:func:`reference_cache`): the student's forward plays no part in
    the verdict (its own test judges it).  It only explains a failure: a backward that is
    the derivative of the student's own wrong forward earns nothing, and is told so.

    Parameters
    ----------
    which : {"da_prev", "dW", "db"}
    forward_fn, backward_fn : callable
        The student's forward (to explain a failure) and backward.
    case : LayerCase
    reveal : bool

    Returns
    -------
    GradientCheck
    """
    label, pos, entry = _LAYER_GRADS[which]
    grad = _call_layer_backward(backward_fn, case)[pos]
    found = layer_suspects(case)[which]
    point = case.args()[pos]
    sentence = kit.matching(grad, found)
    if sentence and np.shape(grad) != point.shape:
        raise GradingFailure(
            f"{label} has shape {np.shape(grad)}, expected {point.shape}.\n"
            f"Likely bug: {sentence.rstrip('.')}."  # a suspect: a catalogue diagnosis
        )
    try:
        return kit.check_gradient(
            label,
            grad,
            point,
            entry=entry,
            reference=_layer_J(case, which),
            reveal=reveal,
            suspects=found,
            batch_size=case.N,
        )
    except GradingFailure as failure:
        own = _own_layer_explanation(which, forward_fn, backward_fn, case)
        if not own:
            raise
        head, note, tail = str(failure).partition("\n(Gradient checks: ")
        raise GradingFailure(f"{head}\n{own}{note}{tail}") from None


# --------------------------------------------------------------------------- speed


def check_backprop(backward_fn, seed=0):
    """sigmoid_layer_backward on a 300 × 300 layer and one example (9·10⁴ parameters) must
    take backpropagation's time, not numerical differentiation's (see
    :func:`course.checks._kit.check_backprop_speed`), and the dW of that timed call must be
    the layer's (a numerical backward that gives up on a big layer earns nothing).

    One example keeps a backward written as Python loops over every weight (the lecture's
    scalar formulas, about 0.2 s) inside the budget; such loops cost a per-weight step,
    finite differences a forward pass per parameter, so here the two stand only about 50×
    apart and the budget sits in between (≈ 7× from each, measured on a loaded 2-core
    machine).  Like the other backward tests, it is handed the reference forward's cache.
    """
    case = layer_case(300, 300, 1, seed)
    what = "sigmoid_layer_backward"
    n_params = case.W.size + case.b.size + case.a_prev.size
    moved = []
    with (
        kit.own_work(what, GIVEAWAYS[what], backward_fn),
        grading.binding(backward_fn, "sigmoid_layer_forward", _watched_layer_forward(case, moved)),
    ):
        out, _ = kit.check_backprop_speed(
            backward_fn, case.dJ_da.copy(), reference_cache(case), what=what, n_params=n_params
        )
    if moved:
        raise _numerical_through_forward(what)
    a = reference_cache(case)[4]
    right = (case.dJ_da * a * (1.0 - a)) @ case.a_prev.T
    grads = {"W": kit.unpack(out, what, ("da_prev", "dW", "db"))[1]}
    kit.check_timed_values(what, grads, {"W": right}, n_params)


def check_ce_backprop(grad_fn, seed=0):
    """softmax_cross_entropy_grad on 300 × 300 logits must take an analytic gradient's
    time, not numerical differentiation's (1.8·10⁵ evaluations of the loss), and the
    gradient of that timed call must be the true one (the reference softmax standing in
    for the student's, as in the other gradient tests)."""
    z, Y = logits_case(300, 300, seed)
    what = "softmax_cross_entropy_grad"
    with (
        kit.own_work(what, GIVEAWAYS[what], grad_fn),
        grading.binding(grad_fn, "softmax", softmax),
    ):
        grad, _ = kit.check_backprop_speed(grad_fn, z, Y, what=what, n_params=z.size)
    kit.check_timed_values(what, {"z": grad}, {"z": (softmax(z) - Y) / z.shape[1]}, z.size)
