"""Lab 1 — backpropagation by hand: the hand gradient, a new operation (softplus), and the planted bug."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from ..autograd import Value
from .checking import Fail, as_float, as_vector, exercise, fmt, is_close, kind_of

__all__ = ["LAB1_POINT", "lab1_loss", "SuspectValue", "SUSPECT_OPS"]

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


@exercise("lab1-hand-gradient", "lab1_backprop",
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
            raise Fail(f"The dict should have exactly the keys 'x', 'w', 'b'; missing {missing}, unexpected "
                        f"{[str(k) for k in extra]}.")
        values = [as_float(answer[k], f"dL/d{k}") for k in names]
    else:
        values = list(as_vector(answer, 3, "the answer (dL/dx, dL/dw, dL/db)"))
    exact = _torch_grads(lab1_loss, LAB1_POINT)
    wrong = [k for k, v in zip(names, values) if not is_close(v, exact[k], 5e-3, 1e-4)]
    if not wrong:
        return ("All three agree with torch.autograd (float64): dL/dx = {x}, dL/dw = {w}, dL/db = {b}."
                .format(**{k: fmt(v) for k, v in exact.items()}))
    got = dict(zip(names, values))
    x, w, b = LAB1_POINT["x"], LAB1_POINT["w"], LAB1_POINT["b"]
    t = math.tanh(x * w + b)
    one_path = {t: "only the direct path x → L (the factor x in t·x)",
                w * x * (1 - t * t): "only the path through tanh"}
    hint = None
    if "x" in wrong:
        for value, path in one_path.items():
            if is_close(got["x"], value, 5e-3, 1e-4):
                hint = (f"Your dL/dx counts {path}. x reaches L along two paths — through tanh(x·w + b) and "
                        "directly as the second factor — and the chain rule adds the two contributions.")
    if hint is None and any(is_close(got[k], -exact[k], 5e-3, 1e-4) for k in wrong):
        hint = "Check the signs: w is negative, and so is tanh(x·w + b) at this point."
    verb = "does" if len(wrong) == 1 else "do"
    others = "" if len(wrong) == len(names) else " The others are right."
    raise Fail(f"{' and '.join('dL/d' + k for k in wrong)} {verb} not match torch.autograd "
                f"(you: {', '.join(fmt(got[k]) for k in wrong)}).{others}", hint)


# -- a new operation with its own backward rule ------------------------------------------------------------------

_SOFTPLUS_POINTS = (-4.0, -1.0, 0.0, 0.5, 3.0, 25.0)


@exercise("lab1-softplus", "lab1_backprop",
           "a function softplus(v) that takes a gvcourse.Value and returns a Value equal to log(1 + e^v) whose "
           "backward pass gives d softplus/dv = σ(v), also when v is used elsewhere in the graph.",
           "Either compose existing operations (v.exp(), + 1, .log()) or create Value(result, (v,), 'softplus') "
           "and give it a _backward that ADDS σ(v)·out.grad to v.grad (+=, not =).")
def _check_lab1_softplus(answer: object) -> str:
    if not callable(answer) or isinstance(answer, type):
        raise Fail(f"The answer should be a function softplus(v) -> Value, got {kind_of(answer)}.")
    for x0 in _SOFTPLUS_POINTS:
        v = Value(x0)
        try:
            y = answer(v)
        except Exception as err:
            raise Fail(f"softplus(Value({x0:g})) raised {type(err).__name__}: {err}") from None
        if y is None:
            raise Fail(f"softplus(Value({x0:g})) returned None: the body is still the placeholder (...) or has no "
                        "return statement.")
        if not isinstance(y, Value):
            raise Fail(f"softplus(Value({x0:g})) returned {type(y).__name__}, not a Value — the result must stay "
                        "in the graph so that backward() can reach v.")
        exact = float(torch.nn.functional.softplus(torch.tensor(x0, dtype=torch.float64)))
        if not is_close(y.data, exact, 1e-9, 1e-12):
            raise Fail(f"softplus({x0:g}) = {fmt(y.data)}, but log(1 + e^{x0:g}) = {fmt(exact)}.",
                        "softplus(v) = log(1 + exp(v)).")
        # L = softplus(v)·v + softplus(v): v reaches L along three paths
        v = Value(x0)
        s = answer(v)
        loss = s * v + s
        loss.backward()
        t = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        ts = torch.nn.functional.softplus(t)
        (exact_grad,) = torch.autograd.grad(ts * t + ts, t)
        if not is_close(v.grad, float(exact_grad), 1e-7, 1e-10):
            single = Value(x0)
            answer(single).backward()
            sig = 1.0 / (1.0 + math.exp(-x0))
            if is_close(single.grad, sig, 1e-7, 1e-10):
                raise Fail(f"Alone, softplus's gradient is right (σ({x0:g}) = {fmt(sig)}), but in "
                            f"L = softplus(v)·v + softplus(v) your v.grad = {fmt(v.grad)} while torch.autograd "
                            f"gives {fmt(float(exact_grad))}.",
                            "A backward rule must accumulate: v.grad += ..., because v can feed several nodes.")
            raise Fail(f"d softplus/dv at v = {x0:g}: your backward pass gives {fmt(single.grad)}, "
                        f"torch.autograd {fmt(sig)} (= σ(v)).",
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
                if not (is_close(x.grad, float(gx), 1e-9, 1e-12) and is_close(y.grad, float(gy), 1e-9, 1e-12)):
                    failures.setdefault(op, (x.grad, float(gx)))
    return failures


def _op_name(answer: object) -> str:
    if not isinstance(answer, str):
        name = getattr(answer, "__name__", None)
        if callable(answer) and isinstance(name, str) and not isinstance(answer, type):
            raise Fail(f"You passed the function {name} itself; the checker wants the operation's name as a "
                        f"string, e.g. {name.strip('_')!r}.")
        raise Fail(f"The answer should be the name of an operation as a string, e.g. 'exp', got "
                    f"{kind_of(answer)}.")
    key = answer.strip().lower().removeprefix("value.").removeprefix("suspectvalue.").removesuffix("()").strip()
    for op, aliases in SUSPECT_OPS.items():
        if key in aliases:
            return op
    raise Fail(f"{answer!r} is not an operation of SuspectValue; name one of: {', '.join(SUSPECT_OPS)}.")


@exercise("lab1-find-bug", "lab1_backprop",
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
                f"disagrees: on a graph that uses the input twice it gives dL/dx = {fmt(mine)} where torch gives "
                f"{fmt(exact)}.")
    raise Fail(f"The checker compared {op} with torch.autograd on {2 * 3} graphs, including graphs that use the "
                f"input twice, and found no difference: {op} is not the broken operation.")
