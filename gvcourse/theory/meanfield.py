"""Mean-field theory of deep random networks: the length map q, its fixed point q*, and χ₁.

Poole et al. (2016); Schoenholz et al. (2017); the per-layer gains along a network of finite depth
(Pennington, Schoenholz & Ganguli 2017).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import one_of, positive_int, real
from ..activations import ACTIVATION_TABLE

__all__ = ["MEAN_FIELD_ACTIVATIONS", "GAUSS_NODES", "GAUSS_WEIGHTS", "gaussian_expectation", "mean_field_args",
           "q_map", "q_star", "chi1", "critical_sigma_w", "gradient_depth_scale", "backward_gain",
           "backward_gain_profile"]

MEAN_FIELD_ACTIVATIONS = ("tanh", "relu", "linear")
#: Gauss–Hermite nodes and weights (121): ∫ Dz f(z) ≈ Σ w_i f(z_i), Dz the standard Gaussian measure.
GAUSS_NODES, GAUSS_WEIGHTS = np.polynomial.hermite_e.hermegauss(121)
GAUSS_WEIGHTS = GAUSS_WEIGHTS / np.sqrt(2 * np.pi)


def gaussian_expectation(f) -> float:
    """∫ Dz f(z) by Gauss–Hermite quadrature (121 nodes)."""
    return float(np.sum(GAUSS_WEIGHTS * f(GAUSS_NODES)))


def mean_field_args(activation: str, sigma_w: float, sigma_b: float) -> tuple[str, float, float]:
    """Checked (activation, σ_w, σ_b) for the mean-field functions."""
    return (one_of("activation", activation, MEAN_FIELD_ACTIVATIONS), real("sigma_w", sigma_w, positive=True),
            real("sigma_b", sigma_b, nonnegative=True))


def q_map(activation: str, q: float, sigma_w: float, sigma_b: float) -> float:
    """The length map q_l = σ_w² ∫Dz φ(√q_{l−1} z)² + σ_b² (Poole et al. 2016, eq. 3)."""
    act, sw, sb = mean_field_args(activation, sigma_w, sigma_b)
    q = real("q", q, nonnegative=True)
    return sw**2 * gaussian_expectation(lambda z: ACTIVATION_TABLE[act].phi(np.sqrt(q) * z) ** 2) + sb**2


def q_star(activation: str, sigma_w: float, sigma_b: float, q0: float = 1.0, tol: float = 1e-12,
           max_iter: int = 100_000) -> float:
    """The fixed point q* of :func:`q_map` reached from q0 — the squared length every input settles to.

    For ReLU the map is linear, q ↦ σ_w² q/2 + σ_b²: q* = σ_b²/(1 − σ_w²/2) for σ_w² < 2, and ``inf`` for
    σ_w² ≥ 2 with σ_b > 0 (or σ_w² > 2), where lengths grow without bound.
    """
    act, sw, sb = mean_field_args(activation, sigma_w, sigma_b)
    slope = {"relu": sw**2 / 2, "linear": sw**2}.get(act)
    if slope is not None:
        if slope < 1:
            return sb**2 / (1 - slope)
        return real("q0", q0, nonnegative=True) if (slope == 1 and sb == 0) else math.inf
    if act == "tanh" and sb == 0 and sw <= 1:
        return 0.0  # q = 0 is the stable fixed point: tanh(x) ≈ x near 0, so q shrinks by σ_w² ≤ 1 per layer
    q = real("q0", q0, nonnegative=True)
    for _ in range(positive_int("max_iter", max_iter)):
        new = q_map(act, q, sw, sb)
        if abs(new - q) <= tol * max(1.0, q):
            return new
        q = new
    return q


def chi1(activation: str, sigma_w: float, sigma_b: float) -> float:
    """χ₁ = σ_w² ∫Dz φ'(√q* z)² (Poole et al. 2016, eq. 7; Schoenholz et al. 2017, eq. 5).

    χ₁ is the factor by which the mean squared gradient is multiplied per layer on the way back
    (Schoenholz et al. 2017, §5): χ₁ < 1 ordered phase (gradients vanish), χ₁ > 1 chaotic (they explode),
    χ₁ = 1 the edge of chaos. For ReLU, χ₁ = σ_w²/2 whatever q*.
    """
    act, sw, sb = mean_field_args(activation, sigma_w, sigma_b)
    if act == "relu":
        return sw**2 / 2
    if act == "linear":
        return sw**2
    q = q_star(act, sw, sb)
    return sw**2 * gaussian_expectation(lambda z: ACTIVATION_TABLE[act].dphi(np.sqrt(q) * z) ** 2)


def critical_sigma_w(activation: str, sigma_b: float) -> float:
    """The σ_w at which χ₁ = 1 for a given σ_b: the order-to-chaos transition (Poole et al. 2016, Fig. 2).

    tanh with σ_b = 0 is critical at σ_w = 1; ReLU at σ_w = √2 (He et al. 2015's initialization).
    Found by bisection on χ₁(σ_w) − 1 for tanh.
    """
    act = one_of("activation", activation, MEAN_FIELD_ACTIVATIONS)
    sb = real("sigma_b", sigma_b, nonnegative=True)
    if act == "relu":
        return math.sqrt(2.0)
    if act == "linear" or sb == 0:
        return 1.0  # tanh, σ_b = 0: q* = 0 and χ₁ = σ_w² for σ_w ≤ 1, q* > 0 beyond (Poole et al. 2016, §3)
    lo, hi = 0.5, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if chi1(act, mid, sb) < 1:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def gradient_depth_scale(activation: str, sigma_w: float, sigma_b: float) -> float:
    """ξ_∇ = −1/log χ₁: the number of layers over which the mean squared gradient changes by e
    (Schoenholz et al. 2017, eq. 13). Infinite at the critical point.
    """
    c = chi1(activation, sigma_w, sigma_b)
    return math.inf if abs(c - 1.0) < 1e-12 else -1.0 / math.log(c)


def backward_gain(activation: str, sigma_w: float, q: float) -> float:
    """σ_w² ∫Dz φ'(√q z)²: the factor by which one layer multiplies the mean squared back-propagated gradient.

    For a wide layer s = W h + b with W_ij ~ N(0, σ_w²/n_in) and pre-activations s_i ~ N(0, q), the vector
    u = Wᵀ diag(φ'(s)) v that backpropagation passes down satisfies E‖u‖² = σ_w² E[φ'(s)²] ‖v‖². This is
    χ₁ of Poole et al. (2016), eq. (7), and Schoenholz et al. (2017), §5, evaluated at the layer's own q instead
    of the fixed point q*. Linear: σ_w² (for any q); ReLU: σ_w²/2 for q > 0 (half the units pass the gradient)
    and 0 for q = 0 (ReLU'(0) = 0); tanh: by Gauss–Hermite quadrature, → σ_w² as q → 0.
    """
    act = one_of("activation", activation, MEAN_FIELD_ACTIVATIONS)
    sw = real("sigma_w", sigma_w, positive=True)
    q = real("q", q, nonnegative=True)
    if act == "linear":
        return sw**2
    if act == "relu":
        return sw**2 / 2 if q > 0 else 0.0
    return sw**2 * gaussian_expectation(lambda z: ACTIVATION_TABLE[act].dphi(np.sqrt(q) * z) ** 2)


def backward_gain_profile(activation: str, sigma_w: float, sigma_b: float, depth: int,
                          q_in: float = 1.0) -> np.ndarray:
    """The per-layer gains χ_1 … χ_L of :func:`backward_gain` along the forward pass of a deep random network.

    Layer l has pre-activation variance q_l, from q_1 = σ_w² q_in + σ_b² (q_in: the mean squared entry of
    the input) and the length map q_{l+1} = σ_w² ∫Dz φ(√q_l z)² + σ_b² (Poole et al. 2016, eq. 3); its gain is
    χ_l = σ_w² ∫Dz φ'(√q_l z)². The cumulative product Π_{l≤L} χ_l predicts the mean squared singular value
    ‖∂h_L/∂x‖_F² / n_L of the input–output Jacobian J_L ⋯ J_1, J_l = diag(φ'(s_l)) W_l, of a wide network with
    W_ij ~ N(0, σ_w²/n) and b_i ~ N(0, σ_b²) (Pennington, Schoenholz & Ganguli 2017, §2; Schoenholz et al.
    2017, §5) — the depth profile, including the transient before q_l reaches its fixed point q*, where
    χ_l → :func:`chi1`. Returns a float array of length ``depth``.
    """
    act, sw, sb = mean_field_args(activation, sigma_w, sigma_b)
    n = positive_int("depth", depth)
    q = sw**2 * real("q_in", q_in, nonnegative=True) + sb**2
    if act != "tanh":  # the gain does not depend on q (ReLU: only on q > 0, which the length map preserves)
        return np.full(n, backward_gain(act, sw, q))
    gains = np.empty(n)
    for layer in range(n):
        gains[layer] = backward_gain(act, sw, q)
        q = q_map(act, q, sw, sb)
    return gains
