"""gvcourse.graph_layout and gvcourse.plots.draw_graph: where the boxes of a Value graph go, and the figure."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

from gvcourse.autograd import Value
from gvcourse.graph_layout import layout_graph
from gvcourse.plots import draw_graph, get_alt_text

matplotlib.use("Agg")


def neuron():
    """The backpropagation chapter's tanh neuron: the bias b skips two columns to reach n."""
    x1, x2, w1, w2, b = (Value(v, label=k) for k, v in
                         (("x1", 2.0), ("x2", -1.0), ("w1", -0.5), ("w2", 0.25), ("b", 1.75)))
    return ((x1 * w1 + x2 * w2) + b).tanh()


def lab1_loss():
    """Lab 1's L = tanh(x·w + b)·x: x reaches the output directly, four columns to the right."""
    x, w, b = Value(0.5, label="x"), Value(-1.5, label="w"), Value(0.25, label="b")
    return (x * w + b).tanh() * x


def crossings(layout):
    """Pairs of edge segments that cross between two adjacent columns."""
    segments = [(a, b) for e in layout.edges for a, b in zip(e.route, e.route[1:])]
    count = 0
    for i, ((xa, ya), (_, yb)) in enumerate(segments):
        for (xc, yc), (_, yd) in segments[i + 1:]:
            count += xa == xc and (ya - yc) * (yb - yd) < 0
    return count


@pytest.mark.parametrize("build", [neuron, lab1_loss, lambda: Value(0.7).tanh() * Value(0.7)])
def test_no_edge_passes_through_a_box(build):
    """Every edge steps one column at a time, and its waypoints take slots no box takes (Lab 1's figures drew
    x → L straight through the boxes of x·w, + and tanh)."""
    layout = layout_graph(build())
    for edge in layout.edges:
        assert [x for x, _ in edge.route] == list(range(int(edge.route[0][0]), int(edge.route[-1][0]) + 1))
    slots = layout.position + [p for e in layout.edges for p in e.route[1:-1]]
    assert len(set(slots)) == len(slots), "two boxes or lanes share a slot"
    assert layout.rows == max(sum(1 for x, _ in slots if x == col) for col in range(layout.columns))


@pytest.mark.parametrize("build", [neuron, lab1_loss])
def test_the_barycentre_order_leaves_no_crossing(build):
    assert crossings(layout_graph(build())) == 0


def test_layout_columns_put_leaves_left_and_the_output_right():
    root = lab1_loss()
    layout = layout_graph(root)
    column = {id(n): x for n, (x, _) in zip(layout.nodes, layout.position)}
    assert column[id(root)] == layout.columns - 1 == 4
    assert all(column[id(n)] == 0 for n in layout.nodes if not n.children)
    assert len(layout.edges) == sum(len(n.children) for n in layout.nodes)


def test_draw_graph_returns_figure_with_alt_text():
    a, b = Value(2.0, label="a"), Value(-1.0, label="b")
    c = (a * b).tanh()
    c.backward()
    fig = draw_graph(c)
    assert "Computation graph with 4 nodes" in get_alt_text(fig)
    texts = [t.get_text() for t in fig.axes[0].texts if t.get_text()]
    assert f"a\ndata 2\ngrad {a.grad:.4g}" in texts and "tanh\ndata -0.964\ngrad 1" in texts
    plt.close(fig)


def test_draw_graph_into_given_axes_and_errors():
    fig, axes = plt.subplots(1, 2)
    assert draw_graph(lab1_loss(), ax=axes[1], show_grad=False) is fig
    boxes = [t.get_text() for t in axes[1].texts if t.get_text()]
    assert len(boxes) == 7 and all("grad" not in t for t in boxes)
    with pytest.raises(TypeError, match="expects a Value, got float"):
        draw_graph(3.0)
    with pytest.raises(TypeError, match="show_grad must be True or False, got 'yes'"):
        draw_graph(Value(1.0), show_grad="yes")
    plt.close(fig)
