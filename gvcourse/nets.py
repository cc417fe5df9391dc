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
from .activations import ACTIVATION_TABLE, refuse_removed_keywords

__all__ = ["ACTIVATIONS", "INIT_SCHEMES", "NORMS", "activation", "mlp", "mlp_layers", "init_", "ResidualBlock"]

#: ``{name: torch.nn class}`` for the activations ``mlp`` and the blocks offer (from gvcourse.activations).
ACTIVATIONS = {name: getattr(nn, ACTIVATION_TABLE[name].module)
               for name in ("relu", "tanh", "sigmoid", "leaky_relu", "prelu", "elu", "gelu", "linear")}
INIT_SCHEMES = ("standard", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "orthogonal", "normal")
NORMS = ("none", "batch", "layer")


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of ``ACTIVATIONS``)."""
    return ACTIVATIONS[one_of("activation", name, ACTIVATIONS)]()


_activation_module = activation  # ResidualBlock's argument ``activation`` shadows the function


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

    def __init__(self, width: int, activation: str = "relu", norm: str = "none", **removed):
        refuse_removed_keywords("ResidualBlock", removed)  # act= is gone: activation= is the one name
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.norm = _norm(norm, width) or nn.Identity()
        self.act = _activation_module(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.norm(self.fc(x)))


def mlp_layers(depth: int, width: int, in_dim: int, out_dim: int, activation: str = "relu", norm: str | None = None,
               residual: bool = False) -> nn.Sequential:
    """The layers of :func:`mlp`, left with PyTorch's default initialization (``mlp`` then applies :func:`init_`).

    Each nn.Linear draws its weights and biases from the global torch generator as it is built, in layer order;
    the GAN's generator and discriminator (:mod:`gvcourse.gan`) are these layers under a seeded generator.
    """
    depth = positive_int("depth", depth)
    width = positive_int("width", width)
    in_dim = positive_int("in_dim", in_dim)
    out_dim = positive_int("out_dim", out_dim)
    one_of("activation", activation, ACTIVATIONS)
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
    return model


def mlp(depth: int, width: int, in_dim: int, out_dim: int, activation: str = "relu", init: str = "standard",
        norm: str | None = None, residual: bool = False, seed: int | None = 0, **init_kw) -> nn.Sequential:
    """A fully connected network with ``depth`` hidden layers of ``width`` units and a linear output layer.

    Each hidden layer is Linear → [BatchNorm/LayerNorm] → activation (normalization before the
    nonlinearity, as in Ioffe & Szegedy 2015). So ``depth`` counts the hidden layers and the network has
    ``depth + 1`` weight matrices. The Keras explainer's network (a Dense(64) input layer, ten more
    Dense(64) layers and a Dense(1) output) is ``mlp(11, 64, 20, 1, activation="sigmoid")``.

    With ``residual=True`` every hidden layer after the first is a :class:`ResidualBlock`.
    Layers are named ``fc1 … fc{depth}``, ``norm1 …``, ``act1 …`` and ``out``; residual blocks ``block2 …``
    (:func:`mlp_layers`). Weights are set with :func:`init_` (``init`` and ``init_kw``); ``seed`` makes them
    reproducible.
    """
    one_of("init", init, INIT_SCHEMES)
    return init_(mlp_layers(depth, width, in_dim, out_dim, activation, norm, residual), init, seed=seed, **init_kw)


# --- Residual blocks and CNNs (normalization & residual chapters) ----------------------------------------------
# He et al. (2016a) "Deep residual learning", eq. (1) and Fig. 2; He et al. (2016b) "Identity mappings", Fig. 4(e).

BLOCK_STYLES = ("post", "pre")


def _norm2d(kind: str, channels: int) -> nn.Module:
    """BatchNorm2d, or LayerNorm over (C, H, W) as GroupNorm with one group (Ba et al. 2016), or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def _block_args(norm: str | None, activation: str, residual: bool, style: str) -> str:
    norm = "none" if norm is None else one_of("norm", norm, NORMS)
    one_of("activation", activation, ACTIVATIONS)
    one_of("style", style, BLOCK_STYLES)
    if not isinstance(residual, bool):
        raise TypeError(f"residual must be True or False, got {residual!r}")
    return norm


class _TwoLayerBlock(nn.Module):
    """Shared forward pass of :class:`BasicBlock` and :class:`ConvBlock` (submodules named …1, …2)."""

    residual: bool
    style: str

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.style == "post":  # y = φ(x + N₂(W₂ φ(N₁(W₁ x))))      (He et al. 2016a)
            f = self.norm2(self.layer2(self.act1(self.norm1(self.layer1(x)))))
            return self.act2(x + f if self.residual else f)
        # y = x + W₂ φ(N₂(W₁ φ(N₁(x))))                                  (He et al. 2016b, "full pre-activation")
        f = self.layer2(self.act2(self.norm2(self.layer1(self.act1(self.norm1(x))))))
        return x + f if self.residual else f

    def extra_repr(self) -> str:
        return f"residual={self.residual}, style={self.style!r}"


class BasicBlock(_TwoLayerBlock):
    """Two fully connected layers with an optional identity shortcut (He et al. 2016a, eq. 1 and Fig. 2).

    ``style="post"`` (the original ResNet): y = φ(x + N₂(W₂ φ(N₁(W₁ x)))); the activation comes *after*
    the addition, so the Jacobian is diag(φ′)·(I + ∂F/∂x).
    ``style="pre"`` (He et al. 2016b, Fig. 4e): y = x + W₂ φ(N₂(W₁ φ(N₁(x)))), whose Jacobian is exactly
    I + ∂F/∂x. ``residual=False`` drops the "+ x": the paper's *plain* counterpart with the same layers.
    ``norm`` is ``None``/``"none"``, ``"batch"`` or ``"layer"``. Submodules: ``layer1, norm1, act1, layer2,
    norm2, act2`` (``layer*`` are ``nn.Linear``).
    """

    def __init__(self, width: int, activation: str = "relu", norm: str | None = "batch", residual: bool = True,
                 style: str = "post"):
        super().__init__()
        width = positive_int("width", width)
        norm = _block_args(norm, activation, residual, style)
        self.residual, self.style = residual, style
        self.layer1 = nn.Linear(width, width)
        self.norm1 = _norm(norm, width) or nn.Identity()
        self.act1 = ACTIVATIONS[activation]()
        self.layer2 = nn.Linear(width, width)
        self.norm2 = _norm(norm, width) or nn.Identity()
        self.act2 = ACTIVATIONS[activation]()


class ConvBlock(_TwoLayerBlock):
    """Two 3×3 convolutions (stride 1, padding 1) with an optional identity shortcut (He et al. 2016a, Fig. 2).

    Same forward pass as :class:`BasicBlock` with ``layer*`` being ``nn.Conv2d(channels, channels, 3)``;
    ``norm="batch"`` is BatchNorm2d, ``"layer"`` normalizes each example over (C, H, W) (``GroupNorm(1, C)``).
    The convolutions have no bias when a normalization follows them (its shift β makes a bias redundant).
    """

    def __init__(self, channels: int, activation: str = "relu", norm: str | None = "batch", residual: bool = True,
                 style: str = "post"):
        super().__init__()
        channels = positive_int("channels", channels)
        norm = _block_args(norm, activation, residual, style)
        self.residual, self.style = residual, style
        bias = norm == "none"
        self.layer1 = nn.Conv2d(channels, channels, 3, padding=1, bias=bias)
        self.norm1 = _norm2d(norm, channels)
        self.act1 = ACTIVATIONS[activation]()
        self.layer2 = nn.Conv2d(channels, channels, 3, padding=1, bias=bias)
        self.norm2 = _norm2d(norm, channels)
        self.act2 = ACTIVATIONS[activation]()


def _blocks_for(depth: int) -> int:
    depth = positive_int("depth", depth, minimum=4)
    if depth % 2:
        raise ValueError(f"depth counts weight layers (input layer + 2 per block + output layer) and must be "
                         f"even, >= 4; got {depth}")
    return (depth - 2) // 2


def block_mlp(depth: int, width: int, in_dim: int, out_dim: int, residual: bool = False, norm: str | None = "batch",
              activation: str = "relu", init: str = "he_normal", style: str = "post", seed: int | None = 0,
              **init_kw) -> nn.Sequential:
    """A fully connected network made of :class:`BasicBlock` s, counted in weight layers as in He et al. (2016a).

    Layout: ``stem`` (Linear in_dim → width), ``stem_norm``, ``stem_act``, ``block1 … block{k}``, ``out`` — so
    ``depth = 2 + 2k`` weight layers (``depth=8`` → 3 blocks, ``depth=32`` → 15 blocks). ``residual=True`` gives
    the residual network, ``False`` the plain network with exactly the same layers (and, for the same ``seed``,
    the same initial weights). With ``style="pre"`` the stem has no norm/activation after it (the blocks
    start with them) and a final ``out_norm``/``out_act`` precedes ``out``, as in He et al. (2016b).
    """
    k = _blocks_for(depth)
    width, in_dim = positive_int("width", width), positive_int("in_dim", in_dim)
    out_dim = positive_int("out_dim", out_dim)
    norm = _block_args(norm, activation, residual, style)
    one_of("init", init, INIT_SCHEMES)
    model = nn.Sequential()
    model.add_module("stem", nn.Linear(in_dim, width))
    if style == "post":
        model.add_module("stem_norm", _norm(norm, width) or nn.Identity())
        model.add_module("stem_act", ACTIVATIONS[activation]())
    for i in range(1, k + 1):
        model.add_module(f"block{i}", BasicBlock(width, activation, norm, residual, style))
    if style == "pre":
        model.add_module("out_norm", _norm(norm, width) or nn.Identity())
        model.add_module("out_act", ACTIVATIONS[activation]())
    model.add_module("out", nn.Linear(width, out_dim))
    return init_(model, init, seed=seed, **init_kw)


def cnn(depth: int, channels: int, in_channels: int = 1, num_classes: int = 10, residual: bool = False,
        norm: str | None = "batch", activation: str = "relu", init: str = "he_normal", style: str = "post",
        seed: int | None = 0, **init_kw) -> nn.Sequential:
    """A convolutional network of :class:`ConvBlock` s for small images (e.g. the 8×8 digits), He et al. (2016a).

    Layout: ``stem`` (3×3 conv in_channels → channels), ``stem_norm``, ``stem_act``, ``block1 … block{k}``,
    ``pool`` (global average pooling), ``flatten``, ``out`` (Linear channels → num_classes); ``depth = 2 + 2k``
    weight layers. Unlike the paper's CIFAR networks there is no down-sampling stage: 8×8 inputs are too small.
    ``residual=False`` is the plain network with the same layers; ``style`` as in :func:`block_mlp`.
    """
    k = _blocks_for(depth)
    channels = positive_int("channels", channels)
    in_channels, num_classes = positive_int("in_channels", in_channels), positive_int("num_classes", num_classes, 2)
    norm = _block_args(norm, activation, residual, style)
    one_of("init", init, INIT_SCHEMES)
    model = nn.Sequential()
    model.add_module("stem", nn.Conv2d(in_channels, channels, 3, padding=1, bias=norm == "none" or style == "pre"))
    if style == "post":
        model.add_module("stem_norm", _norm2d(norm, channels))
        model.add_module("stem_act", ACTIVATIONS[activation]())
    for i in range(1, k + 1):
        model.add_module(f"block{i}", ConvBlock(channels, activation, norm, residual, style))
    if style == "pre":
        model.add_module("out_norm", _norm2d(norm, channels))
        model.add_module("out_act", ACTIVATIONS[activation]())
    model.add_module("pool", nn.AdaptiveAvgPool2d(1))
    model.add_module("flatten", nn.Flatten())
    model.add_module("out", nn.Linear(channels, num_classes))
    return init_(model, init, seed=seed, **init_kw)


__all__ += ["BLOCK_STYLES", "BasicBlock", "ConvBlock", "block_mlp", "cnn"]


def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """Re-estimate every BatchNorm layer's running mean and variance on ``x``; return ``model``.

    In training mode BatchNorm normalizes with the statistics of the current minibatch; in evaluation mode it
    uses running averages collected during training (Ioffe & Szegedy 2015, Algorithm 2). After a short run with a
    large learning rate those averages lag behind the weights. This resets them and recomputes exact averages
    (``momentum=None``) in training mode without gradients, then restores the model's mode and momenta.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"recalibrate_batchnorm expects a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor of inputs, got {type(x).__name__}")
    batch_size = positive_int("batch_size", batch_size, minimum=2)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    was_training = model.training
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: exact mean over the batches below
    model.train()
    try:
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                model(x[start:start + batch_size])
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
        model.train(was_training)
    return model


__all__ += ["recalibrate_batchnorm"]

# --- end of the residual blocks and CNNs section ---------------------------------------------------------------


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
