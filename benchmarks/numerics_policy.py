#!/usr/bin/env python3
"""What the cross-CPU numerics policy costs: time per training step with and without it.

    python benchmarks/numerics_policy.py [--rounds 5] [--steps 40]

``gvcourse.use_reproducible_numerics()`` (PyTorch's AVX2 kernels, MKL's COMPATIBLE branch, no oneDNN,
one thread) makes every x86-64 CPU compute the same bits. This measures its price on three workloads of the
chapters, each in a fresh process (the settings are process-wide and read once):

- ``mlp``: the initialization chapter's 30-layer, 96-unit ReLU network, SGD with momentum, batches of 128;
- ``lstm``: the recurrent chapter's 32-unit LSTM on the adding problem (T = 50), Adam, batches of 64;
- ``cnn``: the residual chapter's 20-layer BatchNorm CNN on the 8×8 digits, SGD, batches of 64.

Each round runs every (workload, setting) pair once, interleaved so that machine noise hits all alike, and the
ratio policy / default (one thread both) is taken within a round; medians over rounds are printed. CPU time of
the training loop is measured (``time.process_time``), which a busy machine distorts less than wall time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

WORKER = r"""
import sys, time
import torch
import gvcourse
from gvcourse import data, fit, nets, sequence
workload, policy, steps = sys.argv[1], sys.argv[2] == "policy", int(sys.argv[3])
if policy:
    gvcourse.use_reproducible_numerics()
else:
    torch.set_num_threads(1)
gvcourse.seed_all(0)
if workload == "mlp":
    model, batch = nets.mlp(30, 96, 32, 10, activation="relu", init="he_normal", seed=0), 128
    train = data.teacher_task(n=2048, d=32, classes=10, seed=0)
    kw = dict(lr=0.005, momentum=0.9)
elif workload == "lstm":
    model, batch = sequence.rnn_model("lstm", 32, forget_bias=1.0, seed=0), 64
    train = data.adding_problem(2000, 50, seed=0)
    kw = dict(lr=0.01, optimizer="adam", clip=1.0, loss="mse")
else:
    model, batch = nets.cnn(20, 8, residual=True, norm="batch", seed=0), 64
    x, y = data.digits(flatten=False)
    train = (x[:1400], y[:1400])
    kw = dict(lr=0.02, momentum=0.9)
fit(model, train, 5, batch_size=batch, progress=False, **kw)  # warm up: first calls, allocator
start = time.process_time()
fit(model, train, steps, batch_size=batch, progress=False, **kw)
print((time.process_time() - start) / steps * 1000)
"""

WORKLOADS = ("mlp", "lstm", "cnn")


def step_ms(workload: str, setting: str, steps: int) -> float:
    out = subprocess.run([sys.executable, "-c", WORKER, workload, setting, str(steps)], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args(argv)
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for workload in WORKLOADS:
            for setting in ("default", "policy"):
                times.setdefault((workload, setting), []).append(step_ms(workload, setting, args.steps))
    print(f"{'workload':8s} {'default (ms/step)':>18s} {'policy (ms/step)':>17s} {'ratio, median':>14s} "
          f"{'ratio, range':>14s}")
    for workload in WORKLOADS:
        base, pol = times[workload, "default"], times[workload, "policy"]
        ratios = [p / b for p, b in zip(pol, base)]
        print(f"{workload:8s} {statistics.median(base):18.1f} {statistics.median(pol):17.1f} "
              f"{statistics.median(ratios):14.2f} {min(ratios):6.2f}-{max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
