"""Norms and moments of tensors, measured so that vanishing (1e-20) and exploding (1e20) values stay exact.

float32 squares underflow below ~1e-19 and overflow above ~1e19; these functions redo such cases in float64.
Used by :class:`gvcourse.monitor.GradientFlow` and :func:`gvcourse.diagnose`.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch

__all__ = ["first_tensor", "dense", "sq_norm", "norms", "distance", "per_layer", "mean_std"]


def first_tensor(output) -> torch.Tensor | None:
    """A module's output tensor: the output itself, or the first element of a tuple (RNNs return (output, h))."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]  # RNN/LSTM/GRU return (output, hidden)
    return None


# float32 squares of entries below ~1e-19 underflow and above ~1e19 overflow; a float32 sum of squares outside
# (_TINY, _HUGE) is therefore recomputed in float64, so vanishing gradients of 1e-20 are still measured exactly.
_TINY, _HUGE = 1e-25, 1e30


def dense(t: torch.Tensor) -> torch.Tensor:
    """The entries whose squares sum to ‖t‖²: ``t`` itself, or a sparse gradient's stored values
    (``nn.Embedding(sparse=True)``), coalesced so repeated indices are added before squaring."""
    if t.layout is torch.strided:
        return t
    if t.layout is torch.sparse_coo:
        return t.detach().coalesce().values()
    return t.detach().to_dense()  # other sparse layouts: rare, correct if not fast


def sq_norm(t: torch.Tensor) -> float:
    """Σ t² as a Python float: one dot product (float32 or float64), repeated in float64 when float32 cannot hold it."""
    flat = dense(t).detach().reshape(-1)
    dtype = flat.dtype
    if dtype is torch.float32:
        total = torch.dot(flat, flat).item()
        if _TINY < total < _HUGE:
            return total
    elif dtype is torch.float64:
        return torch.dot(flat, flat).item()
    flat = flat.double()
    return torch.dot(flat, flat).item()


def norms(tensors: list[torch.Tensor | None], known: list[torch.Tensor | None] | None = None) -> list[float]:
    """The L2 norm of each tensor (0.0 for None): one batched call (``torch._foreach_norm``, as in
    ``torch.nn.utils.clip_grad_norm_``) and one conversion to Python floats, with results too small or too large
    for float32 recomputed in float64. ``known[i]``, if given, is tensor i's norm computed elsewhere (in float32)."""
    known = known if known is not None else [None] * len(tensors)
    tensors = [t if t is None or t.layout is torch.strided else dense(t) for t in tensors]
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
            value = math.sqrt(sq_norm(tensor))
        result.append(value)
    return result


def distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ in one pass without a temporary (``torch.dist``); in float64 when float32 cannot hold it."""
    value = float(torch.dist(a, b))
    if not 1e-12 < value < 1e15:
        value = float(torch.dist(a.double(), b.double()))
    return value


def per_layer(layers: list[tuple[str, list[torch.Tensor]]], values: list[float]) -> OrderedDict[str, float]:
    """Combine per-tensor norms (in the order of ``layers``' tensors) into one norm per layer."""
    if len(values) == len(layers):  # one weight tensor per layer (Linear, Conv): nothing to combine
        return OrderedDict(zip((name for name, _ in layers), values))
    result: OrderedDict[str, float] = OrderedDict()
    position = 0
    for name, tensors in layers:
        result[name] = math.sqrt(sum(v * v for v in values[position:position + len(tensors)]))
        position += len(tensors)
    return result


def mean_std(flat: torch.Tensor) -> tuple[float, float]:
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
