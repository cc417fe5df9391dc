"""gvcourse.theory saturation helpers against closed forms, Monte Carlo and GradientFlow's measurement."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gvcourse import GradientFlow, monitor, theory


def _dphi(act, s):
    if act == "sigmoid":
        y = 1.0 / (1.0 + np.exp(-s))
        return y * (1.0 - y)
    return 1.0 - np.tanh(s) ** 2


def test_same_rule_as_the_monitor():
    """At the edge of the band GradientFlow counts as saturated, the derivative is SATURATION_LEVEL x its maximum."""
    for module, act, dphi_of_output in ((torch.nn.Sigmoid, "sigmoid", lambda y: y * (1 - y)),
                                        (torch.nn.Tanh, "tanh", lambda y: 1 - y * y)):
        centre, radius = monitor.SATURATING_MODULES[module]
        edge = dphi_of_output(centre + radius)
        assert edge == pytest.approx(theory.SATURATION_LEVEL * theory.derivative_max(act), rel=1e-12)


@pytest.mark.parametrize("act", theory.SATURATING_ACTIVATIONS)
@pytest.mark.parametrize("level", [0.01, 0.05, 0.5])
def test_threshold_is_where_the_derivative_drops_below_level(act, level):
    t = theory.saturation_threshold(act, level)
    sup = theory.derivative_max(act)
    assert _dphi(act, t) == pytest.approx(level * sup, rel=1e-9)
    assert _dphi(act, 0.999 * t) > level * sup > _dphi(act, 1.001 * t)


def test_known_thresholds_and_sigmoid_is_twice_tanh():
    assert theory.saturation_threshold("tanh") == pytest.approx(2.1783, abs=1e-4)
    assert theory.saturation_threshold("sigmoid") == pytest.approx(4.3565, abs=1e-4)
    for level in (0.02, 0.3):
        assert theory.saturation_threshold("sigmoid", level) == pytest.approx(
            2 * theory.saturation_threshold("tanh", level))


@pytest.mark.parametrize("act, q, mean", [("tanh", 1.0, 0.0), ("tanh", 4.0, 1.0), ("sigmoid", 9.0, -2.0),
                                          ("sigmoid", 0.5, 4.0)])
def test_fraction_matches_monte_carlo(act, q, mean):
    s = np.random.default_rng(0).normal(mean, math.sqrt(q), 400_000)
    mc = float(np.mean(_dphi(act, s) < theory.SATURATION_LEVEL * theory.derivative_max(act)))
    assert theory.saturated_fraction(act, q, mean) == pytest.approx(mc, abs=3e-3)


def test_fraction_matches_gradient_flow_on_a_wide_layer():
    n = 4096
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, n, generator=gen) / math.sqrt(n)  # unit-length rows: s = W x ~ N(0, σ_w²) exactly per row
    x = x / x.norm(dim=1, keepdim=True)
    layer = torch.nn.Linear(n, 512, bias=False)
    with torch.no_grad():
        layer.weight.normal_(0.0, 3.0, generator=gen)
    model = torch.nn.Sequential(layer, torch.nn.Tanh())
    with torch.no_grad(), GradientFlow(model) as flow:
        model(x)
    measured = next(iter(flow.activation_stats().values())).saturated
    assert measured == pytest.approx(theory.saturated_fraction("tanh", 9.0), abs=0.01)


@settings(max_examples=60, deadline=None)
@given(act=st.sampled_from(theory.SATURATING_ACTIVATIONS), q=st.floats(0.0, 1e4), mean=st.floats(-50, 50))
def test_fraction_is_a_probability_symmetric_in_the_mean(act, q, mean):
    p = theory.saturated_fraction(act, q, mean)
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(theory.saturated_fraction(act, q, -mean), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(act=st.sampled_from(theory.SATURATING_ACTIVATIONS), q=st.floats(1e-3, 1e3))
def test_wider_inputs_saturate_more(act, q):
    assert theory.saturated_fraction(act, 2 * q) >= theory.saturated_fraction(act, q)


def test_zero_variance_is_all_or_nothing():
    assert theory.saturated_fraction("tanh", 0.0, 3.0) == 1.0
    assert theory.saturated_fraction("tanh", 0.0, 1.0) == 0.0
    assert theory.saturated_fraction("sigmoid", 0.0) == 0.0


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="'relu' is not one of: sigmoid, tanh"):
        theory.saturation_threshold("relu")
    with pytest.raises(TypeError, match="activation must be a string"):
        theory.saturated_fraction(None, 1.0)
    with pytest.raises(ValueError, match="level must be strictly between 0 and 1"):
        theory.saturation_threshold("tanh", 1.5)
    with pytest.raises(ValueError, match="level must be strictly between 0 and 1"):
        theory.saturated_fraction("tanh", 1.0, level=0.0)
    with pytest.raises(ValueError, match="q must be >= 0"):
        theory.saturated_fraction("tanh", -1.0)
    with pytest.raises(TypeError, match="q must be a real number"):
        theory.saturated_fraction("tanh", "1")
    with pytest.raises(ValueError, match="mean must be finite"):
        theory.saturated_fraction("sigmoid", 1.0, mean=float("nan"))
