"""Where each node of a :class:`~gvcourse.autograd.Value` graph is drawn: geometry only, no matplotlib.

A layered drawing in the manner of Sugiyama, Tagawa & Toda (1981), "Methods for visual understanding of
hierarchical system structures": every node gets a column (leaves at 0, every other node one right of its deepest
child); an edge that spans several columns gets a **waypoint** in each column it crosses, so it runs in a lane of
its own instead of through the boxes of the nodes in between; and the rows within each column are ordered by the
barycentre heuristic (each slot moves to the mean row of its neighbours in the adjacent column, sweeping right and
then left), which removes most edge crossings. :func:`gvcourse.plots.draw_graph` draws what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .autograd import Value, topological_order

__all__ = ["Edge", "GraphLayout", "layout_graph"]

#: Barycentre sweeps (each right then left); small graphs settle after one or two.
SWEEPS = 4


class Edge(NamedTuple):
    """One edge, drawn from ``child`` (an input of ``parent``) to ``parent`` along ``route``: the child's position,
    one waypoint in each column in between (none if the two are in adjacent columns), the parent's position."""

    child: Value
    parent: Value
    route: list[tuple[float, float]]


@dataclass(frozen=True)
class GraphLayout:
    """Positions of a drawn graph: x is the column, y the row (larger y is higher; each column is centred on 0).

    ``nodes`` lists the graph's nodes in topological order, ``position[i]`` is where ``nodes[i]`` goes, and
    ``edges`` holds one :class:`Edge` per (child → parent) pair; ``columns`` × ``rows`` is the grid it needs.
    """

    nodes: list[Value]
    position: list[tuple[float, float]]
    edges: list[Edge]
    columns: int
    rows: int


class _Waypoint:
    """A slot a long edge occupies in a column it crosses."""

    __slots__ = ()


def layout_graph(root: Value) -> GraphLayout:
    """Columns, rows and edge routes for drawing ``root``'s computation graph, inputs left, output right."""
    order = topological_order(root)  # raises TypeError for anything but a Value
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(c)] for c in node.children), default=-1)
    columns: list[list[object]] = [[] for _ in range(depth[id(root)] + 1)]
    for node in order:
        columns[depth[id(node)]].append(node)
    paths: list[list[object]] = []
    for node in order:
        for child in node.children:
            path: list[object] = [child]
            for col in range(depth[id(child)] + 1, depth[id(node)]):
                waypoint = _Waypoint()
                columns[col].append(waypoint)
                path.append(waypoint)
            paths.append([*path, node])
    left: dict[int, list[object]] = {}  # neighbours of each slot one column to the left, and to the right
    right: dict[int, list[object]] = {}
    for path in paths:
        for a, b in zip(path, path[1:]):
            right.setdefault(id(a), []).append(b)
            left.setdefault(id(b), []).append(a)

    def row(column: list[object]) -> dict[int, float]:
        return {id(s): i - (len(column) - 1) / 2 for i, s in enumerate(column)}

    y: dict[int, float] = {}
    for column in columns:
        y.update(row(column))

    def reorder(column: list[object], neighbours: dict[int, list[object]]) -> None:
        def key(slot: object) -> float:
            near = neighbours.get(id(slot))
            return sum(y[id(n)] for n in near) / len(near) if near else y[id(slot)]

        column.sort(key=key)  # bottom to top; stable: ties keep their order
        y.update(row(column))

    for _ in range(SWEEPS):
        for column in columns[1:]:
            reorder(column, left)
        for column in reversed(columns[:-1]):
            reorder(column, right)
    where = {id(s): (float(col), y[id(s)]) for col, column in enumerate(columns) for s in column}
    return GraphLayout(nodes=order, position=[where[id(n)] for n in order],
                       edges=[Edge(p[0], p[-1], [where[id(s)] for s in p]) for p in paths],
                       columns=len(columns), rows=max(len(c) for c in columns))
