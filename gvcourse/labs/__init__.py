"""Exercise checkers for the instructor-led labs (``book/labs/lab*.ipynb``).

The labs ask students for answers and check them here::

    >>> from gvcourse import labs
    >>> labs.check("lab1-hand-gradient", {"x": -1.05, "w": 0.197, "b": 0.393})   # doctest: +SKIP
    lab1-hand-gradient: correct ...

:func:`check` returns a :class:`CheckResult`: truthy only for a correct answer, with feedback and a hint
that print the same on every run. An answer of the wrong type or shape, or a placeholder left as ``...``,
gets feedback — never a traceback from inside a checker. An unknown exercise id raises
:class:`UnknownExercise` (a ``KeyError``) naming the known ids, :func:`exercise_ids`. :func:`assert_correct` is
the same check raising ``AssertionError`` unless the answer is correct, for autograder cells (nbgrader).
:func:`use_variant` gives a student's kernel its own seed for Lab 2's and Lab 3's networks, so that a number copied
from the website or a neighbour is refused.

Answers are checked by **computing**: the checker recomputes a gradient with ``torch.autograd`` in float64,
trains the submitted model with the lab's recipe, or measures the lab's network — it does not compare with a
stored number where a computation is possible.

The labs' problems are defined here too (:func:`lab2_task`, :func:`lab2_broken_model`, :func:`lab2_train`,
:func:`lab3_rnn`, :class:`SuspectValue`), so the notebook and its checker always see the same problem.

Layout: :mod:`.checking` (the framework: ``check``, ``CheckResult``, the registry, answer parsing) and one
module per lab, :mod:`.lab1`, :mod:`.lab2`, :mod:`.lab3`, each registering its checkers when imported. The
student versions of the labs are written by repository tooling, ``python scripts/student_labs.py --student DIR``.
"""

from __future__ import annotations

from .checking import (
    LABS,
    VARIANT_LABS,
    CheckResult,
    UnknownExercise,
    assert_correct,
    check,
    describe,
    exercise_ids,
    use_variant,
    variant,
)

# lab1, lab2, lab3 in this order: exercise_ids() lists the exercises in the order their modules register them
from .lab1 import LAB1_POINT, SUSPECT_OPS, SuspectValue, lab1_loss
from .lab2 import (
    LAB2_CLASSES,
    LAB2_DEPTH,
    LAB2_IN,
    LAB2_TARGET,
    LAB2_WIDTH,
    lab2_broken_model,
    lab2_task,
    lab2_train,
    single_thread,
)
from .lab3 import LAB3_LOGITS, LAB3_T, lab3_rnn

__all__ = ["CheckResult", "UnknownExercise", "check", "assert_correct", "exercise_ids", "describe", "LABS",
           "VARIANT_LABS", "use_variant", "variant",
           "SuspectValue", "SUSPECT_OPS", "LAB1_POINT", "lab1_loss",
           "single_thread", "LAB2_DEPTH", "LAB2_WIDTH", "LAB2_IN", "LAB2_CLASSES", "LAB2_TARGET", "lab2_task",
           "lab2_broken_model", "lab2_train",
           "LAB3_T", "LAB3_LOGITS", "lab3_rnn"]
