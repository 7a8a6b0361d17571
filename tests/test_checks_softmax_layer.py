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
    a = sigmoid(W @ a_prev + b)
    return a, (a_prev, W, a)


def backward(dJ_da, cache):
    a_prev, W, a = cache
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


def test_ce_gradient_follows_the_students_own_loss():
    # A loss without the 1/N and a gradient without it agree: full marks for the gradient.
    z, Y = checks.logits_case(3, 4, seed=5)
    assert checks.check_ce_gradient(
        lambda z, Y: softmax(z) - Y, lambda z, Y: 4 * ce_loss(z, Y), z, Y
    ).ok


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
    fails(checks.check_layer_forward, lambda a, W, b: sigmoid(W @ a + b), case, says="2 values")


def _backward_with(delta_of, dW_of=None, db_of=None, da_of=None):
    def bwd(dJ_da, cache):
        a_prev, W, a = cache
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


def test_layer_backward_follows_the_students_forward():
    # tanh forward with its own derivative: the backward is consistent, so it passes
    # even though the forward's test fails.
    case = checks.layer_case(3, 4, 5, seed=3)

    def tanh_forward(a_prev, W, b):
        a = np.tanh(W @ a_prev + b)
        return a, (a_prev, W, a)

    tanh_backward = _backward_with(lambda G, a: G * (1 - a * a))
    for which in ("da_prev", "dW", "db"):
        assert checks.check_layer_backward(which, tanh_forward, tanh_backward, case).ok
    fails(checks.check_layer_forward, tanh_forward, case, says="tanh")


def test_layer_backward_notes_a_wrong_forward():
    case = checks.layer_case(3, 4, 5, seed=4)

    def no_bias(a_prev, W, b):
        a = sigmoid(W @ a_prev)
        return a, (a_prev, W, a)

    text = fails(checks.check_layer_backward, "db", no_bias, backward, case, says="forward")
    assert "bias b is missing" in text
    assert checks.check_layer_backward("dW", no_bias, backward, case).ok


def test_ce_gradient_with_a_blank_loss_says_which_function():
    def blank(z, Y):
        raise NotImplementedError()

    z, Y = checks.logits_case(3, 4, seed=6)
    fails(checks.check_ce_gradient, ce_grad, blank, z, Y, says="cross_entropy_loss")


def test_layer_backward_shape_error_hints_at_the_transpose():
    case = checks.layer_case(3, 4, 5, seed=5)
    bwd = _backward_with(RIGHT, da_of=lambda W, d, a: W @ d)
    fails(checks.check_layer_backward, "dW", forward, bwd, case, says="needs the transpose")
