"""Checks behind notebook 05-training: minibatch SGD, symmetry, learning rate, digits.

The student's SGD loop is judged by what it does, not by how it draws random numbers.
A driver (:func:`run_spied`) runs it next to the student's code with a spy standing in
for :func:`course.network.loss_and_grads`, which records the examples of every
minibatch, the parameters it was called with and the activation it was given.  The
verdict replays the run here with the reference gradients: the batches of every epoch
(all examples exactly once, in batches of the requested size), a fresh order every
epoch drawn from the rng passed in, and every update θ ← θ − α ∂J/∂θ with the activation
passed on.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np

from .. import grading, network, training
from ..grading import GradingFailure, call, quiet
from . import _kit as kit
from .catalogue import likely, table

__all__ = [
    "BUGS",
    "DIGITS_THRESHOLD",
    "check_chosen_lr",
    "check_confusion_matrix",
    "check_digits_accuracy",
    "check_sgd_batches",
    "check_sgd_reshuffle",
    "check_sgd_step",
    "check_symmetric_run",
    "check_unit_spread",
    "constant_init_reference",
    "reference_train_sgd",
    "run_spied",
    "sgd_problem",
]

BUGS = table("05")

#: The course functions that give an exercise away (see _kit.own_work): train_sgd is
#: minibatch SGD written out, its gradients from network.loss_and_grads (which the
#: notebook asks for), its loop and its update the student's own.
GIVEAWAYS = {"train_sgd": ("course.training.train", "course.training.sgd_step")}


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


def _spy(record, fn):
    """A context in which `fn`'s calls of network.loss_and_grads are recorded (the spy
    runs where the checks run, and computes the true gradients)."""
    original = network.loss_and_grads
    signature = inspect.signature(original)

    def spy(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        p, X_batch = bound.arguments["params"], bound.arguments["X"]
        record["rows"].append(np.array(np.asarray(X_batch, dtype=np.float64)[0]))
        record["params"].append({k: np.array(v, dtype=np.float64) for k, v in p.items()})
        record["activation"].append(str(bound.arguments["activation"]))
        return original(*args, **kwargs)

    return grading.replacing("course.network.loss_and_grads", spy, fn)


def run_spied(train_sgd, params, X, Y, seed, **kwargs):
    """Run ``train_sgd(params, X, Y, rng=default_rng(seed), **kwargs)`` with a spy on
    ``network.loss_and_grads`` (a driver).

    Returns
    -------
    out : object
        What train_sgd returned.
    record : dict
        "rows": row 0 of each minibatch's X; "params": the parameters of each call;
        "activation": the activation of each call.
    """
    record = {"rows": [], "params": [], "activation": []}
    with _spy(record, train_sgd):
        out = train_sgd(params, X, Y, rng=np.random.default_rng(seed), **kwargs)
    return out, record


def _run(train_sgd, params, X, Y, *, epochs, lr, batch_size, seed, activation=None):
    kwargs = {"epochs": epochs, "lr": lr, "batch_size": batch_size}
    if activation is not None:
        kwargs["activation"] = activation
    with kit.own_work("train_sgd", GIVEAWAYS["train_sgd"]):
        out, record = call(
            run_spied, train_sgd, copy.deepcopy(params), X, Y, seed, **kwargs, what="train_sgd"
        )
    if not record["rows"]:
        raise GradingFailure(
            "train_sgd never called network.loss_and_grads: compute each minibatch's "
            "gradients with network.loss_and_grads(params, X[:, idx], Y[:, idx], ...), "
            "called through the module (not a name imported from it)."
        )
    out = kit.as_dict(out, "train_sgd (the trained parameters)", params)
    index = {float(v): n for n, v in enumerate(X[0])}
    try:
        batches = [np.array([index[float(v)] for v in row]) for row in record["rows"]]
    except (KeyError, TypeError):
        raise GradingFailure(
            "network.loss_and_grads received columns that are not examples of X: pass "
            "X[:, idx] and Y[:, idx] for the minibatch's indices idx (examples are columns)."
        ) from None
    return out, batches, record


def _epochs_of(batches, N, batch_size, epochs):
    """Split the recorded batches into epochs, checking sizes on the way."""
    n_batches = -(-N // batch_size)
    if len(batches) != epochs * n_batches:
        raise GradingFailure(
            f"with N = {N} examples, batch_size = {batch_size} and {epochs} epoch(s) there "
            f"should be {epochs * n_batches} minibatches ({n_batches} per epoch, the last one "
            f"smaller when batch_size does not divide N), but train_sgd computed "
            f"{len(batches)} with sizes {[len(b) for b in batches]}.\n" + likely("05.sgd.batches")
        )
    return [batches[e * n_batches : (e + 1) * n_batches] for e in range(epochs)]


def check_sgd_batches(train_sgd, N=10, batch_size=4, seed=0):
    """One epoch: every example exactly once, in batches of `batch_size`, shuffled."""
    params, X, Y = sgd_problem(N=N, seed=seed)
    _, batches, _ = _run(
        train_sgd, params, X, Y, epochs=1, lr=0.1, batch_size=batch_size, seed=seed
    )
    (epoch,) = _epochs_of(batches, N, batch_size, 1)
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
            f"examples {missing} were never used and others were used twice.\n"
            + likely("05.sgd.batches")
        )
    if np.array_equal(order, np.arange(N)):
        raise GradingFailure(likely("05.sgd.no-shuffle"))
    return order


def check_sgd_reshuffle(train_sgd, N=10, batch_size=4, epochs=3, seed=0):
    """A fresh order every epoch, drawn from the rng passed in (same seed, same run)."""
    params, X, Y = sgd_problem(N=N, seed=seed)
    kw = {"epochs": epochs, "lr": 0.1, "batch_size": batch_size}
    _, b1, _ = _run(train_sgd, params, X, Y, seed=seed, **kw)
    orders = [np.concatenate(e) for e in _epochs_of(b1, N, batch_size, epochs)]
    if all(np.array_equal(o, orders[0]) for o in orders[1:]):
        if np.array_equal(orders[0], np.arange(N)):
            raise GradingFailure(likely("05.sgd.no-shuffle"))
        raise GradingFailure(
            f"all {epochs} epochs visited the examples in the same shuffled order.\n"
            + likely("05.sgd.no-reshuffle")
        )
    _, b2, _ = _run(train_sgd, params, X, Y, seed=seed, **kw)
    _, b3, _ = _run(train_sgd, params, X, Y, seed=seed + 1, **kw)
    if len(b1) != len(b2) or not all(np.array_equal(a, b) for a, b in zip(b1, b2, strict=True)):
        raise GradingFailure(
            "two runs with np.random.default_rng(seed) of the same seed shuffled differently.\n"
            + likely("05.sgd.global-rng")
        )
    if len(b1) == len(b3) and all(np.array_equal(a, b) for a, b in zip(b1, b3, strict=True)):
        raise GradingFailure(
            "runs with different seeds shuffled identically.\n" + likely("05.sgd.global-rng")
        )


def _why_step(change, expected, grads_k, k):
    """The catalogue's line for an update of `k` by `change` where `expected` was due."""
    scale = float(np.sum(change * expected) / max(np.sum(expected * expected), 1e-300))
    if kit.close(change, -expected):
        return likely("05.sgd.sign")
    if kit.close(change, 0.0 * expected):
        return likely("05.sgd.not-updated", param=k)
    if kit.close(change, -grads_k):
        return likely("05.sgd.no-lr")
    if scale != 0 and kit.close(change, scale * expected, "model"):
        return likely("05.sgd.scaled", scale=scale)
    return likely("05.sgd.wrong-step")


def check_sgd_step(train_sgd, N=10, batch_size=4, epochs=2, lr=0.3, seed=0, activation=None):
    """Every update is θ ← θ − α ∂J/∂θ with the gradient of the minibatch just computed,
    with the activation passed on (`activation`: the one to pass; None: the default)."""
    params, X, Y = sgd_problem(N=N, seed=seed)
    out, batches, record = _run(
        train_sgd,
        params,
        X,
        Y,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        activation=activation,
    )
    _epochs_of(batches, N, batch_size, epochs)
    act = activation or "sigmoid"
    used = set(record["activation"])
    if used != {act}:
        raise GradingFailure(
            f"train_sgd was called with activation={act!r}, but network.loss_and_grads "
            f"received {sorted(used)}.\n" + likely("05.sgd.activation")
        )
    state = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    for step, idx in enumerate(batches):
        before = record["params"][step]
        if not all(kit.close(before[k], state[k]) for k in params):
            break
        with quiet():
            _, grads, _ = network.loss_and_grads(state, X[:, idx], Y[:, idx], activation=act)
        after = record["params"][step + 1] if step + 1 < len(batches) else out
        state = {k: state[k] - lr * grads[k] for k in params}
        for k in params:
            if not kit.close(after[k], state[k]):
                change = np.asarray(after[k], dtype=np.float64) - before[k]
                raise GradingFailure(
                    f"update {step + 1} of {len(batches)} (lr = {lr}) changed {k} wrongly: "
                    "expected θ ← θ − α ∂J/∂θ.\n" + _why_step(change, -lr * grads[k], grads[k], k)
                )
    if not all(kit.close(out[k], state[k]) for k in params):
        raise GradingFailure(
            "the first minibatch's gradient was computed at changed parameters: start from "
            "the parameters you were given, and update after each minibatch."
        )
    return out


def check_unit_spread(unit_spread, W, expected, reveal=True):
    """unit_spread(W) against a known value."""
    W = np.asarray(W, dtype=np.float64)
    got = call(unit_spread, W.copy(), what="unit_spread")
    models = {}
    if W.shape[0] > 1:
        models[BUGS["05.spread.rows"].text()] = float(np.max(W.max(axis=1) - W.min(axis=1)))
    value = kit.check_values("unit_spread(W)", got, expected, reveal=reveal, models=models)
    return float(value)


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
    out = kit.as_dict(out, "train_constant_init", ("W1", "b1", "W2", "b2"))
    W1, _ = kit.values("W1", out["W1"], (n_hidden, X.shape[0]))
    ref = constant_init_reference(X, Y, n_hidden, value, steps, lr)
    spread = float(np.max(W1.max(axis=0) - W1.min(axis=0)))
    if spread > 1e-9 * max(1.0, float(np.max(np.abs(W1)))):
        raise GradingFailure(
            f"after {steps} steps the rows of W1 differ by up to {spread:.3g}.\n"
            + likely("05.symmetry.random", value=value)
        )
    if kit.close(W1, np.full_like(W1, value)) and not kit.close(ref["W1"], np.full_like(W1, value)):
        raise GradingFailure(
            f"W1 still equals its initial value {value} everywhere: train for {steps} "
            "full-batch gradient steps."
        )
    for k in ("W1", "b1", "W2", "b2"):
        kit.check_values(
            f"{k} after {steps} steps",
            out[k],
            ref[k],
            reveal=reveal,
            hint=likely("05.symmetry.steps", steps=steps),
        )
    return out


def check_chosen_lr(chosen_lr, low, high):
    """The chosen learning rate is a number within [low, high] (a hidden range)."""
    if chosen_lr is None:
        raise GradingFailure(
            "chosen_lr is not set yet: assign it one number, e.g. chosen_lr = 0.5."
        )
    value = call(kit.identity, chosen_lr, what="chosen_lr")
    lr = float(kit.values("chosen_lr", value, (), integers=True)[0])
    if not np.isfinite(lr) or lr <= 0:
        raise GradingFailure(f"chosen_lr must be a positive number, got {lr}.")
    if lr < low:
        raise GradingFailure(
            f"chosen_lr = {lr:g} is {BUGS['05.lr.too-small'].text()}: the loss is still "
            "far from its floor after all the epochs."
        )
    if lr > high:
        raise GradingFailure(
            f"chosen_lr = {lr:g} is {BUGS['05.lr.too-large'].text()}: the loss jumps up "
            "or oscillates instead of settling."
        )
    return lr


#: The test-accuracy threshold of the digits test.  The reference recipe (64-100-10
#: sigmoid, 20 epochs, α = 0.5, B = 32) scores at least DIGITS_THRESHOLD + 2 points on
#: the graded splits and seeds and on 20 others (tests/test_checks_training.py).
DIGITS_THRESHOLD = 0.92


def reference_train_sgd(params, X, Y, *, epochs, lr, batch_size, rng, activation="sigmoid"):
    """The course's minibatch SGD with the notebook's ``train_sgd`` signature: the trained
    parameters (a dict like `params`).  Stands in for the student's when their recipe
    misses the accuracy, to tell a wrong train_sgd from a weak recipe."""
    trained, _ = training.train(
        {k: np.array(v, dtype=np.float64) for k, v in params.items()},
        np.asarray(X, dtype=np.float64),
        np.asarray(Y, dtype=np.float64),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        rng=rng,
        activation=activation,
        record=False,
    )
    return trained


def _digits_accuracy(train_digits, split, seed, *reference):
    """Test accuracy of the recipe `train_digits` (with `reference` = (name, function)
    bound in its namespace, when given)."""
    args = (kit.with_reference, train_digits, *reference) if reference else (train_digits,)
    out = call(kit.seeded, args[0], seed, *args[1:], split, what="train_digits")
    params, activation = kit.unpack(out, "train_digits", ("params", "activation"))
    params = kit.as_dict(params, "train_digits (params)", ("W1", "b1"))
    try:
        with quiet():
            scores = network.predict(
                {k: np.asarray(v, dtype=np.float64) for k, v in params.items()},
                split.X_test,
                activation,
            )
    except (ValueError, KeyError, TypeError) as exc:
        raise GradingFailure(
            f"the parameters and activation train_digits returned cannot classify the test "
            f"set ({exc})."
        ) from None
    return network.accuracy(scores, split.y_test)


#: train_sgd's own tests, in notebook order: what a recipe that trains with a wrong
#: train_sgd is sent to.
SGD_TESTS = (
    ("test-train-sgd-batches", check_sgd_batches),
    ("test-train-sgd-reshuffle", check_sgd_reshuffle),
    ("test-train-sgd-step", check_sgd_step),
)


def _sgd_problem(train_sgd):
    """(test name, its "Likely bug") of the first of train_sgd's tests it fails, or None."""
    for name, check in SGD_TESTS:
        sentence = kit.problem_of(check, train_sgd)()
        if sentence:
            return name, sentence
    return None


def check_digits_accuracy(train_digits, split, seed, threshold=DIGITS_THRESHOLD, train_sgd=None):
    """Train with the student's recipe on `split` and demand `threshold` test accuracy.

    A recipe that misses it is run again with the course's minibatch SGD standing in for
    the student's ``train_sgd``: when that reaches the threshold, the message sends the
    student to train_sgd's own tests (and says what the first failing one says, when
    `train_sgd`, the student's, is given) instead of to the recipe.
    """
    acc = _digits_accuracy(train_digits, split, seed)
    if acc >= threshold:
        return acc
    text = f"test accuracy {100 * acc:.1f}% with seed {seed} is below {100 * threshold:.0f}%."
    try:
        fixed = _digits_accuracy(train_digits, split, seed, "train_sgd", reference_train_sgd)
    except GradingFailure:
        fixed = acc
    if not fixed >= threshold:
        raise GradingFailure(f"{text}\n" + likely("05.digits.undertrained"))
    text += "\n" + likely("05.digits.train-sgd", accuracy=100 * fixed)
    found = train_sgd is not None and _sgd_problem(train_sgd)
    if found:
        text += f"\n{found[0]} says: {found[1]}."
    raise GradingFailure(text)


def check_confusion_matrix(confusion_matrix, y_true, y_pred, K, reveal=True):
    """C[i, j] = number of examples of true class i predicted as j."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    got = call(confusion_matrix, y_true.copy(), y_pred.copy(), K, what="confusion_matrix")
    expected = np.zeros((K, K))
    np.add.at(expected, (y_true, y_pred), 1)
    arr, _ = kit.values("confusion_matrix", got, (K, K), integers=True)
    models = {}
    if not np.array_equal(expected, expected.T):
        models[BUGS["05.confusion.transposed"].text()] = expected.T
    hint = None
    if arr.sum() != len(y_true):
        hint = likely("05.confusion.count", total=arr.sum(), examples=len(y_true))
    kit.check_values("confusion_matrix", arr, expected, reveal=reveal, models=models, hint=hint)
    return arr
