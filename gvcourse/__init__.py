"""gvcourse — the companion package of the course *Vanishing Gradients*.

Modules: ``autograd`` (a scalar autodiff engine), ``nets`` (models and initializations),
``data`` (generated or bundled data), ``monitor`` (``GradientFlow`` for any model),
``train`` (``fit``), ``theory`` (closed forms), ``plots`` (figures with alt text),
``sequence`` (RNN/LSTM models, gradients through time), ``gan`` (a small 2-D GAN and its two generator losses).
"""

from . import autograd, data, gan, monitor, nets, plots, sequence, theory, train
from .autograd import Value
from .diagnose import diagnose as diagnose  # the function; the module stays importable as gvcourse.diagnose
from .monitor import GradientFlow
from .seeding import seed_all
from .train import evaluate, fit

__version__ = "0.1.0"
__all__ = ["autograd", "data", "gan", "monitor", "nets", "plots", "sequence", "theory", "train",
           "Value", "GradientFlow", "seed_all", "fit", "evaluate", "setup_notebook"]


def setup_notebook(seed: int = 0) -> int:
    """Seed everything and apply the course's figure style — the first line of every chapter."""
    plots.use_course_style()
    return seed_all(seed)
