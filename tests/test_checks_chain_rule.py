"""course.checks.chain_rule: correct answers pass, typical bugs fail with their name."""

import numpy as np
import pytest

from course.activations import sigmoid, sigmoid_prime
from course.checks import chain_rule as checks
from course.grading import GradingFailure


class Node:
    """The notebook's Node (value, grad, parents, _backward), for the checks."""

    def __init__(self, value, parents=()):
        self.value = float(value)
        self.grad = 0.0
        self.parents = tuple(parents)
        self._backward = lambda: None

    def backward(self):
        order, seen = [], set()

        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for parent in node.parents:
                    visit(parent)
                order.append(node)

        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


def make_op(forward, local, accumulate=True):
    """A node function with the given forward and local derivatives (list per input)."""

    def op(*inputs):
        out = Node(forward(*[i.value for i in inputs]), inputs)

        def _backward():
            for node, d in zip(inputs, local(*[i.value for i in inputs]), strict=True):
                node.grad = (node.grad if accumulate else 0.0) + d * out.grad

        out._backward = _backward
        return out

    op.__name__ = forward.__name__
    return op


def add_node(a, b):
    return make_op(lambda x, y: x + y, lambda x, y: (1.0, 1.0))(a, b)


def mul_node(a, b):
    return make_op(lambda x, y: x * y, lambda x, y: (y, x))(a, b)


def sigmoid_node(a):
    return make_op(lambda x: float(sigmoid(x)), lambda x: (float(sigmoid_prime(x)),))(a)


def max_node(a, b):
    return make_op(max, lambda x, y: (float(x >= y), float(y > x)))(a, b)


def test_correct_nodes_pass():
    checks.check_node_backward("add", add_node, Node, (0.8, -1.3), 2.5)
    checks.check_node_backward("mul", mul_node, Node, (0.8, -1.3), 2.5)
    checks.check_node_backward("max", max_node, Node, (0.8, -1.3), 2.5)
    checks.check_node_backward("sigmoid", sigmoid_node, Node, (0.8,), 2.5)
    checks.check_max_tie(max_node, Node, 0.5, 2.5)
    checks.check_two_paths(Node, add_node, mul_node, sigmoid_node, 0.7, -1.6)


def test_forgotten_upstream_is_named():
    def mul_no_upstream(a, b):
        out = Node(a.value * b.value, (a, b))

        def _backward():
            a.grad += b.value
            b.grad += a.value

        out._backward = _backward
        return out

    with pytest.raises(GradingFailure, match="forgets the upstream gradient"):
        checks.check_node_backward("mul", mul_no_upstream, Node, (0.8, -1.3), 2.5)


def test_max_tie_to_both_is_named():
    def max_both(a, b):
        return make_op(max, lambda x, y: (float(x >= y), float(y >= x)))(a, b)

    checks.check_node_backward("max", max_both, Node, (0.8, -1.3), 2.5)  # no tie: fine
    with pytest.raises(GradingFailure, match="both inputs received"):
        checks.check_max_tie(max_both, Node, 0.5, 2.5)


def test_overwriting_is_named():
    def mul_overwrite(a, b):
        return make_op(lambda x, y: x * y, lambda x, y: (y, x), accumulate=False)(a, b)

    with pytest.raises(GradingFailure, match="instead of summing the paths"):
        checks.check_two_paths(Node, add_node, mul_overwrite, sigmoid_node, 0.7, -1.6)


def test_overwriting_in_add_is_caught():
    def add_overwrite(a, b):
        return make_op(lambda x, y: x + y, lambda x, y: (1.0, 1.0), accumulate=False)(a, b)

    with pytest.raises(GradingFailure, match="instead of summing the paths"):
        checks.check_two_paths(Node, add_overwrite, mul_node, sigmoid_node, 0.7, -1.6)


def test_chain_checks():
    def right(x):
        h = sigmoid(x**2)
        return h, h * (1 - h) * 2 * x

    def no_inner(x):
        h = sigmoid(x**2)
        return h, h * (1 - h)

    x = np.array([-1.5, 0.3, 2.0])
    checks.check_chain_value(right, x)
    checks.check_chain_derivative(right, x)
    with pytest.raises(GradingFailure, match="inner derivative"):
        checks.check_chain_derivative(no_inner, x)


def test_graph_checks():
    def right(x, y, z):
        g = y**2 + z
        return x * g, g, 2 * x * y, x

    def dfdy_without_x(x, y, z):
        g = y**2 + z
        return x * g, g, 2 * y, x

    checks.check_graph_value(right, (1.5, -0.5, 2.0))
    checks.check_graph_gradient(right, (1.5, -0.5, 2.0))
    with pytest.raises(GradingFailure, match="missing the factor ∂f/∂g = x"):
        checks.check_graph_gradient(dfdy_without_x, (1.5, -0.5, 2.0))


def test_hand_number():
    assert checks.hand_number({"dfdx": 5}, "dfdx") == 5.0
    with pytest.raises(GradingFailure, match="not defined yet"):
        checks.hand_number({}, "dfdx")
    with pytest.raises(GradingFailure, match="is None"):
        checks.hand_number({"dfdx": None}, "dfdx")


def test_two_path_formula():
    x = np.array([-2.0, 0.3, 1.8])
    checks.check_two_path_formula(lambda v: sigmoid(v) + v * sigmoid_prime(v), x)
    with pytest.raises(GradingFailure, match="the paths sum"):
        checks.check_two_path_formula(sigmoid, x)


def test_two_paths_needs_a_gradient_on_some_path():
    """Nodes whose _backward do nothing leave every path at 0: no points for a sum of zeros."""

    def silent(op):
        def node(*inputs):
            out = Node(float(op(*(i.value for i in inputs))), inputs)
            out._backward = lambda: None
            return out

        return node

    with pytest.raises(GradingFailure, match="gets nothing along either path"):
        checks.check_two_paths(
            Node,
            silent(lambda a, b: a + b),
            silent(lambda a, b: a * b),
            silent(lambda a: 1 / (1 + np.exp(-a))),
            0.7,
            -1.6,
        )


# issue 18: points only by the true derivative


def test_self_consistent_h_and_graph_earn_nothing_for_the_derivative():
    x = np.array([-1.5, 0.3, 2.0])

    def identity(x):  # h(x) = x, dh/dx = 1: the exact derivative of the wrong h
        return x, np.ones_like(x)

    with pytest.raises(GradingFailure, match=r"Fix h_forward_backward \(its h\) first"):
        checks.check_chain_derivative(identity, x)

    def square_of_sigma(x):  # σ(x)² and its exact derivative
        s = sigmoid(x)
        return s**2, 2 * s * s * (1 - s)

    with pytest.raises(GradingFailure, match="apply σ to x²") as info:
        checks.check_chain_derivative(square_of_sigma, x)
    assert "derivative of your h_forward_backward (its h)" in str(info.value)

    def wrong_h_true_derivative(x):  # only the forward value is wrong
        h = sigmoid(x**2)
        return sigmoid(x) ** 2, h * (1 - h) * 2 * x

    checks.check_chain_derivative(wrong_h_true_derivative, x)

    def total(x, y, z):  # f = x + y + z with partials 1
        return x + y + z, 1.0, 1.0, 1.0

    with pytest.raises(GradingFailure, match=r"Fix graph_forward_backward \(its f\) first"):
        checks.check_graph_gradient(total, (1.5, -0.5, 2.0))


def identity_node(*inputs):
    """out = the first input, its grad passed on: the exact derivative of that forward."""
    out = Node(inputs[0].value, inputs)

    def _backward():
        inputs[0].grad += out.grad

    out._backward = _backward
    return out


@pytest.mark.parametrize("op, values", [("mul", (0.8, -1.3)), ("sigmoid", (0.8,))])
def test_identity_nodes_earn_nothing(op, values):
    with pytest.raises(GradingFailure, match=f"Fix {op}_node"):
        checks.check_node_backward(op, identity_node, Node, values, 2.5)
    nodes = {"add_node": add_node, "mul_node": mul_node, "sigmoid_node": sigmoid_node}
    nodes[f"{op}_node"] = identity_node
    with pytest.raises(GradingFailure, match=f"Fix {op}_node first"):
        checks.check_two_paths(Node, *nodes.values(), 0.7, -1.6)


def test_a_node_is_judged_at_the_right_forward_value():
    """A sigmoid node whose forward line was changed but whose backward is right (it reads
    out.value) keeps its point; the two-paths graphs use its forward and name it."""

    def sigmoid_wrong_forward(a):
        out = Node(a.value, (a,))

        def _backward():
            a.grad += out.value * (1 - out.value) * out.grad

        out._backward = _backward
        return out

    checks.check_node_backward("sigmoid", sigmoid_wrong_forward, Node, (0.8,), 2.5)
    with pytest.raises(GradingFailure, match="its out.value is not σ"):
        checks.check_two_paths(Node, add_node, mul_node, sigmoid_wrong_forward, 0.7, -1.6)


def test_two_paths_names_the_node_of_a_wrong_path_and_hides_values_when_asked():
    def mul_swapped(a, b):
        return make_op(lambda x, y: x * y, lambda x, y: (x, y))(a, b)

    with pytest.raises(GradingFailure, match="Fix mul_node first: the local derivatives") as info:
        checks.check_two_paths(Node, add_node, mul_swapped, sigmoid_node, 0.7, -1.6)
    assert "the true df/dx is" in str(info.value)
    with pytest.raises(GradingFailure, match="Fix mul_node first") as info:
        checks.check_two_paths(Node, add_node, mul_swapped, sigmoid_node, -1.3, 2.2, reveal=False)
    assert "the true df/dx" not in str(info.value) and "chain rule gives" not in str(info.value)


def test_the_library_answers_earn_nothing():
    from course import gradcheck, graph

    x = np.array([-2.0, 0.3, 1.8])

    def read_off_the_figure(x):
        return np.array([graph.two_path_graph(float(v)).sums["x"] for v in x])

    with pytest.raises(GradingFailure, match="course.graph.two_path_graph"):
        checks.check_two_path_formula(read_off_the_figure, x)

    def numerical(x):
        f = lambda v: float(np.sum(sigmoid(v**2)))  # noqa: E731
        return sigmoid(x**2), gradcheck.numerical_gradient(f, x.copy())

    checks.check_chain_value(numerical, x)  # the value is the student's own work
    with pytest.raises(GradingFailure, match="numerical differentiation"):
        checks.check_chain_derivative(numerical, x)


def test_hidden_tests_show_no_expected_values():
    x = np.random.default_rng(12).normal(size=7)

    def no_inner(x):
        h = sigmoid(x**2)
        return h, h * (1 - h)

    def wrong_h(x):
        return sigmoid(x) ** 2, np.zeros_like(x)

    for check, fn in (
        (checks.check_chain_derivative, no_inner),
        (checks.check_chain_value, wrong_h),
        (checks.check_chain_derivative, wrong_h),
    ):
        with pytest.raises(GradingFailure) as info:
            check(fn, x, reveal=False)
        assert "expected" not in str(info.value) and "finite differences give" not in str(
            info.value
        )
    with pytest.raises(GradingFailure, match="tie") as info:
        checks.check_max_tie(make_op(max, lambda a, b: (0.0, 1.0)), Node, -1.2, -0.6, reveal=False)
    assert "expected" not in str(info.value)
