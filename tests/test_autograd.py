"""gvcourse.autograd.Value: values, gradients, errors, and agreement with torch.autograd."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gvcourse.autograd import Value, topological_order


def test_single_neuron_matches_hand_derivation():
    x1, x2, w1, w2, b = Value(2.0), Value(0.0), Value(-3.0), Value(1.0), Value(6.8813735870195432)
    out = (x1 * w1 + x2 * w2 + b).tanh()
    out.backward()
    assert out.data == pytest.approx(0.7071067811865476)
    local = 1 - out.data**2
    assert w1.grad == pytest.approx(local * x1.data)
    assert x1.grad == pytest.approx(local * w1.data)
    assert x2.grad == pytest.approx(local * w2.data)
    assert b.grad == pytest.approx(local)


def test_numbers_on_either_side():
    a = Value(3.0)
    assert (2 + a).data == 5.0
    assert (2 - a).data == -1.0
    assert (2 * a).data == 6.0
    assert (6 / a).data == 2.0
    assert (a - 1).data == 2.0
    assert (a / 2).data == 1.5
    assert (-a).data == -3.0
    assert (a**2).data == 9.0


def test_backward_twice_gives_same_gradients():
    a = Value(1.5)
    y = a * a + a.sigmoid() * a.exp()
    y.backward()
    first = a.grad
    y.backward()
    assert a.grad == first


def test_node_used_twice_accumulates():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    b = Value(4.0)
    (b * b).backward()
    assert b.grad == 8.0


@pytest.mark.parametrize("x", [-30.0, -2.0, 0.0, 0.5, 40.0])
def test_sigmoid_is_stable_and_derivative_bounded(x):
    v = Value(x)
    s = v.sigmoid()
    s.backward()
    assert 0.0 <= s.data <= 1.0
    assert 0.0 <= v.grad <= 0.25


def test_edge_cases_follow_torch():
    z = Value(0.0)
    (z**0).backward()
    assert z.grad == 0.0
    assert Value(1000.0).exp().data == math.inf


def test_relu_derivative_zero_at_zero_like_torch():
    v = Value(0.0)
    v.relu().backward()
    t = torch.tensor(0.0, requires_grad=True)
    torch.relu(t).backward()
    assert v.grad == float(t.grad) == 0.0


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: Value("3"), TypeError),
        (lambda: Value(True), TypeError),
        (lambda: Value(1.0) + "a", TypeError),
        (lambda: Value(1.0) ** Value(2.0), TypeError),
        (lambda: Value(0.0).log(), ValueError),
        (lambda: Value(-1.0).log(), ValueError),
        (lambda: Value(-2.0) ** 0.5, ValueError),
        (lambda: Value(1.0) / 0, ZeroDivisionError),
        (lambda: topological_order(3.0), TypeError),
    ],
)
def test_bad_input_gets_clear_error(make, error):
    with pytest.raises(error) as info:
        make()
    assert str(info.value)


def test_bad_input_message_names_value():
    with pytest.raises(TypeError, match="str"):
        Value("3")
    with pytest.raises(ValueError, match="data > 0"):
        Value(-1.0).log()


def test_topological_order_puts_children_first_and_handles_deep_graphs():
    x = Value(0.1)
    y = x
    for _ in range(5000):  # deeper than Python's recursion limit
        y = y * 1.0
    order = topological_order(y)
    position = {id(node): i for i, node in enumerate(order)}
    assert order[-1] is y
    assert all(position[id(c)] < position[id(node)] for node in order for c in node.children)
    assert len(order) == 10001  # 5000 products, 5000 constants, and x
    y.backward()
    assert x.grad == 1.0


# --- property test: Value agrees with torch.autograd (float64) on random expression graphs ----------------

UNARY = ["tanh", "sigmoid", "exp", "relu", "neg", "square", "log1p_abs"]
BINARY = ["add", "sub", "mul", "div_safe"]


def _apply(op, a, b=None, lib="value"):
    if op == "tanh":
        return a.tanh() if lib == "value" else torch.tanh(a)
    if op == "sigmoid":
        return a.sigmoid() if lib == "value" else torch.sigmoid(a)
    if op == "exp":  # keep it bounded
        return (a.tanh()).exp() if lib == "value" else torch.exp(torch.tanh(a))
    if op == "relu":
        return a.relu() if lib == "value" else torch.relu(a)
    if op == "neg":
        return -a
    if op == "square":
        return a**2
    if op == "log1p_abs":  # log(1 + a^2) is defined everywhere
        return (a * a + 1).log() if lib == "value" else torch.log(a * a + 1)
    if op == "add":
        return a + b
    if op == "sub":
        return 2.0 - a - b
    if op == "mul":
        return a * b
    if op == "div_safe":  # divide by something >= 1
        return a / (b * b + 1.0)
    raise AssertionError(op)


programs = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(UNARY), st.integers(0, 100)),
        st.tuples(st.sampled_from(BINARY), st.integers(0, 100), st.integers(0, 100)),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(inputs=st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=4), program=programs)
def test_value_matches_torch_autograd(inputs, program):
    vs = [Value(x) for x in inputs]
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    nodes_v, nodes_t = list(vs), list(ts)
    for step in program:
        op, *idx = step
        args_v = [nodes_v[i % len(nodes_v)] for i in idx]
        args_t = [nodes_t[i % len(nodes_t)] for i in idx]
        nodes_v.append(_apply(op, *args_v, lib="value"))
        nodes_t.append(_apply(op, *args_t, lib="torch"))
    out_v, out_t = nodes_v[-1], nodes_t[-1]
    if not any(out_v is v for v in vs):  # output depends on computation, not only a leaf
        out_v.backward()
        out_t.backward()
    else:
        return
    assert math.isclose(out_v.data, float(out_t.detach()), rel_tol=1e-12, abs_tol=1e-12)
    for v, t in zip(vs, ts):
        expected = 0.0 if t.grad is None else float(t.grad)
        assert math.isclose(v.grad, expected, rel_tol=1e-9, abs_tol=1e-12), (v.grad, expected)
