"""course.checks.sigmoid_network: references agree with the library, bugs are named."""

import numpy as np
import pytest

from course import network
from course.checks import sigmoid_network as checks
from course.grading import GradingFailure


def test_reference_matches_the_course_library():
    params, x, y_star = checks.random_case(0)
    L, grads = checks.reference_loss_and_partials(params, x, y_star)
    wh, wo = params["wh"], params["wo"]
    course_params = {
        "W1": wh[1:].T,
        "b1": wh[0].reshape(2, 1),
        "W2": wo[1:].reshape(1, 2),
        "b2": wo[:1].reshape(1, 1),
    }
    J, lib, _ = network.loss_and_grads(
        course_params,
        x.reshape(2, 1),
        np.array([[y_star]]),
        loss="square",
        activation="sigmoid",
        output_activation="sigmoid",
    )
    assert np.isclose(J, L)
    np.testing.assert_allclose(lib["W1"], grads["wh"][1:].T)
    np.testing.assert_allclose(lib["b1"].ravel(), grads["wh"][0])
    np.testing.assert_allclose(lib["W2"].ravel(), grads["wo"][1:])
    np.testing.assert_allclose(lib["b2"].ravel(), grads["wo"][:1])


def _forward(params, x):
    return checks.reference_forward(params, x)


def test_single_partials_pass_and_slide_form_is_named():
    params, x, y_star = checks.example_params(), checks.EXAMPLE_X, checks.EXAMPLE_Y

    def right(p, x, ys):
        return checks.reference_loss_and_partials(p, x, ys)[1]["wo"][1]

    def slide(p, x, ys):
        y, z = checks.reference_forward(p, x)
        return (y - ys) * z[0]

    checks.check_single_partial("dL_dwo11", right, _forward, params, x, y_star)
    with pytest.raises(GradingFailure, match="slide form") as info:
        checks.check_single_partial("dL_dwo11", slide, _forward, params, x, y_star)
    # the hand value at the worked example is not revealed
    true = right(params, x, y_star)
    assert f"{true:.6g}" not in str(info.value)


def test_partials_groups():
    params, x, y_star = checks.random_case(3)
    checks.check_partials("wo", checks.reference_loss_and_partials, _forward, params, x, y_star)
    checks.check_partials("wh", checks.reference_loss_and_partials, _forward, params, x, y_star)

    def no_hidden_prime(p, x, ys):
        L, g = checks.reference_loss_and_partials(p, x, ys)
        _, z = checks.reference_forward(p, x)
        g["wh"] = g["wh"] / (z * (1 - z))
        return L, g

    with pytest.raises(GradingFailure, match="hidden σ'"):
        checks.check_partials("wh", no_hidden_prime, _forward, params, x, y_star)


def _sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn, *, once=False, constant=False):
    params = {k: np.array(v, dtype=float) for k, v in params.items()}
    n, t, history = X.shape[1], 0, []
    order = rng.permutation(n)
    for _ in range(epochs):
        if not once:
            order = rng.permutation(n)
        losses = []
        for i in order:
            L, g = grad_fn(params, X[:, i], Y[i])
            gamma = gamma0 if constant else gamma0 / (1 + t / T)
            params = {k: params[k] - gamma * g[k] for k in params}
            losses.append(L)
            t += 1
        history.append(float(np.mean(losses)))
    return params, history


def test_sgd_checks():
    def sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
        return _sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn)

    checks.check_sgd_steps(sgd, checks.xor_init(0), epochs=3, gamma0=0.5, T=4.0, seed=1)
    checks.check_sgd_shuffles(sgd, checks.xor_init(0), epochs=6, seeds=(3, 4))
    checks.check_sgd_xor(sgd, init_seed=2, seed=0)


def test_sgd_bugs_are_named():
    def once(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
        return _sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn, once=True)

    def constant(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
        return _sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn, constant=True)

    with pytest.raises(GradingFailure, match="same order"):
        checks.check_sgd_shuffles(once, checks.xor_init(0), epochs=6, seeds=(3, 4))
    with pytest.raises(GradingFailure, match="must decay"):
        checks.check_sgd_steps(constant, checks.xor_init(0), epochs=3, gamma0=0.5, T=4.0, seed=1)


@pytest.mark.slow
def test_xor_runs_leave_a_margin_over_20_shuffles():
    """The graded starts (xor_init 2 and 4) reach XOR with every output at least
    XOR_MARGIN from ½ whatever the shuffle (20 seeds each, plus the graded ones)."""

    def sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
        return _sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn)

    for init in (2, 4):
        for seed in [0, 5, *range(100, 120)]:
            final, _ = _sgd(
                checks.xor_init(init),
                checks.XOR_X,
                checks.XOR_Y,
                1000,
                2.0,
                2000.0,
                np.random.default_rng(seed),
                checks.reference_loss_and_partials,
            )
            out = np.array(
                [checks.reference_forward(final, checks.XOR_X[:, i])[0] for i in range(4)]
            )
            assert np.all((out > 0.5) == (checks.XOR_Y > 0.5)), (init, seed)
            assert np.min(np.abs(out - 0.5)) >= checks.XOR_MARGIN, (init, seed)
    checks.check_sgd_xor(sgd, init_seed=4, seed=5)


def test_sgd_must_leave_the_callers_arrays_alone():
    def in_place(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
        t, history = 0, []
        for _ in range(epochs):
            losses = []
            for i in rng.permutation(X.shape[1]):
                L, g = grad_fn(params, X[:, i], Y[i])
                for k in params:
                    params[k] -= gamma0 / (1 + t / T) * g[k]
                losses.append(L)
                t += 1
            history.append(float(np.mean(losses)))
        return params, history

    with pytest.raises(GradingFailure, match="changed the arrays"):
        checks.check_sgd_steps(in_place, checks.xor_init(0), epochs=3, gamma0=0.5, T=4.0, seed=1)


def test_sgd_may_call_grad_fn_with_the_notebooks_keywords():
    def by_keyword(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
        params = {k: v.copy() for k, v in params.items()}
        t, history = 0, []
        for _ in range(epochs):
            losses = []
            for i in rng.permutation(X.shape[1]):
                L, g = grad_fn(params=params, x=X[:, i], y_star=Y[i])
                params = {k: params[k] - gamma0 / (1 + t / T) * g[k] for k in params}
                losses.append(L)
                t += 1
            history.append(sum(losses) / len(losses))
        return params, history

    checks.check_sgd_steps(by_keyword, checks.xor_init(0), epochs=3, gamma0=0.5, T=4.0, seed=1)
