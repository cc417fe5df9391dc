"""What one activation module's output looks like over a batch: mean, spread, saturated and dead units.

The saturation rule is :mod:`gvcourse.activations`' (φ′ below SATURATION_LEVEL of its maximum, Glorot & Bengio
2010, §3), applied to the output y: a bounded activation's derivative, written in terms of y, is small exactly
when y is far from the activation's centre. :class:`gvcourse.monitor.GradientFlow` calls
:func:`summarize_activation` from its forward hooks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .activations import ACTIVATION_TABLE, output_band, saturating
from .tensor_norms import mean_std

__all__ = ["ActivationStats", "ACTIVATION_MODULES", "SATURATING_MODULES", "RELU_LIKE_MODULES",
           "summarize_activation"]

#: The activation modules GradientFlow summarises: every entry of gvcourse.activations' table but the identity.
ACTIVATION_MODULES = tuple(getattr(nn, spec.module) for spec in ACTIVATION_TABLE.values() if spec.module != "Identity")
#: ``{module class: (centre c, radius r)}``: an output y of a bounded activation is saturated where |y − c| > r,
#: i.e. where its derivative is below SATURATION_LEVEL of its maximum (gvcourse.activations.output_band).
SATURATING_MODULES = {getattr(nn, ACTIVATION_TABLE[name].module): output_band(name) for name in saturating()}
#: Activations that output exactly 0 for negative inputs: a unit is dead on a batch when it is 0 for every example.
RELU_LIKE_MODULES = tuple(getattr(nn, spec.module) for spec in ACTIVATION_TABLE.values() if spec.relu_like)


@dataclass(frozen=True)
class ActivationStats:
    """Summary of one activation module's output over a batch."""

    mean: float
    std: float
    saturated: float  # fraction of (example, unit) entries whose derivative < 5 % of its maximum; NaN if unbounded
    dead: float  # fraction of units saturated (or zero, for ReLU) on every example of the batch


def summarize_activation(module: nn.Module, output: torch.Tensor) -> ActivationStats:
    """The :class:`ActivationStats` of ``output``, the batch output of the activation ``module``.

    Rows are examples; every other entry of an example is a unit. Saturated: |y − c| > r
    (:data:`SATURATING_MODULES`), NaN for activations that do not saturate; dead: a unit saturated — or, for a
    ReLU-like module, zero — for every example of the batch.
    """
    band = next((v for k, v in SATURATING_MODULES.items() if isinstance(module, k)), None)
    with torch.no_grad():
        y = output.detach()
        if y.dtype not in (torch.float32, torch.float64):
            y = y.float()
        flat = y.reshape(y.shape[0], -1) if y.dim() > 1 else y.reshape(1, -1)  # (examples, units)
        mean, std = mean_std(flat)
        n = flat.numel()
        saturated = dead = math.nan
        if band is not None:
            centre, radius = band
            distance = (flat - centre).abs_() if centre else flat.abs()
            saturated = float(torch.count_nonzero(distance > radius)) / n
            dead = float(torch.count_nonzero(distance.amin(dim=0) > radius)) / flat.shape[1]
        elif isinstance(module, RELU_LIKE_MODULES):  # a ReLU unit is dead on this batch when it is zero throughout
            dead = float(torch.count_nonzero(flat.amax(dim=0) <= 0)) / flat.shape[1]
    return ActivationStats(mean=mean, std=std, saturated=saturated, dead=dead)
