"""Checkers for notebook 01 (chain rule and computation graphs).

Every derivative a student writes earns its points by the **true** derivative
(:func:`course.checks._kit.check_gradient`): central differences of the correct function
(σ(x²), x(y² + z), a + b, ab, ...) at the correct forward values.  The student's own
forward value only explains a failure: a derivative that is right only for a wrong
forward of theirs (h(x) = x with dh/dx = 1, f = x + y + z with partials 1, a node whose
out.value is its input and whose _backward passes out.grad on) earns nothing, and the
message says to fix the forward first.

The notebook's ``Node`` objects stay with the student's code: small drivers
(:func:`node_run`, :func:`node_value`, :func:`two_paths`) build the graphs from the
student's node functions and return plain numbers (when grading they run in the grader
and drive the kernel's nodes through handles).  A node's backward is run with its
``out.value`` set to the correct forward value first, so a node whose forward the student
broke but whose backward is right keeps the backward's points.

An answer that calls a course function computing it (:data:`GIVEAWAYS`: the numerical
gradient for every derivative, the figure's two-path sum for x σ(x)) earns nothing.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .. import grading
from .. import variant_tables as variants
from ..activations import sigmoid, sigmoid_prime
from ..grading import GradingFailure, call
from . import _kit as kit
from .catalogue import get as get_bug
from .catalogue import likely, suspects, table

__all__ = [
    "BUGS",
    "GIVEAWAYS",
    "GRAPH_POINT",
    "HAND_ANSWERS",
    "check_hand",
    "check_chain_derivative",
    "check_chain_value",
    "check_graph_gradient",
    "check_graph_value",
    "check_max_tie",
    "check_node_backward",
    "check_two_path_formula",
    "check_two_paths",
    "graph_point",
    "hand_number",
]

#: The assignment whose variants give each student their point (course.variants).
ASSIGNMENT = "01-chain-rule"

#: The course's example point (x, y, z) of f(x, y, z) = x(y² + z): variant 0, the numbers
#: of a notebook that knows no student.  Each student's own is :func:`graph_point`.
GRAPH_POINT = tuple(variants.SPECS[ASSIGNMENT].example["point"])

#: The hand answers of the graph, by the notebook's names.
HAND_ANSWERS = ("g_value", "f_value", "dfdx", "dfdy", "dfdz")

#: What a grading kernel may read of this module (the notebook's figure cell uses it):
#: plain data only; the checks themselves run in the grader.
KERNEL_NAMES = ("GRAPH_POINT",)

BUGS = table("01")

#: Course functions that differentiate numerically: a give-away of every derivative.
_NUMERICAL = (
    kit.NUMERICAL,
    "course.gradcheck.check_gradient",
    "course.gradcheck.check_gradients",
)

#: The course functions that give each exercise away (see _kit.own_work).  sigmoid and
#: sigmoid_prime are the exercises' own ingredients (the notebook imports them for that).
GIVEAWAYS = {
    "h_forward_backward": _NUMERICAL,
    "graph_forward_backward": _NUMERICAL,
    "node": _NUMERICAL,
    "x_sigmoid_x_grad": (*_NUMERICAL, "course.graph.two_path_graph"),
}


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


def graph_point():
    """(x, y, z) of the current student's variant (grading: of the submission's student).

    Returns
    -------
    tuple of 3 float
    """
    return tuple(float(v) for v in variants.current(ASSIGNMENT).numbers["point"])


def _written(namespace, names):
    """The hand answers of `names` the student wrote as numbers (others left out)."""
    given = {}
    for name in names:
        try:
            given[name] = hand_number(namespace, name)
        except (GradingFailure, NameError, KeyError):
            continue
    return given


def check_hand(namespace, name):
    """Check the hand answer `name` (one of :data:`HAND_ANSWERS`) at the student's point.

    The value is never shown.  A typical bug is named from the catalogue
    (:data:`course.variant_tables.GRAPH_HAND_BUGS`).  When the hand answers written so far
    (two or more) are all those of one other variant and no catalogued bug explains any
    of them, the failure says whose numbers they are and the notebook is flagged for the
    instructor.  Answers of the variant the student was given before the instructor's
    override (their released one) earn the points and flag the notebook: the student
    may not have fetched the release again.

    Raises
    ------
    GradingFailure
    """
    value = hand_number(namespace, name)
    mine = variants.current(ASSIGNMENT)
    spec = variants.SPECS[ASSIGNMENT]
    x, y, z = point = graph_point()
    if kit.close(value, spec.answers({"point": list(point)})[name], "typed"):
        return
    given = _written(namespace, HAND_ANSWERS)
    if mine.released is not None and mine.released != mine.index:
        before = spec.answers(mine.table[mine.released])
        if kit.close(value, before[name], "typed"):
            grading.flag(
                f"{name} of 01 is the answer of variant {mine.released}, the student's before "
                f"the override to variant {mine.index}: graded as right"
            )
            return
    others = variants.matching_variants(ASSIGNMENT, given) if len(given) >= 2 else []
    if len(others) == 1 and not _explained_by_a_bug(given, x, y, z):
        _another_variant(name, others[0], point)
    models = {get_bug(bug).text(): model(x, y, z) for bug, model in variants.GRAPH_HAND_BUGS[name]}
    kit.check_values(
        name,
        value,
        spec.answers({"point": list(point)})[name],
        tol="typed",
        reveal=False,
        models=models,
    )


def _explained_by_a_bug(given, x, y, z):
    """Whether any written hand answer is a catalogued bug at the student's own point (a
    bug carried from g into f and dfdx can land on another variant's answers)."""
    for name, value in given.items():
        models = {bug: model(x, y, z) for bug, model in variants.GRAPH_HAND_BUGS[name]}
        if kit.matching(value, models):
            return True
    return False


def _another_variant(name, k, point):
    """Fail `name`, flagging the notebook: its hand answers are those of variant `k`."""
    spec = variants.SPECS[ASSIGNMENT]
    theirs = spec.describe(variants.current(ASSIGNMENT).table[k])
    yours = spec.describe({"point": list(point)})
    whose = (
        "the course's example numbers, which a notebook shows when it knows no student id "
        "or finds no variants.json beside it"
        if k == 0
        else "another student's numbers"
    )
    grading.flag(f"the hand answers of 01 are those of variant {k} ({theirs}), not of {yours}")
    raise GradingFailure(
        f"{name} is not the answer at your point ({yours}). These are the answers of "
        f"variant {k}: {whose} ({theirs}). Work with your own point, shown above the exercise."
    )


@contextlib.contextmanager
def _forward_bug_named(forward, check, *args):
    """Add the forward's own likely bug to a failure that says a derivative is that of the
    student's wrong `forward` (the kit adds what is wrong with the forward only when the
    derivative is not even that one's)."""
    try:
        yield
    except GradingFailure as failure:
        text = str(failure)
        bug = None
        if f"Your gradient is the derivative of your {forward}" in text:
            try:
                check(*args)
            except GradingFailure as found:
                if "Likely bug: " in str(found):  # the catalogue's line of the forward's bug
                    bug = str(found).split("Likely bug: ", 1)[1].split("\n")[0].rstrip(".")
        if bug is None:
            raise
        head, note, tail = text.partition("\n(Gradient checks: ")
        raise GradingFailure(f"{head}\nWhat is wrong with {forward}: {bug}.{note}{tail}") from None


# ---------------------------------------------------------------- h(x) = f(g(x))

#: h_forward_backward's forward value, as the messages name it.
H_VALUE = "h_forward_backward (its h)"


def _chain_result(h_forward_backward, x, giveaways=()):
    with kit.own_work("h_forward_backward", giveaways):
        out = call(h_forward_backward, x.copy(), what="h_forward_backward")
    return kit.unpack(out, "h_forward_backward", ("h", "dhdx"))


def check_chain_value(h_forward_backward, x, reveal=True):
    """Check the value h of the student's ``h_forward_backward(x) -> (h, dhdx)``, for x of
    shape (n,), against σ(x²) (`reveal`: show the expected entry; False in hidden tests)."""
    x = np.asarray(x, dtype=np.float64)
    h, _ = _chain_result(h_forward_backward, x)
    models = {BUGS["01.h.value"].text(): sigmoid(x) ** 2}
    kit.check_values(
        "h",
        h,
        sigmoid(x * x),
        models=models,
        hint=f"{H_VALUE} must be σ(x²): h(x) = f(g(x)) with g(x) = x² and f = σ.",
        reveal=reveal,
    )


def check_chain_derivative(h_forward_backward, x, reveal=True):
    """Check dh/dx of ``h_forward_backward(x) -> (h, dhdx)`` against the true derivative
    of h(x) = σ(x²).

    Compared with central differences of Σ σ(x²) over the entries (whose gradient is
    dh/dx entry by entry).  The student's own h only explains a failure (a dh/dx that is
    the derivative of a wrong h earns nothing; the message says to fix h first).

    Parameters
    ----------
    h_forward_backward : callable
    x : ndarray, shape (n,)
    reveal : bool
        Show the expected values (False in hidden tests).
    """
    x = np.asarray(x, dtype=np.float64)
    _, dhdx = _chain_result(h_forward_backward, x, GIVEAWAYS["h_forward_backward"])
    with _forward_bug_named(H_VALUE, check_chain_value, h_forward_backward, x):
        return _check_dhdx(h_forward_backward, x, dhdx, reveal)


def _check_dhdx(h_forward_backward, x, dhdx, reveal):
    """The gradient check of dh/dx (see :func:`check_chain_derivative`)."""
    g = x * x
    models = {
        "01.h.no-inner": sigmoid_prime(g),
        "01.h.at-x": sigmoid_prime(x) * 2 * x,
        "01.h.at-h": sigmoid_prime(sigmoid(g)) * 2 * x,
        "01.h.prime-form": tuple(p * 2 * x for p in kit.prime_slips(sigmoid(g))),
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
        forward=H_VALUE,
        problem=kit.problem_of(check_chain_value, h_forward_backward, x, reveal=reveal),
        reveal=reveal,
        suspects=suspects({k: b for k, b in BUGS.items() if k.startswith("01.h.")}, models),
    )


# ---------------------------------------------------------------- f(x, y, z) = x(y² + z)

#: graph_forward_backward's forward value, as the messages name it.
F_VALUE = "graph_forward_backward (its f)"


def _graph_result(graph_forward_backward, x, y, z, giveaways=()):
    with kit.own_work("graph_forward_backward", giveaways):
        out = call(graph_forward_backward, x, y, z, what="graph_forward_backward")
    return kit.unpack(out, "graph_forward_backward", ("f", "dfdx", "dfdy", "dfdz"))


def check_graph_value(graph_forward_backward, point, reveal=True):
    """Check the value f of ``graph_forward_backward(x, y, z)`` against x(y² + z)
    (`reveal`: show the expected value; False in hidden tests)."""
    x, y, z = (float(v) for v in point)
    f_value = _graph_result(graph_forward_backward, x, y, z)[0]
    kit.check_values(
        f"f at {(x, y, z)}",
        f_value,
        x * (y * y + z),
        hint=f"{F_VALUE} must be x(y² + z): f = x · g with g = y² + z.",
        reveal=reveal,
    )


def check_graph_gradient(graph_forward_backward, point, reveal=True):
    """Check the partials of ``graph_forward_backward(x, y, z) -> (f, dfdx, dfdy, dfdz)``
    against the true partials of f = x(y² + z) (central differences of x(y² + z); the
    student's own f only explains a failure).

    Parameters
    ----------
    graph_forward_backward : callable
    point : tuple of 3 floats
    reveal : bool
        Show the expected values (False in hidden tests).
    """
    x, y, z = (float(v) for v in point)
    result = _graph_result(graph_forward_backward, x, y, z, GIVEAWAYS["graph_forward_backward"])
    grad = np.array(
        [
            float(kit.values(n, v, ())[0])
            for n, v in zip(("dfdx", "dfdy", "dfdz"), result[1:], strict=True)
        ]
    )
    g = y * y + z
    models = {
        "01.graph.dfdy-no-x": [g, 2 * y, x],
        "01.graph.dfdy-no-2": [g, x * y, x],
        "01.graph.dfdz-one": [g, 2 * x * y, 1.0],
        "01.graph.dfdx-x": [x, 2 * x * y, x],
        "01.graph.dfdx-y2": [y * y, 2 * x * y, x],
        "01.graph.divided": tuple([g, v, x] for v in kit.product_slips([x, 2.0, y])),
    }
    with _forward_bug_named(F_VALUE, check_graph_value, graph_forward_backward, point):
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
            forward=F_VALUE,
            problem=kit.problem_of(check_graph_value, graph_forward_backward, point, reveal=reveal),
            reveal=reveal,
            suspects=suspects({k: b for k, b in BUGS.items() if k.startswith("01.graph.")}, models),
        )


# ---------------------------------------------------------------- nodes
#
# Drivers: they run where the checks run and return numbers, never nodes.


def node_run(node_fn, Node, values, upstream, value=None):
    """Build ``out = node_fn(*leaves)``, set out.grad = upstream (and out.value = `value`,
    the correct forward value, when given), run its _backward once.

    Returns
    -------
    own_value : float
        out.value as the student's node computed it.
    grads : list of float
        The leaves' grad afterwards.
    """
    leaves = [Node(float(v)) for v in values]
    out = node_fn(*leaves)
    own_value = float(out.value)
    if value is not None:
        out.value = float(value)
    out.grad = upstream
    out._backward()
    return own_value, [float(leaf.grad) for leaf in leaves]


def node_value(node_fn, Node, values):
    """``node_fn(*[Node(v) for v in values]).value``."""
    return float(node_fn(*[Node(float(v)) for v in values]).value)


#: Each node operation: (forward value, local derivatives), as functions of the inputs.
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
    models = {"01.node.upstream": local, "01.node.upstream-divides": local / upstream}
    if op == "mul":
        models["01.node.mul-swapped"] = upstream * np.array(values)
    if op == "max":
        models["01.node.max-smaller"] = upstream * local[::-1]
    if op == "add":
        models["01.node.add-sign"] = upstream * np.array([1.0, -1.0])
    if op == "square":
        models["01.node.square-no-2"] = upstream * np.array(values)
        models["01.node.square-of-output"] = upstream * 2.0 * np.array(values) ** 2
    if op == "sigmoid":
        s = float(sigmoid(values[0]))
        models["01.node.sigmoid-at-output"] = upstream * np.array([float(sigmoid_prime(s))])
        models["01.node.sigma-for-prime"] = upstream * np.array([s])
        models["01.node.sigmoid-prime-form"] = tuple(
            upstream * np.array([p]) for p in kit.prime_slips(s)
        )
    return suspects({k: b for k, b in BUGS.items() if k.startswith("01.node.")}, models)


def _node_grads(op, node_fn, Node, values, upstream):
    """The inputs' grads after one _backward of the student's node, out.value set to the
    correct forward value first."""
    name = f"{op}_node"
    with kit.own_work(name, GIVEAWAYS["node"]):
        _, grads = call(node_run, node_fn, Node, values, upstream, _OPS[op][0](*values), what=name)
    return kit.values(f"the inputs' grad after {name}", grads, (len(values),))[0]


def check_node_backward(op, node_fn, Node, values, upstream, reveal=True):
    """Check the local backward of one node operation at one point.

    The node is built from fresh leaves, its ``out.value`` set to the correct forward
    value and its ``grad`` to `upstream` (≠ 1, so a forgotten upstream factor shows), its
    ``_backward`` run once; the inputs' ``grad`` must equal upstream × the true local
    derivative (central differences of the operation).  The node's own out.value only
    explains a failure.

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
    reveal : bool
        Show the expected values (False in hidden tests).
    """
    name = f"{op}_node"
    values = [float(v) for v in values]
    grads = _node_grads(op, node_fn, Node, values, upstream)
    forward = _OPS[op][0]
    with _inputs_named(len(values)):
        return _check_node_grads(name, node_fn, Node, values, upstream, grads, forward, reveal, op)


#: The node functions' inputs, as the notebook names them.
INPUTS = ("a", "b")


@contextlib.contextmanager
def _inputs_named(n):
    """Name a node's input by its grad (a.grad, b.grad), not by an index into the vector
    of the inputs' grads the check compares."""
    try:
        yield
    except GradingFailure as failure:
        text = str(failure)
        for i in range(n):
            text = text.replace(" is wrong, worst at entry", " are wrong, worst at entry")
            text = text.replace(f"worst at entry [{i}]", f"worst at {INPUTS[i]}.grad")
        raise GradingFailure(text) from None


def _check_node_grads(name, node_fn, Node, values, upstream, grads, forward, reveal, op):
    inputs = INPUTS[: len(values)]
    if len(values) == 1:
        what = f"a.grad after {name}(a) at a = {values[0]} with out.grad = {upstream}"
    else:
        what = (
            f"the inputs' grads after {name}({', '.join(inputs)}) at "
            f"({', '.join(inputs)}) = {tuple(values)} with out.grad = {upstream}"
        )
    return kit.check_gradient(
        what,
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
        reveal=reveal,
        suspects=_node_models(op, values, upstream),
    )


def check_max_tie(max_node, Node, value, upstream, reveal=True):
    """At a tie a = b, the course sends the whole upstream gradient to the first input a
    (`reveal`: show the expected grads; False in hidden tests)."""
    grads = _node_grads("max", max_node, Node, [float(value)] * 2, upstream)
    if kit.close(grads, [upstream, upstream]):
        raise GradingFailure(
            f"{BUGS['01.node.tie-both'].text().capitalize()} (a = b = {value}, "
            f"out.grad = {upstream}). The course's convention sends it to a only (a "
            "subgradient choice): ∂out/∂a = 1 if a ≥ b, ∂out/∂b = 1 only if b > a."
        )
    kit.check_values(
        f"(a.grad, b.grad) at the tie a = b = {value} with out.grad = {upstream}",
        grads,
        [upstream, 0.0],
        models={BUGS["01.node.tie-second"].text(): [0.0, upstream]},
        reveal=reveal,
        hint="At a tie the course sends the gradient to the first input a "
        "(∂out/∂a = 1 if a ≥ b): a subgradient choice.",
    )


# ---------------------------------------------------------------- two paths


def check_two_path_formula(x_sigmoid_x_grad, x, reveal=True):
    """The student's ``x_sigmoid_x_grad(x)`` against the true d/dx [x σ(x)] = σ(x) + x σ'(x),
    entrywise at the points `x` (shape (n,)); `reveal`: show the expected entry (False in
    hidden tests)."""
    with kit.own_work("x_sigmoid_x_grad", GIVEAWAYS["x_sigmoid_x_grad"]):
        grad = call(x_sigmoid_x_grad, np.array(x, dtype=np.float64), what="x_sigmoid_x_grad")
    x = np.asarray(x, dtype=np.float64)
    s, sp = sigmoid(x), sigmoid_prime(x)
    models = {
        "01.paths.only-factor": s,
        "01.paths.only-sigma": x * sp,
        "01.paths.sigma-for-prime": s + x * s,
    }
    models["01.paths.prime-form"] = tuple(s + x * p for p in kit.prime_slips(s))
    models["01.paths.minus"] = s - x * sp
    models["01.paths.divided"] = tuple(s + v for v in kit.product_slips([x, s, 1 - s]))
    expected = s + x * sp
    kit.values("d/dx [x σ(x)]", grad, x.shape)
    return kit.check_values(
        "d/dx [x σ(x)]",
        grad,
        expected,
        tol="gradient",
        reveal=reveal,
        models=suspects({k: b for k, b in BUGS.items() if k.startswith("01.paths.")}, models),
    )


#: f built from one input twice: (label, path 1, path 2, the two paths' true derivatives,
#: the nodes each path passes through from x on).
PATH_CASES = (
    ("f = x·y + x", "x·y", "+ x", lambda x, y: (y, 1.0), (("mul", "add"), ("add",))),
    (
        "f = x·σ(x)",
        "the factor x",
        "σ(x)",
        lambda x, y: (sigmoid(x), x * sigmoid_prime(x)),
        (("mul",), ("sigmoid", "mul")),
    ),
    ("f = x·x", "the first factor", "the second factor", lambda x, y: (x, x), (("mul",),) * 2),
    ("f = x + x", "the first term", "the second term", lambda x, y: (1.0, 1.0), (("add",),) * 2),
    (
        "f = (x + y)·x",
        "x + y",
        "the factor x",
        lambda x, y: (x, x + y),
        (("add", "mul"), ("mul",)),
    ),
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


#: Where a node is tried on its own when a path through it is wrong (its visible test's
#: point and upstream gradient), and its forward value in the notebook's words.
_TRIAL = {"add": ((0.8, -1.3), "a + b"), "mul": ((0.8, -1.3), "a · b"), "sigmoid": ((0.8,), "σ(a)")}


def _node_problem(op, node_fn, Node):
    """What is wrong with the student's node `op` on its own, or None."""
    values, formula = _TRIAL[op]
    name = f"{op}_node"
    try:
        check_node_backward(op, node_fn, Node, values, 2.5)
        own = call(node_value, node_fn, Node, list(values), what=name)
    except GradingFailure as failure:
        text = str(failure)
        if "Likely bug: " in text:  # the catalogue's line of the node's bug
            return text.split("Likely bug: ", 1)[1].split("\n")[0].rstrip(".")
        if f"Fix {name} (its out.value) first" in text:
            return f"its _backward is the derivative of its own out.value, which is not {formula}"
        return "its _backward passes the wrong gradient on (its own test says more)"
    if not kit.close(own, _OPS[op][0](*values)):
        return (
            f"its out.value is not {formula}: the forward line the notebook gives was "
            "changed, and the graph's backward pass uses the nodes' forward values"
        )
    return None


def _wrong_path(where, shared, own_sum, right, wrong, nodes, Node, reveal):
    """The failure when a path's share of x.grad is wrong: it names the node to fix first
    (the sum of the paths earns nothing before every path is right)."""
    path, got, expected, ops = wrong[0]
    text = f"x.grad of {where} is {shared:.6g}"
    text += f", but the true df/dx is {right.sum():.6g}" if reveal else ", which is wrong"
    text += f": the path through {path} gives {got:.6g}"
    text += f", where the chain rule gives {expected:.6g}." if reveal else ", which is wrong too."
    suspects = list(dict.fromkeys(op for *_, ops in wrong for op in ops))
    for op in suspects:
        problem = _node_problem(op, nodes[op], Node)
        if problem:
            text += f"\nFix {op}_node first: {problem.rstrip('.')}."
            break
    else:
        text += (
            "\nFix the nodes along that path first ("
            + " and ".join(f"{op}_node" for op in suspects)
            + ")."
        )
    text += (
        " This test checks that a shared input sums its paths: it gives nothing until every "
        "path is right."
    )
    if not kit.close(shared, own_sum):
        text += (
            f"\nAnd x.grad is not even the sum of your two paths ({own_sum:.6g}): "
            f"{BUGS['01.paths.overwrite'].text()}."
        )
    return text


def check_two_paths(Node, add_node, mul_node, sigmoid_node, x, y, reveal=True):
    """x used on two paths (f = x·y + x, x·σ(x), x·x, x + x, (x + y)·x) through the student's nodes.

    The multivariate chain rule sums the contributions of every path from x to f.  Each
    graph is built twice: once with one leaf per use of x, and once with x shared.  The
    shared leaf's grad must be the true df/dx.  When it is not, the separate leaves say
    why: a path whose contribution is wrong names the node to fix first (and the test
    gives nothing); right paths with a wrong sum are a _backward that assigns (=) where
    it must add (+=).

    Parameters
    ----------
    Node, add_node, mul_node, sigmoid_node : callable
        The notebook's Node class and the student's node functions.
    x, y : float
    reveal : bool
        Show the true derivatives (False in hidden tests).
    """
    nodes = {"add": add_node, "mul": mul_node, "sigmoid": sigmoid_node}
    for case, (label, path1, path2, paths, along) in enumerate(PATH_CASES):
        with kit.own_work("your nodes", GIVEAWAYS["node"]):
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
        if kit.close(shared, right.sum()):
            continue
        where = f"{label} at x = {x}, y = {y}"
        wrong = [
            (path, got, expected, ops)
            for path, got, expected, ops in zip((path1, path2), (p1, p2), right, along, strict=True)
            if not kit.close(got, expected)
        ]
        if wrong:
            raise GradingFailure(
                _wrong_path(where, shared, p1 + p2, right, wrong, nodes, Node, reveal)
            )
        raise GradingFailure(
            f"x.grad of {where} is {shared:.6g}, but the path through {path1} gives "
            f"{p1:.6g} and the path through {path2} gives {p2:.6g}; the multivariate chain "
            f"rule sums them to {p1 + p2:.6g}.\n" + likely("01.paths.overwrite")
        )
