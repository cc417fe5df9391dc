"""How one layer scales the variance of signals and gradients: Glorot & Bengio (2010), He et al. (2015), and the
same factor with a normalization layer in front of φ (Ioffe & Szegedy 2015; Ba, Kiros & Hinton 2016)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._checks import one_of, positive_int
from ..activations import ACTIVATION_TABLE
from .meanfield import gaussian_expectation

__all__ = ["VARIANCE_ACTIVATIONS", "VarianceFactor", "variance_factor", "NORM_GAIN_ACTIVATIONS",
           "normalized_backward_gain"]

#: The activations with a closed form here, in the order error messages list them.
VARIANCE_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")
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
    """How one layer maps the second moment of its input signal (forward) and of its gradient (backward).

    Forward, the pre-activations' second moment q_l = E[s_l²] is mapped to q_{l+1} ≈ forward · q_l + forward_offset;
    backward, Var[∂L/∂s_l] = backward · Var[∂L/∂s_{l+1}]. ``forward_offset`` is 0 for activations with mean 0 at
    s = 0 (tanh, linear) and for ReLU, whose E[φ(s)²] = q/2 has no constant part; for the sigmoid it is
    n_in·v/4, the square of its mean ½: the forward signal does not shrink by ``forward`` per layer but settles
    at :attr:`forward_fixed_point`.
    """

    weight_variance: float
    forward: float
    backward: float
    forward_offset: float = 0.0

    @property
    def forward_fixed_point(self) -> float:
        """The second moment q* = offset / (1 − forward) the forward map settles to (0 or inf without an offset)."""
        if self.forward >= 1.0:
            return math.inf if (self.forward > 1.0 or self.forward_offset > 0) else math.nan
        return self.forward_offset / (1.0 - self.forward)


def variance_factor(activation: str, init: str, fan_in: int, fan_out: int | None = None) -> VarianceFactor:
    """How much one layer multiplies the variance of activations (forward) and of gradients (backward).

    Glorot & Bengio (2010), eqs. (5)–(6), derived for a symmetric φ with φ(0) = 0 and φ'(0) = 1 in its linear
    regime: with Var[W] = v, forward Var[s_{l+1}] = n_in · v · c · Var[s_l] and backward
    Var[∂L/∂s_l] = n_out · v · c · Var[∂L/∂s_{l+1}], where c = E[φ'(s)²] in the linear regime
    (:data:`gvcourse.activations.ACTIVATION_TABLE`'s ``linear_gain``): 1 for tanh and linear, φ'(0)² = 1/16
    for the sigmoid; for ReLU, c = 1/2 because half the units are off (He et al. 2015, eqs. (8)–(10) and (13)).
    Standard init U[−1/√n, 1/√n] has v = 1/(3n), so with tanh each layer multiplies the gradient variance by
    1/3 on the way down — the shrinking back-propagated gradients of Glorot & Bengio's Fig. 7 (their
    activation histograms are Fig. 6); Xavier's v = 2/(n_in + n_out) makes both factors 1 when n_in = n_out;
    He's v = 2/n_in does it for ReLU.

    The sigmoid is not centred: σ(s) = ½ + s/4 + O(s³), so the next layer receives
    E[s_{l+1}²] = n_in · v · E[σ(s_l)²] ≈ n_in · v · (¼ + Var[s_l]/16). That is an affine map, not a factor:
    ``forward`` = n_in·v/16 is its slope and ``forward_offset`` = n_in·v/4 its intercept, so the measured RMS of a
    sigmoid network's pre-activations stays flat at √:attr:`~VarianceFactor.forward_fixed_point` instead of
    shrinking by ``forward`` per layer. The backward factor needs no such term: the gradient has mean 0.
    """
    one_of("activation", activation, VARIANCE_ACTIVATIONS)
    one_of("init", init, _INIT_VARIANCE)
    n_in = positive_int("fan_in", fan_in)
    n_out = n_in if fan_out is None else positive_int("fan_out", fan_out)
    v = _INIT_VARIANCE[init](n_in, n_out)
    c = ACTIVATION_TABLE[activation].linear_gain
    offset = n_in * v * 0.25 if activation == "sigmoid" else 0.0  # E[σ(s)]² = (1/2)²
    return VarianceFactor(weight_variance=v, forward=n_in * v * c, backward=n_out * v * c, forward_offset=offset)


NORM_GAIN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")


def _norm_gain_moments(act: str) -> tuple[float, float, float]:
    """(E[φ′(z)²], E[φ(z)], E[φ(z)²]) for z ~ N(0, 1); ReLU in closed form, the others by quadrature."""
    if act == "relu":
        return 0.5, 1.0 / math.sqrt(2.0 * math.pi), 0.5
    if act == "linear":
        return 1.0, 0.0, 1.0
    phi, dphi = ACTIVATION_TABLE[act].phi, ACTIVATION_TABLE[act].dphi
    return (gaussian_expectation(lambda t: dphi(t) ** 2), gaussian_expectation(phi),
            gaussian_expectation(lambda t: phi(t) ** 2))


def normalized_backward_gain(activation: str, norm: str) -> float:
    """Per-layer factor of the back-propagated gradient's *variance* in a deep, wide Linear → norm → φ network.

    Mean-field estimate, valid for wide layers, large batches and γ = 1, β = 0 (a network at initialization).
    The normalization divides each pre-activation by its standard deviation, and back-propagation divides the
    gradient by the same number, which cancels the weight scale. What remains depends only on φ, with z ~ N(0, 1):

    - ``norm="batch"`` (Ioffe & Szegedy 2015): χ = E[φ′(z)²] / Var[φ(z)]. The batch statistics remove each
      unit's mean over the batch, so only the *variance* of the previous layer's outputs sets the scale.
      For ReLU this is π/(π − 1) ≈ 1.47: gradients *grow* towards the input, the gradient explosion at
      initialization of Yang et al. (2019, §3).
    - ``norm="layer"`` (Ba, Kiros & Hinton 2016): χ = E[φ′(z)²] / E[φ(z)²]. Each example is normalized over its
      units; a nonzero mean of φ (the sigmoid's 1/2) enters the denominator and shrinks χ.
    - ``norm="none"`` is not covered: it depends on the weight scale (see :func:`variance_factor`, :func:`chi1`).

    The gradient *norm* changes by √χ per layer. ``activation`` is one of ``NORM_GAIN_ACTIVATIONS``.
    """
    act = one_of("activation", activation, NORM_GAIN_ACTIVATIONS)
    one_of("norm", norm, ("batch", "layer"))
    slope_sq, mean, second = _norm_gain_moments(act)
    return slope_sq / (second - mean**2 if norm == "batch" else second)
