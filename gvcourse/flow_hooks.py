"""The recording half of :class:`gvcourse.monitor.GradientFlow`: the hooks and the raw sums they collect.

A forward pre-hook on the model starts each pass; a forward hook on every layer records its output's size and
square sum and registers, on the node that made the output, a pre-hook that receives ∂L/∂s; a forward hook on
every activation module summarises its output (:func:`gvcourse.activation_stats.summarize_activation`).
:class:`~gvcourse.monitor.GradientFlow` turns these sums into reports and a training history.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .activation_stats import ACTIVATION_MODULES, ActivationStats, summarize_activation
from .layers import Slot, is_compiled, owner_name, positions_per_call, weight_entries
from .tensor_norms import first_tensor, sq_norm

__all__ = ["FlowHooks"]


class FlowHooks:
    """Hooks on every layer and activation of ``model`` and the per-pass sums they record (see GradientFlow)."""

    def __init__(self, model: nn.Module, activations: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"GradientFlow expects a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(activations, bool):
            raise TypeError(f"activations must be True or False, got {activations!r}")
        self.model = model
        self.track_activations = activations
        #: compute the forward statistics (activation_stats, output_rms) on each pass; :meth:`begin_step` switches
        #: them off on all but the last step, whose values are the ones left to read.
        self.forward_stats = True
        #: measure ‖∂L/∂s‖ in each backward pass; :meth:`begin_step` switches it off on all but the last step,
        #: unless ``backprop_history`` asks for every step.
        self.backward_stats = True
        if isinstance(model, torch.jit.ScriptModule):
            raise TypeError(f"GradientFlow cannot hook a torch.jit.script-ed module ({type(model).__name__}): "
                            "monitor the Python module before scripting it")
        if is_compiled(model):
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
        self._slots: dict[str, list[Slot]] = {name: slots for name, (_, slots) in modules.items()}
        self._slots.update({name: [slot] for name, (_, slot) in free.items()})
        # entries in named_modules order (a module's free tensors at the module, before its children)
        position = {name: i for i, (name, _) in enumerate(model.named_modules())}
        self._static = sorted(self._slots, key=lambda n: (position.get(n, position.get(
            owner_name(n, free), -1)), n not in modules))
        self._static_index = {name: i for i, name in enumerate(self._static)}
        self._originals = [(c, k, c._parameters[k]) for slots in self._slots.values() for c, k in slots]
        self.activation_modules = OrderedDict(
            (n, m) for n, m in model.named_modules() if activations and isinstance(m, ACTIVATION_MODULES))
        self._handles: list = []
        self._activation_handles: list = []
        self._order: list[str] = []
        self._sequence: list[str] = []  # layer and activation entries, once per call, in the order they ran
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

    # -- hooks ------------------------------------------------------------------------
    def attach(self) -> FlowHooks:
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

    def __enter__(self) -> FlowHooks:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def _new_pass(self, module, args) -> None:
        self._order.clear()  # cleared in place: the layer hooks hold these containers
        self._sequence.clear()
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
        order, count, output_sq, sequence = self._order, self._output_count, self._output_sq, self._sequence
        backprop_sq, backprop_count, arrived, positions = (self._backprop_sq, self._backprop_count, self._arrived,
                                                           self._positions)

        def grad_prehook(grad_outputs, index: int) -> None:
            grad = grad_outputs[index]
            if grad is not None:
                backprop_sq[name] = backprop_sq.get(name, 0.0) + sq_norm(grad)
                backprop_count[name] = backprop_count.get(name, 0) + grad.numel()
                arrived[0] = True

        def hook(module, args, output) -> None:
            out = first_tensor(output)
            if out is None:
                return
            sequence.append(name)
            if name in count:
                count[name] += out.numel()
            else:
                order.append(name)
                count[name] = out.numel()
                output_sq[name] = 0.0
                positions[name] = positions_per_call(module, out)
            if self.forward_stats:
                output_sq[name] += sq_norm(out)
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
        sequence = self._sequence

        def hook(mod, args, output) -> None:
            sequence.append(name)
            y = first_tensor(output)
            if y is None or not self.forward_stats:
                return
            self._act_stats[name] = summarize_activation(module, y)
            if name not in self._act_order:
                self._act_order.append(name)
        return hook

    def _grad_marks(self) -> list:
        """Which gradient tensor each weight holds, and its version: changes whenever a backward pass writes it."""
        return [None if (g := p.grad) is None else (id(g), g._version) for _, _, p in self._originals]
