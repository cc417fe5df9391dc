"""Saturation of bounded activations (Glorot & Bengio 2010, §3): where it starts, how much of a layer it covers.

The rule — φ′(s) below :data:`SATURATION_LEVEL` of its maximum — belongs to :mod:`gvcourse.activations`; it is the one
``GradientFlow`` counts with.
"""

from __future__ import annotations

import math

from .._checks import one_of, real
from ..activations import SATURATION_LEVEL, pre_activation_threshold, saturating

__all__ = ["SATURATION_LEVEL", "SATURATING_ACTIVATIONS", "saturation_threshold", "saturated_fraction"]

SATURATING_ACTIVATIONS = tuple(sorted(saturating()))  # ("sigmoid", "tanh"), from gvcourse.activations


def _level(level: float) -> float:
    c = real("level", level)
    if not 0.0 < c < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {c:g}")
    return c


def saturation_threshold(activation: str, level: float = SATURATION_LEVEL) -> float:
    """The |s| beyond which φ'(s) < level · sup φ', for φ = sigmoid or tanh.

    tanh'(s) = 1 − tanh²(s) < c  ⇔  |s| > artanh(√(1 − c));
    σ'(s) = σ(s)(1 − σ(s)) < c/4  ⇔  |s| > 2 artanh(√(1 − c)), because σ(s) = (1 + tanh(s/2))/2 gives
    σ'(s) = tanh'(s/2)/4. With the default level :data:`SATURATION_LEVEL` = 0.05 (the rule ``GradientFlow`` uses for its
    saturated fraction) the thresholds are |s| ≈ 2.18 for tanh and ≈ 4.36 for the sigmoid. Saturation in this
    sense is what Glorot & Bengio (2010, §3) watch in their Figures 2–4.
    """
    return pre_activation_threshold(one_of("activation", activation, SATURATING_ACTIVATIONS), _level(level))


def saturated_fraction(activation: str, q: float, mean: float = 0.0, level: float = SATURATION_LEVEL) -> float:
    """P(φ'(s) < level · sup φ') for a Gaussian pre-activation s ~ N(mean, q), φ = sigmoid or tanh.

    With t = :func:`saturation_threshold`, this is P(|s| > t) = ½ erfc((t − μ)/√(2q)) + ½ erfc((t + μ)/√(2q)).
    In a wide random network with W_ij ~ N(0, σ_w²/n) the pre-activations of layer l are approximately
    N(0, q_l), with q_l from the length map :func:`q_map` (Poole et al. 2016, eq. 3), so this predicts the
    saturated fraction that ``GradientFlow.activation_stats()`` measures layer by layer. ``q = 0`` (a constant
    pre-activation equal to ``mean``) gives 1.0 if |mean| > t, else 0.0.
    """
    t = saturation_threshold(activation, level)
    q = real("q", q, nonnegative=True)
    mu = real("mean", mean)
    if q == 0.0:
        return 1.0 if abs(mu) > t else 0.0
    r = math.sqrt(2.0 * q)
    return 0.5 * math.erfc((t - mu) / r) + 0.5 * math.erfc((t + mu) / r)
