"""Losses J averaged over a minibatch, each returning J and its gradient.

Columns are examples: outputs and targets have shape (n_M, N).  The 1/N of the batch
average is applied in exactly one place, :func:`batch_mean`, so the gradients that
leave this module already carry it and nothing downstream divides by N again.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "LOSSES",
    "LOSS_GRADIENTS",
    "batch_mean",
    "cross_entropy",
    "l2_penalty",
    "log_softmax",
    "softmax",
    "softmax_cross_entropy",
    "square_loss",
]


def batch_mean(per_example_total, N):
    """Divide a sum over the batch by its size N: the only 1/N in the course library.

    Parameters
    ----------
    per_example_total : float or ndarray
        A loss summed over the N examples, or a gradient of such a sum.
    N : int
        Number of examples (columns) in the batch.

    Returns
    -------
    float or ndarray
        ``per_example_total / N``.
    """
    return per_example_total / N


def _check_pair(a, y, what):
    a = np.asarray(a, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if y.ndim == 1:
        y = y[:, None]
    if a.shape != y.shape:
        raise ValueError(
            f"{what}: output has shape {a.shape} but target has shape {y.shape}; "
            "both must be (n_M, N) with one column per example"
        )
    return a, y


def square_loss(a, y):
    """J = (1/N) Σ_n ½‖a_n − y_n‖², with ∂J/∂a = (a − y) / N.

    Parameters
    ----------
    a : ndarray, shape (n_M, N)
        Network outputs a^M, one column per example.
    y : ndarray, shape (n_M, N)
        Targets.

    Returns
    -------
    J : float
        The batch-averaged loss.
    dJ_da : ndarray, shape (n_M, N)
        ∂J/∂a^M.
    """
    a, y = _check_pair(a, y, "square_loss")
    diff = a - y
    N = a.shape[1]
    return float(batch_mean(0.5 * (diff * diff).sum(), N)), batch_mean(diff, N)


def log_softmax(z):
    """log softmax(z) per column, via a stable log-sum-exp.

    log ŷ_k = z_k − m − log Σ_j e^{z_j − m} with m = max_j z_j, so no exponential
    overflows whatever the size of z.

    Parameters
    ----------
    z : ndarray, shape (K, N)
        Logits, one column per example.

    Returns
    -------
    ndarray, shape (K, N)
    """
    shifted, _, total = _exp_shifted(np.asarray(z, dtype=np.float64))
    shifted -= np.log(total)
    return shifted


def softmax(z):
    """ŷ_k = e^{z_k} / Σ_j e^{z_j} per column, stable for large |z|.

    Parameters
    ----------
    z : ndarray, shape (K, N)
        Logits, one column per example.

    Returns
    -------
    ndarray, shape (K, N)
        Probabilities; each column sums to 1.
    """
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def cross_entropy(y_hat, y):
    """J = −(1/N) Σ_n Σ_k y_kn log ŷ_kn for probabilities ŷ (no gradient).

    Parameters
    ----------
    y_hat : ndarray, shape (K, N)
        Predicted probabilities.
    y : ndarray, shape (K, N)
        One-hot (or soft) targets.

    Returns
    -------
    float
    """
    y_hat, y = _check_pair(y_hat, y, "cross_entropy")
    # 0 · log 0 counts as 0: log 0 = −inf and 0 · (−inf) = nan are both discarded by the
    # where, so their floating-point warnings are silenced.
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y > 0, y * np.log(y_hat), 0.0)
    return float(batch_mean(-np.sum(terms), y.shape[1]))


def softmax_cross_entropy(z, y):
    """Softmax then cross-entropy, fused: J = −(1/N) Σ_n Σ_k y_kn log softmax(z_n)_k.

    The fused gradient is ∂J/∂z = (ŷ − y) / N with ŷ = softmax(z): the softmax
    Jacobian and the 1/ŷ of the logarithm cancel.

    Parameters
    ----------
    z : ndarray, shape (K, N)
        Logits z^M (the output layer uses the identity activation).
    y : ndarray, shape (K, N)
        One-hot targets (columns summing to 1).

    Returns
    -------
    J : float
    dJ_dz : ndarray, shape (K, N)
    """
    z, y = _check_pair(z, y, "softmax_cross_entropy")
    shifted, e, total = _exp_shifted(z)
    N = z.shape[1]
    logp = shifted - np.log(total)  # log_softmax(z), sharing e with the gradient
    J = float(batch_mean(-(y * logp).sum(), N))
    return J, _softmax_ce_gradient(e, total, y, N)


def _exp_shifted(z):
    # z − max per column, its exponential and the column sums: what both log-softmax
    # (for J) and softmax (for ∂J/∂z) are made of.  (np.maximum.reduce and
    # np.add.reduce are what .max and .sum call, minus a wrapper.)
    shifted = z - np.maximum.reduce(z, axis=0, keepdims=True)
    e = np.exp(shifted)
    return shifted, e, np.add.reduce(e, axis=0, keepdims=True)


def _softmax_ce_gradient(e, total, y, N):
    # (ŷ − y) / N with ŷ = e / Σe, in e's buffer (this runs in every training step).
    e /= total
    e -= y
    return batch_mean(e, N)


def _square_loss_gradient_only(a, y):
    a, y = _check_pair(a, y, "square_loss")
    return batch_mean(a - y, a.shape[1])


def _softmax_ce_gradient_only(z, y):
    z, y = _check_pair(z, y, "softmax_cross_entropy")
    _, e, total = _exp_shifted(z)
    return _softmax_ce_gradient(e, total, y, z.shape[1])


def l2_penalty(params, lam):
    """(λ/2) Σ_m ‖W^m‖²_F and its gradient λ W^m; biases are never penalised.

    Parameters
    ----------
    params : dict
        "W1", "b1", ... as made by :func:`course.network.init_params`.
    lam : float
        λ ≥ 0.

    Returns
    -------
    penalty : float
    grads : dict
        "W1": λ W^1, ... for the weights only.
    """
    if lam < 0:
        raise ValueError(f"the L2 coefficient λ must be ≥ 0, got {lam}")
    weights = {k: v for k, v in params.items() if k.startswith("W")}
    penalty = 0.5 * lam * sum(float(np.sum(W * W)) for W in weights.values())
    return penalty, {k: lam * W for k, W in weights.items()}


#: Losses by name, each ``loss(output, y) -> (J, gradient w.r.t. output)``.
#: "softmax_ce" takes logits (pair it with an identity output layer).
LOSSES = {"square": square_loss, "softmax_ce": softmax_cross_entropy}

#: The same gradients without the loss value, for training loops that never look at J;
#: they are computed by the very same operations as in :data:`LOSSES`.
LOSS_GRADIENTS = {"square": _square_loss_gradient_only, "softmax_ce": _softmax_ce_gradient_only}
