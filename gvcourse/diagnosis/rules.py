"""The rules of :func:`gvcourse.diagnose`: which layers decide, the verdict, notes, and the fixes to suggest.

The thresholds (:data:`~gvcourse.diagnosis.report.VANISHING_RATIO`, ``EXPLODING_RATIO``) come from the playbook
chapter's sweep of random networks; each suggestion names the chapter that explains it (:data:`CHAPTERS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..monitor import RELU_LIKE_MODULES, SATURATING_MODULES, GradientFlow
from .recurrent import RNN_CELLS, RNN_MODULES
from .report import (
    EXPLODING_RATIO,
    VANISHING_RATIO,
    DiagnosisReport,
    LayerReport,
    Suggestion,
    TimeReport,
    fmt_num,
    fmt_pct,
)

__all__ = ["CHAPTERS", "NORM_MODULES", "PassEvidence", "layer_statuses", "decide"]

CHAPTERS = {
    "saturation": "saturation.ipynb",
    "initialization": "initialization.ipynb",
    "normalization": "normalization.ipynb",
    "residual": "residual.ipynb",
    "rnn": "rnn.ipynb",
    "gan": "gan.ipynb",
    "playbook": "playbook.ipynb",
}
NORM_MODULES = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)


def layer_statuses(flow: GradientFlow, names: list[str]) -> dict[str, str]:
    """Which layers decide the verdict: "" for those that do, else why not (see :class:`LayerReport`)."""
    status = {}
    measured, reached, positions = set(flow.measured_layers()), flow.gradient_reached(), flow.positions()
    for name in names:
        if name not in measured or name in reached:
            status[name] = ""
            continue
        status[name] = "frozen" if not any(p.requires_grad for p in flow.weight_tensors(name)) else "unused"
    spatial = [n for n in names if status[n] == "" and positions.get(n, 1) > 1]
    if spatial:
        last_spatial = names.index(spatial[-1])
        for name in names[:last_spatial]:
            if status[name] == "" and name in positions and positions[name] == 1:
                status[name] = "side branch"
    return status


@dataclass(frozen=True)
class PassEvidence:
    """What one forward/backward pass of :func:`gvcourse.diagnose` measured, for :func:`decide` to judge."""

    model: nn.Module
    inputs: tuple[torch.Tensor, ...]
    loss: float
    grads_finite: bool
    layers: list[LayerReport]
    through_time: list[TimeReport]
    skipped: list[str]  # recurrent modules without a gradient-through-time profile (bidirectional)
    mode: str


def decide(evidence: PassEvidence, v_ratio: float = VANISHING_RATIO, e_ratio: float = EXPLODING_RATIO
           ) -> DiagnosisReport:
    """The verdict, the layers that triggered it, the evidence in words, notes and suggestions (module docstring of
    :mod:`gvcourse.diagnose`: back-propagated ratios, forward signal, gradient through time)."""
    model, xs, loss_value, grads_finite = evidence.model, evidence.inputs, evidence.loss, evidence.grads_finite
    layers, through_time, skipped, mode = evidence.layers, evidence.through_time, evidence.skipped, evidence.mode
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
        reasons.append(f"back-propagated gradient: {worst.name} receives {fmt_num(worst.backprop_ratio)} of the "
                       f"gradient at {last.name} (threshold {v_ratio:g}); {len(vanishing)} layer(s) below it")
    if exploding and any(n in {lay.name for lay in layers} for n in exploding):
        worst = max(measured[:-1], key=lambda lay: lay.backprop_ratio)
        reasons.append(f"back-propagated gradient: {worst.name} receives {fmt_num(worst.backprop_ratio)} times the "
                       f"gradient at {last.name} (threshold {e_ratio:g})")
    # the forward signal, relative to the first layer's output
    if measured and measured[0].output_rms > 0 and math.isfinite(measured[0].output_rms):
        first = measured[0].output_rms
        fw = [(lay.name, lay.output_rms / first) for lay in measured[1:] if math.isfinite(lay.output_rms)]
        small = [n for n, f in fw if f < v_ratio]
        large = [n for n, f in fw if f > e_ratio]
        if small:
            reasons.append(f"forward signal collapses: the output RMS of {small[0]} is "
                           f"{fmt_num(dict(fw)[small[0]])} of {measured[0].name}'s")
            vanishing += [n for n in small if n not in vanishing]
        if large:
            reasons.append(f"forward signal blows up: the output RMS of {large[-1]} is "
                           f"{fmt_num(dict(fw)[large[-1]])} times {measured[0].name}'s")
            exploding += [n for n in large if n not in exploding]
    # the gradient through time
    for tr in through_time:
        r = tr.ratio
        if math.isnan(r):
            continue
        if r < v_ratio:
            vanishing.append(f"{tr.name} (through time)")
            reasons.append(f"gradient through time in {tr.name}: ‖∂L/∂h_1‖ is {fmt_num(r)} of ‖∂L/∂h_T‖ over "
                           f"T = {len(tr.norms)} steps (threshold {v_ratio:g})")
        elif r > e_ratio:
            exploding.append(f"{tr.name} (through time)")
            reasons.append(f"gradient through time in {tr.name}: ‖∂L/∂h_1‖ is {fmt_num(r)} times ‖∂L/∂h_T‖ over "
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
                     f"(first: {saturated[0].name}, {fmt_pct(saturated[0].saturated)})")
    dead = [lay for lay in layers if not math.isnan(lay.dead) and lay.dead > 0.5]
    if dead:
        notes.append(f"{len(dead)} layer(s) have more than half of their units dead on the whole batch "
                     f"(first: {dead[0].name}, {fmt_pct(dead[0].dead)})")
    gd = [lay.grad_data for lay in layers if math.isfinite(lay.grad_data) and lay.grad_data > 0]
    if len(gd) >= 2 and max(gd) / min(gd) > 1e3:
        notes.append(f"grad:data ratios span {max(gd) / min(gd):.0e}x across layers: one learning rate cannot suit "
                     "every layer (an adaptive optimizer such as Adam rescales per parameter; see "
                     f"{CHAPTERS['playbook']})")
    return notes


def _suggest(model, verdict, layers, through_time, triggered) -> list[Suggestion]:
    mods = list(model.modules())
    has = lambda kinds: any(isinstance(m, kinds) for m in mods)  # noqa: E731
    bounded = has(tuple(SATURATING_MODULES))  # sigmoid, tanh: the activations that saturate
    relu = has(RELU_LIKE_MODULES)
    norm = has(NORM_MODULES)
    batchnorm = has(nn.modules.batchnorm._BatchNorm)
    recurrent = has(RNN_MODULES + RNN_CELLS)
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
        if bounded:
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
        if bounded and saturated and not bn_growth:
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
