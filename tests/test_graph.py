"""course.graph: the numbers on the diagrams (without a browser) and what the figures say."""

import base64
import io
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from course import graph  # noqa: E402
from course.activations import sigmoid  # noqa: E402

POINT = (-2.0, 3.0, -4.0)  # notebook 01's graded point
RIGHT = {"g_value": 5.0, "f_value": -10.0, "dfdx": 5.0, "dfdy": -12.0, "dfdz": -2.0}


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


def test_importing_graph_does_not_import_matplotlib():
    code = "import sys, course.graph\nassert 'matplotlib' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "value, expected",
    [
        (5, 5.0),
        (-2.5, -2.5),
        (np.float64(0.25), 0.25),
        (np.array(3.0), 3.0),
        (np.int64(-12), -12.0),
        (None, None),
        ("5", None),
        ([5.0], None),
        (np.array([5.0]), None),
        (True, None),
        (1 + 2j, None),
    ],
)
def test_as_number_accepts_one_real_number_only(value, expected):
    assert graph.as_number(value) == expected


def test_fmt_shows_four_digits_a_true_minus_and_a_question_mark_for_missing():
    assert graph.fmt(None) == "?"
    assert graph.fmt(-12.0) == "−12"
    assert graph.fmt(0.66818777) == "0.6682"
    assert graph.fmt(-0.0) == "0"
    assert graph.fmt(float("nan")) == "nan"


def test_chain_rule_graph_with_right_answers_follows_the_chain_rule():
    x, y, z = POINT
    g = graph.chain_rule_graph(x, y, z, **RIGHT)
    assert {k: n.value for k, n in g.nodes.items()} == {
        "x": x, "y": y, "z": z, "u": y**2, "g": y**2 + z, "f": x * (y**2 + z)
    }  # fmt: skip
    # each edge carries (gradient of its target) × (local derivative)
    df_dg = g.edge("g", "f").grad
    assert df_dg == x  # ∂f/∂g = x, because f = x g
    assert g.edge("x", "f").grad == y**2 + z  # ∂f/∂x = g
    assert g.edge("u", "g").grad == df_dg * 1.0  # ∂g/∂u = 1
    assert g.edge("z", "g").grad == df_dg * 1.0  # ∂g/∂z = 1
    assert g.edge("y", "u").grad == g.edge("u", "g").grad * 2 * y  # ∂u/∂y = 2y


def test_chain_rule_graph_shows_the_students_numbers_as_they_are():
    wrong = dict(RIGHT, dfdy=-6.0, f_value=10.0)  # forgot the 2 of 2y; sign slip
    g = graph.chain_rule_graph(*POINT, **wrong)
    assert g.edge("y", "u").grad == -6.0
    assert g.nodes["f"].value == 10.0
    texts = _texts(graph.draw(g))
    assert r"$\partial f/\partial y$ = −6" in texts
    assert "10" in texts and "−10" not in texts


@pytest.mark.parametrize(
    "answers",
    [{}, {"g_value": "five", "dfdx": [5.0], "dfdy": None, "dfdz": True, "f_value": {}}],
    ids=["blank", "not-numbers"],
)
def test_chain_rule_graph_with_missing_answers_draws_question_marks(answers):
    g = graph.chain_rule_graph(*POINT, **answers)
    fig = graph.draw(g)
    texts = _texts(fig)
    for label in (
        r"$\partial f/\partial x$",
        r"$\partial f/\partial y$",
        r"$\partial f/\partial z$",
    ):
        assert f"{label} = ?" in texts
    assert texts.count("?") == 2  # the nodes g and f
    # ∂f/∂g = ∂f/∂u = x would give ∂f/∂z (and most of ∂f/∂y) away: not drawn either
    for label in (r"$\partial f/\partial g$", r"$\partial f/\partial u$"):
        assert f"{label} = ?" in texts
    assert all(t.endswith("= ?") for t in texts if "partial" in t and "= 1" not in t)
    assert "edge z to g carries back ?" in g.describe()
    assert "edge u to g carries back ?" in g.describe()  # nor in the alt text
    assert "edge g to f carries back ?" in g.describe()
    assert graph.png_bytes(fig).startswith(b"\x89PNG")


def test_chain_rule_graph_draws_the_upstream_edges_once_the_partials_are_given():
    partly = graph.chain_rule_graph(*POINT, **dict(RIGHT, dfdy=None))
    assert partly.edge("g", "f").grad is None and partly.edge("u", "g").grad is None
    wrong = graph.chain_rule_graph(*POINT, **dict(RIGHT, dfdz=7.0))  # wrong, but given
    assert wrong.edge("g", "f").grad == POINT[0] == wrong.edge("u", "g").grad


def test_two_path_graph_adds_the_paths_to_the_derivative():
    x, h = 0.7, 1e-6
    g = graph.two_path_graph(x)
    numeric = ((x + h) * sigmoid(x + h) - (x - h) * sigmoid(x - h)) / (2 * h)
    assert g.sums["x"] == pytest.approx(numeric, rel=1e-8)
    assert g.sums["x"] == pytest.approx(g.edge("x", "f").grad + g.edge("x", "s").grad)
    assert g.edge("x", "f").grad == pytest.approx(sigmoid(x))
    texts = _texts(graph.draw(g))
    assert any("sum of its edges" in t and graph.fmt(g.sums["x"]) in t for t in texts)


def test_sigmoid_network_names_every_weight_and_delta():
    texts = _texts(graph.draw_sigmoid_network())
    for i in range(3):
        for j in (1, 2):
            assert rf"$w^h_{{{i},{j}}}$" in texts
        assert rf"$w^o_{{{i},1}}$" in texts
    joined = " ".join(texts)
    for delta in (r"\delta^h_1", r"\delta^h_2", r"\delta^o"):
        assert delta in joined
    assert "y - y^*" in joined  # the target is y*, the output y


def test_cache_index_shows_one_entry_per_layer():
    sizes = (3, 5, 5, 2)
    texts = _texts(graph.draw_cache_index(sizes))
    M = len(sizes) - 1
    for m in range(M + 1):
        assert f"a[{m}]" in texts
    for m in range(1, M + 1):
        assert f"z[{m}]" in texts
        assert f"caches[{m - 1}]" in texts
    assert "z[0] = None" in texts


def test_show_displays_an_img_with_alt_text_and_a_sharp_png(monkeypatch):
    shown = []
    monkeypatch.setattr(
        "IPython.display.display", lambda obj, **kw: shown.append((obj, kw)), raising=True
    )
    g = graph.chain_rule_graph(*POINT, **RIGHT)
    assert graph.show(g) is None  # a cell ending in show() prints nothing more
    bundle = shown[0][0]
    assert len(shown) == 1 and shown[0][1]["raw"]
    assert bundle["text/plain"] == g.describe()
    assert 'alt="Computation graph of f = x(y² + z)' in bundle["text/html"]
    from PIL import Image

    png = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    width = shown[0][1]["metadata"]["image/png"]["width"]
    assert png.size[0] == 2 * width  # rendered at twice the size shown
    assert f'width="{width}"' in bundle["text/html"]


def test_show_escapes_alt_text_and_requires_it_for_plain_figures(monkeypatch):
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    fig = graph.draw_sigmoid_network()
    with pytest.raises(ValueError, match="alt text"):
        graph.show(fig)
    bundle, _ = graph.mime_bundle(fig, alt='a "quoted" <b>net</b>')
    assert 'alt="a &quot;quoted&quot; &lt;b&gt;net&lt;/b&gt;"' in bundle["text/html"]
