"""course.widgets without a browser: each widget builds, and moving a control runs its
callback and changes the PNG the student sees."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # non-interactive; the widgets draw through Agg in any case

from classroom.paths import REPO  # noqa: E402
from course import widgets  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_importing_widgets_does_not_import_ipywidgets_or_matplotlib():
    code = (
        "import sys, course.widgets, course.flow\n"
        "bad = [m for m in ('ipywidgets', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def explorer():
    return widgets.GradientFlowExplorer(depth=4, width=16, batch=64, steps=20)


def test_explorer_builds_with_a_png_and_its_controls(explorer):
    assert explorer.png.startswith(PNG)
    assert set(explorer.controls) == {
        "depth",
        "width",
        "activation",
        "init",
        "scale",
        "data",
        "train",
    }
    assert explorer.flow.M == 5
    assert explorer.controls["scale"].disabled  # only the "normal" init uses it
    assert explorer.controls["depth"].max == 30


def test_depth_slider_runs_the_callback_and_changes_the_image(explorer):
    before = explorer.png
    explorer.controls["depth"].value = 9
    assert explorer.flow.M == 10
    assert explorer.png.startswith(PNG)
    assert explorer.png != before
    # what is drawn is what course.flow computes
    np.testing.assert_array_equal(explorer.line_delta.get_ydata(), explorer.flow.delta_norms)


def test_activation_and_init_change_the_numbers(explorer):
    explorer.controls["activation"].value = "sigmoid"
    sig = explorer.flow.delta_norms.copy()
    before = explorer.png
    explorer.controls["activation"].value = "relu"
    assert not np.allclose(explorer.flow.delta_norms, sig)
    assert explorer.png != before
    explorer.controls["init"].value = "normal"
    assert not explorer.controls["scale"].disabled
    before = explorer.png
    explorer.controls["scale"].value = 2.0
    assert explorer.png != before


def test_data_dropdown_switches_to_toy_data(explorer):
    explorer.controls["data"].value = "moons"
    assert explorer.line_dW.get_xdata().size == explorer.flow.M
    assert explorer._X.shape[0] == 2
    explorer.controls["data"].value = "digits"
    assert explorer._X.shape[0] == 64


def test_train_button_draws_a_loss_curve(explorer):
    explorer.controls["activation"].value = "relu"
    explorer.controls["init"].value = "he"
    before = explorer.png
    explorer.controls["train"].click()
    assert explorer.losses.shape == (21,)
    np.testing.assert_array_equal(explorer.line_loss.get_ydata(), explorer.losses)
    assert explorer.png != before
    # a new setting clears the curve: it belonged to the previous network
    explorer.controls["width"].value = 20
    assert len(explorer.line_loss.get_ydata()) == 0


def test_explorer_at_depth_30_shows_the_vanishing_ratio():
    e = widgets.GradientFlowExplorer(depth=30, width=64, activation="sigmoid", init="lecun")
    assert e.flow.ratio < 1e-10
    assert f"= {e.flow.ratio:.2g}" in e.ax_norm.get_title()


def test_saturation_widget_moves_the_marker_and_the_bound():
    s = widgets.SaturationWidget(z=0.0, weight_norm=1.0, depth=10)
    sig, dsig, k, bound, at_z = s.numbers()
    assert (sig, dsig) == (0.5, 0.25)
    np.testing.assert_allclose(bound, 0.25**k)
    first = s.png
    s.controls["z"].value = 3.0
    assert s.png != first
    _, dsig3, _, _, at_z3 = s.numbers()
    assert dsig3 == pytest.approx(np.exp(-3) / (1 + np.exp(-3)) ** 2)
    np.testing.assert_allclose(s.line_at_z.get_ydata(), at_z3)
    before = s.png
    s.controls["weight_norm"].value = 4.0
    np.testing.assert_allclose(s.line_bound.get_ydata(), np.ones(11))  # ¼ · 4 = 1
    assert s.png != before


def test_symmetry_widget_slider_and_unit_count():
    w = widgets.SymmetryWidget(hidden=3, steps=100)
    assert w.paths["zeros"].shape == (11, 3, 2)
    assert w.distinct_units("zeros", 10) == 1
    assert w.distinct_units("random", 10) == 3
    first = w.png
    w.controls["step"].value = 30
    assert w.png != first
    np.testing.assert_array_equal(w.trails["random"][0].get_xdata(), w.paths["random"][:4, 0, 0])
    w.controls["hidden"].value = 5
    assert w.paths["random"].shape == (11, 5, 2)
    assert len(w.heads["zeros"]) == 5


def test_render_png_is_twice_the_size_shown():
    from PIL import Image

    e = widgets.SaturationWidget()
    img = Image.open(__import__("io").BytesIO(widgets.render_png(e.figure)))
    w_in, h_in = e.figure.get_size_inches()
    assert img.size == (int(w_in * widgets.DPI), int(h_in * widgets.DPI))
    shown = int(e.image.layout.width.removesuffix("px"))
    assert shown == round(w_in * widgets.DISPLAY_DPI) and img.size[0] == 2 * shown
    assert e.image.layout.max_width == "100%"


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("activation, scale", [("relu", 10.0), ("sigmoid", 10.0), ("tanh", 0.01)])
def test_exploding_and_vanishing_extremes_draw_without_warnings(activation, scale):
    # A warning would reach the student's notebook as red stderr text.
    e = widgets.GradientFlowExplorer(
        depth=30, width=64, activation=activation, init="normal", scale=scale, steps=5
    )
    e.controls["train"].click()
    assert e.png.startswith(PNG)
    assert np.all(e.flow.delta_norms >= 0)


@pytest.mark.parametrize(
    "value, text",
    [
        (2.302585, "2.3026"),
        (314787203714409524363264.0, "3.15e+23"),
        (0.0, "0.0000"),
        (1.5e-7, "1.5e-07"),
        (float("inf"), "inf"),
    ],
)
def test_format_number_keeps_huge_and_tiny_numbers_short(value, text):
    assert widgets.format_number(value) == text


def test_status_line_prints_an_exploding_loss_in_scientific_notation():
    e = widgets.GradientFlowExplorer(depth=30, width=64, activation="relu", init="normal",
                                     scale=10.0, steps=5)  # fmt: skip
    assert e.flow.J > 1e4
    assert f"J = {widgets.format_number(e.flow.J)}" in e.status.value
    assert "e+" in e.status.value.split("J = ")[1].split()[0]


def _all_texts(fig):
    texts = [t for ax in fig.axes for t in (ax.texts + [ax.title, ax.xaxis.label, ax.yaxis.label])]
    for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
        texts += legend.get_texts()
    for ax in fig.axes:
        texts += ax.get_xticklabels() + ax.get_yticklabels()
    return [t for t in texts if t.get_text()]


@pytest.mark.parametrize("make", [
    lambda: widgets.GradientFlowExplorer(depth=4, width=16, batch=64, steps=5),
    lambda: widgets.SaturationWidget(),
    lambda: widgets.SymmetryWidget(hidden=3, steps=50),
], ids=["explorer", "saturation", "symmetry"])  # fmt: skip
def test_no_text_smaller_than_9_points_and_alt_text_on_every_figure(make):
    w = make()
    small = [(t.get_text(), t.get_fontsize()) for t in _all_texts(w.figure) if t.get_fontsize() < 9]
    assert not small
    assert len(w.image.tooltip) > 60 and w.image.tooltip == w.alt_text()
    # ipywidgets' front end reads `description` of a widget with a tooltip: without it the
    # image's view fails to render ("Cannot read properties of undefined")
    assert w.image.description == "" and "description" in w.image.keys
    assert "course-figure" in w.image._dom_classes
    assert widgets.DARK_THEME_CSS in [c.value for c in w.widget.children if hasattr(c, "value")]


def test_explorer_legend_sits_below_the_axes_not_on_the_data(explorer):
    assert explorer.ax_norm.get_legend() is None
    (legend,) = explorer.figure.legends
    fig_box = explorer.figure.bbox
    legend_box = legend.get_window_extent()
    axes_box = explorer.ax_norm.get_window_extent()
    assert legend_box.y1 <= axes_box.y0 and legend_box.y0 >= fig_box.y0


def test_layer_axes_have_integer_ticks_at_depth_2():
    e = widgets.GradientFlowExplorer(depth=2, width=8, batch=32, steps=5)
    e.figure.canvas.draw()
    for ax in (e.ax_norm, e.ax_z):
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_disabled_scale_slider_shows_the_sigma_the_init_uses():
    e = widgets.GradientFlowExplorer(depth=3, width=64, init="lecun", scale=2.0, batch=32,
                                     steps=5)  # fmt: skip
    scale = e.controls["scale"]
    assert scale.disabled and scale.value == pytest.approx(1 / 8)
    e.controls["init"].value = "he"
    assert scale.disabled and scale.value == pytest.approx((2 / 64) ** 0.5)
    e.controls["init"].value = "normal"
    assert not scale.disabled and scale.value == pytest.approx(2.0)  # the student's own value
    scale.value = 0.5
    e.controls["init"].value = "xavier"
    e.controls["init"].value = "normal"
    assert scale.value == pytest.approx(0.5)
    np.testing.assert_allclose(e.flow.W_norms[1], np.linalg.norm(flow_params(e)["W2"]), rtol=1e-12)


def flow_params(e):
    s = e.settings()
    return e._params(s)[0]


def test_train_shows_that_it_runs_and_resets_afterwards(monkeypatch):
    from course import flow

    e = widgets.GradientFlowExplorer(depth=2, width=8, batch=32, steps=20)
    seen = []
    real = flow.sgd_loss_curve

    def spy(*args, progress=None, **kwargs):
        def record(step):
            progress(step)
            b = e.controls["train"]
            seen.append((step, b.disabled, b.description, e.progress.value,
                         e.progress.layout.display))  # fmt: skip

        return real(*args, progress=record, **kwargs)

    monkeypatch.setattr(flow, "sgd_loss_curve", spy)
    e.controls["train"].click()
    assert seen[0] == (10, True, "training…", 10, None)
    assert seen[-1][0] == 20
    b = e.controls["train"]
    assert not b.disabled and b.description == "train 20 SGD steps"
    assert e.progress.layout.display == "none"


def test_loss_panel_range_resets_when_the_network_changes():
    e = widgets.GradientFlowExplorer(depth=2, width=8, batch=32, steps=20, init="normal",
                                     scale=3.0)  # fmt: skip
    e.controls["train"].click()
    assert e.ax_loss.get_ylim() != (0.0, 3.0)
    e.controls["width"].value = 12
    assert e.ax_loss.get_ylim() == (0.0, 3.0)
    assert e.ax_loss.get_xlim() == (0.0, 20.0)
    assert e.losses is None and "empty until train" in e.alt_text()


def test_symmetry_widget_keeps_its_axis_labels_when_hidden_units_change():
    w = widgets.SymmetryWidget(hidden=3, steps=50)
    w.controls["hidden"].value = 6
    for ax in w.axes.values():
        assert "W^1_{j1}" in ax.get_xlabel() and "W^1_{j2}" in ax.get_ylabel()
        assert len(ax.lines) == 2 * 6  # the old units' lines are gone
    w.figure.canvas.draw()
    for ax in w.axes.values():  # the labels are inside the figure, clear of the tick labels
        label = ax.yaxis.label.get_window_extent()
        ticks = [t.get_window_extent() for t in ax.get_yticklabels() if t.get_text()]
        assert label.x0 >= 0 and all(label.x1 <= t.x0 for t in ticks)


@pytest.mark.parametrize("weight_norm", [0.25, 1.0, 8.0])
def test_saturation_bound_curve_is_inside_the_axes(weight_norm):
    s = widgets.SaturationWidget(weight_norm=weight_norm, depth=30)
    _, _, _, bound, at_z = s.numbers()
    lo, hi = s.ax_bound.get_ylim()
    assert lo < min(bound.min(), at_z.min()) and max(bound.max(), at_z.max()) * 2 < hi


# ------------------------------------------------- one update per move, a still fallback


def test_a_redraw_sends_the_picture_and_its_alt_text_in_one_update():
    sent = []

    class Comm:  # the front end's end of the image's channel: what it receives
        kernel = comm_id = "fake"

        def on_msg(self, callback):
            pass

        def send(self, data=None, buffers=None, **kwargs):
            binary = [path[0] for path in data.get("buffer_paths", [])]  # the PNG's bytes
            sent.append(sorted([*data["state"], *binary]))

    w = widgets.SaturationWidget()
    w.image.comm = Comm()
    w.controls["z"].value = 2.0
    assert sent == [["tooltip", "value"]]


def test_show_displays_the_widget_with_a_still_picture_and_alt_text_as_fallback():
    w = widgets.SymmetryWidget(steps=20)
    data, metadata = w.mimebundle()
    assert data[widgets.WIDGET_VIEW]["model_id"] == w.widget.model_id
    assert (
        data["text/plain"].startswith(w.alt_text()) and widgets.RUN_THIS_CELL in data["text/plain"]
    )
    assert 'alt="' in data["text/html"] and "run this cell" in data["text/html"]
    assert metadata["image/png"]["width"] == int(w.image.layout.width.removesuffix("px"))
    import base64

    assert base64.b64decode(data["image/png"]) == w.png


def _saved(tmp_path, outputs, metadata=None):
    """Save a notebook with `outputs` through Jupyter's own contents manager, configured
    as lab-config/ configures the students' Lab, and read back what was written."""
    import json

    import nbformat
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from traitlets.config import Config

    hook = REPO / "lab-config" / "jupyter_server_config.json"
    config = json.loads(hook.read_text(encoding="utf-8"))
    manager = FileContentsManager(root_dir=str(tmp_path), config=Config(config))
    nb = nbformat.v4.new_notebook(metadata=metadata or {})
    nb.cells.append(nbformat.v4.new_code_cell("widgets.SymmetryWidget().show()", outputs=outputs))
    manager.save({"type": "notebook", "format": "json", "content": nb}, "06.ipynb")
    return nbformat.read(tmp_path / "06.ipynb", as_version=4)


def test_a_saved_notebook_keeps_no_widget_view_only_the_still_picture(tmp_path):
    w = widgets.SymmetryWidget(steps=20)
    data, metadata = w.mimebundle()
    bare = {widgets.WIDGET_VIEW: data[widgets.WIDGET_VIEW], "text/plain": "VBox(...)"}
    outputs = [
        {"output_type": "display_data", "data": data, "metadata": metadata},
        {"output_type": "display_data", "data": bare, "metadata": {}},  # a plain ipywidget
    ]
    state = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb = _saved(tmp_path, outputs, {"widgets": state})
    first, second = nb.cells[0].outputs
    assert widgets.WIDGET_VIEW not in first.data and widgets.WIDGET_VIEW not in second.data
    assert first.data["image/png"] == data["image/png"] and "alt=" in first.data["text/html"]
    assert second.data["text/plain"] == "VBox(...)"
    assert "widgets" not in nb.metadata
