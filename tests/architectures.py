"""Small versions of modern architectures, built by hand from ``torch.nn`` (no torchvision, nothing downloaded).

Each builder keeps the parts that matter for gradient flow — normalization, skip connections, squeeze-and-excitation
gates, auxiliary heads, attention, positional tables, windowed attention with a relative-position table — at sizes
that run in milliseconds on one CPU thread (images 16×16 or 32×32, a few blocks, tens of channels). Every weight
keeps PyTorch's default initialization unless a builder says otherwise.
"""

from __future__ import annotations

import math

import torch
from torch import nn

F = nn.functional


# -- ResNet (He et al. 2016) ----------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet(classes: int = 10, widths=(16, 32, 64), blocks: int = 2) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
    c = widths[0]
    for i, w in enumerate(widths):
        for j in range(blocks):
            layers.append(BasicBlock(c, w, stride=2 if (i > 0 and j == 0) else 1))
            c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes)]
    return nn.Sequential(*layers)


# -- MobileNetV3 (Howard et al. 2019) and EfficientNet (Tan & Le 2019) ------------------------------------------------
class SqueezeExcite(nn.Module):
    """Hu et al. (2018): a gate per channel from the globally pooled features."""

    def __init__(self, c: int, squeeze: int, act: type[nn.Module], gate: type[nn.Module]):
        super().__init__()
        self.fc1, self.act = nn.Conv2d(c, squeeze, 1), act()
        self.fc2, self.gate = nn.Conv2d(squeeze, c, 1), gate()

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class InvertedResidual(nn.Module):
    """Expand (1×1) → depthwise (k×k) → [squeeze-excite] → project (1×1), with a skip when shapes allow."""

    def __init__(self, c_in: int, expand: int, c_out: int, kernel: int, stride: int, act: type[nn.Module],
                 se: bool, se_act: type[nn.Module] = nn.ReLU, se_gate: type[nn.Module] = nn.Hardsigmoid,
                 se_ratio: float = 0.25):
        super().__init__()
        layers: list[nn.Module] = []
        if expand != c_in:
            layers += [nn.Conv2d(c_in, expand, 1, bias=False), nn.BatchNorm2d(expand), act()]
        layers += [nn.Conv2d(expand, expand, kernel, stride, kernel // 2, groups=expand, bias=False),
                   nn.BatchNorm2d(expand), act()]
        if se:
            layers.append(SqueezeExcite(expand, max(8, int(c_in * se_ratio) if se_gate is nn.Sigmoid
                                                     else _round8(expand // 4)), se_act, se_gate))
        layers += [nn.Conv2d(expand, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.block = nn.Sequential(*layers)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x):
        out = self.block(x)
        return x + out if self.skip else out


def _round8(v: float) -> int:
    return max(8, int(v + 4) // 8 * 8)


def mobilenet_v3(classes: int = 10) -> nn.Module:
    """MobileNetV3-Small's pattern: hard-swish, SE blocks (ReLU, hard-sigmoid), a Linear–hard-swish–Linear head."""
    hs, re = nn.Hardswish, nn.ReLU
    cfg = [  # c_in, expand, c_out, kernel, stride, act, se
        (16, 16, 16, 3, 2, re, True), (16, 72, 24, 3, 2, re, False), (24, 88, 24, 3, 1, re, False),
        (24, 96, 40, 5, 2, hs, True), (40, 240, 40, 5, 1, hs, True), (40, 120, 48, 5, 1, hs, True),
    ]
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), hs()]
    layers += [InvertedResidual(*c) for c in cfg]
    layers += [nn.Conv2d(48, 288, 1, bias=False), nn.BatchNorm2d(288), hs(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(288, 256), hs(), nn.Dropout(0.2), nn.Linear(256, classes)]
    return nn.Sequential(*layers)


def efficientnet(classes: int = 10) -> nn.Module:
    """EfficientNet-B0's pattern: MBConv blocks (expand 6, SiLU, SE with SiLU and sigmoid), a 1×1 head conv."""
    si = nn.SiLU

    def mb(c_in, expand, c_out, k, s):
        return InvertedResidual(c_in, c_in * expand, c_out, k, s, si, True, si, nn.Sigmoid)

    layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), si(),
                               mb(32, 1, 16, 3, 1), mb(16, 6, 24, 3, 2), mb(24, 6, 24, 3, 1), mb(24, 6, 40, 5, 2),
                               mb(40, 6, 40, 5, 1), mb(40, 6, 80, 3, 2),
                               nn.Conv2d(80, 320, 1, bias=False), nn.BatchNorm2d(320), si(),
                               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(320, classes)]
    return nn.Sequential(*layers)


# -- Inception with auxiliary heads (Szegedy et al. 2015) ------------------------------------------------------------
def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class InceptionBlock(nn.Module):
    def __init__(self, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, cp: int):
        super().__init__()
        self.b1 = _conv_bn(c_in, c1, 1)
        self.b3 = nn.Sequential(_conv_bn(c_in, c3r, 1), _conv_bn(c3r, c3, 3))
        self.b5 = nn.Sequential(_conv_bn(c_in, c5r, 1), _conv_bn(c5r, c5, 3), _conv_bn(c5, c5, 3))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), _conv_bn(c_in, cp, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class AuxHead(nn.Module):
    def __init__(self, c_in: int, classes: int):
        super().__init__()
        self.conv = _conv_bn(c_in, 32, 1)
        self.fc1, self.fc2 = nn.Linear(32 * 4, 64), nn.Linear(64, classes)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, 2)).flatten(1)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.5, self.training))


class Inception(nn.Module):
    """GoogLeNet's pattern: returns ``(logits, aux1, aux2)`` in training mode, ``logits`` in eval mode."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(_conv_bn(3, 32, 3), _conv_bn(32, 48, 3, 2))
        self.a = InceptionBlock(48, 16, 24, 32, 8, 16, 16)  # → 80 channels
        self.b = InceptionBlock(80, 32, 32, 48, 8, 24, 24)  # → 128
        self.aux1 = AuxHead(80, classes)
        self.c = InceptionBlock(128, 48, 32, 64, 16, 32, 32)  # → 176
        self.aux2 = AuxHead(128, classes)
        self.d = InceptionBlock(176, 64, 48, 96, 16, 48, 48)  # → 256
        self.fc = nn.Linear(256, classes)

    def forward(self, x):
        x = self.a(self.stem(x))
        aux1 = self.aux1(x) if self.training else None
        x = self.b(x)
        aux2 = self.aux2(x) if self.training else None
        x = F.max_pool2d(self.c(x), 2)
        logits = self.fc(F.dropout(F.adaptive_avg_pool2d(self.d(x), 1).flatten(1), 0.2, self.training))
        return (logits, aux1, aux2) if self.training else logits


# -- DenseNet (Huang et al. 2017) -------------------------------------------------------------------------------------
class DenseLayer(nn.Module):
    def __init__(self, c_in: int, growth: int):
        super().__init__()
        self.net = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(), nn.Conv2d(c_in, 4 * growth, 1, bias=False),
                                 nn.BatchNorm2d(4 * growth), nn.ReLU(), nn.Conv2d(4 * growth, growth, 3, 1, 1,
                                                                                  bias=False))

    def forward(self, x):
        return torch.cat([x, self.net(x)], dim=1)


def densenet(classes: int = 10, growth: int = 12, layers_per_block: int = 4) -> nn.Module:
    c = 2 * growth
    layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 1, 1, bias=False)]
    for block in range(3):
        for _ in range(layers_per_block):
            layers.append(DenseLayer(c, growth))
            c += growth
        if block < 2:  # transition: halve channels and resolution
            layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
            c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes)]
    return nn.Sequential(*layers)


# -- Vision Transformer (Dosovitskiy et al. 2021) ---------------------------------------------------------------------
class ViT(nn.Module):
    """Patch embedding, a class token and a learned positional table (free ``nn.Parameter``s), pre-LN encoder."""

    def __init__(self, image: int = 16, patch: int = 4, dim: int = 32, depth: int = 4, heads: int = 4,
                 classes: int = 10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, patch)
        tokens = (image // patch) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, tokens, dim).normal_(std=0.02))
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding
        return self.head(self.norm(self.encoder(x))[:, 0])


# -- Swin-style windowed attention (Liu et al. 2021) ------------------------------------------------------------------
class WindowAttention(nn.Module):
    """Attention inside w×w windows with a learned relative-position bias table; the projections are used
    functionally (``F.linear(x, self.qkv.weight, ...)``), as several Swin implementations do."""

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.empty((2 * window - 1) ** 2, heads).normal_(std=0.02))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("relative_position_index", rel[..., 0] * (2 * window - 1) + rel[..., 1], persistent=False)

    def forward(self, x):  # x: (windows·batch, w², dim)
        b, n, d = x.shape
        qkv = F.linear(x, self.qkv.weight, self.qkv.bias).reshape(b, n, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)].reshape(n, n, -1)
        attn = (attn + bias.permute(2, 0, 1)).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, d)
        return F.linear(out, self.proj.weight, self.proj.bias)


class SwinBlock(nn.Module):
    def __init__(self, dim: int, window: int, heads: int, shift: int):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1, self.attn = nn.LayerNorm(dim), WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):  # x: (batch, H, W, dim)
        b, h, w, d = x.shape
        s, ws = self.shift, self.window
        y = torch.roll(self.norm1(x), (-s, -s), (1, 2)) if s else self.norm1(x)
        y = y.reshape(b, h // ws, ws, w // ws, ws, d).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, d)
        y = self.attn(y).reshape(b, h // ws, w // ws, ws, ws, d).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, d)
        x = x + (torch.roll(y, (s, s), (1, 2)) if s else y)
        return x + self.mlp(self.norm2(x))


class Swin(nn.Module):
    def __init__(self, image: int = 16, patch: int = 2, dim: int = 32, window: int = 4, heads: int = 4,
                 depth: int = 4, classes: int = 10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, patch)
        self.norm0 = nn.LayerNorm(dim)
        self.blocks = nn.Sequential(*[SwinBlock(dim, window, heads, (window // 2) * (i % 2)) for i in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.norm0(self.patch(x).permute(0, 2, 3, 1))
        return self.head(self.norm(self.blocks(x)).mean(dim=(1, 2)))


# -- Transformer encoder classifier (Vaswani et al. 2017) -------------------------------------------------------------
class TextClassifier(nn.Module):
    """Token embedding + sinusoidal-free learned positions, post-LN ``nn.TransformerEncoder``, mean pooling."""

    def __init__(self, vocab: int = 50, dim: int = 32, heads: int = 4, depth: int = 3, length: int = 12,
                 classes: int = 5, freeze_embedding: bool = False):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.embed.weight.requires_grad_(not freeze_embedding)
        self.pos = nn.Parameter(torch.empty(1, length, dim).normal_(std=0.02))
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens) + self.pos[:, :tokens.shape[1]]).mean(dim=1))


# -- broken variants --------------------------------------------------------------------------------------------------
def plain_cnn(depth: int = 10, act: type[nn.Module] = nn.Sigmoid, sigma_w: float | None = None, c: int = 16,
              classes: int = 10) -> nn.Module:
    """A plain CNN without normalization; ``sigma_w`` sets W ~ N(0, σ_w²/fan_in), b = 0 (else PyTorch's init)."""
    layers: list[nn.Module] = []
    c_in = 3
    for _ in range(depth):
        conv = nn.Conv2d(c_in, c, 3, 1, 1)
        if sigma_w is not None:
            with torch.no_grad():
                conv.weight.normal_(0.0, sigma_w / math.sqrt(c_in * 9))
                conv.bias.zero_()
        layers += [conv, act()]
        c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes)]
    return nn.Sequential(*layers)


def images(n: int = 8, size: int = 32, classes: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, classes, (n,), generator=g)


def token_batch(n: int = 8, length: int = 12, vocab: int = 50, classes: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n, length), generator=g), torch.randint(0, classes, (n,), generator=g)
