"""Jacobian spectra and dynamical isometry (Saxe, McClelland & Ganguli 2013; Pennington, Schoenholz & Ganguli 2017)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._checks import one_of, positive_int
from ..activations import ACTIVATION_TABLE
from .meanfield import GAUSS_NODES, GAUSS_WEIGHTS, mean_field_args, q_star

__all__ = ["JACOBIAN_WEIGHTS", "JacobianMoments", "jacobian_spectrum_moments", "jacobian_singular_values"]

#: s₁, the first coefficient of the S-transform of W Wᵀ (for W with unit mean squared singular value):
#: −1 for Gaussian weights (Marchenko–Pastur), 0 for orthogonal weights (all singular values equal).
JACOBIAN_WEIGHTS = {"gaussian": -1.0, "orthogonal": 0.0}


@dataclass(frozen=True)
class JacobianMoments:
    """Mean and variance of the squared singular values λ of a deep network's input–output Jacobian."""

    mean: float
    variance: float

    @property
    def relative_variance(self) -> float:
        """Var[λ]/E[λ]²: the spread of the spectrum whatever its overall scale (0 for an exact isometry)."""
        return self.variance / self.mean**2 if self.mean > 0 else math.nan


def _derivative_moments(act: str, q: float) -> tuple[float, float]:
    """μ₁ = ∫Dz φ'(√q z)² and μ₂ = ∫Dz φ'(√q z)⁴ (ReLU: both 1/2; linear: both 1)."""
    if act == "relu":
        return 0.5, 0.5
    if act == "linear":
        return 1.0, 1.0
    d2 = ACTIVATION_TABLE[act].dphi(np.sqrt(q) * GAUSS_NODES) ** 2
    return float(np.sum(GAUSS_WEIGHTS * d2)), float(np.sum(GAUSS_WEIGHTS * d2**2))


def jacobian_spectrum_moments(activation: str, sigma_w: float, sigma_b: float, depth: int,
                              weights: str = "gaussian") -> JacobianMoments:
    """Mean and variance of λ = σ², the squared singular values of J = ∂h_L/∂h_0, for a wide random network.

    J = D_L W_L ⋯ D_1 W_1 with D_l = diag(φ'(s_l)), pre-activations at the fixed point q* of the length map,
    W_l Gaussian with variance σ_w²/n or σ_w times a random orthogonal matrix. In the wide limit the layers are
    asymptotically free (Pennington, Schoenholz & Ganguli 2017, who compute the whole spectrum with free
    probability); for free factors the means multiply and the *normalized* variances (variance / mean²) add,
    which gives the two moments they use to compare initializations:

        mean = χ₁^L,    variance = mean² · L · (μ₂/μ₁² − 1 − s₁),

    with μ_k = ∫Dz φ'(√q* z)^{2k}, χ₁ = σ_w² μ₁ (:func:`chi1`), s₁ = −1 for Gaussian and 0 for orthogonal weights
    (:data:`JACOBIAN_WEIGHTS`); ``relative_variance`` = L · (μ₂/μ₁² − 1 − s₁) does not depend on χ₁, and is
    the statistic to compare with one finite network, whose overall scale fluctuates from input to input.
    Deep linear networks with orthogonal weights have variance 0 — every singular value is 1, the dynamical
    isometry of Saxe, McClelland & Ganguli (2013). ReLU has μ₂/μ₁² = 2, so at criticality the variance is 2L
    (Gaussian) or L (orthogonal): it grows with depth whatever the weights. tanh on the critical line with small
    q* has μ₂/μ₁² ≈ 1: variance ≈ L for Gaussian, ≈ 0 for orthogonal weights.
    """
    act, sw, sb = mean_field_args(activation, sigma_w, sigma_b)
    n = positive_int("depth", depth)
    s1 = JACOBIAN_WEIGHTS[one_of("weights", weights, JACOBIAN_WEIGHTS)]
    q = q_star(act, sw, sb) if act == "tanh" else 1.0  # ReLU and linear: the moments do not depend on q
    mu1, mu2 = _derivative_moments(act, q)
    mean = (sw**2 * mu1) ** n
    return JacobianMoments(mean=mean, variance=mean**2 * n * (mu2 / mu1**2 - 1.0 - s1))


def jacobian_singular_values(model, x) -> np.ndarray:
    """Singular values (largest first, float64 NumPy array) of the input–output Jacobian ∂model(x)/∂x at one input.

    ``model`` is any ``torch.nn.Module`` mapping a batch of vectors to a batch of vectors (put models with
    BatchNorm or dropout in eval mode first); ``x`` is one input, a tensor of shape (n,) or (1, n). The Jacobian
    is computed in ``x``'s dtype with ``torch.autograd.functional.jacobian`` (use float64 to compare with theory).
    Saxe, McClelland & Ganguli (2013) and Pennington, Schoenholz & Ganguli (2017) study this spectrum at
    initialization: gradients reach the input undistorted when all singular values are near 1.
    """
    import torch  # imported here, not at the top, so that the closed forms above stay a NumPy-only layer

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"jacobian_singular_values expects a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor holding one input, got {type(x).__name__}")
    if not (x.dim() == 1 or (x.dim() == 2 and x.shape[0] == 1)) or x.numel() == 0:
        raise ValueError(f"x must be one input of shape (n,) or (1, n), got shape {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    flat = x.detach().reshape(-1)

    def f(v: torch.Tensor) -> torch.Tensor:
        return model(v.unsqueeze(0)).reshape(-1)

    jac = torch.autograd.functional.jacobian(f, flat, vectorize=True)
    return torch.linalg.svdvals(jac.detach()).double().numpy()
