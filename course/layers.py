"""Layer building blocks as forward/backward pairs (CS231n style, column batches).

A forward returns ``(out, cache)``; the matching backward takes the gradient of J
with respect to ``out`` and the cache, and returns gradients shaped like the inputs.
Shapes follow the course: a^{m-1} (n_{m-1}, N), W^m (n_m, n_{m-1}), b^m (n_m, 1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dense_backward", "dense_forward", "dropout_backward", "dropout_forward"]


def dense_forward(a_prev, W, b):
    """z^m = W^m a^{m-1} + b^m.

    Parameters
    ----------
    a_prev : ndarray, shape (n_{m-1}, N)
        Activations of the layer below (a^0 = x).
    W : ndarray, shape (n_m, n_{m-1})
    b : ndarray, shape (n_m, 1)
        Broadcast over the N columns.

    Returns
    -------
    z : ndarray, shape (n_m, N)
    cache : tuple
        ``(a_prev, W)`` for :func:`dense_backward`.
    """
    return W @ a_prev + b, (a_prev, W)


def dense_backward(delta, cache):
    """Given δ^m = ∂J/∂z^m, return ∂J/∂a^{m-1}, ∂J/∂W^m, ∂J/∂b^m.

    ∂J/∂W^m = δ^m (a^{m-1})ᵀ, ∂J/∂b^m = Σ_n δ^m_{:,n}, ∂J/∂a^{m-1} = (W^m)ᵀ δ^m.
    δ already carries the batch's 1/N (it comes from the loss), so the sums over
    columns here are plain sums.

    Parameters
    ----------
    delta : ndarray, shape (n_m, N)
    cache : tuple
        From :func:`dense_forward`.

    Returns
    -------
    da_prev : ndarray, shape (n_{m-1}, N)
    dW : ndarray, shape (n_m, n_{m-1})
    db : ndarray, shape (n_m, 1)
    """
    a_prev, W = cache
    # np.add.reduce is what ndarray.sum calls, minus a Python-level wrapper per call.
    return W.T @ delta, delta @ a_prev.T, np.add.reduce(delta, axis=1, keepdims=True)


def dropout_forward(a, p, rng=None, mask=None):
    """Inverted dropout: drop each unit with probability p and scale survivors by 1/(1−p).

    The scaling keeps E[output] = a, so nothing changes at test time (call with p = 0
    or skip the layer).  Pass `mask` to reuse a fixed mask, e.g. in a gradient check.

    Parameters
    ----------
    a : ndarray, shape (n_m, N)
    p : float
        Drop probability, 0 ≤ p < 1.
    rng : numpy.random.Generator, optional
        Required when `mask` is not given and p > 0.
    mask : ndarray, shape (n_m, N), optional
        Entries 0 or 1/(1−p).

    Returns
    -------
    out : ndarray, shape (n_m, N)
        ``a * mask``.
    mask : ndarray, shape (n_m, N)
        The mask used, to be reused by :func:`dropout_backward`.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must satisfy 0 <= p < 1, got {p}")
    if mask is None:
        if p == 0.0:
            return a, np.ones_like(a)
        if rng is None:
            raise ValueError("dropout with p > 0 needs rng=np.random.default_rng(seed) or a mask")
        mask = (rng.random(a.shape) >= p) / (1.0 - p)
    elif mask.shape != a.shape:
        raise ValueError(f"dropout mask has shape {mask.shape}, activations {a.shape}")
    return a * mask, mask


def dropout_backward(d_out, mask):
    """∂J/∂a = ∂J/∂out ∘ mask, with the *same* mask as the forward pass.

    Parameters
    ----------
    d_out : ndarray, shape (n_m, N)
    mask : ndarray, shape (n_m, N)

    Returns
    -------
    ndarray, shape (n_m, N)
    """
    return d_out * mask
