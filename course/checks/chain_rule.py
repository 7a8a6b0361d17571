"""Checkers for notebook 01 (chain rule and computation graphs).

Every gradient a student writes is compared with central differences
(:func:`course.checks._kit.check_gradient`): of the reference function where the
student's forward value agrees with it, of the student's own otherwise.  The notebook's
``Node`` objects never cross to the checker: small drivers (:func:`node_run`,
:func:`node_value`, :func:`two_paths`) build the graph from the student's node functions
next to their code and return plain numbers.
"""

from __future__ import annotations

import numpy as np

from ..activations import sigmoid, sigmoid_prime
from ..grading import GradingFailure, call
from . import _kit as kit
from .catalogue import suspects, table

__all__ = [
    "BUGS",
    "GRAPH_POINT",
    "check_chain_derivative",
    "check_chain_value",
    "check_graph_gradient",
    "check_graph_value",
    "check_max_tie",
    "check_node_backward",
    "check_two_path_formula",
    "check_two_paths",
    "hand_number",
]

#: The point (x, y, z) at which the hand numbers of f(x, y, z) = x(y² + z) are asked.
GRAPH_POINT = (-2.0, 3.0, -4.0)

#: What a grading kernel may read of this module (the notebook's figure cell uses it):
#: plain data only; the checks themselves run in the grader.
KERNEL_NAMES = ("GRAPH_POINT",)

BUGS = table("01")


def hand_number(namespace, name):
    """The student's number `name` from the notebook namespace, checked to be one real number.

    Parameters
    ----------
    namespace : dict
        ``globals()`` of the notebook.
    name : str

    Returns
    -------
    float
    """
    value, _ = kit.values(name, kit.student_value(namespace, name), (), integers=True)
    if not np.isfinite(value):
        raise GradingFailure(f"{name} must be a finite number, got {float(value)}.")
    return float(value)


def check_hand_number(value, expected, name):
    """A hand number against its value (never revealed; a wrong sign is called one)."""
    kit.check_values(name, value, expected, tol="typed", reveal=False)


# ---------------------------------------------------------------- h(x) = f(g(x))


def _chain_result(h_forward_backward, x):
    out = call(h_forward_backward, x.copy(), what="h_forward_backward")
    return kit.unpack(out, "h_forward_backward", ("h", "dhdx"))


def check_chain_value(h_forward_backward, x):
    """Check the value h of the student's ``h_forward_backward(x) -> (h, dhdx)``, for x of
    shape (n,), against σ(x²)."""
    x = np.asarray(x, dtype=np.float64)
    h, _ = _chain_result(h_forward_backward, x)
    models = {BUGS["01.h.value"].diagnosis: sigmoid(x) ** 2}
    kit.check_values(
        "h", h, sigmoid(x * x), models=models, hint="h(x) = f(g(x)) with g(x) = x² and f = σ."
    )


def check_chain_derivative(h_forward_backward, x):
    """Check dh/dx of ``h_forward_backward(x) -> (h, dhdx)`` for h(x) = σ(x²).

    Compared with central differences of Σ h over the entries (whose gradient is dh/dx
    entry by entry).

    Parameters
    ----------
    h_forward_backward : callable
    x : ndarray, shape (n,)
    """
    x = np.asarray(x, dtype=np.float64)
    _, dhdx = _chain_result(h_forward_backward, x)
    g = x * x
    models = {
        "no_inner": sigmoid_prime(g),
        "at_x": sigmoid_prime(x) * 2 * x,
        "at_h": sigmoid_prime(sigmoid(g)) * 2 * x,
        "prime_form": tuple(p * 2 * x for p in kit.prime_slips(sigmoid(g))),
    }
    return kit.check_gradient(
        "dh/dx",
        dhdx,
        x,
        entry="x",
        student=kit.evaluations(
            h_forward_backward,
            0,
            lambda p: ((p,), {}),
            lambda h: float(np.sum(np.asarray(h, dtype=np.float64))),
            "h_forward_backward",
        ),
        reference=lambda p: float(np.sum(sigmoid(p * p))),
        forward="h_forward_backward (its h)",
        problem=kit.problem_of(check_chain_value, h_forward_backward, x),
        suspects=suspects({k: b for k, b in BUGS.items() if k.startswith("01.h.")}, models.get),
    )


# ---------------------------------------------------------------- f(x, y, z) = x(y² + z)


def _graph_result(graph_forward_backward, x, y, z):
    out = call(graph_forward_backward, x, y, z, what="graph_forward_backward")
    return kit.unpack(out, "graph_forward_backward", ("f", "dfdx", "dfdy", "dfdz"))


def check_graph_value(graph_forward_backward, point):
    """Check the value f of ``graph_forward_backward(x, y, z)`` against x(y² + z)."""
    x, y, z = (float(v) for v in point)
    f_value = _graph_result(graph_forward_backward, x, y, z)[0]
    kit.check_values(f"f at {(x, y, z)}", f_value, x * (y * y + z), hint="f = x · g, g = y² + z.")


def check_graph_gradient(graph_forward_backward, point):
    """Check the partials of ``graph_forward_backward(x, y, z) -> (f, dfdx, dfdy, dfdz)``.

    Parameters
    ----------
    graph_forward_backward : callable
    point : tuple of 3 floats
    """
    x, y, z = (float(v) for v in point)
    result = _graph_result(graph_forward_backward, x, y, z)
    grad = np.array(
        [
            float(kit.values(n, v, ())[0])
            for n, v in zip(("dfdx", "dfdy", "dfdz"), result[1:], strict=True)
        ]
    )
    g = y * y + z
    models = {
        "dfdy_no_x": [g, 2 * y, x],
        "dfdy_no_2": [g, x * y, x],
        "dfdz_one": [g, 2 * x * y, 1.0],
        "dfdx_x": [x, 2 * x * y, x],
        "divided": tuple([g, v, x] for v in kit.product_slips([x, 2.0, y])),
    }
    return kit.check_gradient(
        f"(∂f/∂x, ∂f/∂y, ∂f/∂z) at (x, y, z) = {(x, y, z)}",
        grad,
        np.array([x, y, z]),
        entry="(x, y, z)",
        student=kit.evaluations(
            graph_forward_backward,
            0,
            lambda p: (tuple(float(v) for v in p), {}),
            lambda f: float(np.asarray(f, dtype=np.float64).reshape(())),
            "graph_forward_backward",
        ),
        reference=lambda p: float(p[0] * (p[1] ** 2 + p[2])),
        forward="graph_forward_backward (its f)",
        problem=kit.problem_of(check_graph_value, graph_forward_backward, point),
        suspects=suspects({k: b for k, b in BUGS.items() if k.startswith("01.graph.")}, models.get),
    )


# ---------------------------------------------------------------- nodes
#
# Drivers: they run next to the student's code and return numbers, never nodes.


def node_run(node_fn, Node, values, upstream):
    """Build ``node_fn(*leaves)``, set out.grad = upstream, run its _backward once.

    Returns
    -------
    value : float
        out.value.
    grads : list of float
        The leaves' grad afterwards.
    """
    leaves = [Node(float(v)) for v in values]
    out = node_fn(*leaves)
    out.grad = upstream
    out._backward()
    return float(out.value), [float(leaf.grad) for leaf in leaves]


def node_value(node_fn, Node, values):
    """``node_fn(*[Node(v) for v in values]).value``."""
    return float(node_fn(*[Node(float(v)) for v in values]).value)


_OPS = {
    "add": (lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    "mul": (lambda a, b: a * b, lambda a, b: (b, a)),
    "max": (max, lambda a, b: (float(a >= b), float(b > a))),
    "square": (lambda a: a * a, lambda a: (2.0 * a,)),
    "sigmoid": (lambda a: float(sigmoid(a)), lambda a: (float(sigmoid_prime(a)),)),
}


def _node_models(op, values, upstream):
    """What the node bugs of :data:`BUGS` make of the inputs' grads."""
    local = np.array(_OPS[op][1](*values))
    models = {"upstream": local, "upstream_divides": local / upstream}
    if op == "mul":
        models["mul_swapped"] = upstream * np.array(values)
    if op == "max":
        models["max_smaller"] = upstream * local[::-1]
    if op == "add":
        models["add_sign"] = upstream * np.array([1.0, -1.0])
    if op == "square":
        models["square_no_2"] = upstream * np.array(values)
        models["square_of_output"] = upstream * 2.0 * np.array(values) ** 2
    if op == "sigmoid":
        s = float(sigmoid(values[0]))
        models["sigmoid_at_output"] = upstream * np.array([float(sigmoid_prime(s))])
        models["sigma_for_prime"] = upstream * np.array([s])
        models["sigmoid_prime_form"] = tuple(upstream * np.array([p]) for p in kit.prime_slips(s))
    return suspects({k: b for k, b in BUGS.items() if k.startswith("01.node.")}, models.get)


def check_node_backward(op, node_fn, Node, values, upstream):
    """Check the local backward of one node operation at one point.

    The node is built from fresh leaves, its ``grad`` set to `upstream` (≠ 1, so a
    forgotten upstream factor shows), its ``_backward`` run once; the inputs' ``grad`` must
    equal upstream × the derivative of the node's forward value.

    Parameters
    ----------
    op : {"add", "mul", "max", "square", "sigmoid"}
    node_fn : callable
        The student's node function, e.g. ``mul_node(a, b) -> Node``.
    Node : type
        The notebook's Node class.
    values : tuple of float
        Input values (no ties for max: see :func:`check_max_tie`).
    upstream : float
        ∂f/∂out handed to the node.
    """
    name = f"{op}_node"
    values = [float(v) for v in values]
    _, grads = call(node_run, node_fn, Node, values, upstream, what=name)
    grads = kit.values(f"the inputs' grad after {name}", grads, (len(values),))[0]
    forward = _OPS[op][0]
    return kit.check_gradient(
        f"the inputs' grad after {name}(…) at inputs {tuple(values)} with out.grad = {upstream}",
        grads,
        np.array(values),
        entry="the inputs",
        student=kit.evaluations(
            node_value,
            None,
            lambda p: ((node_fn, Node, [float(v) for v in p]), {}),
            lambda v: upstream * float(v),
            name,
        ),
        reference=lambda p: upstream * forward(*[float(v) for v in p]),
        forward=f"{name} (its out.value)",
        suspects=_node_models(op, values, upstream),
    )


def check_max_tie(max_node, Node, value, upstream):
    """At a tie a = b, the course sends the whole upstream gradient to the first input a."""
    _, grads = call(node_run, max_node, Node, [value, value], upstream, what="max_node")
    grads, _ = kit.values("(a.grad, b.grad)", grads, (2,))
    if kit.close(grads, [upstream, upstream]):
        raise GradingFailure(
            f"{BUGS['01.node.tie-both'].diagnosis.capitalize()} (a = b = {value}, "
            f"out.grad = {upstream}). The course's convention sends it to a only (a "
            "subgradient choice): ∂out/∂a = 1 if a ≥ b, ∂out/∂b = 1 only if b > a."
        )
    kit.check_values(
        f"(a.grad, b.grad) at the tie a = b = {value} with out.grad = {upstream}",
        grads,
        [upstream, 0.0],
        models={BUGS["01.node.tie-second"].diagnosis: [0.0, upstream]},
        hint="At a tie the course sends the gradient to the first input a "
        "(∂out/∂a = 1 if a ≥ b): a subgradient choice.",
    )


# ---------------------------------------------------------------- two paths


def check_two_path_formula(x_sigmoid_x_grad, x):
    """The student's ``x_sigmoid_x_grad(x)`` against d/dx [x σ(x)] = σ(x) + x σ'(x),
    entrywise at the points `x` (shape (n,))."""
    grad = call(x_sigmoid_x_grad, np.array(x, dtype=np.float64), what="x_sigmoid_x_grad")
    x = np.asarray(x, dtype=np.float64)
    s, sp = sigmoid(x), sigmoid_prime(x)
    models = {"only_factor": s, "only_sigma": x * sp, "sigma_for_prime": s + x * s}
    models["prime_form"] = tuple(s + x * p for p in kit.prime_slips(s))
    models["minus"] = s - x * sp
    models["divided"] = tuple(s + v for v in kit.product_slips([x, s, 1 - s]))
    expected = s + x * sp
    kit.values("d/dx [x σ(x)]", grad, x.shape)
    return kit.check_values(
        "d/dx [x σ(x)]",
        grad,
        expected,
        tol="gradient",
        models=suspects({k: b for k, b in BUGS.items() if k.startswith("01.paths.")}, models.get),
    )


#: f built from one input twice: (label, path 1, path 2, the two paths' derivatives).
PATH_CASES = (
    ("f = x·y + x", "x·y", "+ x", lambda x, y: (y, 1.0)),
    ("f = x·σ(x)", "the factor x", "σ(x)", lambda x, y: (sigmoid(x), x * sigmoid_prime(x))),
    ("f = x·x", "the first factor", "the second factor", lambda x, y: (x, x)),
    ("f = x + x", "the first term", "the second term", lambda x, y: (1.0, 1.0)),
    ("f = (x + y)·x", "x + y", "the factor x", lambda x, y: (x, x + y)),
)


def _build(case, X1, X2, Y, add_node, mul_node, sigmoid_node):
    if case == 0:
        return add_node(mul_node(X1, Y), X2)
    if case == 1:
        return mul_node(X1, sigmoid_node(X2))
    if case == 2:
        return mul_node(X1, X2)
    if case == 3:
        return add_node(X1, X2)
    return mul_node(add_node(X1, Y), X2)


def two_paths(case, Node, add_node, mul_node, sigmoid_node, x, y):
    """Build PATH_CASES[case] with one leaf per use of x, then with x shared; backward()
    both (a driver).  Returns (grad of use 1, grad of use 2, grad of the shared x)."""
    nodes = (add_node, mul_node, sigmoid_node)
    X1, X2, Y = Node(x), Node(x), Node(y)
    _build(case, X1, X2, Y, *nodes).backward()
    X, Y = Node(x), Node(y)
    _build(case, X, X, Y, *nodes).backward()
    return float(X1.grad), float(X2.grad), float(X.grad)


def check_two_paths(Node, add_node, mul_node, sigmoid_node, x, y):
    """x used on two paths (f = x·y + x, x·σ(x), x·x, x + x, (x + y)·x) through the student's nodes.

    The multivariate chain rule sums the contributions of every path from x to f.  Each
    graph is built twice: once with one leaf per use of x, and once with x shared.  The
    shared leaf's grad must be the sum of the paths: the reference sum when the student's
    paths are right, else the sum of the student's own paths (so a wrong local derivative
    costs only that node's points).
    """
    for case, (label, path1, path2, paths) in enumerate(PATH_CASES):
        out = call(
            two_paths,
            case,
            Node,
            add_node,
            mul_node,
            sigmoid_node,
            x,
            y,
            what=f"your nodes, building {label} and running backward(),",
        )
        p1, p2, shared = (float(v) for v in kit.values(label, out, (3,))[0])
        right = np.array([float(v) for v in paths(x, y)])
        if kit.close([p1, p2], 0.0 * right) and not kit.close(right, 0.0 * right):
            # nothing reached x on either path: there is no sum to judge
            raise GradingFailure(
                f"x.grad of {label} at x = {x}, y = {y} gets nothing along either path (the "
                f"path through {path1} gives {p1:.6g}, the path through {path2} {p2:.6g}): "
                "the nodes' _backward pass no gradient on. Write the node functions above "
                "first; this test then checks that a shared input sums its paths."
            )
        total = p1 + p2 if not kit.close([p1, p2], right) else float(right.sum())
        if not kit.close(shared, total):
            raise GradingFailure(
                f"x.grad of {label} at x = {x}, y = {y} is {shared:.6g}, but the path through "
                f"{path1} gives {p1:.6g} and the path through {path2} gives {p2:.6g}; the "
                f"multivariate chain rule sums them to {total:.6g}.\n"
                f"Likely bug: {BUGS['01.paths.overwrite'].diagnosis}."
            )
