"""Checkers for notebook 04: the δᵐ recursion for a network of any depth.

The student writes ``forward(params, X, activation) -> (aᴹ, cache)``,
``backward(params, cache, dJ_da) -> grads`` and ``sgd_update(params, grads, lr)``.

- The forward is compared with the course's reference (``course.network.forward``, the
  same activation f in every layer, output included).
- Each parameter's gradient is compared with central differences of
  J = square loss of aᴹ (see :func:`course.checks._kit.check_gradient`: the network's
  differences when the student's forward agrees with it, else the student's own); the
  upstream ∂J/∂aᴹ handed to ``backward`` comes from the reference loss.  The gradients
  that typical bugs produce are computed here by planting each bug of :data:`BUGS` in a
  small reference backward, so a failing check can name the bug.
- A hidden test times ``backward`` on a network of 3.7·10⁵ parameters: backpropagation,
  not numerical differentiation.

Shapes: X (n₀, N), aᵐ (nₘ, N), Wᵐ (nₘ, nₘ₋₁), bᵐ (nₘ, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import network
from ..activations import get_activation
from ..gradcheck import check_gradient
from ..grading import GradingFailure, call, call_timed, quiet
from ..losses import square_loss
from . import _kit as kit
from .catalogue import suspects, table

__all__ = [
    "BUGS",
    "NetCase",
    "check_backprop",
    "check_backward",
    "check_forward",
    "check_sgd_update",
    "gradient_suspects",
    "net_case",
    "planted_backward",
    "planted_forward",
    "sgd_case",
    "timing_case",
]

BUGS = table("04")


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


def planted_forward(case, bug=None):
    """The reference aᴹ on `case`, optionally with a forward bug's key of :data:`BUGS`."""
    act = get_activation("sigmoid" if bug == "sigmoid" else case.activation)
    a = case.X
    for m in range(1, case.M + 1):
        b = {"no_bias": 0.0, "minus_bias": -case.params[f"b{m}"]}.get(bug, case.params[f"b{m}"])
        z = case.params[f"W{m}"] @ a + b
        skip = (bug == "no_f_output" and m == case.M) or (bug == "no_f_hidden" and m < case.M)
        a = z if skip else act.f(z)
    return a


def _delta_step(bug, act, W, delta, z, a, m):
    """δᵐ⁻¹ from δᵐ (one step down), with `bug` planted."""
    back = W @ delta if bug == "W_not_T" else W.T @ delta
    if bug in ("no_fprime_hidden", "no_fprime_all"):
        return back
    if bug == "fprime_of_a":
        return act.f_prime(a[m - 1]) * back
    if bug == "fprime_wrong_layer":
        return act.f_prime(z[m]) * back
    return act.f_prime(z[m - 1]) * back


def _layer_grads(bug, delta, a, m, N):
    dW = {"dW_T": lambda: a[m - 1] @ delta.T, "off_by_one": lambda: delta @ a[m].T}.get(
        bug, lambda: delta @ a[m - 1].T
    )()
    if bug == "b_mean":
        db = delta.mean(axis=1, keepdims=True)
    elif bug == "b_axis":
        db = delta.sum(axis=0, keepdims=True)
    else:
        db = delta.sum(axis=1, keepdims=True)
    if bug == "extra_1/N":
        dW, db = dW / N, db / N
    return dW, db


def planted_backward(params, X, dJ_da, activation, bug=None):
    """The δᵐ recursion, optionally with one backward bug's key of :data:`BUGS` planted.

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
    act = get_activation(activation)
    M = network.n_layers(params)
    a, z = [np.asarray(X, dtype=np.float64)], [None]
    for m in range(1, M + 1):
        z.append(params[f"W{m}"] @ a[-1] + params[f"b{m}"])
        a.append(act.f(z[-1]))
    if bug in ("no_fprime_out", "no_fprime_all"):
        top = dJ_da
    else:
        top = act.f_prime(a[M] if bug == "fprime_of_a" else z[M]) * dJ_da
    delta = -top if bug == "sign" else top
    grads = {}
    for m in range(M, 0, -1):
        grads[f"W{m}"], grads[f"b{m}"] = _layer_grads(bug, delta, a, m, a[0].shape[1])
        if m > 1:
            delta = _delta_step(bug, act, params[f"W{m}"], delta, z, a, m)
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
            bug.model: planted_backward(case.params, case.X, dJ_da, case.activation, bug.model)
            for bug in BUGS.values()
            if bug.id.startswith("04.backward.") and bug.model
        }

    def for_key(k):
        def compute(model):
            g = (runs.get(model) or {}).get(k)
            if g is None or (g.shape == right[k].shape and kit.close(g, right[k], "model")):
                return None
            return g

        return compute

    return {k: suspects(BUGS, for_key(k)) for k in right}


# --------------------------------------------------------------------------- forward


def _forward_models(case):
    models = {}
    for bug in BUGS.values():
        if bug.id.startswith("04.forward.") and not (
            bug.model == "sigmoid" and case.activation == "sigmoid"
        ):
            models[bug.diagnosis] = planted_forward(case, bug.model)
    return models


def forward_problem(forward_fn, case):
    """None if the student's forward is right on `case`, else a short sentence."""
    out = call(forward_fn, case.copy_params(), case.X.copy(), case.activation, what="forward")
    a = kit.unpack(out, "forward", ("aᴹ", "cache"))[0]
    if kit.close(a, case.output(), "float32"):
        return None
    return kit.matching(a, _forward_models(case)) or "its aᴹ differs from the network's"


def _name(case):
    sizes = network.layer_sizes_of(case.params)
    return f"aᴹ from forward ({len(sizes) - 1} layers {sizes}, {case.activation}, N = {case.N})"


def check_forward(forward_fn, case, *, reveal=True):
    """Fail unless ``forward_fn(params, X, activation)[0]`` is the network's aᴹ.

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
    out = call(forward_fn, params, case.X.copy(), case.activation, what="forward")
    a, _ = kit.unpack(out, "forward", ("aᴹ", "cache"))
    a = kit.check_values(_name(case), a, case.output(), reveal=reveal, models=_forward_models(case))
    for k, v in params.items():
        if not np.array_equal(v, case.params[k]):
            raise GradingFailure(f"forward changed params[{k!r}]: a forward pass must not.")
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
        return call(backward_fn, case.copy_params(), cache, dJ_da.copy(), what="backward")
    except GradingFailure as failure:
        error = getattr(failure, "student_error", None)
        if error is None or error.type_name != "ValueError":
            raise
        for bug in BUGS.values():
            if bug.id.startswith("04.backward.") and bug.model:
                if planted_error(case, dJ_da, bug.model) == error.message:
                    raise GradingFailure(f"{failure}\nLikely bug: {bug.diagnosis}") from None
        raise GradingFailure(f"{failure}\n{_SHAPE_HINT}") from None


def _order_bias_suspects(key, grads, case, found):
    """A bias gradient N times too small is "wrong only in the bias" when the same
    layer's weight gradient is right, and "1/N twice" everywhere otherwise."""
    wkey = "W" + key[1:]
    _, dJ_da = square_loss(case.output(), case.Y)
    right = planted_backward(case.params, case.X, dJ_da, case.activation)[wkey]
    first = BUGS[
        "04.backward.bias-mean"
        if kit.close(grads.get(wkey), right, "model")
        else ("04.backward.extra-1/N")
    ].diagnosis
    return dict(sorted(found.items(), key=lambda item: item[0] != first))


def _with(params, key, value):
    p = {k: v.copy() for k, v in params.items()}
    p[key] = value
    return p


def _upstream(forward_fn, case):
    """(the student's cache, ∂J/∂aᴹ of the reference loss at the student's aᴹ)."""
    out = call(forward_fn, case.copy_params(), case.X.copy(), case.activation, what="forward")
    a, cache = kit.unpack(out, "forward", ("aᴹ", "cache"))
    try:
        return cache, square_loss(kit.values("aᴹ", a)[0], case.Y)[1]
    except (ValueError, GradingFailure):
        raise GradingFailure(
            f"forward returned {kit.describe(a)} for aᴹ, but Y has shape {case.Y.shape}: fix "
            "forward first (its own test says more)."
        ) from None


def check_backward(key, forward_fn, backward_fn, case, *, reveal=True):
    """Fail unless the student's ∂J/∂`key` is the gradient of J = square loss of aᴹ.

    ``backward(params, cache, dJ_da)`` gets the cache of the student's forward and
    dJ_da = (aᴹ − Y)/N from the reference loss at the student's aᴹ.

    Parameters
    ----------
    key : str
        "W1", "b1", ...
    forward_fn, backward_fn : callable
        The student's functions.
    case : NetCase
    reveal : bool

    Returns
    -------
    GradientCheck
    """
    cache, dJ_da = _upstream(forward_fn, case)
    grads = kit.as_dict(_call_backward(backward_fn, case, cache, dJ_da), "backward", [key])
    found = gradient_suspects(case)[key]
    if key.startswith("b"):
        found = _order_bias_suspects(key, grads, case, found)
    sentence = kit.matching(grads[key], found)
    if sentence and np.shape(grads[key]) != case.params[key].shape:
        raise GradingFailure(
            f"∂J/∂{key} has shape {np.shape(grads[key])}, but {key} has shape "
            f"{case.params[key].shape}.\nLikely bug: {sentence}"
        )
    try:
        return kit.check_forward_gradient(
            f"∂J/∂{key}",
            grads[key],
            case.params[key],
            entry=key,
            forward_fn=forward_fn,
            arguments=lambda p: ((_with(case.params, key, p), case.X.copy(), case.activation), {}),
            scalar=lambda out: square_loss(np.asarray(out, dtype=np.float64), case.Y)[0],
            reference=lambda p: case.loss(_with(case.params, key, p)),
            forward="forward",
            problem=lambda: forward_problem(forward_fn, case),
            reveal=reveal,
            suspects=found,
            batch_size=case.N,
        )
    except GradingFailure:
        result = _from_the_networks_upstream(key, backward_fn, case, cache)
        if result is None:
            raise
        return result


def _from_the_networks_upstream(key, backward_fn, case, cache):
    """The check of the student's backward handed ∂J/∂aᴹ of the network's own aᴹ instead
    of theirs, when it then gives the network's gradient (a forward wrong only in its aᴹ,
    e.g. without f at the output, costs only the forward's points); else None."""
    _, dJ_da = square_loss(case.output(), case.Y)
    try:
        grads = call(backward_fn, case.copy_params(), cache, dJ_da, what="backward")
    except GradingFailure:
        return None
    if not isinstance(grads, dict) or key not in grads:
        return None
    x = np.array(case.params[key], dtype=np.float64)
    with quiet():
        result = check_gradient(lambda p: case.loss(_with(case.params, key, p)), x, grads[key])
    return result if result.ok else None


def check_backprop(forward_fn, backward_fn, seed=0):
    """``backward`` on :func:`timing_case` must take backpropagation's time, not numerical
    differentiation's (see :func:`course.checks._kit.check_backprop_speed`)."""
    case = timing_case(seed)
    (a, cache), seconds = _timed_forward(forward_fn, case)
    _, dJ_da = square_loss(kit.values("aᴹ", a)[0], case.Y)
    n_params = sum(v.size for v in case.params.values())
    return kit.check_backprop_speed(
        backward_fn,
        case.copy_params(),
        cache,
        dJ_da,
        what="backward",
        n_params=n_params,
        forward_seconds=seconds,
    )


def _timed_forward(forward_fn, case):
    out, seconds = call_timed(
        forward_fn,
        case.copy_params(),
        case.X.copy(),
        case.activation,
        budget=kit.BACKPROP_BUDGET,
        what="forward",
    )
    return kit.unpack(out, "forward", ("aᴹ", "cache")), seconds


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
    """What the update bugs of :data:`BUGS` make of one parameter."""
    return {
        BUGS["04.update.not-updated"].diagnosis: old,
        BUGS["04.update.sign"].diagnosis: old + lr * grad,
        BUGS["04.update.no-lr"].diagnosis: old - grad,
        BUGS["04.update.step-only"].diagnosis: -lr * grad,
    }


def _update_hint(yours, old, grad, lr):
    sentence = kit.matching(yours, update_models(old, grad, lr), "exact")
    if sentence:
        return "Likely bug: " + sentence + "."
    step, g = (yours - old).ravel(), (-lr * grad).ravel()
    c = float(np.dot(step, g) / np.dot(g, g)) if np.dot(g, g) > 0 else 0.0
    if c != 0 and kit.close(step, c * g, "exact"):
        return f"Likely bug: {BUGS['04.update.factor'].diagnosis} ≈ {c:.4g}: use −α ∂J/∂θ."
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
    out = call(
        update_fn,
        {k: v.copy() for k, v in old.items()},
        {k: np.array(v, dtype=np.float64) for k, v in grads.items()},
        lr,
        what="sgd_update",
    )
    if out is None:
        raise GradingFailure(
            f"Likely bug: {BUGS['04.update.none'].diagnosis} (a new dict, or the one you "
            "updated in place)."
        )
    kit.as_dict(out, "sgd_update", expected)
    order = sorted(expected, key=lambda k: (int(k[1:]), k[0]))
    bad = [k for k in order if not kit.close(out[k], expected[k], "exact")]
    if not bad:
        return out
    k = bad[0]
    arr, _ = kit.values(f"the updated {k}", out[k], expected[k].shape)
    if all(b.startswith("b") for b in bad):
        hint = f"Likely bug: {BUGS['04.update.bias-only'].diagnosis}."
    else:
        hint = _update_hint(arr, old[k], grads[k], lr)
    kit.check_values(f"the updated {k}", arr, expected[k], reveal=reveal, hint=hint)
