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
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = ["GradientFlow", "ActivationStats", "layer_modules", "weight_entries"]

# A bounded activation's derivative, written in terms of its output y, is below 5 % of its maximum exactly when
# y is far from the activation's centre c: |y − c| > r. Sigmoid: y(1 − y) < 0.05/4 ⇔ |y − 1/2| > √(1/4 − 0.0125);
# tanh: 1 − y² < 0.05 ⇔ |y| > √0.95. (centre, radius) per activation:
_BOUNDED = {
    nn.Sigmoid: (0.5, math.sqrt(0.25 - 0.25 * 0.05)),
    nn.Tanh: (0.0, math.sqrt(1.0 - 0.05)),
}
_RELU_LIKE = (nn.ReLU, nn.ReLU6)
_ACTIVATIONS = (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU,
                nn.GELU, nn.SiLU, nn.Mish, nn.Softplus, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Softsign)


@dataclass(frozen=True)
class ActivationStats:
    """Summary of one activation module's output over a batch."""

    mean: float
    std: float
    saturated: float  # fraction of (example, unit) entries whose derivative < 5 % of its maximum; NaN if unbounded
    dead: float  # fraction of units saturated (or zero, for ReLU) on every example of the batch


def _weight_names(module: nn.Module) -> list[str]:
    """Names of the module's own weight matrices / filter banks (``weight``, ``weight_ih_l0``, …; not biases)."""
    return [name for name, p in module._parameters.items()
            if p is not None and name.startswith("weight") and p.dim() >= 2]


def _weight_params(module: nn.Module) -> list[torch.Tensor]:
    """The module's own weight matrices / filter banks."""
    return [module._parameters[name] for name in _weight_names(module)]


def layer_modules(model: nn.Module) -> OrderedDict[str, nn.Module]:
    """``{name: module}`` for every module that owns a weight matrix/filter bank, in ``named_modules()`` order."""
    return OrderedDict((name, m) for name, m in model.named_modules() if _weight_params(m))


# (container, key): the tensor is ``container._parameters[key]`` — read afresh every time, so a parameter replaced
# by assignment is still found.
_Slot = tuple[nn.Module, str]


def weight_entries(model: nn.Module) -> tuple[OrderedDict[str, tuple[nn.Module, list[_Slot]]],
                                              OrderedDict[str, tuple[nn.Module, _Slot]]]:
    """Every weight tensor (parameter with ≥ 2 dimensions) of ``model``, grouped into report entries.

    Returns ``(modules, free)``: ``modules`` maps a module's name to ``(module, slots)`` — today's layers
    (:func:`layer_modules`, ``weight*`` tensors) first in ``named_modules`` order, then modules whose weights are
    named otherwise (``in_proj_weight``, ``W``) or parametrized; ``free`` maps a full parameter name to
    ``(owner, slot)`` for the remaining tensors (class tokens, positional tables). Each tensor is claimed once,
    except a tied weight, which every module owning it reports.
    """
    modules: OrderedDict[str, tuple[nn.Module, list[_Slot]]] = OrderedDict()
    free: OrderedDict[str, tuple[nn.Module, _Slot]] = OrderedDict()
    named = list(model.named_modules())
    claimed: set[int] = set()
    parametrized: dict[str, list[_Slot]] = {}
    for name, module in named:  # parametrizations: module.parametrizations.<tensor>.original*
        if parametrize.is_parametrized(module):
            for container in module.parametrizations.values():
                slots = [(container, key) for key, p in container._parameters.items() if p is not None]
                parametrized.setdefault(name, []).extend(slots)
    for name, module in named:
        own = [(key, p) for key, p in module._parameters.items() if p is not None and p.dim() >= 2]
        if "parametrizations" in name.split("."):
            continue  # the parametrized module reports these
        today = _weight_names(module)
        if today:
            slots = [(module, key) for key in today]
        else:
            leaf = not any(True for _ in module.children()) or name in parametrized
            slots = [(module, key) for key, _ in own if "weight" in key or leaf] + parametrized.get(name, [])
        if slots:
            modules[name] = (module, slots)
            claimed.update(id(c._parameters[k]) for c, k in slots)
    for name, module in named:
        if "parametrizations" in name.split("."):
            continue
        for key, p in module._parameters.items():
            if p is not None and p.dim() >= 2 and id(p) not in claimed:
                claimed.add(id(p))
                free[f"{name}.{key}" if name else key] = (module, (module, key))
    return modules, free


def _is_compiled(model: nn.Module) -> bool:
    """True for the wrapper ``torch.compile(model)`` returns."""
    return type(model).__name__ == "OptimizedModule" and hasattr(model, "_orig_mod")


def _owner_name(entry: str, free) -> str:
    """The module name a free tensor's entry belongs to (``blocks.0.attn`` for its bias table)."""
    return entry.rpartition(".")[0] if entry in free else entry


def _positions(module: nn.Module, out: torch.Tensor) -> int:
    """Positions per example that share the layer's weights in one call: the spatial size of a convolution's
    feature map, the tokens of a Linear applied to (batch, tokens, features); 1 for a dense layer or an RNN."""
    if isinstance(module, nn.modules.conv._ConvNd) and out.dim() > 2:
        return max(1, out[0, 0].numel())
    if isinstance(module, (nn.RNNBase, nn.RNNCellBase)) or out.dim() <= 2:
        return 1
    return max(1, out.numel() // (out.shape[0] * out.shape[-1]))


def _first_tensor(output) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]  # RNN/LSTM/GRU return (output, hidden)
    return None


# float32 squares of entries below ~1e-19 underflow and above ~1e19 overflow; a float32 sum of squares outside
# (_TINY, _HUGE) is therefore recomputed in float64, so vanishing gradients of 1e-20 are still measured exactly.
_TINY, _HUGE = 1e-25, 1e30


def _dense(t: torch.Tensor) -> torch.Tensor:
    """The entries whose squares sum to ‖t‖²: ``t`` itself, or a sparse gradient's stored values
    (``nn.Embedding(sparse=True)``), coalesced so repeated indices are added before squaring."""
    if t.layout is torch.strided:
        return t
    if t.layout is torch.sparse_coo:
        return t.detach().coalesce().values()
    return t.detach().to_dense()  # other sparse layouts: rare, correct if not fast


def _sq_norm(t: torch.Tensor) -> float:
    """Σ t² as a Python float: one dot product (float32 or float64), repeated in float64 when float32 cannot hold it."""
    flat = _dense(t).detach().reshape(-1)
    dtype = flat.dtype
    if dtype is torch.float32:
        total = torch.dot(flat, flat).item()
        if _TINY < total < _HUGE:
            return total
    elif dtype is torch.float64:
        return torch.dot(flat, flat).item()
    flat = flat.double()
    return torch.dot(flat, flat).item()


def _norms(tensors: list[torch.Tensor | None], known: list[torch.Tensor | None] | None = None) -> list[float]:
    """The L2 norm of each tensor (0.0 for None): one batched call (``torch._foreach_norm``, as in
    ``torch.nn.utils.clip_grad_norm_``) and one conversion to Python floats, with results too small or too large
    for float32 recomputed in float64. ``known[i]``, if given, is tensor i's norm computed elsewhere (in float32)."""
    known = known if known is not None else [None] * len(tensors)
    tensors = [t if t is None or t.layout is torch.strided else _dense(t) for t in tensors]
    todo = [t for t, norm in zip(tensors, known) if t is not None and norm is None]
    with torch.no_grad():
        fresh = iter(torch._foreach_norm(todo) if todo else ())
        norms = []  # a 0-d tensor per present tensor, None where there is none
        for tensor, norm in zip(tensors, known):
            if tensor is not None and norm is None:
                norm = next(fresh)
            norms.append(None if tensor is None else norm)
        present = [norm for norm in norms if norm is not None]
        values = iter(torch.stack(present).tolist() if present else ())
    result = []
    for tensor, norm in zip(tensors, norms):
        if norm is None:
            result.append(0.0)
            continue
        value = next(values)
        if not 1e-12 < value < 1e15:  # float32 squares may have underflowed (vanishing) or overflowed
            value = math.sqrt(_sq_norm(tensor))
        result.append(value)
    return result


def _distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ in one pass without a temporary (``torch.dist``); in float64 when float32 cannot hold it."""
    value = float(torch.dist(a, b))
    if not 1e-12 < value < 1e15:
        value = float(torch.dist(a.double(), b.double()))
    return value


def _per_layer(layers: list[tuple[str, list[torch.Tensor]]], values: list[float]) -> OrderedDict[str, float]:
    """Combine per-tensor norms (in the order of ``layers``' tensors) into one norm per layer."""
    if len(values) == len(layers):  # one weight tensor per layer (Linear, Conv): nothing to combine
        return OrderedDict(zip((name for name, _ in layers), values))
    result: OrderedDict[str, float] = OrderedDict()
    position = 0
    for name, tensors in layers:
        result[name] = math.sqrt(sum(v * v for v in values[position:position + len(tensors)]))
        position += len(tensors)
    return result


def _mean_std(flat: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation (n − 1) of all entries, from one sum and one dot product.

    When the variance is small against the mean square (a saturated sigmoid: all outputs near 1), the one-pass
    formula E[y²] − E[y]² cancels; then the variance is recomputed from the centred values.
    """
    n = flat.numel()
    if n < 2:
        return float(flat.sum()), 0.0
    values = flat.reshape(-1)
    mean = float(values.sum()) / n
    mean_square = float(torch.dot(values, values)) / n
    variance = (mean_square - mean * mean) * n / (n - 1)
    if variance < 1e-3 * mean_square:
        centred = values - mean
        variance = float(torch.dot(centred, centred)) / (n - 1)
    return mean, math.sqrt(max(variance, 0.0))


class GradientFlow:
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
    """

    def __init__(self, model: nn.Module, activations: bool = True, updates: bool = False,
                 backprop_history: bool = False):
        if not isinstance(model, nn.Module):
            raise TypeError(f"GradientFlow expects a torch.nn.Module, got {type(model).__name__}")
        for flag, value in (("activations", activations), ("updates", updates),
                            ("backprop_history", backprop_history)):
            if not isinstance(value, bool):
                raise TypeError(f"{flag} must be True or False, got {value!r}")
        self.model = model
        self.track_activations = activations
        self.track_updates = updates  # fit calls before_update() only when this is True
        self.track_backprop_history = backprop_history
        #: compute the forward statistics (activation_stats, output_rms) on each pass; ``fit`` switches them off
        #: on all but its last step, whose values are the ones left to read — weight gradients are recorded every step.
        self.forward_stats = True
        #: measure ‖∂L/∂s‖ in each backward pass; ``fit`` switches it off on all but its last step, unless
        #: ``backprop_history`` asks for every step.
        self.backward_stats = True
        if isinstance(model, torch.jit.ScriptModule):
            raise TypeError(f"GradientFlow cannot hook a torch.jit.script-ed module ({type(model).__name__}): "
                            "monitor the Python module before scripting it")
        if _is_compiled(model):
            raise TypeError("GradientFlow cannot see inside a torch.compile-d model: its hooks would be compiled "
                            "away or skipped. Monitor the module itself (model._orig_mod) and run it uncompiled")
        for name, module in model.named_modules():
            if isinstance(module, torch.jit.ScriptModule):
                raise TypeError(f"GradientFlow cannot hook {name} ({type(module).__name__}), a torch.jit.script-ed "
                                "module: hooks cannot be registered on it. Monitor the Python module before scripting")
        modules, free = weight_entries(model)
        #: ``{entry name: module}`` for every entry that is a module (today's layers first, then new module entries)
        self.layers = OrderedDict((name, module) for name, (module, _) in modules.items())
        #: ``{full parameter name: owning module}`` for free weight tensors (class tokens, positional tables)
        self.free_parameters = OrderedDict((name, owner) for name, (owner, _) in free.items())
        if not self.layers and not self.free_parameters:
            raise ValueError(f"{type(model).__name__} has no layer with a weight matrix to monitor")
        # where each entry's tensors live, looked up every step: [(container, key), ...]
        self._slots: dict[str, list[_Slot]] = {name: slots for name, (_, slots) in modules.items()}
        self._slots.update({name: [slot] for name, (_, slot) in free.items()})
        # entries in named_modules order (a module's free tensors at the module, before its children)
        position = {name: i for i, (name, _) in enumerate(model.named_modules())}
        self._static = sorted(self._slots, key=lambda n: (position.get(n, position.get(
            _owner_name(n, free), -1)), n not in modules))
        self._static_index = {name: i for i, name in enumerate(self._static)}
        self._originals = [(c, k, c._parameters[k]) for slots in self._slots.values() for c, k in slots]
        self.activation_modules = OrderedDict(
            (n, m) for n, m in model.named_modules() if isinstance(m, _ACTIVATIONS)) if activations else OrderedDict()
        self._handles: list = []
        self._activation_handles: list = []
        self._order: list[str] = []
        self._act_order: list[str] = []
        self._backprop_sq: dict[str, float] = {}
        self._backprop_count: dict[str, int] = {}  # entries of ∂L/∂s that arrived, over the passes of one backward
        self._output_sq: dict[str, float] = {}
        self._output_count: dict[str, int] = {}
        self._positions: dict[str, int] = {}  # spatial/token positions per example and call, for diagnose
        self._arrived = [False]  # a gradient reached a layer output since the backward statistics were last cleared
        self._passes = 0  # forward passes of the whole model seen since attach()
        self._grad_enabled = True  # whether the last pass ran with autograd on
        self._functional = False  # the last pass ran with substituted parameters (torch.func.functional_call)
        self._grads_at_attach: list | None = None
        self._act_stats: dict[str, ActivationStats] = {}
        self._weights_before: tuple[list, list[torch.Tensor]] | None = None
        self._scratch: list[torch.Tensor] | None = None  # one copy of the weights for update:data, freed by detach()
        self.history: dict[str, dict[str, list[float]]] = {
            "grad_norm": {}, "backprop_norm": {}, "grad_data": {}, "update_data": {}}
        self.steps = 0

    # -- hooks ------------------------------------------------------------------------
    def attach(self) -> GradientFlow:
        """Register the hooks (``with GradientFlow(model)`` does this for you).

        All or nothing: if any hook cannot be registered (a scripted submodule), those already registered are
        removed and a TypeError names the module.
        """
        if self._handles:
            return self
        name = ""
        try:
            for name, module in self.model.named_modules():
                if isinstance(module, torch.jit.ScriptModule):
                    raise TypeError(f"GradientFlow cannot hook {name or 'the model'} ({type(module).__name__}), a "
                                    "torch.jit.script-ed module: monitor the Python module before scripting it")
            name = ""
            self._handles.append(self.model.register_forward_pre_hook(self._new_pass))
            for name, module in self.layers.items():
                self._handles.append(module.register_forward_hook(self._layer_hook(name)))
            owners: dict[int, tuple[nn.Module, list[str]]] = {}
            for pname, owner in self.free_parameters.items():
                owners.setdefault(id(owner), (owner, []))[1].append(pname)
            for owner, names in owners.values():
                name = names[0]
                self._handles.append(owner.register_forward_pre_hook(self._free_hook(names)))
            if self.forward_stats:
                self._attach_activation_hooks()
        except Exception as err:
            self.detach()
            if isinstance(err, TypeError):
                raise
            raise TypeError(f"GradientFlow could not hook {name or 'the model'}: {err}") from err
        self._passes = 0
        self._grads_at_attach = self._grad_marks()
        return self

    def _attach_activation_hooks(self) -> None:
        try:
            for name, module in self.activation_modules.items():
                self._activation_handles.append(module.register_forward_hook(self._activation_hook(name, module)))
        except Exception:
            self._detach_activation_hooks()
            raise

    def _detach_activation_hooks(self) -> None:
        for handle in self._activation_handles:
            handle.remove()
        self._activation_handles = []

    def _set_forward_stats(self, on: bool) -> None:
        """Switch the forward statistics on or off; while off, the activation modules carry no hooks at all."""
        if on == self.forward_stats:
            return
        self.forward_stats = on
        if self._handles:
            self._attach_activation_hooks() if on else self._detach_activation_hooks()

    def detach(self) -> None:
        """Remove every hook this monitor registered."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._detach_activation_hooks()
        self._scratch = self._weights_before = None

    def __enter__(self) -> GradientFlow:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def _new_pass(self, module, args) -> None:
        self._order.clear()  # cleared in place: the layer hooks hold these containers
        self._act_order = []
        self._output_sq.clear()
        self._output_count.clear()
        self._passes += 1
        self._grad_enabled = torch.is_grad_enabled()
        self._functional = any(c._parameters.get(k) is not p for c, k, p in self._originals)
        if self._arrived[0]:
            # a backward pass has delivered its gradients: this pass starts new backward statistics. Until one
            # has, passes add up, so N forward passes followed by one backward are measured together.
            self._backprop_sq.clear()
            self._backprop_count.clear()
            self._arrived[0] = False

    def _free_hook(self, names: list[str]):
        order = self._order

        def hook(module, args) -> None:
            for name in names:
                if name not in order:
                    order.append(name)
        return hook

    def _layer_hook(self, name: str):
        order, count, output_sq = self._order, self._output_count, self._output_sq
        backprop_sq, backprop_count, arrived, positions = (self._backprop_sq, self._backprop_count, self._arrived,
                                                           self._positions)

        def grad_prehook(grad_outputs, index: int) -> None:
            grad = grad_outputs[index]
            if grad is not None:
                backprop_sq[name] = backprop_sq.get(name, 0.0) + _sq_norm(grad)
                backprop_count[name] = backprop_count.get(name, 0) + grad.numel()
                arrived[0] = True

        def hook(module, args, output) -> None:
            out = _first_tensor(output)
            if out is None:
                return
            if name in count:
                count[name] += out.numel()
            else:
                order.append(name)
                count[name] = out.numel()
                output_sq[name] = 0.0
                positions[name] = _positions(module, out)
            if self.forward_stats:
                output_sq[name] += _sq_norm(out)
            if not self.backward_stats:
                return
            node = out.grad_fn
            if node is not None:
                # A pre-hook on the node that made ``out`` receives ∂L/∂out once every use of ``out`` has added its
                # part, as a tensor hook would (also when ``out`` is later changed in place, e.g. ``out += x``), and
                # costs less to register on every pass. It adds what arrives, so a recomputed (checkpointed)
                # output that receives no gradient adds nothing.
                index = out.output_nr
                node.register_prehook(lambda grad_outputs: grad_prehook(grad_outputs, index))
            elif out.requires_grad:
                out.register_hook(lambda grad: grad_prehook((grad,), 0))
        return hook

    def _activation_hook(self, name: str, module: nn.Module):
        bounded = next((v for k, v in _BOUNDED.items() if isinstance(module, k)), None)
        relu_like = isinstance(module, _RELU_LIKE)

        def hook(mod, args, output) -> None:
            y = _first_tensor(output)
            if y is None or not self.forward_stats:
                return
            with torch.no_grad():
                y = y.detach()
                if y.dtype not in (torch.float32, torch.float64):
                    y = y.float()
                flat = y.reshape(y.shape[0], -1) if y.dim() > 1 else y.reshape(1, -1)  # (examples, units)
                mean, std = _mean_std(flat)
                n = flat.numel()
                saturated = dead = math.nan
                if bounded is not None:
                    centre, radius = bounded
                    distance = (flat - centre).abs_() if centre else flat.abs()
                    saturated = float(torch.count_nonzero(distance > radius)) / n
                    dead = float(torch.count_nonzero(distance.amin(dim=0) > radius)) / flat.shape[1]
                elif relu_like:  # a ReLU unit is dead on this batch when it is zero for every example
                    dead = float(torch.count_nonzero(flat.amax(dim=0) <= 0)) / flat.shape[1]
                self._act_stats[name] = ActivationStats(mean=mean, std=std, saturated=saturated, dead=dead)
            if name not in self._act_order:
                self._act_order.append(name)
        return hook

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

    def _measured(self) -> list[str]:
        """Entries with a layer output the last pass saw (the keys of backprop_norms, output_rms)."""
        return [n for n in self.layer_order() if n in self._output_count]

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
        return _per_layer(layers, _norms([p.grad for _, params in layers for p in params]))

    def backprop_norms(self) -> OrderedDict[str, float]:
        """``{layer: ‖∂L/∂s‖}``: the gradient arriving at each layer's output s, in forward order.

        A layer called several times in one pass (weight sharing, an RNN cell) sums the squares over calls, and
        so do several forward passes followed by one backward pass. Entries without a layer output (free
        tensors, functionally used weights) are not listed.
        """
        self._check_seen("backprop_norms()")
        return OrderedDict((n, math.sqrt(self._backprop_sq.get(n, 0.0))) for n in self._measured())

    def backprop_variances(self) -> OrderedDict[str, float]:
        """``{layer: mean of (∂L/∂s)²}`` over batch and units, in forward order.

        Glorot & Bengio (2010)'s Var[∂L/∂s] (§4.2.1, their "back-propagated gradients"), the gradient having mean ≈ 0.
        The mean is over the entries the gradient actually reached: N forward passes followed by one backward
        pass count every pass once, and an output recomputed by checkpointing is not counted twice.
        """
        self._check_seen("backprop_variances()")
        return OrderedDict((n, self._backprop_sq.get(n, 0.0) / max(1, self._backprop_count.get(n, 0)))
                           for n in self._measured())

    def output_rms(self) -> OrderedDict[str, float]:
        """``{layer: root-mean-square of the layer's output s}`` from the last forward pass."""
        self._check_seen("output_rms()")
        return OrderedDict((n, math.sqrt(self._output_sq.get(n, 0.0) / max(1, self._output_count.get(n, 0))))
                           for n in self._measured())

    def activation_stats(self) -> OrderedDict[str, ActivationStats]:
        """``{activation module: ActivationStats}`` from the last forward pass, in forward order."""
        self._check_seen("activation_stats()")
        return OrderedDict((n, self._act_stats[n]) for n in self._act_order if n in self._act_stats)

    def weight_norms(self) -> OrderedDict[str, float]:
        """``{entry: ‖W‖}`` in forward order."""
        layers = self._weights_in_order()
        return _per_layer(layers, _norms([p for _, params in layers for p in params]))

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

    def _grad_marks(self) -> list:
        """Which gradient tensor each weight holds, and its version: changes whenever a backward pass writes it."""
        return [None if (g := p.grad) is None else (id(g), g._version) for _, _, p in self._originals]

    # -- over training ----------------------------------------------------------------
    def before_update(self) -> None:
        """Call after ``backward()`` and before ``optimizer.step()`` to measure update:data next."""
        layers = self._weights_in_order()
        weights = [p.detach() for _, params in layers for p in params]
        scratch = self._scratch
        if scratch is None or len(scratch) != len(weights) or any(
                s.shape != w.shape or s.dtype != w.dtype for s, w in zip(scratch, weights)):
            scratch = self._scratch = [torch.empty_like(w) for w in weights]
        if hasattr(torch, "_foreach_copy_"):
            torch._foreach_copy_(scratch, weights)  # one batched copy into a buffer reused every step
        else:
            for s, w in zip(scratch, weights):
                s.copy_(w)
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
        values = _norms([p.grad for p in flat] + flat, [known.get(id(p)) for p in flat] + [None] * len(flat))
        k = len(flat)
        grads, weights = _per_layer(layers, values[:k]), _per_layer(layers, values[k:])
        updates: dict[str, float] = {}
        if self._weights_before is not None:
            before_layers, before = self._weights_before
            if [n for n, _ in before_layers] == [n for n, _ in layers] and len(before) == len(flat):
                updates = _per_layer(layers, [_distance(p.detach(), b) for p, b in zip(flat, before)])
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
