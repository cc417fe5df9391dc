"""Model builders and weight-initialization schemes.

``mlp`` builds the fully connected networks used across the course; ``init_``
re-initializes any model's weight matrices with one of the schemes the
initialization chapter compares:

- ``standard`` — Glorot & Bengio (2010) eq. (1): W ~ U[−1/√n, 1/√n], n = fan-in.
  (PyTorch's default ``nn.Linear`` weight init is exactly this distribution.)
- ``xavier_uniform`` / ``xavier_normal`` — Glorot & Bengio (2010) eq. (16):
  Var W = 2/(n_in + n_out).
- ``he_normal`` / ``he_uniform`` — He et al. (2015) eq. (10): Var W = 2/n_in.
- ``orthogonal`` — Saxe, McClelland & Ganguli (2013): a random orthogonal matrix (times ``gain``).
- ``normal`` — the mean-field parameterization of Poole et al. (2016):
  W ~ N(0, σ_w²/n_in), b ~ N(0, σ_b²).

Biases are set to zero except under ``normal`` (σ_b).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import one_of, positive_int, real

__all__ = ["ACTIVATIONS", "INIT_SCHEMES", "NORMS", "activation", "mlp", "init_", "ResidualBlock"]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "linear": nn.Identity,
}
INIT_SCHEMES = ("standard", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "orthogonal", "normal")
NORMS = ("none", "batch", "layer")


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of ``ACTIVATIONS``)."""
    return ACTIVATIONS[one_of("activation", name, ACTIVATIONS)]()


def _norm(kind: str, width: int) -> nn.Module | None:
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "layer":
        return nn.LayerNorm(width)
    return None


class ResidualBlock(nn.Module):
    """x ↦ x + F(x) with F = Linear → [norm] → activation (He et al. 2016, eq. 1).

    The Jacobian is I + ∂F/∂x, so the identity path carries the gradient past F.
    """

    def __init__(self, width: int, act: str = "relu", norm: str = "none"):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.norm = _norm(norm, width) or nn.Identity()
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.norm(self.fc(x)))


def mlp(depth: int, width: int, in_dim: int, out_dim: int, activation: str = "relu", init: str = "standard",
        norm: str | None = None, residual: bool = False, seed: int | None = 0, **init_kw) -> nn.Sequential:
    """A fully connected network with ``depth`` hidden layers of ``width`` units and a linear output layer.

    Each hidden layer is Linear → [BatchNorm/LayerNorm] → activation (normalization before the
    nonlinearity, as in Ioffe & Szegedy 2015). So ``depth`` counts the hidden layers and the network has
    ``depth + 1`` weight matrices. The seed document's Keras network (a Dense(64) input layer, ten more
    Dense(64) layers and a Dense(1) output) is ``mlp(11, 64, 20, 1, activation="sigmoid")``.

    With ``residual=True`` every hidden layer after the first is a :class:`ResidualBlock`.
    Layers are named ``fc1 … fc{depth}``, ``norm1 …``, ``act1 …`` and ``out``; residual blocks ``block2 …``.
    Weights are set with :func:`init_` (``init`` and ``init_kw``); ``seed`` makes them reproducible.
    """
    depth = positive_int("depth", depth)
    width = positive_int("width", width)
    in_dim = positive_int("in_dim", in_dim)
    out_dim = positive_int("out_dim", out_dim)
    one_of("activation", activation, ACTIVATIONS)
    one_of("init", init, INIT_SCHEMES)
    norm = "none" if norm is None else one_of("norm", norm, NORMS)
    if not isinstance(residual, bool):
        raise TypeError(f"residual must be True or False, got {residual!r}")

    layers: dict[str, nn.Module] = {}
    layers["fc1"] = nn.Linear(in_dim, width)
    if norm != "none":
        layers["norm1"] = _norm(norm, width)
    layers["act1"] = ACTIVATIONS[activation]()
    for i in range(2, depth + 1):
        if residual:
            layers[f"block{i}"] = ResidualBlock(width, activation, norm)
            continue
        layers[f"fc{i}"] = nn.Linear(width, width)
        if norm != "none":
            layers[f"norm{i}"] = _norm(norm, width)
        layers[f"act{i}"] = ACTIVATIONS[activation]()
    layers["out"] = nn.Linear(width, out_dim)
    model = nn.Sequential()
    for name, module in layers.items():
        model.add_module(name, module)
    return init_(model, init, seed=seed, **init_kw)


def _weighted(model: nn.Module):
    """Modules with a weight matrix or filter bank (weight of 2+ dims), and their bias."""
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, nn.Parameter) and weight.dim() >= 2:
            yield module, weight, getattr(module, "bias", None)


def init_(model: nn.Module, scheme: str, *, seed: int | None = None, gain: float = 1.0,
          sigma_w: float = 1.0, sigma_b: float = 0.0) -> nn.Module:
    """Re-initialize, in place, every weight matrix or conv filter bank of ``model``; return ``model``.

    ``scheme`` is one of ``INIT_SCHEMES`` (see the module docstring for the formulas). ``gain``
    multiplies the standard deviation for the ``xavier_*`` and ``orthogonal`` schemes; ``sigma_w`` and
    ``sigma_b`` are the mean-field parameters of ``normal``. Normalization layers keep γ=1, β=0.
    ``seed`` (optional) draws from a private generator so the result does not depend on global state.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"init_ expects a torch.nn.Module, got {type(model).__name__}")
    one_of("scheme", scheme, INIT_SCHEMES)
    gain = real("gain", gain, positive=True)
    sigma_w = real("sigma_w", sigma_w, nonnegative=True)
    sigma_b = real("sigma_b", sigma_b, nonnegative=True)
    gen = None
    if seed is not None:
        gen = torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))
    found = False
    with torch.no_grad():
        for _, weight, bias in _weighted(model):
            found = True
            fan_out, fan_in = weight.shape[0], weight[0].numel()
            if scheme == "standard":
                bound = 1.0 / math.sqrt(fan_in)
                weight.uniform_(-bound, bound, generator=gen)
            elif scheme == "xavier_uniform":
                bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
                weight.uniform_(-bound, bound, generator=gen)
            elif scheme == "xavier_normal":
                weight.normal_(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator=gen)
            elif scheme == "he_normal":
                weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=gen)
            elif scheme == "he_uniform":
                bound = math.sqrt(6.0 / fan_in)
                weight.uniform_(-bound, bound, generator=gen)
            elif scheme == "orthogonal":
                flat = torch.randn(max(fan_out, fan_in), min(fan_out, fan_in), generator=gen)
                q, r = torch.linalg.qr(flat)
                q = q * torch.sign(torch.diagonal(r))  # Haar-uniform (Mezzadri 2007)
                if fan_out < fan_in:
                    q = q.T
                weight.copy_(gain * q.reshape(weight.shape))
            else:  # normal (mean field)
                weight.normal_(0.0, sigma_w / math.sqrt(fan_in), generator=gen)
            if isinstance(bias, nn.Parameter):
                if scheme == "normal" and sigma_b > 0:
                    bias.normal_(0.0, sigma_b, generator=gen)
                else:
                    bias.zero_()
    if not found:
        raise ValueError(f"init_ found no weight matrix in {type(model).__name__} to initialize")
    return model
