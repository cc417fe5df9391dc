"""Record gradient flow in **any** ``torch.nn.Module`` with hooks.

``GradientFlow(model)`` hooks every *layer* (a module with a weight matrix or filter bank:
Linear, Conv, RNN, Embedding, …, however deeply nested) and every activation module.
After a forward and backward pass it reports, in the order the forward pass ran the layers:

- ``grad_norms()``: ‖∂L/∂W‖ for each layer's weights;
- ``backprop_norms()``: ‖∂L/∂s‖, the norm of the gradient arriving at each layer's output
  s = W x + b — Glorot & Bengio (2010)'s "back-propagated gradients", which can vanish while
  the weight gradients ∂L/∂W = (∂L/∂s) xᵀ look flat;
- ``activation_stats()``: mean, std, saturated fraction and dead fraction of each activation
  module's output (saturated: the activation's derivative is below 5 % of its maximum; dead: a
  unit saturated — or, for ReLU, zero — for every example in the batch);
- over training (``record_step``), grad:data ‖∂L/∂W‖/‖W‖ and update:data ‖ΔW‖/‖W‖ ratios
  (Karpathy's "makemore" diagnostics; a healthy update:data is around 1e-3).

Only scalars are stored; the hooks are removed when the ``with`` block ends.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["GradientFlow", "ActivationStats", "layer_modules"]

# sup of each bounded activation's derivative, and its derivative in terms of its output y.
_BOUNDED = {
    nn.Sigmoid: (0.25, lambda y: y * (1 - y)),
    nn.Tanh: (1.0, lambda y: 1 - y * y),
}
_RELU_LIKE = (nn.ReLU, nn.ReLU6)
_ACTIVATIONS = (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU,
                nn.GELU, nn.SiLU, nn.Mish, nn.Softplus, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Softsign)
SATURATION_LEVEL = 0.05


@dataclass(frozen=True)
class ActivationStats:
    """Summary of one activation module's output over a batch."""

    mean: float
    std: float
    saturated: float  # fraction of (example, unit) entries whose derivative < 5 % of its maximum; NaN if unbounded
    dead: float  # fraction of units saturated (or zero, for ReLU) on every example of the batch


def _weight_params(module: nn.Module) -> list[torch.Tensor]:
    return [p for name, p in module.named_parameters(recurse=False) if name.startswith("weight") and p.dim() >= 2]


def layer_modules(model: nn.Module) -> OrderedDict[str, nn.Module]:
    """``{name: module}`` for every module that owns a weight matrix/filter bank, in ``named_modules()`` order."""
    return OrderedDict((name, m) for name, m in model.named_modules() if _weight_params(m))


def _first_tensor(output) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]  # RNN/LSTM/GRU return (output, hidden)
    return None


def _sq_norm(t: torch.Tensor) -> float:
    return float(t.detach().double().pow(2).sum())


class GradientFlow:
    """Context manager that hooks ``model`` and records per-layer gradient and activation statistics.

    >>> with GradientFlow(model) as flow:          # doctest: +SKIP
    ...     loss_fn(model(x), y).backward()
    >>> flow.grad_norms()                           # {'fc1': 1e-9, ..., 'out': 0.3}

    ``activations=False`` skips the activation statistics (slightly cheaper).
    """

    def __init__(self, model: nn.Module, activations: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"GradientFlow expects a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(activations, bool):
            raise TypeError(f"activations must be True or False, got {activations!r}")
        self.model = model
        self.track_activations = activations
        self.layers = layer_modules(model)
        if not self.layers:
            raise ValueError(f"{type(model).__name__} has no layer with a weight matrix to monitor")
        self.activation_modules = OrderedDict(
            (n, m) for n, m in model.named_modules() if isinstance(m, _ACTIVATIONS)) if activations else OrderedDict()
        self._handles: list = []
        self._order: list[str] = []
        self._act_order: list[str] = []
        self._backprop_sq: dict[str, float] = {}
        self._output_sq: dict[str, float] = {}
        self._output_count: dict[str, int] = {}
        self._act_stats: dict[str, ActivationStats] = {}
        self._weights_before: dict[str, list[torch.Tensor]] | None = None
        self.history: dict[str, dict[str, list[float]]] = {
            "grad_norm": {}, "backprop_norm": {}, "grad_data": {}, "update_data": {}}
        self.steps = 0

    # -- hooks ------------------------------------------------------------------------
    def attach(self) -> GradientFlow:
        """Register the hooks (``with GradientFlow(model)`` does this for you)."""
        if self._handles:
            return self
        self._handles.append(self.model.register_forward_pre_hook(self._new_pass))
        for name, module in self.layers.items():
            self._handles.append(module.register_forward_hook(self._layer_hook(name)))
        for name, module in self.activation_modules.items():
            self._handles.append(module.register_forward_hook(self._activation_hook(name, module)))
        return self

    def detach(self) -> None:
        """Remove every hook this monitor registered."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> GradientFlow:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def _new_pass(self, module, args) -> None:
        self._order, self._act_order = [], []
        self._backprop_sq.clear()
        self._output_sq.clear()
        self._output_count.clear()

    def _layer_hook(self, name: str):
        def hook(module, args, output) -> None:
            out = _first_tensor(output)
            if out is None:
                return
            if name not in self._output_count:
                self._order.append(name)
                self._output_count[name] = 0
                self._output_sq[name] = 0.0
                self._backprop_sq[name] = 0.0
            self._output_count[name] += out.numel()
            self._output_sq[name] += _sq_norm(out)
            if out.requires_grad:
                def grad_hook(grad: torch.Tensor) -> None:
                    self._backprop_sq[name] = self._backprop_sq.get(name, 0.0) + _sq_norm(grad)
                out.register_hook(grad_hook)
        return hook

    def _activation_hook(self, name: str, module: nn.Module):
        bounded = next((v for k, v in _BOUNDED.items() if isinstance(module, k)), None)
        relu_like = isinstance(module, _RELU_LIKE)

        def hook(mod, args, output) -> None:
            y = _first_tensor(output)
            if y is None:
                return
            with torch.no_grad():
                y = y.detach().float()
                flat = y.reshape(y.shape[0], -1) if y.dim() > 1 else y.reshape(1, -1)
                if bounded is not None:
                    sup, deriv = bounded
                    stuck = deriv(flat) < SATURATION_LEVEL * sup
                    saturated = float(stuck.float().mean())
                elif relu_like:
                    stuck = flat <= 0
                    saturated = math.nan
                else:
                    stuck, saturated = None, math.nan
                dead = float(stuck.all(dim=0).float().mean()) if stuck is not None else math.nan
                self._act_stats[name] = ActivationStats(
                    mean=float(flat.mean()), std=float(flat.std()) if flat.numel() > 1 else 0.0,
                    saturated=saturated, dead=dead)
            if name not in self._act_order:
                self._act_order.append(name)
        return hook

    # -- reports ----------------------------------------------------------------------
    def layer_order(self) -> list[str]:
        """Layer names in the order the last forward pass ran them (``named_modules`` order before any pass)."""
        return list(self._order) if self._order else list(self.layers)

    def grad_norms(self) -> OrderedDict[str, float]:
        """``{layer: ‖∂L/∂W‖}`` (L2 norm over the layer's weight matrices), in forward order.

        Reads the ``.grad`` left by the last backward pass; a layer without a gradient gets 0.0.
        """
        result: OrderedDict[str, float] = OrderedDict()
        for name in self.layer_order():
            grads = [p.grad for p in _weight_params(self.layers[name]) if p.grad is not None]
            result[name] = math.sqrt(sum(_sq_norm(g) for g in grads)) if grads else 0.0
        return result

    def backprop_norms(self) -> OrderedDict[str, float]:
        """``{layer: ‖∂L/∂s‖}``: the gradient arriving at each layer's output s, in forward order.

        A layer called several times in one pass (weight sharing, an RNN cell) sums the squares over calls.
        """
        return OrderedDict((n, math.sqrt(self._backprop_sq.get(n, 0.0))) for n in self.layer_order())

    def backprop_variances(self) -> OrderedDict[str, float]:
        """``{layer: mean of (∂L/∂s)²}`` over batch and units, in forward order.

        Glorot & Bengio (2010)'s Var[∂L/∂s] (§4.2.1, their "back-propagated gradients"), the gradient having mean ≈ 0.
        """
        return OrderedDict((n, self._backprop_sq.get(n, 0.0) / max(1, self._output_count.get(n, 0)))
                           for n in self.layer_order())

    def output_rms(self) -> OrderedDict[str, float]:
        """``{layer: root-mean-square of the layer's output s}`` from the last forward pass."""
        return OrderedDict((n, math.sqrt(self._output_sq.get(n, 0.0) / max(1, self._output_count.get(n, 0))))
                           for n in self.layer_order())

    def activation_stats(self) -> OrderedDict[str, ActivationStats]:
        """``{activation module: ActivationStats}`` from the last forward pass, in forward order."""
        return OrderedDict((n, self._act_stats[n]) for n in self._act_order if n in self._act_stats)

    def weight_norms(self) -> OrderedDict[str, float]:
        """``{layer: ‖W‖}`` in forward order."""
        return OrderedDict((n, math.sqrt(sum(_sq_norm(p) for p in _weight_params(self.layers[n]))))
                           for n in self.layer_order())

    # -- over training ----------------------------------------------------------------
    def before_update(self) -> None:
        """Call after ``backward()`` and before ``optimizer.step()`` to measure update:data next."""
        self._weights_before = {n: [p.detach().clone() for p in _weight_params(m)] for n, m in self.layers.items()}

    def record_step(self) -> None:
        """Append this step's gradient norms and ratios to ``history`` (call after ``optimizer.step()``).

        grad:data is measured with the weights after the step (the change is tiny);
        update:data needs :meth:`before_update` to have been called, otherwise it is skipped.
        """
        grads, back, weights = self.grad_norms(), self.backprop_norms(), self.weight_norms()
        h = self.history
        for name in grads:
            w = weights[name] or math.nan
            h["grad_norm"].setdefault(name, []).append(grads[name])
            h["backprop_norm"].setdefault(name, []).append(back[name])
            h["grad_data"].setdefault(name, []).append(grads[name] / w)
            if self._weights_before is not None and name in self._weights_before:
                delta = math.sqrt(sum(_sq_norm(p - old) for p, old in
                                      zip(_weight_params(self.layers[name]), self._weights_before[name])))
                h["update_data"].setdefault(name, []).append(delta / w)
        self._weights_before = None
        self.steps += 1
