"""The checkers of notebook 07-regularization, called directly: right answers pass, bugs
are named."""

import copy

import numpy as np
import pytest

from course import activations, data, gradcheck, layers, losses, network, training
from course.checks import regularization as checks
from course.grading import GradingFailure


def fails(fn, *args, says, **kwargs):
    with pytest.raises(GradingFailure) as err:
        fn(*args, **kwargs)
    assert says.lower() in str(err.value).lower(), str(err.value)
    assert "Traceback" not in str(err.value)
    return str(err.value)


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


def dropout_forward(a, p, rng=None, mask=None):
    """The student's inverted dropout (the library's is a give-away)."""
    if mask is None:
        mask = (rng.random(a.shape) >= p) / (1.0 - p) if p > 0 else np.ones_like(a)
    return a * mask, mask


def dropout_net(params, X, Y, p, rng=None, mask=None, activation="tanh", fresh=False):
    act = activations.get_activation(activation)
    z1 = params["W1"] @ X + params["b1"]
    h = act.f(z1)
    a1, mask = dropout_forward(h, p, rng, mask)
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
    checks.check_dropout_forward(dropout_forward, p=0.3)
    checks.check_dropout_expectation(dropout_forward, p=0.4)
    checks.check_dropout_loss(dropout_net, p=0.5)
    checks.check_dropout_grads(dropout_net, ["W1", "b1", "W2", "b2"], p=0.5)
    checks.check_dropout_mask_reused(dropout_net, p=0.5)

    def unscaled(a, p, rng=None, mask=None):
        mask = (rng.random(a.shape) >= p).astype(float) if mask is None else mask
        return a * mask, mask

    with pytest.raises(GradingFailure, match=r"1/\(1−p\) scaling is missing"):
        checks.check_dropout_expectation(unscaled, p=0.4)
    with pytest.raises(GradingFailure, match="fresh mask"):
        checks.check_dropout_grads(lambda *a, **k: dropout_net(*a, **k, fresh=True), ["W1"])


def early_stopping(val_losses, patience):
    best = 0
    for epoch, loss in enumerate(val_losses):
        if loss < val_losses[best]:
            best = epoch
        elif epoch - best >= patience:
            return best, epoch
    return best, len(val_losses) - 1


def validation_loss(params, split, activation):
    """The notebook's own validation loss (checks.validation_loss is the checker's)."""
    out = network.predict(params, split.X_val, activation)
    return losses.softmax_cross_entropy(out, split.Y_val)[0]


def test_early_stopping_rule_and_run():
    checks.check_early_stopping(early_stopping, [3, 2, 2.5, 1, 1.1], 1)
    with pytest.raises(GradingFailure, match="last epoch"):
        checks.check_early_stopping(lambda v, p: (len(v) - 1, len(v) - 1), [1, 0.5, 0.7, 0.8], 2)

    def run(params, split, *, max_epochs, lr, batch_size, patience, rng, activation, last=False):
        losses_ = [validation_loss(params, split, activation)]
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
            losses_.append(validation_loss(params, split, activation))
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
    library's algorithm, and one drawing with rng.binomial) stay within half their bounds."""

    def binomial(a, p, rng=None, mask=None):
        if mask is None:
            mask = rng.binomial(1, 1 - p, size=a.shape) / (1 - p) if p > 0 else np.ones(a.shape)
        return a * mask, mask

    for fn in (dropout_forward, binomial):
        for seed in range(20):
            for p, draws in ((0.4, 1500), (0.7, 3000)):
                ratio = checks.check_dropout_expectation(fn, p=p, draws=draws, seed=seed)
                assert abs(ratio - 1.0) <= 0.015, (fn, seed, p, ratio)
            rng = np.random.default_rng(seed)
            for p, shape in ((0.25, (40, 50)), (0.6, (30, 70))):
                _, mask = fn(np.ones(shape), p, rng=rng)
                assert abs(float(np.mean(mask == 0)) - p) <= 0.025


# ---------------------------------------------------------------- issue 18


def test_l2_gradients_right_only_for_a_wrong_J_hat_earn_nothing():
    params, X, Y = checks.l2_problem(seed=1)
    # λ‖W‖² without the ½, and its consistent gradient 2λW
    text = fails(
        checks.check_l2_grads,
        lambda *a, **k: (
            l2(*a, **k)[0]
            + 0.5
            * a[3]
            * sum(float(np.sum(a[0][key] ** 2)) for key in a[0] if key.startswith("W")),
            l2(*a, **k, gfactor=2.0)[1],
        ),
        params,
        X,
        Y,
        0.2,
        ["W1"],
        says="factor 2",
    )
    assert "Fix l2_loss_and_grads (its J_hat) first" in text
    assert "the ½ is missing" in text
    # the biases penalised in Ĵ and in their gradient: the bias gradient earns nothing
    biased = lambda *a, **k: l2(*a, **k, bias=True)  # noqa: E731
    text = fails(checks.check_l2_grads, biased, params, X, Y, 0.2, ["b1"], says="adds λbᵐ")
    assert "penalises the biases" in text
    checks.check_l2_grads(biased, params, X, Y, 0.2, ["W1", "W2"])


def test_a_wrong_J_hat_costs_the_gradients_nothing():
    params, X, Y = checks.l2_problem(seed=2)

    def no_penalty(*a, **k):
        return l2(*a, **k)[0] - 0.5 * a[3] * sum(
            float(np.sum(v**2)) for key, v in a[0].items() if key.startswith("W")
        ), l2(*a, **k)[1]

    fails(checks.check_l2_value, no_penalty, params, X, Y, 0.2, says="the penalty is missing")
    checks.check_l2_grads(no_penalty, params, X, Y, 0.2, ["W1", "b1", "W2", "b2"])


def test_l2_library_answers_earn_nothing():
    params, X, Y = checks.l2_problem(seed=1)

    def with_l2(params, X, Y, lam, activation="tanh"):
        J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation, l2=lam)
        return J, grads

    for check in (checks.check_l2_value, checks.check_l2_grads):
        extra = (["W1"],) if check is checks.check_l2_grads else ()
        fails(check, with_l2, params, X, Y, 0.2, *extra, says="network.loss_and_grads with l2=")

    def with_penalty(params, X, Y, lam, activation="tanh"):
        J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
        penalty, dpen = losses.l2_penalty(params, lam)
        return J + penalty, {k: g + dpen.get(k, 0.0) for k, g in grads.items()}

    fails(
        checks.check_l2_value,
        with_penalty,
        params,
        X,
        Y,
        0.2,
        says="calls course.losses.l2_penalty",
    )

    def numerical(params, X, Y, lam, activation="tanh"):
        J_hat, grads = l2(params, X, Y, lam, activation)
        grads["W1"] = gradcheck.numerical_gradient(
            lambda W: l2({**params, "W1": W}, X, Y, lam, activation)[0], params["W1"].copy()
        )
        return J_hat, grads

    checks.check_l2_value(numerical, params, X, Y, 0.2)  # Ĵ itself is not given away
    fails(checks.check_l2_grads, numerical, params, X, Y, 0.2, ["b1"], says="numerical")


def test_the_speed_tests_judge_the_values_they_timed():
    def l2_gives_up(params, X, Y, lam, activation="tanh"):
        J, grads = l2(params, X, Y, lam, activation)
        if sum(v.size for v in params.values()) > 10**4:
            grads = {k: np.zeros_like(v) for k, v in grads.items()}
        return J, grads

    fails(checks.check_backprop, l2_fn=l2_gives_up, says="not computed by backpropagation")
    checks.check_backprop(l2_fn=l2)

    def dropout_gives_up(*args, **kwargs):
        J, grads, mask = dropout_net(*args, **kwargs)
        if grads["W1"].size > 10**4:
            grads = {k: np.zeros_like(v) for k, v in grads.items()}
        return J, grads, mask

    fails(checks.check_backprop, dropout_fn=dropout_gives_up, says="not computed by back")
    checks.check_backprop(dropout_fn=dropout_net)


def test_dropout_J_is_checked():
    fails(
        checks.check_dropout_loss,
        lambda *a, **k: (-dropout_net(*a, **k)[0], *dropout_net(*a, **k)[1:]),
        says="J has the wrong sign",
    )
    zero = lambda *a, **k: (0.0, *dropout_net(*a, **k)[1:])  # noqa: E731
    fails(checks.check_dropout_loss, zero, says="J is wrong")
    checks.check_dropout_grads(zero, ["W1", "b1", "W2", "b2"])  # the gradients are right


def test_a_wrong_dropout_forward_costs_the_network_nothing():
    ns = {"np": np, "activations": activations, "losses": losses}
    exec(
        "def dropout_forward(a, p, rng=None, mask=None):\n"
        "    return a, np.ones_like(a)\n",  # never drops: wrong
        ns,
    )
    net = types_function(dropout_net, ns)
    fails(checks.check_dropout_forward, ns["dropout_forward"], p=0.3, says="nothing is dropped")
    checks.check_dropout_loss(net)
    checks.check_dropout_grads(net, ["W1", "b1", "W2", "b2"])
    checks.check_dropout_mask_reused(net)


def types_function(fn, namespace):
    """`fn` with `namespace` as its globals (as if defined in that notebook)."""
    import types

    return types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__)


def test_dropout_library_answers_earn_nothing():
    def library_net(params, X, Y, p, rng=None, mask=None, activation="tanh"):
        masks = {1: mask} if mask is not None else None
        J, grads, caches = network.loss_and_grads(
            params, X, Y, activation=activation, dropout=p, rng=rng, masks=masks
        )
        return J, grads, caches[0]["mask"]

    for check, args in (
        (checks.check_dropout_loss, ()),
        (checks.check_dropout_grads, (["W2"],)),
        (checks.check_dropout_mask_reused, ()),
    ):
        fails(check, library_net, *args, says="calls course.network.loss_and_grads")
    fails(
        checks.check_dropout_forward,
        lambda a, p, rng=None, mask=None: layers.dropout_forward(a, p, rng, mask),
        says="calls course.layers.dropout_forward",
    )
    fails(checks.check_dropout_forward, layers.dropout_forward, says="itself")


def test_a_dropout_that_drops_nothing_earns_no_expectation():
    """E[out] = a holds for out = a too: the expectation test needs outputs that really
    drop (factors 0 or 1/(1−p), a fraction p of them 0)."""

    def nothing(a, p, rng=None, mask=None):
        mask = np.ones_like(a) if mask is None else mask
        return a * mask, mask

    def keeps_p(a, p, rng=None, mask=None):
        mask = (rng.random(a.shape) < p) / (1 - p) if mask is None else mask
        return a * mask, mask

    def twice_the_mask(a, p, rng=None, mask=None):  # out is right: only the mask is wrong
        out, mask = dropout_forward(a, p, rng, mask)
        return out, 2 * mask

    for fn, says in ((nothing, "nothing is dropped"), (keeps_p, "probability p")):
        for p, draws, seed in ((0.4, 1500, 0), (0.7, 3000, 3)):
            fails(checks.check_dropout_expectation, fn, p=p, draws=draws, seed=seed, says=says)
    checks.check_dropout_expectation(twice_the_mask, p=0.4)


def test_library_answers_laundered_through_training_earn_nothing():
    """One full-batch epoch of training.train(l2=λ) with lr = 1 moves every weight by
    −∂Ĵ/∂Wᵐ: nothing for the weights' gradients (the biases' are ∂J/∂bᵐ, the library's
    to give); a dropout mask read off the course's network is not dropout_forward's."""
    params, X, Y = checks.l2_problem(seed=1)

    def laundered(params, X, Y, lam, activation="tanh"):
        J_hat = l2(params, X, Y, lam, activation)[0]
        moved = copy.deepcopy(params)
        training.train(
            moved, X, Y, epochs=1, lr=1.0, batch_size=X.shape[1],
            rng=np.random.default_rng(0), activation=activation, l2=lam, record=False,
        )  # fmt: skip
        return J_hat, {k: params[k] - moved[k] for k in params}

    def stepped(params, X, Y, lam, activation="tanh"):
        J_hat, grads = l2(params, X, Y, lam, activation)
        moved = copy.deepcopy(params)
        training.sgd_step(moved, grads, 1.0)
        return J_hat, {k: params[k] - moved[k] for k in params}

    for fn, path in ((laundered, "training.train"), (stepped, "training.sgd_step")):
        checks.check_l2_value(fn, params, X, Y, 0.2)
        checks.check_l2_grads(fn, params, X, Y, 0.2, ["b1", "b2"])
        fails(checks.check_l2_grads, fn, params, X, Y, 0.2, ["W1"], says=f"calls course.{path}")
    fails(checks.check_backprop, l2_fn=laundered, says="calls course.training.train")

    def from_the_network(a, p, rng=None, mask=None):
        if mask is None:
            n = a.shape[0]
            eye = {"W1": np.eye(n), "b1": np.zeros((n, 1)), "W2": np.eye(n), "b2": np.zeros((n, 1))}
            _, caches = network.forward(eye, a, "identity", dropout=p, rng=rng)
            mask = caches[0]["mask"] if p > 0 else np.ones_like(a)
        return a * mask, mask

    for check in (checks.check_dropout_forward, checks.check_dropout_expectation):
        fails(check, from_the_network, says="calls course.network.forward")


def test_early_stopping_library_answers_earn_nothing():
    fails(
        checks.check_early_stopping,
        lambda v, p: training.best_epoch(v, p),
        [3, 2, 2.5, 1, 1.1],
        1,
        says="calls course.training.best_epoch",
    )

    def run(params, split, *, max_epochs, lr, batch_size, patience, rng, activation):
        losses_ = [validation_loss(params, split, activation)]
        params, history = training.train(
            params, split.X_train, split.Y_train, epochs=max_epochs, lr=lr,
            batch_size=batch_size, rng=rng, activation=activation, X_val=split.X_val,
            Y_val=split.Y_val, patience=patience,
        )  # fmt: skip
        return params, losses_ + history.val_loss

    small = data.digits_split(seed=0, n_train=200, standardized=False)
    kw = dict(init_seed=3, seed=1, max_epochs=6, lr=0.1, batch_size=16, patience=50, hidden=16)
    fails(checks.check_early_run, run, small, **kw, says="training.train with patience=")
