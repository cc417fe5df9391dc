"""Data that ships with the package or is generated — nothing is downloaded.

Every function takes a ``seed`` and returns float32 inputs and labels as torch tensors.
"""

from __future__ import annotations

import numpy as np
import torch

from ._checks import positive_int

__all__ = ["teacher_task", "random_binary", "digits"]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(positive_int("seed", seed, minimum=0))


def teacher_task(n: int = 2048, d: int = 32, classes: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable classification task: x ~ N(0, I_d), y = argmax(A x) with a fixed random A ~ N(0, 1).

    A linear "teacher" labels the points, so a network that trains well reaches high accuracy and
    one whose gradients vanish stays near chance (1/classes). Returns ``(x, y)``:
    x float32 of shape (n, d), y int64 of shape (n,).
    """
    n, d = positive_int("n", n), positive_int("d", d)
    classes = positive_int("classes", classes, minimum=2)
    rng = _rng(seed)
    teacher = rng.standard_normal((classes, d))
    x = rng.standard_normal((n, d))
    y = np.argmax(x @ teacher.T, axis=1)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def random_binary(n: int = 1000, d: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed document's Keras example: x ~ U[0, 1)^d and labels drawn at random from {0, 1}.

    The labels do not depend on x, so no model can *generalize*; a model can only memorize them.
    Returns x float32 (n, d) and y float32 (n, 1), as for a sigmoid output with binary cross-entropy.
    """
    n, d = positive_int("n", n), positive_int("d", d)
    rng = _rng(seed)
    x = rng.random((n, d))
    y = rng.integers(0, 2, size=(n, 1))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def digits(flatten: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), pixels scaled to [0, 1].

    ``flatten=True`` gives x of shape (1797, 64) for MLPs; ``False`` gives (1797, 1, 8, 8) for CNNs.
    The data ships inside scikit-learn; nothing is downloaded.
    """
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be True or False, got {flatten!r}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.data / 16.0, dtype=torch.float32)
    y = torch.tensor(bunch.target, dtype=torch.int64)
    return (x, y) if flatten else (x.reshape(-1, 1, 8, 8), y)
