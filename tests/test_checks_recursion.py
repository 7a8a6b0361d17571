"""course.checks.recursion: right answers pass, each planted bug fails with its name."""

import numpy as np
import pytest

from course.activations import get_activation, sigmoid_prime
from course.checks import recursion as checks
from course.grading import GradingFailure


def forward(params, X, activation="sigmoid"):
    f = get_activation(activation).f
    M = len(params) // 2
    a, zs = [X], [None]
    for m in range(1, M + 1):
        zs.append(params[f"W{m}"] @ a[-1] + params[f"b{m}"])
        a.append(f(zs[-1]))
    return a[-1], {"a": a, "z": zs, "activation": activation}


def make_backward(bug=None):
    """A student's backward with the bug `bug` (a catalogue id) in it, or none."""

    def backward(params, cache, dJ_da):
        act = get_activation(cache["activation"])
        a, z = cache["a"], cache["z"]
        M = len(a) - 1
        N = a[0].shape[1]

        def fp(m):
            if bug == "04.backward.fprime-of-a":
                return sigmoid_prime(a[m])
            return act.f_prime(z[m])

        delta = dJ_da if bug == "04.backward.no-fprime-output" else fp(M) * dJ_da
        grads = {}
        for m in range(M, 0, -1):
            dW = delta @ a[m - 1].T
            if bug == "04.backward.dW-transposed":
                dW = a[m - 1] @ delta.T
            if bug == "04.backward.off-by-one":
                dW = delta @ a[m].T
            db = delta.sum(axis=1, keepdims=True)
            if bug == "04.backward.bias-mean":
                db = delta.mean(axis=1, keepdims=True)
            if bug == "04.backward.bias-axis":
                db = delta.sum(axis=0, keepdims=True)
            if bug == "04.backward.extra-1/N":
                dW, db = dW / N, db / N
            grads[f"W{m}"], grads[f"b{m}"] = dW, db
            if m > 1:
                W = params[f"W{m}"]
                back = W @ delta if bug == "04.backward.W-not-transposed" else W.T @ delta
                delta = back if bug == "04.backward.no-fprime-hidden" else fp(m - 1) * back
        return grads

    return backward


def sgd_update(params, grads, lr):
    return {k: params[k] - lr * grads[k] for k in params}


def fails(fn, *args, says, **kwargs):
    with pytest.raises(GradingFailure) as err:
        fn(*args, **kwargs)
    text = str(err.value)
    assert says.lower() in text.lower(), text
    return text


CASES = [
    ([3, 5, 5, 2], 4, "sigmoid", 0),
    ([4, 3, 2], 1, "tanh", 1),
    ([2, 6, 4, 4, 3], 7, "relu", 2),
    ([5, 4, 4, 4], 3, "tanh", 3),
    ([3, 2], 5, "identity", 4),
]


@pytest.mark.parametrize("sizes, N, act, seed", CASES)
def test_right_answers_pass(sizes, N, act, seed):
    case = checks.net_case(sizes, N, act, seed)
    checks.check_forward(forward, case)
    for key in case.params:
        assert checks.check_backward(key, make_backward(), case).ok


def test_relu_cases_avoid_the_kink():
    case = checks.net_case([2, 6, 4, 4, 3], 7, "relu", 2)
    zs = checks._zs(case.params, case.X, "relu")
    assert min(np.min(np.abs(z)) for z in zs) > 0.02


def test_suspects_match_the_planted_students():
    # The reference with a bug planted and a student with the same bug agree.
    case = checks.net_case([3, 5, 5, 2], 4, "sigmoid", 0)
    s = checks.gradient_suspects(case)
    hidden = checks.BUGS["04.backward.no-fprime-hidden"].diagnosis
    assert hidden in s["W1"]
    assert hidden not in s["W3"]  # output layer unaffected
    assert checks.BUGS["04.backward.W-not-transposed"].diagnosis not in s["W1"]  # W3 is 2 x 5


@pytest.mark.parametrize(
    "bug, keys, says",
    [
        ("04.backward.no-fprime-hidden", ["W1", "b1", "W2", "b2"], "missing f'(z) in the hidden"),
        ("04.backward.no-fprime-output", ["W1", "b2", "W3", "b3"], "missing f'(z) at the output"),
        ("04.backward.fprime-of-a", ["W1", "W2", "b3"], "a instead of z"),
        ("04.backward.dW-transposed", ["W1", "W2", "W3"], "transposed"),
        ("04.backward.off-by-one", ["W1", "W2", "W3"], "off by one"),
        ("04.backward.bias-mean", ["b1", "b2", "b3"], "wrong only in the bias"),
        ("04.backward.bias-axis", ["b1", "b3"], "wrong axis"),
        ("04.backward.extra-1/N", ["W1", "b1", "W3"], "1/N"),
    ],
)
def test_bugs_are_named(bug, keys, says):
    case = checks.net_case([3, 5, 5, 2], 4, "sigmoid", 0)
    for key in keys:
        fails(checks.check_backward, key, make_backward(bug), case, says=says)


def test_bug_spares_the_parameters_it_does_not_touch():
    case = checks.net_case([3, 5, 5, 2], 4, "sigmoid", 0)
    for key in ("W3", "b3"):
        assert checks.check_backward(key, make_backward("04.backward.no-fprime-hidden"), case).ok
    for key in ("W1", "W2", "W3"):
        assert checks.check_backward(key, make_backward("04.backward.bias-mean"), case).ok


def test_W_not_T_named_when_shapes_allow():
    case = checks.net_case([5, 4, 4, 4], 3, "tanh", 3)
    fails(
        checks.check_backward,
        "W1",
        make_backward("04.backward.W-not-transposed"),
        case,
        says="transposed",
    )


def test_forward_bugs_and_the_note_in_backward():
    case = checks.net_case([3, 5, 5, 2], 4, "tanh", 0)

    def no_bias(params, X, activation="sigmoid"):
        p = {k: (0 * v if k.startswith("b") else v) for k, v in params.items()}
        out, cache = forward(p, X, activation)
        return out, cache

    fails(checks.check_forward, no_bias, case, says="biases bᵐ are missing")
    # backward is handed the network's cache: a right backward keeps its points
    for key in case.params:
        assert checks.check_backward(key, make_backward(), case).ok

    def always_sigmoid(params, X, activation="sigmoid"):
        return forward(params, X, "sigmoid")

    fails(checks.check_forward, always_sigmoid, case, says="activation passed in")
    fails(checks.check_forward, lambda p, X, a: forward(p, X, a)[0], case, says="2 values")


def test_a_cache_in_another_layout_is_named():
    case = checks.net_case([3, 5, 5, 2], 4, "tanh", 0)

    def tuple_cache(params, X, activation="sigmoid"):
        out, cache = forward(params, X, activation)
        return out, (cache["a"], cache["z"])

    fails(checks.check_forward, tuple_cache, case, says="notebook's layout")

    def wrong_z(params, X, activation="sigmoid"):
        out, cache = forward(params, X, activation)
        cache["z"][2] = cache["a"][2]
        return out, cache

    fails(checks.check_forward, wrong_z, case, says='cache["z"][2]')


def test_a_backward_right_only_for_a_wrong_forward_earns_nothing():
    """A backward consistent with a forward that leaves f' out everywhere (a linear net)
    is the derivative of the wrong function: no points, the bug named."""
    case = checks.net_case([3, 5, 5, 2], 4, "tanh", 0)
    fails(
        checks.check_backward,
        "W1",
        make_backward("04.backward.no-fprime-hidden"),
        case,
        says="missing",
    )


def test_the_speed_test_judges_the_gradient_it_timed():
    def gives_up(params, cache, dJ_da):
        if sum(v.size for v in params.values()) > 10**4:
            return {k: np.zeros_like(v) for k, v in params.items()}
        return make_backward()(params, cache, dJ_da)

    fails(checks.check_backprop, gives_up, says="not computed by backpropagation")
    checks.check_backprop(make_backward())


def test_blank_functions_fail_cleanly():
    def blank(*args):
        raise NotImplementedError()

    case = checks.net_case([3, 5, 5, 2], 4, "sigmoid", 0)
    fails(checks.check_forward, blank, case, says="not implemented")
    fails(checks.check_backward, "W1", blank, case, says="not implemented")
    params, grads = checks.sgd_case([3, 4, 2], 0)
    fails(checks.check_sgd_update, blank, params, grads, 0.1, says="not implemented")


def test_sgd_update():
    params, grads = checks.sgd_case([3, 4, 2], 0)
    checks.check_sgd_update(sgd_update, params, grads, 0.1)

    def in_place(params, grads, lr):
        for k in params:
            params[k] -= lr * grads[k]
        return params

    checks.check_sgd_update(in_place, params, grads, 0.1)
    plus = lambda p, g, lr: {k: p[k] + lr * g[k] for k in p}  # noqa: E731
    fails(checks.check_sgd_update, plus, params, grads, 0.1, says="sign")
    no_bias = lambda p, g, lr: {k: p[k] - (lr * g[k] if k[0] == "W" else 0) for k in p}  # noqa: E731
    fails(checks.check_sgd_update, no_bias, params, grads, 0.1, says="wrong only in the bias")
    half = lambda p, g, lr: {k: p[k] - 0.5 * lr * g[k] for k in p}  # noqa: E731
    fails(checks.check_sgd_update, half, params, grads, 0.1, says="factor")
    fails(checks.check_sgd_update, lambda p, g, lr: None, params, grads, 0.1, says="None")


def test_W_not_T_with_unfit_shapes_hints_at_the_transpose():
    case = checks.net_case([3, 5, 5, 2], 4, "sigmoid", 0)
    text = fails(
        checks.check_backward,
        "b2",
        make_backward("04.backward.W-not-transposed"),
        case,
        says="transpose",
    )
    assert "Traceback" not in text
