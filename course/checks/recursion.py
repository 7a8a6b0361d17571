"""Checkers for notebook 04: the δ^m recursion for a network of any depth.

The student writes ``forward(params, X, activation) -> (a^M, cache)``,
``backward(params, cache, dJ_da) -> grads`` and ``sgd_update(params, grads, lr)``.

- The forward is compared with the course's reference (``course.network.forward``, the
  same activation f in every layer, output included).
- Each parameter's gradient is compared with central differences of J(params) =
  square loss of **the student's own forward**; the gradients that typical bugs produce
  are computed here by planting each bug in a small reference backward, so a failing
  check can name the bug ("missing f'(z)", "transposed", "a instead of z", "1/N"...).

Shapes: X (n_0, N), a^m (n_m, N), W^m (n_m, n_{m-1}), b^m (n_m, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import network
from ..activations import get_activation
from ..grading import (
    GradingFailure,
    call,
    check_close,
    check_param_gradient,
    check_shape,
    quiet,
)
from ..losses import square_loss

__all__ = [
    "BUGS",
    "NetCase",
    "check_backward",
    "check_forward",
    "check_sgd_update",
    "gradient_suspects",
    "net_case",
    "planted_backward",
    "sgd_case",
]

# Planted bugs of the backward pass -> the sentence a failing test shows.
BUGS = {
    "no_fprime_hidden": (
        "missing f'(z) in the hidden layers: δ^m = f'(z^m) ∘ (W^{m+1})ᵀ δ^{m+1} needs the "
        "factor f'(z^m); (W^{m+1})ᵀ δ^{m+1} alone is ∂J/∂a^m, not ∂J/∂z^m"
    ),
    "no_fprime_out": (
        "missing f'(z) at the output layer: δ^M = f'(z^M) ∘ ∂J/∂a^M, not ∂J/∂a^M alone"
    ),
    "no_fprime_all": (
        "missing f'(z) in every layer: each δ^m = ∂J/∂z^m carries its own factor f'(z^m)"
    ),
    "fprime_of_a": (
        "f' evaluated at a instead of z: δ^m needs f'(z^m); f'(a^m) = f'(f(z^m)) is another "
        "number (for a sigmoid, f'(z^m) equals a^m(1 − a^m), but sigmoid_prime(a^m) does not)"
    ),
    "W_not_T": (
        "W^{m+1} δ^{m+1} instead of (W^{m+1})ᵀ δ^{m+1} in the recursion (looks transposed): "
        "the error flows back along the transposed weights"
    ),
    "dW_T": (
        "∂J/∂W^m looks transposed: δ^m (a^{m-1})ᵀ has the rows of δ^m and the columns of a^{m-1}"
    ),
    "extra_1/N": (
        "divided by N twice: the 1/N of the batch average is already in ∂J/∂a^M from the "
        "loss; the products with (a^{m-1})ᵀ and the bias sums must not average again"
    ),
    "b_mean": (
        "the bias gradient is δ^m averaged over the batch instead of summed, so the 1/N is "
        "applied twice; the weights are right, it is wrong only in the bias"
    ),
    "off_by_one": (
        "off by one layer: ∂J/∂W^m = δ^m (a^{m-1})ᵀ uses the activation entering layer m, "
        "a^{m-1}, not the layer's own output a^m"
    ),
}


@dataclass
class NetCase:
    """A network, a batch and targets for one check.

    Attributes
    ----------
    params : dict
        "W1", "b1", ..., "WM", "bM".
    X : ndarray, shape (n_0, N)
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

    Weights have std 1.2/√n_{m-1} and biases std 0.5, so f'(z) varies from unit to unit
    and every gradient entry is of order 1e-3 or more.  For relu, draws are repeated
    (deterministically, from `seed`) until no |z| < 0.02, where finite differences of a
    kink would be unreliable, and no layer is all zero.

    Parameters
    ----------
    layer_sizes : sequence of int
        [n_0, ..., n_M].
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


# --------------------------------------------------------------------------- references


def planted_backward(params, X, dJ_da, activation, bug=None):
    """The δ^m recursion, optionally with one bug of ``BUGS`` planted.

    Parameters
    ----------
    params : dict
    X : ndarray, shape (n_0, N)
    dJ_da : ndarray, shape (n_M, N)
        ∂J/∂a^M (already carrying the loss's 1/N).
    activation : str
        f of every layer.
    bug : str, optional
        A key of ``BUGS``.

    Returns
    -------
    dict or None
        Gradients keyed like `params`; None when the bug cannot run with these shapes
        (a shape error reported by the student's own code then tells the story).
    """
    act = get_activation(activation)
    M = network.n_layers(params)
    a, z = [np.asarray(X, dtype=np.float64)], [None]
    for m in range(1, M + 1):
        z.append(params[f"W{m}"] @ a[-1] + params[f"b{m}"])
        a.append(act.f(z[-1]))
    N = a[0].shape[1]

    def fprime(m):
        return act.f_prime(a[m]) if bug == "fprime_of_a" else act.f_prime(z[m])

    delta = dJ_da if bug in ("no_fprime_out", "no_fprime_all") else fprime(M) * dJ_da
    grads = {}
    try:
        for m in range(M, 0, -1):
            W = params[f"W{m}"]
            if bug == "dW_T":
                dW = a[m - 1] @ delta.T
            elif bug == "off_by_one":
                dW = delta @ a[m].T
            else:
                dW = delta @ a[m - 1].T
            db = (
                delta.mean(axis=1, keepdims=True)
                if bug == "b_mean"
                else delta.sum(1, keepdims=True)
            )
            if bug == "extra_1/N":
                dW, db = dW / N, db / N
            grads[f"W{m}"], grads[f"b{m}"] = dW, db
            if m > 1:
                back = W @ delta if bug == "W_not_T" else W.T @ delta
                if bug in ("no_fprime_hidden", "no_fprime_all"):
                    delta = back
                else:
                    delta = fprime(m - 1) * back
    except ValueError:  # shapes that do not allow this bug
        return None
    return grads


def gradient_suspects(case):
    """Per parameter, the gradients that the bugs of ``BUGS`` produce on `case`.

    A bug that leaves a parameter's gradient unchanged (e.g. f'(a) for relu, or a
    missing hidden f'(z) for the output layer) is left out for that parameter.

    Returns
    -------
    dict of str to dict of str to ndarray
        {"W1": {sentence: gradient}, ...}.
    """
    out, _ = network.forward(case.params, case.X, case.activation, case.activation)
    _, dJ_da = square_loss(out, case.Y)
    right = planted_backward(case.params, case.X, dJ_da, case.activation)
    suspects = {k: {} for k in right}
    for bug, sentence in BUGS.items():
        grads = planted_backward(case.params, case.X, dJ_da, case.activation, bug)
        if grads is None:
            continue
        for k, g in grads.items():
            if g.shape == right[k].shape and np.allclose(g, right[k], rtol=1e-3, atol=1e-12):
                continue
            suspects[k].setdefault(sentence, g)
    return suspects


# --------------------------------------------------------------------------- forward


def _unpack_forward(out):
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise GradingFailure(
            "forward must return a tuple (a^M, cache), got "
            f"{type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, tuple | list) else "")
            + "."
        )
    return out


def _forward_suspects(case):
    P, X, act = case.params, case.X, get_activation(case.activation)
    M = case.M
    out = {}

    def run(bias=True, hidden=True, top=True, f=act.f):
        a = X
        for m in range(1, M + 1):
            z = P[f"W{m}"] @ a + (P[f"b{m}"] if bias else 0.0)
            a = f(z) if (hidden if m < M else top) else z
        return a

    out["the biases b^m are missing from z^m = W^m a^{m-1} + b^m"] = run(bias=False)
    out["f is not applied at the output layer: a^M = f(z^M) too"] = run(top=False)
    out["f is not applied in the hidden layers: a^m = f(z^m) for every m"] = run(hidden=False)
    if case.activation != "sigmoid":
        out[
            f"this looks like a sigmoid network: use the activation passed in "
            f"({case.activation!r}), e.g. get_activation(activation).f"
        ] = run(f=get_activation("sigmoid").f)
    return out


def _forward_problem(forward_fn, case):
    """None if the student's forward is right on `case`, else a short sentence."""
    try:
        with quiet():
            out = forward_fn(case.copy_params(), case.X.copy(), case.activation)
        a = np.asarray(out[0], dtype=np.float64)
    except Exception:  # noqa: BLE001 - the forward's own test reports it
        return "it does not run"
    expected = network.forward(case.params, case.X, case.activation, case.activation)[0]
    if a.shape == expected.shape and np.allclose(a, expected, rtol=1e-8, atol=1e-12):
        return None
    for sentence, model in _forward_suspects(case).items():
        if a.shape == model.shape and np.allclose(a, model, rtol=1e-8, atol=1e-12):
            return sentence
    return "its a^M differs from the reference"


def check_forward(forward_fn, case, *, reveal=True):
    """Fail unless ``forward_fn(params, X, activation)[0]`` is the network's a^M.

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
        The student's a^M.
    """
    params = case.copy_params()
    out = call(forward_fn, params, case.X.copy(), case.activation, what="forward")
    a, _ = _unpack_forward(out)
    sizes = network.layer_sizes_of(case.params)
    name = f"a^M from forward ({len(sizes) - 1} layers {sizes}, {case.activation}, N = {case.N})"
    a = check_shape(name, a, (sizes[-1], case.N))
    expected = network.forward(case.params, case.X, case.activation, case.activation)[0]
    hint = None
    for sentence, model in _forward_suspects(case).items():
        if np.allclose(a, model, rtol=1e-8, atol=1e-12):
            hint = "Likely bug: " + sentence + "."
            break
    check_close(name, a, expected, rtol=1e-8, atol=1e-12, reveal=reveal, hint=hint)
    for k, v in params.items():
        if not np.array_equal(v, case.params[k]):
            raise GradingFailure(f"forward changed params[{k!r}]: a forward pass must not.")
    return a


# --------------------------------------------------------------------------- backward


def _matching_suspect(value, suspects):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    for sentence, model in suspects.items():
        if arr.shape == model.shape and np.allclose(arr, model, rtol=1e-6, atol=1e-12):
            return sentence
    return None


_SHAPE_ERRORS = ("matmul", "shapes", "broadcast", "aligned", "dimension")


def _call_backward(backward_fn, *args):
    """Call the student's backward; explain a shape error in terms of the recursion."""
    try:
        return call(backward_fn, *args, what="backward")
    except GradingFailure as failure:
        if not any(word in str(failure) for word in _SHAPE_ERRORS):
            raise
        raise GradingFailure(
            f"{failure}\nHint: a matrix product with the wrong shapes. δ^m has the shape of "
            "z^m, (n_m, N); the step down is (W^{m+1})ᵀ δ^{m+1}, with the transpose "
            "((n_m, n_{m+1}) times (n_{m+1}, N)); ∂J/∂W^m = δ^m (a^{m-1})ᵀ is "
            "(n_m, N) times (N, n_{m-1})."
        ) from None


def _order_bias_suspects(key, grads, case, suspects):
    """A bias gradient N times too small is "wrong only in the bias" when the same
    layer's weight gradient is right, and "1/N twice" everywhere otherwise."""
    wkey = "W" + key[1:]
    out, _ = network.forward(case.params, case.X, case.activation, case.activation)
    _, dJ_da = square_loss(out, case.Y)
    right = planted_backward(case.params, case.X, dJ_da, case.activation)[wkey]
    try:
        w_ok = np.allclose(np.asarray(grads.get(wkey), dtype=np.float64), right, rtol=1e-5)
    except (TypeError, ValueError):
        w_ok = False
    first = BUGS["b_mean"] if w_ok else BUGS["extra_1/N"]
    return dict(sorted(suspects.items(), key=lambda item: item[0] != first))


def check_backward(key, forward_fn, backward_fn, case, *, reveal=True):
    """Fail unless the student's ∂J/∂`key` matches finite differences of their forward.

    J(params) = square_loss(forward(params, X, activation)[0], Y), the batch mean of
    ½‖a^M − y‖²; ``backward(params, cache, dJ_da)`` gets the cache of the student's
    forward and dJ_da = (a^M − Y)/N.

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
    out = call(forward_fn, case.copy_params(), case.X.copy(), case.activation, what="forward")
    a, cache = _unpack_forward(out)
    try:
        _, dJ_da = square_loss(a, case.Y)
    except (TypeError, ValueError):
        raise GradingFailure(
            f"forward returned a^M of shape {np.shape(a)}, but Y has shape {case.Y.shape}: fix "
            "the forward pass first (its own test says more)."
        ) from None
    grads = _call_backward(backward_fn, case.copy_params(), cache, dJ_da.copy())
    if not isinstance(grads, dict):
        raise GradingFailure(
            f"backward must return a dict of gradients keyed 'W1', 'b1', ..., got "
            f"{type(grads).__name__}."
        )
    if key not in grads:
        raise GradingFailure(
            f"backward returned no gradient for {key!r}; its dict holds {sorted(grads)}."
        )
    suspects = gradient_suspects(case)[key]
    if key.startswith("b"):
        suspects = _order_bias_suspects(key, grads, case, suspects)
    name = f"∂J/∂{key}"

    def J(params):
        return square_loss(forward_fn(params, case.X.copy(), case.activation)[0], case.Y)[0]

    try:
        grad = grads[key]
        shape = case.params[key].shape
        try:
            wrong_shape = np.shape(grad) != shape
        except Exception:  # noqa: BLE001 - not array-like: check_param_gradient says so
            wrong_shape = False
        if wrong_shape:
            sentence = _matching_suspect(grad, suspects)
            if sentence:
                raise GradingFailure(
                    f"{name} has shape {np.shape(grad)}, but {key} has shape {shape}.\n"
                    f"Likely bug: {sentence}"
                )
        return check_param_gradient(
            name,
            J,
            case.params,
            grads,
            key=key,
            reveal=reveal,
            suspects=suspects,
            batch_size=case.N,
        )
    except GradingFailure as failure:
        problem = _forward_problem(forward_fn, case)
        if problem is None:
            raise
        raise GradingFailure(
            f"{failure}\nNote: your forward is wrong on this network too ({problem}); the "
            "gradients are checked against YOUR forward, so fix the forward first."
        ) from None


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


def _update_hint(key, yours, old, grad, lr):
    if yours.shape != old.shape:
        return None
    close = lambda u, v: np.allclose(u, v, rtol=1e-9, atol=1e-12)  # noqa: E731
    if close(yours, old):
        return f"{key} was not updated at all."
    if close(yours, old + lr * grad):
        return "The sign is flipped: gradient descent steps against the gradient, θ − α ∂J/∂θ."
    if close(yours, old - grad):
        return "The learning rate α is missing: the step is −α ∂J/∂θ."
    if close(yours, -lr * grad):
        return "You returned the step −α ∂J/∂θ alone; add it to the old value θ."
    step = (yours - old).ravel()
    g = (-lr * grad).ravel()
    if np.dot(g, g) > 0:
        c = float(np.dot(step, g) / np.dot(g, g))
        if c != 0 and close(step, c * g):
            return f"The step is off by a constant factor ≈ {c:.4g}: it should be −α ∂J/∂θ."
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
            "sgd_update returned None: return the dict of updated parameters (a new dict, "
            "or the one you updated in place)."
        )
    if not isinstance(out, dict):
        raise GradingFailure(f"sgd_update must return a dict, got {type(out).__name__}.")
    missing = sorted(set(expected) - set(out))
    if missing:
        raise GradingFailure(f"sgd_update's result lacks {missing}; every W^m and b^m is updated.")
    bad = {}
    for k in sorted(expected, key=lambda k: (int(k[1:]), k[0])):
        arr = check_shape(f"the updated {k}", out[k], expected[k].shape)
        if not np.allclose(arr, expected[k], rtol=1e-9, atol=1e-12):
            bad[k] = arr
    if not bad:
        return out
    only_bias = all(k.startswith("b") for k in bad)
    k = next(iter(bad))
    hint = _update_hint(k, bad[k], old[k], grads[k], lr) or ""
    if only_bias:
        hint = (
            "The weights are right; the update is wrong only in the bias: "
            "b^m ← b^m − α ∂J/∂b^m as well. " + hint
        ).strip()
    check_close(f"the updated {k}", bad[k], expected[k], reveal=reveal, hint=hint or None)
