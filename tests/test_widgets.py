"""course.widgets without a browser: each widget builds, and moving a control runs its
callback and changes the PNG the student sees."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # non-interactive; the widgets draw through Agg in any case

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


def test_render_png_is_a_png_of_the_figure_size():
    from PIL import Image

    e = widgets.SaturationWidget()
    img = Image.open(__import__("io").BytesIO(widgets.render_png(e.figure)))
    assert img.size == (10 * widgets.DPI, int(3.4 * widgets.DPI))


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
