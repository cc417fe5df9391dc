"""gvcourse.monitor.GradientFlow on models it did not build."""

import math

import pytest
import torch
from torch import nn

from gvcourse import nets
from gvcourse.monitor import GradientFlow


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv_a = nn.Linear(width, width)
        self.conv_b = nn.Linear(width, width)
        self.act = nn.ReLU()

    def forward(self, x):
        return x + self.conv_b(self.act(self.conv_a(x)))


class Scrambled(nn.Module):
    """Modules registered in an order different from the order forward() runs them."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(8, 2)
        self.blocks = nn.ModuleList([Block(8), Block(8)])
        self.stem = nn.Linear(4, 8)
        self.act = nn.Tanh()

    def forward(self, x):
        h = self.act(self.stem(x))
        for b in self.blocks:
            h = b(h)
        return self.head(h)


def test_forward_order_and_nested_names():
    model = Scrambled()
    with GradientFlow(model) as flow:
        model(torch.randn(16, 4)).pow(2).mean().backward()
    names = list(flow.grad_norms())
    assert names == ["stem", "blocks.0.conv_a", "blocks.0.conv_b", "blocks.1.conv_a", "blocks.1.conv_b", "head"]
    assert list(flow.backprop_norms()) == names


def test_grad_norms_match_parameters_and_hooks_removed():
    model = nets.mlp(4, 16, 8, 3, activation="tanh")
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    with GradientFlow(model) as flow:
        nn.functional.cross_entropy(model(x), y).backward()
    assert flow.grad_norms()["fc2"] == pytest.approx(float(model.fc2.weight.grad.norm()), rel=1e-6)
    assert not flow.attached
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks


def test_backprop_norm_is_gradient_at_layer_output():
    model = nets.mlp(2, 8, 3, 1, activation="sigmoid")
    x = torch.randn(10, 3)
    with GradientFlow(model) as flow:
        model(x).sum().backward()
    s2 = model.fc2(model.act1(model.fc1(x)))
    (g,) = torch.autograd.grad(model.out(model.act2(s2)).sum(), s2)
    assert flow.backprop_norms()["fc2"] == pytest.approx(float(g.norm()), rel=1e-5)
    assert flow.backprop_variances()["fc2"] == pytest.approx(float(g.pow(2).mean()), rel=1e-5)


class InPlaceAfterLayer(nn.Module):
    """A layer output scaled in place and used twice: the hook must see ∂L/∂s for s as the layer returned it."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.out = nn.Linear(4, 1)

    def forward(self, x):
        s = self.fc(x)
        s.mul_(2.0)  # in place, as ``out += identity`` in a residual block
        return self.out(s) + s.pow(2).sum(dim=1, keepdim=True)


def test_backprop_norm_with_in_place_change_and_reuse():
    model = InPlaceAfterLayer()
    x = torch.randn(6, 3)
    with GradientFlow(model) as flow:
        model(x).sum().backward()
    s = model.fc(x)  # the same function written without the in-place change
    (g,) = torch.autograd.grad((model.out(2 * s) + (2 * s).pow(2).sum(dim=1, keepdim=True)).sum(), s)
    assert flow.backprop_norms()["fc"] == pytest.approx(float(g.norm()), rel=1e-5)


def test_lstm_backprop_norm_is_gradient_at_its_output():
    lstm = nn.LSTM(3, 5, batch_first=True)
    x = torch.randn(2, 7, 3)
    with GradientFlow(lstm) as flow:
        out, (h, _) = lstm(x)
        (out.pow(2).sum() + h.sum()).backward()
    out, (h, _) = lstm(x)
    (g,) = torch.autograd.grad(out.pow(2).sum() + h.sum(), out, retain_graph=True)
    assert flow.backprop_norms()[""] == pytest.approx(float(g.norm()), rel=1e-5)


def test_activation_stats_saturation_and_dead_units():
    sat = nn.Sequential(nn.Linear(4, 6), nn.Sigmoid())
    with torch.no_grad():
        sat[0].weight.fill_(0.0)
        sat[0].bias.copy_(torch.tensor([20.0, -20.0, 0.0, 0.0, 20.0, 0.0]))
    with GradientFlow(sat) as flow:
        sat(torch.randn(50, 4))
    st = flow.activation_stats()["1"]
    assert st.saturated == pytest.approx(0.5)
    assert st.dead == pytest.approx(0.5)

    relu = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    with torch.no_grad():
        relu[0].weight.fill_(0.0)
        relu[0].bias.copy_(torch.tensor([-1.0, 1.0, 1.0, 1.0]))
    with GradientFlow(relu) as flow:
        relu(torch.randn(20, 4))
    st = flow.activation_stats()["1"]
    assert st.dead == pytest.approx(0.25) and math.isnan(st.saturated)


def test_history_ratios_over_steps():
    model = nets.mlp(3, 16, 8, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
    with GradientFlow(model) as flow:
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            flow.before_update()
            opt.step()
            flow.record_step()
    h = flow.history
    assert flow.steps == 3 and len(h["update_data"]["fc1"]) == 3
    # for plain SGD the update is lr * grad, so update:data ≈ lr * grad:data
    ratio = h["update_data"]["out"][-1] / h["grad_data"]["out"][-1]
    assert ratio == pytest.approx(0.1, rel=0.05)


def test_lstm_and_conv_models_are_monitored():
    lstm = nn.LSTM(3, 5, batch_first=True)
    with GradientFlow(lstm) as flow:
        out, _ = lstm(torch.randn(2, 7, 3))
        out.sum().backward()
    assert flow.grad_norms()[""] > 0
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 2))
    with GradientFlow(cnn) as flow:
        cnn(torch.randn(3, 1, 8, 8)).sum().backward()
    assert list(flow.grad_norms()) == ["0", "3"]


def test_memory_is_scalars_only():
    model = nets.mlp(3, 32, 8, 2)
    with GradientFlow(model) as flow:
        for _ in range(2):
            model(torch.randn(256, 8)).sum().backward()
    for store in (flow._backprop_sq, flow._output_sq):
        assert all(isinstance(v, float) for v in store.values())
    assert flow._weights_before is None


def test_bad_input():
    with pytest.raises(TypeError, match="nn.Module"):
        GradientFlow("net")
    with pytest.raises(ValueError, match="no layer"):
        GradientFlow(nn.ReLU())
    with pytest.raises(TypeError, match="activations"):
        GradientFlow(nn.Linear(2, 2), activations="yes")
