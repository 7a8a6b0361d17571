"""Checks behind notebook 07-regularization: L2 weight decay, dropout, early stopping.

Gradients are judged against finite differences of the student's own penalised loss (or
own dropout forward with a fixed mask); the loss values are judged against known values,
so a wrong forward costs only the forward's points.  The suspects are gradients and
values that the named bugs produce, computed here by planting each bug in a reference.
"""

from __future__ import annotations

import copy

import numpy as np

from course import network
from course.activations import get_activation
from course.grading import GradingFailure, call, check_close, check_param_gradient, check_shape
from course.losses import softmax_cross_entropy
from course.training import best_epoch

__all__ = [
    "BIAS_BUG",
    "check_dropout_expectation",
    "check_dropout_forward",
    "check_dropout_grads",
    "check_early_run",
    "check_early_stopping",
    "check_l2_grads",
    "check_l2_value",
    "dropout_problem",
    "l2_problem",
    "validation_loss",
]

BIAS_BUG = "the L2 penalty must not touch the biases"


def l2_problem(seed=0, sizes=(4, 5, 3), N=6, activation="tanh"):
    """Small parameters with non-zero biases, data and one-hot targets.

    Returns
    -------
    params : dict
    X : ndarray, shape (sizes[0], N)
    Y : ndarray, shape (sizes[-1], N)
    """
    rng = np.random.default_rng(seed)
    params = network.init_params(list(sizes), "xavier", rng)
    for k in params:
        if k.startswith("b"):
            params[k] = rng.normal(0.0, 0.5, params[k].shape)
    X = rng.normal(size=(sizes[0], N))
    Y = np.zeros((sizes[-1], N))
    Y[rng.integers(0, sizes[-1], N), np.arange(N)] = 1.0
    return params, X, Y


def _l2_reference(params, X, Y, lam, activation, *, biases=False, factor=0.5, grad_factor=1.0):
    J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
    for k, v in params.items():
        if k.startswith("W") or biases:
            J += factor * lam * float(np.sum(v * v))
            grads[k] = grads[k] + grad_factor * lam * v
    return J, grads


def _call_l2(fn, params, X, Y, lam, activation):
    out = call(
        fn, copy.deepcopy(params), X, Y, lam, activation=activation, what="l2_loss_and_grads"
    )
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
        raise GradingFailure("l2_loss_and_grads must return (J_hat, grads) with grads a dict.")
    return out


def check_l2_value(fn, params, X, Y, lam, activation="tanh", reveal=True):
    """Ĵ = J + (λ/2) Σ_m ‖W^m‖² at `params`, against the known value."""
    J_hat, _ = _call_l2(fn, params, X, Y, lam, activation)
    expected, _ = _l2_reference(params, X, Y, lam, activation)
    try:
        value = float(np.asarray(J_hat, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise GradingFailure(f"J_hat must be one number, got {type(J_hat).__name__}.") from None
    named = {
        BIAS_BUG + ": Ĵ adds (λ/2)‖b^m‖² too": _l2_reference(
            params, X, Y, lam, activation, biases=True
        )[0],
        "the penalty is (λ/2) Σ‖W^m‖², yours has λ Σ‖W^m‖² (the ½ is missing)": _l2_reference(
            params, X, Y, lam, activation, factor=1.0
        )[0],
        "the penalty is missing: Ĵ must add (λ/2) Σ_m ‖W^m‖² to J": _l2_reference(
            params, X, Y, 0.0, activation
        )[0],
        "the penalty has the wrong sign: Ĵ = J + (λ/2) Σ‖W^m‖²": _l2_reference(
            params, X, Y, -lam, activation
        )[0],
    }
    hint = None
    for sentence, wrong in named.items():
        if abs(value - wrong) <= 1e-9 * max(1.0, abs(wrong)) and abs(wrong - expected) > 1e-9:
            hint = "Likely bug: " + sentence
            break
    check_close("J_hat", value, expected, rtol=1e-9, atol=1e-12, reveal=reveal, hint=hint)
    return value


def check_l2_grads(fn, params, X, Y, lam, keys, activation="tanh", reveal=True):
    """∂Ĵ/∂θ for each θ in `keys` against finite differences of the student's own Ĵ."""
    _, grads = _call_l2(fn, params, X, Y, lam, activation)
    _, g_right = _l2_reference(params, X, Y, lam, activation)
    _, g_bias = _l2_reference(params, X, Y, lam, activation, biases=True)
    _, g_two = _l2_reference(params, X, Y, lam, activation, grad_factor=2.0)
    _, g_neg = _l2_reference(params, X, Y, lam, activation, grad_factor=-1.0)
    _, g_none = _l2_reference(params, X, Y, 0.0, activation)

    def loss_of_params(p):
        J_hat, _ = fn(p, X, Y, lam, activation=activation)
        return J_hat

    for k in keys:
        if k.startswith("W"):
            suspects = {
                "the gradient of (λ/2)‖W‖² is λW: yours adds 2λW (factor 2 in the "
                "weight-decay term)": g_two[k],
                "the weight-decay term has the wrong sign: add +λW^m to ∂J/∂W^m": g_neg[k],
                "λW^m is missing from the gradient (the penalty is in Ĵ but not in ∂Ĵ/∂W^m)": (
                    g_none[k]
                ),
            }
        else:
            suspects = {BIAS_BUG + ": λb^m was added to ∂Ĵ/∂b^m": g_bias[k]}
        suspects = {s: v for s, v in suspects.items() if not np.allclose(v, g_right[k])}
        check_param_gradient(
            f"∂Ĵ/∂{k}",
            loss_of_params,
            params,
            grads,
            key=k,
            reveal=reveal,
            suspects=suspects,
            batch_size=X.shape[1],
        )


# -- dropout ------------------------------------------------------------------------------


def _call_dropout(fn, a, p, rng=None, mask=None):
    out = call(fn, np.array(a, dtype=np.float64), p, rng=rng, mask=mask, what="dropout_forward")
    if not (isinstance(out, tuple) and len(out) == 2):
        raise GradingFailure("dropout_forward must return (out, mask).")
    return check_shape("out", out[0], np.shape(a)), check_shape("mask", out[1], np.shape(a))


def check_dropout_forward(fn, p=0.25, shape=(40, 50), seed=0):
    """Mask entries 0 or 1/(1−p), about a fraction p dropped, out = a ∘ mask, reuse, p = 0."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 1.5, shape)
    out, mask = _call_dropout(fn, a, p, rng=np.random.default_rng(seed + 1))
    keep = 1.0 / (1.0 - p)
    values = np.unique(np.round(mask, 12))
    if not set(values.tolist()) <= {0.0, round(keep, 12)}:
        hint = ""
        if set(values.tolist()) <= {0.0, 1.0}:
            hint = (
                f" Likely bug: the 1/(1−p) scaling is missing: the kept units must be "
                f"multiplied by 1/(1−p) = {keep:g} so that E[out] = a."
            )
        raise GradingFailure(
            f"with p = {p} the mask must hold only 0 (dropped) and 1/(1−p) = {keep:g} (kept); "
            f"yours holds {values[:6].tolist()}.{hint}"
        )
    dropped = float(np.mean(mask == 0))
    # 2000 units: the dropped fraction has a standard deviation of about 0.01.
    if abs(dropped - p) > 0.05:
        raise GradingFailure(
            f"with p = {p} a fraction {dropped:.3f} of the units was dropped: each unit must be "
            "dropped with probability p (e.g. rng.random(shape) < p), kept otherwise."
        )
    if not np.allclose(out, a * mask, rtol=1e-12, atol=0):
        raise GradingFailure("out must be a ∘ mask (elementwise), with the mask you return.")
    fixed = np.where(rng.random(shape) < p, 0.0, keep)
    out2, mask2 = _call_dropout(fn, a, p, rng=None, mask=fixed)
    if not (np.array_equal(mask2, fixed) and np.allclose(out2, a * fixed, rtol=1e-12, atol=0)):
        raise GradingFailure(
            "given a mask, dropout_forward must use it as it is (out = a ∘ mask) and return it: "
            "that is how a gradient check, and the backward pass, reuse the forward's mask."
        )
    out0, _ = _call_dropout(fn, a, 0.0, rng=np.random.default_rng(seed + 2))
    if not np.allclose(out0, a, rtol=1e-12, atol=0):
        raise GradingFailure(
            "with p = 0 (test time) nothing may be dropped or rescaled: out must equal a."
        )


def check_dropout_expectation(fn, p=0.4, draws=400, seed=0):
    """E[out] = a: the mean of many training-time outputs is the test-time activation."""
    a = np.linspace(0.2, 2.0, 30).reshape(5, 6)
    rng = np.random.default_rng(seed)
    total = np.zeros_like(a)
    for _ in range(draws):
        total += _call_dropout(fn, a, p, rng=rng)[0]
    mean = total / draws
    # Each entry's mean has a relative standard deviation of sqrt(p / ((1−p) draws)) ≈ 0.04.
    ratio = float(np.sum(mean * a) / np.sum(a * a))
    if abs(ratio - 1.0) > 0.03:
        hint = " Drop each unit with probability p and scale the kept ones by 1/(1−p)."
        if abs(ratio - (1.0 - p)) < 0.03:
            hint = (
                f" Likely bug: the 1/(1−p) scaling is missing: without it E[out] = (1−p)·a = "
                f"{1 - p:g}·a, so at test time (nothing dropped) the next layer would see "
                "larger inputs than in training."
            )
        raise GradingFailure(
            f"averaged over {draws} draws with p = {p}, the training-time output is about "
            f"{ratio:.3f}·a, but it must be a on average (then the test-time activation, "
            f"with nothing dropped, is what the next layer saw in training).{hint}"
        )
    return ratio


def dropout_problem(seed=0, sizes=(4, 6, 3), N=5, p=0.5):
    """Parameters, data, targets and a fixed dropout mask for the hidden layer."""
    params, X, Y = l2_problem(seed, sizes, N)
    rng = np.random.default_rng(seed + 100)
    mask = np.where(rng.random((sizes[1], N)) < p, 0.0, 1.0 / (1.0 - p))
    mask[:, 0] = 1.0 / (1.0 - p)  # keep some units for sure, so every weight matters
    return params, X, Y, mask


def _dropout_reference(params, X, Y, mask, activation, backward_mask):
    act = get_activation(activation)
    z1 = params["W1"] @ X + params["b1"]
    h = act.f(z1)
    a1 = h * mask
    z2 = params["W2"] @ a1 + params["b2"]
    J, delta2 = softmax_cross_entropy(z2, Y)
    grads = {"W2": delta2 @ a1.T, "b2": delta2.sum(axis=1, keepdims=True)}
    delta1 = act.f_prime(z1) * (params["W2"].T @ delta2) * backward_mask
    grads["W1"] = delta1 @ X.T
    grads["b1"] = delta1.sum(axis=1, keepdims=True)
    return J, grads


def _call_dropout_net(fn, params, X, Y, p, mask, seed, activation):
    out = call(
        fn,
        copy.deepcopy(params),
        X,
        Y,
        p,
        rng=np.random.default_rng(seed),
        mask=None if mask is None else mask.copy(),
        activation=activation,
        what="dropout_loss_and_grads",
    )
    if not (isinstance(out, tuple) and len(out) == 3 and isinstance(out[1], dict)):
        raise GradingFailure("dropout_loss_and_grads must return (J, grads, mask).")
    return out


def check_dropout_grads(fn, keys, p=0.5, seed=0, activation="tanh", reveal=True):
    """Gradients with a fixed mask against finite differences of the student's forward."""
    params, X, Y, mask = dropout_problem(seed, p=p)
    _, grads, _ = _call_dropout_net(fn, params, X, Y, p, mask, seed + 1, activation)
    _, again, _ = _call_dropout_net(fn, params, X, Y, p, mask, seed + 2, activation)
    for k in keys:
        if k in grads and k in again and not np.allclose(grads[k], again[k], rtol=1e-10):
            raise GradingFailure(
                f"∂J/∂{k} changed between two calls with the same mask (only the rng "
                "differed): the backward pass draws a fresh mask. It must reuse the mask of "
                "the forward pass, the one that decided which units took part."
            )
    _, g_nomask = _dropout_reference(params, X, Y, mask, activation, 1.0)
    _, g_unscaled = _dropout_reference(params, X, Y, mask, activation, mask * (1.0 - p))
    _, g_twice = _dropout_reference(params, X, Y, mask, activation, mask * mask)

    def loss_of_params(P):
        J, _, _ = fn(
            P, X, Y, p, rng=np.random.default_rng(seed + 3), mask=mask.copy(), activation=activation
        )
        return J

    for k in keys:
        suspects = {}
        if k in ("W1", "b1"):
            suspects = {
                "the mask is missing from the backward pass: dropped units pass no gradient, "
                "so ∂J/∂h¹ = mask ∘ (W²)ᵀδ²": g_nomask[k],
                "the backward pass uses the mask without its 1/(1−p) scaling (reuse the very "
                "mask of the forward pass)": g_unscaled[k],
                "the mask is applied twice in the backward pass": g_twice[k],
            }
        check_param_gradient(
            f"∂J/∂{k}",
            loss_of_params,
            params,
            grads,
            key=k,
            reveal=reveal,
            suspects=suspects,
            batch_size=X.shape[1],
        )


# -- early stopping -----------------------------------------------------------------------


def check_early_stopping(fn, val_losses, patience, reveal=True):
    """(best, stop) on a given validation-loss history."""
    expected = best_epoch(val_losses, patience)
    out = call(fn, list(val_losses), patience, what="early_stopping")
    try:
        best, stop = (int(v) for v in out)
    except (TypeError, ValueError):
        raise GradingFailure(
            f"early_stopping must return two integers (best, stop), got {out!r}."
        ) from None
    if (best, stop) == expected:
        return best, stop
    shown = f", expected ({expected[0]}, {expected[1]})" if reveal else ""
    text = f"early_stopping({list(np.round(val_losses, 3))}, patience={patience}) gave " + (
        f"(best, stop) = ({best}, {stop}){shown}."
    )
    if best != expected[0]:
        if best == stop or best == len(val_losses) - 1:
            text += (
                "\nLikely bug: it returns the last epoch as the best one: keep the epoch with "
                "the lowest validation loss seen so far."
            )
        else:
            text += (
                "\nThe best epoch is the one with the lowest validation loss up to the stop "
                "(the first one on ties)."
            )
    elif stop == expected[1] + 1 or stop == expected[1] - 1:
        text += (
            "\nLikely bug: the stop is off by one epoch: stop at the first epoch that is "
            "`patience` epochs after the best one."
        )
    else:
        text += (
            "\nStop at the first epoch that comes `patience` epochs after the best one (or at "
            "the last epoch if that never happens)."
        )
    raise GradingFailure(text)


def validation_loss(params, X, Y, activation="tanh"):
    """Mean cross-entropy (nats) of the network on (X, Y), without dropout."""
    return softmax_cross_entropy(network.predict(params, X, activation), Y)[0]


def check_early_run(
    fn,
    split,
    *,
    init_seed,
    seed,
    max_epochs,
    lr,
    batch_size,
    patience,
    hidden=64,
    activation="tanh",
):
    """A real run: the history follows the rule, and the parameters are the best epoch's."""
    params0 = network.init_params([64, hidden, 10], "xavier", np.random.default_rng(init_seed))
    out = call(
        fn,
        copy.deepcopy(params0),
        split,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        patience=patience,
        rng=np.random.default_rng(seed),
        activation=activation,
        what="train_with_early_stopping",
    )
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], dict)):
        raise GradingFailure("train_with_early_stopping must return (params, val_losses).")
    params, losses = out
    losses = [float(v) for v in losses]
    v0 = validation_loss(params0, split.X_val, split.Y_val, activation)
    if not losses or abs(losses[0] - v0) > 1e-9 * max(1.0, v0):
        raise GradingFailure(
            "val_losses[0] must be the validation loss of the untrained network (epoch 0), "
            "followed by one value after each epoch."
        )
    best, stop = best_epoch(losses, patience)
    last = len(losses) - 1
    patience_ran_out = last - best >= patience
    if last > max_epochs or stop != last or (not patience_ran_out and last != max_epochs):
        rule = (
            f"training stops at epoch {stop} (best epoch {best})"
            if stop < last or patience_ran_out
            else f"training continues to epoch {max_epochs} unless patience runs out"
        )
        raise GradingFailure(
            f"your history has {len(losses)} values (epochs 0..{last}), but with patience "
            f"{patience} and max_epochs {max_epochs} {rule}: stop as soon as {patience} epochs "
            "have passed without a new lowest validation loss, or after max_epochs."
        )
    got = validation_loss(params, split.X_val, split.Y_val, activation)
    if abs(got - losses[best]) > 1e-9 * max(1.0, losses[best]):
        which = ""
        if abs(got - losses[-1]) <= 1e-9 * max(1.0, losses[-1]):
            which = f" which is that of the last epoch ({len(losses) - 1})"
        raise GradingFailure(
            f"the parameters you returned have validation loss {got:.6g}{which}, but the best "
            f"epoch ({best}) had {losses[best]:.6g}: return the parameters of the best epoch, "
            "saved as a copy when it happened (copy.deepcopy), not the last epoch's."
        )
    return best, stop
