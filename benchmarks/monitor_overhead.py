#!/usr/bin/env python3
"""What GradientFlow costs: time over a bare training step, and memory as the batch grows.

    python benchmarks/monitor_overhead.py [--rounds 15] [--steps 50]

Time: a depth-20, width-256 ReLU MLP (He init), batches of 128 from 4096 examples, plain SGD, trained with
``gvcourse.fit``. Each round trains ``--steps`` steps without a monitor, then the same steps from the same weights
with each kind of monitoring, interleaved so that machine noise hits all alike; ratios are taken within a round and
reported as median and interquartile range (budget in ARCHITECTURE.md: GradientFlow ≤ 1.10 × a bare step):

- ``fit(..., monitor=GradientFlow(model))``: what the chapters use — every step's per-layer ‖∂L/∂W‖ and grad:data
  in ``history``, the back-propagated ‖∂L/∂s‖ and activation statistics of the last step;
- the same with ``GradientFlow(model, backprop_history=True)``: ‖∂L/∂s‖ of every step as well, which hooks every
  layer's output in every backward pass;
- the same with ``GradientFlow(model, updates=True)``: update:data ‖ΔW‖/‖W‖ as well, which copies every weight
  before each step;
- a step under ``with GradientFlow(model)`` with every statistic on every pass (activation statistics and
  layer-output RMS too) — the cost of a one-off diagnostic pass, not of monitored training.

Real architectures: the default monitor's ratio on a ResNet-style CNN and on a Transformer encoder whose attention
projections (used functionally by nn.MultiheadAttention) and positional table are monitored.

Memory: after 20 monitored steps at batch sizes 32 … 2048, the bytes of tensors the monitor still holds and the
Python memory of what it recorded (tracemalloc): both stay flat as the batch grows, since it keeps scalars only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc

import torch
from torch import nn

from gvcourse import GradientFlow, fit, nets

DEPTH, WIDTH, BATCH, EXAMPLES = 20, 256, 128, 4096


def _setup(seed: int = 0):
    model = nets.mlp(DEPTH, WIDTH, WIDTH, 10, activation="relu", init="he_normal", seed=seed)
    gen = torch.Generator().manual_seed(seed)
    data = torch.randn(EXAMPLES, WIDTH, generator=gen), torch.randint(0, 10, (EXAMPLES,), generator=gen)
    return model, data


def _fit_time(model, data, steps: int, monitor: GradientFlow | None = None, start_from: dict | None = None) -> float:
    if start_from is not None:  # every variant trains the same steps from the same weights
        model.load_state_dict(start_from)
    start = time.perf_counter()
    fit(model, data, steps, lr=1e-3, batch_size=BATCH, monitor=monitor, progress=False)
    return (time.perf_counter() - start) / steps


def _pass_time(model, data, steps: int, start_from: dict) -> float:
    """Steps of fit while a GradientFlow computes every statistic on every pass (activations, output RMS)."""
    flow = GradientFlow(model, backprop_history=True)
    with flow:  # attached outside fit, so fit does not switch its forward statistics off
        return _fit_time(model, data, steps, start_from=start_from)


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def overhead(rounds: int, steps: int) -> None:
    model, data = _setup()
    _fit_time(model, data, 10)  # warm-up: allocator, thread pool
    start_from = {k: v.clone() for k, v in model.state_dict().items()}
    runs = {"bare": [], "fit monitor (default)": [], "fit monitor, backprop_history": [],
            "fit monitor, updates=True": [], "every statistic, every pass": []}
    for _ in range(rounds):
        runs["bare"].append(_fit_time(model, data, steps, start_from=start_from))
        runs["fit monitor (default)"].append(_fit_time(model, data, steps, GradientFlow(model), start_from))
        runs["fit monitor, backprop_history"].append(
            _fit_time(model, data, steps, GradientFlow(model, backprop_history=True), start_from))
        runs["fit monitor, updates=True"].append(
            _fit_time(model, data, steps, GradientFlow(model, updates=True), start_from))
        runs["every statistic, every pass"].append(_pass_time(model, data, steps, start_from))
    bare = runs.pop("bare")
    q1, med, q3 = _quartiles(bare)
    print(f"GradientFlow overhead: depth {DEPTH}, width {WIDTH}, batch {BATCH}, SGD via gvcourse.fit; {rounds} "
          f"interleaved rounds of {steps} steps; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"  {'bare step':30s} {1e3 * med:6.2f} ms (IQR {1e3 * q1:.2f}–{1e3 * q3:.2f})")
    for label, times in runs.items():
        r1, rmed, r3 = _quartiles([t / b for t, b in zip(times, bare)])
        budget = ("ok" if rmed <= 1.10 else "OVER 1.10") if label == "fit monitor (default)" else "(no budget)"
        print(f"  {label:30s} {1e3 * statistics.median(times):6.2f} ms   ratio to bare: median {rmed:.3f} "
              f"(IQR {r1:.3f}–{r3:.3f})  {budget}")


def scaling(rounds: int, steps: int) -> None:
    """The default monitor's ratio at other batch sizes: its cost per step is nearly fixed (hooks, one read of
    the weights), so its share falls as the step grows."""
    model, data = _setup()
    start_from = {k: v.clone() for k, v in model.state_dict().items()}
    print("  default monitor's ratio by batch size (median of interleaved rounds):", end="")
    for batch in (64, 128, 256, 512):
        ratios = []
        for _ in range(max(5, rounds // 2)):
            times = []
            for monitor in (None, GradientFlow(model)):
                model.load_state_dict(start_from)
                start = time.perf_counter()
                fit(model, data, steps, lr=1e-3, batch_size=batch, monitor=monitor, progress=False)
                times.append(time.perf_counter() - start)
            ratios.append(times[1] / times[0])
        print(f"  batch {batch}: {statistics.median(ratios):.3f}", end="")
    print()


def _tensor_bytes(obj, seen: set[int] | None = None) -> int:
    """Bytes of every tensor reachable from ``obj`` through dicts, lists, tuples and attributes (not the model)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, nn.Module):
        return 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return obj.element_size() * obj.numel()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple, set)):
        return sum(_tensor_bytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return _tensor_bytes(vars(obj), seen)
    return 0


def memory(steps: int = 20) -> None:
    print(f"GradientFlow memory after {steps} recorded steps of fit (depth {DEPTH}, width {WIDTH}, updates=True):")
    print(f"  {'batch':>6s} {'tensors held (bytes)':>21s} {'records (KB, tracemalloc)':>26s} "
          f"{'one pass of activations (MB)':>29s}")
    model, data = _setup()
    for batch in (32, 128, 512, 2048):
        flow = GradientFlow(model, updates=True)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        fit(model, data, steps, lr=1e-3, batch_size=batch, monitor=flow, progress=False)
        kept = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        activations_mb = (2 * DEPTH + 1) * batch * WIDTH * 4 / 1e6  # what keeping one pass's outputs would cost
        print(f"  {batch:6d} {_tensor_bytes(flow):21d} {kept / 1e3:26.1f} {activations_mb:29.1f}")


class _Block(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.c1, self.n1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.n2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.n2(self.c2(torch.relu(self.n1(self.c1(x))))))


class _Encoder(nn.Module):
    def __init__(self, dim: int = 64, length: int = 32):
        super().__init__()
        self.embed = nn.Linear(16, dim)
        self.pos = nn.Parameter(torch.zeros(1, length, dim))  # a free positional table: monitored too
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        return self.head(self.encoder(self.embed(x) + self.pos).mean(dim=1))


def architectures(rounds: int, steps: int) -> None:
    """The default monitor on a ResNet-style CNN (6 residual blocks, BatchNorm, 16×16 images) and a 4-layer
    Transformer encoder (attention projections, out_proj and the positional table monitored): medians of
    interleaved rounds, same weights and batches for both."""
    gen = torch.Generator().manual_seed(0)
    cases = {
        "ResNet-style CNN": (nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), *[_Block(16) for _ in range(6)],
                                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)),
                             (torch.randn(512, 3, 16, 16, generator=gen), torch.randint(0, 10, (512,), generator=gen))),
        "Transformer encoder": (_Encoder(), (torch.randn(512, 32, 16, generator=gen),
                                             torch.randint(0, 10, (512,), generator=gen))),
    }
    for label, (model, data) in cases.items():
        start_from = {k: v.clone() for k, v in model.state_dict().items()}
        fit(model, data, 3, lr=1e-3, batch_size=32, progress=False)  # warm-up
        ratios, bare = [], []
        for _ in range(max(5, rounds // 2)):
            times = []
            for monitor in (None, GradientFlow(model)):
                model.load_state_dict(start_from)
                start = time.perf_counter()
                fit(model, data, max(5, steps // 5), lr=1e-3, batch_size=32, monitor=monitor, progress=False)
                times.append(time.perf_counter() - start)
            ratios.append(times[1] / times[0])
            bare.append(times[0] / max(5, steps // 5))
        q1, med, q3 = _quartiles(ratios)
        entries = len(GradientFlow(model).tensors())
        print(f"  {label:22s} ({entries} entries) bare step {1e3 * statistics.median(bare):6.2f} ms; default monitor "
              f"ratio median {med:.3f} (IQR {q1:.3f}–{q3:.3f})  {'ok' if med <= 1.10 else 'OVER 1.10'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args(argv)
    overhead(args.rounds, args.steps)
    scaling(args.rounds, args.steps)
    architectures(args.rounds, args.steps)
    memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
