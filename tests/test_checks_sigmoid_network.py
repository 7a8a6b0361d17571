"""course.checks.sigmoid_network: references agree with the library, bugs are named."""

import numpy as np
import pytest

from course import lecture, network
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


def test_the_references_are_the_lectures_network():
    params, x, y_star = checks.random_case(1)
    y, z = checks.reference_forward(params, x)
    assert (y, list(z)) == (lecture.forward(params, x)[0], list(lecture.forward(params, x)[1]))
    L, grads = checks.reference_loss_and_partials(params, x, y_star)
    L2, grads2 = lecture.loss_and_partials(params, x, y_star)
    assert L == L2 and all(np.array_equal(grads[k], grads2[k]) for k in grads)


# The student's functions, as the notebook has them: each partial calls the global
# `forward` of this module (the checks bind the network's in its place).


def forward(params, x):
    wh, wo = params["wh"], params["wo"]
    z = 1 / (1 + np.exp(-(wh[0] + x[0] * wh[1] + x[1] * wh[2])))
    return float(1 / (1 + np.exp(-(wo[0] + wo[1] * z[0] + wo[2] * z[1])))), z


def linear_forward(params, x):
    """A forward without σ at the output."""
    wh, wo = params["wh"], params["wo"]
    z = 1 / (1 + np.exp(-(wh[0] + x[0] * wh[1] + x[1] * wh[2])))
    return float(wo[0] + wo[1] * z[0] + wo[2] * z[1]), z


def dL_dwo11(params, x, y_star):
    y, z = forward(params, x)
    return (y - y_star) * y * (1 - y) * z[0]


def slide_dL_dwo11(params, x, y_star):
    y, z = forward(params, x)
    return (y - y_star) * z[0]


def loss_and_partials(params, x, y_star):
    y, z = forward(params, x)
    delta_o = (y - y_star) * y * (1 - y)
    delta_h = delta_o * params["wo"][1:] * z * (1 - z)
    grads = {
        "wo": delta_o * np.concatenate(([1.0], z)),
        "wh": np.outer(np.concatenate(([1.0], x)), delta_h),
    }
    return 0.5 * (y - y_star) ** 2, grads


def test_single_partials_pass_and_slide_form_is_named():
    params, x, y_star = checks.example_params(), checks.EXAMPLE_X, checks.EXAMPLE_Y
    checks.check_single_partial("dL_dwo11", dL_dwo11, forward, params, x, y_star)
    with pytest.raises(GradingFailure, match="slide form") as info:
        checks.check_single_partial("dL_dwo11", slide_dL_dwo11, forward, params, x, y_star)
    # the hand value at the worked example is not revealed
    true = dL_dwo11(params, x, y_star)
    assert f"{true:.6g}" not in str(info.value)


def test_partials_groups():
    params, x, y_star = checks.random_case(3)
    checks.check_partials("wo", loss_and_partials, forward, params, x, y_star)
    checks.check_partials("wh", loss_and_partials, forward, params, x, y_star)

    def no_hidden_prime(p, x, ys):
        L, g = loss_and_partials(p, x, ys)
        _, z = forward(p, x)
        g["wh"] = g["wh"] / (z * (1 - z))
        return L, g

    with pytest.raises(GradingFailure, match="hidden σ'"):
        checks.check_partials("wh", no_hidden_prime, forward, params, x, y_star)


def test_a_wrong_forward_costs_only_its_own_points(monkeypatch):
    """The partials call `forward`; the checks bind the network's in its place."""
    monkeypatch.setitem(globals(), "forward", linear_forward)
    params, x, y_star = checks.random_case(4)
    with pytest.raises(GradingFailure, match="σ is missing at the output"):
        checks.check_forward(forward, params, x)
    checks.check_single_partial("dL_dwo11", dL_dwo11, forward, params, x, y_star)
    for group in ("wo", "wh"):
        checks.check_partials(group, loss_and_partials, forward, params, x, y_star)
    checks.check_partials_loss(loss_and_partials, params, x, y_star)


def test_a_partial_right_only_for_a_wrong_forward_earns_nothing(monkeypatch):
    """The slide form is the exact derivative of the loss of a forward without σ at the
    output: with that forward it is self-consistent, and it earns nothing."""
    monkeypatch.setitem(globals(), "forward", linear_forward)
    params, x, y_star = checks.random_case(4)
    text = str(
        pytest.raises(
            GradingFailure,
            checks.check_single_partial,
            "dL_dwo11",
            slide_dL_dwo11,
            forward,
            params,
            x,
            y_star,
        ).value
    )
    assert "the derivative of the loss of that forward" in text
    assert "σ is missing at the output" in text and "Fix forward first" in text


def test_self_consistent_nonsense_earns_nothing(monkeypatch):
    """y = the sum of all weights, every partial (y − y*): the exact derivatives of that
    forward's loss, and nothing for any of them."""

    def sum_forward(params, x):
        return float(params["wh"].sum() + params["wo"].sum()), np.zeros(2)

    def ones(params, x, y_star):
        y, _ = forward(params, x)
        return y - y_star

    def all_ones(params, x, y_star):
        y, _ = forward(params, x)
        e = y - y_star
        return 0.5 * e**2, {"wh": e * np.ones((3, 2)), "wo": e * np.ones(3)}

    monkeypatch.setitem(globals(), "forward", sum_forward)
    params, x, y_star = checks.random_case(5)
    for which in ("dL_dwo01", "dL_dwo11", "dL_dwh22"):
        with pytest.raises(GradingFailure, match="derivative of the loss of that forward"):
            checks.check_single_partial(which, ones, forward, params, x, y_star)
    for group in ("wo", "wh"):
        with pytest.raises(GradingFailure, match="derivative of the loss of that forward"):
            checks.check_partials(group, all_ones, forward, params, x, y_star)
    checks.check_partials_loss(all_ones, params, x, y_star)  # L = ½(y − y*)² is right


def test_the_library_answer_earns_nothing():
    params, x, y_star = checks.example_params(), checks.EXAMPLE_X, checks.EXAMPLE_Y

    def lectures(params, x, y_star):
        return lecture.loss_and_partials(params, x, y_star)

    def lectures_forward(params, x):
        return lecture.forward(params, x)

    for fail in (
        lambda: checks.check_partials("wo", lectures, forward, params, x, y_star),
        lambda: checks.check_partials_loss(lectures, params, x, y_star),
        lambda: checks.check_forward(lectures_forward, params, x),
    ):
        with pytest.raises(GradingFailure, match="the course's own implementation"):
            fail()


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


def test_finite_differences_through_forward_earn_nothing_and_are_flagged():
    """With the network's forward bound in, finite differences of `forward` would be the
    network's derivative, whatever the student's forward: they earn nothing."""
    from course import grading

    def by_differences(params, x, y_star):
        h = 1e-5
        up = {k: np.array(v, dtype=float) for k, v in params.items()}
        down = {k: np.array(v, dtype=float) for k, v in params.items()}
        up["wo"][1] += h
        down["wo"][1] -= h
        loss = lambda y: 0.5 * (y - y_star) ** 2  # noqa: E731
        return (loss(forward(up, x)[0]) - loss(forward(down, x)[0])) / (2 * h)

    params, x, y_star = checks.example_params(), checks.EXAMPLE_X, checks.EXAMPLE_Y
    with grading.collecting_flags([]) as flags:
        with pytest.raises(GradingFailure, match="numerical differentiation"):
            checks.check_single_partial("dL_dwo11", by_differences, forward, params, x, y_star)
    assert flags == ["dL_dwo11 differentiates forward numerically"]

    def twice(params, x, y_star):  # forward called twice at the point given: fine
        y = forward(dict(params), list(x))[0]
        return dL_dwo11(params, x, y_star) + 0.0 * y

    checks.check_single_partial("dL_dwo11", twice, forward, params, x, y_star)


def _differences(forward_fn, key, index):
    """A partial by central differences of `forward_fn`'s loss (the forward the checks
    cannot replace: a default argument, a closure, a copy of forward's code)."""

    def partial(params, x, y_star):
        h = 1e-6
        up = {k: np.array(v, dtype=float) for k, v in params.items()}
        down = {k: np.array(v, dtype=float) for k, v in params.items()}
        up[key][index] += h
        down[key][index] -= h
        return (
            0.5 * (forward_fn(up, x)[0] - y_star) ** 2
            - 0.5 * (forward_fn(down, x)[0] - y_star) ** 2
        ) / (2 * h)

    return partial


def test_finite_differences_of_any_forward_earn_nothing_and_are_flagged():
    """Called once more with the forward values of other hidden weights, a partial that
    ignores forward's values gives itself away: default argument, closure, copy alike."""
    from course import grading

    def by_default(params, x, y_star, _mine=forward):
        return _differences(_mine, "wo", (1,))(params, x, y_star)

    copy_of_forward = type(forward)(forward.__code__, {"np": np}, "copy_of_forward")
    closure = _differences(copy_of_forward, "wo", (1,))

    def loss_and_partials_by_differences(params, x, y_star):
        grads = {k: np.zeros(np.shape(v)) for k, v in params.items()}
        for key in grads:
            for index in np.ndindex(grads[key].shape):
                grads[key][index] = _differences(copy_of_forward, key, index)(params, x, y_star)
        return 0.5 * (copy_of_forward(params, x)[0] - y_star) ** 2, grads

    for case in (
        (checks.example_params(), checks.EXAMPLE_X, checks.EXAMPLE_Y),
        checks.random_case(7),
    ):
        for partial in (by_default, closure):
            with grading.collecting_flags([]) as flags:
                with pytest.raises(GradingFailure, match="numerical differentiation of a forward"):
                    checks.check_single_partial("dL_dwo11", partial, forward, *case)
            assert flags == [
                "dL_dwo11 differentiates numerically: forward's values make no difference"
            ]
        for group in ("wo", "wh"):
            with pytest.raises(GradingFailure, match="numerical differentiation of a forward"):
                checks.check_partials(group, loss_and_partials_by_differences, forward, *case)
        checks.check_partials_loss(loss_and_partials_by_differences, *case)  # L is right


def test_a_partial_computes_from_forwards_values():
    """z₂ recomputed from wʰ is right at the weights given, not on forward's values of
    other hidden weights: named, not flagged; the chain rule on forward's values in any
    form passes."""
    from course import grading

    def recomputed(params, x, y_star):
        y, _ = forward(params, x)
        wh = params["wh"]
        z2 = 1 / (1 + np.exp(-(wh[0, 1] + x[0] * wh[1, 1] + x[1] * wh[2, 1])))
        return (y - y_star) * y * (1 - y) * params["wo"][2] * z2 * (1 - z2) * x[1]

    def chain_rule(params, x, y_star):
        y, z = forward(params=params, x=x)
        delta_o = dL_dwo11(params, x, y_star) / z[0]
        return delta_o * params["wo"][2] * z[1] * (1 - z[1]) * x[1]

    case = checks.random_case(8)
    with grading.collecting_flags([]) as flags:
        with pytest.raises(GradingFailure, match="recomputes z"):
            checks.check_single_partial("dL_dwh22", recomputed, forward, *case)
    assert flags == []
    checks.check_single_partial("dL_dwh22", chain_rule, forward, *case)


def test_xor_takes_the_weights_only_at_the_end_of_real_steps():
    """Weights written down earn nothing, with or without the steps before them; any
    positive step size (the schedule is test-sgd-steps's) is a step."""
    solved = {
        "wh": np.array([[-10.0, -30.0], [20.0, 20.0], [20.0, 20.0]]),
        "wo": np.array([-10.0, 20.0, -20.0]),
    }

    def written_down(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
        return solved, [0.5 / (1 + e) for e in range(epochs)]

    def stepped_then_written(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
        return solved, _sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn)[1]

    def constant(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
        return _sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn, constant=True)

    with pytest.raises(GradingFailure, match="computed 0 gradients"):
        checks.check_sgd_xor(written_down, init_seed=2, seed=0)
    with pytest.raises(GradingFailure, match="where its own steps lead"):
        checks.check_sgd_xor(stepped_then_written, init_seed=2, seed=0)
    checks.check_sgd_xor(constant, init_seed=2, seed=0)
