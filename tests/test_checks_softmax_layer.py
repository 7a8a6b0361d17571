"""course.checks.softmax_layer: right answers pass, typical bugs fail with their name."""

import numpy as np
import pytest

from course.activations import sigmoid, sigmoid_prime
from course.checks import softmax_layer as checks
from course.grading import GradingFailure


def softmax(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def ce_loss(z, Y):
    shifted = z - z.max(axis=0, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    return -np.sum(Y * logp) / z.shape[1]


def ce_grad(z, Y):
    return (softmax(z) - Y) / z.shape[1]


def forward(a_prev, W, b):
    z = W @ a_prev + b
    a = sigmoid(z)
    return a, (a_prev, W, b, z, a)


def backward(dJ_da, cache):
    a_prev, W, b, z, a = cache
    delta = dJ_da * a * (1 - a)
    return W.T @ delta, delta @ a_prev.T, delta.sum(axis=1, keepdims=True)


def fails(fn, *args, says, **kwargs):
    with pytest.raises(GradingFailure) as err:
        fn(*args, **kwargs)
    assert says.lower() in str(err.value).lower(), str(err.value)
    assert "Traceback" not in str(err.value)
    return str(err.value)


# ---------------------------------------------------------------- softmax


@pytest.mark.parametrize("offset", [0.0, 1000.0, [1000.0, -1000.0, 0.0, 5.0]])
def test_softmax_right_passes(offset):
    z, _ = checks.logits_case(3, 4, seed=1, offset=offset)
    checks.check_softmax(softmax, z)


def test_softmax_without_shift_is_unstable():
    z, _ = checks.logits_case(3, 4, seed=1, offset=1000.0)

    def naive(z):
        e = np.exp(z)
        return e / e.sum(axis=0, keepdims=True)

    checks.check_softmax(naive, checks.logits_case(3, 4, seed=1)[0])
    fails(checks.check_softmax, naive, z, says="each column's own maximum")


def test_softmax_global_max_fails_on_columns_of_different_scales():
    def global_shift(z):
        e = np.exp(z - z.max())
        return e / e.sum(axis=0, keepdims=True)

    z, _ = checks.logits_case(3, 2, seed=0, offset=[1000.0, 0.0])
    fails(checks.check_softmax, global_shift, z, says="not numerically stable")


def test_softmax_wrong_axis():
    def rows(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    z, _ = checks.logits_case(3, 5, seed=2)
    fails(checks.check_softmax, rows, z, says="wrong axis")


def test_softmax_not_implemented():
    def blank(z):
        raise NotImplementedError()

    fails(checks.check_softmax, blank, np.zeros((2, 2)), says="not implemented")


# ---------------------------------------------------------------- cross-entropy


def test_ce_loss_right_and_wrong():
    z, Y = checks.logits_case(4, 6, seed=3)
    checks.check_ce_loss(ce_loss, z, Y)
    fails(checks.check_ce_loss, lambda z, Y: -ce_loss(z, Y), z, Y, says="sign")
    fails(checks.check_ce_loss, lambda z, Y: 6 * ce_loss(z, Y), z, Y, says="1/N")
    fails(checks.check_ce_loss, lambda z, Y: ce_loss(z, Y) / 4, z, Y, says="classes")
    fails(checks.check_ce_loss, lambda z, Y: [1.0, 2.0], z, Y, says="one number")


def test_ce_gradient_right_passes_and_bugs_are_named():
    z, Y = checks.logits_case(4, 5, seed=4)
    assert checks.check_ce_gradient(ce_grad, ce_loss, z, Y).ok
    fails(checks.check_ce_gradient, lambda z, Y: softmax(z) - Y, ce_loss, z, Y, says="1/N")
    fails(checks.check_ce_gradient, lambda z, Y: -ce_grad(z, Y), ce_loss, z, Y, says="sign")
    fails(checks.check_ce_gradient, lambda z, Y: (z - Y) / 5, ce_loss, z, Y, says="logits")
    fails(
        checks.check_ce_gradient,
        lambda z, Y: -Y / softmax(z) / 5,
        ce_loss,
        z,
        Y,
        says="Jacobian",
    )
    fails(
        checks.check_ce_gradient,
        lambda z, Y: -Y * (1 - softmax(z)) / 5,
        ce_loss,
        z,
        Y,
        says="diagonal",
    )


def test_a_gradient_right_only_for_a_wrong_loss_earns_nothing():
    # A loss without the 1/N and a gradient without it agree with each other, not with the
    # cross-entropy loss: no points, and the message says to fix the loss first and why.
    z, Y = checks.logits_case(3, 4, seed=5)
    text = fails(
        checks.check_ce_gradient,
        lambda z, Y: softmax(z) - Y,
        lambda z, Y: 4 * ce_loss(z, Y),
        z,
        Y,
        says="Fix cross_entropy_loss first",
    )
    assert "derivative of your cross_entropy_loss" in text
    assert "times too large" in text.split("What is wrong with cross_entropy_loss:")[1]


def test_a_wrong_loss_costs_the_gradient_nothing():
    z, Y = checks.logits_case(3, 4, seed=5)
    assert checks.check_ce_gradient(ce_grad, lambda z, Y: -ce_loss(z, Y), z, Y).ok


def test_the_gradient_is_judged_with_the_course_softmax_in_place_of_the_students():
    z, Y = checks.logits_case(3, 4, seed=7)
    ns = {"np": np}
    exec(
        "def softmax(z):\n    return np.exp(z)\n"  # not normalised: wrong
        "def grad(z, Y):\n    return (softmax(z) - Y) / z.shape[1]\n",
        ns,
    )
    assert checks.check_ce_gradient(ns["grad"], ce_loss, z, Y).ok
    assert ns["softmax"](np.zeros((2, 1)))[0, 0] == 1.0  # the student's own is put back


def test_library_answers_earn_nothing():
    from course import gradcheck, losses

    z, Y = checks.logits_case(3, 4, seed=8)
    fails(checks.check_softmax, lambda z: losses.softmax(z), z, says="calls course.losses.softmax")
    fails(
        checks.check_ce_loss,
        lambda z, Y: losses.softmax_cross_entropy(z, Y)[0],
        z,
        Y,
        says="calls course.losses.softmax_cross_entropy",
    )
    fails(
        checks.check_ce_gradient,
        lambda z, Y: losses.softmax_cross_entropy(z, Y)[1],
        ce_loss,
        z,
        Y,
        says="calls course.losses.softmax_cross_entropy",
    )

    def numerical(z, Y):
        return gradcheck.numerical_gradient(lambda v: ce_loss(v, Y), np.array(z))

    fails(checks.check_ce_gradient, numerical, ce_loss, z, Y, says="numerical differentiation")


def test_the_speed_tests_judge_the_values_they_timed():
    def gives_up(z, Y):
        return np.zeros_like(z) if z.size > 10**4 else ce_grad(z, Y)

    fails(checks.check_ce_backprop, gives_up, says="not computed by backpropagation")
    checks.check_ce_backprop(ce_grad)

    def layer_gives_up(dJ_da, cache):
        if cache[1].size > 10**4:
            return tuple(np.zeros_like(v) for v in cache[:3])
        return backward(dJ_da, cache)

    fails(checks.check_backprop, layer_gives_up, says="not computed by backpropagation")
    checks.check_backprop(backward)


# ---------------------------------------------------------------- sigmoid layer


@pytest.mark.parametrize("shape", [(3, 4, 5), (3, 3, 1), (2, 6, 7)])
def test_layer_right_passes(shape):
    case = checks.layer_case(*shape, seed=sum(shape))
    checks.check_layer_forward(forward, case)
    for which in ("da_prev", "dW", "db"):
        assert checks.check_layer_backward(which, forward, backward, case).ok


def test_layer_forward_bugs():
    case = checks.layer_case(3, 4, 5, seed=0)
    fails(
        checks.check_layer_forward,
        lambda a, W, b: (sigmoid(W @ a), None),
        case,
        says="bias b is missing",
    )
    fails(checks.check_layer_forward, lambda a, W, b: (W @ a + b, None), case, says="σ was not")
    fails(
        checks.check_layer_forward,
        lambda a, W, b: (sigmoid(W @ a - b), None),
        case,
        says="the bias is subtracted",
    )
    fails(checks.check_layer_forward, lambda a, W, b: sigmoid(W @ a + b), case, says="2 values")


def _backward_with(delta_of, dW_of=None, db_of=None, da_of=None):
    def bwd(dJ_da, cache):
        a_prev, W, b, z, a = cache
        delta = delta_of(dJ_da, a)
        da = da_of(W, delta, a_prev) if da_of else W.T @ delta
        dW = dW_of(delta, a_prev) if dW_of else delta @ a_prev.T
        db = db_of(delta) if db_of else delta.sum(axis=1, keepdims=True)
        return da, dW, db

    return bwd


RIGHT = lambda G, a: G * a * (1 - a)  # noqa: E731


@pytest.mark.parametrize(
    "bwd, which, says",
    [
        (_backward_with(lambda G, a: G), "dW", "missing σ'(z)"),
        (_backward_with(lambda G, a: G), "db", "missing σ'(z)"),
        (_backward_with(lambda G, a: G), "da_prev", "missing σ'(z)"),
        (_backward_with(lambda G, a: G * sigmoid_prime(a)), "dW", "a instead of z"),
        (_backward_with(lambda G, a: G * sigmoid_prime(a)), "da_prev", "a instead of z"),
        (_backward_with(RIGHT, dW_of=lambda d, a: a @ d.T), "dW", "transposed"),
        (_backward_with(RIGHT, db_of=lambda d: d.mean(axis=1, keepdims=True)), "db", "1/N"),
        (_backward_with(RIGHT, db_of=lambda d: d.sum(axis=0, keepdims=True)), "db", "axis"),
        (_backward_with(RIGHT, db_of=lambda d: d.sum(axis=1)), "db", "keepdims"),
        (_backward_with(RIGHT, da_of=lambda W, d, a: (W.T @ d) * a * (1 - a)), "da_prev", "below"),
        (_backward_with(lambda G, a: -G * a * (1 - a)), "dW", "sign"),
    ],
)
def test_layer_backward_bugs_are_named(bwd, which, says):
    case = checks.layer_case(3, 4, 5, seed=1)
    fails(checks.check_layer_backward, which, forward, bwd, case, says=says)


def test_layer_square_shapes_name_transposes():
    case = checks.layer_case(4, 4, 3, seed=2)
    bwd = _backward_with(RIGHT, da_of=lambda W, d, a: W @ d)
    fails(checks.check_layer_backward, "da_prev", forward, bwd, case, says="transpose")
    bwd = _backward_with(RIGHT, dW_of=lambda d, a: a @ d.T)
    fails(checks.check_layer_backward, "dW", forward, bwd, case, says="transposed")


def test_a_tanh_layer_consistent_with_itself_earns_no_backward_points():
    # tanh forward with tanh's derivative: the backward is the derivative of that forward,
    # not of the sigmoid layer, so it fails, and the message says why.
    case = checks.layer_case(3, 4, 5, seed=3)

    def tanh_forward(a_prev, W, b):
        z = W @ a_prev + b
        a = np.tanh(z)
        return a, (a_prev, W, b, z, a)

    tanh_backward = _backward_with(lambda G, a: G * (1 - a * a))
    for which in ("da_prev", "dW", "db"):
        text = fails(
            checks.check_layer_backward,
            which,
            tanh_forward,
            tanh_backward,
            case,
            says="tanh's derivative",
        )
        assert "Fix sigmoid_layer_forward first" in text
        assert "that looks like tanh(z)" in text
    fails(checks.check_layer_forward, tanh_forward, case, says="tanh")


def test_a_linear_layer_consistent_with_itself_earns_nothing():
    case = checks.layer_case(3, 4, 5, seed=3)

    def linear(a_prev, W, b):
        z = W @ a_prev + b
        return z, (a_prev, W, b, z, z)

    for which in ("da_prev", "dW", "db"):
        text = fails(
            checks.check_layer_backward,
            which,
            linear,
            _backward_with(lambda G, a: G),
            case,
            says="missing σ'(z)",
        )
        assert "Fix sigmoid_layer_forward first" in text


def test_a_wrong_forward_costs_the_backward_nothing():
    case = checks.layer_case(3, 4, 5, seed=4)

    def no_bias(a_prev, W, b):
        z = W @ a_prev
        a = sigmoid(z)
        return a, (a_prev, W, b, z, a)

    fails(checks.check_layer_forward, no_bias, case, says="bias b is missing")
    for which in ("da_prev", "dW", "db"):
        assert checks.check_layer_backward(which, no_bias, backward, case).ok


def test_the_cache_layout_is_checked():
    case = checks.layer_case(3, 4, 5, seed=4)

    def old_layout(a_prev, W, b):
        a = sigmoid(W @ a_prev + b)
        return a, (a_prev, W, a)

    fails(checks.check_layer_forward, old_layout, case, says="(a_prev, W, b, z, a)")

    def swapped(a_prev, W, b):
        a, (a_prev, W, b, z, a) = forward(a_prev, W, b)
        return a, (a_prev, W, b, a, z)

    fails(checks.check_layer_forward, swapped, case, says="cache[3] holds a, not z")

    def as_list(a_prev, W, b):
        a, cache = forward(a_prev, W, b)
        return a, list(cache)

    checks.check_layer_forward(as_list, case)


def test_a_backward_that_recomputes_the_forward_gets_the_reference_one():
    case = checks.layer_case(3, 4, 5, seed=6)
    ns = {"np": np, "sigmoid": sigmoid}
    exec(
        "def sigmoid_layer_forward(a_prev, W, b):\n"
        "    raise NotImplementedError()\n"
        "def sigmoid_layer_backward(dJ_da, cache):\n"
        "    a_prev, W, b = cache[:3]\n"
        "    a, _ = sigmoid_layer_forward(a_prev, W, b)\n"
        "    delta = dJ_da * a * (1 - a)\n"
        "    return W.T @ delta, delta @ a_prev.T, delta.sum(axis=1, keepdims=True)\n",
        ns,
    )
    for which in ("da_prev", "dW", "db"):
        assert checks.check_layer_backward(
            which, ns["sigmoid_layer_forward"], ns["sigmoid_layer_backward"], case
        ).ok


def test_finite_differences_through_the_bound_forward_earn_nothing_and_are_flagged():
    """A backward by central differences of sigmoid_layer_forward would differentiate the
    course's layer (bound in its place), whatever the student's forward: nothing, flagged,
    in the backward tests and in the speed test."""
    from course import grading

    ns = {"np": np, "sigmoid": sigmoid}
    exec(
        "def sigmoid_layer_forward(a_prev, W, b):\n"
        "    z = W @ a_prev  # the bias left out\n"
        "    return sigmoid(z), (a_prev, W, b, z, sigmoid(z))\n"
        "def sigmoid_layer_backward(dJ_da, cache):\n"
        "    inputs = [np.array(v, dtype=float) for v in cache[:3]]\n"
        "    grads = [np.zeros_like(v) for v in inputs]\n"
        "    if sum(v.size for v in inputs) > 10**4:\n"
        "        return tuple(grads)\n"
        "    for v, g in zip(inputs, grads):\n"
        "        for idx in np.ndindex(v.shape):\n"
        "            v[idx] += 1e-6\n"
        "            up = np.sum(dJ_da * sigmoid_layer_forward(*inputs)[0])\n"
        "            v[idx] -= 2e-6\n"
        "            down = np.sum(dJ_da * sigmoid_layer_forward(*inputs)[0])\n"
        "            v[idx] += 1e-6\n"
        "            g[idx] = (up - down) / 2e-6\n"
        "    return tuple(grads)\n",
        ns,
    )
    case = checks.layer_case(3, 4, 5, seed=6)
    with grading.collecting_flags([]) as flags:
        for which in ("da_prev", "dW", "db"):
            fails(
                checks.check_layer_backward,
                which,
                ns["sigmoid_layer_forward"],
                ns["sigmoid_layer_backward"],
                case,
                says="numerical differentiation",
            )
        fails(checks.check_backprop, ns["sigmoid_layer_backward"], says="numerical differentiation")
    assert set(flags) == {
        "sigmoid_layer_backward differentiates sigmoid_layer_forward numerically",
        "sigmoid_layer_backward is fast but wrong on a big network (90600 parameters)",
    }


def test_layer_library_answers_earn_nothing():
    from course import layers

    case = checks.layer_case(3, 4, 5, seed=6)

    def dense(a_prev, W, b):
        z, _ = layers.dense_forward(a_prev, W, b)
        a = sigmoid(z)
        return a, (a_prev, W, b, z, a)

    fails(checks.check_layer_forward, dense, case, says="calls course.layers.dense_forward")

    def dense_back(dJ_da, cache):
        a_prev, W, b, z, a = cache
        return layers.dense_backward(dJ_da * a * (1 - a), (a_prev, W))

    fails(
        checks.check_layer_backward,
        "dW",
        forward,
        dense_back,
        case,
        says="calls course.layers.dense_backward",
    )


def test_ce_gradient_with_a_blank_loss():
    def blank(z, Y):
        raise NotImplementedError()

    z, Y = checks.logits_case(3, 4, seed=6)
    assert checks.check_ce_gradient(ce_grad, blank, z, Y).ok
    text = fails(checks.check_ce_gradient, lambda z, Y: -ce_grad(z, Y), blank, z, Y, says="sign")
    assert "Fix cross_entropy_loss" not in text


def test_layer_backward_shape_error_hints_at_the_transpose():
    case = checks.layer_case(3, 4, 5, seed=5)
    bwd = _backward_with(RIGHT, da_of=lambda W, d, a: W @ d)
    fails(checks.check_layer_backward, "dW", forward, bwd, case, says="needs the transpose")
