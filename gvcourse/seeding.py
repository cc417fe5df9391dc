"""One call that makes a notebook's randomness reproducible."""

from __future__ import annotations

import random
import sys

import numpy as np
import torch

from ._checks import positive_int

__all__ = ["seed_all"]


def seed_all(seed: int = 0) -> int:
    """Seed Python's ``random``, NumPy's global generator and PyTorch, and return the seed.

    Also asks PyTorch for deterministic algorithms (warning, not failing, where none exists).
    Results can still differ in the last digits between 1 and 2 threads, so notebooks print
    rounded numbers.
    """
    seed = positive_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    _use_deterministic_algorithms()
    return seed


def _use_deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)``, without importing the compiler stack.

    The public function also imports ``torch._inductor`` (with TorchDynamo and SymPy: about 1.7 s, the largest
    single cost of a chapter's first cell) only to set Inductor's ``deterministic`` option, which matters for
    ``torch.compile``-generated code. The flag is set here; Inductor's option too when it is already loaded.
    """
    torch._C._set_deterministic_algorithms(True, warn_only=True)
    inductor_config = sys.modules.get("torch._inductor.config")
    if inductor_config is not None:
        inductor_config.deterministic = True
