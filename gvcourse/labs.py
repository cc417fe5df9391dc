"""Exercise checkers for the instructor-led labs, and the generator of the labs' student versions.

The labs (``book/labs/lab*.ipynb``) ask students for answers and check them here::

    >>> from gvcourse import labs
    >>> labs.check("lab1-hand-gradient", {"x": -1.05, "w": 0.197, "b": 0.393})   # doctest: +SKIP
    lab1-hand-gradient: correct ...

:func:`check` returns a :class:`CheckResult`: truthy only for a correct answer, with feedback and a hint
that print the same on every run. An answer of the wrong type or shape, or a placeholder left as ``...``,
gets feedback — never a traceback from inside a checker. An unknown exercise id raises
:class:`UnknownExercise` (a ``KeyError``) naming the known ids, :func:`exercise_ids`.

Answers are checked by **computing**: the checker recomputes a gradient with ``torch.autograd`` in float64,
trains the submitted model with the lab's recipe, or measures the lab's network — it does not compare with a
stored number where a computation is possible.

The labs' problems are defined here too (:func:`lab2_task`, :func:`lab2_broken_model`, :func:`lab2_train`,
:func:`lab3_rnn`, :class:`SuspectValue`), so the notebook and its checker always see the same problem.

Student versions come from the same notebooks::

    python -m gvcourse.labs --student DIR [--source book/labs]

writes every lab with its solutions removed (cells tagged ``solution``, markdown ``{solution}`` blocks,
cells tagged ``instructor``), its scaffolds shown (cells tagged ``scaffold`` lose ``remove-cell``) and its
outputs cleared (:func:`student_notebook`).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import html
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .autograd import Value

__all__ = ["CheckResult", "UnknownExercise", "check", "exercise_ids", "describe", "LABS",
           "SuspectValue", "SUSPECT_OPS", "LAB1_POINT", "lab1_loss",
           "single_thread", "LAB2_DEPTH", "LAB2_WIDTH", "LAB2_TARGET", "lab2_task", "lab2_broken_model", "lab2_train",
           "LAB3_T", "LAB3_LOGITS", "lab3_rnn",
           "lab_sources", "student_notebook", "write_student_versions", "main"]

#: The labs, in teaching order (file stems in ``book/labs``).
LABS = ("lab1_backprop", "lab2_rescue", "lab3_long_range")


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


class _Fail(Exception):
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
    checker: Callable[[object], str]  # returns the success feedback or raises _Fail


_REGISTRY: dict[str, _Exercise] = {}


def _exercise(exercise_id: str, lab: str, question: str, hint: str):
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
    except _Fail as fail:
        return CheckResult(ex.id, False, fail.feedback, ex.hint if fail.hint is None else fail.hint)
    # An answer that breaks the computation is feedback, not a traceback -- also when the student's own code
    # calls exit() (SystemExit). KeyboardInterrupt still stops the cell.
    except (Exception, SystemExit) as err:
        return CheckResult(ex.id, False, f"The checker could not use your answer: {type(err).__name__}: {err}",
                           ex.hint)
    return CheckResult(ex.id, True, feedback)


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

def _as_float(value: object, what: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise _Fail(f"{what} should be one number, got a tensor of shape {tuple(value.shape)}.")
        value = value.item()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise _Fail(f"{what} should be one number, got an array of shape {value.shape}.")
        value = value.item()
    if isinstance(value, Value):
        raise _Fail(f"{what} should be a number, got a Value; use its .data (or .grad).",
                    "A Value holds a number in .data and a derivative in .grad.")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _Fail(f"{what} should be a real number, got {type(value).__name__}.")
    try:
        v = float(value)
    except OverflowError:
        raise _Fail(f"{what} should be finite, got a number too large for a float.") from None
    if not math.isfinite(v):
        raise _Fail(f"{what} should be finite, got {v}.")
    return v


def _as_vector(value: object, length: int, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:  # .double() would drop the imaginary part
            raise _Fail(f"{what} should hold real numbers, got a tensor of dtype {value.dtype}.")
        arr = value.detach().double().cpu().numpy()
    elif isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (list, tuple)):
        arr = np.array([_as_float(v, f"each entry of {what}") for v in value], dtype=float)
    else:
        raise _Fail(f"{what} should be a list, tuple, NumPy array or tensor of {length} numbers, "
                    f"got {type(value).__name__}.")
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise _Fail(f"{what} should hold numbers, got entries of type {arr.dtype}.")
    if np.iscomplexobj(arr):  # converting to float would silently drop the imaginary part
        raise _Fail(f"{what} should hold real numbers, got entries of type {arr.dtype}.")
    arr = np.asarray(arr, dtype=float)
    if arr.shape != (length,):
        raise _Fail(f"{what} should have shape ({length},) — {length} numbers — got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise _Fail(f"{what} should be finite; it contains NaN or infinity.")
    return arr


def _close(a: float, b: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(a - b) <= max(rel * abs(b), abs_)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


# =================================================================================================================
# Lab 1 — backpropagation by hand
# =================================================================================================================

#: The point at which Lab 1's first graph is differentiated.
LAB1_POINT = {"x": 0.5, "w": -1.5, "b": 0.25}


def lab1_loss(x, w, b):
    """Lab 1's graph L = tanh(x·w + b) · x — ``x`` is used twice. Works on Values, tensors and floats."""
    s = x * w + b
    t = s.tanh() if hasattr(s, "tanh") else math.tanh(s)
    return t * x


def _torch_grads(fn: Callable, point: Mapping[str, float]) -> dict[str, float]:
    leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in point.items()}
    out = fn(*leaves.values())
    grads = torch.autograd.grad(out, list(leaves.values()))
    return {k: float(g) for k, g in zip(leaves, grads)}


@_exercise("lab1-hand-gradient", "lab1_backprop",
           "the three partial derivatives of L = tanh(x·w + b)·x at x = 0.5, w = −1.5, b = 0.25, as a dict "
           "{'x': dL/dx, 'w': dL/dw, 'b': dL/db} (or a tuple in that order), to 3 significant digits.",
           "Go backwards: dL/dt = x, dt/ds = 1 − tanh²(s), ds/dw = x, ds/db = 1. And x is used twice: dL/dx is "
           "the sum of the contributions of both paths from x to L.")
def _check_lab1_hand(answer: object) -> str:
    names = ("x", "w", "b")
    if isinstance(answer, Mapping):
        missing = [k for k in names if k not in answer]
        extra = [k for k in answer if k not in names]
        if missing or extra:
            raise _Fail(f"The dict should have exactly the keys 'x', 'w', 'b'; missing {missing}, unexpected "
                        f"{[str(k) for k in extra]}.")
        values = [_as_float(answer[k], f"dL/d{k}") for k in names]
    else:
        values = list(_as_vector(answer, 3, "the answer (dL/dx, dL/dw, dL/db)"))
    exact = _torch_grads(lab1_loss, LAB1_POINT)
    wrong = [k for k, v in zip(names, values) if not _close(v, exact[k], 5e-3, 1e-4)]
    if not wrong:
        return ("All three agree with torch.autograd (float64): dL/dx = {x}, dL/dw = {w}, dL/db = {b}."
                .format(**{k: _fmt(v) for k, v in exact.items()}))
    got = dict(zip(names, values))
    x, w, b = LAB1_POINT["x"], LAB1_POINT["w"], LAB1_POINT["b"]
    t = math.tanh(x * w + b)
    one_path = {t: "only the direct path x → L (the factor x in t·x)",
                w * x * (1 - t * t): "only the path through tanh"}
    hint = None
    if "x" in wrong:
        for value, path in one_path.items():
            if _close(got["x"], value, 5e-3, 1e-4):
                hint = (f"Your dL/dx counts {path}. x reaches L along two paths — through tanh(x·w + b) and "
                        "directly as the second factor — and the chain rule adds the two contributions.")
    if hint is None and any(_close(got[k], -exact[k], 5e-3, 1e-4) for k in wrong):
        hint = "Check the signs: w is negative, and so is tanh(x·w + b) at this point."
    verb = "does" if len(wrong) == 1 else "do"
    others = "" if len(wrong) == len(names) else " The others are right."
    raise _Fail(f"{' and '.join('dL/d' + k for k in wrong)} {verb} not match torch.autograd "
                f"(you: {', '.join(_fmt(got[k]) for k in wrong)}).{others}", hint)


# -- a new operation with its own backward rule ------------------------------------------------------------------

_SOFTPLUS_POINTS = (-4.0, -1.0, 0.0, 0.5, 3.0, 25.0)


@_exercise("lab1-softplus", "lab1_backprop",
           "a function softplus(v) that takes a gvcourse.Value and returns a Value equal to log(1 + e^v) whose "
           "backward pass gives d softplus/dv = σ(v), also when v is used elsewhere in the graph.",
           "Either compose existing operations (v.exp(), + 1, .log()) or create Value(result, (v,), 'softplus') "
           "and give it a _backward that ADDS σ(v)·out.grad to v.grad (+=, not =).")
def _check_lab1_softplus(answer: object) -> str:
    if not callable(answer):
        raise _Fail(f"The answer should be a function softplus(v) -> Value, got {type(answer).__name__}.")
    for x0 in _SOFTPLUS_POINTS:
        v = Value(x0)
        try:
            y = answer(v)
        except Exception as err:
            raise _Fail(f"softplus(Value({x0:g})) raised {type(err).__name__}: {err}") from None
        if y is None:
            raise _Fail(f"softplus(Value({x0:g})) returned None: the body is still the placeholder (...) or has no "
                        "return statement.")
        if not isinstance(y, Value):
            raise _Fail(f"softplus(Value({x0:g})) returned {type(y).__name__}, not a Value — the result must stay "
                        "in the graph so that backward() can reach v.")
        exact = float(torch.nn.functional.softplus(torch.tensor(x0, dtype=torch.float64)))
        if not _close(y.data, exact, 1e-9, 1e-12):
            raise _Fail(f"softplus({x0:g}) = {_fmt(y.data)}, but log(1 + e^{x0:g}) = {_fmt(exact)}.",
                        "softplus(v) = log(1 + exp(v)).")
        # L = softplus(v)·v + softplus(v): v reaches L along three paths
        v = Value(x0)
        s = answer(v)
        loss = s * v + s
        loss.backward()
        t = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        ts = torch.nn.functional.softplus(t)
        (exact_grad,) = torch.autograd.grad(ts * t + ts, t)
        if not _close(v.grad, float(exact_grad), 1e-7, 1e-10):
            single = Value(x0)
            answer(single).backward()
            sig = 1.0 / (1.0 + math.exp(-x0))
            if _close(single.grad, sig, 1e-7, 1e-10):
                raise _Fail(f"Alone, softplus's gradient is right (σ({x0:g}) = {_fmt(sig)}), but in "
                            f"L = softplus(v)·v + softplus(v) your v.grad = {_fmt(v.grad)} while torch.autograd "
                            f"gives {_fmt(float(exact_grad))}.",
                            "A backward rule must accumulate: v.grad += ..., because v can feed several nodes.")
            raise _Fail(f"d softplus/dv at v = {x0:g}: your backward pass gives {_fmt(single.grad)}, "
                        f"torch.autograd {_fmt(sig)} (= σ(v)).",
                        "d/dv log(1 + e^v) = e^v / (1 + e^v) = σ(v).")
    return (f"Values and gradients match torch.autograd at v = {', '.join(f'{p:g}' for p in _SOFTPLUS_POINTS)}, "
            "also with v used three times in the graph.")


# -- the planted bug ----------------------------------------------------------------------------------------------

class SuspectValue(Value):
    """A :class:`~gvcourse.autograd.Value` whose engine has **one planted bug** in a backward rule (Lab 1).

    It supports the same operations as ``Value`` (``+ - * / **``, ``relu tanh sigmoid exp log``) and every
    result is again a ``SuspectValue``. Treat it as a black box: find the broken operation by comparing its
    gradients with ``torch.autograd`` on small graphs, not by reading this source.
    """

    __slots__ = ()

    @staticmethod
    def _adopt(out: Value) -> SuspectValue:
        out.__class__ = SuspectValue
        return out  # type: ignore[return-value]

    def __add__(self, other):
        return self._adopt(super().__add__(other))

    def __mul__(self, other):
        return self._adopt(super().__mul__(other))

    def __pow__(self, exponent):
        return self._adopt(super().__pow__(exponent))

    def __rsub__(self, other):
        return self._adopt(super().__rsub__(other))

    def __rtruediv__(self, other):
        return self._adopt(super().__rtruediv__(other))

    def _unary(self, value: float, local_grad: float, op: str) -> SuspectValue:
        out = SuspectValue(value, (self,), op)
        if op == "tanh":
            def _backward() -> None:
                self.grad = local_grad * out.grad  # the planted bug: = instead of +=
        else:
            def _backward() -> None:
                self.grad += local_grad * out.grad
        out._backward = _backward
        return out


#: The operations of :class:`SuspectValue`, with the names the checker accepts for each.
SUSPECT_OPS = {
    "add": ("+", "add", "__add__", "radd", "__radd__", "plus", "addition"),
    "sub": ("-", "sub", "__sub__", "rsub", "__rsub__", "neg", "__neg__", "minus", "subtraction"),
    "mul": ("*", "mul", "__mul__", "rmul", "__rmul__", "times", "multiplication"),
    "div": ("/", "div", "truediv", "__truediv__", "rtruediv", "__rtruediv__", "division"),
    "pow": ("**", "pow", "__pow__", "power"),
    "relu": ("relu",), "tanh": ("tanh",), "sigmoid": ("sigmoid",), "exp": ("exp",), "log": ("log",),
}

_UNARY_TORCH = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "exp": torch.exp, "log": torch.log}
_BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
           "div": lambda a, b: a / b, "pow": lambda a, b: a ** 3}


def _op_graphs(op: str) -> list[Callable]:
    """Small graphs exercising ``op`` alone and with an input used several times."""
    if op in _UNARY_TORCH:
        def f1(x, y):
            return getattr(x, op)() * y
        def f2(x, y):
            return getattr(x, op)() * x + x * y
        return [f1, f2]
    g = _BINARY[op]
    return [lambda x, y: g(x, y), lambda x, y: g(x, y) * x + g(y, x)]


def _suspect_failures(points=((0.7, -1.3), (1.9, 0.4), (0.3, 2.2))) -> dict[str, tuple[float, float]]:
    """{op: (SuspectValue's dL/dx, torch's)} for every operation whose gradient disagrees with torch.autograd."""
    failures: dict[str, tuple[float, float]] = {}
    for op in SUSPECT_OPS:
        for graph in _op_graphs(op):
            for x0, y0 in points:
                x, y = SuspectValue(x0), SuspectValue(y0)
                graph(x, y).backward()
                tx = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
                ty = torch.tensor(y0, dtype=torch.float64, requires_grad=True)
                gx, gy = torch.autograd.grad(graph(tx, ty), (tx, ty), allow_unused=True, materialize_grads=True)
                if not (_close(x.grad, float(gx), 1e-9, 1e-12) and _close(y.grad, float(gy), 1e-9, 1e-12)):
                    failures.setdefault(op, (x.grad, float(gx)))
    return failures


def _op_name(answer: object) -> str:
    if not isinstance(answer, str):
        raise _Fail(f"The answer should be the name of an operation as a string, e.g. 'exp', got "
                    f"{type(answer).__name__}.")
    key = answer.strip().lower().removeprefix("value.").removeprefix("suspectvalue.").removesuffix("()").strip()
    for op, aliases in SUSPECT_OPS.items():
        if key in aliases:
            return op
    raise _Fail(f"{answer!r} is not an operation of SuspectValue; name one of: {', '.join(SUSPECT_OPS)}.")


@_exercise("lab1-find-bug", "lab1_backprop",
           "the name of the one operation of gvcourse.labs.SuspectValue whose backward rule is wrong (a string "
           "such as 'exp' or '*').",
           "Compare SuspectValue with torch.autograd on each operation alone — then on graphs where the same "
           "input is used more than once, e.g. f(x) = op(x)·x.")
def _check_lab1_bug(answer: object) -> str:
    op = _op_name(answer)
    failures = _suspect_failures()
    if op in failures:
        mine, exact = failures[op]
        return (f"Yes — the checker compared every operation of SuspectValue with torch.autograd, and only {op} "
                f"disagrees: on a graph that uses the input twice it gives dL/dx = {_fmt(mine)} where torch gives "
                f"{_fmt(exact)}.")
    raise _Fail(f"The checker compared {op} with torch.autograd on {2 * 3} graphs, including graphs that use the "
                f"input twice, and found no difference: {op} is not the broken operation.")


# =================================================================================================================
# Lab 2 — rescue a deep network
# =================================================================================================================

LAB2_DEPTH, LAB2_WIDTH, LAB2_IN, LAB2_CLASSES = 20, 32, 16, 4
#: validation accuracy a rescued network must reach with :func:`lab2_train`.
LAB2_TARGET = 0.80
_LAB2_STEPS, _LAB2_LR, _LAB2_MOMENTUM, _LAB2_BATCH = 300, 0.02, 0.9, 64


@contextlib.contextmanager
def single_thread():
    """Run the block with one PyTorch thread, then restore the previous number.

    The labs' networks are small (32 units), so one thread is as fast as two — much faster on a busy machine,
    where threads wait for each other — and the result no longer depends on how many threads the machine
    offers: a summation split across threads rounds differently, and 300 SGD steps can amplify the 1e-8
    differences into a different third digit of an accuracy.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def lab2_task() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Lab 2's data: ``data.teacher_task(2000, d=16, classes=4, seed=0)``, split into 1,600 train and 400 validation."""
    from .data import teacher_task

    x, y = teacher_task(n=2000, d=LAB2_IN, classes=LAB2_CLASSES, seed=0)
    return (x[:1600], y[:1600]), (x[1600:], y[1600:])


def lab2_broken_model(seed: int = 0) -> nn.Sequential:
    """The network Lab 2 rescues: 20 sigmoid layers of 32 units, "standard" init U[−1/√n, 1/√n].

    ``nets.mlp(20, 32, 16, 4, activation="sigmoid", init="standard")``: Glorot & Bengio (2010)'s standard
    initialization with the sigmoid, the combination their §4 shows to saturate and stall.
    """
    from .nets import mlp

    return mlp(LAB2_DEPTH, LAB2_WIDTH, LAB2_IN, LAB2_CLASSES, activation="sigmoid", init="standard", seed=seed)


def lab2_train(model: nn.Module, seed: int = 0, progress: bool = False, desc: str = "training"):
    """Train ``model`` with Lab 2's recipe and return ``(history, validation accuracy)``.

    The recipe is fixed so that fixes are compared on equal terms: 300 steps of SGD with momentum 0.9,
    learning rate 0.02, minibatches of 64 drawn with ``seed``, cross-entropy (:func:`gvcourse.train.fit`),
    on one thread (:func:`single_thread`).
    """
    from .train import evaluate, fit

    train, val = lab2_task()
    with single_thread():
        history = fit(model, train, _LAB2_STEPS, lr=_LAB2_LR, optimizer="sgd", momentum=_LAB2_MOMENTUM,
                      batch_size=_LAB2_BATCH, seed=seed, progress=progress, desc=desc)
        accuracy = evaluate(model, val)["accuracy"]
    return history, accuracy


def _lab2_flow_by_layer(model: nn.Module) -> tuple[dict[str, float], dict[str, float]]:
    """``{layer: ‖∂L/∂W‖}`` and ``{layer: ‖∂L/∂s‖}`` at the model's current weights, for the layers that ran."""
    from .monitor import GradientFlow

    train, _ = lab2_task()
    model.zero_grad(set_to_none=True)
    with single_thread(), GradientFlow(model) as flow:
        nn.functional.cross_entropy(model(train[0]), train[1]).backward()
    result = dict(flow.grad_norms()), dict(flow.backprop_norms())
    model.zero_grad(set_to_none=True)
    return result


def _lab2_flow(model: nn.Module) -> tuple[list[float], list[float]]:
    """Weight-gradient norms and back-propagated gradient norms, layer by layer, at the model's current weights."""
    grads, back = _lab2_flow_by_layer(model)
    return list(grads.values()), list(back.values())


@_exercise("lab2-gradient-ratio", "lab2_rescue",
           "‖∂L/∂W‖ of the first layer divided by ‖∂L/∂W‖ of the output layer of lab2_broken_model(), at "
           "initialization, for the cross-entropy over all 1,600 training examples (a float).",
           "Use GradientFlow(model): one forward and backward pass on the whole training set, then "
           "flow.grad_norms() — first value over last value.")
def _check_lab2_ratio(answer: object) -> str:
    value = _as_float(answer, "The ratio")
    norms, back = _lab2_flow(lab2_broken_model())
    exact = norms[0] / norms[-1]
    if value > 0 and abs(math.log(value / exact)) <= math.log(1.05):
        return (f"The checker measured {exact:.2e}: the first layer receives about {exact:.0e} of the output "
                "layer's gradient — it cannot learn.")
    if value > 0 and abs(math.log(value * exact)) <= math.log(1.05):
        raise _Fail(f"Your {value:.2e} is the inverse of the measured ratio.",
                    "First layer over output layer: the first value of grad_norms() divided by the last.")
    if value > 0 and abs(math.log(value / (back[0] / back[-1]))) <= math.log(1.05):
        raise _Fail(f"{value:.2e} is the ratio of the back-propagated gradients ‖∂L/∂s‖ (backprop_norms), not of "
                    "the weight gradients ‖∂L/∂W‖ the exercise asks for.", "Use flow.grad_norms().")
    raise _Fail(f"The checker measured a different ratio (you: {value:.2e}; it differs by more than 5 %).")


@_exercise("lab2-shrink-factor", "lab2_rescue",
           "the factor by which the back-propagated gradient norm ‖∂L/∂s‖ shrinks per layer in "
           "lab2_broken_model(), predicted from Glorot & Bengio's variance argument (a float).",
           "Per layer the gradient variance is multiplied by n·Var(W)·σ'(0)², with n = 32, Var(W) = 1/(3n) for "
           "U[−1/√n, 1/√n] and σ'(0) = 1/4 (theory.variance_factor). A norm scales like a standard deviation.")
def _check_lab2_shrink(answer: object) -> str:
    from .theory import variance_factor

    value = _as_float(answer, "The factor")
    factor = variance_factor("sigmoid", "standard", fan_in=LAB2_WIDTH)
    predicted = math.sqrt(factor.backward)
    back = _lab2_flow(lab2_broken_model())[1][:LAB2_DEPTH]  # hidden layers
    measured = (back[0] / back[-1]) ** (1 / (LAB2_DEPTH - 1))
    if _close(value, predicted, 0.05):
        return (f"Predicted √(n·Var(W)·σ'(0)²) = √(1/48) = {predicted:.3f}; the checker measured a geometric mean "
                f"of {measured:.3f} per layer over the 20 hidden layers.")
    if _close(value, factor.backward, 0.05):
        raise _Fail(f"{value:.3g} is the factor for the gradient's variance; the norm shrinks by its square root.")
    if _close(value, 0.25, 0.05):
        raise _Fail("0.25 is σ'(0) alone; the weights shrink the gradient too, because n·Var(W) = 1/3 < 1 for "
                    "the standard init.")
    if _close(value, measured, 0.05):
        raise _Fail(f"{value:.3f} is the measured factor — close, but the exercise asks for the prediction from "
                    "the variance argument.")
    raise _Fail(f"The prediction differs from {value:.3g} by more than 5 %.")


@_exercise("lab2-rescue", "lab2_rescue",
           f"a torch.nn.Module with at least {LAB2_DEPTH} hidden layers, 16 inputs and 4 outputs that reaches "
           f"a validation accuracy of at least {LAB2_TARGET:.2f} when trained with lab2_train.",
           "Change one thing at a time and measure: activation (relu, tanh), initialization (he_normal, "
           "xavier_normal), normalization (norm='batch') and residual=True are all options of nets.mlp.")
def _check_lab2_rescue(answer: object) -> str:
    from .monitor import layer_modules

    if not isinstance(answer, nn.Module):
        raise _Fail(f"The answer should be a torch.nn.Module (e.g. from nets.mlp), got {type(answer).__name__}.")
    n_layers = len(layer_modules(answer))
    if n_layers < LAB2_DEPTH + 1:
        raise _Fail(f"Your model has {n_layers} layers with weights; a rescue keeps the depth: at least "
                    f"{LAB2_DEPTH} hidden layers and an output layer ({LAB2_DEPTH + 1}).",
                    "Making the network shallow avoids the problem instead of fixing it.")
    if not any(p.requires_grad for p in answer.parameters()):
        raise _Fail("None of your model's parameters requires a gradient (requires_grad=False): nothing can train.")
    model = copy.deepcopy(answer)  # the student's model is not trained by the checker
    train, _ = lab2_task()
    model.eval()
    try:
        with torch.no_grad():
            out = model(train[0][:2])
    except Exception as err:
        raise _Fail(f"Your model cannot take the lab's inputs of shape (batch, {LAB2_IN}): "
                    f"{type(err).__name__}: {err}") from None
    model.train()  # measured as lab2_train will see it (BatchNorm with batch statistics)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, LAB2_CLASSES):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise _Fail(f"For a batch of 2 inputs your model returns {shape}; it should return (2, {LAB2_CLASSES}), "
                    "one logit per class.")
    by_layer = _lab2_flow_by_layer(model)[0]
    # every layer that counts towards the depth must be on the path from the input to the loss
    idle = [name for name in layer_modules(model) if not by_layer.get(name, 0.0) > 0.0]
    if idle:
        shown = ", ".join(idle[:5]) + (f" and {len(idle) - 5} more" if len(idle) > 5 else "")
        raise _Fail(f"{len(idle)} of your model's {n_layers} layers with weights receive no gradient at "
                    f"initialization (exactly zero, or NaN): {shown}. A layer that is never called, or that the "
                    "logits do not depend on, adds no depth; one whose gradient underflows to zero cannot learn.",
                    "The depth must be on the path from the input to the output: every layer should be called in "
                    "forward(), influence the logits and receive a gradient.")
    norms = list(by_layer.values())
    ratio = norms[0] / norms[-1] if norms[-1] > 0 else math.nan
    _, accuracy = lab2_train(model)
    if accuracy >= LAB2_TARGET:
        return (f"Trained with the lab's recipe it reaches a validation accuracy of {accuracy:.3f} "
                f"(target {LAB2_TARGET:.2f}); at initialization its first layer got {ratio:.1e} of the output "
                "layer's gradient.")
    raise _Fail(f"Trained with the lab's recipe it reaches a validation accuracy of {accuracy:.3f}, below the target "
                f"{LAB2_TARGET:.2f} (at initialization the first layer got {ratio:.1e} of the output layer's "
                "gradient).")


# =================================================================================================================
# Lab 3 — long-range and adversarial
# =================================================================================================================

#: Lab 3's horizon for the RNN bound, and the discriminator logits for the GAN exercise.
LAB3_T = 30
LAB3_LOGITS = (-8.0, -4.0, -1.0, 0.0, 2.0)
_GAN_RTOL = 5e-3


def lab3_rnn(seed: int = 0) -> nn.RNN:
    """Lab 3's vanilla tanh RNN: ``torch.nn.RNN(2, 32)`` with PyTorch's init, W_hh then scaled by 0.7.

    Scaling puts the largest singular value of W_hh below 1, so the bound (γ σ_max)^t of Pascanu, Mikolov &
    Bengio (2013, eq. 7) predicts vanishing.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        rnn = nn.RNN(2, 32, nonlinearity="tanh", batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.7)
    return rnn


@_exercise("lab3-rnn-bound", "lab3_long_range",
           f"the upper bound (γ·σ_max)^t on ‖∂h_t/∂h_0‖ for lab3_rnn(), for t = 1, …, {LAB3_T}: a sequence of "
           f"{LAB3_T} numbers.",
           "γ = sup|tanh'| = 1 and σ_max is the largest singular value of rnn.weight_hh_l0 "
           "(torch.linalg.matrix_norm(W, ord=2)); the norm of a product is at most the product of the norms.")
def _check_lab3_bound(answer: object) -> str:
    values = _as_vector(answer, LAB3_T, "The bound")
    w = lab3_rnn().weight_hh_l0.detach().double()
    sigma = float(torch.linalg.matrix_norm(w, ord=2))
    t = np.arange(1, LAB3_T + 1)
    exact = sigma ** t
    if np.allclose(values, exact, rtol=1e-3, atol=0):
        return (f"σ_max(W_hh) = {sigma:.4f} and γ = 1 for tanh, so the bound falls from {exact[0]:.3f} at t = 1 to "
                f"{exact[-1]:.2e} at t = {LAB3_T}.")
    rho = float(torch.linalg.eigvals(w).abs().max())
    frob = float(torch.linalg.matrix_norm(w))
    if np.allclose(values, rho ** t, rtol=1e-3):
        raise _Fail("You used the spectral radius (largest |eigenvalue|). It governs the product in the long run but "
                    "does not bound every ‖W^t‖; the bound needs the largest singular value.")
    if np.allclose(values, frob ** t, rtol=1e-3):
        raise _Fail("You used the Frobenius norm; it is a valid but much looser bound. The exercise asks for the "
                    "spectral norm (largest singular value), ord=2.")
    if np.allclose(values, sigma ** (t - 1), rtol=1e-3):
        raise _Fail("Your sequence starts at t = 0; the exercise asks for t = 1 … 30.")
    if np.allclose(values, (0.25 * sigma) ** t, rtol=1e-3):
        raise _Fail("γ = 1/4 is the sigmoid's; this RNN uses tanh, whose derivative is at most 1.")
    base = values[0]
    if base > 0 and abs(base - sigma) <= 0.01 * sigma and np.allclose(values, base ** t, rtol=1e-3):
        raise _Fail(f"Your sequence is {base:.6g}^t: σ_max rounded (the checker computed {sigma:.6f}). Raised to "
                    f"the {LAB3_T}th power the rounding grows to {abs((base / sigma) ** LAB3_T - 1):.1%} at "
                    f"t = {LAB3_T}.", "Use σ_max at full precision — the value torch.linalg.matrix_norm returns, "
                    "not a rounded printout.")
    first_bad = int(np.argmax(~np.isclose(values, exact, rtol=1e-3)))
    raise _Fail(f"At t = {first_bad + 1} your bound is {values[first_bad]:.4g}; the checker computed "
                f"{exact[first_bad]:.4g}.")


@_exercise("lab3-generator-grad", "lab3_long_range",
           "the derivative of the generator's loss with respect to the discriminator's logit a at "
           f"a = {', '.join(f'{a:g}' for a in LAB3_LOGITS)}, for both losses: a dict {{'minimax': [...], "
           "'non_saturating': [...]} (minimax loss log(1 − σ(a)), non-saturating loss −log σ(a), both minimized "
           "by the generator), to 3 significant digits.",
           "D = σ(a). d/da log(1 − σ(a)) = −σ(a) and d/da (−log σ(a)) = −(1 − σ(a)); check with torch.autograd.")
def _check_lab3_gan(answer: object) -> str:
    keys = ("minimax", "non_saturating")
    if not isinstance(answer, Mapping):
        raise _Fail("The answer should be a dict with keys 'minimax' and 'non_saturating', got "
                    f"{type(answer).__name__}.")
    missing = [k for k in keys if k not in answer]
    if missing:
        raise _Fail(f"The dict is missing {missing}; it needs keys 'minimax' and 'non_saturating'.")
    n = len(LAB3_LOGITS)
    got = {k: _as_vector(answer[k], n, f"answer[{k!r}]") for k in keys}
    a = torch.tensor(LAB3_LOGITS, dtype=torch.float64, requires_grad=True)
    losses = {"minimax": torch.log1p(-torch.sigmoid(a)), "non_saturating": -torch.nn.functional.logsigmoid(a)}
    exact = {k: torch.autograd.grad(losses[k].sum(), a)[0].numpy() for k in keys}
    # 3 significant digits (0.5 %), as in Lab 1: the lab prints the gradients to 3 digits
    ok = {k: np.allclose(got[k], exact[k], rtol=_GAN_RTOL, atol=1e-6) for k in keys}
    if all(ok.values()):
        ratio = exact["non_saturating"][0] / exact["minimax"][0]
        return (f"Both match torch.autograd. At a = {LAB3_LOGITS[0]:g} (a fake the discriminator rejects) the minimax "
                f"gradient is {exact['minimax'][0]:.2e} and the non-saturating one {exact['non_saturating'][0]:.3f}: "
                f"{ratio:.0f} times larger (e^(−a)).")
    if np.allclose(got["minimax"], exact["non_saturating"], rtol=_GAN_RTOL, atol=1e-6) and \
            np.allclose(got["non_saturating"], exact["minimax"], rtol=_GAN_RTOL, atol=1e-6):
        raise _Fail("Your two lists are swapped.")
    bad = [k for k in keys if not ok[k]]
    for k in bad:
        if np.allclose(got[k], -exact[k], rtol=_GAN_RTOL, atol=1e-6):
            raise _Fail(f"{k}: the magnitudes are right but the sign is flipped.",
                        "Both losses decrease as a grows (the fake looks more real), so both derivatives are "
                        "negative.")
    verb = "does" if len(bad) == 1 else "do"
    other = "; the other is right" if len(bad) == 1 else ""
    k = bad[0]
    i = int(np.argmax(~np.isclose(got[k], exact[k], rtol=_GAN_RTOL, atol=1e-6)))
    raise _Fail(f"{' and '.join(bad)} {verb} not match torch.autograd{other}: at a = {LAB3_LOGITS[i]:g} your {k} "
                f"value is {got[k][i]:.4g}, torch.autograd gives {exact[k][i]:.4g}.")


# =================================================================================================================
# Student versions
# =================================================================================================================

SOLUTION_TAGS = ("solution", "instructor")
SCAFFOLD_TAG = "scaffold"
_HIDDEN_IN_BOOK = ("remove-cell", "remove-input", "hide-cell", "hide-input")
_FENCE = re.compile(r"^(?P<fence>:{3,}|`{3,})\{solution(?:-start)?\}")


def _strip_solution_blocks(text: str) -> str:
    """Remove every ``{solution}`` directive (colon or backtick fence, nested fences respected) from markdown."""
    out: list[str] = []
    closing: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if closing is None:
            m = _FENCE.match(stripped)
            if m:
                closing = m.group("fence")
                continue
            out.append(line)
        elif stripped == closing:
            closing = None
    if closing is not None:
        raise ValueError(f"a {{solution}} block opened with {closing} is never closed")
    result = "\n".join(out)
    result = re.sub(r"\n{3,}", "\n\n", result)
    return result.strip("\n")


def student_notebook(nb):
    """The student version of an instructor notebook (an ``nbformat`` node; the input is not modified).

    - cells tagged ``solution`` or ``instructor`` are removed;
    - ``{solution}`` blocks are removed from markdown cells (a cell left empty is dropped);
    - cells tagged ``scaffold`` (hidden in the book with ``remove-cell``) are shown: the hiding tags go;
    - every output, execution count, timing and the saved widget state are cleared.
    """
    import nbformat

    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if any(t in SOLUTION_TAGS for t in tags):
            continue
        if SCAFFOLD_TAG in tags:
            cell.metadata["tags"] = [t for t in tags if t not in _HIDDEN_IN_BOOK]
        if cell.cell_type == "markdown":
            cell.source = _strip_solution_blocks(cell.source)
            if not cell.source.strip():
                continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    nb.metadata["gvcourse"] = {"student_version": True}
    nbformat.validate(nb)
    return nb


def lab_sources(source: str | Path | None = None) -> list[Path]:
    """The instructor lab notebooks, in teaching order.

    ``source`` is a directory holding ``lab1_backprop.ipynb`` …; by default ``book/labs`` of the repository
    checkout this package lives in, then ``book/labs`` under the current directory.
    """
    if source is not None:
        candidates = [Path(source)]
    else:
        candidates = [Path(__file__).resolve().parents[1] / "book" / "labs", Path.cwd() / "book" / "labs"]
    for folder in candidates:
        paths = [folder / f"{stem}.ipynb" for stem in LABS]
        if all(p.is_file() for p in paths):
            return paths
    if source is not None:
        missing = [f"{stem}.ipynb" for stem in LABS if not (Path(source) / f"{stem}.ipynb").is_file()]
        raise FileNotFoundError(f"{source} does not hold the lab notebooks (missing {', '.join(missing)})")
    raise FileNotFoundError("could not find book/labs with the lab notebooks; run from a checkout of the course "
                            "repository or pass --source DIR")


def write_student_versions(dest: str | Path, source: str | Path | None = None) -> list[Path]:
    """Write the student version of every lab into ``dest`` (created if needed); return the paths written."""
    import nbformat

    paths = lab_sources(source)
    dest = Path(dest)
    if dest.resolve() == paths[0].parent.resolve():
        raise ValueError(f"the destination {dest} is the labs' source folder; writing there would overwrite the "
                         "instructor versions")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        nb = student_notebook(nbformat.read(path, as_version=4))
        target = dest / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gvcourse.labs --student DIR [--source DIR]`` / ``--list``."""
    parser = argparse.ArgumentParser(prog="python -m gvcourse.labs",
                                     description="Write the student versions of the course's labs, or list the "
                                                 "checked exercises.")
    parser.add_argument("--student", metavar="DIR", help="write the student notebooks into DIR")
    parser.add_argument("--source", metavar="DIR", help="folder with the instructor labs (default: book/labs)")
    parser.add_argument("--list", action="store_true", help="list the checked exercises")
    args = parser.parse_args(argv)
    if not args.student and not args.list:
        parser.error("give --student DIR (or --list)")
    if args.list:
        for ex in exercise_ids():
            print(describe(ex))
    if args.student:
        try:
            written = write_student_versions(args.student, args.source)
        except (FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
