"""One short, deterministic training loop — the only one the chapters use."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.std import tqdm

from ._checks import one_of, positive_int, real
from .monitor import GradientFlow
from .optimizers import OPTIMIZERS, make_optimizer

__all__ = ["History", "fit", "evaluate", "grad_norm_and_clip", "LOSSES", "OPTIMIZERS"]

LOSSES = ("auto", "cross_entropy", "bce", "mse")
# No elapsed time or rate in the bar: its final line is identical on every run (nbval compares it).
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt}{postfix}"


@dataclass
class History:
    """What ``fit`` measured at every step: minibatch loss and accuracy, and the total gradient norm."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)

    def summary(self, last: int = 10) -> str:
        """The mean of the last ``last`` steps' loss (and accuracy), rounded — stable across runs and threads."""
        n = min(last, len(self.loss))
        text = f"loss {sum(self.loss[-n:]) / n:.3f}"
        if self.accuracy:
            text += f", accuracy {sum(self.accuracy[-n:]) / n:.3f}"
        return text


def _resolve_loss(kind: str, out: torch.Tensor, y: torch.Tensor) -> str:
    if kind != "auto":
        return kind
    if y.dtype in (torch.int64, torch.int32, torch.long) and out.dim() == 2 and out.shape[1] > 1:
        return "cross_entropy"
    if out.shape[-1] == 1 and y.dtype.is_floating_point and bool(((y == 0) | (y == 1)).all()):
        return "bce"
    return "mse"


def _loss_and_accuracy(kind: str, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float | None]:
    if kind == "cross_entropy":
        loss = nn.functional.cross_entropy(out, y)
        acc = float((out.argmax(dim=1) == y).float().mean())
    elif kind == "bce":
        loss = nn.functional.binary_cross_entropy_with_logits(out, y)
        acc = float(((out > 0).float() == y).float().mean())
    else:
        loss = nn.functional.mse_loss(out, y)
        acc = None
    return loss, acc


def _check_data(data) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)):
        raise TypeError("data must be a pair of tensors (inputs, targets), as gvcourse.data functions return")
    x, y = data
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"inputs and targets must have the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    return x, y


def grad_norm_and_clip(params: list[torch.Tensor], clip: float | None) -> tuple[torch.Tensor, dict]:
    """Total gradient norm, computed as ``torch.nn.utils.clip_grad_norm_`` does (one batched norm per gradient,
    then the norm of those), and with ``clip`` the same rescaling to total norm ≤ clip (Pascanu, Mikolov &
    Bengio 2013, Algorithm 1). Also returns ``{id(parameter): ‖its gradient‖}`` for the monitor."""
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return torch.tensor(0.0), {}
    grads = [p.grad for p in with_grad]
    sparse = any(g.is_sparse for g in grads)  # nn.Embedding(sparse=True): the batched kernels take dense ones only
    if sparse:
        norms = [torch.linalg.vector_norm(g.coalesce().values() if g.is_sparse else g) for g in grads]
    else:
        norms = torch._foreach_norm(grads)  # one batched call per step
    total = torch.linalg.vector_norm(torch.stack(norms))
    if clip is not None:
        coefficient = torch.clamp(clip / (total + 1e-6), max=1.0)
        if sparse:
            for g in grads:
                g.mul_(coefficient)
        else:
            torch._foreach_mul_(grads, coefficient)
    return total, {id(p): norm for p, norm in zip(with_grad, norms)}


def fit(model: nn.Module, data, steps: int, lr: float, optimizer: str = "sgd", *, batch_size: int = 128,
        momentum: float = 0.0, clip: float | None = None, loss: str = "auto", monitor: GradientFlow | None = None,
        seed: int = 0, progress: bool = True, desc: str = "training") -> History:
    """Train ``model`` on ``data = (x, y)`` for ``steps`` minibatch steps and return its :class:`History`.

    - minibatches are drawn with a private generator seeded by ``seed`` (same batches every run);
    - ``optimizer``: ``"sgd"`` (with ``momentum``) or ``"adam"`` (Kingma & Ba 2015);
    - ``clip``: if set, rescale the gradient so its total L2 norm is at most ``clip``
      (Pascanu, Mikolov & Bengio 2013, Algorithm 1); ``History.grad_norm`` records the norm before clipping;
    - ``loss``: ``"cross_entropy"`` for integer class labels, ``"bce"`` for a single logit and 0/1 targets,
      ``"mse"`` otherwise; ``"auto"`` picks from the targets;
    - ``monitor``: a :class:`~gvcourse.monitor.GradientFlow` on this model, driven through its public per-step
      protocol (``begin_step``, ``after_backward``, ``after_step``, ``end_steps``), which decides what is measured
      on which step: every step's weight-gradient norms and grad:data (update:data for ``updates=True``, ‖∂L/∂s‖
      for ``backprop_history=True``) go to its history; its back-propagated norms and activation statistics
      describe the last step. A hand-written loop that calls the same four methods records the same numbers.

    The progress bar shows no timings, so its last line is the same on every run.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"fit expects a torch.nn.Module, got {type(model).__name__}")
    x, y = _check_data(data)
    steps = positive_int("steps", steps)
    lr = real("lr", lr, positive=True)
    one_of("optimizer", optimizer, OPTIMIZERS)
    one_of("loss", loss, LOSSES)
    batch_size = positive_int("batch_size", batch_size)
    momentum = real("momentum", momentum, nonnegative=True)
    if clip is not None:
        clip = real("clip", clip, positive=True)
    if monitor is not None and not isinstance(monitor, GradientFlow):
        raise TypeError(f"monitor must be a gvcourse.monitor.GradientFlow, got {type(monitor).__name__}")
    if monitor is not None and monitor.model is not model:
        raise ValueError("monitor watches a different model than the one being trained")

    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(optimizer, params, lr, momentum=momentum)
    gen = torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))
    n = x.shape[0]
    history = History()
    model.train()
    attached_here = monitor is not None and not monitor.attached
    if attached_here:
        monitor.attach()
    bar = tqdm(range(steps), desc=desc, bar_format=BAR_FORMAT, disable=not progress, file=sys.stderr,
               mininterval=0.5, ascii=True)
    try:
        for step in bar:
            if monitor is not None:  # the monitor decides what it measures on which step
                monitor.begin_step(last=step == steps - 1)
            idx = torch.randint(0, n, (min(batch_size, n),), generator=gen) if batch_size < n else torch.arange(n)
            out = model(x[idx])
            kind = _resolve_loss(loss, out, y[idx])
            batch_loss, acc = _loss_and_accuracy(kind, out, y[idx])
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            total, per_param = grad_norm_and_clip(params, clip)
            if monitor is not None:
                monitor.after_backward()
            opt.step()
            if monitor is not None:  # unclipped gradients: the monitor reuses their norms instead of reading them again
                monitor.after_step(param_grad_norms=per_param if clip is None else None)
            history.loss.append(float(batch_loss.detach()))
            if acc is not None:
                history.accuracy.append(acc)
            history.grad_norm.append(float(total))
            if progress:
                bar.set_postfix_str(history.summary(), refresh=False)
    finally:
        bar.close()
        if monitor is not None:
            monitor.end_steps()
        if attached_here:
            monitor.detach()
    return history


def evaluate(model: nn.Module, data, loss: str = "auto") -> dict[str, float]:
    """Loss (and accuracy, for classification) of ``model`` on all of ``data``, in eval mode, without gradients.

    The model's train/eval mode is restored afterwards.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"evaluate expects a torch.nn.Module, got {type(model).__name__}")
    x, y = _check_data(data)
    one_of("loss", loss, LOSSES)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = model(x)
            kind = _resolve_loss(loss, out, y)
            value, acc = _loss_and_accuracy(kind, out, y)
    finally:
        model.train(was_training)
    result = {"loss": float(value)}
    if acc is not None:
        result["accuracy"] = acc
    return result
