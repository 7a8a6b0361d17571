"""Checks behind notebook 05-training: minibatch SGD, symmetry, learning rate, digits.

The student's SGD loop is judged by what it does, not by how it draws random numbers:
a spy stands in for :func:`course.network.loss_and_grads` while the loop runs and
records which examples each minibatch holds, the parameters it was called with and
the gradients it returned.  From that record follow the batches of every epoch (all
examples exactly once, in batches of the requested size), whether the order is
reshuffled every epoch, and whether each update is W ← W − α ∂J/∂W.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np

from course import network
from course.grading import GradingFailure, call, check_close, check_shape

__all__ = [
    "SpyRecord",
    "check_chosen_lr",
    "check_confusion_matrix",
    "check_digits_accuracy",
    "check_sgd_batches",
    "check_sgd_reshuffle",
    "check_sgd_step",
    "check_symmetric_run",
    "check_unit_spread",
    "constant_init_reference",
    "sgd_problem",
    "spy_on_loss_and_grads",
]


class SpyRecord:
    """What a training loop asked of ``network.loss_and_grads``, call by call.

    Attributes
    ----------
    batches : list of ndarray of int
        Column indices (into the full X) of each call's minibatch.
    params : list of dict
        A copy of the parameters each call received.
    grads : list of dict
        The gradients each call returned.
    """

    def __init__(self, X):
        # Row 0 of the test data holds distinct values, so a minibatch's columns
        # identify the examples it holds, however the student sliced them.
        self._index = {float(v): n for n, v in enumerate(X[0])}
        self.batches, self.params, self.grads = [], [], []

    def identify(self, X_batch):
        try:
            return np.array([self._index[float(v)] for v in np.asarray(X_batch)[0]])
        except (KeyError, IndexError, TypeError):
            raise GradingFailure(
                "network.loss_and_grads received columns that are not examples of X: pass "
                "X[:, idx] and Y[:, idx] for the minibatch's indices idx (examples are columns)."
            ) from None


@contextlib.contextmanager
def spy_on_loss_and_grads(X):
    """Replace ``course.network.loss_and_grads`` by a recording wrapper for a while.

    Parameters
    ----------
    X : ndarray, shape (n_0, N)
        The full training set handed to the loop (row 0 must hold distinct values).

    Yields
    ------
    SpyRecord
    """
    record = SpyRecord(X)
    original = network.loss_and_grads

    def spy(params, X_batch, Y_batch, *args, **kwargs):
        record.batches.append(record.identify(X_batch))
        record.params.append({k: np.array(v, dtype=np.float64) for k, v in params.items()})
        J, grads, caches = original(params, X_batch, Y_batch, *args, **kwargs)
        record.grads.append({k: g.copy() for k, g in grads.items()})
        return J, grads, caches

    network.loss_and_grads = spy
    try:
        yield record
    finally:
        network.loss_and_grads = original


def sgd_problem(N=10, n_in=3, n_hidden=4, K=2, seed=0):
    """A small classification problem whose first input row tells examples apart.

    Returns
    -------
    params : dict
        A [n_in, n_hidden, K] network, xavier init.
    X : ndarray, shape (n_in, N)
    Y : ndarray, shape (K, N)
        One-hot targets.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_in, N))
    X[0] = np.linspace(-1.0, 1.0, N) + rng.uniform(-0.01, 0.01, N)
    Y = np.zeros((K, N))
    Y[rng.integers(0, K, N), np.arange(N)] = 1.0
    params = network.init_params([n_in, n_hidden, K], "xavier", rng)
    return params, X, Y


def _run(train_sgd, params, X, Y, *, epochs, lr, batch_size, seed):
    with spy_on_loss_and_grads(X) as record:
        out = call(
            train_sgd,
            copy.deepcopy(params),
            X,
            Y,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            rng=np.random.default_rng(seed),
            what="train_sgd",
        )
    if not record.batches:
        raise GradingFailure(
            "train_sgd never called network.loss_and_grads: compute each minibatch's "
            "gradients with network.loss_and_grads(params, X[:, idx], Y[:, idx], ...), "
            "called through the module (not a name imported from it)."
        )
    if not isinstance(out, dict) or not all(k in out for k in params):
        raise GradingFailure(
            f"train_sgd must return the trained parameters as a dict with keys "
            f"{sorted(params)}, got {type(out).__name__}."
        )
    return out, record


def _epochs_of(record, N, batch_size, epochs):
    """Split the recorded batches into epochs, checking sizes on the way."""
    n_batches = -(-N // batch_size)
    expected_calls = epochs * n_batches
    if len(record.batches) != expected_calls:
        sizes = [len(b) for b in record.batches]
        raise GradingFailure(
            f"with N = {N} examples, batch_size = {batch_size} and {epochs} epoch(s) there "
            f"should be {expected_calls} minibatches ({n_batches} per epoch, the last one "
            f"smaller when batch_size does not divide N), but train_sgd computed "
            f"{len(record.batches)} with sizes {sizes}: every example must be used once per "
            "epoch."
        )
    return [record.batches[e * n_batches : (e + 1) * n_batches] for e in range(epochs)]


def check_sgd_batches(train_sgd, N=10, batch_size=4, seed=0):
    """One epoch: every example exactly once, in batches of `batch_size`, shuffled."""
    params, X, Y = sgd_problem(N=N, seed=seed)
    _, record = _run(train_sgd, params, X, Y, epochs=1, lr=0.1, batch_size=batch_size, seed=seed)
    (epoch,) = _epochs_of(record, N, batch_size, 1)
    sizes = [len(b) for b in epoch]
    expected = [min(batch_size, N - s) for s in range(0, N, batch_size)]
    if sizes != expected:
        raise GradingFailure(
            f"the minibatch sizes of one epoch are {sizes}, expected {expected}: consecutive "
            f"slices of batch_size = {batch_size} examples, the last one holding the rest."
        )
    order = np.concatenate(epoch)
    if sorted(order.tolist()) != list(range(N)):
        missing = sorted(set(range(N)) - set(order.tolist()))
        raise GradingFailure(
            f"one epoch must use every example exactly once; examples {missing} were never "
            "used and others were used twice."
        )
    if np.array_equal(order, np.arange(N)):
        raise GradingFailure(
            "the examples were visited in their stored order 0, 1, ..., N−1: shuffle them "
            "at the start of every epoch with the rng you were given (rng.permutation(N))."
        )
    return order


def check_sgd_reshuffle(train_sgd, N=10, batch_size=4, epochs=3, seed=0):
    """A fresh order every epoch, drawn from the rng passed in (same seed, same run)."""
    params, X, Y = sgd_problem(N=N, seed=seed)
    _, rec1 = _run(train_sgd, params, X, Y, epochs=epochs, lr=0.1, batch_size=batch_size, seed=seed)
    orders = [np.concatenate(e) for e in _epochs_of(rec1, N, batch_size, epochs)]
    if all(np.array_equal(o, orders[0]) for o in orders[1:]):
        how = "stored order" if np.array_equal(orders[0], np.arange(N)) else "same shuffled order"
        raise GradingFailure(
            f"all {epochs} epochs visited the examples in the {how}: no reshuffle. Draw a "
            "fresh permutation with rng at the start of *each* epoch, inside the epoch loop, "
            "so that the minibatches differ from epoch to epoch."
        )
    _, rec2 = _run(train_sgd, params, X, Y, epochs=epochs, lr=0.1, batch_size=batch_size, seed=seed)
    _, rec3 = _run(
        train_sgd, params, X, Y, epochs=epochs, lr=0.1, batch_size=batch_size, seed=seed + 1
    )
    same_seed = all(np.array_equal(a, b) for a, b in zip(rec1.batches, rec2.batches, strict=True))
    if not same_seed:
        raise GradingFailure(
            "two runs with np.random.default_rng(seed) of the same seed shuffled differently: "
            "draw the shuffle from the rng argument only (not np.random.* or a new generator), "
            "so that a run can be repeated."
        )
    if all(np.array_equal(a, b) for a, b in zip(rec1.batches, rec3.batches, strict=True)):
        raise GradingFailure(
            "runs with different seeds shuffled identically: the shuffle must come from the "
            "rng argument, not from a generator with a fixed seed of your own."
        )


def check_sgd_step(train_sgd, N=10, batch_size=4, epochs=2, lr=0.3, seed=0):
    """Every update is θ ← θ − α ∂J/∂θ with the gradient of the minibatch just computed."""
    params, X, Y = sgd_problem(N=N, seed=seed)
    out, record = _run(
        train_sgd, params, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed
    )
    _epochs_of(record, N, batch_size, epochs)
    for k in params:
        if not np.allclose(record.params[0][k], params[k], rtol=0, atol=1e-14):
            raise GradingFailure(
                f"the first minibatch's gradient was computed at changed parameters ({k} "
                "differs from the initial one): start from the parameters you were given."
            )
    # After the last call the loop makes one more update: compare it with the returned params.
    after = record.params[1:] + [{k: np.asarray(out[k], dtype=np.float64) for k in params}]
    for step, (before, grads, got) in enumerate(
        zip(record.params, record.grads, after, strict=True)
    ):
        for k in params:
            change = got[k] - before[k]
            expected = -lr * grads[k]
            if np.allclose(change, expected, rtol=1e-9, atol=1e-13):
                continue
            scale = float(np.sum(change * expected) / max(np.sum(expected * expected), 1e-300))
            if np.allclose(change, -expected, rtol=1e-9, atol=1e-13):
                why = "the sign is flipped: the step goes uphill; subtract α ∂J/∂θ."
            elif np.allclose(change, 0.0, atol=1e-15):
                why = f"{k} was not updated at all."
            elif np.allclose(change, -grads[k], rtol=1e-9, atol=1e-13):
                why = "the learning rate is missing: the step must be α times the gradient."
            elif np.allclose(change, scale * expected, rtol=1e-6, atol=1e-12):
                why = (
                    f"the step is {scale:.4g} times α ∂J/∂θ: use the learning rate exactly "
                    "once, and the gradient of the current minibatch."
                )
            else:
                why = (
                    "the change is not −α times the gradient that network.loss_and_grads "
                    "returned for this minibatch: update with that minibatch's gradient, "
                    "right after computing it."
                )
            raise GradingFailure(
                f"update {step + 1} of {len(record.params)} (lr = {lr}) changed {k} wrongly: "
                f"expected θ ← θ − α ∂J/∂θ. Likely bug: {why}"
            )
    return out


def check_unit_spread(unit_spread, W, expected, reveal=True):
    """unit_spread(W) against a known value."""
    got = call(unit_spread, np.array(W, dtype=np.float64), what="unit_spread")
    try:
        value = float(np.asarray(got, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise GradingFailure(
            f"unit_spread must return one number, got {type(got).__name__} "
            f"of shape {np.shape(got)}."
        ) from None
    hint = None
    W = np.asarray(W, dtype=np.float64)
    cols = float(np.max(W.max(axis=1) - W.min(axis=1)))
    if W.shape[0] > 1 and abs(value - cols) < 1e-12 and abs(cols - expected) > 1e-12:
        hint = (
            "Likely bug: that is the spread within each row (one unit's weights); compare "
            "different units, i.e. the rows of W, entry by entry (max over axis 0 minus min "
            "over axis 0)."
        )
    check_close("unit_spread(W)", value, expected, reveal=reveal, hint=hint)
    return value


def constant_init_reference(X, Y, n_hidden, value, steps, lr, activation="sigmoid"):
    """Full-batch gradient descent from all-equal weights, the reference for the test."""
    params = network.init_params([X.shape[0], n_hidden, Y.shape[0]], "constant", scale=value)
    for _ in range(steps):
        _, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
        for k in params:
            params[k] = params[k] - lr * grads[k]
    return params


def check_symmetric_run(train_constant_init, X, Y, n_hidden, value, steps, lr, reveal=True):
    """The student's run from constant weights: still symmetric, and really trained."""
    out = call(train_constant_init, X, Y, n_hidden, value, steps, lr, what="train_constant_init")
    if not isinstance(out, dict) or "W1" not in out or "W2" not in out:
        raise GradingFailure("train_constant_init must return the parameters dict (W1, b1, ...).")
    W1 = check_shape("W1", out["W1"], (n_hidden, X.shape[0]))
    ref = constant_init_reference(X, Y, n_hidden, value, steps, lr)
    spread = float(np.max(W1.max(axis=0) - W1.min(axis=0)))
    if spread > 1e-9 * max(1.0, float(np.max(np.abs(W1)))):
        raise GradingFailure(
            f"after {steps} steps the hidden units' incoming weights (rows of W1) differ by up "
            f"to {spread:.3g}: they should still be identical. Start from all weights equal "
            f"to {value} (network.init_params(..., 'constant', scale=value)) and use full-batch "
            "gradient descent (no random initialisation, no shuffling, no dropout)."
        )
    if np.allclose(W1, value, rtol=0, atol=1e-12) and not np.allclose(ref["W1"], value):
        raise GradingFailure(
            f"W1 still equals its initial value {value} everywhere: train for {steps} "
            "full-batch gradient steps."
        )
    for k in ("W1", "b1", "W2", "b2"):
        check_close(
            f"{k} after {steps} steps",
            out.get(k),
            ref[k],
            rtol=1e-7,
            atol=1e-10,
            reveal=reveal,
            hint=(
                f"Expected {steps} steps of θ ← θ − α ∂J/∂θ on the whole training set, "
                "from all weights equal to `value` and zero biases."
            ),
        )
    return out


def check_chosen_lr(chosen_lr, low, high):
    """The chosen learning rate is a number within [low, high] (a hidden range)."""
    if chosen_lr is None:
        raise GradingFailure(
            "chosen_lr is not set yet: assign it one number, e.g. chosen_lr = 0.5."
        )
    try:
        lr = float(np.asarray(chosen_lr, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise GradingFailure(f"chosen_lr must be one number, got {chosen_lr!r}.") from None
    if not np.isfinite(lr) or lr <= 0:
        raise GradingFailure(f"chosen_lr must be a positive number, got {lr}.")
    if lr < low:
        raise GradingFailure(
            f"chosen_lr = {lr:g} is too small: in the sweep such a rate crawls, the loss "
            "is still far from its floor after all the epochs."
        )
    if lr > high:
        raise GradingFailure(
            f"chosen_lr = {lr:g} is too large: in the sweep such a rate overshoots, the "
            "loss jumps up or oscillates instead of settling."
        )
    return lr


def check_digits_accuracy(train_digits, split, seed, threshold=0.95):
    """Train with the student's recipe on `split` and demand `threshold` test accuracy."""
    out = call(train_digits, split, np.random.default_rng(seed), what="train_digits")
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], dict)):
        raise GradingFailure(
            "train_digits must return (params, activation): the trained parameters dict "
            "and the name of the hidden activation."
        )
    params, activation = out
    scores = call(network.predict, params, split.X_test, activation, what="network.predict")
    acc = network.accuracy(scores, split.y_test)
    if not acc >= threshold:
        raise GradingFailure(
            f"test accuracy {100 * acc:.1f}% with seed {seed} is below {100 * threshold:.0f}%: "
            "train longer, or revisit the learning rate, batch size and hidden width."
        )
    return acc


def check_confusion_matrix(confusion_matrix, y_true, y_pred, K, reveal=True):
    """C[i, j] = number of examples of true class i predicted as j."""
    got = call(confusion_matrix, np.asarray(y_true), np.asarray(y_pred), K, what="confusion_matrix")
    expected = np.zeros((K, K))
    np.add.at(expected, (np.asarray(y_true), np.asarray(y_pred)), 1)
    arr = check_shape("confusion_matrix", got, (K, K))
    hint = None
    if np.array_equal(arr, expected.T) and not np.array_equal(expected, expected.T):
        hint = (
            "Likely bug: it looks transposed: rows are the true classes, columns the "
            "predicted ones (C[true, predicted])."
        )
    elif arr.sum() != len(y_true):
        hint = f"Likely bug: the entries sum to {arr.sum():g}, not to the {len(y_true)} examples."
    check_close("confusion_matrix", arr, expected, reveal=reveal, hint=hint)
    return arr
