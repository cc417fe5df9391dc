"""The parts of :func:`gvcourse.diagnose`: the report it returns (:mod:`.report`), the gradient-through-time
recorder for recurrent modules (:mod:`.recurrent`) and the rules that turn measurements into a verdict and
suggestions (:mod:`.rules`). The pass itself is ``gvcourse/diagnose.py``."""
