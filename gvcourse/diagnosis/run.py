"""``gvcourse.diagnose``: one forward/backward pass through **any** ``torch.nn.Module``, a verdict on its gradients.

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

import math
import warnings
from collections.abc import Callable

import torch
from torch import nn

from .._checks import one_of
from ..monitor import GradientFlow
from ..tensor_norms import dense, first_tensor
from .recurrent import TimeRecorder
from .report import EXPLODING_RATIO, VANISHING_RATIO, DiagnosisReport, LayerReport
from .rules import PassEvidence, decide, layer_statuses

__all__ = ["diagnose", "MODES"]

MODES = ("train", "eval", "as_is")


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
    recorder = TimeRecorder(model)
    try:
        if mode == "train":
            model.train()
        elif mode == "eval":
            model.eval()
        x_in = tuple(t.detach().clone().requires_grad_(True) if t.is_floating_point() else t for t in xs)
        with torch.random.fork_rng(devices=[]), flow:
            recorder.attach()
            try:
                try:
                    output = model(*x_in)
                except (RuntimeError, ValueError, IndexError, TypeError) as err:
                    shapes = ", ".join(str(tuple(t.shape)) for t in xs)
                    raise ValueError(f"model(inputs) failed for inputs of shape {shapes}: {err}") from err
                out_t = first_tensor(output)
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
            order = flow.forward_sequence()  # layers and activations, in the order they ran
            positions = flow.positions()
            status = layer_statuses(flow, layer_names)
        loss_value = float(loss.detach())
    finally:
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
    all_grads_finite = all(g is None or bool(torch.isfinite(dense(g)).all()) for g in grads)
    evidence = PassEvidence(model=model, inputs=xs, loss=loss_value, grads_finite=all_grads_finite, layers=layers,
                            through_time=through_time, skipped=recorder.skipped, mode=mode)
    return decide(evidence, float(vanishing_ratio), float(exploding_ratio))
