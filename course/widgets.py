"""Interactive figures for notebook 06: gradient flow, sigmoid saturation, symmetry.

Each widget computes with :mod:`course.flow` and only draws here.  Figures are plain
``matplotlib.figure.Figure`` objects rendered by Agg into the PNG bytes of an
``ipywidgets.Image``: that needs no front-end extension beyond ipywidgets (ipympl is
not required), and a slider move updates the artists of the persistent figure in
place (``set_data``, limits) and swaps the image bytes, instead of clearing and
re-creating the output area.

ipywidgets and matplotlib are imported inside the functions, so ``import course``
stays light and the numbers stay testable without a browser.

Each figure is rendered at twice the resolution it is shown at (sharp on high-density
screens), carries alt text (the image's ``title``, updated with the numbers shown), and
is inverted by a CSS filter in JupyterLab's dark themes instead of showing a white block.

Usage in a notebook::

    from course import widgets
    widgets.GradientFlowExplorer().show()
"""

from __future__ import annotations

import io

import numpy as np

from . import flow

__all__ = [
    "DARK_THEME_CSS",
    "GradientFlowExplorer",
    "SaturationWidget",
    "SymmetryWidget",
    "format_number",
    "render_png",
    "strip_widget_views",
]

#: CSS pixels per inch of figure on screen (CSS defines 96 px per inch).
DISPLAY_DPI = 96
#: Device pixels rendered per CSS pixel: 2 keeps figures sharp on high-density screens.
RENDER_SCALE = 2
#: Resolution of the PNGs.
DPI = DISPLAY_DPI * RENDER_SCALE
#: JupyterLab marks dark themes on <body>; there the figures are inverted (white paper
#: turns dark, ink turns light) and hue-rotated back, so colours keep their meaning.
DARK_THEME_CSS = (
    "<style>body[data-jp-theme-light='false'] .course-figure "
    "{filter: invert(0.88) hue-rotate(180deg);}</style>"
)
#: Shown in place of an interactive figure whose kernel is not running.
RUN_THIS_CELL = "(A still picture: run this cell for the interactive figure.)"
#: The output type of a live widget; it names a model that exists only in a kernel.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
Z_RANGE = 8.0  # z^m histograms span [-Z_RANGE, Z_RANGE]; beyond that, the edge bins
Z_BINS = 41


def _new_figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def format_number(x):
    """A number for a status line: fixed-point when moderate, scientific when huge or tiny.

    ``format_number(2.3026)`` is "2.3026", ``format_number(3.1e23)`` "3.15e+23"; inf and
    nan print as themselves.
    """
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    if x != 0 and not 1e-3 <= abs(x) < 1e4:
        return f"{x:.3g}"
    return f"{x:.4f}"


def _integer_ticks(axis):
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins="auto", integer=True, min_n_ticks=1))


def render_png(fig):
    """The figure as PNG bytes (Agg), e.g. for ``ipywidgets.Image.value``.

    Draws the canvas and encodes its pixels with Pillow at a low compression level:
    about half the time of ``savefig`` for the same picture, which matters for a
    redraw on every slider step.
    """
    from PIL import Image

    canvas = fig.canvas
    canvas.draw()
    buf = io.BytesIO()
    Image.frombuffer(
        "RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1
    ).convert("RGB").save(buf, format="png", compress_level=1)
    return buf.getvalue()


def _freeze_label_positions(fig, keep=()):
    # Placing axis labels and titles clear of the tick labels measures every tick
    # label's extent on each draw (a third of a redraw).  The first render found good
    # places; keep them, except on the axes in `keep`, whose tick labels change width.
    for ax in fig.axes:
        if ax in keep:
            continue
        to_axes = ax.transAxes.inverted()
        box = ax.xaxis.label.get_window_extent()  # anchored at its top centre
        ax.xaxis.set_label_coords(*to_axes.transform(((box.x0 + box.x1) / 2, box.y1)))
        box = ax.yaxis.label.get_window_extent()  # rotated: anchored at its right edge
        ax.yaxis.set_label_coords(*to_axes.transform((box.x1, (box.y0 + box.y1) / 2)))
        ax.set_title(ax.get_title(), fontsize=ax.title.get_fontsize(), y=1.0)
        ax.title.set_y(1.0 + 4 / (fig.dpi * ax.get_position().height * fig.get_figheight()))


def _sparse_log_ticks(ax):
    # Minor ticks of a log axis are dozens of artists each redraw; majors suffice.
    from matplotlib.ticker import LogLocator, NullLocator

    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=7))
    ax.yaxis.set_minor_locator(NullLocator())


def _log_limits(values, pad=3.0):
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 1e-12, 1.0
    return v.min() / pad, v.max() * pad


_IMAGE_CLASS = []


def _image_with_alt_text(**kwargs):
    """An ``ipywidgets.Image`` whose ``tooltip`` works: the image's alt text (its title).

    ipywidgets 8.1's front end reads the ``description`` of any widget given a tooltip, and
    Image has none, so its view fails to render; an empty synced ``description`` mends it.
    """
    if not _IMAGE_CLASS:
        import ipywidgets as w
        from traitlets import Unicode

        class AltTextImage(w.Image):
            description = Unicode("").tag(sync=True)

        _IMAGE_CLASS.append(AltTextImage)
    return _IMAGE_CLASS[0](**kwargs)


class _FigureWidget:
    """A persistent Figure shown through an ipywidgets.Image, plus controls."""

    #: Solve the layout once and keep it (fast redraws); off where tick labels change width.
    FREEZE_LAYOUT = True

    def __init__(self, fig):
        import ipywidgets as w

        self.figure = fig
        width = f"{round(fig.get_figwidth() * DISPLAY_DPI)}px"
        self.image = _image_with_alt_text(
            format="png", layout=w.Layout(width=width, max_width="100%")
        )
        self.image.add_class("course-figure")
        self.status = w.HTML()
        self.style = w.HTML(DARK_THEME_CSS, layout=w.Layout(display="none"))
        self.controls = {}
        self.auto_label_axes = ()

    def alt_text(self):
        """What the figure shows, in words (the image's alt text)."""
        raise NotImplementedError

    def redraw(self):
        """Re-render the figure into the image (the only place that makes a PNG).

        The picture and its alt text reach the front end in one message (``hold_sync``):
        one update of the image per input event, not one per changed trait.
        """
        png, alt = render_png(self.figure), self.alt_text()
        with self.image.hold_sync():
            self.image.value = png
            self.image.tooltip = alt
        # The constrained layout is solved on the first render; solving it again on
        # every slider move would cost more than the rest of the redraw.
        if self.FREEZE_LAYOUT and self.figure.get_layout_engine() is not None:
            self.figure.set_layout_engine("none")
            _freeze_label_positions(self.figure, keep=self.auto_label_axes)

    @property
    def png(self):
        """The PNG bytes currently shown."""
        return bytes(self.image.value)

    def mimebundle(self):
        """What :meth:`show` displays: the live widget's view, and for wherever no widget
        runs (a notebook reopened without its kernel, nbconvert), the picture as it is now
        (``image/png``) and its alt text with a hint (``text/plain``).

        Returns
        -------
        data, metadata : dict, dict
            A display bundle and its metadata (the picture's width in CSS pixels).
        """
        import base64
        import html

        alt = f"{self.alt_text()} {RUN_THIS_CELL}"
        b64 = base64.b64encode(self.png).decode("ascii")
        width = round(self.figure.get_figwidth() * DISPLAY_DPI)
        data = dict(self.widget._repr_mimebundle_())
        data["text/html"] = (
            f'<img class="course-figure" src="data:image/png;base64,{b64}" width="{width}" '
            f'alt="{html.escape(alt, quote=True)}" style="max-width: 100%; height: auto">'
            f"<p><em>{html.escape(RUN_THIS_CELL)}</em></p>"
        )
        data["image/png"] = b64
        data["text/plain"] = alt
        return data, {"image/png": {"width": width}}

    def show(self):
        """Display the widget in the notebook (with a static picture as its fallback)."""
        from IPython.display import display

        data, metadata = self.mimebundle()
        display(data, metadata=metadata, raw=True)

    def _ipython_display_(self):
        self.show()


class GradientFlowExplorer(_FigureWidget):
    """Per-layer ‖δ^m‖ and ‖∂J/∂W^m‖, the z^m histograms and an SGD loss curve.

    Parameters
    ----------
    depth : int
        Hidden layers (1..30); M = depth + 1.
    width : int
        Units per hidden layer.
    activation : {"sigmoid", "tanh", "relu"}
    init : {"normal", "lecun", "xavier", "he"}
    scale : float
        σ of the "normal" initialisation.
    data : {"digits", "moons", "circles", "xor"}
    batch : int
        Examples in the batch the gradients are averaged over.
    seed : int
        Weights and batch.
    steps : int
        SGD steps run by the "train" button.

    Attributes
    ----------
    widget : ipywidgets.VBox
        What the notebook displays.
    controls : dict of str to ipywidgets.Widget
        "depth", "width", "activation", "init", "scale", "data", "train".
    flow : course.flow.Flow
        The numbers currently drawn.
    """

    def __init__(
        self,
        depth=10,
        width=64,
        activation="sigmoid",
        init="lecun",
        scale=1.0,
        data="digits",
        batch=256,
        seed=0,
        steps=300,
    ):
        import ipywidgets as w

        super().__init__(_new_figure(10, 3.9))
        self.seed, self.batch, self.steps = seed, batch, steps
        self._normal_scale = float(scale)  # the slider's own value while init is "normal"
        self._syncing = False
        self._build_controls(depth, width, activation, init, scale, data)
        c = self.controls
        self._build_axes()
        self.auto_label_axes = (self.ax_loss,)  # its y range jumps from (0, 3) to the data
        for key in ("depth", "width", "activation", "init", "scale", "data"):
            c[key].observe(self._on_change, names="value")
        c["train"].on_click(self.train)
        self.widget = w.VBox(
            [
                w.HBox([c["depth"], c["width"], c["activation"]]),
                w.HBox([c["init"], c["scale"], c["data"], c["train"], self.progress]),
                self.image,
                self.status,
                self.style,
            ]
        )
        self._data_key = None
        self.update()

    def _build_controls(self, depth, width, activation, init, scale, data):
        import ipywidgets as w

        style = {"description_width": "initial"}
        c = self.controls
        c["depth"] = w.IntSlider(depth, 1, 30, description="hidden layers", style=style)
        c["width"] = w.IntSlider(width, 4, 128, step=4, description="width", style=style)
        c["activation"] = w.Dropdown(
            options=["sigmoid", "tanh", "relu"], value=activation, description="f"
        )
        inits = [
            ("normal N(0, scale²)", "normal"),
            ("LeCun: σ = 1/√n", "lecun"),
            ("Xavier/Glorot", "xavier"),
            ("He: σ = √(2/n)", "he"),
        ]
        c["init"] = w.Dropdown(options=inits, value=init, description="init")
        c["scale"] = w.FloatLogSlider(
            scale, base=10, min=-2, max=1, step=0.05, description="scale σ", style=style
        )
        c["data"] = w.Dropdown(options=list(flow.DATASETS), value=data, description="data")
        c["train"] = w.Button(
            description=f"train {self.steps} SGD steps",
            icon="play",
            layout=w.Layout(width="auto", min_width="190px"),
        )
        self.progress = w.IntProgress(
            0, 0, self.steps, description="training…", style=style,
            layout=w.Layout(display="none"),  # shown while training
        )  # fmt: skip

    def _build_axes(self):
        from matplotlib.ticker import FormatStrFormatter, MaxNLocator

        fig = self.figure
        self.ax_norm, self.ax_z, self.ax_loss = fig.subplots(1, 3, width_ratios=[1.2, 1.2, 1])
        ax = self.ax_norm
        ax.set_yscale("log")
        _sparse_log_ticks(ax)
        _integer_ticks(ax.xaxis)
        (self.line_delta,) = ax.plot([], [], "o-", ms=4, label=r"$\|\delta^m\|$")
        (self.line_dW,) = ax.plot([], [], "s--", ms=3, label=r"$\|\partial J/\partial W^m\|$")
        ax.set_xlabel("layer m (1 = first hidden, M = output)")
        ax.set_ylabel("Frobenius norm (log scale, no unit)")
        # below the figure, clear of the data wherever the curves go
        fig.legend(handles=[self.line_delta, self.line_dW], loc="outside lower left", ncol=2)
        ax.grid(True, which="major", alpha=0.3)
        ax = self.ax_z
        self.z_image = ax.imshow(
            np.zeros((Z_BINS, 2)),
            origin="lower",
            aspect="auto",
            # white (no examples) to blue: light paper like the rest of the figure, and
            # the dark theme's inversion turns it into black to light blue
            cmap="Blues",
            vmin=0.0,
            vmax=1.0,
            extent=(0.5, 2.5, -Z_RANGE, Z_RANGE),
            interpolation="nearest",
        )
        for y in (-4.0, 4.0):
            ax.axhline(y, color="C3", ls=":", lw=1.2)
        ax.set_yticks([-8, -4, 0, 4, 8])  # few tick labels: text is most of a redraw
        _integer_ticks(ax.xaxis)
        ax.set_xlabel("layer m")
        ax.set_ylabel(r"pre-activation $z^m$ (clipped to ±8)")
        ax.set_title(r"distribution of $z^m$ per layer (peak = 1)", fontsize=10)
        ax = self.ax_loss
        (self.line_loss,) = ax.plot([], [], lw=1.2)
        ax.set_xlim(0, self.steps)
        ax.set_ylim(0, 3)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        # same label width before and after training, so the layout stays valid
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.2f"))
        ax.set_xlabel("SGD step")
        ax.set_ylabel("loss J (cross-entropy, nats)")
        ax.grid(True, alpha=0.3)

    def settings(self):
        """The controls' current values as keyword arguments."""
        c = self.controls
        return {k: c[k].value for k in ("depth", "width", "activation", "init", "scale", "data")}

    def _batch(self, kind):
        if self._data_key != kind:
            self._X, self._Y = flow.make_batch(kind, self.batch, self.seed)
            self._data_key = kind
        return self._X, self._Y

    def _params(self, s):
        X, Y = self._batch(s["data"])
        params = flow.build_params(
            s["depth"], s["width"], X.shape[0], Y.shape[0], s["init"], s["scale"], self.seed
        )
        return params, X, Y

    def compute(self):
        """Build the net for the current settings and compute its :class:`~course.flow.Flow`."""
        s = self.settings()
        params, X, Y = self._params(s)
        return flow.gradient_flow(params, X, Y, s["activation"])

    def _on_change(self, change):
        if self._syncing:  # the scale slider showing another init's σ: not a user's move
            return
        if change["owner"] is self.controls["scale"]:
            self._normal_scale = change["new"]
        self.update()

    def _sync_scale(self, s):
        # "normal" takes σ from the slider; the other inits set σ themselves, and the
        # disabled slider shows theirs (for the hidden layers) instead of a stale value.
        scale = self.controls["scale"]
        normal = s["init"] == "normal"
        sigma = self._normal_scale if normal else flow.init_std(s["init"], s["width"], s["width"])
        self._syncing = True
        try:
            scale.disabled = not normal
            scale.value = sigma
        finally:
            self._syncing = False
        s["scale"] = scale.value

    def update(self, change=None):
        """Recompute for the current settings and redraw in place (the slider callback)."""
        s = self.settings()
        self._sync_scale(s)
        self.flow = f = self.compute()
        M = f.M
        m = np.arange(1, M + 1)
        self.line_delta.set_data(m, f.delta_norms)
        self.line_dW.set_data(m, f.dW_norms)
        ax = self.ax_norm
        ax.set_xlim(0.5, M + 0.5)
        ax.set_ylim(*_log_limits(np.concatenate([f.delta_norms, f.dW_norms])))
        init = f"N(0, {s['scale']:.3g}²)" if s["init"] == "normal" else s["init"]
        ax.set_title(
            f"{s['activation']}, {init}: "
            + rf"$\|\delta^1\| / \|\delta^{{{max(M - 1, 1)}}}\|$ = {f.ratio:.2g}",
            fontsize=10,
        )
        counts = np.stack(
            [
                np.histogram(np.clip(z, -Z_RANGE, Z_RANGE), bins=Z_BINS, range=(-Z_RANGE, Z_RANGE))[
                    0
                ]
                for z in f.z_samples
            ],
            axis=1,
        ).astype(np.float64)
        counts /= np.maximum(counts.max(axis=0, keepdims=True), 1.0)
        self.z_image.set_data(counts)
        self.z_image.set_extent((0.5, M + 0.5, -Z_RANGE, Z_RANGE))
        self.ax_z.set_xlim(0.5, M + 0.5)
        # A stale loss curve would describe another network: clear it, and its axes.
        self.losses = None
        self.line_loss.set_data([], [])
        self.ax_loss.set_xlim(0, self.steps)
        self.ax_loss.set_ylim(0, 3)
        self.ax_loss.set_title(f"press 'train' for {self.steps} SGD steps", fontsize=10)
        saturated = ", ".join(f"{v:.2f}" for v in f.mean_f_prime[[0, -1]]) if M > 1 else "-"
        self.status.value = (
            f"<b>{s['activation']}</b>, {M - 1} hidden layers of {s['width']}: "
            f"J = {format_number(f.J)} &nbsp; ‖δ<sup>1</sup>‖ = {f.delta_norms[0]:.3e} &nbsp; "
            f"‖δ<sup>M</sup>‖ = {f.delta_norms[-1]:.3e} &nbsp; mean f′(z<sup>m</sup>) in "
            f"layers 1 and M−1: {saturated}"
        )
        self.redraw()

    def train(self, button=None):
        """Run the SGD steps for the current settings and draw the loss curve.

        While it runs, the button is disabled and says so, and a progress bar counts the
        steps (widget updates reach the browser while the callback is still running).
        """
        s = self.settings()
        params, X, Y = self._params(s)
        lr = 0.5 if s["activation"] == "sigmoid" else 0.05
        button, bar = self.controls["train"], self.progress
        label = button.description
        button.disabled, button.description, button.icon = True, "training…", "hourglass"
        bar.value, bar.layout.display = 0, None
        try:
            losses, change = flow.sgd_loss_curve(
                params,
                X,
                Y,
                s["activation"],
                steps=self.steps,
                lr=lr,
                seed=self.seed,
                progress=lambda step: setattr(bar, "value", step),
            )
        finally:
            button.disabled, button.description, button.icon = False, label, "play"
            bar.layout.display = "none"
        self.losses = losses
        self.line_loss.set_data(np.arange(losses.size), losses)
        finite = losses[np.isfinite(losses)]
        self.ax_loss.set_xlim(0, losses.size - 1)
        if finite.size:
            lo, hi = finite.min(), finite.max()
            # a flat or huge curve (exploding nets) still needs a non-empty range
            pad = 0.05 * max(hi - lo, 1e-3 * max(1.0, abs(hi)))
            self.ax_loss.set_ylim(max(0.0, lo - pad), hi + pad)
        self.ax_loss.set_title(
            rf"SGD, α = {lr}: $\|\Delta W^1\| / \|W^1\|$ = {change:.1e}", fontsize=10
        )
        self.redraw()

    def alt_text(self):
        """The figure in words, with the numbers currently drawn."""
        f, s = self.flow, self.settings()
        text = (
            f"Gradient flow of a {s['activation']} network with {f.M - 1} hidden layers of "
            f"{s['width']} units, init {s['init']}. Left: per-layer norms on a log scale; "
            f"norm of delta is {f.delta_norms[-1]:.2g} at the output layer {f.M} and "
            f"{f.delta_norms[0]:.2g} at layer 1. Middle: histograms of the pre-activations "
            "z per layer. Right: "
        )
        if self.losses is None:
            return text + "empty until train is pressed."
        return text + (
            f"loss during {self.losses.size - 1} SGD steps, from {format_number(self.losses[0])} "
            f"to {format_number(self.losses[-1])} nats."
        )


class SaturationWidget(_FigureWidget):
    """σ and σ' with a movable input, and the bound (¼‖W‖₂)^k on how δ shrinks.

    Parameters
    ----------
    z : float
        Initial input of the marker.
    weight_norm : float
        ‖W^m‖₂ assumed for every layer in the bound.
    depth : int
        Number of layers k the bound is drawn over.
    """

    def __init__(self, z=0.0, weight_norm=1.0, depth=10):
        import ipywidgets as w

        super().__init__(_new_figure(10, 3.9))
        style = {"description_width": "initial"}
        c = self.controls
        c["z"] = w.FloatSlider(z, min=-8, max=8, step=0.1, description="input z", style=style)
        c["weight_norm"] = w.FloatSlider(
            weight_norm, min=0.25, max=8, step=0.25, description="‖W‖₂ per layer", style=style
        )
        c["depth"] = w.IntSlider(depth, 1, 30, description="layers k", style=style)
        self.ax_sig, self.ax_bound = self.figure.subplots(1, 2)
        grid = np.linspace(-8, 8, 321)
        sig, dsig = flow.sigmoid_curves(grid)
        ax = self.ax_sig
        ax.plot(grid, sig, label="σ(z)")
        ax.plot(grid, dsig, label=r"$\sigma'(z) = \sigma(z)(1 - \sigma(z))$")
        ax.axhline(
            float(dsig.max()), color="k", ls=":", lw=1, label=r"largest slope $\sigma'_{\max}$"
        )
        (self.dot_sig,) = ax.plot([], [], "o", color="C0", clip_on=False)
        (self.dot_dsig,) = ax.plot([], [], "o", color="C1", clip_on=False)
        self.vline = ax.axvline(0.0, color="gray", lw=0.8)
        ax.set_xlabel("pre-activation z")
        ax.set_ylabel("value (no unit)")
        ax.set_ylim(-0.05, 1.05)
        ax = self.ax_bound
        ax.set_yscale("log")
        _sparse_log_ticks(ax)
        _integer_ticks(ax.xaxis)
        (self.line_bound,) = ax.plot(
            [], [], "o-", ms=4, clip_on=False, label=r"bound $(\sigma'_{\max}\|W\|_2)^k$"
        )
        (self.line_at_z,) = ax.plot(
            [], [], "s--", ms=3, clip_on=False, label=r"$(\sigma'(z)\,\|W\|_2)^k$: all units at z"
        )
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xlabel("layers k the signal passes back through")
        ax.set_ylabel(r"$\|\delta^{M-k}\| / \|\delta^M\|$ (log scale)")
        ax.grid(True, alpha=0.3)
        # legends below the axes: inside, they covered the curves
        self.ax_sig.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=9)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9)
        for ctrl in c.values():
            ctrl.observe(self.update, names="value")
        self.widget = w.VBox([w.HBox(list(c.values())), self.image, self.status, self.style])
        self.update()

    def numbers(self):
        """(σ(z), σ'(z), k, bound (¼‖W‖₂)^k, (σ'(z)‖W‖₂)^k) for the current controls."""
        c = self.controls
        z, wn, depth = c["z"].value, c["weight_norm"].value, c["depth"].value
        sig, dsig = flow.sigmoid_curves(np.array([z]))
        k = np.arange(depth + 1)
        return float(sig[0]), float(dsig[0]), k, (0.25 * wn) ** k, (float(dsig[0]) * wn) ** k

    def update(self, change=None):
        """Move the markers and redraw the bound (the slider callback)."""
        z = self.controls["z"].value
        sig, dsig, k, bound, at_z = self.numbers()
        self.dot_sig.set_data([z], [sig])
        self.dot_dsig.set_data([z], [dsig])
        self.vline.set_xdata([z, z])
        self.ax_sig.set_title(f"σ({z:.1f}) = {sig:.3f},  σ'({z:.1f}) = {dsig:.4f}", fontsize=10)
        self.line_bound.set_data(k, bound)
        self.line_at_z.set_data(k, at_z)
        ax = self.ax_bound
        ax.set_xlim(-0.5, k[-1] + 0.5)
        # a factor 3 of headroom on the log axis: markers at the extremes stay inside
        ax.set_ylim(*_log_limits(np.concatenate([bound, at_z, [1.0]]), pad=3.0))
        ax.set_title(f"after {k[-1]} layers: bound {bound[-1]:.2g}", fontsize=10)
        self.status.value = (
            "Each sigmoid layer multiplies ‖δ‖ by at most σ′<sub>max</sub>‖W<sup>m</sup>‖₂: "
            "below 1 unless ‖W<sup>m</sup>‖₂ > 1/σ′<sub>max</sub>, and weights that large push "
            "z into the flat tails of σ."
        )
        self.redraw()

    def alt_text(self):
        """The figure in words, with the numbers currently drawn."""
        sig, dsig, k, bound, at_z = self.numbers()
        z, wn = self.controls["z"].value, self.controls["weight_norm"].value
        return (
            f"Left: the sigmoid and its slope against z, with a marker at z = {z:.1f}: "
            f"sigma = {sig:.3f}, slope = {dsig:.4f}. Right, on a log scale: after k = 0 to "
            f"{k[-1]} layers with weight norm {wn:g}, the bound falls or grows to "
            f"{bound[-1]:.2g} and the factor with every unit at z to {at_z[-1]:.2g}."
        )


class SymmetryWidget(_FigureWidget):
    """Rows of W^1 (one per hidden unit) while training from zero vs random init.

    Parameters
    ----------
    hidden : int
        Hidden units of the 2-H-2 sigmoid net trained on the moons data.
    steps : int
        Gradient descent steps recorded.
    """

    RECORD_EVERY = 10
    FREEZE_LAYOUT = False  # "hidden units" changes the axis ranges and tick labels

    def __init__(self, hidden=4, steps=400):
        import ipywidgets as w

        super().__init__(_new_figure(9, 3.8))
        self.steps = steps
        self.trails, self.heads = {}, {}
        style = {"description_width": "initial"}
        c = self.controls
        c["step"] = w.IntSlider(
            steps, 0, steps, step=self.RECORD_EVERY, description="step", style=style
        )
        c["hidden"] = w.IntSlider(hidden, 2, 8, description="hidden units", style=style)
        self.axes = dict(zip(("zeros", "random"), self.figure.subplots(1, 2), strict=True))
        for ax in self.axes.values():
            ax.set_xlabel(r"weight from input $x_1$: $W^1_{j1}$")
            ax.set_ylabel(r"weight from input $x_2$: $W^1_{j2}$")
            ax.grid(True, alpha=0.3)
        c["step"].observe(self.update, names="value")
        c["hidden"].observe(self._retrain, names="value")
        self.widget = w.VBox(
            [w.HBox([c["step"], c["hidden"]]), self.image, self.status, self.style]
        )
        self._retrain()

    def _retrain(self, change=None):
        H = self.controls["hidden"].value
        self.paths = {
            init: flow.symmetry_trajectories(
                init, hidden=H, steps=self.steps, record_every=self.RECORD_EVERY
            )
            for init in self.axes
        }
        for init, ax in self.axes.items():
            # Replace only the lines: clearing the axes would also drop the axis labels
            # (placed once, on the first render).
            for line in self.trails.get(init, []) + self.heads.get(init, []):
                line.remove()
            path = self.paths[init]
            self.trails[init] = [ax.plot([], [], "-", lw=1, color=f"C{j}")[0] for j in range(H)]
            self.heads[init] = [ax.plot([], [], "o", color=f"C{j}")[0] for j in range(H)]
            lo, hi = path.min(axis=(0, 1)), path.max(axis=(0, 1))
            pad = 0.1 * np.maximum(hi - lo, 0.5)
            ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        self.update()

    def distinct_units(self, init, t):
        """How many different weight vectors the hidden units have at frame t."""
        rows = self.paths[init][t]
        return len(np.unique(np.round(rows, 9), axis=0))

    def update(self, change=None):
        """Draw the trajectories up to the chosen step (the slider callback)."""
        t = self.controls["step"].value // self.RECORD_EVERY
        for init, ax in self.axes.items():
            path = self.paths[init]
            for j, (trail, head) in enumerate(
                zip(self.trails[init], self.heads[init], strict=True)
            ):
                trail.set_data(path[: t + 1, j, 0], path[: t + 1, j, 1])
                head.set_data([path[t, j, 0]], [path[t, j, 1]])
            n = self.distinct_units(init, t)
            name = "zero init" if init == "zeros" else "random init N(0, 1)"
            ax.set_title(f"{name}: {n} distinct unit(s) of {path.shape[1]}", fontsize=10)
        self.status.value = (
            f"step {t * self.RECORD_EVERY}: from zeros every hidden unit gets the same "
            "gradient, so they stay one unit; random weights break the symmetry."
        )
        self.redraw()

    def alt_text(self):
        """The figure in words, with the numbers currently drawn."""
        t = self.controls["step"].value // self.RECORD_EVERY
        H = self.paths["zeros"].shape[1]
        return (
            f"Paths of the incoming weight vectors of {H} hidden units during "
            f"{t * self.RECORD_EVERY} gradient steps. Left, from zero weights: "
            f"{self.distinct_units('zeros', t)} distinct path(s). Right, from random "
            f"weights: {self.distinct_units('random', t)} distinct paths."
        )


def strip_widget_views(model, **kwargs):
    """Jupyter's ``ContentsManager.pre_save_hook``: save notebooks without widget views.

    A saved widget view names a model that lives only in the running kernel; reopened
    without it, JupyterLab shows "Error displaying widget: model not found" instead of
    the output's other representations.  This drops the view (and any saved widget
    state) from every output, keeping the picture and text displayed next to it
    (:meth:`_FigureWidget.mimebundle`); an output that was a widget view only keeps
    :data:`RUN_THIS_CELL`.  Configured in ``lab-config/jupyter_server_config.json``.

    Parameters
    ----------
    model : dict
        The contents model being saved; changed in place when it is a notebook.
    **kwargs
        ``path`` and ``contents_manager``, unused.
    """
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    nb = model["content"]
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data")
            if isinstance(data, dict) and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if not any(k != "text/plain" for k in data):
                    data.setdefault("text/plain", RUN_THIS_CELL)
