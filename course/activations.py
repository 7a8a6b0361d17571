"""Activation functions f and their derivatives f', in a registry keyed by name.

Every function works elementwise on arrays of any shape, in float64.  The course's
notation is a^m = f(z^m); the backward pass needs f'(z^m).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "get_activation",
    "identity",
    "identity_prime",
    "relu",
    "relu_prime",
    "sigmoid",
    "sigmoid_prime",
    "tanh",
    "tanh_prime",
]


def sigmoid(z):
    """σ(z) = 1 / (1 + e^{−z}), elementwise and overflow-free.

    For z ≪ 0, e^{−z} overflows to +inf and 1 / (1 + inf) = 0, which is σ(z) to
    double precision; only the floating-point warning needs silencing.  The formula
    is otherwise accurate to a few ulp over the whole real line.

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    ndarray
        σ(z), same shape as `z`, values in [0, 1].
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 0:
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-z))
    # The same three operations as the formula, done in one buffer: sigmoid runs in
    # every training step, and the temporaries cost as much as the arithmetic.
    s = np.negative(z)
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    s += 1.0
    return np.divide(1.0, s, out=s)


def sigmoid_prime(z):
    """σ'(z) = σ(z)(1 − σ(z)); at most 1/4, reached at z = 0.

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    ndarray
        σ'(z), same shape as `z`.
    """
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z):
    """tanh(z), elementwise.

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    ndarray
        tanh(z), same shape as `z`, values in [−1, 1].
    """
    return np.tanh(np.asarray(z, dtype=np.float64))


def tanh_prime(z):
    """tanh'(z) = 1 − tanh²(z); at most 1, reached at z = 0.

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    ndarray
        tanh'(z), same shape as `z`.
    """
    t = np.tanh(np.asarray(z, dtype=np.float64))
    return 1.0 - t * t


def relu(z):
    """relu(z) = max(0, z), elementwise.

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    ndarray
        max(0, z), same shape as `z`.
    """
    return np.maximum(np.asarray(z, dtype=np.float64), 0.0)


def relu_prime(z):
    """relu'(z) = 1 if z > 0 else 0 (the subgradient 0 is used at the kink z = 0).

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    ndarray
        0.0 or 1.0 per entry, same shape as `z`.
    """
    return (np.asarray(z) > 0).astype(np.float64)


def identity(z):
    """identity(z) = z (a linear output layer).

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    ndarray
        A float64 copy of `z`.
    """
    return np.array(z, dtype=np.float64)


def identity_prime(z):
    """identity'(z) = 1.

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    ndarray
        Ones, same shape as `z`.
    """
    return np.ones(np.shape(z))


@dataclass(frozen=True)
class Activation:
    """An activation f with its derivative f'.

    Attributes
    ----------
    name : str
        Registry key.
    f : callable
        a = f(z), elementwise.
    f_prime : callable
        f'(z), elementwise.
    f_prime_from_output : callable
        f'(z) written in terms of a = f(z) (σ' = a(1 − a), tanh' = 1 − a²,
        relu' = [a > 0], identity' = 1).  The network's backward pass uses it to avoid
        evaluating f a second time; it returns exactly f'(z^m).
    """

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    f_prime: Callable[[np.ndarray], np.ndarray]
    f_prime_from_output: Callable[[np.ndarray], np.ndarray]

    def __call__(self, z):
        return self.f(z)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_prime, lambda a: a * (1.0 - a)),
    "tanh": Activation("tanh", tanh, tanh_prime, lambda a: 1.0 - a * a),
    "relu": Activation("relu", relu, relu_prime, lambda a: (a > 0).astype(np.float64)),
    "identity": Activation("identity", identity, identity_prime, lambda a: np.ones(a.shape)),
}


def get_activation(name):
    """Look up an activation by name (or pass an `Activation` through).

    Parameters
    ----------
    name : str or Activation
        One of ``ACTIVATIONS``: "sigmoid", "tanh", "relu", "identity".

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    if isinstance(name, Activation):
        return name
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; choose one of: {known}") from None
