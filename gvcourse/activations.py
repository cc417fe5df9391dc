"""The one table of activation functions every other module reads.

For each activation the course names: the ``torch.nn`` module that computes it, φ and φ′ (NumPy, for the closed
forms of :mod:`gvcourse.theory`), sup φ′, φ′(0)² in the linear regime, and — for the bounded, saturating ones —
the saturation rule. Pure Python and NumPy, no torch: :mod:`gvcourse.theory` stays a NumPy leaf, and
:mod:`gvcourse.nets`, :mod:`gvcourse.monitor`, :mod:`gvcourse.sequence` and :mod:`gvcourse.diagnosis` turn the
module names into classes with ``getattr(torch.nn, spec.module)``.

**Saturation** (Glorot & Bengio 2010, §3): a unit is saturated where φ′(s) < :data:`SATURATION_LEVEL` · sup φ′.
Both saturating activations are scaled and shifted tanh's, φ(s) = c + h·tanh(s/k) (tanh: c = 0, h = k = 1;
sigmoid: c = h = ½, k = 2, since σ(s) = (1 + tanh(s/2))/2), so φ′(s) = (h/k)(1 − tanh²(s/k)) and, with
t = artanh(√(1 − level)),

- in terms of the pre-activation s: saturated ⇔ |s| > k·t (≈ 2.18 for tanh, ≈ 4.36 for the sigmoid);
- in terms of the output y = φ(s): saturated ⇔ |y − c| > h·√(1 − level).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._checks import one_of

__all__ = ["SATURATION_LEVEL", "Activation", "ACTIVATION_TABLE", "activation_spec", "saturating",
           "pre_activation_threshold", "output_band", "scalar_phi_and_slope", "REMOVED_ACTIVATION_KEYWORDS",
           "refuse_removed_keywords"]

#: A unit counts as saturated where φ′(s) < SATURATION_LEVEL · sup φ′ (GradientFlow's saturated fraction,
#: theory.saturation_threshold, theory.saturated_fraction).
SATURATION_LEVEL = 0.05


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Activation:
    """One activation function: what every module of the course needs to know about it."""

    name: str
    module: str  #: the ``torch.nn`` class that computes it
    derivative_max: float | None = None  #: sup_x |φ′(x)|; None where the course uses no closed form
    #: E[φ′(s)²] for a small symmetric pre-activation s (the linear regime): φ′(0)² for smooth φ, ½ for ReLU
    linear_gain: float | None = None
    phi: Callable[[np.ndarray], np.ndarray] | None = None  #: φ, vectorised (NumPy)
    dphi: Callable[[np.ndarray], np.ndarray] | None = None  #: φ′, vectorised (NumPy)
    #: (c, h, k) for a bounded φ(s) = c + h·tanh(s/k); None for the activations that do not saturate
    tanh_shape: tuple[float, float, float] | None = None
    relu_like: bool = False  #: zero for every negative input: a unit is *dead* on a batch when its output is 0

    @property
    def saturates(self) -> bool:
        return self.tanh_shape is not None


#: Every activation the course knows, in the order ``gvcourse.nets.ACTIVATIONS`` offers its first eight.
ACTIVATION_TABLE: dict[str, Activation] = {spec.name: spec for spec in (
    Activation("relu", "ReLU", 1.0, 0.5, lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float),
               relu_like=True),
    Activation("tanh", "Tanh", 1.0, 1.0, np.tanh, lambda x: 1.0 / np.cosh(x) ** 2, tanh_shape=(0.0, 1.0, 1.0)),
    Activation("sigmoid", "Sigmoid", 0.25, 1 / 16, _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)),
               tanh_shape=(0.5, 0.5, 2.0)),
    Activation("leaky_relu", "LeakyReLU"),
    Activation("prelu", "PReLU"),
    Activation("elu", "ELU"),
    Activation("gelu", "GELU"),
    Activation("linear", "Identity", 1.0, 1.0, lambda x: x, np.ones_like),
    Activation("relu6", "ReLU6", relu_like=True),
    Activation("selu", "SELU"),
    Activation("celu", "CELU"),
    Activation("silu", "SiLU"),
    Activation("mish", "Mish"),
    Activation("softplus", "Softplus"),
    Activation("hardtanh", "Hardtanh"),
    Activation("hardsigmoid", "Hardsigmoid"),
    Activation("hardswish", "Hardswish"),
    Activation("softsign", "Softsign"),
)}


def activation_spec(name: str) -> Activation:
    """The table entry of ``name`` (ValueError naming the allowed names otherwise)."""
    return ACTIVATION_TABLE[one_of("activation", name, ACTIVATION_TABLE)]


def saturating() -> tuple[str, ...]:
    """The names of the bounded activations that saturate: ``("tanh", "sigmoid")``."""
    return tuple(name for name, spec in ACTIVATION_TABLE.items() if spec.saturates)


def _level_root(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level:g}")
    return math.sqrt(1.0 - level)


def pre_activation_threshold(name: str, level: float = SATURATION_LEVEL) -> float:
    """The |s| beyond which φ′(s) < level · sup φ′: k·artanh(√(1 − level)) for φ(s) = c + h·tanh(s/k)."""
    shape = activation_spec(name).tanh_shape
    if shape is None:
        raise ValueError(f"activation {name!r} does not saturate; saturating ones: {', '.join(saturating())}")
    return shape[2] * math.atanh(_level_root(level))


def output_band(name: str, level: float = SATURATION_LEVEL) -> tuple[float, float]:
    """(centre c, radius r): an output y is saturated where |y − c| > r = √(h² − h²·level)."""
    shape = activation_spec(name).tanh_shape
    if shape is None:
        raise ValueError(f"activation {name!r} does not saturate; saturating ones: {', '.join(saturating())}")
    _level_root(level)
    centre, half, _ = shape
    return centre, math.sqrt(half * half - half * half * level)


def scalar_phi_and_slope(name: str, s: float) -> tuple[float, float]:
    """φ(s) and φ′(s) as Python floats in double precision (stable for large |s|; ReLU′(0) = 0, as in torch).

    For the activations with a closed form (sigmoid, tanh, relu, linear); φ′ is written in terms of the output.
    """
    if name == "sigmoid":
        e = math.exp(-abs(s))  # stable for large |s|
        y = 1.0 / (1.0 + e) if s >= 0 else e / (1.0 + e)
        return y, y * (1.0 - y)
    if name == "tanh":
        y = math.tanh(s)
        return y, 1.0 - y * y
    if name == "relu":
        return (s, 1.0) if s > 0 else (0.0, 0.0)
    if name == "linear":
        return s, 1.0
    raise ValueError(f"activation {name!r} has no closed form here; use one of: sigmoid, tanh, relu, linear")


#: Keywords that once named the activation: ``act`` (``nets.ResidualBlock``) and ``nonlinearity``
#: (``sequence.rnn_model``, after ``torch.nn.RNN``). Every public function of gvcourse now says ``activation``.
REMOVED_ACTIVATION_KEYWORDS = ("act", "nonlinearity")


def refuse_removed_keywords(where: str, given: dict[str, object]) -> None:
    """Raise a TypeError if ``given`` (a function's ``**removed`` keywords) is not empty.

    A removed name of the activation argument gets a message saying what to write instead, so code written for
    an older gvcourse fails once, with the fix, instead of silently meaning something else.
    """
    if not given:
        return
    name, value = next(iter(given.items()))
    if name in REMOVED_ACTIVATION_KEYWORDS:
        raise TypeError(f"{where}() has no keyword {name}=: the course names the activation activation= everywhere, "
                        f"e.g. activation={value!r}")
    raise TypeError(f"{where}() got an unexpected keyword argument {name!r}")
