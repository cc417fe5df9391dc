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
    "chain_derivative", "backward_gain", "backward_gain_profile",
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


# --- The chain rule through many layers (Bengio et al. 1994; Pascanu et al. 2013; Poole et al. 2016) -------------

def _scalar_phi_dphi(act: str, s: float) -> tuple[float, float]:
    """φ(s) and φ'(s) in double precision for the activations of :data:`DERIVATIVE_MAX` (ReLU'(0) = 0, as in torch)."""
    if act == "sigmoid":
        e = math.exp(-abs(s))  # stable for large |s|
        y = 1.0 / (1.0 + e) if s >= 0 else e / (1.0 + e)
        return y, y * (1.0 - y)
    if act == "tanh":
        y = math.tanh(s)
        return y, 1.0 - y * y
    if act == "relu":
        return (s, 1.0) if s > 0 else (0.0, 0.0)
    return s, 1.0


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
        h, slope = _scalar_phi_dphi(act, w * h)
        product *= w * slope
    return product


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
    return sw**2 * _gauss(lambda z: _dphi(act, np.sqrt(q) * z) ** 2)


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
    act, sw, sb = _mf_args(activation, sigma_w, sigma_b)
    n = positive_int("depth", depth)
    q = sw**2 * real("q_in", q_in, nonnegative=True) + sb**2
    if act != "tanh":  # the gain does not depend on q (ReLU: only on q > 0, which the length map preserves)
        return np.full(n, backward_gain(act, sw, q))
    gains = np.empty(n)
    for layer in range(n):
        gains[layer] = backward_gain(act, sw, q)
        q = q_map(act, q, sw, sb)
    return gains


# --- Saturation of bounded activations (Glorot & Bengio 2010, §3) -------------------------------------------------

#: A unit counts as saturated where φ'(s) < SATURATION_LEVEL · sup φ' — the same rule as gvcourse.monitor.
SATURATION_LEVEL = 0.05
SATURATING_ACTIVATIONS = ("sigmoid", "tanh")


def _level(level: float) -> float:
    c = real("level", level)
    if not 0.0 < c < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {c:g}")
    return c


def saturation_threshold(activation: str, level: float = SATURATION_LEVEL) -> float:
    """The |s| beyond which φ'(s) < level · sup φ', for φ = sigmoid or tanh.

    tanh'(s) = 1 − tanh²(s) < c  ⇔  |s| > artanh(√(1 − c));
    σ'(s) = σ(s)(1 − σ(s)) < c/4  ⇔  |s| > 2 artanh(√(1 − c)), because σ(s) = (1 + tanh(s/2))/2 gives
    σ'(s) = tanh'(s/2)/4. With the default level 0.05 (the rule ``gvcourse.monitor.GradientFlow`` uses for its
    saturated fraction) the thresholds are |s| ≈ 2.18 for tanh and ≈ 4.36 for the sigmoid. Saturation in this
    sense is what Glorot & Bengio (2010, §3) watch in their Figures 2–4.
    """
    act = one_of("activation", activation, SATURATING_ACTIVATIONS)
    t = math.atanh(math.sqrt(1.0 - _level(level)))
    return 2.0 * t if act == "sigmoid" else t


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


__all__ += ["SATURATION_LEVEL", "SATURATING_ACTIVATIONS", "saturation_threshold", "saturated_fraction"]


# --- Normalization layers (Ioffe & Szegedy 2015; Ba, Kiros & Hinton 2016; Yang et al. 2019) ----------------------

NORM_GAIN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")


def _norm_gain_moments(act: str) -> tuple[float, float, float]:
    """(E[φ′(z)²], E[φ(z)], E[φ(z)²]) for z ~ N(0, 1); ReLU in closed form, the others by quadrature."""
    if act == "relu":
        return 0.5, 1.0 / math.sqrt(2.0 * math.pi), 0.5
    if act == "linear":
        return 1.0, 0.0, 1.0
    if act == "tanh":
        phi, dphi = np.tanh, (lambda t: 1.0 / np.cosh(t) ** 2)
    else:
        phi = lambda t: 1.0 / (1.0 + np.exp(-t))  # noqa: E731
        dphi = lambda t: phi(t) * (1.0 - phi(t))  # noqa: E731
    return _gauss(lambda t: dphi(t) ** 2), _gauss(phi), _gauss(lambda t: phi(t) ** 2)


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


__all__ += ["NORM_GAIN_ACTIVATIONS", "normalized_backward_gain"]


# --- Jacobian spectra and dynamical isometry (Saxe et al. 2013; Pennington, Schoenholz & Ganguli 2017) ----------

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
    d2 = _dphi(act, np.sqrt(q) * _GH_NODES) ** 2
    return float(np.sum(_GH_WEIGHTS * d2)), float(np.sum(_GH_WEIGHTS * d2**2))


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
    act, sw, sb = _mf_args(activation, sigma_w, sigma_b)
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
    import torch  # torch is optional for gvcourse.theory; only this function needs it

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


__all__ += ["JACOBIAN_WEIGHTS", "JacobianMoments", "jacobian_spectrum_moments", "jacobian_singular_values"]


# --- Recurrent networks and GANs (Pascanu, Mikolov & Bengio 2013; Goodfellow et al. 2014) ------------------------

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


GAN_LOSSES = ("minimax", "non_saturating")


def _logit_array(logit):
    if isinstance(logit, np.ndarray):
        if not np.issubdtype(logit.dtype, np.number) or np.iscomplexobj(logit):
            raise TypeError(f"logit must be a real number or a real NumPy array, got dtype {logit.dtype}")
        a = logit.astype(float)
        if not np.all(np.isfinite(a)):
            raise ValueError("logit must be finite")
        return a, True
    return real("logit", logit), False


def _sigmoid_np(a):
    e = np.exp(-np.abs(a))  # stable for large |a|
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def generator_loss(logit, loss: str = "non_saturating"):
    """The generator's loss at a fake sample as a function of the discriminator's logit a, D = σ(a).

    Both are *minimised* by the generator (Goodfellow et al. 2014, §3 and eq. 1):

    - ``"minimax"``: log(1 − σ(a)) = −softplus(a) — the minimax game's term, which the generator minimises;
    - ``"non_saturating"``: −log σ(a) = softplus(−a) — the alternative Goodfellow et al. recommend, which
      "provides much stronger gradients early in learning".

    ``logit`` is a real number (returns a float) or a NumPy array (returns an array).
    """
    one_of("loss", loss, GAN_LOSSES)
    a, is_array = _logit_array(logit)
    value = -np.logaddexp(0.0, a) if loss == "minimax" else np.logaddexp(0.0, -a)
    return value if is_array else float(value)


def generator_logit_grad(logit, loss: str = "non_saturating"):
    """d/da of :func:`generator_loss`: the gradient the generator's loss sends back into the discriminator's logit.

    - ``"minimax"``: d/da log(1 − σ(a)) = −σ(a), which → 0 like −e^a as a → −∞ — exactly when the discriminator
      confidently rejects a fake (D(G(z)) = σ(a) → 0), the loss *saturates* and the generator learns nothing
      (Goodfellow et al. 2014, §3; Arjovsky & Bottou 2017, §2.2.1);
    - ``"non_saturating"``: d/da (−log σ(a)) = −(1 − σ(a)), which → −1 as a → −∞.

    Their ratio minimax / non-saturating is σ(a)/(1 − σ(a)) = e^a (so non-saturating / minimax = e^(−a)): at
    a = −10 the minimax gradient is 4.5 × 10⁻⁵ of the non-saturating one. Both are negative, so gradient descent
    on either raises the logit of the fake — the generator pushes D(G(z)) up. Real number → float, array → array.
    """
    one_of("loss", loss, GAN_LOSSES)
    a, is_array = _logit_array(logit)
    value = -_sigmoid_np(a) if loss == "minimax" else -_sigmoid_np(-a)  # 1 − σ(a) = σ(−a), without cancellation
    return value if is_array else float(value)


__all__ += ["rnn_grad_bound", "GAN_LOSSES", "generator_loss", "generator_logit_grad"]
