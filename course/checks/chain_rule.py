"""Checkers for notebook 01 (chain rule and computation graphs).

Every gradient a student writes is compared with central differences of a forward
computation: the student's own forward where they wrote one (the graph function), or the
node's given forward value (the node operations).  The "suspects" are the gradients that
the usual bugs produce, so a failing test names the bug.
"""

from __future__ import annotations

import numpy as np

from course.activations import sigmoid, sigmoid_prime
from course.grading import GradingFailure, call, check_close, check_gradient_of, check_shape

__all__ = [
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
    if name not in namespace:
        raise GradingFailure(
            f"{name} is not defined yet: write `{name} = <your number>` in the answer cell "
            "above and run it."
        )
    value = check_shape(name, namespace[name], ())
    if not np.isfinite(value):
        raise GradingFailure(f"{name} must be a finite number, got {float(value)}.")
    return float(value)


# ---------------------------------------------------------------- h(x) = f(g(x))


def _chain_result(h_forward_backward, x):
    result = call(h_forward_backward, x.copy(), what="h_forward_backward")
    if not (isinstance(result, tuple) and len(result) == 2):
        raise GradingFailure("h_forward_backward must return a pair (h, dhdx).")
    return result


def check_chain_value(h_forward_backward, x):
    """Check the value h of ``h_forward_backward(x) -> (h, dhdx)`` against σ(x²).

    Parameters
    ----------
    h_forward_backward : callable
    x : ndarray, shape (n,)
    """
    x = np.asarray(x, dtype=np.float64)
    h, _ = _chain_result(h_forward_backward, x)
    check_close("h", h, sigmoid(x * x), hint="h(x) = f(g(x)) with g(x) = x² and f = σ.")


def check_chain_derivative(h_forward_backward, x):
    """Check dh/dx of ``h_forward_backward(x) -> (h, dhdx)`` for h(x) = σ(x²).

    Compared with central differences of the student's own h (of the sum of h over the
    entries, whose gradient is dh/dx entry by entry).

    Parameters
    ----------
    h_forward_backward : callable
    x : ndarray, shape (n,)
    """
    x = np.asarray(x, dtype=np.float64)
    _, dhdx = _chain_result(h_forward_backward, x)

    def f(point):
        return float(np.sum(h_forward_backward(point)[0]))

    g = x * x
    check_gradient_of(
        "dh/dx",
        f,
        x,
        dhdx,
        suspects={
            "the inner derivative g'(x) = 2x is missing: h'(x) = f'(g(x)) · g'(x)": sigmoid_prime(
                g
            ),
            "f' is evaluated at x instead of at the cached g(x): h'(x) = f'(g(x)) · g'(x)": (
                sigmoid_prime(x) * 2 * x
            ),
            "f' is evaluated at h = σ(g) instead of at g: σ'(g) = σ(g)(1 − σ(g)) uses the "
            "cached output, it is not σ'(σ(g))": sigmoid_prime(sigmoid(g)) * 2 * x,
        },
    )


# ---------------------------------------------------------------- f(x, y, z) = x(y² + z)


def _graph_result(graph_forward_backward, x, y, z):
    result = call(graph_forward_backward, x, y, z, what="graph_forward_backward")
    if not (isinstance(result, tuple) and len(result) == 4):
        raise GradingFailure(
            "graph_forward_backward must return four numbers (f, dfdx, dfdy, dfdz)."
        )
    return result


def check_graph_value(graph_forward_backward, point):
    """Check the value f of ``graph_forward_backward(x, y, z)`` against x(y² + z)."""
    x, y, z = (float(v) for v in point)
    f_value = _graph_result(graph_forward_backward, x, y, z)[0]
    check_close(f"f at {(x, y, z)}", f_value, x * (y * y + z), hint="f = x · g, g = y² + z.")


def check_graph_gradient(graph_forward_backward, point):
    """Check the partials of ``graph_forward_backward(x, y, z) -> (f, dfdx, dfdy, dfdz)``.

    Compared with central differences of the student's own f at `point`.

    Parameters
    ----------
    graph_forward_backward : callable
    point : tuple of 3 floats
    """
    x, y, z = (float(v) for v in point)
    result = _graph_result(graph_forward_backward, x, y, z)
    grad = np.array(
        [check_shape(n, v, ()) for n, v in zip(("dfdx", "dfdy", "dfdz"), result[1:], strict=True)]
    )

    def f(p):
        return graph_forward_backward(float(p[0]), float(p[1]), float(p[2]))[0]

    g = y * y + z
    check_gradient_of(
        f"(∂f/∂x, ∂f/∂y, ∂f/∂z) at (x, y, z) = {(x, y, z)}",
        f,
        np.array([x, y, z]),
        grad,
        suspects={
            "∂f/∂y is missing the factor ∂f/∂g = x: ∂f/∂y = ∂f/∂g · ∂g/∂y = x · 2y": [g, 2 * y, x],
            "∂f/∂y is missing the factor 2 of ∂(y²)/∂y = 2y": [g, x * y, x],
            "∂f/∂z is missing the factor ∂f/∂g = x (∂g/∂z = 1 alone is not ∂f/∂z)": [
                g,
                2 * x * y,
                1,
            ],
        },
    )


# ---------------------------------------------------------------- nodes

# Local derivatives (∂out/∂input for each input) of the node operations, at input values.
_LOCAL = {
    "add": lambda a, b: (1.0, 1.0),
    "mul": lambda a, b: (b, a),
    "max": lambda a, b: (float(a >= b), float(b > a)),
    "square": lambda a: (2.0 * a,),
    "sigmoid": lambda a: (float(sigmoid_prime(a)),),
}


def _suspects(op, values, upstream):
    """Gradients (upstream × local derivative) that typical bugs in `op` produce."""
    local = np.array(_LOCAL[op](*values))
    suspects = {
        "it forgets the upstream gradient: multiply the local derivative by out.grad "
        "(the chain rule: ∂f/∂input = ∂f/∂out · ∂out/∂input)": local,
    }
    if op == "mul":
        a, b = values
        suspects["the local derivatives are swapped: ∂(ab)/∂a = b and ∂(ab)/∂b = a"] = (
            upstream * np.array([a, b])
        )
    if op == "max":
        suspects["the gradient went to the smaller input: max passes it to the larger one"] = (
            upstream * local[::-1]
        )
    if op == "sigmoid":
        (a,) = values
        s = float(sigmoid(a))
        suspects[
            "σ' is evaluated at the output σ(x) instead of at the input x: with the cached "
            "output s = σ(x), σ'(x) = s(1 − s)"
        ] = upstream * np.array([float(sigmoid_prime(s))])
        suspects["σ(x) is used where σ'(x) = σ(x)(1 − σ(x)) belongs"] = upstream * np.array([s])
    return suspects


def check_node_backward(op, node_fn, Node, values, upstream):
    """Check the local backward of one node operation at one point.

    The node is built from fresh leaves, its ``grad`` set to `upstream` (≠ 1, so a
    forgotten upstream factor shows), its ``_backward`` run once; the inputs' ``grad`` must
    equal upstream × (central differences of the node's own forward value).

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
    name = node_fn.__name__
    leaves = [Node(v) for v in values]
    out = call(node_fn, *leaves, what=name)
    out.grad = upstream
    call(out._backward, what=f"the _backward of {name}")
    grad = np.array([leaf.grad for leaf in leaves], dtype=np.float64)

    def f(point):
        return upstream * node_fn(*[Node(float(v)) for v in point]).value

    check_gradient_of(
        f"the inputs' grad after {name}(…) at inputs {tuple(values)} with out.grad = {upstream}",
        f,
        np.array(values, dtype=np.float64),
        grad,
        suspects=_suspects(op, [float(v) for v in values], upstream),
    )


def check_max_tie(max_node, Node, value, upstream):
    """At a tie x = y, the course sends the whole upstream gradient to the first input x."""
    a, b = Node(value), Node(value)
    out = call(max_node, a, b, what="max_node")
    out.grad = upstream
    call(out._backward, what="the _backward of max_node")
    grads = np.array([a.grad, b.grad], dtype=np.float64)
    if np.allclose(grads, [upstream, upstream]):
        raise GradingFailure(
            f"at a tie x = y = {value} both inputs received the gradient {upstream}: that "
            "counts the change twice. The course's convention sends it to x only (a "
            "subgradient choice): ∂max/∂x = 1 if x ≥ y, ∂max/∂y = 1 only if y > x."
        )
    check_close(
        f"(x.grad, y.grad) at the tie x = y = {value} with out.grad = {upstream}",
        grads,
        [upstream, 0.0],
        hint="At a tie the course sends the gradient to the first input x "
        "(∂max/∂x = 1 if x ≥ y): a subgradient choice.",
    )


def check_two_path_formula(x_sigmoid_x_grad, x):
    """Check ``x_sigmoid_x_grad(x)``, the derivative of x·σ(x), entrywise at `x`.

    Parameters
    ----------
    x_sigmoid_x_grad : callable
    x : ndarray, shape (n,)
    """
    x = np.asarray(x, dtype=np.float64)
    grad = call(x_sigmoid_x_grad, x.copy(), what="x_sigmoid_x_grad")
    s, sp = sigmoid(x), sigmoid_prime(x)
    check_gradient_of(
        "d/dx [x σ(x)]",
        lambda p: float(np.sum(p * sigmoid(p))),
        x,
        grad,
        suspects={
            "only the path through the factor x, σ(x), is there: add the path through σ(x), "
            "x σ'(x) (the paths sum)": s,
            "only the path through σ(x), x σ'(x), is there: add the path through the factor "
            "x, σ(x) (the paths sum)": x * sp,
            "σ'(x) is written as σ(x) in the second path: σ'(x) = σ(x)(1 − σ(x))": s + x * s,
        },
    )


def check_two_paths(Node, add_node, mul_node, sigmoid_node, x, y):
    """x used on two paths (f = x·y + x, x·σ(x), x·x, x + x, (x + y)·x) through the student's nodes.

    The multivariate chain rule sums the contributions of every path from x to f.  Each
    graph is built twice: once with one leaf per use of x (so each leaf receives exactly
    one path) and once with x shared.  The shared leaf's grad must be the sum of the
    separate leaves' grads, which holds when every node adds (+=) to its inputs' grad and
    fails when one assigns (=).  This checks the summing only, with the student's own local
    derivatives, so a wrong local derivative costs only that node's points.
    """
    cases = [
        ("f = x·y + x", lambda X1, X2, Y: add_node(mul_node(X1, Y), X2), "x·y", "+ x"),
        ("f = x·σ(x)", lambda X1, X2, Y: mul_node(X1, sigmoid_node(X2)), "the factor x", "σ(x)"),
        ("f = x·x", lambda X1, X2, Y: mul_node(X1, X2), "the first factor", "the second factor"),
        ("f = x + x", lambda X1, X2, Y: add_node(X1, X2), "the first term", "the second term"),
        ("f = (x + y)·x", lambda X1, X2, Y: mul_node(add_node(X1, Y), X2), "x + y", "the factor x"),
    ]
    for label, build, path1, path2 in cases:
        X1, X2, Y = Node(x), Node(x), Node(y)
        f = call(build, X1, X2, Y, what=f"building {label} from your nodes")
        call(f.backward, what=f"your nodes' _backward, run by backward() of {label},")
        X, Y = Node(x), Node(y)
        f = call(build, X, X, Y, what=f"building {label} from your nodes")
        call(f.backward, what=f"your nodes' _backward, run by backward() of {label},")
        paths = np.array([X1.grad, X2.grad], dtype=np.float64)
        shared = float(X.grad)
        total = float(paths.sum())
        if not abs(shared - total) <= 1e-9 * max(1.0, abs(total)):
            raise GradingFailure(
                f"x.grad of {label} at x = {x}, y = {y} is {shared:.6g}, but the path through "
                f"{path1} gives {paths[0]:.6g} and the path through {path2} gives "
                f"{paths[1]:.6g}; the multivariate chain rule sums them to {total:.6g}.\n"
                "Likely bug: a _backward overwrites the gradient (=) instead of summing the "
                "paths (+=)."
            )
