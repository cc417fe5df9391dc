"""The course's figure helpers: one style, a colour-blind-safe palette, alt text.

Every helper takes ``ax=`` (draws into it, or makes a new figure), sets titles
and axis labels that say what is plotted, uses a log scale for gradient norms,
and attaches alt text to the figure with :func:`set_alt_text`. In a notebook
the alt text travels with the PNG output (output metadata ``alt``) and the
book's build puts it on the ``<img>`` tag.

Palette: Okabe & Ito (2008), "Color Universal Design", safe for the common
colour-vision deficiencies; lines also differ by marker and dash so no plot
relies on colour alone.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from itertools import cycle

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .autograd import Value
from .graph_layout import layout_graph
from .log_ticks import use_plain_log_ticks

__all__ = [
    "PALETTE", "MARKERS", "LINESTYLES", "use_course_style", "set_alt_text", "get_alt_text",
    "style_cycle", "grad_norms_per_layer", "activation_histograms", "loss_curves", "layer_step_heatmap",
    "network_diagram", "draw_graph",
]

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2))]

_ALT_ATTR = "_gvcourse_alt_text"


def use_course_style() -> None:
    """Apply the course's matplotlib style (palette, sizes, light grid, white background).

    The white figure background keeps figures legible in the book's dark mode. Log axes label their ticks
    ``10⁻⁵`` in plain text rather than mathtext (:mod:`gvcourse.log_ticks`: the same labels, drawn faster).
    """
    from cycler import cycler

    plt.rcParams.update({
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 80,
        "savefig.dpi": 100,
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "axes.prop_cycle": cycler(color=PALETTE[:7]) + cycler(linestyle=LINESTYLES[:7]),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 10,
        "legend.frameon": False,
        "image.cmap": "viridis",
    })
    use_plain_log_ticks()
    _install_alt_text_formatter()


def style_cycle():
    """Yield (colour, marker, linestyle) triples for series that must differ without colour."""
    return zip(cycle(PALETTE), cycle(MARKERS), cycle(LINESTYLES))


def set_alt_text(fig: Figure, text: str) -> Figure:
    """Attach alt text (what the figure shows, in a sentence) to ``fig``."""
    if not isinstance(fig, Figure):
        raise TypeError(f"set_alt_text expects a matplotlib Figure, got {type(fig).__name__}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("alt text must be a non-empty string describing what the figure shows")
    setattr(fig, _ALT_ATTR, " ".join(text.split()))
    return fig


def get_alt_text(fig: Figure) -> str | None:
    """The alt text attached with :func:`set_alt_text`, or None."""
    return getattr(fig, _ALT_ATTR, None)


def _install_alt_text_formatter() -> None:
    """In IPython, make PNG outputs of figures carry their alt text as output metadata.

    Wraps whatever PNG formatter the inline backend registered for Figure, so
    ``display(fig)`` yields ``(png, {"alt": text})``; with the inline backend the PNG is rendered at twice the
    pixel density it is shown at (IPython's "retina" format adds ``width``/``height`` to that metadata).
    Outside IPython: no-op.
    """
    ipython = sys.modules.get("IPython")  # a kernel has it loaded; importing it elsewhere costs 0.8 s for nothing
    ip = ipython.get_ipython() if ipython is not None else None
    if ip is None:
        return
    backend = matplotlib.get_backend()
    if "inline" in backend:  # matplotlib loads its backend lazily; the inline one registers its formatter then
        plt.switch_backend(backend)
    png = ip.display_formatter.formatters["image/png"]
    try:
        base = png.lookup_by_type(Figure)
    except KeyError:
        return
    if getattr(base, "_gvcourse_wrapped", False):
        return
    if "inline" in backend:
        # HiDPI: twice the pixels, shown at the same size ("retina": the PNG's metadata carries its display width
        # and height, which Jupyter, Colab and the book's pages honour), so figures stay sharp on 2x screens.
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
        base = png.lookup_by_type(Figure)

    def with_alt(fig: Figure):
        data = base(fig)
        alt = get_alt_text(fig)
        if not alt or data is None:
            return data
        data, metadata = data if isinstance(data, tuple) else (data, {})
        return data, {**metadata, "alt": alt}

    with_alt._gvcourse_wrapped = True  # type: ignore[attr-defined]
    png.for_type(Figure, with_alt)


def _new_axes(ax, figsize=None):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _short(name: str, width: int = 14) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def grad_norms_per_layer(norms: Mapping[str, float] | Mapping[str, Mapping[str, float]], ax=None,
                         title: str = "Gradient norm per layer", ylabel: str = "‖∂L/∂W‖ (L2, log scale)"):
    """Gradient norm per layer, input layer on the left, on a log scale.

    ``norms`` is one ``{layer: norm}`` mapping (as ``GradientFlow.grad_norms()``
    returns) or ``{series label: {layer: norm}}`` for several runs on one axis.
    """
    if not isinstance(norms, Mapping) or not norms:
        raise ValueError("norms must be a non-empty mapping {layer: norm} or {label: {layer: norm}}")
    first = next(iter(norms.values()))
    series = norms if isinstance(first, Mapping) else {"": norms}
    fig, ax = _new_axes(ax)
    for (label, values), (colour, marker, dash) in zip(series.items(), style_cycle()):
        y = np.asarray(list(values.values()), dtype=float)
        x = np.arange(1, len(y) + 1)
        ax.semilogy(x, np.where(y > 0, y, np.nan), color=colour, marker=marker, linestyle=dash,
                    label=label or None, markersize=4)
    ax.set_xlabel("layer (1 = nearest the input)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if any(series.keys()) and len(series) > 0 and next(iter(series)) != "":
        ax.legend()
    lo = np.nanmin([v for s in series.values() for v in s.values() if v > 0] or [np.nan])
    hi = np.nanmax([v for s in series.values() for v in s.values()] or [np.nan])
    labels = ", ".join(str(k) for k in series if k) or "one network"
    set_alt_text(fig, f"{title}: log-scale line plot of gradient norm against layer index for {labels}; "
                      f"values range from {lo:.1e} to {hi:.1e}.")
    return fig


def activation_histograms(activations: Mapping[str, np.ndarray | Sequence[float]], ax=None, bins: int = 50,
                          title: str = "Activation distribution per layer", xlabel: str = "activation value"):
    """Overlaid histograms (outlines) of activation values, one per layer."""
    if not isinstance(activations, Mapping) or not activations:
        raise ValueError("activations must be a non-empty mapping {layer: values}")
    fig, ax = _new_axes(ax)
    for (name, values), (colour, _, dash) in zip(activations.items(), style_cycle()):
        v = np.asarray(values, dtype=float).ravel()
        ax.hist(v, bins=bins, histtype="step", density=True, color=colour, linestyle=dash, label=_short(name))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    set_alt_text(fig, f"{title}: overlaid histograms of activation values for {len(activations)} layers.")
    return fig


def loss_curves(histories: Mapping[str, Sequence[float]], ax=None, title: str = "Training loss",
                ylabel: str = "loss", xlabel: str = "step", logy: bool = False):
    """One line per run, ``{label: [loss at each step]}``."""
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories must be a non-empty mapping {label: sequence of losses}")
    fig, ax = _new_axes(ax)
    for (label, values), (colour, marker, dash) in zip(histories.items(), style_cycle()):
        y = np.asarray(values, dtype=float)
        ax.plot(np.arange(len(y)), y, color=colour, linestyle=dash, marker=marker,
                markevery=max(1, len(y) // 8), markersize=4, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    finals = "; ".join(f"{k} ends at {np.asarray(v, dtype=float)[-1]:.3g}" for k, v in histories.items())
    set_alt_text(fig, f"{title}: {ylabel} against {xlabel} for {len(histories)} runs; {finals}.")
    return fig


def layer_step_heatmap(matrix: np.ndarray, layer_names: Sequence[str], steps: Sequence[int] | None = None,
                       ax=None, title: str = "Gradient norm per layer over training",
                       colorbar_label: str = "log10 ‖∂L/∂W‖"):
    """A layers × steps heat map of log10 values (e.g. gradient norms over training)."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != len(layer_names):
        raise ValueError(f"matrix must be 2-D with one row per layer ({len(layer_names)}), got shape {m.shape}")
    fig, ax = _new_axes(ax)
    with np.errstate(divide="ignore"):
        img = ax.imshow(np.log10(m), aspect="auto", origin="lower", interpolation="nearest")
    ax.set_yticks(range(len(layer_names)), [_short(n) for n in layer_names], fontsize=7)
    if steps is not None:
        idx = np.linspace(0, len(steps) - 1, min(6, len(steps))).astype(int)
        ax.set_xticks(idx, [str(steps[i]) for i in idx])
    ax.set_xlabel("training step")
    ax.set_ylabel("layer (input at the bottom)")
    ax.set_title(title)
    ax.grid(False)
    fig.colorbar(img, ax=ax, label=colorbar_label)
    set_alt_text(fig, f"{title}: heat map with {m.shape[0]} layers on the vertical axis and {m.shape[1]} "
                      f"training steps on the horizontal axis, colour showing {colorbar_label}.")
    return fig


def network_diagram(layer_sizes: Sequence[int], grad_norms: Sequence[float] | None = None, ax=None,
                    title: str = "A feed-forward network: forward and backward passes"):
    """Draw neurons (circles) in layers with their connections, the forward and the backward pass.

    ``layer_sizes`` lists the number of units shown per layer (input first). If ``grad_norms`` (one per
    layer after the input) is given, each layer's units are shaded by log10 of its gradient norm, so
    vanishing shows as fading colour towards the input.
    """
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes needs at least two positive sizes, got {list(layer_sizes)}")
    if grad_norms is not None and len(grad_norms) != len(sizes) - 1:
        raise ValueError(f"grad_norms needs one value per non-input layer ({len(sizes) - 1}), got {len(grad_norms)}")
    fig, ax = _new_axes(ax, figsize=(7.5, 4.0))
    top = max(sizes)
    dx = 2.2  # horizontal spacing between layers
    pos = [[(dx * i, (top - 1) / 2 - j - (top - s) / 2) for j in range(s)] for i, s in enumerate(sizes)]
    for a, b in zip(pos, pos[1:]):
        for xa, ya in a:
            for xb, yb in b:
                ax.plot([xa, xb], [ya, yb], color="0.8", lw=0.6, linestyle="-", zorder=1)
    shade = None
    if grad_norms is not None:
        logs = np.log10(np.maximum(np.asarray(grad_norms, dtype=float), 1e-30))
        span = max(logs.max() - logs.min(), 1e-9)
        shade = [None] + [0.15 + 0.85 * (v - logs.min()) / span for v in logs]
    for i, layer in enumerate(pos):
        for x, y in layer:
            if i == 0:
                face = PALETTE[1]
            elif shade is not None:
                face = plt.cm.Blues(shade[i])
            else:
                face = PALETTE[0] if i < len(pos) - 1 else PALETTE[2]
            ax.add_patch(plt.Circle((x, y), 0.22, facecolor=face, edgecolor="0.2", zorder=2))
    names = ["input"] + [f"hidden {i}" for i in range(1, len(sizes) - 1)] + ["output"]
    for i, name in enumerate(names):
        ax.text(dx * i, -top / 2 - 0.25, name, ha="center", va="top", fontsize=8)
    y_fwd, y_bwd = top / 2 + 0.2, -top / 2 - 0.95
    right = dx * (len(sizes) - 1)
    ax.annotate("", xy=(right, y_fwd), xytext=(0, y_fwd),
                arrowprops=dict(arrowstyle="-|>", color=PALETTE[0], lw=2))
    ax.text(right / 2, y_fwd + 0.12, "forward pass: activations h = φ(W h + b)", ha="center",
            va="bottom", color=PALETTE[0], fontsize=9)
    ax.annotate("", xy=(0, y_bwd), xytext=(right, y_bwd),
                arrowprops=dict(arrowstyle="-|>", color=PALETTE[3], lw=2, linestyle="--"))
    ax.text(right / 2, y_bwd - 0.12, "backward pass: gradients ∂L/∂h, ∂L/∂W (chain rule)",
            ha="center", va="top", color=PALETTE[3], fontsize=9)
    ax.set_xlim(-0.8, right + 0.8)
    ax.set_ylim(y_bwd - 0.7, y_fwd + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    alt = (f"{title}: {len(sizes)} layers of circles (neurons) from input on the left to output on the right, "
           "every neuron connected to the next layer; an arrow left to right marks the forward pass and a dashed "
           "arrow right to left the backward pass of gradients")
    if grad_norms is not None:
        alt += "; neuron colour fades where gradient norms are small"
    set_alt_text(fig, alt + ".")
    return fig


def draw_graph(root: Value, ax=None, show_grad: bool = True) -> Figure:
    """Draw the computation graph of a :class:`~gvcourse.autograd.Value` ``root`` (no graphviz needed).

    Leaves are on the left, the output on the right; each box shows the node's label (if any), its operation,
    ``data`` and — if ``show_grad`` — ``grad``. An edge that skips columns runs in a lane of its own, never
    through another node's box (:func:`gvcourse.graph_layout.layout_graph`). Returns the matplotlib Figure.
    """
    if not isinstance(show_grad, bool):
        raise TypeError(f"show_grad must be True or False, got {show_grad!r}")
    layout = layout_graph(root)
    fig, ax = _new_axes(ax, figsize=(max(4.0, 2.3 * layout.columns), max(2.0, 1.1 * layout.rows + 0.6)))
    box = {}  # edges are clipped at the boxes
    for node, (x, y) in zip(layout.nodes, layout.position):
        head = " ".join(s for s in (node.label, node.op) if s) or "input"
        text = f"{head}\ndata {node.data:.4g}" + (f"\ngrad {node.grad:.4g}" if show_grad else "")
        label = ax.text(x, y, text, ha="center", va="center", fontsize=8, family="monospace",
                        bbox=dict(boxstyle="round,pad=0.3", fc="#e8f0fa" if node.children else "#fdf1dc", ec="0.3"))
        box[id(node)] = label.get_bbox_patch()
    line = dict(color="0.45", lw=1.0)
    for child, parent, path in layout.edges:
        start, *via, end = path
        if via:  # a long edge: into its lane, along it, out of it
            lane = [(x + dx, y) for x, y in via for dx in (-0.32, 0.32)]
            ax.plot(*zip(*lane), linestyle="-", **line)
            ax.annotate("", xy=lane[0], xytext=start,
                        arrowprops=dict(arrowstyle="-", patchA=box[id(child)], shrinkB=0, **line))
            start = lane[-1]
        ax.annotate("", xy=end, xytext=start,
                    arrowprops=dict(arrowstyle="->", patchA=None if via else box[id(child)],
                                    patchB=box[id(parent)], shrinkA=0 if via else 2, **line))
    ax.set_xlim(-0.6, layout.columns - 0.4)
    ax.set_ylim(-layout.rows / 2 - 0.1, layout.rows / 2 + 0.1)
    ax.axis("off")
    set_alt_text(fig, f"Computation graph with {len(layout.nodes)} nodes, inputs on the left and the output on the "
                      "right; each box shows a node's operation, value and gradient.")
    return fig


def phase_diagram(activation: str = "tanh", sigma_w: Sequence[float] = (0.5, 3.0),
                  sigma_b: Sequence[float] = (0.0, 1.0), resolution: int = 41,
                  points: Mapping[str, tuple[float, float]] | None = None, ax=None,
                  title: str = "Order and chaos in deep random networks"):
    """The (σ_w, σ_b) phase diagram of mean-field theory: log10 χ₁ in colour and the critical line χ₁ = 1.

    χ₁ (:func:`gvcourse.theory.chi1`) is the factor by which each layer multiplies the mean squared
    back-propagated gradient of a deep random network with W_ij ~ N(0, σ_w²/n), b_i ~ N(0, σ_b²): left of the
    critical line (ordered phase, χ₁ < 1) gradients vanish with depth, right of it (chaotic phase, χ₁ > 1) they
    explode (Poole et al. 2016; Schoenholz et al. 2017). ``sigma_w`` and ``sigma_b`` are
    (low, high) ranges; ``points`` marks initializations, ``{label: (σ_w, σ_b)}``. Perceptually uniform
    colour map (viridis) with a labelled colour bar; the critical line is drawn from
    :func:`gvcourse.theory.critical_sigma_w`.
    """
    from . import theory
    from ._checks import one_of, positive_int, real

    act = one_of("activation", activation, theory.MEAN_FIELD_ACTIVATIONS)
    n = positive_int("resolution", resolution, minimum=3)
    ranges = []
    for name, rng in (("sigma_w", sigma_w), ("sigma_b", sigma_b)):
        if not (isinstance(rng, Sequence) and len(rng) == 2):
            raise TypeError(f"{name} must be a (low, high) pair, got {rng!r}")
        lo, hi = real(f"{name} low", rng[0], nonnegative=True), real(f"{name} high", rng[1], nonnegative=True)
        if not lo < hi:
            raise ValueError(f"{name} must be a (low, high) pair with low < high, got {tuple(rng)}")
        ranges.append((lo, hi))
    (w_lo, w_hi), (b_lo, b_hi) = ranges
    if w_lo <= 0:
        raise ValueError(f"sigma_w low must be > 0, got {w_lo:g}")
    ws, bs = np.linspace(w_lo, w_hi, n), np.linspace(b_lo, b_hi, n)
    chi = np.array([[theory.chi1(act, w, b) for w in ws] for b in bs])
    fig, ax = _new_axes(ax, figsize=(6.4, 5.0))
    mesh = ax.pcolormesh(ws, bs, np.log10(chi), cmap="viridis", shading="nearest")
    fig.colorbar(mesh, ax=ax, label="log10 χ₁ (per-layer gradient factor)")
    line_b = np.linspace(b_lo, b_hi, 21)
    line_w = np.array([theory.critical_sigma_w(act, b) for b in line_b])
    ax.plot(line_w, line_b, color="white", linewidth=3.5, linestyle="-")
    ax.plot(line_w, line_b, color="black", linewidth=1.5, linestyle="--", label="critical line χ₁ = 1")
    if points:
        for (label, (w, b)), (colour, marker, _) in zip(points.items(), style_cycle()):
            ax.plot([w], [b], marker=marker, markersize=9, markerfacecolor=colour, markeredgecolor="black",
                    linestyle="none", label=label, clip_on=False, zorder=5)
    ax.text(0.03, 0.95, "ordered\nχ₁ < 1: gradients vanish", transform=ax.transAxes, va="top", ha="left",
            fontsize=9, color="white")
    ax.text(0.97, 0.05, "chaotic\nχ₁ > 1: gradients explode", transform=ax.transAxes, va="bottom", ha="right",
            fontsize=9, color="black")
    ax.set_xlim(w_lo, w_hi)
    ax.set_ylim(b_lo, b_hi)
    ax.set_xlabel("σ_w (weight scale)")
    ax.set_ylabel("σ_b (bias scale)")
    ax.set_title(title)
    ax.grid(False)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=2, fontsize=8, frameon=False)
    marked = f"; marked points: {', '.join(points)}" if points else ""
    set_alt_text(fig, f"{title}: colour map of log10 χ₁ for {act} over σ_w from {w_lo:g} to {w_hi:g} (horizontal) "
                      f"and σ_b from {b_lo:g} to {b_hi:g} (vertical), values from {np.log10(chi).min():.2f} to "
                      f"{np.log10(chi).max():.2f}; a dashed critical line where χ₁ = 1 runs from σ_w = "
                      f"{line_w[0]:.2f} at σ_b = {b_lo:g} to σ_w = {line_w[-1]:.2f} at σ_b = {b_hi:g}, separating "
                      f"the ordered phase (left) from the chaotic phase (right){marked}.")
    return fig


__all__ += ["phase_diagram"]
