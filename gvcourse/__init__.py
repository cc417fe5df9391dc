"""gvcourse — the companion package of the course *Vanishing Gradients*.

Modules: ``autograd`` (a scalar autodiff engine), ``nets`` (models and initializations),
``data`` (generated or bundled data), ``monitor`` (``GradientFlow`` for any model),
``train`` (``fit``), ``theory`` (closed forms), ``plots`` (figures with alt text).
"""

from . import autograd, data, monitor, nets, plots, theory, train
from .autograd import Value
from .monitor import GradientFlow
from .seeding import seed_all
from .train import evaluate, fit

__version__ = "0.1.0"
__all__ = ["autograd", "data", "monitor", "nets", "plots", "theory", "train",
           "Value", "GradientFlow", "seed_all", "fit", "evaluate", "setup_notebook"]


def setup_notebook(seed: int = 0) -> int:
    """Seed everything and apply the course's figure style — the first line of every chapter."""
    plots.use_course_style()
    return seed_all(seed)
