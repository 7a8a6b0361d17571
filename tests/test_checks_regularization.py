"""The checkers of notebook 07-regularization, called directly: right answers pass, bugs
are named."""

import copy

import numpy as np
import pytest

from course import activations, data, layers, losses, network, training
from course.checks import regularization as checks
from course.grading import GradingFailure


def l2(params, X, Y, lam, activation="tanh", bias=False, gfactor=1.0):
    J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
    keys = [k for k in params if k.startswith("W") or bias]
    J += 0.5 * lam * sum(float(np.sum(params[k] ** 2)) for k in keys)
    for k in keys:
        grads[k] = grads[k] + gfactor * lam * params[k]
    return J, grads


def test_l2_right_and_wrong():
    params, X, Y = checks.l2_problem(seed=1)
    checks.check_l2_value(l2, params, X, Y, 0.2)
    checks.check_l2_grads(l2, params, X, Y, 0.2, ["W1", "b1", "W2", "b2"])
    with pytest.raises(GradingFailure, match=checks.BUGS["07.l2.biases"].says):
        checks.check_l2_value(lambda *a, **k: l2(*a, **k, bias=True), params, X, Y, 0.2)
    with pytest.raises(GradingFailure, match="factor 2"):
        checks.check_l2_grads(lambda *a, **k: l2(*a, **k, gfactor=2.0), params, X, Y, 0.2, ["W1"])


def dropout_net(params, X, Y, p, rng=None, mask=None, activation="tanh", fresh=False):
    act = activations.get_activation(activation)
    z1 = params["W1"] @ X + params["b1"]
    h = act.f(z1)
    a1, mask = layers.dropout_forward(h, p, rng, mask)
    z2 = params["W2"] @ a1 + params["b2"]
    J, d2 = losses.softmax_cross_entropy(z2, Y)
    back = (rng.random(h.shape) >= p) / (1 - p) if fresh else mask
    d1 = act.f_prime(z1) * (params["W2"].T @ d2) * back
    grads = {
        "W1": d1 @ X.T,
        "b1": d1.sum(1, keepdims=True),
        "W2": d2 @ a1.T,
        "b2": d2.sum(1, keepdims=True),
    }
    return J, grads, mask


def test_dropout_right_and_wrong():
    checks.check_dropout_forward(layers.dropout_forward, p=0.3)
    checks.check_dropout_expectation(layers.dropout_forward, p=0.4)
    checks.check_dropout_grads(dropout_net, ["W1", "b1", "W2", "b2"], p=0.5)

    def unscaled(a, p, rng=None, mask=None):
        mask = (rng.random(a.shape) >= p).astype(float) if mask is None else mask
        return a * mask, mask

    with pytest.raises(GradingFailure, match=r"1/\(1−p\) scaling is missing"):
        checks.check_dropout_expectation(unscaled, p=0.4)
    with pytest.raises(GradingFailure, match="fresh mask"):
        checks.check_dropout_grads(lambda *a, **k: dropout_net(*a, **k, fresh=True), ["W1"])


def test_early_stopping_rule_and_run():
    checks.check_early_stopping(lambda v, p: training.best_epoch(v, p), [3, 2, 2.5, 1, 1.1], 1)
    with pytest.raises(GradingFailure, match="last epoch"):
        checks.check_early_stopping(lambda v, p: (len(v) - 1, len(v) - 1), [1, 0.5, 0.7, 0.8], 2)

    def run(params, split, *, max_epochs, lr, batch_size, patience, rng, activation, last=False):
        losses_ = [checks.validation_loss(params, split.X_val, split.Y_val, activation)]
        best, saved = 0, copy.deepcopy(params)
        for epoch in range(1, max_epochs + 1):
            training.train(
                params,
                split.X_train,
                split.Y_train,
                epochs=1,
                lr=lr,
                batch_size=batch_size,
                rng=rng,
                activation=activation,
                record=False,
            )
            losses_.append(checks.validation_loss(params, split.X_val, split.Y_val, activation))
            if losses_[-1] < losses_[best]:
                best, saved = epoch, copy.deepcopy(params)
            elif epoch - best >= patience:
                break
        return (params if last else saved), losses_

    small = data.digits_split(seed=0, n_train=200, standardized=False)
    kw = dict(init_seed=1, seed=0, max_epochs=80, lr=0.3, batch_size=16, patience=5)
    best = checks.check_early_run(run, small, **kw)
    assert 0 < best < 80
    with pytest.raises(GradingFailure, match="not the last epoch's"):
        checks.check_early_run(lambda *a, **k: run(*a, **k, last=True), small, **kw)


def test_dropout_statistics_hold_with_margin_over_20_seeds():
    """The dropped fraction and the mean output of correct dropout implementations (the
    library's, and one drawing with rng.binomial) stay within half their bounds."""

    def binomial(a, p, rng=None, mask=None):
        if mask is None:
            mask = rng.binomial(1, 1 - p, size=a.shape) / (1 - p) if p > 0 else np.ones(a.shape)
        return a * mask, mask

    for fn in (layers.dropout_forward, binomial):
        for seed in range(20):
            for p, draws in ((0.4, 1500), (0.7, 3000)):
                ratio = checks.check_dropout_expectation(fn, p=p, draws=draws, seed=seed)
                assert abs(ratio - 1.0) <= 0.015, (fn, seed, p, ratio)
            rng = np.random.default_rng(seed)
            for p, shape in ((0.25, (40, 50)), (0.6, (30, 70))):
                _, mask = fn(np.ones(shape), p, rng=rng)
                assert abs(float(np.mean(mask == 0)) - p) <= 0.025
