"""gvcourse — the companion package of the course *Vanishing Gradients*.

Modules: ``autograd`` (a scalar autodiff engine), ``nets`` (models and initializations),
``data`` (generated or bundled data), ``monitor`` (``GradientFlow`` for any model),
``train`` (``fit``), ``theory`` (closed forms), ``plots`` (figures with alt text),
``sequence`` (RNN/LSTM models, gradients through time), ``gan`` (a small 2-D GAN and its two generator losses),
``transformer`` (a small pre-LN/post-LN Transformer encoder).
"""

from . import autograd, data, gan, monitor, nets, plots, sequence, theory, train, transformer
from ._checks import positive_int
from .autograd import Value
from .diagnose import diagnose as diagnose  # the function; the module stays importable as gvcourse.diagnose
from .monitor import GradientFlow
from .reproducibility import use_reproducible_numerics
from .seeding import seed_all
from .train import evaluate, fit

__version__ = "0.1.0"
__all__ = ["autograd", "data", "gan", "monitor", "nets", "plots", "sequence", "theory", "train", "transformer",
           "Value", "GradientFlow", "seed_all", "fit", "evaluate", "setup_notebook",
           "use_reproducible_numerics"]


def setup_notebook(seed: int = 0, threads: int = 1) -> int:
    """The first line of every chapter: one PyTorch thread, seeded generators, the course's figure style.

    ``threads`` PyTorch threads (1 by default). The thread count is part of a result: a reduction split over
    two threads adds in another order than on one, and long training runs amplify the last-bit difference.
    One thread per kernel also never oversubscribes a small machine: two kernels each running two threads
    on a 2-core machine (JupyterLab with another notebook open, Binder or a hub pod with a CPU limit, the
    test suite's two workers) ran 4-12x slower than with one thread each. Then seeds Python, NumPy and
    PyTorch and sets the figure style. Returns the seed.

    Identical numbers on *other* CPUs (AMD, or Intel without AVX-512) need more than this:
    :func:`gvcourse.use_reproducible_numerics` pins the kernels too, at a cost in speed.
    """
    use_reproducible_numerics(positive_int("threads", threads))
    plots.use_course_style()
    return seed_all(seed)
