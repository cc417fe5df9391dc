"""gvcourse.nets: mlp structure and every initialization scheme's statistics."""

import math

import pytest
import torch
from torch import nn

from gvcourse import nets


def test_mlp_structure_and_names():
    m = nets.mlp(3, 16, 4, 2, activation="tanh", norm="batch")
    names = [n for n, _ in m.named_children()]
    assert names == ["fc1", "norm1", "act1", "fc2", "norm2", "act2", "fc3", "norm3", "act3", "out"]
    assert m(torch.randn(5, 4)).shape == (5, 2)


def test_seed_document_network_has_twelve_weight_matrices():
    m = nets.mlp(11, 64, 20, 1, activation="sigmoid")
    assert sum(isinstance(x, nn.Linear) for x in m.modules()) == 12


def test_residual_mlp_uses_blocks_and_same_seed_same_weights():
    a = nets.mlp(4, 8, 3, 1, residual=True, norm="layer", seed=3)
    b = nets.mlp(4, 8, 3, 1, residual=True, norm="layer", seed=3)
    assert isinstance(a.block2, nets.ResidualBlock)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    x = torch.randn(2, 8)
    blk = a.block3
    assert torch.allclose(blk(x), x + blk.act(blk.norm(blk.fc(x))))


@pytest.mark.parametrize(
    "scheme, kw, expected_var",
    [
        ("standard", {}, lambda fi, fo: 1 / (3 * fi)),
        ("xavier_uniform", {}, lambda fi, fo: 2 / (fi + fo)),
        ("xavier_normal", {}, lambda fi, fo: 2 / (fi + fo)),
        ("he_normal", {}, lambda fi, fo: 2 / fi),
        ("he_uniform", {}, lambda fi, fo: 2 / fi),
        ("orthogonal", {}, lambda fi, fo: 1 / fi),
        ("normal", {"sigma_w": 1.5}, lambda fi, fo: 1.5**2 / fi),
    ],
)
def test_init_variances(scheme, kw, expected_var):
    layer = nn.Linear(400, 400)
    nets.init_(layer, scheme, seed=1, **kw)
    var = float(layer.weight.detach().var())
    assert var == pytest.approx(expected_var(400, 400), rel=0.03)
    if scheme != "normal":
        assert float(layer.bias.abs().max()) == 0.0


def test_orthogonal_is_orthogonal_for_rectangular_too():
    for shape in [(30, 30), (20, 50), (50, 20)]:
        layer = nn.Linear(shape[1], shape[0])
        nets.init_(layer, "orthogonal", seed=0, gain=2.0)
        w = layer.weight.double()
        gram = w @ w.T if shape[0] <= shape[1] else w.T @ w
        assert torch.allclose(gram, 4.0 * torch.eye(min(shape), dtype=torch.float64), atol=1e-5)


def test_normal_scheme_bias_std():
    layer = nn.Linear(10, 5000)
    nets.init_(layer, "normal", sigma_w=1.0, sigma_b=0.3, seed=0)
    assert float(layer.bias.std()) == pytest.approx(0.3, rel=0.05)


def test_init_reaches_conv_and_nested_modules():
    model = nn.Sequential(nn.Sequential(nn.Conv2d(1, 8, 3)), nn.Flatten(), nn.Linear(8 * 36, 3))
    nets.init_(model, "he_normal", seed=0)
    w = model[0][0].weight
    assert float(w.var()) == pytest.approx(2 / 9, rel=0.25)


def test_standard_matches_pytorch_default_range():
    layer = nn.Linear(100, 50)
    nets.init_(layer, "standard", seed=0)
    assert float(layer.weight.abs().max()) <= 1 / math.sqrt(100)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: nets.mlp(3, 8, 2, 1, activation="sigmod"), ValueError, "sigmod"),
        (lambda: nets.mlp(0, 8, 2, 1), ValueError, "depth"),
        (lambda: nets.mlp(2.5, 8, 2, 1), TypeError, "depth"),
        (lambda: nets.mlp(2, 8, 2, 1, norm="group"), ValueError, "batch, layer"),
        (lambda: nets.mlp(2, 8, 2, 1, init="kaiming"), ValueError, "he_normal"),
        (lambda: nets.mlp(2, 8, 2, 1, residual="yes"), TypeError, "residual"),
        (lambda: nets.init_("model", "standard"), TypeError, "nn.Module"),
        (lambda: nets.init_(nn.ReLU(), "standard"), ValueError, "no weight matrix"),
        (lambda: nets.init_(nn.Linear(2, 2), "normal", sigma_w=-1.0), ValueError, "sigma_w"),
        (lambda: nets.activation("swish"), ValueError, "relu, tanh, sigmoid"),
    ],
)
def test_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
