"""Closed-form predictions the chapters put beside their measurements."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._checks import one_of, positive_int, real

__all__ = [
    "DERIVATIVE_MAX", "derivative_max", "sigmoid_grad_bound", "chain_product_bound",
    "VarianceFactor", "variance_factor", "MEAN_FIELD_ACTIVATIONS", "q_map", "q_star", "chi1", "critical_sigma_w",
    "gradient_depth_scale",
]

#: sup_x |φ'(x)| for the classic activations: σ'(0) = 1/4, tanh'(0) = 1, ReLU' = 1 for x > 0.
DERIVATIVE_MAX = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "linear": 1.0}


def derivative_max(activation: str) -> float:
    """sup_x |φ'(x)|: 1/4 for sigmoid (at x = 0), 1 for tanh (at x = 0), 1 for ReLU and linear."""
    return DERIVATIVE_MAX[one_of("activation", activation, DERIVATIVE_MAX)]


def sigmoid_grad_bound(depth: int) -> float:
    """Upper bound (1/4)^L on the product of L sigmoid derivatives σ'(s₁)…σ'(s_L).

    Since σ'(s) = σ(s)(1 − σ(s)) ≤ 1/4, a gradient passed back through L sigmoids (with unit
    weights) shrinks by at least this factor: the arithmetic core of the vanishing-gradient
    problem (Hochreiter 1991; Bengio, Simard & Frasconi 1994).
    """
    return 0.25 ** positive_int("depth", depth, minimum=0)


def chain_product_bound(activation: str, weight_norm: float, depth: int) -> float:
    """(γ · ‖W‖)^L: a bound on ‖∂h_L/∂h_0‖ for h_l = φ(W h_{l−1}) with γ = sup|φ'|.

    Each layer's Jacobian is diag(φ'(s)) W, whose spectral norm is at most γ‖W‖₂, and the
    norm of a product is at most the product of norms (Pascanu, Mikolov & Bengio 2013, eq. 7).
    """
    w = real("weight_norm", weight_norm, nonnegative=True)
    return (derivative_max(activation) * w) ** positive_int("depth", depth, minimum=0)


# --- Variance propagation (Glorot & Bengio 2010; He et al. 2015) -------------------------------------------------

#: φ'(0)² — the slope of each activation in its linear regime, squared — and the fraction of the
#: pre-activation variance that survives φ in the forward direction (E[φ(s)²]/Var s for s ~ N(0, q), q small).
_LINEAR_REGIME = {"tanh": (1.0, 1.0), "sigmoid": (1 / 16, 1 / 16), "relu": (0.5, 0.5), "linear": (1.0, 1.0)}
_INIT_VARIANCE = {
    "standard": lambda n_in, n_out: 1.0 / (3.0 * n_in),
    "xavier_uniform": lambda n_in, n_out: 2.0 / (n_in + n_out),
    "xavier_normal": lambda n_in, n_out: 2.0 / (n_in + n_out),
    "he_normal": lambda n_in, n_out: 2.0 / n_in,
    "he_uniform": lambda n_in, n_out: 2.0 / n_in,
    "orthogonal": lambda n_in, n_out: 1.0 / max(n_in, n_out),
}


@dataclass(frozen=True)
class VarianceFactor:
    """Per-layer multipliers of the activation variance (forward) and the gradient variance (backward)."""

    weight_variance: float
    forward: float
    backward: float


def variance_factor(activation: str, init: str, fan_in: int, fan_out: int | None = None) -> VarianceFactor:
    """How much one layer multiplies the variance of activations (forward) and of gradients (backward).

    Glorot & Bengio (2010), eqs. (5)–(6) in the linear regime of φ: with Var[W] = v,
    forward Var[s_{l+1}] = n_in · v · c · Var[s_l] and backward Var[∂L/∂s_l] = n_out · v · c · Var[∂L/∂s_{l+1}],
    where c = φ'(0)² (1 for tanh, 1/16 for sigmoid). For ReLU, c = 1/2 because half the units are off
    (He et al. 2015, eqs. (8)–(10) and (13)). Standard init U[−1/√n, 1/√n] has v = 1/(3n), so with tanh
    each layer multiplies the gradient variance by 1/3 on the way down — Glorot & Bengio's Fig. 5;
    Xavier's v = 2/(n_in + n_out) makes both factors 1 when n_in = n_out; He's v = 2/n_in does it for ReLU.
    """
    one_of("activation", activation, _LINEAR_REGIME)
    one_of("init", init, _INIT_VARIANCE)
    n_in = positive_int("fan_in", fan_in)
    n_out = n_in if fan_out is None else positive_int("fan_out", fan_out)
    v = _INIT_VARIANCE[init](n_in, n_out)
    fwd_c, bwd_c = _LINEAR_REGIME[activation]
    return VarianceFactor(weight_variance=v, forward=n_in * v * fwd_c, backward=n_out * v * bwd_c)


# --- Mean field theory of deep random networks (Poole et al. 2016; Schoenholz et al. 2017) ----------------------

MEAN_FIELD_ACTIVATIONS = ("tanh", "relu", "linear")
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(121)
_GH_WEIGHTS = _GH_WEIGHTS / np.sqrt(2 * np.pi)  # ∫ Dz f(z) ≈ Σ w_i f(z_i), Dz the standard Gaussian measure


def _phi(act: str, x: np.ndarray) -> np.ndarray:
    return np.tanh(x) if act == "tanh" else np.maximum(x, 0.0) if act == "relu" else x


def _dphi(act: str, x: np.ndarray) -> np.ndarray:
    if act == "tanh":
        return 1.0 / np.cosh(x) ** 2
    return (x > 0).astype(float) if act == "relu" else np.ones_like(x)


def _gauss(f) -> float:
    """∫ Dz f(z) by Gauss–Hermite quadrature (121 nodes)."""
    return float(np.sum(_GH_WEIGHTS * f(_GH_NODES)))


def _mf_args(activation: str, sigma_w: float, sigma_b: float) -> tuple[str, float, float]:
    return (one_of("activation", activation, MEAN_FIELD_ACTIVATIONS), real("sigma_w", sigma_w, positive=True),
            real("sigma_b", sigma_b, nonnegative=True))


def q_map(activation: str, q: float, sigma_w: float, sigma_b: float) -> float:
    """The length map q_l = σ_w² ∫Dz φ(√q_{l−1} z)² + σ_b² (Poole et al. 2016, eq. 3)."""
    act, sw, sb = _mf_args(activation, sigma_w, sigma_b)
    q = real("q", q, nonnegative=True)
    return sw**2 * _gauss(lambda z: _phi(act, np.sqrt(q) * z) ** 2) + sb**2


def q_star(activation: str, sigma_w: float, sigma_b: float, q0: float = 1.0, tol: float = 1e-12,
           max_iter: int = 100_000) -> float:
    """The fixed point q* of :func:`q_map` reached from q0 — the squared length every input settles to.

    For ReLU the map is linear, q ↦ σ_w² q/2 + σ_b²: q* = σ_b²/(1 − σ_w²/2) for σ_w² < 2, and ``inf`` for
    σ_w² ≥ 2 with σ_b > 0 (or σ_w² > 2), where lengths grow without bound.
    """
    act, sw, sb = _mf_args(activation, sigma_w, sigma_b)
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
    act, sw, sb = _mf_args(activation, sigma_w, sigma_b)
    if act == "relu":
        return sw**2 / 2
    if act == "linear":
        return sw**2
    q = q_star(act, sw, sb)
    return sw**2 * _gauss(lambda z: _dphi(act, np.sqrt(q) * z) ** 2)


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
