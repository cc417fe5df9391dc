"""The checking framework of the labs: :func:`check`, :class:`CheckResult`, the exercise registry and the
answer-parsing helpers every checker uses.

A checker is a function registered with :func:`exercise`; it returns the feedback for a correct answer or
raises :class:`Fail` with feedback (and optionally a hint) for the student. :func:`check` turns every other
exception into feedback too, so a student never sees a traceback from inside a checker. The checkers themselves
live in :mod:`gvcourse.labs.lab1`, :mod:`~gvcourse.labs.lab2` and :mod:`~gvcourse.labs.lab3`.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch

from ..autograd import Value

__all__ = ["CheckResult", "UnknownExercise", "check", "assert_correct", "exercise_ids", "describe", "LABS",
           "VARIANT_LABS", "use_variant", "variant"]

#: The labs, in teaching order (file stems in ``book/labs``).
LABS = ("lab1_backprop", "lab2_rescue", "lab3_long_range")
#: The labs whose networks depend on :func:`use_variant` (Lab 2's broken network, Lab 3's RNN).
VARIANT_LABS = ("lab2_rescue", "lab3_long_range")

_VARIANT = 0


def use_variant(name: str | int | None) -> int:
    """Give this kernel its own variant of the labs' networks, and return its seed.

    ``lab2_broken_model()`` and ``lab3_rnn()`` are then initialised with the variant's seed, and the checkers
    measure that network — so the numbers printed on the course website (variant 0, the default) or in a
    neighbour's notebook (another name) are not the student's answers, and the checkers say so. ``name`` is a
    student's name or id (a non-empty string, case and surrounding spaces ignored), a non-negative int, or
    ``None`` for the public variant 0.
    """
    global _VARIANT
    if name is None:
        _VARIANT = 0
    elif isinstance(name, bool) or not isinstance(name, (str, int)):
        raise TypeError(f"use_variant expects a student's name (a string), a non-negative int or None, got "
                        f"{type(name).__name__} {name!r}")
    elif isinstance(name, int):
        if name < 0:
            raise ValueError(f"a variant number must be >= 0, got {name}")
        _VARIANT = name
    else:
        key = name.strip().lower()
        if not key:
            raise ValueError(f"a variant name must not be empty, got {name!r}")
        _VARIANT = 1 + int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 999_999
    return _VARIANT


def variant() -> int:
    """The seed of the labs' current variant (0, the website's, unless :func:`use_variant` chose another)."""
    return _VARIANT


# =================================================================================================================
# Results
# =================================================================================================================

@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`check`: truthy only when the answer is correct.

    ``feedback`` says what the checker computed and how the answer compares; ``hint`` (shown only when the
    answer is not correct) points to the idea the answer is missing. ``repr`` and ``_repr_html_`` depend only
    on these fields, so a notebook's stored output is the same on every run.
    """

    exercise_id: str
    passed: bool
    feedback: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    @property
    def status(self) -> str:
        return "correct" if self.passed else "not yet"

    def __repr__(self) -> str:
        mark = "✓" if self.passed else "✗"
        lines = [f"{mark} {self.exercise_id}: {self.status}", f"  {self.feedback}"]
        if self.hint and not self.passed:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        colour, mark = ("#1b7837", "✓") if self.passed else ("#b35806", "✗")
        hint = "" if self.passed or not self.hint else (
            f'<div style="margin-top:0.3em"><strong>Hint:</strong> {html.escape(self.hint)}</div>')
        return (f'<div class="gvcourse-check" style="border-left:4px solid {colour};padding:0.4em 0.8em;'
                f'margin:0.3em 0">'
                f'<strong style="color:{colour}">{mark} {html.escape(self.exercise_id)}: {self.status}</strong>'
                f'<div>{html.escape(self.feedback)}</div>{hint}</div>')


class UnknownExercise(KeyError):
    """An exercise id that no lab defines; the message names the known ids."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class Fail(Exception):
    """Raised inside a checker to stop with feedback (and an optional hint) for the student."""

    def __init__(self, feedback: str, hint: str | None = None):
        super().__init__(feedback)
        self.feedback = feedback
        self.hint = hint


@dataclass(frozen=True)
class _Exercise:
    id: str
    lab: str
    question: str
    hint: str
    checker: Callable[[object], str]  # returns the success feedback or raises Fail


_REGISTRY: dict[str, _Exercise] = {}


def exercise(exercise_id: str, lab: str, question: str, hint: str):
    def register(fn: Callable[[object], str]) -> Callable[[object], str]:
        _REGISTRY[exercise_id] = _Exercise(exercise_id, lab, question, hint, fn)
        return fn
    return register


def exercise_ids() -> list[str]:
    """The ids of every checked exercise, lab by lab."""
    return list(_REGISTRY)


def _lookup(exercise_id: object) -> _Exercise:
    known = ", ".join(_REGISTRY)
    if not isinstance(exercise_id, str):
        raise UnknownExercise(f"an exercise id is a string, one of: {known}; got {type(exercise_id).__name__} "
                              f"{exercise_id!r}")
    if exercise_id not in _REGISTRY:
        raise UnknownExercise(f"unknown exercise {exercise_id!r}; the known exercises are: {known}")
    return _REGISTRY[exercise_id]


def describe(exercise_id: str) -> str:
    """What exercise ``exercise_id`` asks for, and in what form the answer is checked."""
    ex = _lookup(exercise_id)
    return f"{ex.id} ({ex.lab}): {ex.question}"


def check(exercise_id: str, answer: object) -> CheckResult:
    """Check ``answer`` to exercise ``exercise_id`` and return a :class:`CheckResult` (truthy only if correct).

    Never raises for a bad answer: a wrong value, type or shape, a placeholder (``...`` or ``None``) or an
    answer that makes the checker's computation fail all come back as feedback with a hint. Raises
    :class:`UnknownExercise` (a ``KeyError``) for an id that is not in :func:`exercise_ids`.
    """
    ex = _lookup(exercise_id)
    try:
        if _is_placeholder(answer):
            return CheckResult(ex.id, False, "No answer yet: replace the placeholders (... or None) in the exercise "
                                             f"cell. The exercise asks for {ex.question}", ex.hint)
        feedback = ex.checker(answer)
    except Fail as fail:
        return CheckResult(ex.id, False, fail.feedback, ex.hint if fail.hint is None else fail.hint)
    # An answer that breaks the computation is feedback, not a traceback -- also when the student's own code
    # calls exit() (SystemExit). KeyboardInterrupt still stops the cell.
    except (Exception, SystemExit) as err:
        return CheckResult(ex.id, False, f"The checker could not use your answer: {type(err).__name__}: {err}",
                           ex.hint)
    return CheckResult(ex.id, True, feedback)


def assert_correct(exercise_id: str, answer: object) -> CheckResult:
    """:func:`check`, raising ``AssertionError`` (with the feedback and hint) unless the answer is correct.

    For autograders that score a cell by whether it raises — nbgrader's test cells, a pytest file, a CI job::

        labs.assert_correct("lab2-rescue", rescued)   # fails the cell with the checker's feedback

    Returns the :class:`CheckResult` when the answer is correct.
    """
    result = check(exercise_id, answer)
    if not result:
        raise AssertionError(repr(result))
    return result


def _is_placeholder(answer: object) -> bool:
    """``...``/``None``, or a list, tuple or dict whose entries are all or partly ``...``."""
    if answer is Ellipsis or answer is None:
        return True
    if isinstance(answer, Mapping):
        return any(v is Ellipsis for v in answer.values())
    if isinstance(answer, (list, tuple)):
        return any(v is Ellipsis for v in answer)
    return False


# -- answer parsing helpers --------------------------------------------------------------------------------------

def kind_of(value: object) -> str:
    """How feedback names what the student passed: a type name, or "the class X itself" for a class."""
    if isinstance(value, type):
        return (f"the class {value.__qualname__} itself, not an instance of it (call the class, or a builder, to "
                "make one)")
    return type(value).__name__


def as_float(value: object, what: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise Fail(f"{what} should be one number, got a tensor of shape {tuple(value.shape)}.")
        value = value.item()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise Fail(f"{what} should be one number, got an array of shape {value.shape}.")
        value = value.item()
    if isinstance(value, Value):
        raise Fail(f"{what} should be a number, got a Value; use its .data (or .grad).",
                    "A Value holds a number in .data and a derivative in .grad.")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise Fail(f"{what} should be a real number, got {kind_of(value)}.")
    try:
        v = float(value)
    except OverflowError:
        raise Fail(f"{what} should be finite, got a number too large for a float.") from None
    if not math.isfinite(v):
        raise Fail(f"{what} should be finite, got {v}.")
    return v


def as_vector(value: object, length: int, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:  # .double() would drop the imaginary part
            raise Fail(f"{what} should hold real numbers, got a tensor of dtype {value.dtype}.")
        arr = value.detach().double().cpu().numpy()
    elif isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (list, tuple)):
        arr = np.array([as_float(v, f"each entry of {what}") for v in value], dtype=float)
    else:
        raise Fail(f"{what} should be a list, tuple, NumPy array or tensor of {length} numbers, "
                    f"got {kind_of(value)}.")
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise Fail(f"{what} should hold numbers, got entries of type {arr.dtype}.")
    if np.iscomplexobj(arr):  # converting to float would silently drop the imaginary part
        raise Fail(f"{what} should hold real numbers, got entries of type {arr.dtype}.")
    arr = np.asarray(arr, dtype=float)
    if arr.shape != (length,):
        raise Fail(f"{what} should have shape ({length},) — {length} numbers — got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise Fail(f"{what} should be finite; it contains NaN or infinity.")
    return arr


def is_close(a: float, b: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(a - b) <= max(rel * abs(b), abs_)


def fmt(v: float) -> str:
    return f"{v:.4g}"
