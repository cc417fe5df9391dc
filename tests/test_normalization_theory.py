"""gvcourse.theory.normalized_backward_gain against closed forms and against a measured network."""

import math

import pytest
import torch

from gvcourse import nets, theory
from gvcourse.monitor import GradientFlow


def test_closed_forms():
    assert theory.normalized_backward_gain("relu", "batch") == pytest.approx(math.pi / (math.pi - 1))  # Yang et al.
    assert theory.normalized_backward_gain("relu", "layer") == pytest.approx(1.0)
    assert theory.normalized_backward_gain("linear", "batch") == pytest.approx(1.0)
    # tanh is odd, so E[φ] = 0 and batch and layer normalization agree
    gain = theory.normalized_backward_gain
    assert gain("tanh", "batch") == pytest.approx(gain("tanh", "layer"))
    assert gain("sigmoid", "layer") < 0.2 < 1 < gain("sigmoid", "batch")


@pytest.mark.parametrize("activation, norm", [("sigmoid", "batch"), ("sigmoid", "layer"), ("tanh", "batch")])
def test_prediction_matches_a_wide_network(activation, norm):
    torch.manual_seed(0)
    depth = 12
    model = nets.mlp(depth, 256, 32, 10, activation=activation, norm=norm, init="xavier_uniform", seed=1)
    x, y = torch.randn(512, 32), torch.randint(0, 10, (512,))
    with GradientFlow(model, activations=False) as flow:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    back = list(flow.backprop_norms().values())
    measured = (back[0] / back[depth - 1]) ** (1 / (depth - 1))
    assert measured == pytest.approx(math.sqrt(theory.normalized_backward_gain(activation, norm)), rel=0.06)


def test_bad_input():
    with pytest.raises(ValueError, match="norm 'none' is not one of: batch, layer"):
        theory.normalized_backward_gain("relu", "none")
    with pytest.raises(ValueError, match="activation 'elu'"):
        theory.normalized_backward_gain("elu", "batch")
