"""Checkers for notebook 03: softmax with cross-entropy, and a sigmoid layer.

Every backward check differentiates the student's own forward function by central
differences (``course.grading.check_gradient_of``); the "suspects" passed along are the
gradients that typical bugs produce, computed here by planting each bug in a small
reference, so that a failing test names the bug.

Shapes follow the course: logits z (K, N), one-hot targets Y (K, N), a layer's input
a_prev (n_{m-1}, N), W (n_m, n_{m-1}), b (n_m, 1), output a (n_m, N).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..activations import sigmoid, sigmoid_prime
from ..grading import GradingFailure, call, check_close, check_gradient_of, check_shape, quiet
from ..losses import log_softmax, softmax

__all__ = [
    "LayerCase",
    "ce_gradient_suspects",
    "check_ce_gradient",
    "check_ce_loss",
    "check_layer_backward",
    "check_layer_forward",
    "check_softmax",
    "layer_case",
    "layer_suspects",
    "logits_case",
]

_STABILITY_HINT = (
    "subtract each column's own maximum before exponentiating, "
    "z − z.max(axis=0, keepdims=True): e^{z_k − c} / Σ_j e^{z_j − c} is the same number "
    "for any c, and with c = max_k z_k no exponential can overflow and the largest term is 1"
)


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


def _call_strict(fn, *args, what):
    """Call `fn` with floating-point problems raised, not printed (for stability checks)."""
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                return fn(*args)
    except NotImplementedError:
        raise GradingFailure(
            f"{what} is not implemented yet (it raises NotImplementedError)."
        ) from None
    except GradingFailure:
        raise
    except (FloatingPointError, OverflowError, RuntimeWarning, ZeroDivisionError) as exc:
        z = np.asarray(args[0], dtype=np.float64)
        raise GradingFailure(
            f"{what} is not numerically stable: with logits as large as "
            f"{float(np.max(np.abs(z))):.4g} it hits {type(exc).__name__} ({exc}).\n"
            f"Fix: {_STABILITY_HINT}."
        ) from None
    except Exception as exc:  # noqa: BLE001 - any student error becomes a message
        raise GradingFailure(f"{what} raised {type(exc).__name__}: {exc}") from None


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
    y_hat = _call_strict(softmax_fn, z.copy(), what="softmax")
    y_hat = check_shape(name, y_hat, z.shape)
    if not np.all(np.isfinite(y_hat)):
        raise GradingFailure(
            f"{name} contains NaN or inf (largest |z| is {float(np.max(np.abs(z))):.4g}).\n"
            f"Fix: {_STABILITY_HINT}."
        )
    expected = softmax(z)
    hint = None
    K, N = z.shape
    if not np.allclose(y_hat.sum(axis=0), 1.0, rtol=1e-9, atol=1e-9):
        hint = "Each column (one example) must sum to 1; yours do not."
        if np.allclose(y_hat.sum(axis=1), 1.0) and K != N:
            hint = (
                "Your rows sum to 1: you normalised over the wrong axis. Examples are "
                "columns, so the sum runs over the classes, axis=0 (keepdims=True)."
            )
        elif np.allclose(y_hat, np.exp(z)):
            hint = "You returned e^z without dividing by the column sums Σ_j e^{z_j}."
    check_close(name, y_hat, expected, rtol=1e-8, atol=1e-12, reveal=reveal, hint=hint)
    return y_hat


# --------------------------------------------------------------------------- cross-entropy


def check_ce_loss(loss_fn, z, Y, *, reveal=True):
    """Fail unless ``loss_fn(z, Y)`` is J = −(1/N) Σ_n Σ_k Y_kn log softmax(z)_kn.

    Parameters
    ----------
    loss_fn : callable
        The student's ``cross_entropy_loss(z, Y) -> float``.
    z, Y : ndarray, shape (K, N)
    reveal : bool

    Returns
    -------
    float
        The student's J.
    """
    z = np.asarray(z, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    K, N = z.shape
    J = call(loss_fn, z.copy(), Y.copy(), what="cross_entropy_loss")
    arr = np.asarray(J, dtype=np.float64) if _numeric(J) else None
    if arr is None or arr.size != 1:
        raise GradingFailure(
            "cross_entropy_loss must return one number (the batch-averaged loss J), got "
            f"{type(J).__name__}{'' if arr is None else ' of shape ' + str(arr.shape)}."
        )
    J = float(arr.reshape(()))
    expected = float(-np.sum(Y * log_softmax(z)) / N)
    hint = None
    if expected != 0.0 and np.isfinite(J):
        ratio = J / expected
        for value, sentence in (
            (-1.0, "The sign is flipped: J = −(1/N) Σ y log ŷ is positive, since log ŷ ≤ 0."),
            (float(N), f"It is N = {N} times too large: average over the N examples (1/N)."),
            (1.0 / N, f"It is N = {N} times too small: the 1/N is applied twice."),
            (
                1.0 / K,
                f"It is K = {K} times too small: you averaged over the classes too. Sum over "
                "the classes k, average over the examples n only (1/N).",
            ),
        ):
            if abs(ratio - value) <= 1e-6 * abs(value):
                hint = sentence
                break
        else:
            if np.isclose(J, float(-np.sum(np.log(softmax(z))) / N), rtol=1e-6):
                hint = "You summed log ŷ over all classes: weight each term by its target y_k."
            elif np.isclose(J, float(-np.sum(Y * z) / N), rtol=1e-6):
                hint = "You used the logits z where log ŷ = log softmax(z) belongs."
    check_close("J = cross_entropy_loss(z, Y)", J, expected, rtol=1e-7, reveal=reveal, hint=hint)
    return J


def _numeric(value):
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except Exception:  # noqa: BLE001
        return False


def ce_gradient_suspects(z, Y):
    """Gradients ∂J/∂z that typical bugs produce for J = −(1/N) Σ y log softmax(z).

    Parameters
    ----------
    z, Y : ndarray, shape (K, N)

    Returns
    -------
    dict of str to ndarray, shape (K, N)
        Sentence naming the bug -> the gradient it gives.
    """
    N = z.shape[1]
    y_hat = softmax(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_yhat = -Y / y_hat
    return {
        "you used the logits z where ŷ = softmax(z) belongs: ∂J/∂z = (ŷ − y)/N": (z - Y) / N,
        "the logits z where ŷ = softmax(z) belongs, and the 1/N is missing": z - Y,
        "this is ∂J/∂ŷ = −y/ŷ, not ∂J/∂z: the softmax Jacobian ∂ŷ_l/∂z_j = ŷ_l(δ_lj − ŷ_j) "
        "is missing (summed over l it turns −y/ŷ into ŷ − y)": d_yhat / N,
        "you kept only the diagonal of the softmax Jacobian, ŷ_j(1 − ŷ_j), as if softmax "
        "were a sigmoid per class: every output ŷ_l depends on every logit z_j, and the "
        "off-diagonal terms −ŷ_l ŷ_j complete ŷ − y": -Y * (1.0 - y_hat) / N,
    }


def check_ce_gradient(grad_fn, loss_fn, z, Y, *, reveal=True):
    """Fail unless ``grad_fn(z, Y)`` matches finite differences of the student's loss.

    Parameters
    ----------
    grad_fn : callable
        The student's ``softmax_cross_entropy_grad(z, Y) -> ∂J/∂z``.
    loss_fn : callable
        The student's ``cross_entropy_loss(z, Y) -> J``: the function differentiated.
    z, Y : ndarray, shape (K, N)
    reveal : bool

    Returns
    -------
    GradientCheck
    """
    z = np.asarray(z, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    # The loss is what the gradient is judged against: say so plainly if it cannot run.
    call(loss_fn, z.copy(), Y.copy(), what="cross_entropy_loss (the function differentiated)")
    grad = call(grad_fn, z.copy(), Y.copy(), what="softmax_cross_entropy_grad")

    def J_of_z(zz):
        return loss_fn(zz, Y.copy())

    return check_gradient_of(
        "∂J/∂z",
        J_of_z,
        z,
        grad,
        reveal=reveal,
        suspects=ce_gradient_suspects(z, Y),
        batch_size=z.shape[1],
    )


# --------------------------------------------------------------------------- sigmoid layer


@dataclass
class LayerCase:
    """Inputs of one sigmoid-layer check.

    Attributes
    ----------
    a_prev : ndarray, shape (n_{m-1}, N)
    W : ndarray, shape (n_m, n_{m-1})
    b : ndarray, shape (n_m, 1)
    dJ_da : ndarray, shape (n_m, N)
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


def layer_case(n_prev, n, N, seed):
    """A random LayerCase with weights of order 1 (so σ'(z) varies between units)."""
    rng = np.random.default_rng(seed)
    return LayerCase(
        a_prev=rng.normal(size=(n_prev, N)),
        W=rng.normal(size=(n, n_prev)),
        b=rng.normal(size=(n, 1)),
        dJ_da=rng.normal(size=(n, N)) / N,
    )


def _forward_suspects(case):
    z_nob = case.W @ case.a_prev
    z = z_nob + case.b
    return {
        "the bias b is missing from z = W a_prev + b": sigmoid(z_nob),
        "σ was not applied: the layer's output is a = σ(z), not z": z,
        "that looks like tanh(z); this layer uses the sigmoid σ(z) = 1/(1 + e^{−z})": np.tanh(z),
    }


def _forward_diagnosis(forward_fn, case):
    """None when the student's forward is right on `case`, else a short sentence."""
    try:
        with quiet():
            out = forward_fn(case.a_prev.copy(), case.W.copy(), case.b.copy())
        a = np.asarray(out[0], dtype=np.float64)
    except Exception:  # noqa: BLE001 - reported by the forward's own test
        return "it does not run"
    expected = sigmoid(case.W @ case.a_prev + case.b)
    if a.shape == expected.shape and np.allclose(a, expected, rtol=1e-8, atol=1e-12):
        return None
    for sentence, model in _forward_suspects(case).items():
        if a.shape == model.shape and np.allclose(a, model, rtol=1e-8, atol=1e-12):
            return sentence
    return "its output differs from σ(W a_prev + b)"


def _unpack(out, n, what, names):
    if not isinstance(out, tuple | list) or len(out) != n:
        raise GradingFailure(
            f"{what} must return a tuple ({', '.join(names)}), got "
            f"{type(out).__name__}{'' if not isinstance(out, tuple | list) else f' of length {len(out)}'}."
        )
    return out


def check_layer_forward(forward_fn, case, *, reveal=True):
    """Fail unless ``forward_fn(a_prev, W, b)`` returns (σ(W a_prev + b), cache).

    Parameters
    ----------
    forward_fn : callable
        The student's ``sigmoid_layer_forward``.
    case : LayerCase
    reveal : bool

    Returns
    -------
    ndarray
        The student's a.
    """
    what = "sigmoid_layer_forward"
    out = call(forward_fn, case.a_prev.copy(), case.W.copy(), case.b.copy(), what=what)
    a, _ = _unpack(out, 2, what, ("a", "cache"))
    n, N = case.W.shape[0], case.N
    a = check_shape(f"a from {what} (n_m = {n}, N = {N})", a, (n, N))
    expected = sigmoid(case.W @ case.a_prev + case.b)
    hint = None
    for sentence, model in _forward_suspects(case).items():
        if np.allclose(a, model, rtol=1e-8, atol=1e-12):
            hint = "Likely bug: " + sentence + "."
            break
    check_close(f"a from {what}", a, expected, rtol=1e-8, atol=1e-12, reveal=reveal, hint=hint)
    return a


def layer_suspects(case):
    """What typical bugs make of (da_prev, dW, db) for the sigmoid layer on `case`.

    Returns
    -------
    dict
        {"da_prev": {sentence: array}, "dW": {...}, "db": {...}}; a bug that does not
        change a gradient, or gives it another shape, is left out of that entry.
    """
    a_prev, W, b, G = case.a_prev, case.W, case.b, case.dJ_da
    a = sigmoid(W @ a_prev + b)
    right = G * a * (1.0 - a)
    deltas = {
        "missing σ'(z): δ = ∂J/∂a ∘ σ'(z) with σ'(z) = a(1 − a); you used ∂J/∂a alone": G,
        "σ' evaluated at a instead of z: σ'(z) = σ(z)(1 − σ(z)) = a(1 − a) from the cached "
        "output, whereas sigmoid_prime(a) computes σ'(σ(z))": G * sigmoid_prime(a),
        "only a factor a of σ'(z) = a(1 − a) is there; (1 − a) is missing": G * a,
    }
    out = {"da_prev": {}, "dW": {}, "db": {}}
    for sentence, delta in deltas.items():
        out["da_prev"][sentence] = W.T @ delta
        out["dW"][sentence] = delta @ a_prev.T
        out["db"][sentence] = delta.sum(axis=1, keepdims=True)
    out["db"][
        "the bias gradient is δ averaged over the batch (mean) instead of summed: the 1/N "
        "is already inside ∂J/∂a, so divide by N only once"
    ] = right.mean(axis=1, keepdims=True)
    out["da_prev"][
        "you multiplied by σ' of the layer's input, a_prev(1 − a_prev): that factor belongs "
        "to the layer below's own backward, which receives da_prev"
    ] = (W.T @ right) * a_prev * (1.0 - a_prev)
    if W.shape[0] == W.shape[1]:
        out["da_prev"][
            "W δ instead of Wᵀ δ: ∂J/∂x_i = Σ_j ∂J/∂z_j w_ij sums over the outputs j, which "
            "in the course's W^m = Wᵀ is (W^m)ᵀ δ (looks transposed)"
        ] = W @ right
        out["dW"][
            "∂J/∂W looks transposed: ∂J/∂W^m = δ (a_prev)ᵀ, rows follow the outputs, "
            "columns the inputs"
        ] = a_prev @ right.T
    return out


_LAYER_GRADS = {
    "da_prev": ("∂J/∂a_prev (da_prev)", 0),
    "dW": ("∂J/∂W (dW)", 1),
    "db": ("∂J/∂b (db)", 2),
}


def _matching_suspect(value, suspects):
    """Sentence of a suspect with the same shape and values as `value`, or None."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    for sentence, model in suspects.items():
        model = np.asarray(model, dtype=np.float64)
        if arr.shape == model.shape and np.allclose(arr, model, rtol=1e-6, atol=1e-10):
            return sentence
    return None


def check_layer_backward(which, forward_fn, backward_fn, case, *, reveal=True):
    """Fail unless one output of the student's backward matches their forward's slope.

    J = Σ dJ_da ∘ a(a_prev, W, b), with a from the student's ``sigmoid_layer_forward``;
    its finite differences with respect to `which` judge the gradient returned by
    ``sigmoid_layer_backward(dJ_da, cache)``.

    Parameters
    ----------
    which : {"da_prev", "dW", "db"}
    forward_fn, backward_fn : callable
        The student's forward and backward.
    case : LayerCase
    reveal : bool

    Returns
    -------
    GradientCheck
    """
    label, pos = _LAYER_GRADS[which]
    out = call(
        forward_fn,
        case.a_prev.copy(),
        case.W.copy(),
        case.b.copy(),
        what="sigmoid_layer_forward",
    )
    _, cache = _unpack(out, 2, "sigmoid_layer_forward", ("a", "cache"))
    try:
        grads = call(backward_fn, case.dJ_da.copy(), cache, what="sigmoid_layer_backward")
    except GradingFailure as failure:
        if not any(w in str(failure) for w in ("matmul", "shapes", "broadcast", "aligned")):
            raise
        raise GradingFailure(
            f"{failure}\nHint: a matrix product with the wrong shapes. With W of shape "
            "(n_m, n_{m-1}) and δ of shape (n_m, N), da_prev = Wᵀ δ needs the transpose "
            "(the lecture's Σ_j ∂J/∂z_j w_ij sums over the outputs j), and dW = δ a_prevᵀ is "
            "(n_m, N) times (N, n_{m-1})."
        ) from None
    grads = _unpack(grads, 3, "sigmoid_layer_backward", ("da_prev", "dW", "db"))
    grad = grads[pos]
    suspects = layer_suspects(case)[which]
    point = {"da_prev": case.a_prev, "dW": case.W, "db": case.b}[which]
    G = case.dJ_da

    def J(x):
        args = {
            "da_prev": (x, case.W.copy(), case.b.copy()),
            "dW": (case.a_prev.copy(), x, case.b.copy()),
            "db": (case.a_prev.copy(), case.W.copy(), x),
        }[which]
        a = forward_fn(*args)[0]
        return float(np.sum(G * np.asarray(a, dtype=np.float64)))

    try:
        # A wrongly shaped gradient that a known bug explains is named before the
        # generic shape message.
        if _numeric(grad) and np.shape(grad) != point.shape:
            sentence = _matching_suspect(grad, suspects)
            if sentence:
                raise GradingFailure(
                    f"{label} has shape {np.shape(grad)}, expected {point.shape}.\n"
                    f"Likely bug: {sentence}"
                )
        return check_gradient_of(
            label, J, point, grad, reveal=reveal, suspects=suspects, batch_size=case.N
        )
    except GradingFailure as failure:
        problem = _forward_diagnosis(forward_fn, case)
        if problem is None:
            raise
        raise GradingFailure(
            f"{failure}\nNote: your sigmoid_layer_forward is wrong on this case too ({problem}); "
            "this gradient is checked against YOUR forward, so fix the forward first."
        ) from None
