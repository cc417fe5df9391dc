"""Helpers added for the initialization chapter: Jacobian spectra (theory) and the phase diagram (plots)."""

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from gvcourse import nets, plots, theory

matplotlib.use("Agg")


# --- theory.jacobian_spectrum_moments -----------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [1, 4, 16])
def test_known_moments(depth):
    lin_g = theory.jacobian_spectrum_moments("linear", 1.0, 0.0, depth, "gaussian")
    lin_o = theory.jacobian_spectrum_moments("linear", 1.0, 0.0, depth, "orthogonal")
    assert (lin_g.mean, lin_g.variance) == pytest.approx((1.0, depth))  # products of Ginibre matrices
    assert (lin_o.mean, lin_o.variance) == pytest.approx((1.0, 0.0))  # Saxe et al.: exact isometry
    relu_g = theory.jacobian_spectrum_moments("relu", math.sqrt(2), 0.0, depth, "gaussian")
    relu_o = theory.jacobian_spectrum_moments("relu", math.sqrt(2), 0.0, depth, "orthogonal")
    assert (relu_g.mean, relu_g.variance) == pytest.approx((1.0, 2 * depth))
    assert (relu_o.mean, relu_o.variance) == pytest.approx((1.0, depth))


def test_mean_is_chi1_to_the_depth_and_tanh_orthogonal_beats_gaussian():
    sb = 0.05
    sw = theory.critical_sigma_w("tanh", sb)
    g = theory.jacobian_spectrum_moments("tanh", sw, sb, 10, "gaussian")
    o = theory.jacobian_spectrum_moments("tanh", sw, sb, 10, "orthogonal")
    assert g.mean == pytest.approx(1.0, abs=1e-6) and o.mean == pytest.approx(1.0, abs=1e-6)
    assert g.variance == pytest.approx(o.variance + 10, rel=1e-9)  # s₁ = −1 vs 0 adds exactly L
    assert 0 < o.variance < 0.2 * g.variance
    off = theory.jacobian_spectrum_moments("tanh", 1.5, 0.3, 7)
    assert off.mean == pytest.approx(theory.chi1("tanh", 1.5, 0.3) ** 7)


def _mean_var_of_squared_singular_values(activation, init, sigma_w, width, depth, seeds):
    means, variances = [], []
    for seed in seeds:
        kw = {"sigma_w": sigma_w} if init == "normal" else {"gain": sigma_w}
        model = nets.mlp(depth, width, width, 1, activation=activation, init=init, seed=seed, **kw).double()
        x = torch.randn(width, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        lam = theory.jacobian_singular_values(model[:-1], x) ** 2
        means.append(lam.mean())
        variances.append(lam.var())
    return float(np.mean(means)), float(np.mean(variances))


def test_moments_match_wide_random_networks():
    """Finite width (300) and a few seeds: the free-probability moments hold to ~25 %."""
    mean, var = _mean_var_of_squared_singular_values("linear", "normal", 1.0, 300, 4, range(3))
    assert mean == pytest.approx(1.0, rel=0.1) and var == pytest.approx(4.0, rel=0.25)
    mean, var = _mean_var_of_squared_singular_values("relu", "orthogonal", math.sqrt(2), 300, 4, range(3))
    assert mean == pytest.approx(1.0, rel=0.15) and var == pytest.approx(4.0, rel=0.25)
    mean, var = _mean_var_of_squared_singular_values("relu", "normal", math.sqrt(2), 300, 4, range(3))
    assert mean == pytest.approx(1.0, rel=0.15) and var == pytest.approx(8.0, rel=0.25)


def test_orthogonal_linear_network_is_an_exact_isometry():
    model = nets.mlp(6, 50, 50, 1, activation="linear", init="orthogonal", seed=3).double()
    sv = theory.jacobian_singular_values(model[:-1], torch.randn(50, dtype=torch.float64))
    assert np.allclose(sv, 1.0, atol=1e-10)


# --- theory.jacobian_singular_values ------------------------------------------------------------------------------

def test_singular_values_of_linear_maps_are_those_of_the_weight_product():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(5, 7).double(), torch.nn.Linear(7, 4).double()
    model = torch.nn.Sequential(a, b)
    sv = theory.jacobian_singular_values(model, torch.randn(1, 5, dtype=torch.float64))
    expected = torch.linalg.svdvals(b.weight @ a.weight).detach().numpy()
    assert sv.dtype == np.float64 and sv.shape == (4,)
    assert np.allclose(sv, expected) and np.all(np.diff(sv) <= 0)


def test_singular_values_include_the_activation_derivatives():
    lin = torch.nn.Linear(3, 3).double()
    model = torch.nn.Sequential(lin, torch.nn.Tanh())
    x = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    s = lin(x)
    expected = torch.linalg.svdvals(torch.diag(1 - torch.tanh(s) ** 2) @ lin.weight).detach().numpy()
    assert np.allclose(theory.jacobian_singular_values(model, x), expected)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: theory.jacobian_singular_values("model", torch.zeros(3)), TypeError, "torch.nn.Module"),
        (lambda: theory.jacobian_singular_values(torch.nn.Linear(3, 2), [0.0, 1.0, 2.0]), TypeError, "torch.Tensor"),
        (lambda: theory.jacobian_singular_values(torch.nn.Linear(3, 2), torch.zeros(2, 3)), ValueError, "(2, 3)"),
        (lambda: theory.jacobian_singular_values(torch.nn.Linear(3, 2), torch.zeros(3, dtype=torch.int64)),
         TypeError, "floating-point"),
        (lambda: theory.jacobian_spectrum_moments("tanh", 1.0, 0.0, 4, "uniform"), ValueError, "gaussian, orthogonal"),
        (lambda: theory.jacobian_spectrum_moments("sigmod", 1.0, 0.0, 4), ValueError, "tanh, relu"),
        (lambda: theory.jacobian_spectrum_moments("tanh", 1.0, 0.0, 0), ValueError, "depth"),
        (lambda: theory.jacobian_spectrum_moments("tanh", 1.0, 0.0, 2.5), TypeError, "depth"),
        (lambda: theory.jacobian_spectrum_moments("tanh", -1.0, 0.0, 3), ValueError, "sigma_w"),
    ],
)
def test_clear_errors(call, error, words):
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value)


# --- plots.phase_diagram ------------------------------------------------------------------------------------------

def test_phase_diagram_has_colorbar_critical_line_points_and_alt_text():
    fig = plots.phase_diagram(resolution=7, points={"ordered": (1.0, 0.3), "chaotic": (2.0, 0.3)})
    ax, cax = fig.axes
    assert "χ₁" in cax.get_ylabel()
    assert ax.get_xlabel().startswith("σ_w") and ax.get_ylabel().startswith("σ_b") and ax.get_title()
    critical = [line for line in ax.lines if line.get_label().startswith("critical")]
    assert len(critical) == 1
    xs, ys = critical[0].get_data()
    assert xs[0] == pytest.approx(1.0) and ys[0] == 0.0  # tanh, σ_b = 0: σ_w = 1
    assert {"ordered", "chaotic"} <= {line.get_label() for line in ax.lines}
    alt = plots.get_alt_text(fig)
    assert "critical line" in alt and "ordered" in alt and "chaotic" in alt
    plt.close(fig)


def test_phase_diagram_draws_into_a_given_axes():
    fig, ax = plt.subplots()
    assert plots.phase_diagram("relu", sigma_w=(1.0, 2.0), resolution=3, ax=ax) is fig
    critical = [line for line in ax.lines if line.get_label().startswith("critical")][0]
    assert np.allclose(critical.get_data()[0], math.sqrt(2))
    plt.close(fig)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"activation": "sigmod"}, ValueError, "tanh, relu"),
        ({"sigma_w": (3.0, 1.0)}, ValueError, "low < high"),
        ({"sigma_w": "wide"}, TypeError, "(low, high)"),
        ({"sigma_w": (0.0, 2.0)}, ValueError, "sigma_w low"),
        ({"sigma_b": (0.0, -1.0)}, ValueError, "sigma_b high"),
        ({"resolution": 2}, ValueError, "resolution"),
    ],
)
def test_phase_diagram_errors(kwargs, error, words):
    with pytest.raises(error) as info:
        plots.phase_diagram(**kwargs)
    assert words in str(info.value)


def test_relative_variance_does_not_depend_on_chi1():
    ordered = theory.jacobian_spectrum_moments("relu", 1.0, 0.0, 5, "orthogonal")
    critical = theory.jacobian_spectrum_moments("relu", math.sqrt(2), 0.0, 5, "orthogonal")
    assert ordered.mean == pytest.approx(0.5**5)
    assert ordered.relative_variance == pytest.approx(critical.relative_variance) == pytest.approx(5.0)
    assert theory.JacobianMoments(mean=0.0, variance=0.0).relative_variance != 0.0  # NaN, not a fake isometry
