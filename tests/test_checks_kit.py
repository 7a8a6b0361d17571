"""course.checks._kit: returns, dtype first, forward-qualified gradients, backprop timing,
and the remote-data discipline of every check (as the grader runs them)."""

import numpy as np
import pytest

from classroom import runner
from classroom.harness import assignments
from classroom.inprocess import InProcessKernel
from course.checks import _kit as kit
from course.grading import GradingFailure

# ------------------------------------------------------------------ returns and dtype


@pytest.mark.parametrize("value", [(1.0, 2.0), [1.0, 2.0], np.array([1.0, 2.0])])
def test_any_sequence_of_the_right_length_is_accepted(value):
    assert kit.unpack(value, "f", ("a", "b")) == (1.0, 2.0)


@pytest.mark.parametrize(
    "value, said",
    [
        (np.zeros((2, 4)), "an array of shape (2, 4)"),
        ((1.0, 2.0, 3.0), "a tuple of length 3"),
        ({"a": 1}, "a dict with keys ['a']"),
        (None, "None"),
    ],
)
def test_structural_messages_say_what_came_back(value, said):
    with pytest.raises(GradingFailure) as err:
        kit.unpack(value, "forward", ("aᴹ", "cache"))
    assert "forward must return 2 values (aᴹ, cache)" in str(err.value)
    assert said in str(err.value)


def test_dtype_is_named_before_values():
    right = np.linspace(0.1, 0.9, 6).reshape(2, 3)
    for dtype in (np.float32, np.float16):
        with pytest.raises(GradingFailure, match=f"is {np.dtype(dtype).name}: compute in float64"):
            kit.check_values("a", right.astype(dtype), right)
    with pytest.raises(GradingFailure, match="holds integers"):
        kit.check_values("a", np.zeros((2, 3), dtype=int), right)
    # A float32 step inside a float64 result is named too.
    with pytest.raises(GradingFailure, match="about 7 digits"):
        kit.check_values("a", right.astype(np.float32).astype(np.float64) + 1e-7, right)
    # Integer counts are fine where counts are asked for.
    kit.check_values("C", np.eye(2, dtype=int), np.eye(2))


def test_sign_and_models_in_check_values():
    with pytest.raises(GradingFailure, match="the sign is wrong"):
        kit.check_values("L", -0.5, 0.5)
    with pytest.raises(GradingFailure, match="Likely bug: the ½ is missing"):
        kit.check_values("L", 1.0, 0.5, models={"the ½ is missing": 1.0})


# ------------------------------------------------------------------ gradients


def _case():
    rng = np.random.default_rng(0)
    return rng.normal(size=(3, 2)), rng.normal(size=(3, 2))


def _check(forward, grad, x0, c):
    """∂/∂x Σ c ∘ tanh(x), with the student's `forward(x) -> Σ c ∘ f(x)`."""
    return kit.check_gradient(
        "∂J/∂x",
        grad,
        x0,
        entry="x",
        student=kit.evaluations(forward, None, lambda p: ((p,), {}), float, "forward"),
        reference=lambda p: float(np.sum(c * np.tanh(p))),
        forward="forward",
    )


def test_right_forward_and_gradient_pass():
    x0, c = _case()
    assert _check(lambda x: np.sum(c * np.tanh(x)), c * (1 - np.tanh(x0) ** 2), x0, c).ok


def test_a_gradient_right_only_for_a_wrong_forward_earns_nothing_and_says_why():
    x0, c = _case()
    # sigmoid instead of tanh, and the gradient of that sigmoid forward: the derivative of
    # the wrong function earns nothing, and the message says to fix the forward first
    s = 1 / (1 + np.exp(-x0))
    with pytest.raises(GradingFailure) as err:
        _check(lambda x: np.sum(c / (1 + np.exp(-x))), c * s * (1 - s), x0, c)
    assert "derivative of your forward" in str(err.value)
    assert "Fix forward first" in str(err.value)
    # the network's gradient with that wrong forward: full marks (a wrong forward costs
    # only the forward's own points)
    assert _check(lambda x: np.sum(c / (1 + np.exp(-x))), c * (1 - np.tanh(x0) ** 2), x0, c).ok


@pytest.mark.parametrize("grad", ["zeros", "ones"])
def test_the_derivative_of_a_trivially_wrong_function_earns_nothing(grad):
    """A flat forward with a zero gradient, an identity forward with a gradient of ones:
    self-consistent, and wrong."""
    x0, c = _case()
    forward = (lambda x: 4.2) if grad == "zeros" else (lambda x: float(np.sum(x)))
    with pytest.raises(GradingFailure) as err:
        _check(forward, getattr(np, grad + "_like")(x0), x0, c)
    assert "is wrong" in str(err.value)


def test_a_forward_lying_near_the_test_point_earns_its_gradient_nothing():
    x0, c = _case()
    fake = np.ones_like(x0)  # the gradient the forward pretends to have
    J0 = float(np.sum(c * np.tanh(x0)))

    def lying(x):
        if np.array_equal(x, x0):
            return J0
        return J0 + float(np.sum(fake * (x - x0)))

    with pytest.raises(GradingFailure):
        _check(lying, fake, x0, c)


def test_a_float32_forward_is_judged_by_the_network_s_differences():
    x0, c = _case()
    right = c * (1 - np.tanh(x0) ** 2)
    forward32 = lambda x: np.float32(np.sum(c * np.tanh(x.astype(np.float32))))  # noqa: E731
    assert _check(forward32, right, x0, c).ok


def test_the_tolerance_policy_is_shown_once_per_notebook():
    kit.reset_notes()
    x0, c = _case()
    texts = []
    for _ in range(2):
        with pytest.raises(GradingFailure) as err:
            _check(lambda x: np.sum(c * np.tanh(x)), 2 * c, x0, c)
        texts.append(str(err.value))
    assert "Gradient checks: float64" in texts[0]
    assert "Gradient checks" not in texts[1]


# ------------------------------------------------------------------ backprop, not numerical


def test_numerical_differentiation_is_named_and_stopped_quickly():
    import time

    from course.gradcheck import numerical_gradient

    W = np.random.default_rng(0).normal(size=(300, 300))
    x = np.ones((300, 1))

    def backprop(W, x):
        return np.tanh(W @ x) @ x.T

    def numerical(W, x):
        return numerical_gradient(lambda w: float(np.sum(np.tanh(w @ x))), W.copy())

    value, seconds = kit.check_backprop_speed(backprop, W, x, what="backward", n_params=W.size)
    assert seconds < 0.1 and np.array_equal(value, backprop(W, x))
    start = time.perf_counter()
    with pytest.raises(GradingFailure) as err:
        kit.check_backprop_speed(numerical, W, x, what="backward", n_params=W.size)
    assert time.perf_counter() - start < kit.BACKPROP_BUDGET + 1.0
    assert "numerical differentiation" in str(err.value)


# ------------------------------------------------------------------ the remote-data rules


def test_as_graded_calls_return_data_and_handles_and_copy_changes_back_when_asked():
    from autograder import remote
    from course import grading

    with InProcessKernel() as kernel:
        kernel.run_cell(
            "import numpy as np\n"
            "def student(params, x):\n"
            "    params['W'] *= 2\n"  # in place: the caller sees it only with in_place=True
            "    return {'y': params['W'].sum() * x}, object()\n"
        )
        params = {"W": np.ones((2, 2))}
        with grading.calls_through(remote.SessionBackend(kernel.session)):
            student = kernel.session.lookup("student")
            out = kit.call(kit.identity, 1.0)  # no handle involved: a call here
            data, _ = kit.call(student, params, 3.0)
            np.testing.assert_array_equal(params["W"], np.ones((2, 2)))  # the check's own data
            data, handle = kit.call(student, params, 3.0, in_place=True)
    assert out == 1.0 and data == {"y": 24.0}
    assert isinstance(handle, remote.Handle)
    np.testing.assert_array_equal(params["W"], 2 * np.ones((2, 2)))


def test_a_function_cannot_change_the_data_a_check_keeps():
    def student(X, Y):
        X[...] = 0.0
        Y.append(1)
        return float(np.sum(X))

    X, Y = np.ones((2, 3)), [0]
    assert kit.call(student, X, Y) == 0.0  # in this process: private copies
    assert X.sum() == 6.0 and Y == [0]
    assert kit.call(student, X, Y, in_place=True) == 0.0
    assert X.sum() == 0.0 and Y == [0, 1]


@pytest.mark.parametrize("assignment", assignments())
def test_every_check_obeys_the_remote_rules(assignment):
    """The graded notebooks, their test cells run as the grader runs them: against handles
    to the student's names, reaching student code only through grading.call and friends."""
    report = runner.run(runner.read(assignment))
    assert report.score == report.max_score, {
        k: c.output for k, c in report.cells.items() if not c.passed
    }
    blank = runner.run(runner.read(assignment, runner.RELEASE))
    assert blank.score == 0


# A function that writes into the arrays a check hands it must not change what the check
# computes its reference from (found by a hostile review: 2/12 on 05 and 5/13 on 07 for no
# work).  Each attack scores what the same answer scores without the writes.
TAMPER_07 = """
def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    Y[...] = 0.0
    X[...] = 0.0
    J = 0.5 * lam * sum(float(np.sum(v * v)) for k, v in params.items() if k.startswith("W"))
    return J, {k: (lam * v if k.startswith("W") else np.zeros_like(v)) for k, v in params.items()}
"""
TAMPER_07_DROPOUT = """
def dropout_loss_and_grads(params, X, Y, p, rng=None, mask=None, activation=ACT):
    Y[...] = 0.0
    X[...] = 0.0
    if mask is None:
        rng = rng or np.random.default_rng()
        shape = (params["W1"].shape[0], X.shape[1])
        mask = np.where(rng.random(shape) < p, 0.0, 1.0 / (1.0 - p))
    return 0.0, {k: np.zeros_like(v) for k, v in params.items()}, mask
"""
TAMPER_05 = """
def train_constant_init(X, Y, n_hidden, value, steps, lr):
    X[...] = 0.0
    Y[...] = 1.0 / Y.shape[0]
    return network.init_params([X.shape[0], n_hidden, Y.shape[0]], "constant", scale=value)
"""


def _without_writes(code):
    return "\n".join(
        line for line in code.splitlines() if not line.strip().startswith(("X[...]", "Y[...]"))
    )


@pytest.mark.parametrize(
    "assignment, answers",
    [
        (
            "07-regularization",
            {"l2-loss-and-grads": TAMPER_07, "dropout-loss-and-grads": TAMPER_07_DROPOUT},
        ),
        ("05-training", {"train-constant-init": TAMPER_05}),
    ],
)
@pytest.mark.parametrize("lab", [False, True], ids=["as-graded", "in-the-lab"])
def test_writing_into_a_checks_arrays_earns_nothing(assignment, answers, lab):
    release = runner.read(assignment, runner.RELEASE)
    attack = runner.run(release, answers, lab=lab)
    honest = runner.run(release, {g: _without_writes(c) for g, c in answers.items()}, lab=lab)
    assert {g: c.points for g, c in attack.cells.items()} == {
        g: c.points for g, c in honest.cells.items()
    }
