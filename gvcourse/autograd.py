"""A scalar reverse-mode automatic differentiation engine.

One small class, :class:`Value`, in the spirit of Karpathy's *micrograd*: every
arithmetic operation records its inputs and a local backward rule, and
:meth:`Value.backward` applies the chain rule in reverse topological order
(Rumelhart, Hinton & Williams 1986; Baydin et al. 2018, §3.2 "reverse mode").

The backpropagation chapter builds graphs with it by hand and checks the
gradients against ``torch.autograd``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from numbers import Real

__all__ = ["Value", "topological_order", "draw_graph"]


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


def _layers(order: Iterable[Value]) -> dict[int, int]:
    """Depth of each node: leaves at 0, every other node one right of its deepest child."""
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(c)] for c in node._children), default=-1)
    return depth


def draw_graph(root: Value, ax=None, show_grad: bool = True):
    """Draw the computation graph of ``root`` with matplotlib (no graphviz needed).

    Leaves are on the left, the output on the right; each box shows the node's
    label (if any), its operation, ``data`` and — if ``show_grad`` — ``grad``.
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from .plots import set_alt_text

    order = topological_order(root)
    depth = _layers(order)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    position: dict[int, tuple[float, float]] = {}
    for col, nodes in columns.items():
        for row, node in enumerate(nodes):
            position[id(node)] = (col, row - (len(nodes) - 1) / 2)

    n_cols = max(columns) + 1
    n_rows = max(len(v) for v in columns.values())
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(4.0, 2.3 * n_cols), max(2.0, 1.1 * n_rows + 0.6)))
    fig = ax.figure
    for node in order:
        x, y = position[id(node)]
        for child in node._children:
            cx, cy = position[id(child)]
            ax.annotate("", xy=(x - 0.32, y), xytext=(cx + 0.32, cy),
                        arrowprops=dict(arrowstyle="->", color="0.45", lw=1.0))
        head = " ".join(s for s in (node.label, node.op) if s) or "input"
        text = f"{head}\ndata {node.data:.4g}"
        if show_grad:
            text += f"\ngrad {node.grad:.4g}"
        ax.text(x, y, text, ha="center", va="center", fontsize=8, family="monospace",
                bbox=dict(boxstyle="round,pad=0.3", fc="#e8f0fa" if node._children else "#fdf1dc", ec="0.3"))
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(-n_rows / 2 - 0.1, n_rows / 2 + 0.1)
    ax.axis("off")
    set_alt_text(fig, f"Computation graph with {len(order)} nodes, inputs on the left and the output on the right; "
                      "each box shows a node's operation, value and gradient.")
    return fig
