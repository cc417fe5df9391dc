"""gvcourse.plots (alt text, axes, errors), the base of gvcourse.theory, and seeding."""

import random

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import gvcourse
from gvcourse import plots, theory

matplotlib.use("Agg")


def test_grad_norm_plot_is_log_scale_with_alt_text():
    fig = plots.grad_norms_per_layer({"sigmoid": {"fc1": 1e-9, "fc2": 1e-4, "out": 0.1},
                                      "relu": {"fc1": 0.05, "fc2": 0.08, "out": 0.1}})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert "layer" in ax.get_xlabel() and ax.get_title()
    alt = plots.get_alt_text(fig)
    assert "sigmoid" in alt and "1.0e-09" in alt
    assert len({line.get_marker() for line in ax.lines}) == 2  # not colour alone
    plt.close(fig)


def test_helpers_accept_ax_and_return_its_figure():
    fig, axes = plt.subplots(1, 3)
    assert plots.loss_curves({"a": [3, 2, 1]}, ax=axes[0]) is fig
    assert plots.activation_histograms({"act1": np.random.rand(100)}, ax=axes[1]) is fig
    assert plots.layer_step_heatmap(np.ones((2, 4)), ["fc1", "fc2"], steps=[0, 1, 2, 3], ax=axes[2]) is fig
    assert plots.get_alt_text(fig)
    plt.close(fig)


def test_plot_errors():
    with pytest.raises(ValueError):
        plots.grad_norms_per_layer({})
    with pytest.raises(ValueError, match="one row per layer"):
        plots.layer_step_heatmap(np.ones((3, 4)), ["a"])
    with pytest.raises(TypeError):
        plots.set_alt_text("not a figure", "x")
    fig = plt.figure()
    with pytest.raises(ValueError):
        plots.set_alt_text(fig, "  ")
    plt.close(fig)


def test_alt_text_travels_with_png_output_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    select_figure_formats(shell, {"png"})
    plots.use_course_style()
    fig = plots.loss_curves({"run": [1.0, 0.5]})
    data, metadata = shell.display_formatter.format(fig)
    assert "image/png" in data
    assert metadata["image/png"]["alt"].startswith("Training loss")
    plt.close(fig)


@pytest.mark.slow  # starts a kernel
def test_notebook_figures_have_twice_the_pixels_they_are_shown_at():
    """HiDPI screens: a figure's PNG is 2x its display size (width/height metadata), and keeps its alt text."""
    import base64
    import struct

    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import gvcourse\ngvcourse.setup_notebook()"),
                nbformat.v4.new_code_cell("from gvcourse import plots\nfig = plots.loss_curves({'run': [1.0, 0.5]})")]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    [png_output] = [o for o in nb.cells[1].outputs if "image/png" in o.get("data", {})]
    width, height = struct.unpack(">II", base64.b64decode(png_output["data"]["image/png"])[16:24])
    shown = png_output["metadata"]["image/png"]
    assert (width // 2, height // 2) == (shown["width"], shown["height"])  # IPython halves, rounding down
    assert shown["alt"].startswith("Training loss")


def test_derivative_bounds():
    assert theory.sigmoid_grad_bound(3) == 0.25**3
    assert theory.derivative_max("tanh") == 1.0
    s = torch.linspace(-8, 8, 10001, dtype=torch.float64)
    assert float((torch.sigmoid(s) * (1 - torch.sigmoid(s))).max()) == pytest.approx(0.25)
    assert theory.chain_product_bound("sigmoid", 2.0, 4) == pytest.approx(0.5**4)
    with pytest.raises(ValueError, match="sigmoid"):
        theory.derivative_max("softmax")
    with pytest.raises(ValueError):
        theory.sigmoid_grad_bound(-1)


def test_seed_all_is_reproducible():
    gvcourse.seed_all(7)
    a = (random.random(), np.random.rand(), float(torch.rand(1)))
    gvcourse.seed_all(7)
    assert a == (random.random(), np.random.rand(), float(torch.rand(1)))
    with pytest.raises(ValueError):
        gvcourse.seed_all(-3)


def test_seed_all_asks_for_deterministic_algorithms_without_loading_the_compiler():
    import subprocess
    import sys

    code = ("import sys, torch, gvcourse; gvcourse.seed_all(0); "
            "print(torch.are_deterministic_algorithms_enabled(), "
            "torch.is_deterministic_algorithms_warn_only_enabled(), 'torch._inductor' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "False"]


@pytest.mark.parametrize("mathtext, plain", [
    (r"$\mathdefault{10^{-5}}$", "10⁻⁵"), (r"$\mathdefault{10^{0}}$", "10⁰"), (r"$\mathdefault{10^{12}}$", "10¹²"),
    (r"$\mathdefault{2\times10^{-3}}$", "2×10⁻³"), (r"$\mathdefault{-10^{4}}$", "-10⁴"),
    (r"$\mathdefault{0.5}$", "0.5"),
    ("", ""), (r"$\mathdefault{10^{-2.50}}$", r"$\mathdefault{10^{-2.50}}$"),  # a form it does not know: unchanged
])
def test_log_tick_labels_in_plain_text(mathtext, plain):
    from gvcourse.log_ticks import plain_text

    assert plain_text(mathtext) == plain


def test_course_style_labels_log_axes_in_plain_text():
    from gvcourse.log_ticks import PlainLogFormatter

    plots.use_course_style()
    fig, ax = plt.subplots()
    ax.semilogy([1, 2, 3], [1e-6, 1e-3, 1.0])
    fig.canvas.draw()
    assert isinstance(ax.yaxis.get_major_formatter(), PlainLogFormatter)
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert "10⁻³" in labels and not any("$" in t for t in labels), labels
    plt.close(fig)
