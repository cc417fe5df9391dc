"""One call that makes a notebook's randomness reproducible."""

from __future__ import annotations

import random

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
    torch.use_deterministic_algorithms(True, warn_only=True)
    return seed
