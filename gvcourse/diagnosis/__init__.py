"""``diagnose``, the gradient-health check of any model, and its parts, one module each: the pass itself
(:mod:`.run`), the report it returns (:mod:`.report`), the gradient-through-time recorder for recurrent modules
(:mod:`.recurrent`) and the rules that turn measurements into a verdict and suggestions (:mod:`.rules`).

``gvcourse.diagnose`` is the function; what a user reads in its result is importable from here::

    from gvcourse.diagnosis import DiagnosisReport, VANISHING_RATIO, EXPLODING_RATIO
"""

from .report import EXPLODING_RATIO, VANISHING_RATIO, VERDICTS, DiagnosisReport, LayerReport, Suggestion, TimeReport
from .rules import CHAPTERS
from .run import MODES, diagnose

__all__ = ["diagnose", "DiagnosisReport", "LayerReport", "TimeReport", "Suggestion", "VERDICTS",
           "VANISHING_RATIO", "EXPLODING_RATIO", "CHAPTERS", "MODES"]
