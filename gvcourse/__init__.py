"""gvcourse — the companion package of the course *Vanishing Gradients*.

Modules: ``autograd`` (a scalar autodiff engine), ``nets`` (models and initializations),
``data`` (generated or bundled data), ``monitor`` (``GradientFlow`` for any model),
``train`` (``fit``), ``theory`` (closed forms), ``plots`` (figures with alt text),
``sequence`` (RNN/LSTM models, gradients through time), ``gan`` (a small 2-D GAN and its two generator losses),
``transformer`` (a small pre-LN/post-LN Transformer encoder); ``diagnose(model, x, y, loss_fn)`` the gradient-health
check of any model (its report classes are in ``gvcourse.diagnosis``).
"""

from . import autograd, data, gan, monitor, nets, plots, sequence, theory, train, transformer
from ._checks import positive_int
from .autograd import Value
from .diagnosis import diagnose
from .monitor import GradientFlow
from .reproducibility import use_reproducible_numerics
from .seeding import seed_all
from .train import evaluate, fit

__version__ = "0.1.0"
__all__ = ["autograd", "data", "gan", "monitor", "nets", "plots", "sequence", "theory", "train", "transformer",
           "Value", "GradientFlow", "diagnose", "seed_all", "fit", "evaluate", "setup_notebook",
           "use_reproducible_numerics"]


def setup_notebook(seed: int = 0, threads: int = 1) -> int:
    """The first line of every chapter: the same numbers on every CPU, seeded generators, the course's figure style.

    Applies :func:`gvcourse.use_reproducible_numerics` before any computation — PyTorch's AVX2 kernels, MKL's
    cross-vendor COMPATIBLE branch, oneDNN off, ``threads`` PyTorch threads (1 by default) — so a chapter
    prints on an AMD laptop, an Intel server, Colab or Binder the numbers its prose quotes: each CPU otherwise
    picks its own kernels, and long training runs amplify their last-bit differences (the module
    ``gvcourse.reproducibility`` explains each setting). The thread count is part of a result too, and one
    thread per kernel never oversubscribes a small machine: two kernels each running two threads on a 2-core
    machine ran 4-12x slower than with one thread each. Then seeds Python, NumPy and PyTorch and sets the
    figure style. Returns the seed.
    """
    use_reproducible_numerics(positive_int("threads", threads))
    plots.use_course_style()
    return seed_all(seed)
