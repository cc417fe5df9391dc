"""Which tensors of a model are its *layers' weights*: the entries ``GradientFlow`` reports.

A layer is a module with a weight matrix or filter bank (``weight*`` with two or more dimensions); other weight
tensors (``in_proj_weight``, a custom module's ``W``, parametrized originals, free ``nn.Parameter`` s such as a
ViT's class token) get entries of their own (:func:`weight_entries`). Biases and normalization gains are not
weights here.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = ["weight_names", "layer_modules", "Slot", "weight_entries", "is_compiled", "owner_name",
           "positions_per_call"]


def weight_names(module: nn.Module) -> list[str]:
    """Names of the module's own weight matrices / filter banks (``weight``, ``weight_ih_l0``, …; not biases)."""
    return [name for name, p in module._parameters.items()
            if p is not None and name.startswith("weight") and p.dim() >= 2]


def _weight_params(module: nn.Module) -> list[torch.Tensor]:
    """The module's own weight matrices / filter banks."""
    return [module._parameters[name] for name in weight_names(module)]


def layer_modules(model: nn.Module) -> OrderedDict[str, nn.Module]:
    """``{name: module}`` for every module that owns a weight matrix/filter bank, in ``named_modules()`` order."""
    return OrderedDict((name, m) for name, m in model.named_modules() if _weight_params(m))


# (container, key): the tensor is ``container._parameters[key]`` — read afresh every time, so a parameter replaced
# by assignment is still found.
Slot = tuple[nn.Module, str]


def weight_entries(model: nn.Module) -> tuple[OrderedDict[str, tuple[nn.Module, list[Slot]]],
                                              OrderedDict[str, tuple[nn.Module, Slot]]]:
    """Every weight tensor (parameter with ≥ 2 dimensions) of ``model``, grouped into report entries.

    Returns ``(modules, free)``: ``modules`` maps a module's name to ``(module, slots)`` — today's layers
    (:func:`layer_modules`, ``weight*`` tensors) first in ``named_modules`` order, then modules whose weights are
    named otherwise (``in_proj_weight``, ``W``) or parametrized; ``free`` maps a full parameter name to
    ``(owner, slot)`` for the remaining tensors (class tokens, positional tables). Each tensor is claimed once,
    except a tied weight, which every module owning it reports.
    """
    modules: OrderedDict[str, tuple[nn.Module, list[Slot]]] = OrderedDict()
    free: OrderedDict[str, tuple[nn.Module, Slot]] = OrderedDict()
    named = list(model.named_modules())
    claimed: set[int] = set()
    parametrized: dict[str, list[Slot]] = {}
    for name, module in named:  # parametrizations: module.parametrizations.<tensor>.original*
        if parametrize.is_parametrized(module):
            for container in module.parametrizations.values():
                slots = [(container, key) for key, p in container._parameters.items() if p is not None]
                parametrized.setdefault(name, []).extend(slots)
    for name, module in named:
        own = [(key, p) for key, p in module._parameters.items() if p is not None and p.dim() >= 2]
        if "parametrizations" in name.split("."):
            continue  # the parametrized module reports these
        today = weight_names(module)
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


def is_compiled(model: nn.Module) -> bool:
    """True for the wrapper ``torch.compile(model)`` returns."""
    return type(model).__name__ == "OptimizedModule" and hasattr(model, "_orig_mod")


def owner_name(entry: str, free) -> str:
    """The module name a free tensor's entry belongs to (``blocks.0.attn`` for its bias table)."""
    return entry.rpartition(".")[0] if entry in free else entry


def positions_per_call(module: nn.Module, out: torch.Tensor) -> int:
    """Positions per example that share the layer's weights in one call: the spatial size of a convolution's
    feature map, the tokens of a Linear applied to (batch, tokens, features); 1 for a dense layer or an RNN."""
    if isinstance(module, nn.modules.conv._ConvNd) and out.dim() > 2:
        return max(1, out[0, 0].numel())
    if isinstance(module, (nn.RNNBase, nn.RNNCellBase)) or out.dim() <= 2:
        return 1
    return max(1, out.numel() // (out.shape[0] * out.shape[-1]))
