"""Closed-form predictions the chapters put beside their measurements (NumPy only; nothing here imports torch
at import time).

One module per idea:

- :mod:`.bounds` — sup φ′ and the chain rule: (γ‖W‖)^L, the scalar chain's derivative, the RNN bound;
- :mod:`.variance` — how one layer scales the variance of signals and gradients (Glorot & Bengio; He et al.),
  with and without a normalization layer;
- :mod:`.meanfield` — the length map q, its fixed point q*, χ₁ and the per-layer gains (Poole et al.;
  Schoenholz et al.);
- :mod:`.saturation` — where a bounded activation saturates and which fraction of a layer does;
- :mod:`.spectrum` — moments of a deep network's Jacobian spectrum and its measured singular values;
- :mod:`.gan` — the generator's two losses as functions of the discriminator's logit.

Every name is importable from ``gvcourse.theory`` itself, as the chapters do (``theory.variance_factor``).
"""

from .bounds import (
                     DERIVATIVE_MAX,
                     chain_derivative,
                     chain_product_bound,
                     derivative_max,
                     rnn_grad_bound,
                     sigmoid_grad_bound,
)
from .gan import GAN_LOSSES, generator_logit_grad, generator_loss_of_logit
from .meanfield import (
                     MEAN_FIELD_ACTIVATIONS,
                     backward_gain,
                     backward_gain_profile,
                     chi1,
                     critical_sigma_w,
                     gradient_depth_scale,
                     q_map,
                     q_star,
)
from .saturation import SATURATING_ACTIVATIONS, SATURATION_LEVEL, saturated_fraction, saturation_threshold
from .spectrum import JACOBIAN_WEIGHTS, JacobianMoments, jacobian_singular_values, jacobian_spectrum_moments
from .variance import (
                     NORM_GAIN_ACTIVATIONS,
                     VARIANCE_ACTIVATIONS,
                     VarianceFactor,
                     normalized_backward_gain,
                     variance_factor,
)

__all__ = [
    "DERIVATIVE_MAX", "derivative_max", "sigmoid_grad_bound", "chain_product_bound",
    "VarianceFactor", "variance_factor", "VARIANCE_ACTIVATIONS", "MEAN_FIELD_ACTIVATIONS", "q_map", "q_star", "chi1",
    "critical_sigma_w", "gradient_depth_scale",
    "chain_derivative", "backward_gain", "backward_gain_profile",
    "SATURATION_LEVEL", "SATURATING_ACTIVATIONS", "saturation_threshold", "saturated_fraction",
    "NORM_GAIN_ACTIVATIONS", "normalized_backward_gain",
    "JACOBIAN_WEIGHTS", "JacobianMoments", "jacobian_spectrum_moments", "jacobian_singular_values",
    "rnn_grad_bound", "GAN_LOSSES", "generator_loss_of_logit", "generator_logit_grad",
]
