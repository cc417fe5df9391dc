"""Data that ships with the package or is generated — nothing is downloaded.

Every function takes a ``seed`` and returns float32 inputs and labels as torch tensors.
"""

from __future__ import annotations

from pathlib import Path

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
    """The Keras explainer's example: x ~ U[0, 1)^d and labels drawn at random from {0, 1}.

    The labels do not depend on x, so no model can *generalize*; a model can only memorize them.
    Returns x float32 (n, d) and y float32 (n, 1), as for a sigmoid output with binary cross-entropy.
    """
    n, d = positive_int("n", n), positive_int("d", d)
    rng = _rng(seed)
    x = rng.random((n, d))
    y = rng.integers(0, 2, size=(n, 1))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def digits(flatten: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8×8 handwritten digits (1,797 images, 10 classes), pixels scaled to [0, 1].

    ``flatten=True`` gives x of shape (1797, 64) for MLPs; ``False`` gives (1797, 1, 8, 8) for CNNs.
    The images are the test set of "Optical Recognition of Handwritten Digits" (Alpaydin & Kaynak 1998, UCI Machine
    Learning Repository, CC BY 4.0), as scikit-learn's ``load_digits`` returns them: each pixel counts the set pixels
    of a 4×4 block of a 32×32 bitmap (0–16). They ship in the package (``digits.npz``, 45 kB); nothing is downloaded.
    """
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be True or False, got {flatten!r}")
    with np.load(Path(__file__).with_name("digits.npz")) as stored:
        pixels, labels = stored["pixels"], stored["labels"]
    x = torch.tensor(pixels / 16.0, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.int64)
    return (x, y) if flatten else (x.reshape(-1, 1, 8, 8), y)


# --- Sequences and 2-D mixtures for the RNN and GAN chapters ---------------------------------------------------

def adding_problem(n: int = 1000, T: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem of Hochreiter & Schmidhuber (1997, experiment 4), in the form of Le, Jaitly & Hinton (2015).

    Each of the ``n`` sequences has ``T`` steps with two input channels: a value drawn from U[0, 1] and a marker
    that is 1 at exactly two steps — one in the first half (t < T/2) and one in the second half (t ≥ T/2) — and 0
    elsewhere. The target is the sum of the two marked values, so a model must carry the first marked value for
    at least T/2 steps. The target has mean 1 and variance 2 · (1/12) = 1/6: always predicting 1 scores an MSE of
    about 1/6 ≈ 0.167, the baseline a model must beat. Returns x float32 (n, T, 2) and y float32 (n, 1).
    """
    n = positive_int("n", n)
    T = positive_int("T", T, minimum=2)
    rng = _rng(seed)
    values = rng.random((n, T))
    first = rng.integers(0, T // 2, size=n)
    second = rng.integers(T // 2, T, size=n)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values * markers).sum(axis=1, keepdims=True)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def mixture_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The ``modes`` centres of :func:`gaussian_mixture_2d`, equally spaced on a circle of ``radius``: (modes, 2)."""
    from ._checks import real

    modes = positive_int("modes", modes)
    radius = real("radius", radius, positive=True)
    angles = 2 * np.pi * np.arange(modes) / modes
    return torch.tensor(np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1), dtype=torch.float32)


def gaussian_mixture_2d(n: int = 1000, modes: int = 8, radius: float = 2.0, std: float = 0.02,
                        seed: int = 0) -> torch.Tensor:
    """Points from a mixture of ``modes`` equal-weight 2-D Gaussians with standard deviation ``std``.

    The centres are :func:`mixture_centers` (a ring of ``radius``) — the toy distribution on which GANs are
    checked for mode collapse (Metz et al. 2017, §3.1: 8 modes, radius 2, std 0.02). Each point picks a mode
    uniformly at random. Returns x float32 (n, 2).
    """
    from ._checks import real

    n = positive_int("n", n)
    centres = mixture_centers(modes, radius).numpy().astype(np.float64)
    std = real("std", std, positive=True)
    rng = _rng(seed)
    which = rng.integers(0, centres.shape[0], size=n)
    x = centres[which] + std * rng.standard_normal((n, 2))
    return torch.tensor(x, dtype=torch.float32)


__all__ += ["adding_problem", "mixture_centers", "gaussian_mixture_2d"]


# --- Token sequences for the Transformer chapter ------------------------------------------------------------------

SEQUENCE_TASKS = ("copy", "reverse", "sort")


def token_sequences(n: int = 2048, length: int = 8, vocab: int = 8, task: str = "reverse",
                    seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token sequences and a per-position target: a sequence-to-sequence task for an encoder.

    Each of the ``n`` sequences has ``length`` tokens drawn uniformly from ``0 … vocab − 1``. The target at every
    position is, for ``task``:

    - ``"copy"``: the input token itself (no token has to look at any other: attention is not needed);
    - ``"reverse"``: the token at the mirrored position, ``y[i] = x[length − 1 − i]`` (each position must attend
      to one other position, chosen by position alone);
    - ``"sort"``: the i-th smallest token of the sequence (each position must compare all tokens).

    A model that ignores the other tokens scores 1/vocab on "reverse" (except at the middle position of an odd
    length). Returns x and y int64 of shape (n, length).
    """
    from ._checks import one_of

    n, length = positive_int("n", n), positive_int("length", length, minimum=2)
    vocab = positive_int("vocab", vocab, minimum=2)
    one_of("task", task, SEQUENCE_TASKS)
    rng = _rng(seed)
    x = rng.integers(0, vocab, size=(n, length))
    y = {"copy": x, "reverse": x[:, ::-1], "sort": np.sort(x, axis=1)}[task]
    return torch.tensor(x, dtype=torch.int64), torch.tensor(np.ascontiguousarray(y), dtype=torch.int64)


__all__ += ["SEQUENCE_TASKS", "token_sequences"]
