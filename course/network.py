"""A fully connected network in the course notation, with the δ^m recursion.

a^0 = x, z^m = W^m a^{m-1} + b^m, a^m = f(z^m) for m = 1..M, examples in columns.
Backward:

    δ^M = f'(z^M) ∘ ∂J/∂a^M
    δ^m = f'(z^m) ∘ (W^{m+1})ᵀ δ^{m+1}
    ∂J/∂W^m = δ^m (a^{m-1})ᵀ,   ∂J/∂b^m = Σ_n δ^m_{:,n}

This module is the course's *reference implementation*: later notebooks and the
widgets import it, and it reveals the answer to notebook 04's exercises.
"""

from __future__ import annotations

import numpy as np

from .activations import get_activation
from .layers import dense_backward, dense_forward, dropout_backward, dropout_forward
from .losses import LOSSES, l2_penalty

__all__ = [
    "INIT_SCHEMES",
    "accuracy",
    "backward",
    "forward",
    "init_params",
    "layer_sizes_of",
    "loss_and_grads",
    "n_layers",
    "predict",
]

INIT_SCHEMES = ("zeros", "constant", "normal", "uniform", "xavier", "glorot", "lecun", "he")


def init_params(layer_sizes, scheme="xavier", rng=None, scale=None):
    """Initial weights W^m (n_m, n_{m-1}) and zero biases b^m (n_m, 1).

    Schemes (n_in = n_{m-1}, n_out = n_m):

    - ``"zeros"``: W = 0 (shows the symmetry problem).
    - ``"constant"``: every weight equals `scale` (default 0.5): symmetric too.
    - ``"normal"``: N(0, σ²) with σ = `scale` (default 0.01).
    - ``"uniform"``: U(−r, r) with r = `scale` (default 0.05).
    - ``"xavier"`` / ``"glorot"``: N(0, 2 / (n_in + n_out)) (Glorot & Bengio 2010).
    - ``"lecun"``: N(0, 1 / n_in), σ = 1/√n_{m-1} (LeCun et al. 1998, "Efficient
      BackProp"); for square layers (n_in = n_out) it equals Glorot's σ.
    - ``"he"``: N(0, 2 / n_in) (He et al. 2015), for relu.

    Parameters
    ----------
    layer_sizes : sequence of int
        [n_0, n_1, ..., n_M]; n_0 is the input dimension.
    scheme : str
        One of ``INIT_SCHEMES``.
    rng : numpy.random.Generator, optional
        Source of randomness; required for random schemes.
    scale : float, optional
        σ for "normal", r for "uniform", the value for "constant".

    Returns
    -------
    dict
        {"W1": ..., "b1": ..., ..., "WM": ..., "bM": ...}, float64.
    """
    sizes = [int(n) for n in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes needs at least two positive sizes, got {layer_sizes}")
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {', '.join(INIT_SCHEMES)}")
    if rng is None and scheme not in ("zeros", "constant"):
        raise ValueError(f"init scheme {scheme!r} needs rng=np.random.default_rng(seed)")
    params = {}
    for m in range(1, len(sizes)):
        n_in, n_out = sizes[m - 1], sizes[m]
        shape = (n_out, n_in)
        if scheme == "zeros":
            W = np.zeros(shape)
        elif scheme == "constant":
            W = np.full(shape, 0.5 if scale is None else float(scale))
        elif scheme == "normal":
            W = rng.normal(0.0, 0.01 if scale is None else scale, shape)
        elif scheme == "uniform":
            r = 0.05 if scale is None else scale
            W = rng.uniform(-r, r, shape)
        elif scheme in ("xavier", "glorot"):
            W = rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), shape)
        elif scheme == "lecun":
            W = rng.normal(0.0, np.sqrt(1.0 / n_in), shape)
        else:  # he
            W = rng.normal(0.0, np.sqrt(2.0 / n_in), shape)
        params[f"W{m}"] = W
        params[f"b{m}"] = np.zeros((n_out, 1))
    return params


def n_layers(params):
    """Number of layers M (weight matrices) in `params`."""
    M = sum(1 for k in params if k.startswith("W"))
    for m in range(1, M + 1):
        if f"W{m}" not in params or f"b{m}" not in params:
            raise KeyError(f"params must hold W1, b1, ..., W{M}, b{M}; W{m} or b{m} is missing")
    return M


def layer_sizes_of(params):
    """[n_0, n_1, ..., n_M] read off the weight shapes."""
    M = n_layers(params)
    return [params["W1"].shape[1]] + [params[f"W{m}"].shape[0] for m in range(1, M + 1)]


def _layer_activations(activation, output_activation, M):
    if isinstance(activation, list | tuple):
        if len(activation) != M - 1:
            raise ValueError(f"{M - 1} hidden activations needed, got {len(activation)}")
        hidden = [get_activation(a) for a in activation]
    else:
        hidden = [get_activation(activation)] * (M - 1)
    return hidden + [get_activation(output_activation)]


def forward(
    params,
    X,
    activation="sigmoid",
    output_activation="identity",
    dropout=0.0,
    rng=None,
    masks=None,
):
    """Forward pass: a^0 = X, z^m = W^m a^{m-1} + b^m, a^m = f(z^m).

    Parameters
    ----------
    params : dict
        "W1", "b1", ..., "WM", "bM".
    X : ndarray, shape (n_0, N)
        A batch of N examples in columns.
    activation : str or list of str
        f for the hidden layers 1..M−1 (one name, or one per hidden layer).
    output_activation : str
        f for layer M; "identity" gives logits for "softmax_ce".
    dropout : float
        Drop probability p for the hidden activations (inverted dropout, training
        only; leave 0 for evaluation).
    rng : numpy.random.Generator, optional
        Draws the dropout masks.
    masks : dict, optional
        {m: mask} fixed masks for hidden layers, used instead of drawing new ones.

    Returns
    -------
    out : ndarray, shape (n_M, N)
        a^M.
    caches : list of dict
        caches[m − 1] holds "a_prev" (a^{m-1}), "z", "h" (= f(z^m), before dropout),
        "act" (the Activation), "W" and "mask" (None without dropout) for layer m.
    """
    M = n_layers(params)
    acts = _layer_activations(activation, output_activation, M)
    return _forward_layers(params, _as_batch(params, X), acts, dropout, rng, masks)


def _as_batch(params, X):
    """X as a float64 (n_0, N) array, or a ValueError saying what shape it must have."""
    a = np.asarray(X, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != params["W1"].shape[1]:
        raise ValueError(
            f"X must have shape (n_0, N) = ({params['W1'].shape[1]}, N) with examples in "
            f"columns, got {a.shape}"
        )
    return a


def _forward_layers(params, a, acts, dropout=0.0, rng=None, masks=None):
    """The loop of :func:`forward` on validated inputs (`acts`: one Activation per layer).

    Training calls it once per minibatch, after checking the arguments once.
    """
    M = len(acts)
    caches = []
    for m in range(1, M + 1):
        W = params[f"W{m}"]
        z, _ = dense_forward(a, W, params[f"b{m}"])
        act = acts[m - 1]
        # identity(z) would only copy the fresh array z.
        h = z if act.name == "identity" else act.f(z)
        mask = None
        if m < M and (dropout > 0.0 or (masks is not None and m in masks)):
            h_out, mask = dropout_forward(h, dropout, rng, None if masks is None else masks.get(m))
        else:
            h_out = h
        caches.append({"a_prev": a, "z": z, "h": h, "act": act, "W": W, "mask": mask})
        a = h_out
    return a, caches


def backward(caches, dJ_da):
    """The δ^m recursion: gradients of J for every W^m and b^m.

    Parameters
    ----------
    caches : list of dict
        From :func:`forward`.
    dJ_da : ndarray, shape (n_M, N)
        ∂J/∂a^M from the loss (for "softmax_ce" with an identity output this is
        ∂J/∂z^M).  It already holds the batch's 1/N.

    Returns
    -------
    dict
        {"W1": ∂J/∂W^1, "b1": ∂J/∂b^1, ...}, each shaped like its parameter.
    """
    grads = {}
    M = len(caches)
    top = caches[-1]
    # δ^M = f'(z^M) ∘ ∂J/∂a^M; f'(z) is evaluated from the cached f(z).
    delta = (
        dJ_da if top["act"].name == "identity" else top["act"].f_prime_from_output(top["h"]) * dJ_da
    )
    for m in range(M, 1, -1):
        c = caches[m - 1]
        da_prev, grads[f"W{m}"], grads[f"b{m}"] = dense_backward(delta, (c["a_prev"], c["W"]))
        below = caches[m - 2]
        if below["mask"] is not None:
            da_prev = dropout_backward(da_prev, below["mask"])
        # δ^{m-1} = f'(z^{m-1}) ∘ (W^m)ᵀ δ^m
        delta = below["act"].f_prime_from_output(below["h"]) * da_prev
    # Layer 1: ∂J/∂a^0 = (W^1)ᵀ δ^1 is never needed, so it is not computed.
    grads["W1"] = delta @ caches[0]["a_prev"].T
    grads["b1"] = np.add.reduce(delta, axis=1, keepdims=True)
    return {k: grads[k] for m in range(1, M + 1) for k in (f"W{m}", f"b{m}")}


def loss_and_grads(
    params,
    X,
    Y,
    loss="softmax_ce",
    activation="sigmoid",
    output_activation="identity",
    l2=0.0,
    dropout=0.0,
    rng=None,
    masks=None,
):
    """J (plus (λ/2) Σ‖W^m‖² when l2 = λ > 0) and its gradient for every parameter.

    Parameters
    ----------
    params : dict
    X : ndarray, shape (n_0, N)
    Y : ndarray, shape (n_M, N)
        Targets (one-hot for "softmax_ce").
    loss : {"softmax_ce", "square"}
    activation, output_activation, dropout, rng, masks
        As in :func:`forward`.
    l2 : float
        λ for weight decay on the W^m only.

    Returns
    -------
    J : float
    grads : dict
    caches : list of dict
    """
    try:
        loss_fn = LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}") from None
    out, caches = forward(params, X, activation, output_activation, dropout, rng, masks)
    J, dJ_dout = loss_fn(out, Y)
    grads = backward(caches, dJ_dout)
    if l2:
        penalty, dpen = l2_penalty(params, l2)
        J += penalty
        for k, g in dpen.items():
            grads[k] = grads[k] + g
    return J, grads, caches


def predict(params, X, activation="sigmoid", output_activation="identity"):
    """a^M for X without dropout (test time).

    Parameters
    ----------
    params : dict
    X : ndarray, shape (n_0, N)

    Returns
    -------
    ndarray, shape (n_M, N)
    """
    return forward(params, X, activation, output_activation)[0]


def accuracy(output, Y):
    """Fraction of columns whose arg-max matches the target's arg-max.

    Parameters
    ----------
    output : ndarray, shape (K, N)
        Scores, logits or probabilities.
    Y : ndarray, shape (K, N) or (N,)
        One-hot targets, or integer labels.

    Returns
    -------
    float
    """
    labels = np.asarray(Y)
    if labels.ndim == 2:
        labels = labels.argmax(axis=0)
    return float(np.mean(np.argmax(output, axis=0) == labels))
