"""A small GAN for 2-D data: generator and discriminator MLPs, both generator losses, and two experiments.

Goodfellow et al. (2014) train a generator G against a discriminator D = σ(a), a its logit. The generator can
minimise either

- the **minimax** loss  E_z log(1 − D(G(z)))  — the game of their eq. (1), or
- the **non-saturating** loss  −E_z log D(G(z))  — the alternative they recommend (§3).

At a fake sample with logit a the first sends back d/da = −σ(a), the second −(1 − σ(a))
(:func:`gvcourse.theory.generator_logit_grad`). When D confidently rejects fakes (a ≪ 0), the minimax gradient
vanishes like e^a: :func:`train_discriminator` reproduces Arjovsky & Bottou (2017)'s experiment (§2.2.1,
Figs. 2–3) by freezing G and training D on, measuring the generator's gradient under both losses;
:func:`train_gan` trains the pair and records the generator's gradient norm at every step.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.std import tqdm

from ._checks import one_of, positive_int, real
from .nets import mlp_layers
from .optimizers import OPTIMIZERS, make_optimizer
from .theory.gan import GAN_LOSSES

__all__ = ["GAN_LOSSES", "generator", "discriminator", "generator_loss", "discriminator_loss", "sample",
           "generator_grad_norm", "GANHistory", "train_gan", "FrozenGeneratorHistory", "train_discriminator",
           "mode_coverage"]

_BAR = "{desc}: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt}{postfix}"


def _mlp(in_dim: int, hidden: int, depth: int, out_dim: int, seed: int | None) -> nn.Sequential:
    in_dim, hidden = positive_int("in_dim", in_dim), positive_int("hidden", hidden)
    depth, out_dim = positive_int("depth", depth), positive_int("out_dim", out_dim)
    if seed is not None:
        seed = positive_int("seed", seed, minimum=0)
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        return mlp_layers(depth, hidden, in_dim, out_dim, activation="relu")  # PyTorch's default initialization


def generator(latent_dim: int = 2, hidden: int = 64, depth: int = 3, out_dim: int = 2,
              seed: int | None = 0) -> nn.Sequential:
    """G: z ↦ x, an MLP with ``depth`` ReLU layers of ``hidden`` units and a linear output (PyTorch's default init).

    ``latent_dim`` is stored as ``G.latent_dim``; :func:`sample` draws z ~ N(0, I) of that size.
    """
    model = _mlp(latent_dim, hidden, depth, out_dim, seed)
    model.latent_dim = int(latent_dim)
    return model


def discriminator(in_dim: int = 2, hidden: int = 64, depth: int = 3, seed: int | None = 0) -> nn.Sequential:
    """D: x ↦ a, an MLP with ``depth`` ReLU layers and one output, the **logit** a; D(x) = σ(a)."""
    return _mlp(in_dim, hidden, depth, 1, seed)


def _latent_dim(g: nn.Module) -> int:
    dim = getattr(g, "latent_dim", None)
    if not isinstance(dim, int):
        raise TypeError("the generator must have an integer .latent_dim (build it with gvcourse.gan.generator)")
    return dim


def sample(g: nn.Module, n: int, generator_rng: torch.Generator | None = None) -> torch.Tensor:
    """n samples G(z), z ~ N(0, I), drawn with the optional ``torch.Generator`` ``generator_rng``."""
    n = positive_int("n", n)
    z = torch.randn(n, _latent_dim(g), generator=generator_rng)
    return g(z)


def generator_loss(fake_logits: torch.Tensor, loss: str = "non_saturating") -> torch.Tensor:
    """The generator's loss on a batch of discriminator logits a at fakes, to be minimised.

    ``"minimax"``: mean log(1 − σ(a)) = −mean softplus(a); ``"non_saturating"``: −mean log σ(a) = mean softplus(−a)
    (Goodfellow et al. 2014, eq. 1 and §3). Written with log σ (``logsigmoid``), exact and stable for large |a|.
    The batch mean, in torch, of :func:`gvcourse.theory.generator_loss_of_logit` (the same loss of one logit, NumPy).
    """
    one_of("loss", loss, GAN_LOSSES)
    if not isinstance(fake_logits, torch.Tensor):
        raise TypeError(f"fake_logits must be a torch.Tensor, got {type(fake_logits).__name__}")
    logsig = nn.functional.logsigmoid  # log σ(a); log(1 − σ(a)) = log σ(−a)
    return logsig(-fake_logits).mean() if loss == "minimax" else -logsig(fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: −mean log σ(a_real) − mean log(1 − σ(a_fake)) (Goodfellow et al. 2014, eq. 1)."""
    bce = nn.functional.binary_cross_entropy_with_logits
    return bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))


def _grad_norm(params: list[torch.Tensor]) -> float:
    return float(torch.sqrt(sum(p.grad.detach().double().pow(2).sum() for p in params if p.grad is not None)))


def generator_grad_norm(g: nn.Module, d: nn.Module, z: torch.Tensor, loss: str) -> float:
    """‖∇_θ L_G‖: the L2 norm of the generator loss's gradient over all of G's parameters, at latents ``z``.

    Measured without changing either network (their ``.grad`` are restored to None afterwards).
    """
    one_of("loss", loss, GAN_LOSSES)
    params = list(g.parameters())
    for p in list(g.parameters()) + list(d.parameters()):
        p.grad = None
    with torch.enable_grad():
        generator_loss(d(g(z)), loss).backward()
    value = _grad_norm(params)
    for p in list(g.parameters()) + list(d.parameters()):
        p.grad = None
    return value


def _check_pair(g: nn.Module, d: nn.Module, real_data: torch.Tensor) -> torch.Tensor:
    for name, m in (("generator", g), ("discriminator", d)):
        if not isinstance(m, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
    _latent_dim(g)
    if not isinstance(real_data, torch.Tensor) or real_data.dim() != 2 or real_data.shape[0] == 0:
        raise ValueError("real_data must be a non-empty 2-D tensor (n, features), e.g. from data.gaussian_mixture_2d")
    return real_data


@dataclass
class GANHistory:
    """Per-step record of :func:`train_gan`."""

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    g_grad_norm: list[float] = field(default_factory=list)  # ‖∇_θ L_G‖ of the loss being trained
    d_fake: list[float] = field(default_factory=list)  # mean D(G(z)) = σ(a) on the generator's batch
    d_real: list[float] = field(default_factory=list)  # mean D(x) on the real batch


def train_gan(g: nn.Module, d: nn.Module, real_data: torch.Tensor, steps: int, loss: str = "non_saturating", *,
              lr: float = 1e-3, d_lr: float | None = None, batch_size: int = 256, d_steps: int = 1,
              optimizer: str = "adam", momentum: float = 0.0, betas: tuple[float, float] = (0.5, 0.999),
              seed: int = 0, progress: bool = True, desc: str = "GAN") -> GANHistory:
    """Train generator ``g`` against discriminator ``d`` on ``real_data`` with Adam; return a :class:`GANHistory`.

    Each step: ``d_steps`` discriminator updates on a real and a fake batch (:func:`discriminator_loss`), then
    one generator update on :func:`generator_loss` with ``loss`` = ``"minimax"`` or ``"non_saturating"``
    (Goodfellow et al. 2014, Algorithm 1). ``optimizer``: ``"adam"`` (β₁ = 0.5 as in DCGAN, Radford, Metz &
    Chintala 2016) or ``"sgd"`` (with ``momentum``, as in Goodfellow et al. 2014), for both networks;
    ``d_lr`` defaults to ``lr``. Adam divides each step by a running gradient scale, so it partly undoes a
    uniformly small gradient; plain SGD does not. Batches and latents come from a private generator seeded by ``seed``.
    """
    _check_pair(g, d, real_data)
    one_of("loss", loss, GAN_LOSSES)
    steps, batch_size, d_steps = positive_int("steps", steps), positive_int("batch_size", batch_size), \
        positive_int("d_steps", d_steps)
    lr = real("lr", lr, positive=True)
    d_lr = lr if d_lr is None else real("d_lr", d_lr, positive=True)
    one_of("optimizer", optimizer, OPTIMIZERS)
    momentum = real("momentum", momentum, nonnegative=True)
    rng = torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))
    opt_g = make_optimizer(optimizer, g.parameters(), lr, momentum=momentum, betas=betas)
    opt_d = make_optimizer(optimizer, d.parameters(), d_lr, momentum=momentum, betas=betas)
    g_params = list(g.parameters())
    n = real_data.shape[0]
    history = GANHistory()
    bar = tqdm(range(steps), desc=desc, bar_format=_BAR, disable=not progress, file=sys.stderr, mininterval=0.5,
               ascii=True)
    for _ in bar:
        for _ in range(d_steps):
            real_batch = real_data[torch.randint(0, n, (batch_size,), generator=rng)]
            with torch.no_grad():
                fake = sample(g, batch_size, rng)
            real_logits = d(real_batch)
            d_loss = discriminator_loss(real_logits, d(fake))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        fake_logits = d(sample(g, batch_size, rng))
        g_loss = generator_loss(fake_logits, loss)
        opt_g.zero_grad(set_to_none=True)
        opt_d.zero_grad(set_to_none=True)
        g_loss.backward()
        history.g_grad_norm.append(_grad_norm(g_params))
        opt_g.step()
        history.d_loss.append(float(d_loss.detach()))
        history.g_loss.append(float(g_loss.detach()))
        history.d_fake.append(float(torch.sigmoid(fake_logits.detach()).mean()))
        history.d_real.append(float(torch.sigmoid(real_logits.detach()).mean()))
    bar.close()
    opt_d.zero_grad(set_to_none=True)
    return history


@dataclass
class FrozenGeneratorHistory:
    """What :func:`train_discriminator` measured every ``record_every`` discriminator steps."""

    steps: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    d_accuracy: list[float] = field(default_factory=list)  # on the fixed evaluation batch, real and fake
    fake_logit: list[float] = field(default_factory=list)  # mean discriminator logit a on the fixed fakes
    grad_norm: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in GAN_LOSSES})


def train_discriminator(d: nn.Module, g: nn.Module, real_data: torch.Tensor, steps: int, *, lr: float = 1e-3,
                        batch_size: int = 256, record_every: int = 10, eval_size: int = 1024, seed: int = 0,
                        betas: tuple[float, float] = (0.5, 0.999)) -> FrozenGeneratorHistory:
    """Arjovsky & Bottou (2017, §2.2.1)'s experiment: freeze ``g``, train ``d`` on, watch the generator's gradient.

    ``d`` is trained with Adam on :func:`discriminator_loss` for ``steps`` steps while ``g`` stays fixed. Every
    ``record_every`` steps (and at step 0) the generator's gradient norm ‖∇_θ L_G‖ is measured on a fixed batch of
    ``eval_size`` latents for both losses (:func:`generator_grad_norm`), with the discriminator's accuracy and its
    mean logit at those fakes. As D becomes optimal, the minimax gradient vanishes (their Theorem 2.4 and Fig. 2).
    """
    _check_pair(g, d, real_data)
    steps, batch_size = positive_int("steps", steps), positive_int("batch_size", batch_size)
    record_every, eval_size = positive_int("record_every", record_every), positive_int("eval_size", eval_size)
    lr = real("lr", lr, positive=True)
    rng = torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))
    n = real_data.shape[0]
    z_eval = torch.randn(eval_size, _latent_dim(g), generator=rng)
    real_eval = real_data[torch.randint(0, n, (eval_size,), generator=rng)]
    opt = make_optimizer("adam", d.parameters(), lr, betas=betas)
    history = FrozenGeneratorHistory()

    def record(step: int, d_loss: float) -> None:
        with torch.no_grad():
            fake_logits, real_logits = d(g(z_eval)), d(real_eval)
        history.steps.append(step)
        history.d_loss.append(d_loss)
        history.d_accuracy.append(float(torch.cat([(real_logits > 0), (fake_logits < 0)]).float().mean()))
        history.fake_logit.append(float(fake_logits.mean()))
        for kind in GAN_LOSSES:
            history.grad_norm[kind].append(generator_grad_norm(g, d, z_eval, kind))

    with torch.no_grad():
        initial = float(discriminator_loss(d(real_eval), d(g(z_eval))))
    record(0, initial)
    for step in range(1, steps + 1):
        real_batch = real_data[torch.randint(0, n, (batch_size,), generator=rng)]
        with torch.no_grad():
            fake = sample(g, batch_size, rng)
        loss = discriminator_loss(d(real_batch), d(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % record_every == 0:
            record(step, float(loss.detach()))
    opt.zero_grad(set_to_none=True)
    return history


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float, k: float = 3.0) -> tuple[int, float]:
    """(modes covered, fraction of high-quality samples) for samples of a 2-D mixture.

    A sample is *high quality* if it lies within ``k`` standard deviations of its nearest centre; a mode is
    *covered* if at least one high-quality sample is nearest to it — the counts Metz et al. (2017, §3.1) and
    Srivastava et al. (2017) report for the ring of Gaussians.
    """
    if not (isinstance(samples, torch.Tensor) and isinstance(centres, torch.Tensor)):
        raise TypeError("samples and centres must be torch tensors")
    if samples.dim() != 2 or centres.dim() != 2 or samples.shape[1] != centres.shape[1] or samples.shape[0] == 0:
        raise ValueError(f"samples (n, d) and centres (modes, d) must share d, got {tuple(samples.shape)} and "
                         f"{tuple(centres.shape)}")
    std, k = real("std", std, positive=True), real("k", k, positive=True)
    dist = torch.cdist(samples.detach().double(), centres.detach().double())
    nearest, which = dist.min(dim=1)
    good = nearest <= k * std
    covered = int(np.unique(which[good].numpy()).size)
    return covered, float(good.double().mean())
