"""Bounds on products of derivatives: the chain rule through many layers and through time.

Hochreiter (1991); Bengio, Simard & Frasconi (1994); Pascanu, Mikolov & Bengio (2013).
"""

from __future__ import annotations

from .._checks import one_of, positive_int, real
from ..activations import ACTIVATION_TABLE, scalar_phi_and_slope

__all__ = ["DERIVATIVE_MAX", "derivative_max", "sigmoid_grad_bound", "chain_product_bound", "chain_derivative",
           "rnn_grad_bound"]

#: sup_x |φ'(x)| for the classic activations: σ'(0) = 1/4, tanh'(0) = 1, ReLU' = 1 for x > 0
#: (from gvcourse.activations).
DERIVATIVE_MAX = {name: ACTIVATION_TABLE[name].derivative_max for name in ("sigmoid", "tanh", "relu", "linear")}


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


def chain_derivative(activation: str, weight: float, depth: int, h0: float = 0.5) -> float:
    """dh_L/dh_0 = Π_{l=1}^{L} w φ'(s_l) for the scalar chain h_l = φ(s_l), s_l = w h_{l−1}, started at h_0.

    The chain rule for a composition of L one-unit layers: each link contributes its local derivative
    ∂h_l/∂h_{l−1} = w φ'(s_l), and the derivative of the whole chain is their product — the scalar case of
    Pascanu, Mikolov & Bengio (2013), eq. (5), ∂x_t/∂x_k = Π ∂x_i/∂x_{i−1}, and of Bengio, Simard & Frasconi
    (1994)'s analysis. Computed by running the chain forward in double precision; ``depth = 0`` gives 1
    (the empty product). Its absolute value never exceeds :func:`chain_product_bound` (γ|w|)^L.
    """
    act = one_of("activation", activation, DERIVATIVE_MAX)
    w = real("weight", weight)
    n = positive_int("depth", depth, minimum=0)
    h = real("h0", h0)
    product = 1.0
    for _ in range(n):
        h, slope = scalar_phi_and_slope(act, w * h)
        product *= w * slope
    return product


def rnn_grad_bound(gamma: float, sigma_max: float, t: int) -> float:
    """(γ σ_max)^t: an upper bound on ‖∂h_t/∂h_0‖₂ for the vanilla RNN h_t = φ(W_hh h_{t−1} + W_ih x_t + b).

    Each step's Jacobian is diag(φ'(s_t)) W_hh, of spectral norm at most γ σ_max with γ = sup|φ'| (1 for tanh,
    1/4 for the sigmoid, :func:`derivative_max`) and σ_max the largest singular value of W_hh; the norm of a
    product is at most the product of the norms (Pascanu, Mikolov & Bengio 2013, eq. 7). Hence their
    *sufficient* condition for vanishing, λ₁ < 1/γ with λ₁ = σ_max, and the *necessary* condition for exploding,
    λ₁ > 1/γ. ``t = 0`` gives 1.
    """
    g = real("gamma", gamma, nonnegative=True)
    s = real("sigma_max", sigma_max, nonnegative=True)
    return (g * s) ** positive_int("t", t, minimum=0)
