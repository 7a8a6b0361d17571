"""The lecture's 2-2-1 sigmoid network in the lecture's own weight layout (notebook 02).

The lecture writes the weights of the network x → (z₁, z₂) → y as wʰᵢⱼ (from input i to
hidden unit j, i = 0 the bias input 1) and wᵒⱼ₁ (from hidden unit j to the output, j = 0
the bias); notebook 02 stores them as ``params = {"wh": (3, 2) array, "wo": (3,) array}``
with ``wh[i, j - 1] = wʰᵢⱼ`` and ``wo[j] = wᵒⱼ₁``.  The course's general network
(:mod:`course.network`) uses the layout Wᵐ (nₘ, nₘ₋₁), bᵐ (nₘ, 1) instead.

These two functions are complete answers to notebook 02's exercises: its demonstrations
use them, and a graded answer that calls them earns nothing for that exercise.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid

__all__ = ["forward", "loss_and_partials"]


def forward(params, x):
    """z_j = σ(wʰ₀ⱼ + wʰ₁ⱼ x₁ + wʰ₂ⱼ x₂), y = σ(wᵒ₀₁ + Σ_j wᵒⱼ₁ z_j).

    Parameters
    ----------
    params : dict
        "wh" (3, 2) and "wo" (3,), the lecture's layout (module docstring).
    x : array_like, shape (2,)
        (x₁, x₂).

    Returns
    -------
    y : float
        The output.
    z : ndarray, shape (2,)
        The hidden activations (z₁, z₂).
    """
    x = np.asarray(x, dtype=np.float64)
    wh, wo = np.asarray(params["wh"], dtype=np.float64), np.asarray(params["wo"], dtype=np.float64)
    z = sigmoid(wh[0] + x @ wh[1:])
    return float(sigmoid(wo[0] + wo[1:] @ z)), z


def loss_and_partials(params, x, y_star):
    """L = ½(y − y*)² and its nine partials through δᵒ = ∂L/∂s and δʰⱼ = ∂L/∂sⱼ.

    Parameters
    ----------
    params : dict
        "wh" (3, 2) and "wo" (3,).
    x : array_like, shape (2,)
    y_star : float
        The target y*.

    Returns
    -------
    L : float
    grads : dict
        "wh" (3, 2) and "wo" (3,), shaped like the parameters: ∂L/∂wʰᵢⱼ at [i, j − 1],
        ∂L/∂wᵒⱼ₁ at [j].
    """
    x = np.asarray(x, dtype=np.float64)
    y, z = forward(params, x)
    delta_o = (y - y_star) * y * (1.0 - y)
    delta_h = delta_o * np.asarray(params["wo"], dtype=np.float64)[1:] * z * (1.0 - z)
    grads = {
        "wo": delta_o * np.concatenate(([1.0], z)),
        "wh": np.outer(np.concatenate(([1.0], x)), delta_h),
    }
    return 0.5 * (y - y_star) ** 2, grads
