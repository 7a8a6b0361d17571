"""Diagrams for notebooks 01, 02 and 04: computation graphs, the 2-2-1 network, cache indices.

The lecture teaches backpropagation through one picture: the graph of f = x(y² + z),
forward values on the nodes, gradients on the edges.  This module builds such a graph as
data (:class:`CompGraph`: nodes with their forward value, edges with the gradient that
flows back along them) and draws it with matplotlib, so the numbers are testable without a
browser and the drawing only reads them.

* :func:`chain_rule_graph`: f = x(y² + z) at a point, with the student's own hand numbers
  where notebook 01 asks for them ("?" where an answer is missing or not a number);
* :func:`two_path_graph`: f = x σ(x), a variable on two paths whose gradients add up;
* :func:`draw_sigmoid_network`: the 2-2-1 network of notebook 02 with the lecture's weight
  names w^h_{i,j}, w^o_{i,1} on the edges and the deltas δ^h_j, δ^o on the units;
* :func:`draw_cache_index`: which list entry holds aᵐ and zᵐ (notebook 04).

:func:`show` displays a figure in the notebook with alt text (an ``<img alt=...>`` with a
PNG fallback).  matplotlib is imported inside the functions, so ``import course`` stays
light.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
from dataclasses import dataclass, field

from .activations import sigmoid, sigmoid_prime

__all__ = [
    "CompGraph",
    "Edge",
    "Node",
    "as_number",
    "chain_rule_graph",
    "draw",
    "draw_cache_index",
    "draw_sigmoid_network",
    "fmt",
    "mime_bundle",
    "show",
    "two_path_graph",
]

#: Colours: forward values in ink, gradients in the lecture's red.
FORWARD, BACKWARD, MUTED = "#1a1a1a", "#c0392b", "#7f7f7f"
#: Figures are rendered at this resolution and shown at half its pixel size (sharp on
#: high-density screens, where one CSS pixel is two device pixels).
RENDER_DPI, SHOWN_DPI = 160, 80


def as_number(value):
    """`value` as a float if it is one real number (Python or NumPy, 0-d array), else None.

    Used for the student's hand answers: a missing answer (None), a string, a list or a
    bool is not a number, and the graph shows "?" for it.
    """
    if isinstance(value, bool) or value is None:
        return None
    if getattr(value, "shape", None) == ():  # a 0-d NumPy array or scalar
        value = value.item()
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def fmt(value):
    """A number for a diagram: 4 significant digits, a true minus sign; "?" for None."""
    if value is None:
        return "?"
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.4g}"
    if text == "-0":
        text = "0"
    return text.replace("-", "−")


@dataclass(frozen=True)
class Node:
    """One node of a computation graph.

    Attributes
    ----------
    key : str
        Identifier, e.g. "g".
    label : str
        What the node computes, in matplotlib mathtext, e.g. ``r"$g = y^2 + z$"``.
    value : float or None
        Its forward value (None: unknown, drawn as "?").
    col, row : float
        Position: columns run from the inputs (0) to the output.
    """

    key: str
    label: str
    value: float | None
    col: float
    row: float


@dataclass(frozen=True)
class Edge:
    """An edge src → dst and the gradient that flows back along it.

    Attributes
    ----------
    src, dst : str
        Node keys.
    grad : float or None
        ∂f/∂src through this edge alone: ∂f/∂dst × ∂dst/∂src.  When src feeds several
        nodes, ∂f/∂src is the sum over its edges.
    label : str
        The gradient's name in mathtext, e.g. ``r"$\\partial f/\\partial y$"``.
    """

    src: str
    dst: str
    grad: float | None
    label: str


@dataclass
class CompGraph:
    """A computation graph with forward values and backward gradients.

    Attributes
    ----------
    title : str
    nodes : dict of str to Node
    edges : list of Edge
    output : str
        Key of the output node f (its gradient ∂f/∂f is 1).
    sums : dict of str to (float or None)
        ∂f/∂node for nodes with several outgoing edges: the sum over those edges.
    """

    title: str
    nodes: dict
    edges: list
    output: str
    sums: dict = field(default_factory=dict)

    def edge(self, src, dst):
        """The edge src → dst."""
        return next(e for e in self.edges if (e.src, e.dst) == (src, dst))

    def describe(self):
        """A plain-text description of the graph and its numbers (the figure's alt text)."""
        parts = [f"{n.key} = {fmt(n.value)}" for n in self.nodes.values()]
        parts += [f"edge {e.src} to {e.dst} carries back {fmt(e.grad)}" for e in self.edges]
        parts += [f"the edges of {k} add up to {fmt(v)}" for k, v in self.sums.items()]
        return f"Computation graph of {self.title}. " + "; ".join(parts) + "."


def chain_rule_graph(x, y, z, *, g_value=None, f_value=None, dfdx=None, dfdy=None, dfdz=None):
    """The graph of f = x (y² + z) through u = y², g = u + z, f = x g (lecture 001).

    The five values the notebook asks for by hand are taken from the keyword arguments
    as they are, so a wrong answer shows on its node or edge, and a missing one (None or
    not a number) shows as "?"; u = y² is computed from the inputs.

    Parameters
    ----------
    x, y, z : float
        The inputs.
    g_value, f_value : optional
        The student's forward values g = y² + z and f = x g.
    dfdx, dfdy, dfdz : optional
        The student's ∂f/∂x = g, ∂f/∂y = 2xy and ∂f/∂z = x.

    Returns
    -------
    CompGraph
        Nodes "x", "y", "z", "u", "g", "f".  ∂f/∂g = x and ∂f/∂u = x (not asked, but
        ∂f/∂z = ∂f/∂g and most of ∂f/∂y = ∂f/∂u · 2y) are drawn only once all three hand
        partials are numbers, "?" until then: the figure gives no graded answer away.
    """
    x, y, z = float(x), float(y), float(z)
    partials = (as_number(dfdx), as_number(dfdy), as_number(dfdz))
    upstream = x if all(p is not None for p in partials) else None
    nodes = [
        Node("x", "$x$", x, 0, 2.2),
        Node("y", "$y$", y, 0, 1),
        Node("z", "$z$", z, 0, 0),
        Node("u", "$u = y^2$", y * y, 1, 1),
        Node("g", "$g = u + z$", as_number(g_value), 2, 0.5),
        Node("f", r"$f = x\,g$", as_number(f_value), 3, 1.35),
    ]
    edges = [
        Edge("x", "f", partials[0], r"$\partial f/\partial x$"),
        Edge("y", "u", partials[1], r"$\partial f/\partial y$"),
        Edge("u", "g", upstream, r"$\partial f/\partial u$"),
        Edge("z", "g", partials[2], r"$\partial f/\partial z$"),
        Edge("g", "f", upstream, r"$\partial f/\partial g$"),
    ]
    title = f"f = x(y² + z) at x = {fmt(x)}, y = {fmt(y)}, z = {fmt(z)}"
    return CompGraph(title, {n.key: n for n in nodes}, edges, "f")


def two_path_graph(x):
    """The graph of f = x σ(x): x feeds the product directly and through s = σ(x).

    Parameters
    ----------
    x : float

    Returns
    -------
    CompGraph
        Nodes "x", "s", "f".  The edge x → f carries σ(x) (x as the factor), the edge
        x → s carries x σ'(x) (x inside σ), and ``sums["x"]`` = σ(x) + x σ'(x) = df/dx.
    """
    x = float(x)
    s = float(sigmoid(x))
    nodes = [
        Node("x", "$x$", x, 0, 1),
        Node("s", r"$s = \sigma(x)$", s, 1, 0),
        Node("f", r"$f = x\,s$", x * s, 2, 1),
    ]
    through_sigma = x * float(sigmoid_prime(x))
    edges = [
        Edge("x", "f", s, r"via the factor: $s$"),
        Edge("x", "s", through_sigma, r"via $\sigma$: $x\,\sigma'(x)$"),
        Edge("s", "f", x, r"$\partial f/\partial s$"),
    ]
    title = f"f = x σ(x) at x = {fmt(x)}: x is used on two paths"
    return CompGraph(title, {n.key: n for n in nodes}, edges, "f", {"x": s + through_sigma})


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=SHOWN_DPI)
    FigureCanvasAgg(fig)
    return fig


def _arrow(ax, start, end, colour, shrink=22.0, lw=1.4):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=14,
            color=colour,
            lw=lw,
            shrinkA=shrink,
            shrinkB=shrink,
        )
    )


def draw(graph, ax=None):
    """Draw a :class:`CompGraph`: values on the nodes (ink), gradients on the edges (red).

    Parameters
    ----------
    graph : CompGraph
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        cols = max(n.col for n in graph.nodes.values())
        ax = _figure(2.6 * cols + 2.8, 3.9).add_subplot()
    pos = {k: (2.6 * n.col, 1.5 * n.row) for k, n in graph.nodes.items()}
    for e in graph.edges:
        _draw_edge(ax, pos[e.src], pos[e.dst], e)
    for k, n in graph.nodes.items():
        _draw_node(ax, pos[k], n, graph.sums.get(k, ...))
    out = pos[graph.output]
    _arrow(ax, out, (out[0] + 1.6, out[1]), BACKWARD, shrink=24)
    ax.text(
        out[0] + 0.85,
        out[1] - 0.2,
        r"$\partial f/\partial f = 1$",
        color=BACKWARD,
        ha="center",
        va="top",
        fontsize=10,
    )
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - (2.6 if graph.sums else 1.2), max(xs) + 1.9)
    ax.set_ylim(min(ys) - 0.9, max(ys) + 0.75)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(graph.title, fontsize=11)
    ax.text(
        0.5,
        -0.02,
        "ink: forward value of each node;  red: the gradient each edge "
        "carries back, ∂f/∂(its source) along that edge",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=9,
        color=MUTED,
    )
    ax.set_axis_off()
    ax.figure.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.08)
    return ax.figure


def _draw_node(ax, xy, node, total):
    from matplotlib.patches import Circle

    ax.add_patch(Circle(xy, 0.44, facecolor="#eef3fb", edgecolor=FORWARD, lw=1.2, zorder=3))
    ax.text(
        *xy,
        fmt(node.value),
        ha="center",
        va="center",
        fontsize=11,
        zorder=4,
        color=FORWARD,
        weight="bold",
    )
    ax.text(xy[0], xy[1] + 0.5, node.label, ha="center", va="bottom", fontsize=10)
    if total is not ...:
        ax.text(
            xy[0] - 0.45,
            xy[1] - 0.45,
            f"sum of its edges:\n"
            rf"$\partial f/\partial {node.key}$ = {fmt(total)}",
            ha="right",
            va="top",
            fontsize=10,
            color=BACKWARD,
        )


def _draw_edge(ax, start, end, edge):
    _arrow(ax, start, end, FORWARD)
    mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    angle = math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))
    ax.text(
        *mid,
        f"{edge.label} = {fmt(edge.grad)}",
        color=BACKWARD,
        fontsize=10,
        ha="center",
        va="center",
        rotation=angle,
        rotation_mode="anchor",
        zorder=5,
        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"},
    )


def draw_sigmoid_network():
    """The 2-2-1 sigmoid network of notebook 02 (lecture 001), drawn left to right.

    Inputs x₁, x₂ and the bias input 1; hidden units j = 1, 2 computing s_j and
    z_j = σ(s_j), with δ^h_j = ∂L/∂s_j; the output unit computing s and y = σ(s), with
    δ^o = ∂L/∂s; the loss L = ½(y − y*)².  Every edge carries the lecture's weight name.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(10.5, 5.0)
    ax = fig.add_subplot()
    inputs = {"1": (0, 4.4), "x_1": (0, 2.4), "x_2": (0, 0.4)}
    hidden = {1: (4.5, 3.4), 2: (4.5, 1.0)}
    bias_o, out, loss = (4.5, 5.4), (8.5, 2.6), (10.2, 2.6)
    for i, xy in enumerate(inputs.values()):
        for j, target in hidden.items():
            # labels of edges into unit 1 near their source, into unit 2 near the unit:
            # there the edges are furthest apart
            _weight_edge(ax, xy, target, rf"$w^h_{{{i},{j}}}$", 0.25 if j == 1 else 0.72)
    for i, xy in enumerate([bias_o, *hidden.values()]):
        _weight_edge(ax, xy, out, rf"$w^o_{{{i},1}}$", 0.5)
    _arrow(ax, out, loss, FORWARD, shrink=22)
    for name, xy in inputs.items():
        _unit(ax, xy, f"${name}$", "#f4f4f4")
    _unit(ax, bias_o, "$1$", "#f4f4f4")
    for j, xy in hidden.items():
        _unit(ax, xy, f"$z_{j}$", "#eef3fb", rf"$\delta^h_{j} = \partial L/\partial s_{j}$")
    _unit(ax, out, "$y$", "#eef3fb", r"$\delta^o = \partial L/\partial s$")
    ax.text(
        loss[0] + 0.1, loss[1], r"$L = \frac{1}{2}(y - y^*)^2$", ha="left", va="center", fontsize=12
    )
    ax.text(
        2.2,
        -0.75,
        r"$z_j = \sigma(s_j)$, $s_j = w^h_{0,j} + w^h_{1,j} x_1 + w^h_{2,j} x_2$",
        ha="center",
        fontsize=10,
        color=MUTED,
    )
    ax.text(
        7.4,
        -0.75,
        r"$y = \sigma(s)$, $s = w^o_{0,1} + w^o_{1,1} z_1 + w^o_{2,1} z_2$",
        ha="center",
        fontsize=10,
        color=MUTED,
    )
    ax.set_xlim(-0.8, 12.4)
    ax.set_ylim(-1.0, 6.1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    ax.set_title(
        "The 2-2-1 sigmoid network: weights on the edges, deltas (red) at the units", fontsize=11
    )
    fig.subplots_adjust(left=0.01, right=0.99, top=0.93, bottom=0.01)
    return fig


def _unit(ax, xy, name, colour, delta=None):
    from matplotlib.patches import Circle

    ax.add_patch(Circle(xy, 0.42, facecolor=colour, edgecolor=FORWARD, lw=1.2, zorder=3))
    ax.text(*xy, name, ha="center", va="center", fontsize=12, zorder=4)
    if delta:
        ax.text(
            xy[0], xy[1] - 0.5, delta, ha="center", va="top", fontsize=11, color=BACKWARD, zorder=4
        )


def _weight_edge(ax, start, end, label, t):
    _arrow(ax, start, end, MUTED, shrink=18, lw=1.1)
    at = (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
    ax.text(
        *at,
        label,
        ha="center",
        va="center",
        fontsize=11,
        zorder=5,
        bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none"},
    )


def draw_cache_index(sizes=(3, 5, 5, 2)):
    """Which list entry holds aᵐ and zᵐ: a forward cache for a net of the given sizes.

    One column per layer m = 0..M.  ``a[m]`` holds aᵐ (a[0] = x, a[M] the output);
    ``z[m]`` holds zᵐ when z[0] is a placeholder (the input has no pre-activation);
    ``params[f"W{m}"]`` feeds layer m; course.network's ``caches[m - 1]`` is layer m.

    Parameters
    ----------
    sizes : sequence of int
        [n_0, ..., n_M].

    Returns
    -------
    matplotlib.figure.Figure
    """
    M = len(sizes) - 1
    fig = _figure(2.3 * M + 3.2, 3.9)
    ax = fig.add_subplot()
    for m, n in enumerate(sizes):
        _cache_column(ax, m, n)
    note = {"ha": "right", "va": "center", "fontsize": 10}
    ax.text(-1.25, 1.5, "lists a and z\n(your cache,\none way)", **note)
    ax.text(-1.25, 0.0, "course.network\n.forward", color=MUTED, **note)
    ax.text(2.3 * M / 2, -0.55, "With the placeholder z[0] every index equals m; without it "
            "zᵐ would be z[m − 1], as in the library's caches[m − 1].", ha="center", va="top",
            fontsize=9, color=MUTED)  # fmt: skip
    ax.set_xlim(-2.9, 2.3 * M + 1.2)
    ax.set_ylim(-0.9, 3.2)
    ax.set_axis_off()
    ax.set_title(f"Where the forward pass keeps aᵐ and zᵐ (sizes {list(sizes)}, M = {M})",
                 fontsize=11)  # fmt: skip
    fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.02)
    return fig


def _cache_column(ax, m, n):
    # layer m: a[m] (row 2), z[m] (row 1), course.network's caches[m - 1] (row 0)
    x = 2.3 * m
    head = f"layer m = {m}" + (" (input)" if m == 0 else "")
    ax.text(x, 2.9, head, ha="center", fontsize=10, weight="bold")
    _box(ax, (x, 2.0), rf"$a^{m}$" + (" = x" if m == 0 else "") + f"  ({n}, N)", f"a[{m}]")
    if m == 0:
        _box(ax, (x, 1.0), "no $z^0$", "z[0] = None", muted=True)
        _box(ax, (x, 0.0), "input X", "(not a layer)", muted=True)
        return
    _box(ax, (x, 1.0), rf"$z^{m}$  ({n}, N)", f"z[{m}]")
    _box(ax, (x, 0.0), f"layer {m}", f"caches[{m - 1}]")
    _arrow(ax, (x - 2.3, 2.45), (x, 2.45), MUTED, shrink=4, lw=1)
    ax.text(x - 1.15, 2.5, f"W{m}, b{m}", ha="center", va="bottom", fontsize=9, color=MUTED)


def _box(ax, xy, text, index, muted=False):
    from matplotlib.patches import FancyBboxPatch

    colour = MUTED if muted else FORWARD
    ax.add_patch(
        FancyBboxPatch(
            (xy[0] - 0.95, xy[1] - 0.3),
            1.9,
            0.6,
            boxstyle="round,pad=0.02",
            facecolor="#f4f4f4" if muted else "#eef3fb",
            edgecolor=colour,
            lw=1.0,
        )
    )
    ax.text(xy[0], xy[1] + 0.08, text, ha="center", va="center", fontsize=10, color=colour)
    ax.text(
        xy[0],
        xy[1] - 0.17,
        index,
        ha="center",
        va="center",
        fontsize=9,
        family="monospace",
        color=BACKWARD if not muted else MUTED,
    )


def png_bytes(fig, dpi=RENDER_DPI):
    """The figure as PNG bytes at `dpi` (Agg)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def mime_bundle(figure_or_graph, alt=None):
    """What :func:`show` displays: an ``<img alt=...>`` (what JupyterLab shows), the PNG
    itself and the alt text as plain text, and the PNG's display width.

    The PNG is rendered at :data:`RENDER_DPI` and shown at :data:`SHOWN_DPI`, so it stays
    sharp on high-density screens.

    Parameters
    ----------
    figure_or_graph : matplotlib.figure.Figure or CompGraph
    alt : str, optional
        The alt text; a graph describes itself (:meth:`CompGraph.describe`).

    Returns
    -------
    bundle : dict
        MIME type -> data.
    width : int
        CSS pixels.

    Raises
    ------
    ValueError
        A figure without alt text.
    """
    if isinstance(figure_or_graph, CompGraph):
        alt = alt or figure_or_graph.describe()
        figure_or_graph = draw(figure_or_graph)
    if not alt:
        raise ValueError("show() needs alt text describing the figure")
    png = png_bytes(figure_or_graph)
    width = round(figure_or_graph.get_figwidth() * SHOWN_DPI)
    b64 = base64.b64encode(png).decode("ascii")
    bundle = {
        "text/html": f'<img src="data:image/png;base64,{b64}" width="{width}" '
        f'alt="{html.escape(alt, quote=True)}" style="max-width: 100%; height: auto">',
        "image/png": b64,
        "text/plain": alt,
    }
    return bundle, width


def show(figure_or_graph, alt=None):
    """Display a figure in the notebook with alt text; a :class:`CompGraph` is drawn first.

    Returns None, so a cell ending in ``graph.show(...)`` shows the figure once (see
    :func:`mime_bundle` for what is displayed).
    """
    from IPython.display import display

    bundle, width = mime_bundle(figure_or_graph, alt)
    display(bundle, metadata={"image/png": {"width": width}}, raw=True)
