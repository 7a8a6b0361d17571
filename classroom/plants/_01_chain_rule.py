"""Planted bugs and correct alternatives for 01-chain-rule (notebook chain_rule).

Each plant edits the solution's answer cells: a bug must lose exactly the listed test cells
and their output must name it; an alternative must keep full marks.

Every derivative is judged by the true derivative, so a node bug also costs the two-paths
test whenever a path of its graphs runs through the bug (that test then names the node to
fix first), and a derivative right only for a wrong forward earns nothing.
"""

from classroom.plants import Plant, bugs_in, showing

NOTEBOOK = "chain_rule"

_bug = bugs_in(NOTEBOOK)

H = "dhdx = h * (1 - h) * 2 * x"
UP_A = "a.grad += out.grad"
UP_B = "b.grad += out.grad"

PLANTS = [
    # h(x) = σ(x²)
    _bug(
        "h: inner derivative g'(x) missing",
        "h-forward-backward",
        [(H, "dhdx = h * (1 - h)")],
        ("test-h-forward-backward-derivative",),
        "01.h.no-inner",
    ),
    _bug(
        "h: f' evaluated at x instead of g(x)",
        "h-forward-backward",
        [(H, "dhdx = sigmoid_prime(x) * 2 * x")],
        ("test-h-forward-backward-derivative",),
        "01.h.at-x",
    ),
    _bug(
        "h: sigma' evaluated at h",
        "h-forward-backward",
        [(H, "dhdx = sigmoid_prime(h) * 2 * x")],
        ("test-h-forward-backward-derivative",),
        "01.h.at-h",
    ),
    _bug(
        "h: forward computes sigma(x)^2 instead of sigma(x^2)",
        "h-forward-backward",
        [("h = sigmoid(g)", "h = sigmoid(x) ** 2")],
        # dhdx = h(1 − h)·2x on this wrong h is not the true derivative: it fails too, and
        # says to fix h first
        ("test-h-forward-backward-derivative", "test-h-forward-backward-value"),
        "01.h.value",
    ),
    # hand numbers at the student's point (x0, y0, z0): each grading is on its own variant
    _bug(
        "hand: g = y + z",
        "graph-forward-values",
        [("g_value = y0**2 + z0", "g_value = y0 + z0")],
        ("test-graph-forward-values",),
        "01.hand.g-no-square",
    ),
    _bug(
        "hand: f = x (y + z)",
        "graph-forward-values",
        [("f_value = x0 * g_value", "f_value = x0 * (y0 + z0)")],
        ("test-graph-forward-values",),
        "01.hand.f-no-square",
    ),
    _bug(
        "hand: f = x y² + z",
        "graph-forward-values",
        [("f_value = x0 * g_value", "f_value = x0 * y0**2 + z0")],
        ("test-graph-forward-values",),
        "01.hand.f-precedence",
    ),
    _bug(
        "hand: dfdy without the factor x",
        "hand-dfdy",
        [("dfdy = 2 * x0 * y0", "dfdy = 2 * y0")],
        ("test-hand-dfdy",),
        "01.hand.dfdy-no-x",
    ),
    _bug(
        "hand: dfdy without the factor 2",
        "hand-dfdy",
        [("dfdy = 2 * x0 * y0", "dfdy = x0 * y0")],
        ("test-hand-dfdy",),
        "01.hand.dfdy-no-2",
    ),
    _bug(
        "hand: dfdz = dg/dz = 1",
        "hand-dfdz",
        [("dfdz = x0", "dfdz = 1.0")],
        ("test-hand-dfdz",),
        "01.hand.dfdz-local",
    ),
    _bug(
        "hand: dfdx = x",
        "hand-dfdx",
        [("dfdx = y0**2 + z0", "dfdx = x0")],
        ("test-hand-dfdx",),
        "01.hand.dfdx-x",
    ),
    # graph_forward_backward
    _bug(
        "graph: dfdy missing df/dg",
        "graph-forward-backward",
        [("dfdy = dfdg * 2 * y", "dfdy = 2 * y")],
        ("test-graph-forward-backward-gradient",),
        "01.graph.dfdy-no-x",
    ),
    _bug(
        "graph: dfdz = 1",
        "graph-forward-backward",
        [("dfdz = dfdg * 1.0", "dfdz = 1.0")],
        ("test-graph-forward-backward-gradient",),
        "01.graph.dfdz-one",
    ),
    _bug(
        "graph: dfdy = x*y (factor 2 lost)",
        "graph-forward-backward",
        [("dfdy = dfdg * 2 * y", "dfdy = dfdg * y")],
        ("test-graph-forward-backward-gradient",),
        "01.graph.dfdy-no-2",
    ),
    # nodes
    _bug(
        "add: forgets the upstream gradient",
        "add-node",
        [(UP_A, "a.grad += 1.0"), (UP_B, "b.grad += 1.0")],
        # (x + y)·x: the path through x + y gets upstream x, not 1
        ("test-add-node", "test-two-paths"),
        "01.node.upstream",
    ),
    _bug(
        "add: sign flipped for b",
        "add-node",
        [(UP_B, "b.grad -= out.grad")],
        ("test-add-node", "test-two-paths"),
        "01.node.add-sign",
    ),
    _bug(
        "add: overwrites instead of summing",
        "add-node",
        [(UP_A, "a.grad = out.grad"), (UP_B, "b.grad = out.grad")],
        ("test-two-paths",),
        "01.paths.overwrite",
    ),
    _bug(
        "mul: local derivatives swapped",
        "mul-node",
        [
            ("a.grad += b.value * out.grad", "a.grad += a.value * out.grad"),
            ("b.grad += a.value * out.grad", "b.grad += b.value * out.grad"),
        ],
        ("test-mul-node", "test-two-paths"),
        "01.node.mul-swapped",
    ),
    _bug(
        "mul: forgets the upstream gradient",
        "mul-node",
        [
            ("a.grad += b.value * out.grad", "a.grad += b.value"),
            ("b.grad += a.value * out.grad", "b.grad += a.value"),
        ],
        ("test-mul-node",),
        "01.node.upstream",
    ),
    _bug(
        "mul: overwrites instead of summing",
        "mul-node",
        [
            ("a.grad += b.value * out.grad", "a.grad = b.value * out.grad"),
            ("b.grad += a.value * out.grad", "b.grad = a.value * out.grad"),
        ],
        ("test-two-paths",),
        "01.paths.overwrite",
    ),
    _bug(
        "max: both inputs get the gradient at a tie",
        "max-node",
        [("(b.value > a.value)", "(b.value >= a.value)")],
        ("test-max-node",),
        "01.node.tie-both",
    ),
    _bug(
        "max: gradient to the smaller input",
        "max-node",
        [
            ("(a.value >= b.value)", "(a.value < b.value)"),
            ("(b.value > a.value)", "(b.value <= a.value)"),
        ],
        ("test-max-node",),
        "01.node.max-smaller",
    ),
    _bug(
        "square: factor 2 missing",
        "square-node",
        [("a.grad += 2 * a.value * out.grad", "a.grad += a.value * out.grad")],
        ("test-square-node",),
        "01.node.square-no-2",
    ),
    _bug(
        "square: forgets the upstream gradient",
        "square-node",
        [("a.grad += 2 * a.value * out.grad", "a.grad += 2 * a.value")],
        ("test-square-node",),
        "01.node.upstream",
    ),
    _bug(
        "sigmoid: sigma' of the output",
        "sigmoid-node",
        [
            (
                "a.grad += out.value * (1 - out.value) * out.grad",
                "a.grad += sigmoid_prime(out.value) * out.grad",
            )
        ],
        ("test-sigmoid-node", "test-two-paths"),
        "01.node.sigmoid-at-output",
    ),
    _bug(
        "sigmoid: sigma instead of sigma'",
        "sigmoid-node",
        [
            (
                "a.grad += out.value * (1 - out.value) * out.grad",
                "a.grad += out.value * out.grad",
            )
        ],
        ("test-sigmoid-node", "test-two-paths"),
        "01.node.sigma-for-prime",
    ),
    _bug(
        "max: forgets the upstream gradient",
        "max-node",
        [
            ("a.grad += out.grad * (a.value >= b.value)", "a.grad += 1.0 * (a.value >= b.value)"),
            ("b.grad += out.grad * (b.value > a.value)", "b.grad += 1.0 * (b.value > a.value)"),
        ],
        ("test-max-node",),
        "01.node.upstream",
    ),
    _bug(
        "square: uses the output a² for a",
        "square-node",
        [("a.grad += 2 * a.value * out.grad", "a.grad += 2 * out.value * out.grad")],
        ("test-square-node",),
        "01.node.square-of-output",
    ),
    _bug(
        "sigmoid: forgets the upstream gradient",
        "sigmoid-node",
        [
            (
                "a.grad += out.value * (1 - out.value) * out.grad",
                "a.grad += out.value * (1 - out.value)",
            )
        ],
        # x·σ(x): σ(x) gets upstream x, not 1
        ("test-sigmoid-node", "test-two-paths"),
        "01.node.upstream",
    ),
    # two paths
    _bug(
        "x sigma(x): only the path through the factor x",
        "x-sigmoid-x-grad",
        [("return s + x * s * (1 - s)", "return s")],
        ("test-x-sigmoid-x-grad",),
        "01.paths.only-factor",
    ),
    _bug(
        "x sigma(x): only the path through sigma",
        "x-sigmoid-x-grad",
        [("return s + x * s * (1 - s)", "return x * s * (1 - s)")],
        ("test-x-sigmoid-x-grad",),
        "01.paths.only-sigma",
    ),
    _bug(
        "x sigma(x): sigma for sigma' in the second path",
        "x-sigmoid-x-grad",
        [("return s + x * s * (1 - s)", "return s + x * s")],
        ("test-x-sigmoid-x-grad",),
        "01.paths.sigma-for-prime",
    ),
    # correct alternatives
    Plant(
        "alternative: library sigma', explicit locals, if/else max",
        NOTEBOOK,
        {
            "h-forward-backward": ((H, "dhdx = sigmoid_prime(g) * (2 * x)"),),
            "mul-node": (
                (
                    "a.grad += b.value * out.grad\n        b.grad += a.value * out.grad",
                    "dout_da, dout_db = b.value, a.value  # local derivatives\n"
                    "        a.grad = a.grad + out.grad * dout_da\n"
                    "        b.grad = b.grad + out.grad * dout_db",
                ),
            ),
            "max-node": (
                (
                    "a.grad += out.grad * (a.value >= b.value)\n"
                    "        b.grad += out.grad * (b.value > a.value)",
                    "if a.value >= b.value:  # a tie goes to a\n"
                    "            a.grad += out.grad\n"
                    "        else:\n"
                    "            b.grad += out.grad",
                ),
            ),
            "sigmoid-node": (
                (
                    "a.grad += out.value * (1 - out.value) * out.grad",
                    "a.grad += float(sigmoid_prime(a.value)) * out.grad",
                ),
            ),
            "graph-forward-backward": (
                ("dfdy = dfdg * 2 * y", "dfdy = 2.0 * x * y"),
                ("dfdz = dfdg * 1.0", "dfdz = x"),
            ),
            "x-sigmoid-x-grad": (("return s + x * s * (1 - s)", "return s * (1 + x * (1 - s))"),),
            "hand-dfdy": (("dfdy = 2 * x0 * y0", "dfdy = 2.0 * y0 * x0"),),
            "graph-forward-values": (
                ("g_value = y0**2 + z0", "g_value = y0 * y0 + z0"),
                ("f_value = x0 * g_value", "f_value = float(x0 * (y0 * y0 + z0))"),
            ),
        },
    ),
    # issue 12: returned sequences of any kind, and a ∂f/∂x mix-up
    _bug(
        "graph: dfdx = x",
        "graph-forward-backward",
        [("dfdx = g", "dfdx = x")],
        ("test-graph-forward-backward-gradient",),
        "01.graph.dfdx-x",
    ),
    Plant(
        "alternative: graph_forward_backward and h_forward_backward return lists",
        NOTEBOOK,
        {
            "graph-forward-backward": (
                ("return f, dfdx, dfdy, dfdz", "return [f, dfdx, dfdy, dfdz]"),
            ),
            "h-forward-backward": (("return h, dhdx", "return [h, dhdx]"),),
        },
    ),
    _bug(
        "max: the tie goes to the second input",
        "max-node",
        [
            ("(a.value >= b.value)", "(a.value > b.value)"),
            ("(b.value > a.value)", "(b.value >= a.value)"),
        ],
        ("test-max-node",),
        "01.node.tie-second",
    ),
    # one operator or number wrong in a formula
    _bug(
        "graph: dfdy with / 2",
        "graph-forward-backward",
        [("dfdy = dfdg * 2 * y", "dfdy = dfdg / 2 * y")],
        ("test-graph-forward-backward-gradient",),
        "01.graph.divided",
    ),
    _bug(
        "h: sigma' as h / (1 - h)",
        "h-forward-backward",
        [(H, "dhdx = h / (1 - h) * 2 * x")],
        ("test-h-forward-backward-derivative",),
        "01.h.prime-form",
    ),
    _bug(
        "sigmoid: sigma' as s(1 + s)",
        "sigmoid-node",
        [
            (
                "a.grad += out.value * (1 - out.value) * out.grad",
                "a.grad += out.value * (1 + out.value) * out.grad",
            )
        ],
        ("test-sigmoid-node", "test-two-paths"),
        "01.node.sigmoid-prime-form",
    ),
    _bug(
        "mul: divides by out.grad",
        "mul-node",
        [
            ("a.grad += b.value * out.grad", "a.grad += b.value / out.grad"),
            ("b.grad += a.value * out.grad", "b.grad += a.value / out.grad"),
        ],
        ("test-mul-node",),
        "01.node.upstream-divides",
    ),
    _bug(
        "x sigma(x): divides by x",
        "x-sigmoid-x-grad",
        [("return s + x * s * (1 - s)", "return s + s * (1 - s) / x")],
        ("test-x-sigmoid-x-grad",),
        "01.paths.divided",
    ),
    _bug(
        "x sigma(x): paths subtracted",
        "x-sigmoid-x-grad",
        [("return s + x * s * (1 - s)", "return s - x * s * (1 - s)")],
        ("test-x-sigmoid-x-grad",),
        "01.paths.minus",
    ),
    _bug(
        "x sigma(x): sigma' as s(1 + s)",
        "x-sigmoid-x-grad",
        [("return s + x * s * (1 - s)", "return s + x * s * (1 + s)")],
        ("test-x-sigmoid-x-grad",),
        "01.paths.prime-form",
    ),
    # issue 18: points only by the true derivative, and only for the student's own work
    _bug(
        "h: h(x) = x with dh/dx = 1 (self-consistent)",
        "h-forward-backward",
        [(H, "dhdx = np.ones_like(x)"), ("return h, dhdx", "return x, dhdx")],
        ("test-h-forward-backward-derivative", "test-h-forward-backward-value"),
        "01.h.self-consistent",
    ),
    _bug(
        "h: the derivative of the wrong forward sigma(x)^2",
        "h-forward-backward",
        [("h = sigmoid(g)", "s = sigmoid(x)\n    h = s**2"), (H, "dhdx = 2 * s * s * (1 - s)")],
        # right for this h, not for σ(x²): nothing for the derivative, fix h first
        ("test-h-forward-backward-derivative", "test-h-forward-backward-value"),
        "01.h.value",
    ),
    _bug(
        "graph: f = x + y + z with partials 1 (self-consistent)",
        "graph-forward-backward",
        [
            ("f = x * g", "f = x + y + z"),
            ("dfdx = g", "dfdx = 1.0"),
            ("dfdy = dfdg * 2 * y", "dfdy = 1.0"),
            ("dfdz = dfdg * 1.0", "dfdz = 1.0"),
        ],
        ("test-graph-forward-backward-gradient", "test-graph-forward-backward-value"),
        "01.graph.self-consistent",
    ),
    _bug(
        "mul: an identity node, out = a with a.grad += out.grad (self-consistent)",
        "mul-node",
        [
            ("Node(a.value * b.value, (a, b))", "Node(a.value, (a, b))"),
            (
                "a.grad += b.value * out.grad\n        b.grad += a.value * out.grad",
                "a.grad += out.grad",
            ),
        ],
        ("test-mul-node", "test-two-paths"),
        showing("01.node.self-consistent", "fix mul_node"),
    ),
    _bug(
        "sigmoid: an identity node, out = a with a.grad += out.grad (self-consistent)",
        "sigmoid-node",
        [
            ("Node(sigmoid(a.value), (a,))", "Node(a.value, (a,))"),
            ("a.grad += out.value * (1 - out.value) * out.grad", "a.grad += out.grad"),
        ],
        ("test-sigmoid-node", "test-two-paths"),
        showing("01.node.self-consistent", "fix sigmoid_node"),
    ),
    _bug(
        "square: an identity node, out = a with a.grad += out.grad (self-consistent)",
        "square-node",
        [
            ("Node(a.value**2, (a,))", "Node(a.value, (a,))"),
            ("a.grad += 2 * a.value * out.grad", "a.grad += out.grad"),
        ],
        ("test-square-node",),
        showing("01.node.self-consistent", "fix square_node"),
    ),
    _bug(
        "sigmoid: forward line changed to out = a, backward right",
        "sigmoid-node",
        [("Node(sigmoid(a.value), (a,))", "Node(a.value, (a,))")],
        # the node test sets out.value = σ(a): the backward keeps its point; the graphs of
        # the two-paths test run on the node's own forward value
        ("test-two-paths",),
        showing("01.node.forward-changed", "its out.value is not σ(a)"),
    ),
    _bug(
        "h: dh/dx by the course's numerical gradient",
        "h-forward-backward",
        [
            (
                H,
                "from course import gradcheck\n\n"
                "    dhdx = gradcheck.numerical_gradient(lambda v: float(np.sum(sigmoid(v**2))), x.copy())",
            )
        ],
        ("test-h-forward-backward-derivative",),
        "gradcheck.numerical",
    ),
    _bug(
        "x sigma(x): the sum read off the course's two-path figure",
        "x-sigmoid-x-grad",
        [
            (
                "return s + x * s * (1 - s)",
                "return np.array([graph.two_path_graph(float(v)).sums['x'] for v in x])",
            )
        ],
        ("test-x-sigmoid-x-grad",),
        "kit.library-call",
    ),
    _bug(
        "h: returns sigma(x)^2, dh/dx the true derivative from the cached g",
        "h-forward-backward",
        [("return h, dhdx", "return sigmoid(x) ** 2, dhdx")],
        # a wrong forward value costs only its own point
        ("test-h-forward-backward-value",),
        "01.h.value",
    ),
    _bug(
        "graph: f = x(y + z), the partials right",
        "graph-forward-backward",
        [("f = x * g", "f = x * (y + z)")],
        ("test-graph-forward-backward-value",),
        "01.graph.value",
    ),
]

# issue 21: ∂f/∂x = y², the z of g forgotten
PLANTS += [
    _bug(
        "graph: dfdx = y**2 (z forgotten)",
        "graph-forward-backward",
        [("dfdx = g", "dfdx = y**2")],
        ("test-graph-forward-backward-gradient",),
        "01.graph.dfdx-y2",
    ),
]
