"""gvcourse — the companion package of the course *Vanishing Gradients*.

Modules: ``autograd`` (a scalar autodiff engine), ``nets`` (models and initializations),
``data`` (generated or bundled data), ``monitor`` (``GradientFlow`` for any model),
``train`` (``fit``), ``theory`` (closed forms), ``plots`` (figures with alt text),
``sequence`` (RNN/LSTM models, gradients through time), ``gan`` (a small 2-D GAN and its two generator losses),
``transformer`` (a small pre-LN/post-LN Transformer encoder).
"""

from . import autograd, data, gan, monitor, nets, plots, sequence, theory, train, transformer
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
    """The first line of every chapter: reproducible numerics, seeded generators, the figure style.

    Applies the numerics policy first (:func:`use_reproducible_numerics`: the same PyTorch kernels,
    MKL's cross-vendor reproducible branch, no oneDNN, ``threads`` PyTorch threads), so that a
    chapter prints the same numbers on every x86-64 CPU — the numbers its prose quotes and the
    test suite compares — and never oversubscribes a small machine (Colab, Binder, a hub pod).
    It must run before any computation; it warns if it comes too late. Then it seeds Python,
    NumPy and PyTorch and sets the course's figure style. Returns the seed.
    """
    use_reproducible_numerics(threads)
    plots.use_course_style()
    return seed_all(seed)
