"""The activation functions, computed in the grading kernel itself.

Everything else the notebooks import from ``course`` runs in the grader.  The elementwise
activations are the exception: a student's forward pass calls them once per layer, a
training loop thousands of times, and a round trip to the grader costs a hundred times
more than ``np.tanh`` itself.  They give no exercise away and nothing the grader decides
depends on what they return here (the checks compute their references themselves), so the
agent computes them with these NumPy one-liners, the same formulas as
:mod:`course.activations` (``tests/test_agent.py`` keeps them equal, entry for entry).

The grader tells the kernel which course names these stand for (references ``$local``);
this module imports NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sigmoid(z):
    """σ(z) = 1 / (1 + e^{−z}), elementwise and overflow-free (as course.activations)."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 0:
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-z))
    s = np.negative(z)
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    s += 1.0
    return np.divide(1.0, s, out=s)


def sigmoid_prime(z):
    """σ'(z) = σ(z)(1 − σ(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z):
    """tanh(z), elementwise."""
    return np.tanh(np.asarray(z, dtype=np.float64))


def tanh_prime(z):
    """tanh'(z) = 1 − tanh²(z)."""
    t = np.tanh(np.asarray(z, dtype=np.float64))
    return 1.0 - t * t


def relu(z):
    """max(0, z), elementwise."""
    return np.maximum(np.asarray(z, dtype=np.float64), 0.0)


def relu_prime(z):
    """1 where z > 0, else 0 (the subgradient 0 at the kink)."""
    return (np.asarray(z) > 0).astype(np.float64)


def identity(z):
    """A float64 copy of z."""
    return np.array(z, dtype=np.float64)


def identity_prime(z):
    """Ones of z's shape."""
    return np.ones(np.shape(z))


@dataclass(frozen=True)
class Activation:
    """An activation f with its derivative f' (as course.activations.Activation)."""

    name: str
    f: object
    f_prime: object
    f_prime_from_output: object

    def __call__(self, z):
        return self.f(z)


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_prime, lambda a: a * (1.0 - a)),
    "tanh": Activation("tanh", tanh, tanh_prime, lambda a: 1.0 - a * a),
    "relu": Activation("relu", relu, relu_prime, lambda a: (a > 0).astype(np.float64)),
    "identity": Activation("identity", identity, identity_prime, lambda a: np.ones(a.shape)),
}


def get_activation(name):
    """The activation called `name` (or an Activation passed through)."""
    if isinstance(name, Activation):
        return name
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; choose one of: {known}") from None


#: What a ``$local`` reference may name.
NAMES = {
    "sigmoid": sigmoid,
    "sigmoid_prime": sigmoid_prime,
    "tanh": tanh,
    "tanh_prime": tanh_prime,
    "relu": relu,
    "relu_prime": relu_prime,
    "identity": identity,
    "identity_prime": identity_prime,
    "Activation": Activation,
    "ACTIVATIONS": ACTIVATIONS,
    "get_activation": get_activation,
    **{f"ACTIVATIONS.{k}": v for k, v in ACTIVATIONS.items()},
}
_IDS = {id(v): k for k, v in NAMES.items()}


def name_of(obj):
    """The ``$local`` name of `obj` when it is one of these, else None."""
    name = _IDS.get(id(obj))
    return name if name is not None and NAMES[name] is obj else None
