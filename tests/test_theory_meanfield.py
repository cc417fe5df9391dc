"""gvcourse.theory: variance factors and mean-field quantities against independent evaluations."""

import math

import numpy as np
import pytest
import torch

from gvcourse import nets, theory
from gvcourse.monitor import GradientFlow


def _mc(f, n=400_000, seed=0):
    z = np.random.default_rng(seed).standard_normal(n)
    return float(np.mean(f(z)))


@pytest.mark.parametrize("sw, sb", [(0.8, 0.1), (1.5, 0.05), (2.5, 0.5), (1.2, 0.0)])
def test_q_star_and_chi1_match_monte_carlo(sw, sb):
    q = theory.q_star("tanh", sw, sb)
    assert q == pytest.approx(sw**2 * _mc(lambda z: np.tanh(np.sqrt(q) * z) ** 2) + sb**2, rel=5e-3, abs=1e-6)
    chi = theory.chi1("tanh", sw, sb)
    assert chi == pytest.approx(sw**2 * _mc(lambda z: np.cosh(np.sqrt(q) * z) ** -4), rel=5e-3)


def test_known_values():
    assert theory.critical_sigma_w("tanh", 0.0) == 1.0
    assert theory.critical_sigma_w("relu", 0.0) == pytest.approx(math.sqrt(2))
    assert theory.chi1("relu", 2.0, 0.3) == pytest.approx(2.0)
    assert theory.chi1("tanh", 0.9, 0.0) == pytest.approx(0.81)
    assert theory.q_star("relu", 1.0, 0.5) == pytest.approx(0.25 / 0.5)
    assert math.isinf(theory.q_star("relu", 2.0, 0.1))
    assert math.isinf(theory.gradient_depth_scale("tanh", 1.0, 0.0))
    assert theory.gradient_depth_scale("relu", 1.0, 0.0) == pytest.approx(1 / math.log(2))


@pytest.mark.parametrize("sb", [0.05, 0.3, 1.0])
def test_critical_line_has_chi1_one_and_separates_phases(sb):
    sw = theory.critical_sigma_w("tanh", sb)
    assert theory.chi1("tanh", sw, sb) == pytest.approx(1.0, abs=1e-6)
    assert theory.chi1("tanh", 0.9 * sw, sb) < 1 < theory.chi1("tanh", 1.1 * sw, sb)


def test_chi1_predicts_gradient_decay_in_a_wide_random_network():
    """Mean squared back-propagated gradient shrinks by χ₁ per layer (Schoenholz et al. 2017, eq. 12)."""
    torch.manual_seed(0)
    sw, sb, width, depth = 1.3, 0.3, 1000, 30
    model = nets.mlp(depth, width, width, 1, activation="tanh", init="normal", sigma_w=sw, sigma_b=sb, seed=1)
    x = torch.randn(16, width) * math.sqrt(theory.q_star("tanh", sw, sb))
    grads = []
    hs = []
    h = x
    for i in range(1, depth + 1):
        s = getattr(model, f"fc{i}")(h)
        s.retain_grad()
        hs.append(s)
        h = torch.tanh(s)
    (h @ torch.randn(width, 1)).sum().backward()
    grads = [float(s.grad.pow(2).mean()) for s in hs]
    measured = (grads[5] / grads[25]) ** (1 / 20)
    assert measured == pytest.approx(theory.chi1("tanh", sw, sb), rel=0.05)


def test_variance_factors():
    std = theory.variance_factor("tanh", "standard", 1000)
    assert std.backward == pytest.approx(1 / 3) and std.forward == pytest.approx(1 / 3)
    assert theory.variance_factor("tanh", "xavier_uniform", 1000).backward == pytest.approx(1.0)
    assert theory.variance_factor("relu", "he_normal", 256).forward == pytest.approx(1.0)
    assert theory.variance_factor("relu", "xavier_normal", 256).backward == pytest.approx(0.5)
    assert theory.variance_factor("tanh", "xavier_normal", 100, 300).backward == pytest.approx(1.5)
    for act in ("tanh", "relu", "linear"):  # zero-mean (or second-moment) maps: no offset, fixed point 0
        vf = theory.variance_factor(act, "standard", 64)
        assert vf.forward_offset == 0.0 and vf.forward_fixed_point == 0.0


def test_sigmoid_forward_map_has_an_offset_and_its_fixed_point_is_measured():
    """Issue 17 item 6: the sigmoid's mean ½ keeps the forward signal up. E[s_{l+1}²] = n v E[σ(s_l)²]
    ≈ n v (1/4 + q_l/16): with Xavier (n v = 1) it settles at q* = (1/4)/(1 − 1/16) = 4/15, where the pure
    factor 1/16 per layer would predict a collapse by 1e-8 over eight layers."""
    vf = theory.variance_factor("sigmoid", "xavier_normal", 512)
    assert vf.forward == pytest.approx(1 / 16) and vf.forward_offset == pytest.approx(1 / 4)
    assert vf.forward_fixed_point == pytest.approx(4 / 15)
    assert vf.backward == pytest.approx(1 / 16)  # the gradient has mean 0: a factor, as before
    means = []
    for seed in range(3):
        model = nets.mlp(10, 512, 64, 1, activation="sigmoid", init="xavier_normal", seed=seed)
        x = torch.randn(256, 64, generator=torch.Generator().manual_seed(seed))
        with GradientFlow(model) as flow, torch.no_grad():
            model(x)
        second = [r**2 for name, r in flow.output_rms().items() if name.startswith("fc")][2:]  # fc3 … fc10
        assert all(q == pytest.approx(vf.forward_fixed_point, rel=0.2) for q in second), second
        assert second[-1] > 1e3 * second[0] * vf.forward ** (len(second) - 1)  # no decay by the slope
        means.append(sum(second) / len(second))
    assert sum(means) / len(means) == pytest.approx(vf.forward_fixed_point, rel=0.1)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: theory.chi1("sigmod", 1.0, 0.0), ValueError, "tanh, relu"),
        (lambda: theory.chi1("tanh", -1.0, 0.0), ValueError, "sigma_w"),
        (lambda: theory.q_star("tanh", 1.0, -0.1), ValueError, "sigma_b"),
        (lambda: theory.critical_sigma_w("tanh", "0"), TypeError, "sigma_b"),
        (lambda: theory.variance_factor("tanh", "kaiming", 10), ValueError, "he_normal"),
        (lambda: theory.variance_factor("tanh", "standard", 0), ValueError, "fan_in"),
    ],
)
def test_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
