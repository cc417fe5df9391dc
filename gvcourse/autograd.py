"""A scalar reverse-mode automatic differentiation engine.

One small class, :class:`Value`, in the spirit of Karpathy's *micrograd*: every
arithmetic operation records its inputs and a local backward rule, and
:meth:`Value.backward` applies the chain rule in reverse topological order
(Rumelhart, Hinton & Williams 1986; Baydin et al. 2018, §3.2 "reverse mode").

The backpropagation chapter builds graphs with it by hand and checks the
gradients against ``torch.autograd``; :func:`gvcourse.plots.draw_graph` draws them.
This module imports nothing from gvcourse (it is the engine, below the figures).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

__all__ = ["Value", "topological_order"]


def _check_number(x: object, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{what} must be a real number or a Value, got {type(x).__name__} {x!r}")
    return float(x)


class Value:
    """A scalar that remembers how it was computed, so it can be differentiated.

    ``data`` is the number, ``grad`` is dL/d(this) after :meth:`backward` is
    called on some output L. Operations with plain numbers work on either side:
    ``2 * Value(3.0) + 1``.
    """

    __slots__ = ("data", "grad", "_children", "_backward", "op", "label")

    def __init__(self, data: float, _children: tuple[Value, ...] = (), op: str = "", label: str = ""):
        self.data = _check_number(data, "Value data")
        self.grad = 0.0
        self._children = _children
        self._backward: Callable[[], None] = lambda: None
        self.op = op
        self.label = label

    # -- construction helpers -------------------------------------------------
    @staticmethod
    def _wrap(other: Value | float) -> Value:
        if isinstance(other, Value):
            return other
        return Value(_check_number(other, "operand"))

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    # -- arithmetic -------------------------------------------------------------
    def __add__(self, other: Value | float) -> Value:
        other = self._wrap(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:  # d(a+b)/da = d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = self._wrap(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent: float) -> Value:
        if isinstance(exponent, Value):
            raise TypeError("Value ** Value is not supported; the exponent must be a number, e.g. x ** 2")
        k = _check_number(exponent, "exponent")
        if self.data == 0.0 and k < 1.0 and k != 0.0:
            raise ValueError(f"0 ** {k:g} has no finite derivative; use an exponent >= 1 at 0")
        if self.data < 0.0 and not k.is_integer():
            raise ValueError(f"{self.data:g} ** {k:g} is not real; a negative base needs an integer exponent")
        out = Value(self.data**k, (self,), f"**{k:g}")

        def _backward() -> None:  # d(x^k)/dx = k x^(k-1)
            if k != 0.0:  # x ** 0 is constant
                self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-self._wrap(other))

    def __truediv__(self, other: Value | float) -> Value:
        other = self._wrap(other)
        if other.data == 0.0:
            raise ZeroDivisionError("division by a Value whose data is 0")
        return self * other**-1

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return self._wrap(other) - self

    def __rtruediv__(self, other: float) -> Value:
        return self._wrap(other) / self

    # -- nonlinearities -------------------------------------------------------
    def _unary(self, value: float, local_grad: float, op: str) -> Value:
        out = Value(value, (self,), op)

        def _backward() -> None:
            self.grad += local_grad * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """max(0, x); derivative 1 for x > 0 and 0 otherwise (0 at x = 0, as in PyTorch)."""
        return self._unary(max(0.0, self.data), 1.0 if self.data > 0 else 0.0, "relu")

    def tanh(self) -> Value:
        """tanh(x); derivative 1 − tanh²(x) ≤ 1."""
        t = math.tanh(self.data)
        return self._unary(t, 1.0 - t * t, "tanh")

    def sigmoid(self) -> Value:
        """σ(x) = 1/(1+e^(−x)); derivative σ(1−σ) ≤ 1/4."""
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return self._unary(s, s * (1.0 - s), "sigmoid")

    def exp(self) -> Value:
        """e^x; derivative e^x. Overflows to inf (as in PyTorch) for x > 709."""
        e = math.exp(self.data) if self.data < 709.78 else math.inf
        return self._unary(e, e, "exp")

    def log(self) -> Value:
        """Natural log; derivative 1/x. Only for x > 0."""
        if self.data <= 0.0:
            raise ValueError(f"log is defined for data > 0, got {self.data:g}")
        return self._unary(math.log(self.data), 1.0 / self.data, "log")

    # -- backpropagation ------------------------------------------------------
    def backward(self) -> None:
        """Set ``grad`` of every node in this graph to d(self)/d(node).

        Gradients of the whole graph are reset to zero first, so calling
        ``backward()`` twice gives the same gradients (unlike micrograd, which
        accumulates). Nodes are visited in reverse topological order, so every
        node's ``grad`` is complete before it is passed on (the chain rule).
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    @property
    def children(self) -> tuple[Value, ...]:
        """The Values this one was computed from."""
        return self._children


def topological_order(root: Value) -> list[Value]:
    """All nodes of ``root``'s graph, every node after the nodes it depends on.

    Iterative depth-first search, so deep graphs (thousands of nodes) do not
    hit Python's recursion limit.
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order expects a Value, got {type(root).__name__}")
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child in node._children:
            if id(child) not in seen:
                stack.append((child, False))
    return order
