"""The grader's end of the connection (autograder.remote), against a kernel of this process.

The kernel is :class:`classroom.inprocess.InProcessKernel`: the real agent, the real
stubs for ``import course``, on socket pairs; only the sandbox and ipykernel are missing
(tests/test_hostile.py grades through both).
"""

import time
from collections import namedtuple

import numpy as np
import pytest

from autograder import remote
from classroom.inprocess import InProcessKernel
from course import grading, network

STUDENT = """
import numpy as np
from course import network, training
from course.activations import sigmoid
from course.data import digits_split

def forward(params, X):
    print("forward ran")
    return params["W"] @ X, {"X": X, "opaque": object()}

def backward_from(cache):
    return cache["X"].sum()

def sgd(params, lr):
    params["W"] -= lr  # in place: the caller sees it
    params["b"] = params["b"] - lr  # rebinding: the caller's array stays
    params.pop("tmp", None)

def spin():
    while True:
        pass

def fails(x):
    y = x + 1
    return y / undefined_name

def draw(rng):
    return rng.normal(size=2)

from collections import namedtuple
Cache = namedtuple("Cache", "a z")

def forward_nt(X):
    return X * 2, Cache(X * 2, X)

def backward_nt(cache):
    return cache.a - cache.z

class Box:
    def __init__(self, value):
        self.value = float(value)
        self.grad = 0.0
    def double(self):
        self.grad += 2 * self.value

def predict(params, X):
    out, _ = network.forward(params, X, "tanh")  # the library: runs in the grader
    return out

def train_a_step(params, X, Y):
    J, grads, _ = network.loss_and_grads(params, X, Y)
    return {k: params[k] - 0.1 * grads[k] for k in params}

def uses_helper(x):
    return helper(x) + 1

def helper(x):
    return 0.0

alpha = 0.5
arr = np.arange(3.0)
"""


@pytest.fixture
def kernel():
    with InProcessKernel(call_timeout=10) as k:
        out, exc = k.run_cell(STUDENT)
        assert exc is None, out
        with grading.calls_through(remote.SessionBackend(k.session)):
            yield k


def test_names_arrive_as_data_or_handles(kernel):
    s = kernel.session
    assert s.lookup("alpha") == 0.5
    assert np.array_equal(s.lookup("arr"), [0, 1, 2])
    f = s.lookup("forward")
    assert isinstance(f, remote.Handle) and f.__name__ == "forward"
    with pytest.raises(KeyError):
        s.lookup("nothing")


def test_calls_return_data_keep_objects_as_handles_and_echo_prints(kernel, capsys):
    s = kernel.session
    a, cache = grading.call(s.lookup("forward"), {"W": np.eye(2)}, np.ones((2, 3)))
    assert np.array_equal(a, np.ones((2, 3)))
    assert isinstance(cache["opaque"], remote.Handle)
    assert grading.call(s.lookup("backward_from"), cache) == 6.0
    assert "forward ran" in capsys.readouterr().out


def test_handles_read_set_and_call_the_students_objects(kernel):
    box = kernel.session.lookup("Box")(1.5)  # an instance in the kernel
    assert isinstance(box, remote.Handle) and box.value == 1.5
    box.grad = 4.0
    box.double()
    assert box.grad == 7.0


def test_in_place_changes_are_mirrored_only_when_the_check_asks(kernel):
    W, b = np.ones((2, 2)), np.zeros((2, 1))
    params = {"W": W, "b": b, "tmp": 1}
    sgd = kernel.session.lookup("sgd")
    grading.call(sgd, params, 0.5)
    assert np.all(W == 1) and params["b"] is b and "tmp" in params  # the check's own data
    grading.call(sgd, params, 0.5, in_place=True)
    assert params["W"] is W and np.all(W == 0.5)  # changed in place
    assert params["b"] is not b and np.all(b == 0) and np.all(params["b"] == -0.5)
    assert "tmp" not in params


def test_a_generator_advances_as_it_would_in_process_when_asked(kernel):
    rng, twin = np.random.default_rng(3), np.random.default_rng(3)
    draw = kernel.session.lookup("draw")
    assert np.array_equal(grading.call(draw, rng, in_place=True), twin.normal(size=2))
    assert rng.normal() == twin.normal()
    assert np.array_equal(grading.call(draw, rng), twin.normal(size=2))
    assert rng.normal() != twin.normal()  # not advanced: the same draw comes next


def test_errors_name_the_student_line_and_budgets_stop_loops(kernel):
    s = kernel.session
    with pytest.raises(grading.GradingFailure, match="NameError"):
        grading.call(s.lookup("fails"), 1)
    start = time.monotonic()
    with pytest.raises(grading.TimeBudgetExceeded):
        grading.call_timed(s.lookup("spin"), budget=0.3)
    assert time.monotonic() - start < 3
    assert s.lookup("alpha") == 0.5  # the agent still answers


def test_call_each_is_one_round_trip(kernel):
    s = kernel.session
    forward = s.lookup("forward")
    before = s.requests
    values = grading.call_each(
        forward, [(({"W": np.eye(1) * k}, np.ones((1, 1))), {}) for k in range(50)]
    )
    assert [float(v[0][0, 0]) for v in values] == list(range(50))
    assert s.requests - before == 1


def test_a_gone_kernel_is_a_clear_failure(kernel):
    forward = kernel.session.lookup("forward")
    kernel.agent.calls.close()
    with pytest.raises(grading.GradingFailure, match="stopped answering"):
        grading.call(forward, {"W": np.eye(1)}, np.ones((1, 1)))


def test_a_namedtuple_cache_comes_back_as_the_students_own(kernel):
    s = kernel.session
    a, cache = grading.call(s.lookup("forward_nt"), np.ones(3))
    assert isinstance(cache, tuple) and np.array_equal(cache[0], 2 * np.ones(3))  # readable
    assert np.array_equal(grading.call(s.lookup("backward_nt"), cache), np.ones(3))


# -- the course library, seen from the kernel ----------------------------------------------


def test_the_kernel_has_no_course_code_only_the_graders_stubs(kernel):
    out, exc = kernel.run_cell(
        "import course.network as n, course.checks.chain_rule as c\n"
        "kinds = [type(n).__name__, type(n.forward).__name__, n.__file__]\n"
        "point = c.GRAPH_POINT\n"
    )
    assert exc is None, out
    assert kernel.session.lookup("kinds") == ["CourseModule", "CourseFunction", None]
    assert kernel.session.lookup("point") == [-2.0, 3.0, -4.0] or kernel.session.lookup(
        "point"
    ) == (-2.0, 3.0, -4.0)


@pytest.mark.parametrize(
    "code",
    [
        "from course.checks.chain_rule import check_node_backward",
        "from course.checks import _kit",
        "import course.checks.sigmoid_network as s; s.reference_forward",
        "from course.checks.recursion import planted_backward",
        "from course import remote",
    ],
)
def test_the_graders_references_are_out_of_reach(kernel, code):
    _, exc = kernel.run_cell(code)
    assert isinstance(exc, AttributeError | ImportError), exc


def test_course_functions_run_in_the_grader_and_print_and_draw_there(kernel):
    out, exc = kernel.run_cell(
        "split = digits_split(seed=0, n_train=50)\n"
        "shapes = (split.X_train.shape, split.Y_train.shape)\n"  # a property, computed there
        "rng = np.random.default_rng(5)\n"
        "p = network.init_params([3, 4, 2], 'xavier', rng)\n"
        "after = rng.integers(1000)\n"
    )
    assert exc is None, out
    twin = np.random.default_rng(5)
    network.init_params([3, 4, 2], "xavier", twin)
    assert kernel.session.lookup("after") == twin.integers(1000)  # the kernel's rng advanced
    assert kernel.session.lookup("shapes") == ((64, 50), (10, 50))


def test_a_check_sees_which_course_functions_the_students_code_called(kernel):
    predict = kernel.session.lookup("predict")
    params = network.init_params([3, 2], "xavier", np.random.default_rng(0))
    with grading.library_calls() as used:
        grading.call(predict, params, np.ones((3, 4)))
    assert used == {"course.network.forward"}


def test_a_spy_replaces_a_course_function_for_the_students_calls(kernel):
    step = kernel.session.lookup("train_a_step")
    params = network.init_params([3, 2], "xavier", np.random.default_rng(0))
    X, Y = np.ones((3, 4)), np.zeros((2, 4))
    seen = []

    def spy(params, X, Y, **kw):
        seen.append(X.shape)
        return network.loss_and_grads(params, X, Y, **kw)

    with grading.replacing("course.network.loss_and_grads", spy):
        new = grading.call(step, params, X, Y)
    assert seen == [(3, 4)] and set(new) == set(params)


def test_a_check_binds_its_own_function_into_the_namespace_for_a_call(kernel):
    uses = kernel.session.lookup("uses_helper")
    with grading.binding(uses, "helper", lambda x: 10.0 * x):
        assert grading.call(uses, 2.0) == 21.0
    assert grading.call(uses, 2.0) == 1.0  # the student's own is back
    with grading.library_calls() as used, grading.binding(uses, "helper", network.n_layers):
        grading.call(uses, {"W1": 1, "b1": 1})
    assert used == set()  # what a check hands over is not the student's use of the library


def test_a_reply_over_the_limit_is_refused_before_it_is_read(kernel):
    out, exc = kernel.run_cell("def big():\n    return np.zeros(remote_limit // 8 + 16)\n")
    kernel.user_ns["remote_limit"] = remote.MAX_REPLY_BYTES
    with pytest.raises(grading.GradingFailure, match="larger than the grader takes"):
        grading.call(kernel.session.lookup("big"))
    assert kernel.session.lookup("alpha") == 0.5  # the conversation is still in step


Point = namedtuple("Point", "x y")
