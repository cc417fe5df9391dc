"""gvcourse.activations: the one table every module reads, and its saturation rule."""

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gvcourse import activations, monitor, nets, theory
from gvcourse.activations import ACTIVATION_TABLE, SATURATION_LEVEL

PACKAGE = Path(activations.__file__).parent


def test_the_table_matches_torch():
    x = torch.linspace(-6, 6, 241, dtype=torch.float64)
    for name, spec in ACTIVATION_TABLE.items():
        module = getattr(torch.nn, spec.module)()
        if spec.phi is None:
            continue
        assert np.allclose(spec.phi(x.numpy()), module(x).numpy(), rtol=1e-12, atol=1e-15), name
        xg = x.clone().requires_grad_(True)
        module(xg).sum().backward()
        assert np.allclose(spec.dphi(x.numpy()), xg.grad.numpy(), rtol=1e-9, atol=1e-15), name
        assert spec.derivative_max == pytest.approx(float(np.max(spec.dphi(x.numpy()))), rel=1e-12), name
        assert spec.linear_gain == pytest.approx(float(np.mean(spec.dphi(np.array([-1e-6, 1e-6])) ** 2))), name


def test_every_module_reads_the_table():
    assert list(nets.ACTIVATIONS) == ["relu", "tanh", "sigmoid", "leaky_relu", "prelu", "elu", "gelu", "linear"]
    assert all(nets.ACTIVATIONS[n] is getattr(torch.nn, ACTIVATION_TABLE[n].module) for n in nets.ACTIVATIONS)
    assert theory.DERIVATIVE_MAX == {n: ACTIVATION_TABLE[n].derivative_max for n in theory.DERIVATIVE_MAX}
    assert set(theory.SATURATING_ACTIVATIONS) == set(activations.saturating()) == {"sigmoid", "tanh"}
    assert theory.SATURATION_LEVEL is SATURATION_LEVEL
    assert len(monitor.ACTIVATION_MODULES) == len(ACTIVATION_TABLE) - 1  # all but the identity
    assert set(monitor.RELU_LIKE_MODULES) == {torch.nn.ReLU, torch.nn.ReLU6}


def _constants(path: Path, value: float) -> int:
    return sum(1 for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Constant) and type(node.value) is float and node.value == value)


def test_the_saturation_level_is_written_once():
    """The number 0.05 is in activations.SATURATION_LEVEL and in none of the modules that apply the rule."""
    assert _constants(PACKAGE / "activations.py", SATURATION_LEVEL) == 1
    readers = ["nets.py", "monitor.py", "flow_hooks.py", "activation_stats.py", "sequence.py",
               *(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "theory").glob("*.py")),
               *(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "diagnosis").glob("*.py"))]
    hits = [name for name in readers if _constants(PACKAGE / name, SATURATION_LEVEL)]
    assert not hits, hits


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("level", [0.01, SATURATION_LEVEL, 0.5])
def test_output_band_and_threshold_are_the_same_rule(name, level):
    spec = ACTIVATION_TABLE[name]
    t = activations.pre_activation_threshold(name, level)
    centre, radius = activations.output_band(name, level)
    y = spec.phi(np.array([t]))[0]
    assert abs(y - centre) == pytest.approx(radius, rel=1e-9)  # the two forms meet at the edge
    assert spec.dphi(np.array([t]))[0] == pytest.approx(level * spec.derivative_max, rel=1e-9)


def test_bad_names_and_levels_are_refused():
    with pytest.raises(ValueError, match="'swish' is not one of: relu, tanh"):
        activations.activation_spec("swish")
    with pytest.raises(ValueError, match="does not saturate"):
        activations.output_band("relu")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        activations.pre_activation_threshold("tanh", 1.5)
    with pytest.raises(ValueError, match="closed form"):
        activations.scalar_phi_and_slope("gelu", 0.0)


def test_scalar_form_agrees_with_the_vectorised_one():
    for name in ("sigmoid", "tanh", "relu", "linear"):
        spec = ACTIVATION_TABLE[name]
        for s in (-30.0, -1.5, 0.3, 2.0, 40.0):
            y, slope = activations.scalar_phi_and_slope(name, s)
            assert y == pytest.approx(float(spec.phi(np.array([s]))[0]), rel=1e-12, abs=1e-300)
            if not (name == "relu" and s == 0):
                assert slope == pytest.approx(float(spec.dphi(np.array([s]))[0]), rel=1e-9, abs=1e-15)
    assert math.isfinite(activations.scalar_phi_and_slope("sigmoid", -1000.0)[1])


def test_the_activation_keyword_is_the_one_name():
    """Issue 20: the argument was ``act``, ``activation`` and ``nonlinearity``; now it is ``activation`` only, and
    the old names raise a TypeError that says what to write."""
    a = nets.ResidualBlock(8, "tanh")
    c = nets.ResidualBlock(8, activation="tanh")
    assert all(isinstance(m.act, torch.nn.Tanh) for m in (a, c))
    assert isinstance(nets.ResidualBlock(8).act, torch.nn.ReLU)
    with pytest.raises(TypeError, match=r"ResidualBlock\(\) has no keyword act=.*activation='tanh'"):
        nets.ResidualBlock(8, act="tanh")
    with pytest.raises(TypeError, match="unexpected keyword argument 'actvation'"):
        nets.ResidualBlock(8, actvation="tanh")
    with pytest.raises(ValueError, match="'softsign' is not one of"):
        nets.ResidualBlock(8, "softsign")


def test_no_public_function_names_the_activation_otherwise():
    """Every parameter of a public function or class of gvcourse that takes an activation name is ``activation``."""
    import inspect

    import gvcourse
    from gvcourse import gan, sequence, transformer

    offenders = []
    for module in (nets, sequence, gan, transformer, gvcourse.theory, gvcourse.plots, gvcourse.train):
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not callable(obj):
                continue
            try:
                params = inspect.signature(obj).parameters
            except (TypeError, ValueError):
                continue
            old = activations.REMOVED_ACTIVATION_KEYWORDS
            offenders += [f"{module.__name__}.{name}({p})" for p in params if p in old]
    assert not offenders, offenders
