"""Record gradient flow in **any** ``torch.nn.Module`` with hooks.

``GradientFlow(model)`` hooks every *layer* (a module with a weight matrix or filter bank:
Linear, Conv, RNN, Embedding, …, however deeply nested) and every activation module.
It also covers every other *weight tensor* — every parameter with two or more dimensions — wherever it lives:

- a module whose weights are used functionally or not named ``weight*`` gets one entry under its own name:
  ``nn.MultiheadAttention`` (``attn``: its packed q/k/v projection ``in_proj_weight``; ``attn.out_proj`` is a second
  entry, whose hook never runs because ``F.multi_head_attention_forward`` uses its weight directly), a Linear whose
  ``weight`` is read with ``F.linear(x, self.qkv.weight)``, a custom leaf module's ``W``;
- a module with a ``torch.nn.utils.parametrize`` parametrization (weight norm, orthogonal, spectral norm) reports
  the tensors the gradient reaches, ``parametrizations.weight.original*``, under the module's name;
- a free ``nn.Parameter`` on a container — a ViT's ``class_token`` and ``pos_embedding``, a Swin block's
  ``relative_position_bias_table`` — gets an entry named by its full parameter name.

Biases and normalization gains (one-dimensional parameters) are not reported. A tied weight (one tensor in two
modules) appears under each module, each time with the norm of its one ``.grad``. Entries whose module never ran
as a module (functional use) are placed right after the entry that precedes them in ``named_modules()`` order, and
only once a gradient has reached them; they have no layer output, so no ‖∂L/∂s‖.
After a forward and backward pass it reports, in the order the forward pass ran the layers:

- ``grad_norms()``: ‖∂L/∂W‖ for each layer's weights;
- ``backprop_norms()``: ‖∂L/∂s‖, the norm of the gradient arriving at each layer's output
  s = W x + b — Glorot & Bengio (2010)'s "back-propagated gradients", which can vanish while
  the weight gradients ∂L/∂W = (∂L/∂s) xᵀ look flat;
- ``activation_stats()``: mean, std, saturated fraction and dead fraction of each activation
  module's output (saturated: the activation's derivative is below 5 % of its maximum; dead: a
  unit saturated — or, for ReLU, zero — for every example in the batch);
- over training (``record_step``), ‖∂L/∂W‖, grad:data ‖∂L/∂W‖/‖W‖ and, if asked for, update:data ‖ΔW‖/‖W‖
  and ‖∂L/∂s‖ at every step (Karpathy's "makemore" diagnostics; a healthy update:data is around 1e-3).

Only scalars are stored; the hooks are removed when the ``with`` block ends, and none stays if attaching fails.
What hooks cannot see is said, not reported as zeros: a ``torch.jit.script``-ed module is refused (TypeError), a
``torch.compile``-d wrapper is refused, a model that ran without its hooks (compiled after the monitor was
attached) raises a ValueError when its per-pass statistics are read, and so does a pass under
``torch.func.functional_call`` when ``grad_norms()`` is read (the gradient went to the substituted tensors).
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict

import torch
from torch import nn

from .activation_stats import ACTIVATION_MODULES, RELU_LIKE_MODULES, SATURATING_MODULES, ActivationStats
from .flow_hooks import FlowHooks
from .layers import layer_modules, weight_entries
from .tensor_norms import distance, norms, per_layer

__all__ = ["GradientFlow", "ActivationStats", "layer_modules", "weight_entries", "ACTIVATION_MODULES",
           "SATURATING_MODULES", "RELU_LIKE_MODULES"]


class GradientFlow(FlowHooks):
    """Context manager that hooks ``model`` and records per-layer gradient and activation statistics.

    >>> with GradientFlow(model) as flow:          # doctest: +SKIP
    ...     loss_fn(model(x), y).backward()
    >>> flow.grad_norms()                           # {'fc1': 1e-9, ..., 'out': 0.3}

    ``activations=False`` skips the activation statistics (slightly cheaper).

    Over training (``fit(..., monitor=flow)``) every step appends the weight-gradient norms and grad:data to
    ``history``; the per-layer picture of the last step (``backprop_norms()``, ``activation_stats()``, …) is
    left to read afterwards. Two more per-step series are off unless asked for, because they cost time on every
    step (``benchmarks/monitor_overhead.py``: depth 20, width 256, batch 128, two CPU cores):

    - ``updates=True``: update:data ‖ΔW‖/‖W‖, which needs a copy of every weight before each step (≈ 9 % more);
    - ``backprop_history=True``: ‖∂L/∂s‖ of every step in ``history["backprop_norm"]``, which needs a Python
      hook on every layer's output in every backward pass (a few per cent at most; within that benchmark's noise).

    Your own training loop drives the monitor with four calls — the same ones ``fit`` makes, so it records the
    same numbers (``tests/test_training_protocol.py``); the monitor decides what to measure on which step:

    >>> with GradientFlow(model, updates=True) as flow:           # doctest: +SKIP
    ...     for step in range(steps):
    ...         flow.begin_step(last=step == steps - 1)          # per-pass statistics on the last step only
    ...         loss = loss_fn(model(x), y)
    ...         opt.zero_grad()
    ...         loss.backward()
    ...         flow.after_backward()                             # after clipping, if any; before the update
    ...         opt.step()
    ...         flow.after_step()                                 # appends this step to flow.history
    >>> flow.history["grad_data"]["fc1"][-1], flow.activation_stats()   # doctest: +SKIP

    If the loop can stop early, call ``flow.end_steps()`` in a ``finally`` block to restore the switches.
    """

    def __init__(self, model: nn.Module, activations: bool = True, updates: bool = False,
                 backprop_history: bool = False):
        if not isinstance(model, nn.Module):
            raise TypeError(f"GradientFlow expects a torch.nn.Module, got {type(model).__name__}")
        for flag, value in (("updates", updates), ("backprop_history", backprop_history)):
            if not isinstance(value, bool):
                raise TypeError(f"{flag} must be True or False, got {value!r}")
        super().__init__(model, activations)
        self.track_updates = updates  # after_backward() copies the weights only when this is True
        self.track_backprop_history = backprop_history
        self._step_flags: tuple[bool, bool] | None = None  # (forward_stats, backward_stats) before the first step
        self._last_step = False
        self._weights_before: tuple[list, list[torch.Tensor]] | None = None
        self._scratch: list[torch.Tensor] | None = None  # one copy of the weights for update:data, freed by detach()
        self.history: dict[str, dict[str, list[float]]] = {
            "grad_norm": {}, "backprop_norm": {}, "grad_data": {}, "update_data": {}}
        self.steps = 0

    def detach(self) -> None:
        """Remove every hook this monitor registered (and free the weight copy kept for update:data)."""
        super().detach()
        self._scratch = self._weights_before = None

    # -- reports ----------------------------------------------------------------------
    def layer_order(self) -> list[str]:
        """Entry names in the order the last forward pass ran them (``named_modules`` order before any pass).

        An entry whose module did not run as a module (its weight used functionally, e.g. ``attn.out_proj``) but
        whose tensors hold a gradient is placed right after the entry that precedes it in ``named_modules`` order.
        """
        if not self._order:
            return list(self._static)
        order = list(self._order)
        if len(order) == len(self._static):
            return order
        ran = set(order)
        missing = [n for n in self._static if n not in ran and any(
            c._parameters.get(k) is not None and c._parameters[k].grad is not None for c, k in self._slots[n])]
        for name in missing:  # after the nearest preceding entry (named_modules order) already placed
            i = self._static_index[name]
            at = next((order.index(p) + 1 for p in reversed(self._static[:i]) if p in order), 0)
            order.insert(at, name)
        return order

    def measured_layers(self) -> list[str]:
        """Entries with a layer output the last pass saw (the keys of backprop_norms, output_rms), in forward order."""
        return [n for n in self.layer_order() if n in self._output_count]

    def forward_sequence(self) -> list[str]:
        """Layer and activation entries in the order the last forward pass called them, once per call."""
        return list(self._sequence)

    def positions(self) -> dict[str, int]:
        """``{layer: positions per example sharing its weights in one call}`` (pixels, tokens; 1 for a dense layer)."""
        return dict(self._positions)

    def gradient_reached(self) -> set[str]:
        """The layers whose output received a gradient in the last backward pass."""
        return {name for name, count in self._backprop_count.items() if count > 0}

    def weight_tensors(self, entry: str) -> list[torch.Tensor]:
        """The weight tensors the entry ``entry`` of :meth:`grad_norms` covers (as they are now)."""
        return [p for c, k in self._slots[entry] if (p := c._parameters.get(k)) is not None]

    def _check_seen(self, what: str) -> None:
        """Refuse to report per-pass statistics as zeros when the hooks saw none of the passes."""
        if self._passes == 0 and self.attached and self._grads_at_attach is not None \
                and self._grad_marks() != self._grads_at_attach:
            raise ValueError(
                f"GradientFlow saw no forward pass of {type(self.model).__name__}, yet its parameters received "
                f"gradients: the model ran without its hooks (a torch.compile-d copy, compiled after the monitor "
                f"was attached?), so {what} cannot be measured. Run the uncompiled module while monitoring")

    def grad_norms(self) -> OrderedDict[str, float]:
        """``{entry: ‖∂L/∂W‖}`` (L2 norm over the entry's weight tensors), in forward order.

        Reads the ``.grad`` left by the last backward pass; an entry without a gradient gets 0.0 (a frozen or
        unused layer). A sparse gradient (``nn.Embedding(sparse=True)``) is measured by its stored values.
        Raises ValueError if the last pass ran under ``torch.func.functional_call``: the gradient went to the
        substituted tensors, not to the module's ``.grad``.
        """
        if self._functional:
            raise ValueError("the last forward pass ran under torch.func.functional_call (or with parameters "
                             "substituted some other way): the gradient went to the tensors passed in, not to the "
                             "module's .grad, so grad_norms() would read 0.0. Take the norms of the gradients "
                             "torch.func returned; backprop_norms() and activation_stats() are still measured")
        if self._passes == 0 and self.attached and self._grads_at_attach is not None \
                and self._grad_marks() != self._grads_at_attach:
            warnings.warn("GradientFlow saw no forward pass though the parameters received gradients (a "
                          "torch.compile-d copy of the model?): grad_norms() reads .grad and is right, but in "
                          "named_modules order, and backprop_norms()/activation_stats() cannot be measured",
                          RuntimeWarning, stacklevel=2)
        layers = self._weights_in_order()
        return per_layer(layers, norms([p.grad for _, params in layers for p in params]))

    def backprop_norms(self) -> OrderedDict[str, float]:
        """``{layer: ‖∂L/∂s‖}``: the gradient arriving at each layer's output s, in forward order.

        A layer called several times in one pass (weight sharing, an RNN cell) sums the squares over calls, and
        so do several forward passes followed by one backward pass. Entries without a layer output (free
        tensors, functionally used weights) are not listed.
        """
        self._check_seen("backprop_norms()")
        return OrderedDict((n, math.sqrt(self._backprop_sq.get(n, 0.0))) for n in self.measured_layers())

    def backprop_variances(self) -> OrderedDict[str, float]:
        """``{layer: mean of (∂L/∂s)²}`` over batch and units, in forward order.

        Glorot & Bengio (2010)'s Var[∂L/∂s] (§4.2.1, their "back-propagated gradients"), the gradient having mean ≈ 0.
        The mean is over the entries the gradient actually reached: N forward passes followed by one backward
        pass count every pass once, and an output recomputed by checkpointing is not counted twice.
        """
        self._check_seen("backprop_variances()")
        return OrderedDict((n, self._backprop_sq.get(n, 0.0) / max(1, self._backprop_count.get(n, 0)))
                           for n in self.measured_layers())

    def output_rms(self) -> OrderedDict[str, float]:
        """``{layer: root-mean-square of the layer's output s}`` from the last forward pass."""
        self._check_seen("output_rms()")
        return OrderedDict((n, math.sqrt(self._output_sq.get(n, 0.0) / max(1, self._output_count.get(n, 0))))
                           for n in self.measured_layers())

    def activation_stats(self) -> OrderedDict[str, ActivationStats]:
        """``{activation module: ActivationStats}`` from the last forward pass, in forward order."""
        self._check_seen("activation_stats()")
        return OrderedDict((n, self._act_stats[n]) for n in self._act_order if n in self._act_stats)

    def weight_norms(self) -> OrderedDict[str, float]:
        """``{entry: ‖W‖}`` in forward order."""
        layers = self._weights_in_order()
        return per_layer(layers, norms([p for _, params in layers for p in params]))

    def tensors(self) -> OrderedDict[str, list[str]]:
        """``{entry: [parameter names]}``: which weight tensors each entry of ``grad_norms()`` covers."""
        names: dict[int, str] = {}
        for n, p in self.model.named_parameters(remove_duplicate=False):
            names.setdefault(id(p), n)  # a tied tensor under its first name
        return OrderedDict((entry, [names.get(id(c._parameters[k]), k) for c, k in self._slots[entry]
                                    if c._parameters.get(k) is not None]) for entry in self._static)

    def _weights_in_order(self) -> list[tuple[str, list[torch.Tensor]]]:
        slots = self._slots
        return [(name, [p for c, k in slots[name] if (p := c._parameters.get(k)) is not None])
                for name in self.layer_order()]

    # -- the per-step protocol of a training loop --------------------------------------
    def begin_step(self, last: bool = False) -> None:
        """Call at the start of every training step, before the forward pass; ``last=True`` on the final step.

        The monitor owns the policy of what to measure when: weight-gradient norms and grad:data every step
        (:meth:`after_step`); the per-pass picture — activation statistics, output RMS, ‖∂L/∂s‖ — only on the last
        step, the one it describes afterwards (earlier steps' values would be overwritten, and their hooks cost time),
        and ‖∂L/∂s‖ on every step when built with ``backprop_history=True``. After the last step, or
        :meth:`end_steps`, the switches are as before the first step.
        """
        if self._step_flags is None:
            self._step_flags = (self.forward_stats, self.backward_stats)
        forward, backward = self._step_flags
        self._set_forward_stats(forward and last)
        self.backward_stats = backward and (last or self.track_backprop_history)
        self._last_step = last

    def after_backward(self) -> None:
        """Call after ``loss.backward()`` (and any gradient clipping), before ``optimizer.step()``.

        Copies the weights for update:data when the monitor was built with ``updates=True``; otherwise nothing.
        """
        if self.track_updates:
            self.before_update()

    def after_step(self, param_grad_norms: dict[int, torch.Tensor] | None = None) -> None:
        """Call after ``optimizer.step()``: appends this step's series to ``history`` (see :meth:`record_step`)."""
        self.record_step(param_grad_norms)
        if self._last_step:
            self.end_steps()

    def end_steps(self) -> None:
        """Restore the forward/backward switches :meth:`begin_step` changed (safe to call twice; for ``finally``)."""
        if self._step_flags is not None:
            forward, backward = self._step_flags
            self._step_flags = None
            self._set_forward_stats(forward)
            self.backward_stats = backward
        self._last_step = False

    # -- over training ----------------------------------------------------------------
    def before_update(self) -> None:
        """Call after ``backward()`` and before ``optimizer.step()`` to measure update:data next."""
        layers = self._weights_in_order()
        weights = [p.detach() for _, params in layers for p in params]
        scratch = self._scratch
        if scratch is None or len(scratch) != len(weights) or any(
                s.shape != w.shape or s.dtype != w.dtype for s, w in zip(scratch, weights)):
            scratch = self._scratch = [torch.empty_like(w) for w in weights]
        torch._foreach_copy_(scratch, weights)  # one batched copy into a buffer reused every step
        self._weights_before = (layers, scratch)

    def record_step(self, param_grad_norms: dict[int, torch.Tensor] | None = None) -> None:
        """Append this step's gradient norms and ratios to ``history`` (call after ``optimizer.step()``).

        grad:data is measured with the weights after the step (the change is tiny);
        update:data needs :meth:`before_update` to have been called, otherwise it is skipped;
        ‖∂L/∂s‖ goes into ``history["backprop_norm"]`` when the monitor was built with ``backprop_history=True``.
        ``param_grad_norms``, ``{id(parameter): ‖gradient‖}``, passes norms the caller has already computed
        (``fit`` has, for its total gradient norm) so the gradients are not read a second time.
        """
        layers = self._weights_in_order()
        flat = [p for _, params in layers for p in params]
        known = param_grad_norms or {}
        values = norms([p.grad for p in flat] + flat, [known.get(id(p)) for p in flat] + [None] * len(flat))
        k = len(flat)
        grads, weights = per_layer(layers, values[:k]), per_layer(layers, values[k:])
        updates: dict[str, float] = {}
        if self._weights_before is not None:
            before_layers, before = self._weights_before
            if [n for n, _ in before_layers] == [n for n, _ in layers] and len(before) == len(flat):
                updates = per_layer(layers, [distance(p.detach(), b) for p, b in zip(flat, before)])
        h = self.history
        grad_norm, backprop_norm, grad_data = h["grad_norm"], h["backprop_norm"], h["grad_data"]
        backprop_sq = self._backprop_sq
        for name, g in grads.items():
            w = weights[name] or math.nan
            if name not in grad_norm:
                grad_norm[name], grad_data[name] = [], []
                if self.track_backprop_history:
                    backprop_norm[name] = []
            grad_norm[name].append(g)
            if self.track_backprop_history:
                backprop_norm[name].append(math.sqrt(backprop_sq.get(name, 0.0)))
            grad_data[name].append(g / w)
            if name in updates:
                h["update_data"].setdefault(name, []).append(updates[name] / w)
        self._weights_before = None
        self.steps += 1
