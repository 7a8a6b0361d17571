"""Planted bugs and correct alternatives for 01-chain-rule (notebook chain_rule).

Each plant edits the solution's answer cells: a bug must lose exactly the listed test cells
and their output must name it; an alternative must keep full marks.

Every derivative is judged by the true derivative, so a node bug also costs the two-paths
test whenever a path of its graphs runs through the bug (that test then names the node to
fix first), and a derivative right only for a wrong forward earns nothing.
"""

from classroom.plants import Plant, on, showing, sub, subs

NB = "chain_rule"

h, values, graph = (
    on(NB, c) for c in ("h-forward-backward", "graph-forward-values", "graph-forward-backward")
)
hand_dfdy, hand_dfdz, hand_dfdx = (on(NB, c) for c in ("hand-dfdy", "hand-dfdz", "hand-dfdx"))
add, mul, maximum = (on(NB, c) for c in ("add-node", "mul-node", "max-node"))
square, sig = on(NB, "square-node"), on(NB, "sigmoid-node")
paths = on(NB, "x-sigmoid-x-grad")

# the test cells that lose points
HD, HV = ("test-h-forward-backward-derivative",), ("test-h-forward-backward-value",)
HDV = HD + HV
VALUES = ("test-graph-forward-values",)
HAND_Y, HAND_Z, HAND_X = ("test-hand-dfdy",), ("test-hand-dfdz",), ("test-hand-dfdx",)
GG, GV = ("test-graph-forward-backward-gradient",), ("test-graph-forward-backward-value",)
TWO, ADD2 = ("test-two-paths",), ("test-add-node", "test-two-paths")
MUL, MUL2 = ("test-mul-node",), ("test-mul-node", "test-two-paths")
MAX, SQUARE = ("test-max-node",), ("test-square-node",)
SIG2, XSX = ("test-sigmoid-node", "test-two-paths"), ("test-x-sigmoid-x-grad",)

# lines of the solution that the plants edit
H = "dhdx = h * (1 - h) * 2 * x"
G0, F0 = "g_value = y0**2 + z0", "f_value = x0 * g_value"
HAND_DY = "dfdy = 2 * x0 * y0"
DY, DZ = "dfdy = dfdg * 2 * y", "dfdz = dfdg * 1.0"
UP = UP_A, UP_B = "a.grad += out.grad", "b.grad += out.grad"
M = MA, MB = "a.grad += b.value * out.grad", "b.grad += a.value * out.grad"
TIE_A, TIE_B = "(a.value >= b.value)", "(b.value > a.value)"
MAXES = MAX_A, MAX_B = f"a.grad += out.grad * {TIE_A}", f"b.grad += out.grad * {TIE_B}"
SQ = "a.grad += 2 * a.value * out.grad"
SIGMA = "a.grad += out.value * (1 - out.value) * out.grad"
XS = "return s + x * s * (1 - s)"
RETURN_H = "return h, dhdx"
MAB, MAX_AB = f"{MA}\n        {MB}", f"{MAX_A}\n        {MAX_B}"
H_OF_G = "h = sigmoid(g)"
SQUARE_NODE = "Node(a.value**2, (a,))"
MUL_NODE, SIGMOID_NODE = "Node(a.value * b.value, (a, b))", "Node(sigmoid(a.value), (a,))"
IDENTITY, A_NODE = "a.grad += out.grad", "Node(a.value, (a,))"
SIGMOID_IS_A = (SIGMOID_NODE, A_NODE)

# answers of several lines (an edit's first line goes where the text it replaces starts)
LOCALS = """dout_da, dout_db = b.value, a.value  # local derivatives
        a.grad = a.grad + out.grad * dout_da
        b.grad = b.grad + out.grad * dout_db"""
IF_ELSE = """if a.value >= b.value:  # a tie goes to a
            a.grad += out.grad
        else:
            b.grad += out.grad"""
NUMERICAL = """from course import gradcheck

    dhdx = gradcheck.numerical_gradient(lambda v: float(np.sum(sigmoid(v**2))), x.copy())"""
FIGURE = "return np.array([graph.two_path_graph(float(v)).sums['x'] for v in x])"


def _identity(node):
    """The key of the identity node bug planted in `node`_node (self-consistent)."""
    return showing("01.node.self-consistent", f"fix {node}_node")


PLANTS = [
    # h(x) = σ(x²)
    h("01.h.no-inner", HD, (H, "dhdx = h * (1 - h)")),
    h("01.h.at-x", HD, (H, "dhdx = sigmoid_prime(x) * 2 * x")),
    h("01.h.at-h", HD, (H, "dhdx = sigmoid_prime(h) * 2 * x")),
    # h(1 − h)·2x on this wrong h is not the true derivative: it fails too, and says fix h first
    h("01.h.value", HDV, (H_OF_G, "h = sigmoid(x) ** 2"), which="solution's dh/dx"),
    # hand numbers at the student's point (x0, y0, z0): each grading is on its own variant
    values("01.hand.g-no-square", VALUES, (G0, "g_value = y0 + z0")),
    values("01.hand.f-no-square", VALUES, (F0, "f_value = x0 * (y0 + z0)")),
    values("01.hand.f-precedence", VALUES, (F0, "f_value = x0 * y0**2 + z0")),
    hand_dfdy("01.hand.dfdy-no-x", HAND_Y, (HAND_DY, "dfdy = 2 * y0"), which="hand"),
    hand_dfdy("01.hand.dfdy-no-2", HAND_Y, (HAND_DY, "dfdy = x0 * y0"), which="hand"),
    hand_dfdz("01.hand.dfdz-local", HAND_Z, ("dfdz = x0", "dfdz = 1.0")),
    hand_dfdx("01.hand.dfdx-x", HAND_X, ("dfdx = y0**2 + z0", "dfdx = x0"), which="hand"),
    # graph_forward_backward
    graph("01.graph.dfdy-no-x", GG, (DY, "dfdy = 2 * y"), which="graph"),
    graph("01.graph.dfdz-one", GG, (DZ, "dfdz = 1.0")),
    graph("01.graph.dfdy-no-2", GG, (DY, "dfdy = dfdg * y"), which="graph"),
    # nodes; (x + y)·x: the path through x + y gets upstream x, not 1
    add("01.node.upstream", ADD2, *subs(UP, "out.grad", "1.0"), which="add"),
    add("01.node.add-sign", ADD2, (UP_B, "b.grad -= out.grad")),
    add("01.paths.overwrite", TWO, *subs(UP, "+=", "="), which="add"),
    mul("01.node.mul-swapped", MUL2, sub(MA, "b.value", "a.value"), sub(MB, "a.value", "b.value")),
    mul("01.node.upstream", MUL, *subs(M, " * out.grad", ""), which="mul"),
    mul("01.paths.overwrite", TWO, *subs(M, "+=", "="), which="mul"),
    maximum("01.node.tie-both", MAX, sub(TIE_B, ">", ">=")),
    maximum("01.node.max-smaller", MAX, sub(TIE_A, ">=", "<"), sub(TIE_B, ">", "<=")),
    square("01.node.square-no-2", SQUARE, (SQ, "a.grad += a.value * out.grad")),
    square("01.node.upstream", SQUARE, (SQ, "a.grad += 2 * a.value"), which="square"),
    sig(
        "01.node.sigmoid-at-output", SIG2, (SIGMA, "a.grad += sigmoid_prime(out.value) * out.grad")
    ),
    sig("01.node.sigma-for-prime", SIG2, (SIGMA, "a.grad += out.value * out.grad")),
    maximum("01.node.upstream", MAX, *subs(MAXES, "out.grad", "1.0"), which="max"),
    square("01.node.square-of-output", SQUARE, (SQ, "a.grad += 2 * out.value * out.grad")),
    # x·σ(x): σ(x) gets upstream x, not 1
    sig("01.node.upstream", SIG2, sub(SIGMA, " * out.grad", ""), which="sigmoid"),
    # two paths
    paths("01.paths.only-factor", XSX, (XS, "return s")),
    paths("01.paths.only-sigma", XSX, (XS, "return x * s * (1 - s)")),
    paths("01.paths.sigma-for-prime", XSX, (XS, "return s + x * s")),
    # correct alternatives
    Plant(
        "alternative: library sigma', explicit locals, if/else max",
        NB,
        {
            "h-forward-backward": ((H, "dhdx = sigmoid_prime(g) * (2 * x)"),),
            "mul-node": ((MAB, LOCALS),),
            "max-node": ((MAX_AB, IF_ELSE),),
            "sigmoid-node": ((SIGMA, "a.grad += float(sigmoid_prime(a.value)) * out.grad"),),
            "graph-forward-backward": ((DY, "dfdy = 2.0 * x * y"), (DZ, "dfdz = x")),
            "x-sigmoid-x-grad": ((XS, "return s * (1 + x * (1 - s))"),),
            "hand-dfdy": ((HAND_DY, "dfdy = 2.0 * y0 * x0"),),
            "graph-forward-values": (
                (G0, "g_value = y0 * y0 + z0"),
                (F0, "f_value = float(x0 * (y0 * y0 + z0))"),
            ),
        },
    ),
    # issue 12: returned sequences of any kind, and a ∂f/∂x mix-up
    graph("01.graph.dfdx-x", GG, ("dfdx = g", "dfdx = x"), which="graph"),
    Plant(
        "alternative: graph_forward_backward and h_forward_backward return lists",
        NB,
        {
            "graph-forward-backward": (
                ("return f, dfdx, dfdy, dfdz", "return [f, dfdx, dfdy, dfdz]"),
            ),
            "h-forward-backward": ((RETURN_H, "return [h, dhdx]"),),
        },
    ),
    maximum("01.node.tie-second", MAX, sub(TIE_A, ">=", ">"), sub(TIE_B, ">", ">=")),
    # one operator or number wrong in a formula
    graph("01.graph.divided", GG, (DY, "dfdy = dfdg / 2 * y"), which="graph"),
    h("01.h.prime-form", HD, (H, "dhdx = h / (1 - h) * 2 * x"), which="h"),
    sig("01.node.sigmoid-prime-form", SIG2, sub(SIGMA, "(1 -", "(1 +"), which="sigmoid"),
    mul("01.node.upstream-divides", MUL, *subs(M, "* out.grad", "/ out.grad")),
    paths("01.paths.divided", XSX, (XS, "return s + s * (1 - s) / x"), which="two paths"),
    paths("01.paths.minus", XSX, (XS, "return s - x * s * (1 - s)")),
    paths("01.paths.prime-form", XSX, (XS, "return s + x * s * (1 + s)")),
    # issue 18: points only by the true derivative, and only for the student's own work
    h("01.h.self-consistent", HDV, (H, "dhdx = np.ones_like(x)"), (RETURN_H, "return x, dhdx")),
    # right for this h, not for σ(x²): nothing for the derivative, fix h first
    h(
        "01.h.value",
        HDV,
        (H_OF_G, "s = sigmoid(x)\n    h = s**2"),
        (H, "dhdx = 2 * s * s * (1 - s)"),
        which="its own dh/dx",
    ),
    graph(
        "01.graph.self-consistent",
        GG + GV,
        ("f = x * g", "f = x + y + z"),
        ("dfdx = g", "dfdx = 1.0"),
        (DY, "dfdy = 1.0"),
        (DZ, "dfdz = 1.0"),
    ),
    mul(_identity("mul"), MUL2, (MUL_NODE, "Node(a.value, (a, b))"), (MAB, IDENTITY), which="mul"),
    sig(_identity("sigmoid"), SIG2, SIGMOID_IS_A, (SIGMA, IDENTITY), which="sigmoid"),
    square(_identity("square"), SQUARE, (SQUARE_NODE, A_NODE), (SQ, IDENTITY), which="square"),
    # the node test sets out.value = σ(a): the backward keeps its point; the graphs of the
    # two-paths test run on the node's own forward value
    sig(showing("01.node.forward-changed", "its out.value is not σ(a)"), TWO, SIGMOID_IS_A),
    h("gradcheck.numerical", HD, (H, NUMERICAL)),
    paths("kit.library-call", XSX, (XS, FIGURE)),
    # a wrong forward value costs only its own point
    h("01.h.value", HV, (RETURN_H, "return sigmoid(x) ** 2, dhdx"), which="dh/dx right"),
    graph("01.graph.value", GV, ("f = x * g", "f = x * (y + z)")),
    # issue 21: ∂f/∂x = y², the z of g forgotten
    graph("01.graph.dfdx-y2", GG, ("dfdx = g", "dfdx = y**2")),
]
