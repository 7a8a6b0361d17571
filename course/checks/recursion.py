"""Checkers for notebook 04: the δᵐ recursion for a network of any depth.

The student writes ``forward(params, X, activation) -> (aᴹ, cache)``,
``backward(params, cache, dJ_da) -> grads`` and ``sgd_update(params, grads, lr)``.

- The forward is compared with the course's reference (``course.network.forward``, the
  same activation f in every layer, output included), its cache with the layout the
  notebook prescribes (:func:`reference_cache`).
- ``backward`` is handed the reference's cache and ∂J/∂aᴹ of the reference loss (so a
  wrong forward costs only the forward's points), and each parameter's gradient is
  compared with the true gradient: central differences of the network's J = square loss
  of aᴹ (:func:`course.checks._kit.check_gradient`).  The gradients that typical bugs
  produce are computed here by planting each bug of :data:`BACKWARD_BUGS` (keyed by
  catalogue id) in a small reference backward, so a failing check can name the bug.
- A hidden test times ``backward`` on a network of 3.7·10⁵ parameters and judges the
  gradients of that very call: backpropagation, not numerical differentiation.
- An answer that calls the course's own forward or backward (:data:`GIVEAWAYS`) earns
  nothing.

Shapes: X (n₀, N), aᵐ (nₘ, N), Wᵐ (nₘ, nₘ₋₁), bᵐ (nₘ, 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import network
from ..activations import get_activation
from ..grading import GradingFailure, call, quiet
from ..losses import square_loss
from . import _kit as kit
from .catalogue import likely, suspects, table

__all__ = [
    "BACKWARD_BUGS",
    "BUGS",
    "FORWARD_BUGS",
    "NetCase",
    "GIVEAWAYS",
    "check_backprop",
    "check_backward",
    "check_forward",
    "check_sgd_update",
    "gradient_suspects",
    "net_case",
    "planted_backward",
    "planted_forward",
    "reference_cache",
    "sgd_case",
    "timing_case",
]

BUGS = table("04")

#: The course functions that give each exercise away (see _kit.own_work).
GIVEAWAYS = {
    "forward": (
        "course.network.forward",
        "course.network.predict",
        "course.network.loss_and_grads",
    ),
    "backward": (
        "course.network.backward",
        "course.network.loss_and_grads",
        "course.layers.dense_backward",
        "course.gradcheck.numerical_gradient",
    ),
    "sgd_update": ("course.training.sgd_step", "course.training.train"),
}


@dataclass
class NetCase:
    """A network, a batch and targets for one check.

    Attributes
    ----------
    params : dict
        "W1", "b1", ..., "WM", "bM".
    X : ndarray, shape (n₀, N)
    Y : ndarray, shape (n_M, N)
        Targets in the range of the activation, for the square loss.
    activation : str
        f of every layer, output included (a name of ``course.activations``).
    """

    params: dict
    X: np.ndarray
    Y: np.ndarray
    activation: str

    @property
    def N(self):
        return self.X.shape[1]

    @property
    def M(self):
        return network.n_layers(self.params)

    def copy_params(self):
        return {k: v.copy() for k, v in self.params.items()}

    def output(self, params=None):
        """The reference aᴹ (at `params`, default the case's own)."""
        p = self.params if params is None else params
        return network.forward(p, self.X, self.activation, self.activation)[0]

    def loss(self, params=None):
        """The reference J = square loss of aᴹ."""
        return square_loss(self.output(params), self.Y)[0]

    def upstream(self):
        """∂J/∂aᴹ = (aᴹ − Y)/N of the reference loss at the reference aᴹ."""
        return square_loss(self.output(), self.Y)[1]


def reference_cache(case):
    """The cache of the notebook's layout, from the reference forward on `case`:
    ``{"a": [a⁰, ..., aᴹ], "z": [None, z¹, ..., zᴹ], "activation": name}``."""
    f = get_activation(case.activation).f
    a, z = [np.array(case.X, dtype=np.float64)], [None]
    for m in range(1, case.M + 1):
        z.append(case.params[f"W{m}"] @ a[m - 1] + case.params[f"b{m}"])
        a.append(f(z[m]))
    return {"a": a, "z": z, "activation": case.activation}


def _zs(params, X, activation):
    f = get_activation(activation).f
    a, zs = X, []
    for m in range(1, network.n_layers(params) + 1):
        z = params[f"W{m}"] @ a + params[f"b{m}"]
        zs.append(z)
        a = f(z)
    return zs


def net_case(layer_sizes, N, activation="sigmoid", seed=0):
    """A random NetCase whose pre-activations stay clear of relu's kink.

    Weights have std 1.2/√nₘ₋₁ and biases std 0.5, so f'(z) varies from unit to unit
    and every gradient entry is of order 1e-3 or more.  For relu, draws are repeated
    (deterministically, from `seed`) until no |z| < 0.02, where finite differences of a
    kink would be unreliable, and no layer is all zero.

    Parameters
    ----------
    layer_sizes : sequence of int
        [n₀, ..., n_M].
    N : int
        Batch size.
    activation : str
    seed : int

    Returns
    -------
    NetCase
    """
    rng = np.random.default_rng(seed)
    get_activation(activation)  # fail early on a bad name
    for _ in range(200):
        params = {}
        for m in range(1, len(layer_sizes)):
            n_in, n_out = layer_sizes[m - 1], layer_sizes[m]
            params[f"W{m}"] = rng.normal(0.0, 1.2 / np.sqrt(n_in), size=(n_out, n_in))
            params[f"b{m}"] = rng.normal(0.0, 0.5, size=(n_out, 1))
        X = rng.normal(size=(layer_sizes[0], N))
        if activation != "relu":
            break
        zs = _zs(params, X, activation)
        if min(np.min(np.abs(z)) for z in zs) > 0.02 and all(np.any(z > 0) for z in zs):
            break
    low, high = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 2.0)}.get(
        activation, (-1.0, 1.0)
    )
    Y = rng.uniform(low, high, size=(layer_sizes[-1], N))
    return NetCase(params, X, Y, activation)


def timing_case(seed=0):
    """The network of the speed test: 600-600-10 tanh, N = 8 (366 610 parameters)."""
    return net_case([600, 600, 10], 8, "tanh", seed)


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class ForwardBug:
    """How a forward bug changes the reference forward (each default: not at all).

    Attributes
    ----------
    activation : str or None
        The f of every layer instead of the case's.
    bias : callable
        ``bias(bᵐ)``: what is added to Wᵐ aᵐ⁻¹.
    linear : callable
        ``linear(m, M)``: True for a layer whose f is left out (aᵐ = zᵐ).
    """

    activation: str | None = None
    bias: Callable = lambda b: b
    linear: Callable = lambda m, M: False


#: The forward bugs of :data:`BUGS` the reference forward plants, by catalogue id.
FORWARD_BUGS = {
    "04.forward.no-bias": ForwardBug(bias=lambda b: 0.0),
    "04.forward.minus-bias": ForwardBug(bias=lambda b: -b),
    "04.forward.no-f-output": ForwardBug(linear=lambda m, M: m == M),
    "04.forward.no-f-hidden": ForwardBug(linear=lambda m, M: m < M),
    "04.forward.always-sigmoid": ForwardBug(activation="sigmoid"),
}


def planted_forward(case, bug=None):
    """The reference aᴹ, shape (n_M, N), on `case`, with the forward bug `bug` (a key of
    :data:`FORWARD_BUGS`) planted, or none."""
    plant = FORWARD_BUGS[bug] if bug else ForwardBug()
    act = get_activation(plant.activation or case.activation)
    a = case.X
    for m in range(1, case.M + 1):
        z = case.params[f"W{m}"] @ a + plant.bias(case.params[f"b{m}"])
        a = z if plant.linear(m, case.M) else act.f(z)
    return a


@dataclass(frozen=True)
class BackwardBug:
    """How a backward bug changes the δᵐ recursion (each default: not at all).

    Attributes
    ----------
    top_slope : callable or None
        ``top_slope(act, z, a, M)``: the factor of ∂J/∂aᴹ in δᴹ (None: left out).
    negate : bool
        δᴹ with the wrong sign.
    back : callable
        ``back(Wᵐ, δᵐ)``: what is carried down to layer m − 1.
    slope : callable or None
        ``slope(act, z, a, m)``: the factor f' of δᵐ⁻¹ (None: left out).
    dW : callable
        ``dW(δᵐ, a, m)``.
    db : callable
        ``db(δᵐ)``.
    per_N : bool
        Both divided by N once more.
    """

    top_slope: Callable | None = lambda act, z, a, M: act.f_prime(z[M])
    negate: bool = False
    back: Callable = lambda W, delta: W.T @ delta
    slope: Callable | None = lambda act, z, a, m: act.f_prime(z[m - 1])
    dW: Callable = lambda delta, a, m: delta @ a[m - 1].T
    db: Callable = lambda delta: delta.sum(axis=1, keepdims=True)
    per_N: bool = False


#: The backward bugs of :data:`BUGS` the reference backward plants, by catalogue id.
BACKWARD_BUGS = {
    "04.backward.no-fprime-hidden": BackwardBug(slope=None),
    "04.backward.no-fprime-output": BackwardBug(top_slope=None),
    "04.backward.no-fprime": BackwardBug(top_slope=None, slope=None),
    "04.backward.fprime-of-a": BackwardBug(
        top_slope=lambda act, z, a, M: act.f_prime(a[M]),
        slope=lambda act, z, a, m: act.f_prime(a[m - 1]),
    ),
    "04.backward.fprime-wrong-layer": BackwardBug(slope=lambda act, z, a, m: act.f_prime(z[m])),
    "04.backward.W-not-transposed": BackwardBug(back=lambda W, delta: W @ delta),
    "04.backward.dW-transposed": BackwardBug(dW=lambda delta, a, m: a[m - 1] @ delta.T),
    "04.backward.extra-1/N": BackwardBug(per_N=True),
    "04.backward.bias-mean": BackwardBug(db=lambda delta: delta.mean(axis=1, keepdims=True)),
    "04.backward.bias-axis": BackwardBug(db=lambda delta: delta.sum(axis=0, keepdims=True)),
    "04.backward.off-by-one": BackwardBug(dW=lambda delta, a, m: delta @ a[m].T),
    "04.backward.sign": BackwardBug(negate=True),
}


def planted_backward(params, X, dJ_da, activation, bug=None):
    """The δᵐ recursion, with the backward bug `bug` (a key of :data:`BACKWARD_BUGS`)
    planted, or none.

    Parameters
    ----------
    params : dict
    X : ndarray, shape (n₀, N)
    dJ_da : ndarray, shape (n_M, N)
        ∂J/∂aᴹ (already carrying the loss's 1/N).
    activation : str
        f of every layer.
    bug : str, optional

    Returns
    -------
    dict or None
        Gradients keyed like `params`; None when the bug cannot run with these shapes.

    Raises
    ------
    ValueError
        Only through :func:`planted_error`, which wants the message.
    """
    try:
        return _planted_backward(params, X, dJ_da, activation, bug)
    except ValueError:
        return None


def _planted_backward(params, X, dJ_da, activation, bug):
    plant = BACKWARD_BUGS[bug] if bug else BackwardBug()
    act = get_activation(activation)
    M = network.n_layers(params)
    a, z = [np.asarray(X, dtype=np.float64)], [None]
    for m in range(1, M + 1):
        z.append(params[f"W{m}"] @ a[-1] + params[f"b{m}"])
        a.append(act.f(z[-1]))
    top = dJ_da if plant.top_slope is None else plant.top_slope(act, z, a, M) * dJ_da
    delta = -top if plant.negate else top
    N = a[0].shape[1]
    grads = {}
    for m in range(M, 0, -1):
        dW, db = plant.dW(delta, a, m), plant.db(delta)
        grads[f"W{m}"], grads[f"b{m}"] = (dW / N, db / N) if plant.per_N else (dW, db)
        if m > 1:
            back = plant.back(params[f"W{m}"], delta)
            delta = back if plant.slope is None else plant.slope(act, z, a, m) * back
    return grads


def planted_error(case, dJ_da, bug):
    """The ValueError message the planted `bug` raises on `case`, or None if it runs."""
    try:
        with quiet():
            _planted_backward(case.params, case.X, dJ_da, case.activation, bug)
    except ValueError as exc:
        return str(exc)
    return None


def gradient_suspects(case):
    """Per parameter, the gradients that the backward bugs of :data:`BUGS` produce.

    A bug that leaves a parameter's gradient unchanged (e.g. f'(a) for relu, or a
    missing hidden f'(z) for the output layer) is left out for that parameter.

    Returns
    -------
    dict of str to dict of str to ndarray
        {"W1": {sentence: gradient}, ...}.
    """
    _, dJ_da = square_loss(case.output(), case.Y)
    with quiet():
        right = planted_backward(case.params, case.X, dJ_da, case.activation)
        runs = {
            bug: planted_backward(case.params, case.X, dJ_da, case.activation, bug)
            for bug in BACKWARD_BUGS
        }

    def for_key(k):
        def compute(bug):
            g = (runs.get(bug) or {}).get(k)
            if g is None or (g.shape == right[k].shape and kit.close(g, right[k], "model")):
                return None
            return g

        return compute

    return {k: suspects(BUGS, for_key(k)) for k in right}


# --------------------------------------------------------------------------- forward


def _forward_models(case):
    models = {}
    for bug in FORWARD_BUGS:
        if FORWARD_BUGS[bug].activation != case.activation:
            models[BUGS[bug].text()] = planted_forward(case, bug)
    return models


def _name(case):
    sizes = network.layer_sizes_of(case.params)
    return f"aᴹ from forward ({len(sizes) - 1} layers {sizes}, {case.activation}, N = {case.N})"


def _check_cache(cache, case, reveal):
    """The cache in the notebook's layout, holding the forward's own values."""
    right = reference_cache(case)
    layout = '{"a": [a⁰, ..., aᴹ], "z": [None, z¹, ..., zᴹ], "activation": activation}'
    if not isinstance(cache, dict) or not {"a", "z", "activation"} <= set(cache):
        raise GradingFailure(
            f"forward's cache is {kit.describe(cache)}; backward is handed the cache in the "
            f"notebook's layout, {layout}, so forward must return that."
        )
    if cache["activation"] != case.activation:
        raise GradingFailure(
            f'cache["activation"] is {kit.describe(cache["activation"])}, expected the name '
            f"{case.activation!r} that forward was given."
        )
    for key, symbol in (("a", "a"), ("z", "z")):
        got = cache[key]
        if not isinstance(got, list | tuple) or len(got) != case.M + 1:
            raise GradingFailure(
                f'cache["{key}"] must be a list of M + 1 = {case.M + 1} entries '
                f"({layout}), got {kit.describe(got)}."
            )
        for m in range(0 if key == "a" else 1, case.M + 1):
            kit.check_values(
                f'cache["{key}"][{m}] ({symbol}^{m})', got[m], right[key][m], reveal=reveal
            )


def check_forward(forward_fn, case, *, reveal=True):
    """Fail unless ``forward_fn(params, X, activation)`` returns the network's aᴹ and the
    cache of the notebook's layout (:func:`reference_cache`), leaving params alone.

    Parameters
    ----------
    forward_fn : callable
        The student's ``forward``.
    case : NetCase
    reveal : bool
        Show the expected entry on failure (False in hidden tests).

    Returns
    -------
    ndarray
        The student's aᴹ.
    """
    params = case.copy_params()
    with kit.own_work("forward", GIVEAWAYS["forward"]):
        out = call(
            forward_fn, params, case.X.copy(), case.activation, what="forward", in_place=True
        )
    a, cache = kit.unpack(out, "forward", ("aᴹ", "cache"))
    a = kit.check_values(_name(case), a, case.output(), reveal=reveal, models=_forward_models(case))
    for k, v in params.items():
        if not np.array_equal(v, case.params[k]):
            raise GradingFailure(f"forward changed params[{k!r}]: a forward pass must not.")
    _check_cache(cache, case, reveal)
    return a


# --------------------------------------------------------------------------- backward

_SHAPE_HINT = (
    "Hint: a matrix product with the wrong shapes. δᵐ has the shape of zᵐ, (nₘ, N); the "
    "step down is (Wᵐ⁺¹)ᵀ δᵐ⁺¹, with the transpose ((nₘ, nₘ₊₁) times (nₘ₊₁, N)), "
    "times f'(zᵐ) of the layer it arrives in; ∂J/∂Wᵐ = δᵐ (aᵐ⁻¹)ᵀ is (nₘ, N) times "
    "(N, nₘ₋₁)."
)


def _call_backward(backward_fn, case, cache, dJ_da):
    """Call the student's backward; name a shape error by the planted bug raising it."""
    try:
        with kit.own_work("backward", GIVEAWAYS["backward"]):
            return call(backward_fn, case.copy_params(), cache, dJ_da.copy(), what="backward")
    except GradingFailure as failure:
        error = getattr(failure, "student_error", None)
        if error is None or error.type_name != "ValueError":
            raise
        for bug in BACKWARD_BUGS:
            if planted_error(case, dJ_da, bug) == error.message:
                raise GradingFailure(f"{failure}\n" + likely(bug)) from None
        raise GradingFailure(f"{failure}\n{_SHAPE_HINT}") from None


def _order_bias_suspects(key, grads, case, found):
    """A bias gradient N times too small is "wrong only in the bias" when the same
    layer's weight gradient is right, and "1/N twice" everywhere otherwise."""
    wkey = "W" + key[1:]
    right = planted_backward(case.params, case.X, case.upstream(), case.activation)[wkey]
    first = BUGS[
        "04.backward.bias-mean"
        if kit.close(grads.get(wkey), right, "model")
        else ("04.backward.extra-1/N")
    ].text()
    return dict(sorted(found.items(), key=lambda item: item[0] != first))


def _with(params, key, value):
    p = {k: v.copy() for k, v in params.items()}
    p[key] = value
    return p


def check_backward(key, backward_fn, case, *, reveal=True):
    """Fail unless the student's ∂J/∂`key` is the true gradient of J = square loss of aᴹ.

    ``backward(params, cache, dJ_da)`` is handed the reference forward's cache
    (:func:`reference_cache`) and dJ_da = (aᴹ − Y)/N of the reference loss: the student's
    forward plays no part (its own test judges it).

    Parameters
    ----------
    key : str
        "W1", "b1", ...
    backward_fn : callable
        The student's ``backward``.
    case : NetCase
    reveal : bool

    Returns
    -------
    GradientCheck
    """
    dJ_da = case.upstream()
    out = _call_backward(backward_fn, case, reference_cache(case), dJ_da)
    grads = kit.as_dict(out, "backward", [key])
    found = gradient_suspects(case)[key]
    if key.startswith("b"):
        found = _order_bias_suspects(key, grads, case, found)
    sentence = kit.matching(grads[key], found)
    if sentence and np.shape(grads[key]) != case.params[key].shape:
        raise GradingFailure(
            f"∂J/∂{key} has shape {np.shape(grads[key])}, but {key} has shape "
            f"{case.params[key].shape}.\n"
            f"Likely bug: {sentence.rstrip('.')}."  # a suspect: a catalogue diagnosis
        )
    return kit.check_gradient(
        f"∂J/∂{key}",
        grads[key],
        case.params[key],
        entry=key,
        reference=lambda p: case.loss(_with(case.params, key, p)),
        reveal=reveal,
        suspects=found,
        batch_size=case.N,
    )


def check_backprop(backward_fn, key="W1", seed=0):
    """``backward`` on :func:`timing_case`: it must take backpropagation's time, not
    numerical differentiation's (see :func:`course.checks._kit.check_backprop_speed`), and
    its ∂J/∂`key` (the parameter of the test cell it runs in) from that timed call must be
    the network's (a numerical backward that gives up on a big network earns nothing)."""
    case = timing_case(seed)
    n_params = sum(v.size for v in case.params.values())
    dJ_da = case.upstream()
    with kit.own_work("backward", GIVEAWAYS["backward"]):
        grads, _ = kit.check_backprop_speed(
            backward_fn,
            case.copy_params(),
            reference_cache(case),
            dJ_da,
            what="backward",
            n_params=n_params,
        )
    right = planted_backward(case.params, case.X, dJ_da, case.activation)
    kit.check_timed_values("backward", grads, {key: right[key]}, n_params)


# --------------------------------------------------------------------------- update


def sgd_case(layer_sizes, seed):
    """Random parameters and gradients keyed "W1", "b1", ... for an update check."""
    rng = np.random.default_rng(seed)
    params, grads = {}, {}
    for m in range(1, len(layer_sizes)):
        shape = (layer_sizes[m], layer_sizes[m - 1])
        params[f"W{m}"], grads[f"W{m}"] = rng.normal(size=shape), rng.normal(size=shape)
        params[f"b{m}"] = rng.normal(size=(layer_sizes[m], 1))
        grads[f"b{m}"] = rng.normal(size=(layer_sizes[m], 1))
    return params, grads


def update_models(old, grad, lr):
    """What the update bugs of :data:`BUGS` make of one parameter, by catalogue id."""
    return {
        "04.update.not-updated": old,
        "04.update.sign": old + lr * grad,
        "04.update.no-lr": old - grad,
        "04.update.step-only": -lr * grad,
    }


def _update_hint(yours, old, grad, lr):
    """The catalogue's line for an update that gave `yours`, or None."""
    bug = kit.matching(yours, update_models(old, grad, lr), "exact")
    if bug:
        return likely(bug)
    step, g = (yours - old).ravel(), (-lr * grad).ravel()
    c = float(np.dot(step, g) / np.dot(g, g)) if np.dot(g, g) > 0 else 0.0
    if c != 0 and kit.close(step, c * g, "exact"):
        return likely("04.update.factor", factor=c)
    return None


def check_sgd_update(update_fn, params, grads, lr, *, reveal=True):
    """Fail unless ``update_fn(params, grads, lr)`` returns θ − α ∂J/∂θ for every θ.

    Updating in place and returning the same dict is accepted, as is a new dict.

    Parameters
    ----------
    update_fn : callable
        The student's ``sgd_update``.
    params, grads : dict
        As from :func:`sgd_case`.
    lr : float
        α.
    reveal : bool
    """
    old = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    expected = {k: old[k] - lr * grads[k] for k in old}
    with kit.own_work("sgd_update", GIVEAWAYS["sgd_update"]):
        out = call(
            update_fn,
            {k: v.copy() for k, v in old.items()},
            {k: np.array(v, dtype=np.float64) for k, v in grads.items()},
            lr,
            what="sgd_update",
        )
    if out is None:
        raise GradingFailure(likely("04.update.none"))
    kit.as_dict(out, "sgd_update", expected)
    order = sorted(expected, key=lambda k: (int(k[1:]), k[0]))
    bad = [k for k in order if not kit.close(out[k], expected[k], "exact")]
    if not bad:
        return out
    k = bad[0]
    arr, _ = kit.values(f"the updated {k}", out[k], expected[k].shape)
    if all(b.startswith("b") for b in bad):
        hint = likely("04.update.bias-only")
    else:
        hint = _update_hint(arr, old[k], grads[k], lr)
    kit.check_values(f"the updated {k}", arr, expected[k], reveal=reveal, hint=hint)
