"""Numbers that come out the same on every x86-64 CPU: the course's numerics policy.

Two CPUs run the same PyTorch build, the same code and the same seeds, and still print different
accuracies after a few hundred SGD steps of a deep network. Nothing is random: each machine picks
its own compiled kernels, and kernels that add the same numbers in a different order round
differently (float32 carries about 7 digits). A long run of a deep net amplifies those last-bit
differences until they show in the printed result. Four libraries choose kernels per CPU:

* **PyTorch's own kernels** (element-wise maths, reductions, random normal numbers) are compiled
  once per instruction set and dispatched on the CPU's capability (AVX-512 on recent Intel Xeons,
  AVX2 on AMD EPYC and older Intel). ``ATEN_CPU_CAPABILITY=avx2`` makes every AVX2 machine run
  the same kernels.
* **Intel MKL** does the matrix products (``nn.Linear``, ``matmul``). Its *Conditional Numerical
  Reproducibility* mode fixes the code branch, the cache sizes it blocks for and its reductions.
  Only the ``COMPATIBLE`` branch gives the same bits on Intel *and* non-Intel CPUs: MKL ignores
  ``MKL_CBWR=AVX2`` on AMD processors and falls back to its automatic choice (oneMKL developer
  guide, "Specifying code branches"). ``COMPATIBLE`` uses SSE2 without approximate instructions,
  so matrix products are slower: about 3x for the course's MLPs on one thread (the measured cost
  is on the page "How this course is tested").
* **oneDNN** (convolutions) compiles its kernels at run time for the CPU it finds, blocking for
  its caches; it promises no cross-CPU reproducibility, so it is switched off and convolutions use
  PyTorch's own implementation (im2col and an MKL matrix product, covered by the two rules above).
* **Threads** split reductions into per-thread partial sums, so the thread count is part of the
  result. One thread also avoids oversubscription: two kernels each running two threads on a
  2-core machine (JupyterLab with another notebook open, Binder or hub pods with CPU limits, the
  test suite's two workers) ran 4-12x slower than with one thread each.

Each setting must be in place before the first computation of the process: PyTorch and MKL read
them once, at their first use. :func:`use_reproducible_numerics` sets them and then checks that
they took effect. The test suite proves the effect on this CPU by making it choose what an AVX2-only
CPU would choose (``tests/test_reproducibility.py``): under the policy a training run keeps its bits.

The price is speed: for the course's small networks, about 2x a default PyTorch step (MKL's SSE2
branch makes matrix products 2.5-4x slower; oneDNN off makes LSTMs and convolutions 2.5-3.5x slower).
:func:`gvcourse.setup_notebook` applies the policy in every chapter, whose experiments are sized to
afford it, so the stored outputs are what every x86-64 CPU with AVX2 computes.

On other CPUs (ARM, e.g. Apple silicon, or x86 without AVX2) the kernels are different by
construction; the course's printed results are those of the policy above, and a learner there
may see the last digits of long training runs differ.
"""

from __future__ import annotations

import ctypes
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ._checks import positive_int

__all__ = ["NumericsPolicy", "use_reproducible_numerics", "numerics_in_effect", "POLICY_ENV"]

#: The environment every computation of the course runs under (read by PyTorch and MKL at first use).
POLICY_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE"}

_MKL_BRANCH_COMPATIBLE = 3  # MKL_CBWR_COMPATIBLE in mkl_cbwr.h
_MKL_BRANCH_QUERY = 1  # MKL_CBWR_BRANCH: ask for the branch alone


@dataclass(frozen=True)
class NumericsPolicy:
    """What is in effect in this process: compare with the policy, or print in a bug report."""

    cpu_capability: str  # PyTorch's kernel set: AVX2 under the policy
    mkl_branch: str  # MKL's reproducibility branch: COMPATIBLE under the policy ("unknown" if it cannot be read)
    onednn_enabled: bool  # False under the policy
    threads: int  # 1 under the policy

    @property
    def reproducible(self) -> bool:
        """True when every setting matches the policy (or MKL's cannot be read)."""
        return (self.cpu_capability == "AVX2" and self.mkl_branch in ("COMPATIBLE", "unknown")
                and not self.onednn_enabled)


def _cpu_has_avx2() -> bool:
    """True on x86-64 CPUs with AVX2 and FMA (``/proc/cpuinfo``; False where it cannot be read)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx2" in flags and " fma" in flags


def _mkl_branch() -> str:
    """MKL's reproducibility branch, read from the MKL inside PyTorch; "unknown" where not readable."""
    try:
        lib = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        get = lib.mkl_serv_cbwr_get  # exported by the MKL statically linked into PyTorch's CPU wheels
    except (OSError, AttributeError):
        return "unknown"
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    branch = get(_MKL_BRANCH_QUERY)
    names = {1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 8: "SSE4_2", 9: "AVX", 10: "AVX2", 12: "AVX512"}
    return names.get(branch, f"branch {branch}")


def numerics_in_effect() -> NumericsPolicy:
    """Read the kernel set, MKL branch, oneDNN switch and thread count this process uses now."""
    return NumericsPolicy(cpu_capability=torch.backends.cpu.get_cpu_capability(), mkl_branch=_mkl_branch(),
                          onednn_enabled=bool(torch.backends.mkldnn.enabled), threads=torch.get_num_threads())


def use_reproducible_numerics(threads: int = 1) -> NumericsPolicy:
    """Make this process compute the same bits on every x86-64 CPU with AVX2, and return what is in effect.

    Sets ``ATEN_CPU_CAPABILITY=avx2`` and ``MKL_CBWR=COMPATIBLE`` (read by PyTorch and MKL at their
    first use), switches oneDNN off and runs PyTorch on ``threads`` threads (1 by default: the
    thread count is part of the result, and one thread per kernel never oversubscribes a small
    machine). Call it before any computation; the module docstring explains each setting.

    Warns, naming what to do, when the process had already computed something and a setting did
    not take effect, or when the CPU cannot follow the policy (no AVX2, not x86-64).
    """
    threads = positive_int("threads", threads)
    for name, value in POLICY_ENV.items():
        os.environ[name] = value
    torch.backends.mkldnn.enabled = False
    torch.set_num_threads(threads)
    state = numerics_in_effect()
    if not _cpu_has_avx2():
        warnings.warn("this CPU has no AVX2 (or is not x86-64): its results can differ in the last digits from the "
                      "course's stored outputs, and long training runs can differ more", RuntimeWarning, stacklevel=2)
    elif not state.reproducible:
        warnings.warn(f"reproducible numerics did not take effect (kernels {state.cpu_capability}, MKL branch "
                      f"{state.mkl_branch}): something computed before this call. Restart the kernel and call "
                      "gvcourse.use_reproducible_numerics() before any other computation", RuntimeWarning, stacklevel=2)
    return state
