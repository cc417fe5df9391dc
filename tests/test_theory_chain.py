"""gvcourse.theory: the chain rule through deep chains and networks (chain_derivative, backward_gain[_profile])."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gvcourse import nets, theory

TORCH_ACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "linear": lambda s: s}


def _autograd_chain(act, w, depth, h0):
    x = torch.tensor(h0, dtype=torch.float64, requires_grad=True)
    h = x
    for _ in range(depth):
        h = TORCH_ACT[act](w * h)
    if depth == 0:
        return 1.0
    (g,) = torch.autograd.grad(h, x, allow_unused=True)
    return 0.0 if g is None else g.item()


# --- chain_derivative ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "linear"])
@pytest.mark.parametrize("w", [-1.5, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("depth", [0, 1, 7, 30])
def test_chain_derivative_matches_autograd(act, w, depth):
    expected = _autograd_chain(act, w, depth, 0.5)
    assert theory.chain_derivative(act, w, depth, h0=0.5) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@settings(max_examples=200, deadline=None)
@given(act=st.sampled_from(["sigmoid", "tanh", "relu", "linear"]),
       w=st.floats(-4, 4, allow_nan=False), depth=st.integers(0, 40), h0=st.floats(-3, 3, allow_nan=False))
def test_chain_derivative_never_exceeds_the_bound(act, w, depth, h0):
    d = theory.chain_derivative(act, w, depth, h0=h0)
    assert abs(d) <= theory.chain_product_bound(act, abs(w), depth) * (1 + 1e-12)


def test_chain_derivative_known_values():
    assert theory.chain_derivative("linear", 3.0, 4) == pytest.approx(81.0)
    assert theory.chain_derivative("relu", 2.0, 10, h0=1.0) == 2.0**10   # ReLU on: exactly the bound w^L
    assert theory.chain_derivative("relu", 2.0, 10, h0=-1.0) == 0.0      # ReLU off from the first link
    assert theory.chain_derivative("sigmoid", 1.0, 1, h0=0.0) == pytest.approx(0.25)
    assert theory.chain_derivative("tanh", 5.0, 0) == 1.0                # the empty product
    assert theory.chain_derivative("sigmoid", 1.0, 3, h0=-1000.0) >= 0   # no overflow far in the tail


# --- backward_gain ---------------------------------------------------------------------------------------------

def test_backward_gain_closed_forms():
    assert theory.backward_gain("linear", 1.7, 0.3) == pytest.approx(1.7**2)
    assert theory.backward_gain("relu", 2.0, 0.5) == pytest.approx(2.0)
    assert theory.backward_gain("relu", 2.0, 0.0) == 0.0
    assert theory.backward_gain("tanh", 0.8, 0.0) == pytest.approx(0.64)           # tanh'(0) = 1
    assert theory.backward_gain("tanh", 0.8, 1e-8) == pytest.approx(0.64, rel=1e-6)


@pytest.mark.parametrize("q", [0.1, 0.7, 2.5])
def test_backward_gain_tanh_matches_monte_carlo(q):
    z = np.random.default_rng(0).standard_normal(400_000)
    mc = 1.3**2 * float(np.mean(np.cosh(np.sqrt(q) * z) ** -4))
    assert theory.backward_gain("tanh", 1.3, q) == pytest.approx(mc, rel=5e-3)


def test_backward_gain_decreases_with_q_for_tanh():
    gains = [theory.backward_gain("tanh", 1.0, q) for q in (0.0, 0.1, 1.0, 10.0)]
    assert gains == sorted(gains, reverse=True)


def test_backward_gain_at_fixed_point_is_chi1():
    for sw, sb in [(2.0, 0.0), (1.3, 0.3), (0.9, 0.05)]:
        q = theory.q_star("tanh", sw, sb)
        assert theory.backward_gain("tanh", sw, q) == pytest.approx(theory.chi1("tanh", sw, sb), rel=1e-12)


# --- backward_gain_profile -------------------------------------------------------------------------------------

def test_profile_shape_first_layer_and_limit():
    prof = theory.backward_gain_profile("tanh", 2.0, 0.0, 60, q_in=1.0)
    assert prof.shape == (60,)
    assert prof[0] == pytest.approx(theory.backward_gain("tanh", 2.0, 4.0))      # q_1 = σ_w² q_in
    assert prof[-1] == pytest.approx(theory.chi1("tanh", 2.0, 0.0), rel=1e-6)   # reaches χ₁ at q*
    np.testing.assert_allclose(theory.backward_gain_profile("relu", 1.5, 0.1, 5), np.full(5, 1.5**2 / 2))
    np.testing.assert_allclose(theory.backward_gain_profile("linear", 0.5, 0.0, 3), np.full(3, 0.25))
    np.testing.assert_allclose(theory.backward_gain_profile("relu", 1.5, 0.0, 4, q_in=0.0), np.zeros(4))


def test_profile_critical_tanh_decays_towards_one_from_below():
    prof = theory.backward_gain_profile("tanh", 1.0, 0.0, 200)
    assert np.all(prof < 1) and np.all(np.diff(prof) > 0) and prof[-1] > 0.98


@pytest.mark.parametrize("sw", [0.5, 1.0, 2.0])
def test_profile_predicts_jacobian_frobenius_norm_of_a_wide_tanh_network(sw):
    """‖J_L ⋯ J_1‖_F² / n ≈ Π χ_l (Pennington et al. 2017), averaged over a few inputs."""
    n, depth = 256, 20
    model = nets.mlp(depth, n, n, 1, activation="tanh", init="normal", sigma_w=sw, seed=1).double()
    x = torch.randn(4, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        prod, h = torch.eye(n, dtype=torch.float64).repeat(4, 1, 1), x
        for i in range(1, depth + 1):
            s = getattr(model, f"fc{i}")(h)
            prod = (1 - torch.tanh(s) ** 2)[:, :, None] * getattr(model, f"fc{i}").weight @ prod
            h = torch.tanh(s)
    measured = float(prod.pow(2).sum(dim=(1, 2)).mean()) / n
    predicted = float(np.prod(theory.backward_gain_profile("tanh", sw, 0.0, depth, q_in=1.0)))
    assert math.log(measured) == pytest.approx(math.log(predicted), abs=0.25)


# --- bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, exc, match", [
    (lambda: theory.chain_derivative("sigmod", 1.0, 3), ValueError, "sigmod"),
    (lambda: theory.chain_derivative(None, 1.0, 3), TypeError, "activation"),
    (lambda: theory.chain_derivative("tanh", "1", 3), TypeError, "weight"),
    (lambda: theory.chain_derivative("tanh", float("nan"), 3), ValueError, "weight"),
    (lambda: theory.chain_derivative("tanh", 1.0, -1), ValueError, "depth"),
    (lambda: theory.chain_derivative("tanh", 1.0, 2.5), TypeError, "depth"),
    (lambda: theory.chain_derivative("tanh", 1.0, True), TypeError, "depth"),
    (lambda: theory.chain_derivative("tanh", 1.0, 3, h0=float("inf")), ValueError, "h0"),
    (lambda: theory.backward_gain("sigmoid", 1.0, 1.0), ValueError, "sigmoid"),
    (lambda: theory.backward_gain("tanh", 0.0, 1.0), ValueError, "sigma_w"),
    (lambda: theory.backward_gain("tanh", 1.0, -0.1), ValueError, "q"),
    (lambda: theory.backward_gain("tanh", 1.0, "big"), TypeError, "q"),
    (lambda: theory.backward_gain_profile("tanh", 1.0, -0.1, 5), ValueError, "sigma_b"),
    (lambda: theory.backward_gain_profile("tanh", 1.0, 0.0, 0), ValueError, "depth"),
    (lambda: theory.backward_gain_profile("tanh", 1.0, 0.0, 5, q_in=-1), ValueError, "q_in"),
    (lambda: theory.backward_gain_profile("relu", -2.0, 0.0, 5), ValueError, "sigma_w"),
])
def test_bad_input_gets_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
