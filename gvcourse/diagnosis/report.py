"""What :func:`gvcourse.diagnose` returns: per-layer evidence, a verdict, and its text, HTML and figure."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["VERDICTS", "VANISHING_RATIO", "EXPLODING_RATIO", "LayerReport", "TimeReport", "Suggestion",
           "DiagnosisReport", "fmt_num", "fmt_pct"]

VERDICTS = ("healthy", "vanishing", "exploding")

#: A layer whose back-propagated gradient is below this fraction of the last layer's is starved of gradient.
#: Chosen from the playbook's sweep of random networks trained with SGD (book/playbook.ipynb): every network
#: below it stayed at chance, most networks between the two thresholds learned.
VANISHING_RATIO = 1e-2
#: A layer whose back-propagated gradient exceeds this multiple of the last layer's is flooded with gradient.
EXPLODING_RATIO = 1e2

#: Chapters the suggestions point to.


@dataclass(frozen=True)
class LayerReport:
    """What one pass measured at one layer (a module with a weight matrix or filter bank)."""

    name: str
    kind: str  # the module's class name
    grad_norm: float  # ‖∂L/∂W‖ over the layer's weight matrices
    backprop_norm: float  # ‖∂L/∂s‖, s the layer's output (all calls, whole batch)
    backprop_ratio: float  # backprop_norm / the last layer's backprop_norm
    grad_data: float  # ‖∂L/∂W‖ / ‖W‖
    output_rms: float  # RMS of the layer's output s
    activation: str | None = None  # the activation module that ran next, if any
    act_std: float = math.nan
    saturated: float = math.nan  # fraction of entries where the activation's derivative < 5 % of its maximum
    dead: float = math.nan  # fraction of units stuck (saturated, or 0 for ReLU) on every example
    #: "" when the layer counts for the verdict; "frozen" (its weights need no gradient and none reaches its
    #: output), "unused" (its output does not reach the loss) or "side branch" (works on globally pooled
    #: features while later layers still work on feature maps: a squeeze-and-excitation gate, an auxiliary head)
    status: str = ""
    positions: int = 1  # spatial positions (or tokens) per example sharing the layer's weights


@dataclass(frozen=True)
class TimeReport:
    """The gradient through time of one recurrent module: ‖∂L/∂h_t‖ for t = 1 … T."""

    name: str
    norms: tuple[float, ...]

    @property
    def ratio(self) -> float:
        """‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ (NaN when the last step received no gradient)."""
        last = self.norms[-1]
        return self.norms[0] / last if last > 0 else math.nan


@dataclass(frozen=True)
class Suggestion:
    """A fix, why it applies here, and the chapter that explains it."""

    fix: str
    why: str
    chapter: str

    def __str__(self) -> str:
        return f"{self.fix} — {self.why} (see {self.chapter})"


@dataclass
class DiagnosisReport:
    """The result of :func:`diagnose`: per-layer evidence, a verdict, the layers that triggered it, suggestions.

    ``print(report)`` shows a table; in a notebook it renders as HTML; ``report.plot()`` draws it.
    """

    loss: float
    layers: list[LayerReport]
    through_time: list[TimeReport]
    verdict: str
    triggered: list[str]
    reasons: list[str]
    suggestions: list[Suggestion]
    notes: list[str] = field(default_factory=list)
    mode: str = "train"
    vanishing_ratio: float = VANISHING_RATIO
    exploding_ratio: float = EXPLODING_RATIO

    # -- summaries ------------------------------------------------------------------------------------------------
    @property
    def backprop_ratio(self) -> float:
        """Smallest (vanishing) or largest (exploding) back-propagated gradient ratio over the layers.

        For a ``healthy`` verdict the ratio of the first layer; NaN if there is no layer.
        """
        ratios = [lay.backprop_ratio for lay in self.layers if not math.isnan(lay.backprop_ratio)]
        if not ratios:
            return math.nan
        if self.verdict == "vanishing":
            return min(ratios)
        if self.verdict == "exploding":
            return max(ratios)
        return ratios[0]

    def layer(self, name: str) -> LayerReport:
        """The :class:`LayerReport` of the layer called ``name``."""
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(f"no layer named {name!r}; layers are: {', '.join(lay.name for lay in self.layers)}")

    # -- text -------------------------------------------------------------------------------------------------
    _COLUMNS = ("layer", "kind", "‖∂L/∂W‖", "‖∂L/∂s‖", "ratio", "grad:data", "out rms", "act std", "saturated",
                "dead")

    def _rows(self) -> list[list[str]]:
        rows = []
        for lay in self.layers:
            flag = " ◀" if lay.name in self.triggered else ""
            status = f" ({lay.status})" if lay.status else ""
            numbers = (lay.grad_norm, lay.backprop_norm, lay.backprop_ratio, lay.grad_data, lay.output_rms, lay.act_std)
            rows.append([lay.name + status + flag, lay.kind, *map(fmt_num, numbers),
                         fmt_pct(lay.saturated), fmt_pct(lay.dead)])
        return rows

    def _ratio_text(self) -> str:
        if all(lay.positions == 1 for lay in self.layers):
            return "ratio = ‖∂L/∂s‖ of the layer / ‖∂L/∂s‖ of the last layer"
        return ("ratio = ‖∂L/∂s‖·√positions of the layer / the same at the last layer (positions: a feature map's "
                "pixels or a sequence's tokens per example)")

    def _header(self) -> str:
        trig = f" — triggered by {', '.join(self.triggered)}" if self.triggered else ""
        return f"Gradient-flow diagnosis: {self.verdict.upper()}{trig} (loss {fmt_num(self.loss)}, {self.mode} mode)"

    def __str__(self) -> str:
        rows = [list(self._COLUMNS)] + self._rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._COLUMNS))]
        fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
        lines = [self._header(), fmt(rows[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows[1:]]
        lines.append(f"{self._ratio_text()}; vanishing below {self.vanishing_ratio:g}, exploding above "
                     f"{self.exploding_ratio:g}")
        for tr in self.through_time:
            lines.append(f"gradient through time in {tr.name}: ‖∂L/∂h_t‖ from {fmt_num(tr.norms[0])} (t = 1) to "
                         f"{fmt_num(tr.norms[-1])} (t = {len(tr.norms)}), ratio first/last {fmt_num(tr.ratio)}")
        if self.reasons:
            lines.append("Evidence:")
            lines += [f"  - {r}" for r in self.reasons]
        if self.suggestions:
            lines.append("Suggestions:")
            lines += [f"  - {s}" for s in self.suggestions]
        if self.notes:
            lines.append("Notes:")
            lines += [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """A deterministic HTML table (no ids, no scripts), for notebooks and the website."""
        esc = html.escape
        colour = {"healthy": "#009E73", "vanishing": "#0072B2", "exploding": "#D55E00"}[self.verdict]
        parts = [f'<div class="gv-diagnosis"><p><strong style="color:{colour}">{esc(self._header())}</strong></p>',
                 '<table class="gv-diagnosis-table"><thead><tr>']
        parts += [f'<th scope="col">{esc(c)}</th>' for c in self._COLUMNS]
        parts.append("</tr></thead><tbody>")
        for row, lay in zip(self._rows(), self.layers):
            style = ' style="font-weight:bold"' if lay.name in self.triggered else ""
            cells = "".join(f"<td>{esc(c)}</td>" for c in row)
            parts.append(f"<tr{style}>{cells}</tr>")
        parts.append("</tbody></table>")
        parts.append(f"<p><small>{esc(self._ratio_text())}; vanishing below "
                     f"{self.vanishing_ratio:g}, exploding above {self.exploding_ratio:g}.</small></p>")
        for tr in self.through_time:
            parts.append(f"<p>Gradient through time in <code>{esc(tr.name)}</code>: ‖∂L/∂h_t‖ from "
                         f"{fmt_num(tr.norms[0])} (t = 1) to {fmt_num(tr.norms[-1])} (t = {len(tr.norms)}), "
                         f"ratio first/last {fmt_num(tr.ratio)}.</p>")
        for title, items in (("Evidence", self.reasons), ("Suggestions", [str(s) for s in self.suggestions]),
                             ("Notes", self.notes)):
            if items:
                parts.append(f"<p><strong>{title}</strong></p><ul>")
                parts += [f"<li>{esc(i)}</li>" for i in items]
                parts.append("</ul>")
        parts.append("</div>")
        return "".join(parts)

    # -- figure ------------------------------------------------------------------------------------------------
    def plot(self, ax=None):
        """Back-propagated and weight-gradient norms per layer (relative to the last layer, log scale).

        With the thresholds drawn as horizontal lines and the triggering layers marked. If the model has a
        recurrent module and ``ax`` is None, a second panel shows ‖∂L/∂h_t‖ over time steps. ``ax`` may be
        one Axes (layers only) or a pair (layers, time). Returns the Figure, with alt text.
        """
        import matplotlib.pyplot as plt
        import numpy as np

        from .. import plots

        if ax is None:
            ncols = 2 if self.through_time else 1
            fig, axes = plt.subplots(1, ncols, figsize=(6.4 * ncols * 0.85 if ncols == 2 else 6.4, 3.6),
                                     squeeze=False)
            axes = list(axes[0])
        elif isinstance(ax, Sequence) and not isinstance(ax, str):
            axes = list(ax)
            if not axes:
                raise ValueError("ax must be a matplotlib Axes or a non-empty sequence of Axes")
            fig = axes[0].figure
        else:
            axes = [ax]
            fig = ax.figure
        lax = axes[0]
        x = np.arange(1, len(self.layers) + 1)
        last_w = self.layers[-1].grad_norm if self.layers else math.nan
        back = np.array([lay.backprop_ratio for lay in self.layers], dtype=float)
        wrel = np.array([lay.grad_norm / last_w if last_w > 0 else math.nan for lay in self.layers], dtype=float)
        styles = plots.style_cycle()
        c1, m1, d1 = next(styles)
        c2, m2, d2 = next(styles)
        lax.semilogy(x, np.where(back > 0, back, np.nan), color=c1, marker=m1, linestyle=d1, markersize=4,
                     label="back-propagated ‖∂L/∂s‖")
        lax.semilogy(x, np.where(wrel > 0, wrel, np.nan), color=c2, marker=m2, linestyle=d2, markersize=4,
                     label="weight gradient ‖∂L/∂W‖")
        lax.axhline(self.vanishing_ratio, color="0.35", linestyle=":", linewidth=1)
        lax.axhline(self.exploding_ratio, color="0.35", linestyle=":", linewidth=1)
        lax.axhspan(self.vanishing_ratio, self.exploding_ratio, color=plots.PALETTE[2], alpha=0.08, linewidth=0)
        trig = [i for i, lay in enumerate(self.layers) if lay.name in self.triggered]
        if trig:
            lax.semilogy(x[trig], np.where(back[trig] > 0, back[trig], np.nan), linestyle="none", marker="o",
                         markersize=9, markerfacecolor="none", markeredgecolor=plots.PALETTE[3],
                         label="triggered the verdict")
        from matplotlib.ticker import MaxNLocator

        lax.xaxis.set_major_locator(MaxNLocator(integer=True))
        lax.set_xlabel("layer in forward order (1 = nearest the input)")
        lax.set_ylabel("norm / norm at the last layer (log)")
        lax.set_title(f"diagnose: {self.verdict}")
        lax.legend(fontsize=7, loc="best")
        alt = (f"Diagnosis plot, verdict {self.verdict}: log-scale back-propagated and weight-gradient norms for "
               f"{len(self.layers)} layers relative to the last layer; the first layer's back-propagated ratio is "
               f"{fmt_num(back[0]) if len(back) else 'n/a'}; dotted lines mark the thresholds {self.vanishing_ratio:g} "
               f"and {self.exploding_ratio:g}")
        if self.through_time and len(axes) > 1:
            tax = axes[1]
            for tr, (colour, marker, dash) in zip(self.through_time, plots.style_cycle()):
                t = np.arange(1, len(tr.norms) + 1)
                y = np.asarray(tr.norms, dtype=float) / (tr.norms[-1] if tr.norms[-1] > 0 else math.nan)
                tax.semilogy(t, np.where(y > 0, y, np.nan), color=colour, marker=marker, linestyle=dash,
                             markevery=max(1, len(t) // 10), markersize=4, label=tr.name)
            tax.axhline(self.vanishing_ratio, color="0.35", linestyle=":", linewidth=1)
            tax.axhline(self.exploding_ratio, color="0.35", linestyle=":", linewidth=1)
            tax.axhspan(self.vanishing_ratio, self.exploding_ratio, color=plots.PALETTE[2], alpha=0.08, linewidth=0)
            tax.xaxis.set_major_locator(MaxNLocator(integer=True))
            tax.set_xlabel("time step t")
            tax.set_ylabel("‖∂L/∂h_t‖ / ‖∂L/∂h_T‖ (log)")
            tax.set_title("gradient through time")
            tax.legend(fontsize=7)
            alt += "; a second panel shows the gradient through time, ratio first/last step " + ", ".join(
                f"{fmt_num(tr.ratio)} in {tr.name}" for tr in self.through_time)
        fig.tight_layout()
        return plots.set_alt_text(fig, alt + ".")


def fmt_num(v: float) -> str:
    """A number as the report prints it: 1.2e-03, 0, inf, or — for NaN."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if v == 0:
        return "0"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.1e}"


def fmt_pct(v: float) -> str:
    """A fraction as a whole percentage, or — for NaN."""
    return "—" if v is None or math.isnan(v) else f"{100 * v:.0f}%"
