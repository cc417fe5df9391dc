"""Closed-form predictions the chapters put beside their measurements."""

from __future__ import annotations

from ._checks import one_of, positive_int

__all__ = ["DERIVATIVE_MAX", "derivative_max", "sigmoid_grad_bound", "chain_product_bound"]

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
    from ._checks import real

    w = real("weight_norm", weight_norm, nonnegative=True)
    return (derivative_max(activation) * w) ** positive_int("depth", depth, minimum=0)
