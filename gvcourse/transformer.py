"""A small Transformer encoder built from ``torch.nn`` pieces a learner can read.

One block is the encoder layer of Vaswani et al. (2017, "Attention is all you need", §3.1): multi-head
self-attention and a two-layer ReLU MLP, each a *branch* whose output is added to the **residual stream**
``x``, with a normalization layer either

- after the residual addition — **post-LN**, the original placement:
  ``x ← Norm(α·x + Attn(x))``, then ``x ← Norm(α·x + MLP(x))``; or
- at the start of the branch — **pre-LN**: ``x ← x + Attn(Norm(x))``, then ``x ← x + MLP(Norm(x))``,
  with one more Norm after the last block (Xiong et al. 2020, "On Layer Normalization in the Transformer
  Architecture", Figure 1). Their Theorems 1 and 2: at initialization the gradient of the last layer's weights
  of a post-LN Transformer does not shrink with depth L, while a pre-LN one's scales like 1/√L — which is
  why post-LN needs a learning-rate warm-up and pre-LN does not.

The same math as ``torch.nn.TransformerEncoderLayer(d_model, nhead, d_ff, dropout=0, batch_first=True,
norm_first=...)``: :func:`copy_from_torch_layer` loads such a layer's weights into a :class:`TransformerBlock`
(the tests check that both give the same outputs). Written out here so every piece has a readable name that
``GradientFlow`` reports: ``blocks.3.attn`` (the packed q/k/v projection), ``blocks.3.attn.out_proj``,
``blocks.3.mlp.up``, ``blocks.3.mlp.down``.

Options for the chapter's remedies:

- ``norm="rms"``: RMSNorm (Zhang & Sennrich 2019, "Root Mean Square Layer Normalization") divides by the
  root mean square only — no mean subtraction, no bias — instead of LayerNorm (Ba, Kiros & Hinton 2016);
- ``scaling="deepnet"``: DeepNorm (Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000 Layers"), a post-LN
  block whose skip is multiplied by α = (2L)^¼ and whose value, output and MLP weights are scaled down by
  β = (8L)^-¼ at initialization (their encoder-only constants), so that each update changes the model's output
  by a bounded amount — Liu et al. (2020, "Understanding the Difficulty of Training Transformers") traced
  post-LN's instability to that amplification.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ._checks import one_of, positive_int, real
from .optimizers import make_optimizer

__all__ = ["NORM_POSITIONS", "NORMS", "SCALINGS", "TransformerBlock", "TinyTransformer", "deepnet_constants",
           "copy_from_torch_layer", "softmax_jacobian", "softmax_jacobian_norm", "SequenceHistory",
           "train_sequence_model", "sequence_accuracy", "warmup_factor"]

NORM_POSITIONS = ("post", "pre")
NORMS = ("layer", "rms")
SCALINGS = ("none", "deepnet")


def deepnet_constants(depth: int) -> tuple[float, float]:
    """DeepNet's (α, β) for an encoder-only stack of ``depth`` blocks: α = (2N)^¼, β = (8N)^-¼ (Wang et al. 2022,
    Figure 2 / Table 1; N = ``depth``)."""
    depth = positive_int("depth", depth)
    return (2 * depth) ** 0.25, (8 * depth) ** -0.25


def _norm(kind: str, d_model: int) -> nn.Module:
    if kind == "layer":
        return nn.LayerNorm(d_model)
    return nn.RMSNorm(d_model, eps=1e-5)  # Zhang & Sennrich 2019: x / RMS(x) · g, no centring, no bias


class TransformerBlock(nn.Module):
    """One encoder block: self-attention and a ReLU MLP, each added to the residual stream, normalized
    post-LN (after the addition, Vaswani et al. 2017) or pre-LN (at the start of the branch, Xiong et al. 2020).

    ``alpha`` multiplies the skip (DeepNet's α; 1 for the standard block, and only used post-LN). Input and output
    have shape (batch, tokens, d_model).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int | None = None, norm_position: str = "pre",
                 norm: str = "layer", alpha: float = 1.0):
        super().__init__()
        d_model, n_heads = positive_int("d_model", d_model), positive_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        d_ff = 4 * d_model if d_ff is None else positive_int("d_ff", d_ff)
        self.norm_position = one_of("norm_position", norm_position, NORM_POSITIONS)
        one_of("norm", norm, NORMS)
        self.alpha = real("alpha", alpha, positive=True)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=0.0, batch_first=True)
        self.mlp = nn.Sequential(OrderedDict(up=nn.Linear(d_model, d_ff), act=nn.ReLU(),
                                             down=nn.Linear(d_ff, d_model)))
        self.norm1, self.norm2 = _norm(norm, d_model), _norm(norm, d_model)

    def _attend(self, h: torch.Tensor) -> torch.Tensor:
        return self.attn(h, h, h, need_weights=False)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm_position == "pre":
            x = x + self._attend(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        x = self.norm1(self.alpha * x + self._attend(x))
        return self.norm2(self.alpha * x + self.mlp(x))

    def extra_repr(self) -> str:
        return f"norm_position={self.norm_position!r}" + (f", alpha={self.alpha:.3g}" if self.alpha != 1 else "")


class TinyTransformer(nn.Module):
    """Token embedding + learned positions → ``depth`` :class:`TransformerBlock` s → (pre-LN: a final Norm) → a
    linear read-out to ``vocab_size`` logits at every position. Input (batch, tokens) int64; output
    (batch, tokens, vocab_size).

    ``norm_position``: ``"post"`` or ``"pre"``; ``norm``: ``"layer"`` or ``"rms"``; ``scaling``: ``"none"`` or
    ``"deepnet"`` (post-LN only; Wang et al. 2022). ``seed`` makes the initialization reproducible on its own.
    Initialization as in the reference implementations: every Linear weight (and the packed q/k/v projection, as
    ``nn.MultiheadAttention`` does) Xavier-uniform, biases zero, token and position embeddings N(0, ``embed_std``²)
    with GPT-2's and BERT's 0.02 — so the residual stream of a pre-LN model is, after a few blocks, dominated by
    what the branches add, the regime of Xiong et al.'s analysis.
    """

    def __init__(self, vocab_size: int, d_model: int = 32, n_heads: int = 2, depth: int = 12,
                 d_ff: int | None = None, max_len: int = 16, norm_position: str = "pre", norm: str = "layer",
                 scaling: str = "none", embed_std: float = 0.02, seed: int | None = None):
        super().__init__()
        vocab_size = positive_int("vocab_size", vocab_size, minimum=2)
        depth = positive_int("depth", depth)
        self.max_len = positive_int("max_len", max_len)
        embed_std = real("embed_std", embed_std, positive=True)
        one_of("norm_position", norm_position, NORM_POSITIONS)
        one_of("norm", norm, NORMS)
        one_of("scaling", scaling, SCALINGS)
        if scaling == "deepnet" and norm_position != "post":
            raise ValueError("scaling 'deepnet' is DeepNet's post-LN residual scaling; use it with "
                             f"norm_position 'post', not {norm_position!r}")
        self.norm_position, self.norm, self.scaling, self.depth = norm_position, norm, scaling, depth
        if seed is not None:
            torch.manual_seed(positive_int("seed", seed, minimum=0))
        alpha, beta = deepnet_constants(depth) if scaling == "deepnet" else (1.0, 1.0)
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos_embedding = nn.Parameter(torch.randn(self.max_len, d_model))
        self.blocks = nn.Sequential(*[TransformerBlock(d_model, n_heads, d_ff, norm_position, norm, alpha)
                                      for _ in range(depth)])
        self.final_norm = _norm(norm, d_model) if norm_position == "pre" else nn.Identity()
        self.head = nn.Linear(d_model, vocab_size)
        with torch.no_grad():  # the reference implementations' initialization (fairseq, tensor2tensor; GPT-2/BERT
            nn.init.normal_(self.embed.weight, std=embed_std)  # embeddings): Xavier-uniform weights, zero biases
            nn.init.normal_(self.pos_embedding, std=embed_std)
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight)
                    nn.init.zeros_(module.bias)
        if scaling == "deepnet":
            with torch.no_grad():
                for block in self.blocks:
                    d = block.attn.embed_dim
                    block.attn.in_proj_weight[2 * d:].mul_(beta)  # the value projection (q, k keep gain 1)
                    block.attn.out_proj.weight.mul_(beta)
                    block.mlp.up.weight.mul_(beta)
                    block.mlp.down.weight.mul_(beta)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor) or tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError("TinyTransformer expects a (batch, tokens) tensor of integer token ids, got "
                            f"{getattr(tokens, 'dtype', type(tokens).__name__)}")
        if tokens.dim() != 2 or not 1 <= tokens.shape[1] <= self.max_len:
            raise ValueError(f"tokens must have shape (batch, tokens) with 1 to max_len = {self.max_len} tokens, "
                             f"got shape {tuple(tokens.shape)}")
        x = self.embed(tokens) + self.pos_embedding[: tokens.shape[1]]
        return self.head(self.final_norm(self.blocks(x)))

    def residual_stream(self, tokens: torch.Tensor) -> list[float]:
        """The RMS of the residual stream x_l after the embedding (l = 0) and after every block, without gradients."""
        with torch.no_grad():
            x = self.embed(tokens) + self.pos_embedding[: tokens.shape[1]]
            out = [float(x.pow(2).mean().sqrt())]
            for block in self.blocks:
                x = block(x)
                out.append(float(x.pow(2).mean().sqrt()))
        return out


def copy_from_torch_layer(layer: nn.TransformerEncoderLayer, block: TransformerBlock) -> TransformerBlock:
    """Load the weights of ``torch.nn.TransformerEncoderLayer`` (ReLU, ``batch_first=True``) into ``block``.

    ``layer.norm_first`` must match the block's placement (True: pre-LN). With dropout 0 both compute the same
    function, which the tests check.
    """
    if not isinstance(layer, nn.TransformerEncoderLayer):
        raise TypeError(f"expected torch.nn.TransformerEncoderLayer, got {type(layer).__name__}")
    if not isinstance(block, TransformerBlock):
        raise TypeError(f"expected gvcourse.transformer.TransformerBlock, got {type(block).__name__}")
    if layer.norm_first != (block.norm_position == "pre"):
        raise ValueError(f"norm_first={layer.norm_first} does not match norm_position {block.norm_position!r}")
    mapping = {"self_attn": "attn", "linear1": "mlp.up", "linear2": "mlp.down", "norm1": "norm1", "norm2": "norm2"}
    state = {}
    for key, value in layer.state_dict().items():
        head, _, rest = key.partition(".")
        if head in mapping:
            state[f"{mapping[head]}.{rest}"] = value
    block.load_state_dict(state)
    return block


# -- attention's softmax ---------------------------------------------------------------------------------------
def softmax_jacobian(p) -> np.ndarray:
    """∂softmax(z)/∂z = diag(p) − p pᵀ for the probability vector ``p`` = softmax(z) (closed form)."""
    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or p.size < 2:
        raise ValueError(f"p must be a probability vector with at least 2 entries, got shape {p.shape}")
    if np.any(p < 0) or not math.isclose(p.sum(), 1.0, rel_tol=1e-6, abs_tol=1e-6):
        raise ValueError("p must be non-negative and sum to 1 (a softmax output)")
    return np.diag(p) - np.outer(p, p)


def softmax_jacobian_norm(p) -> float:
    """Frobenius norm of diag(p) − p pᵀ: √(Σ p_i² − 2 Σ p_i³ + (Σ p_i²)²). It is largest for uniform p among
    nearly uniform vectors and falls to 0 as p approaches a one-hot vector (a saturated softmax)."""
    return float(np.linalg.norm(softmax_jacobian(p)))


# -- training on a sequence task -------------------------------------------------------------------------------
def warmup_factor(step: int, warmup: int) -> float:
    """The learning-rate multiplier at ``step`` (0-based) with linear warm-up over ``warmup`` steps, then 1."""
    return 1.0 if warmup <= 0 else min(1.0, (step + 1) / warmup)


@dataclass
class SequenceHistory:
    """Per-step minibatch loss, token accuracy, total gradient norm and learning rate."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)


def sequence_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of tokens whose predicted id equals the target (eval mode, no gradients; mode restored)."""
    was = model.training
    model.eval()
    with torch.no_grad():
        acc = float((model(x).argmax(-1) == y).float().mean())
    model.train(was)
    return acc


def train_sequence_model(model: nn.Module, data, steps: int, lr: float, *, warmup: int = 0, batch_size: int = 64,
                         betas: tuple[float, float] = (0.9, 0.98), seed: int = 0) -> SequenceHistory:
    """Train a token-to-token model with Adam and cross-entropy at every position; return its history.

    ``warmup``: the learning rate rises linearly from lr/warmup to ``lr`` over the first ``warmup`` steps, then
    stays constant (0: no warm-up). Adam's β₂ = 0.98 follows Vaswani et al. (2017, §5.3). Minibatches come from a
    private generator seeded with ``seed``. A step whose loss is not finite stops training (the rest of the
    history is not filled).
    """
    x, y = data
    steps, batch_size = positive_int("steps", steps), positive_int("batch_size", batch_size)
    lr = real("lr", lr, positive=True)
    warmup = positive_int("warmup", warmup, minimum=0)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer("adam", params, lr, betas=betas)
    gen = torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))
    history = SequenceHistory()
    model.train()
    for step in range(steps):
        factor = warmup_factor(step, warmup)
        for group in opt.param_groups:
            group["lr"] = lr * factor
        idx = torch.randint(0, x.shape[0], (batch_size,), generator=gen)
        logits = model(x[idx])
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[idx].reshape(-1))
        if not torch.isfinite(loss):
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm([p.grad for p in params
                                                                          if p.grad is not None])))
        opt.step()
        history.loss.append(float(loss.detach()))
        history.accuracy.append(float((logits.detach().argmax(-1) == y[idx]).float().mean()))
        history.grad_norm.append(float(total))
        history.lr.append(lr * factor)
    return history
