"""``diagnose``: one forward/backward pass through **any** ``torch.nn.Module``, and a verdict on its gradient flow.

>>> report = diagnose(model, x, y, torch.nn.functional.cross_entropy)     # doctest: +SKIP
>>> report.verdict                                                          # 'healthy' | 'vanishing' | 'exploding'
>>> print(report)                                                           # the per-layer table and suggestions

The evidence (all from one pass, in the order the forward pass ran the layers):

- the **back-propagated gradient** ‖∂L/∂s_l‖ arriving at each layer's output s_l (Glorot & Bengio 2010, §4.2.1),
  relative to the gradient at the last layer: the chain-rule product of the layers in between
  (Pascanu, Mikolov & Bengio 2013, eq. 6). Weight gradients ∂L/∂W_l = (∂L/∂s_l) x_lᵀ also carry the layer input
  x_l, so they can look flat while this product collapses; the verdict reads the product, not the weight gradients.
  To compare layers of different shapes the norm is multiplied by √P, P the positions per example sharing the
  layer's weights (a feature map's pixels, a sequence's tokens): a global-average-pool read-out gives each of P
  positions 1/P of the pooled gradient, so the plain norm shrinks as 1/√P though nothing vanished, while
  ‖∂L/∂s‖·√P is unchanged by it. Per-entry RMS would shrink as 1/P, and with fan-in initialization the plain
  norm (not the RMS) is what a dense layer preserves (‖Wᵀδ‖ ≈ ‖δ‖), so dense layers (P = 1) keep the plain norm.
  Layers that get no gradient by design (frozen, or output not reaching the loss) and side branches on globally
  pooled features (squeeze-and-excitation gates, auxiliary heads) are marked and do not decide;
- the **forward signal**: the root-mean-square of every layer's output relative to the first layer's (a collapse
  or a blow-up of the forward pass), and each activation's std, saturated and dead fractions
  (:class:`gvcourse.monitor.GradientFlow`);
- for recurrent modules (``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their ``*Cell`` versions) the **gradient through
  time** ‖∂L/∂h_t‖ for every time step t (Bengio, Simard & Frasconi 1994; Hochreiter & Schmidhuber 1997) and the
  ratio of the first step's to the last step's; for an LSTM the state is the pair (h_t, c_t). A fused
  ``nn.RNN``/``nn.LSTM``/``nn.GRU`` is unrolled one step at a time during the pass (same weights, same outputs)
  so that every h_t is a tensor a hook can see.

The verdict is ``"vanishing"`` when some layer receives less than :data:`VANISHING_RATIO` of the gradient that
reaches the last layer (or the forward signal, or the gradient through time, shrinks by that much), ``"exploding"``
when the ratio exceeds :data:`EXPLODING_RATIO` (or the loss or a gradient is not finite), ``"healthy"`` otherwise.
The thresholds come from measurement, not taste: the playbook chapter (``book/playbook.ipynb``) trains random
networks across initialization scales and shows where training starts to fail.

Nothing about the model changes: weights, buffers (BatchNorm running statistics), ``.grad`` fields, every
module's train/eval flag and the global random-number state are as before the call.
"""

from __future__ import annotations

import html
import math
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ._checks import one_of
from .monitor import _ACTIVATIONS, GradientFlow, _dense, _first_tensor, _sq_norm

__all__ = ["diagnose", "DiagnosisReport", "LayerReport", "TimeReport", "Suggestion", "VERDICTS",
           "VANISHING_RATIO", "EXPLODING_RATIO", "CHAPTERS", "MODES"]

VERDICTS = ("healthy", "vanishing", "exploding")
MODES = ("train", "eval", "as_is")

#: A layer whose back-propagated gradient is below this fraction of the last layer's is starved of gradient.
#: Chosen from the playbook's sweep of random networks trained with SGD (book/playbook.ipynb): every network
#: below it stayed at chance, most networks between the two thresholds learned.
VANISHING_RATIO = 1e-2
#: A layer whose back-propagated gradient exceeds this multiple of the last layer's is flooded with gradient.
EXPLODING_RATIO = 1e2

#: Chapters the suggestions point to.
CHAPTERS = {
    "saturation": "saturation.ipynb",
    "initialization": "initialization.ipynb",
    "normalization": "normalization.ipynb",
    "residual": "residual.ipynb",
    "rnn": "rnn.ipynb",
    "gan": "gan.ipynb",
    "playbook": "playbook.ipynb",
}

_RNN_MODULES = (nn.RNN, nn.LSTM, nn.GRU)
_RNN_CELLS = (nn.RNNCell, nn.LSTMCell, nn.GRUCell)
_NORM_MODULES = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
_RELU_FAMILY = (nn.ReLU, nn.ReLU6)


# -- the report ---------------------------------------------------------------------------------------------------
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
            rows.append([lay.name + status + flag, lay.kind, _num(lay.grad_norm), _num(lay.backprop_norm),
                         _num(lay.backprop_ratio), _num(lay.grad_data), _num(lay.output_rms), _num(lay.act_std),
                         _pct(lay.saturated), _pct(lay.dead)])
        return rows

    def _ratio_text(self) -> str:
        if all(lay.positions == 1 for lay in self.layers):
            return "ratio = ‖∂L/∂s‖ of the layer / ‖∂L/∂s‖ of the last layer"
        return ("ratio = ‖∂L/∂s‖·√positions of the layer / the same at the last layer (positions: a feature map's "
                "pixels or a sequence's tokens per example)")

    def _header(self) -> str:
        trig = f" — triggered by {', '.join(self.triggered)}" if self.triggered else ""
        return f"Gradient-flow diagnosis: {self.verdict.upper()}{trig} (loss {_num(self.loss)}, {self.mode} mode)"

    def __str__(self) -> str:
        rows = [list(self._COLUMNS)] + self._rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._COLUMNS))]
        fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
        lines = [self._header(), fmt(rows[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows[1:]]
        lines.append(f"{self._ratio_text()}; vanishing below {self.vanishing_ratio:g}, exploding above "
                     f"{self.exploding_ratio:g}")
        for tr in self.through_time:
            lines.append(f"gradient through time in {tr.name}: ‖∂L/∂h_t‖ from {_num(tr.norms[0])} (t = 1) to "
                         f"{_num(tr.norms[-1])} (t = {len(tr.norms)}), ratio first/last {_num(tr.ratio)}")
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
                         f"{_num(tr.norms[0])} (t = 1) to {_num(tr.norms[-1])} (t = {len(tr.norms)}), "
                         f"ratio first/last {_num(tr.ratio)}.</p>")
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

        from . import plots

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
               f"{_num(back[0]) if len(back) else 'n/a'}; dotted lines mark the thresholds {self.vanishing_ratio:g} "
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
                f"{_num(tr.ratio)} in {tr.name}" for tr in self.through_time)
        fig.tight_layout()
        return plots.set_alt_text(fig, alt + ".")


def _num(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if v == 0:
        return "0"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.1e}"


def _pct(v: float) -> str:
    return "—" if v is None or math.isnan(v) else f"{100 * v:.0f}%"


# -- argument checks ----------------------------------------------------------------------------------------------
def _check_tensors(name: str, value) -> tuple[torch.Tensor, ...]:
    items = value if isinstance(value, (tuple, list)) else (value,)
    if not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise TypeError(f"{name} must be a torch.Tensor (or a tuple of tensors), got {type(value).__name__}")
    for t in items:
        if t.numel() == 0:
            raise ValueError(f"{name} is empty (shape {tuple(t.shape)}): diagnose needs at least one example")
        if t.is_floating_point() or t.is_complex():
            bad = int((~torch.isfinite(t)).sum())
            if bad:
                raise ValueError(f"{name} contains {bad} NaN or infinite value(s) out of {t.numel()}: "
                                 "fix the data before diagnosing the gradients")
    return tuple(items)


# -- recurrent modules: the gradient through time ----------------------------------------------------------------
class _TimeRecorder:
    """Collects ‖∂L/∂h_t‖ per step for every recurrent module (fused ones are unrolled during the pass)."""

    def __init__(self, model: nn.Module):
        self.modules = OrderedDict((n, m) for n, m in model.named_modules() if isinstance(m, _RNN_MODULES + _RNN_CELLS))
        self.sq: dict[str, dict[int, float]] = {n: {} for n in self.modules}
        self.steps: dict[str, int] = {n: 0 for n in self.modules}
        self.skipped: list[str] = []
        self._handles: list = []
        self._patched: list[nn.Module] = []

    def _watch(self, name: str, t: int, h: torch.Tensor) -> None:
        if not h.requires_grad:
            return

        def hook(grad: torch.Tensor) -> None:
            self.sq[name][t] = self.sq[name].get(t, 0.0) + _sq_norm(grad)
        h.register_hook(hook)

    def attach(self) -> None:
        for name, module in self.modules.items():
            if isinstance(module, _RNN_CELLS):
                self._handles.append(module.register_forward_hook(self._cell_hook(name)))
            elif module.bidirectional:
                self.skipped.append(name)
            else:
                module.forward = self._unrolled(name, module)  # instance attribute: removed in detach()
                self._patched.append(module)

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for module in self._patched:
            del module.forward
        self._patched.clear()

    def _cell_hook(self, name: str):
        def hook(module, args, output) -> None:
            for h in output if isinstance(output, tuple) else (output,):  # LSTMCell: the state is (h, c)
                self._watch(name, self.steps[name], h)
            self.steps[name] += 1
        return hook

    def _unrolled(self, name: str, module: nn.Module):
        base = type(module).forward

        def forward(input, hx=None):
            if not isinstance(input, torch.Tensor) or input.dim() not in (2, 3):
                return base(module, input, hx)  # PackedSequence etc.: no time profile
            batched = input.dim() == 3
            time_dim = 1 if (batched and module.batch_first) else 0
            state = hx
            outs = []
            for t in range(input.shape[time_dim]):
                x_t = input.narrow(time_dim, t, 1)
                _, state = base(module, x_t, state)
                for part in state if isinstance(state, tuple) else (state,):  # LSTM: the state is (h, c)
                    self._watch(name, t, part)
                h = state[0] if isinstance(state, tuple) else state  # (layers, B, H) or (layers, H)
                top = h[-1:]  # the last layer's state is the step's output
                outs.append(top.transpose(0, 1) if time_dim == 1 else top)
            self.steps[name] = input.shape[time_dim]
            return torch.cat(outs, dim=time_dim), state
        return forward

    def reports(self) -> list[TimeReport]:
        out = []
        for name in self.modules:
            n = self.steps[name]
            if n >= 2:
                out.append(TimeReport(name, tuple(math.sqrt(self.sq[name].get(t, 0.0)) for t in range(n))))
        return out


# -- the diagnosis ------------------------------------------------------------------------------------------------
def diagnose(model: nn.Module, inputs, targets: torch.Tensor, loss_fn: Callable, *, mode: str = "train",
             vanishing_ratio: float = VANISHING_RATIO, exploding_ratio: float = EXPLODING_RATIO) -> DiagnosisReport:
    """Run one forward/backward pass of ``loss_fn(model(inputs), targets)`` and diagnose the gradient flow.

    Works on any ``nn.Module``: MLPs, CNNs, nested residual blocks, RNN/LSTM/GRU models (``inputs`` may be a
    tuple of tensors, passed as ``model(*inputs)``). ``mode`` is ``"train"`` (default: gradients flow as in
    training, BatchNorm uses batch statistics), ``"eval"`` or ``"as_is"`` (the model's current flags).

    The model is left exactly as it was: weights, buffers, ``.grad`` fields, train/eval flags, the global RNG
    state. Returns a :class:`DiagnosisReport`; see the module docstring for how the verdict is decided
    (Glorot & Bengio 2010 §4.2.1; Pascanu et al. 2013 eq. 6; Bengio et al. 1994).

    Raises ``TypeError`` for arguments of the wrong type, ``ValueError`` for NaN/inf or empty inputs, a model
    that cannot take the inputs, an output whose batch size differs from the targets', a silent broadcast in
    the loss, and a loss that is not a scalar or does not depend on the parameters.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"diagnose expects a torch.nn.Module as model, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(output, targets), got {type(loss_fn).__name__}")
    xs = _check_tensors("inputs", inputs)
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    (y,) = _check_tensors("targets", targets)
    one_of("mode", mode, MODES)
    for nm, v in (("vanishing_ratio", vanishing_ratio), ("exploding_ratio", exploding_ratio)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
            raise ValueError(f"{nm} must be a positive finite number, got {v!r}")
    if not vanishing_ratio < 1 < exploding_ratio:
        raise ValueError(f"need vanishing_ratio < 1 < exploding_ratio, got {vanishing_ratio:g} and {exploding_ratio:g}")
    if not torch.is_grad_enabled() or torch.is_inference_mode_enabled():
        raise ValueError("diagnose needs a backward pass but was called with gradients disabled (inside "
                         "torch.no_grad() or torch.inference_mode()): call it outside that block")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no parameter that requires a gradient")
    flow = GradientFlow(model)  # raises ValueError if the model has no weight matrix

    # snapshot everything the pass could change
    flags = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    old_grads = [(p, p.grad) for p in model.parameters()]
    recorder = _TimeRecorder(model)
    order: list[str] = []
    watched = {**{n: m for n, m in flow.layers.items()},
               **{n: m for n, m in model.named_modules() if isinstance(m, _ACTIVATIONS)}}
    handles = []

    def order_hook(name):
        def hook(module, args, output) -> None:
            order.append(name)
        return hook

    try:
        if mode == "train":
            model.train()
        elif mode == "eval":
            model.eval()
        for name, module in watched.items():
            handles.append(module.register_forward_hook(order_hook(name)))
        x_in = tuple(t.detach().clone().requires_grad_(True) if t.is_floating_point() else t for t in xs)
        with torch.random.fork_rng(devices=[]), flow:
            recorder.attach()
            try:
                try:
                    output = model(*x_in)
                except (RuntimeError, ValueError, IndexError, TypeError) as err:
                    shapes = ", ".join(str(tuple(t.shape)) for t in xs)
                    raise ValueError(f"model(inputs) failed for inputs of shape {shapes}: {err}") from err
                out_t = _first_tensor(output)
                time_major = (out_t is not None and out_t.dim() >= 2 and y.dim() >= 1
                              and out_t.shape[0] != y.shape[0] and out_t.shape[1] == y.shape[0])  # CTC: (T, B, C)
                if out_t is not None and out_t.dim() >= 1 and y.dim() >= 1 and out_t.shape[0] != y.shape[0] \
                        and not time_major:
                    raise ValueError(f"the model's output has {out_t.shape[0]} rows (shape {tuple(out_t.shape)}) but "
                                     f"targets has {y.shape[0]} (shape {tuple(y.shape)}): they must match")
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        loss = loss_fn(output, y)
                    except (RuntimeError, ValueError, IndexError) as err:
                        shape = tuple(out_t.shape) if out_t is not None else type(output).__name__
                        raise ValueError(f"loss_fn(output, targets) failed for output {shape} and targets "
                                         f"{tuple(y.shape)} ({y.dtype}): {err}") from err
                for w in caught:
                    if "size" in str(w.message) and "broadcast" in str(w.message):
                        raise ValueError(f"loss_fn broadcast the output {tuple(out_t.shape)} against targets "
                                         f"{tuple(y.shape)} (a silent shape bug): reshape them to match. "
                                         f"torch said: {w.message}")
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                if not isinstance(loss, torch.Tensor):
                    raise TypeError(f"loss_fn must return a torch.Tensor, got {type(loss).__name__}")
                if loss.numel() != 1:
                    raise ValueError(f"loss_fn must return a scalar, got a tensor of shape {tuple(loss.shape)}: "
                                     "reduce it (e.g. reduction='mean')")
                if not loss.requires_grad:
                    raise ValueError("the loss does not depend on the model's parameters (no gradient to diagnose)")
                loss = loss.reshape(())
                for p in model.parameters():
                    p.grad = None  # the old gradients are restored below
                try:
                    # backward(), not autograd.grad(): reentrant checkpointing (torch.utils.checkpoint with
                    # use_reentrant=True) supports only the former
                    loss.backward()
                except RuntimeError as err:
                    raise ValueError(f"the backward pass of loss_fn(model(inputs), targets) failed: {err}") from err
                grads = [p.grad for p in params] + [t.grad for t in x_in if t.requires_grad]
            finally:
                recorder.detach()
            layer_names = flow.layer_order()
            grad_norms = flow.grad_norms()
            back = flow.backprop_norms()
            rms = flow.output_rms()
            wnorm = flow.weight_norms()
            acts = flow.activation_stats()
            reached = {n for n, c in flow._backprop_count.items() if c > 0}
            positions = dict(flow._positions)
        loss_value = float(loss.detach())
    finally:
        for h in handles:
            h.remove()
        for p, g in old_grads:
            p.grad = g
        with torch.no_grad():
            for b, old in buffers:
                b.copy_(old)
        for m, was in flags:
            m.train(was)

    # which activation ran after which layer
    act_after: dict[str, str] = {}
    current = None
    for name in order:
        if name in flow.layers:
            current = name
        elif current is not None and current not in act_after and name in acts:
            act_after[current] = name
    status = _statuses(flow, layer_names, reached, positions)
    counted = [n for n in layer_names if status[n] == "" and n in back]
    ref = counted[-1] if counted else None
    ref_back = back[ref] * math.sqrt(positions.get(ref, 1)) if ref is not None else 0.0
    layers = []
    for name in layer_names:
        a = act_after.get(name)
        st = acts.get(a) if a else None
        measured = name in back and status[name] == ""
        ratio = (back[name] * math.sqrt(positions.get(name, 1)) / ref_back
                 if measured and ref_back > 0 else math.nan)
        kind = type(flow.layers[name]).__name__ if name in flow.layers else "Parameter"
        layers.append(LayerReport(
            name=name, kind=kind, grad_norm=grad_norms[name], backprop_norm=back.get(name, math.nan),
            backprop_ratio=ratio, grad_data=grad_norms[name] / wnorm[name] if wnorm[name] > 0 else math.nan,
            output_rms=rms.get(name, math.nan), activation=a, act_std=st.std if st else math.nan,
            saturated=st.saturated if st else math.nan, dead=st.dead if st else math.nan,
            status=status[name], positions=positions.get(name, 1)))
    through_time = recorder.reports()
    all_grads_finite = all(g is None or bool(torch.isfinite(_dense(g)).all()) for g in grads)
    return _decide(model, xs, loss_value, all_grads_finite, layers, through_time, recorder.skipped, mode,
                   float(vanishing_ratio), float(exploding_ratio))


def _statuses(flow: GradientFlow, names: list[str], reached: set[str], positions: dict[str, int]) -> dict[str, str]:
    """Which layers decide the verdict: "" for those that do, else why not (see :class:`LayerReport`)."""
    status = {}
    for name in names:
        if name not in flow._output_count or name in reached:
            status[name] = ""
            continue
        tensors = [p for c, k in flow._slots[name] if (p := c._parameters.get(k)) is not None]
        status[name] = "frozen" if not any(p.requires_grad for p in tensors) else "unused"
    spatial = [n for n in names if status[n] == "" and positions.get(n, 1) > 1]
    if spatial:
        last_spatial = names.index(spatial[-1])
        for name in names[:last_spatial]:
            if status[name] == "" and name in positions and positions[name] == 1:
                status[name] = "side branch"
    return status


def _decide(model, xs, loss_value, grads_finite, layers, through_time, skipped, mode, v_ratio, e_ratio):
    all_layers = layers
    reasons: list[str] = []
    vanishing: list[str] = []
    exploding: list[str] = []
    notes: list[str] = []
    if not math.isfinite(loss_value) or not grads_finite:
        what = "the loss" if not math.isfinite(loss_value) else "a gradient"
        reasons.append(f"{what} is not finite (NaN or inf): the forward or backward pass overflowed")
        exploding.append("loss" if not math.isfinite(loss_value) else "gradients")
    excluded = [lay for lay in layers if lay.status]
    layers = [lay for lay in layers if not lay.status]  # frozen, unused, side branches do not decide
    # back-propagated gradients, relative to the last layer that has an output the gradient reaches
    measured = [lay for lay in layers if not math.isnan(lay.backprop_norm)]
    last = measured[-1] if measured else None
    if last is not None and last.backprop_norm == 0 and math.isfinite(loss_value):
        reasons.append(f"no gradient reaches the last layer ({last.name}): ∂L/∂output is 0 — the loss is flat "
                       "in the output (saturated output unit, or a loss/target bug)")
        vanishing.append(last.name)
    for lay in measured[:-1]:
        r = lay.backprop_ratio
        if math.isnan(r):
            continue
        if r < v_ratio:
            vanishing.append(lay.name)
        elif r > e_ratio:
            exploding.append(lay.name)
    if vanishing and last is not None and last.backprop_norm > 0:
        worst = min(measured[:-1], key=lambda lay: lay.backprop_ratio)
        reasons.append(f"back-propagated gradient: {worst.name} receives {_num(worst.backprop_ratio)} of the "
                       f"gradient at {last.name} (threshold {v_ratio:g}); {len(vanishing)} layer(s) below it")
    if exploding and any(n in {lay.name for lay in layers} for n in exploding):
        worst = max(measured[:-1], key=lambda lay: lay.backprop_ratio)
        reasons.append(f"back-propagated gradient: {worst.name} receives {_num(worst.backprop_ratio)} times the "
                       f"gradient at {last.name} (threshold {e_ratio:g})")
    # the forward signal, relative to the first layer's output
    if measured and measured[0].output_rms > 0 and math.isfinite(measured[0].output_rms):
        first = measured[0].output_rms
        fw = [(lay.name, lay.output_rms / first) for lay in measured[1:] if math.isfinite(lay.output_rms)]
        small = [n for n, f in fw if f < v_ratio]
        large = [n for n, f in fw if f > e_ratio]
        if small:
            reasons.append(f"forward signal collapses: the output RMS of {small[0]} is "
                           f"{_num(dict(fw)[small[0]])} of {measured[0].name}'s")
            vanishing += [n for n in small if n not in vanishing]
        if large:
            reasons.append(f"forward signal blows up: the output RMS of {large[-1]} is "
                           f"{_num(dict(fw)[large[-1]])} times {measured[0].name}'s")
            exploding += [n for n in large if n not in exploding]
    # the gradient through time
    for tr in through_time:
        r = tr.ratio
        if math.isnan(r):
            continue
        if r < v_ratio:
            vanishing.append(f"{tr.name} (through time)")
            reasons.append(f"gradient through time in {tr.name}: ‖∂L/∂h_1‖ is {_num(r)} of ‖∂L/∂h_T‖ over "
                           f"T = {len(tr.norms)} steps (threshold {v_ratio:g})")
        elif r > e_ratio:
            exploding.append(f"{tr.name} (through time)")
            reasons.append(f"gradient through time in {tr.name}: ‖∂L/∂h_1‖ is {_num(r)} times ‖∂L/∂h_T‖ over "
                           f"T = {len(tr.norms)} steps (threshold {e_ratio:g})")
    for name in skipped:
        notes.append(f"{name} is bidirectional: no gradient-through-time profile (unrolling would change it)")

    if exploding:
        verdict, triggered = "exploding", exploding
    elif vanishing:
        verdict, triggered = "vanishing", vanishing
    else:
        verdict, triggered = "healthy", []
        reasons.append(f"every layer receives between {v_ratio:g} and {e_ratio:g} times the last layer's "
                       "back-propagated gradient, and the forward signal neither collapses nor blows up")
    for kind, why in (("frozen", "frozen: their weights do not require a gradient and none reaches their output"),
                      ("unused", "unused: their output does not reach the loss"),
                      ("side branch", "side branches working on globally pooled features (squeeze-and-excitation "
                                      "gates, auxiliary heads), not on the path from input to output")):
        names = [lay.name for lay in excluded if lay.status == kind]
        if names:
            notes.append(f"{len(names)} layer(s) do not decide the verdict, {why}: {', '.join(names)}")
    notes += _notes(xs, layers, model)
    suggestions = _suggest(model, verdict, layers, through_time, triggered)
    layers = all_layers
    return DiagnosisReport(loss=loss_value, layers=layers, through_time=through_time, verdict=verdict,
                           triggered=triggered, reasons=reasons, suggestions=suggestions, notes=notes, mode=mode,
                           vanishing_ratio=v_ratio, exploding_ratio=e_ratio)


def _notes(xs, layers, model=None) -> list[str]:
    """Observations that are not about gradient flow but often are the real problem."""
    notes = []
    if model is not None:
        zero = [n for n, m in model.named_modules() if (w := getattr(m, "weight", None)) is not None
                and isinstance(w, torch.Tensor) and w.dim() >= 2 and not bool(w.detach().any())]
        if zero:
            notes.append(f"{len(zero)} weight matrix/matrices are all zeros (first: {zero[0]}); zero initialization "
                         "(e.g. Fixup, SkipInit) passes no gradient to the layers before it until it has taken a "
                         "step: diagnose again after a few training steps")
    for x in xs:
        if x.is_floating_point() and x.numel() > 1:
            mean, std = float(x.double().mean()), float(x.double().std())
            if std > 10 or abs(mean) > 10 or 0 < std < 0.01:
                notes.append(f"inputs are not standardized (mean {mean:.3g}, std {std:.3g}): standardize them to "
                             f"mean 0, std 1 (see {CHAPTERS['playbook']})")
    saturated = [lay for lay in layers if not math.isnan(lay.saturated) and lay.saturated > 0.5]
    if saturated:
        notes.append(f"{len(saturated)} layer(s) have more than half of their units saturated "
                     f"(first: {saturated[0].name}, {_pct(saturated[0].saturated)})")
    dead = [lay for lay in layers if not math.isnan(lay.dead) and lay.dead > 0.5]
    if dead:
        notes.append(f"{len(dead)} layer(s) have more than half of their units dead on the whole batch "
                     f"(first: {dead[0].name}, {_pct(dead[0].dead)})")
    gd = [lay.grad_data for lay in layers if math.isfinite(lay.grad_data) and lay.grad_data > 0]
    if len(gd) >= 2 and max(gd) / min(gd) > 1e3:
        notes.append(f"grad:data ratios span {max(gd) / min(gd):.0e}x across layers: one learning rate cannot suit "
                     "every layer (an adaptive optimizer such as Adam rescales per parameter; see "
                     f"{CHAPTERS['playbook']})")
    return notes


def _suggest(model, verdict, layers, through_time, triggered) -> list[Suggestion]:
    mods = list(model.modules())
    has = lambda kinds: any(isinstance(m, kinds) for m in mods)  # noqa: E731
    sigmoid, tanh = has(nn.Sigmoid), has(nn.Tanh)
    relu = has(_RELU_FAMILY)
    norm = has(_NORM_MODULES)
    batchnorm = has(nn.modules.batchnorm._BatchNorm)
    recurrent = has(_RNN_MODULES + _RNN_CELLS)
    gated = has((nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell))
    depth = len(layers)
    saturated = [lay for lay in layers if not math.isnan(lay.saturated) and lay.saturated > 0.5]
    dead = [lay for lay in layers if not math.isnan(lay.dead) and lay.dead > 0.5]
    time_trig = any("(through time)" in t for t in triggered)
    out: list[Suggestion] = []
    add = lambda fix, why, ch: out.append(Suggestion(fix, why, CHAPTERS[ch]))  # noqa: E731
    if verdict == "vanishing":
        if time_trig:
            if not gated:
                add("use a gated recurrent cell (LSTM or GRU)",
                    "its additive cell-state path carries the gradient across many steps", "rnn")
            else:
                add("open the forget gate at initialization: forget-gate bias 1 or more, or chrono initialization",
                    "PyTorch's init puts the forget gate near σ(0) = 0.5, which halves the cell-state gradient at "
                    "every step (Gers et al. 2000; Jozefowicz et al. 2015; Tallec & Ollivier 2018)", "rnn")
        if sigmoid or tanh:
            add("replace sigmoid/tanh hidden activations with ReLU (or Leaky ReLU, ELU)",
                "σ' ≤ 1/4 and saturated units multiply the gradient by ≈ 0 at every layer", "saturation")
        layer_trig = [t for t in triggered if "(through time)" not in t]
        if layer_trig:
            add("initialize with Xavier/Glorot (tanh, sigmoid) or He (ReLU)",
                "it keeps the variance of activations and back-propagated gradients constant across layers",
                "initialization")
            if not norm:
                add("add BatchNorm or LayerNorm",
                    "normalization keeps every layer's pre-activations in the non-saturated range", "normalization")
            if depth >= 8:
                add("add residual (skip) connections",
                    "the identity path adds I to each block's Jacobian, so the gradient bypasses the block",
                    "residual")
        if dead:
            add("fix dead ReLUs: He initialization, a smaller learning rate, or Leaky ReLU",
                f"{len(dead)} layer(s) have most units dead on the whole batch", "saturation")
        if layers and layers[-1].backprop_norm == 0:
            add("compute the loss on logits (e.g. BCEWithLogitsLoss, the non-saturating GAN loss)",
                "a saturated output unit passes no gradient to anything below it", "gan")
    elif verdict == "exploding":
        bn_growth = batchnorm and not time_trig
        if bn_growth:  # the cause is the normalization itself, not the weights: the structural fix comes first
            add("add residual (skip) connections, or use fewer layers",
                "BatchNorm itself makes a plain network's back-propagated gradient grow towards the input — for "
                "ReLU by about √(π/(π − 1)) ≈ 1.21 per layer at initialization, whatever the weight scale (Yang "
                "et al. 2019) — so a smaller initialization cannot remove it", "residual")
        add("clip the gradient norm (torch.nn.utils.clip_grad_norm_)",
            "it bounds each step without changing the gradient's direction", "rnn")
        if time_trig:
            add("shrink the recurrent weights (orthogonal init with gain ≤ 1) or use an LSTM/GRU",
                "the gradient through time grows like the recurrent Jacobian's norm to the power T", "rnn")
        if (tanh or sigmoid) and saturated and not bn_growth:
            add("reduce the weight scale σ_w towards the edge of chaos (Xavier init for tanh)",
                "large weights put tanh/sigmoid networks in the chaotic phase: saturated and exploding",
                "initialization")
        elif not bn_growth:
            add("reduce the initial weight scale (He for ReLU, Xavier for tanh)",
                "each layer multiplies the signal by more than 1", "initialization")
        if not norm:
            add("add BatchNorm or LayerNorm", "it rescales every layer's pre-activations", "normalization")
        add("lower the learning rate or use Adam with warm-up",
            "large gradients with a fixed step size overshoot", "playbook")
    else:
        if recurrent and through_time and not gated:
            add("nothing urgent for the gradients; for long sequences prefer an LSTM/GRU",
                "a vanilla RNN's gradient through time shrinks geometrically with the number of steps", "rnn")
        if saturated or dead:
            add("watch the saturated/dead units listed in the notes",
                "they can start a vanishing gradient once training moves the weights", "saturation")
        add("if training still fails, look elsewhere: learning rate, input scaling, labels, or depth degradation",
            "the gradients flow; the problem is not vanishing or exploding gradients", "playbook")
        if relu and depth >= 16:
            add("for very deep plain nets consider residual connections",
                "deep plain nets can degrade even when gradients flow, with BatchNorm too (He et al. 2016)",
                "residual")
    return out

