"""GradientFlow's per-step protocol: a hand-written loop that calls it records what fit records."""

import math

import pytest
import torch

from gvcourse import data, nets
from gvcourse.monitor import GradientFlow
from gvcourse.train import fit

STEPS, LR = 6, 0.2


def _model():
    return nets.mlp(4, 16, 8, 3, activation="tanh", init="xavier_normal", seed=3)


def _hand_written_loop(model, task, flow):
    """The loop of the GradientFlow docstring: full batch (fit's batches when batch_size >= n), plain SGD."""
    x, y = task
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    with flow:
        for step in range(STEPS):
            flow.begin_step(last=step == STEPS - 1)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            flow.after_backward()
            opt.step()
            flow.after_step()


@pytest.mark.parametrize("options", [{}, {"updates": True, "backprop_history": True}])
def test_hand_written_loop_records_what_fit_records(options):
    task = data.teacher_task(n=128, d=8, classes=3, seed=1)
    a, b = _model(), _model()
    by_fit, by_hand = GradientFlow(a, **options), GradientFlow(b, **options)
    with by_fit:
        fit(a, task, steps=STEPS, lr=LR, batch_size=128, progress=False, monitor=by_fit)
    _hand_written_loop(b, task, by_hand)
    assert by_fit.steps == by_hand.steps == STEPS
    for series, values in by_fit.history.items():
        assert by_hand.history[series].keys() == values.keys()
        for layer, numbers in values.items():
            assert by_hand.history[series][layer] == pytest.approx(numbers, rel=1e-6), (series, layer)
    assert by_hand.backprop_norms() == pytest.approx(by_fit.backprop_norms(), rel=1e-6)
    assert by_hand.output_rms() == pytest.approx(by_fit.output_rms(), rel=1e-6)
    assert by_hand.activation_stats() == by_fit.activation_stats()
    if options:  # the optional series are there, one number per step
        assert all(len(v) == STEPS for v in by_hand.history["update_data"].values())
        assert all(len(v) == STEPS for v in by_hand.history["backprop_norm"].values())
    else:
        assert by_hand.history["update_data"] == {} and by_hand.history["backprop_norm"] == {}


def test_per_pass_statistics_describe_the_last_step_and_switches_come_back():
    task = data.teacher_task(n=64, d=8, classes=3, seed=2)
    model = _model()
    flow = GradientFlow(model)
    x, y = task
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    with flow:
        for step in range(3):
            flow.begin_step(last=step == 2)
            assert flow.forward_stats is (step == 2) and flow.backward_stats is (step == 2)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            flow.after_backward()
            opt.step()
            flow.after_step()
        assert flow.forward_stats and flow.backward_stats  # restored after the last step
    assert all(math.isfinite(v) and v > 0 for v in flow.backprop_norms().values())


def test_end_steps_restores_after_an_interrupted_loop():
    model = _model()
    flow = GradientFlow(model)
    flow.forward_stats = False  # the user's own choice survives the loop
    flow.begin_step(last=False)
    assert not flow.forward_stats and not flow.backward_stats
    flow.end_steps()
    flow.end_steps()  # twice is harmless
    assert flow.forward_stats is False and flow.backward_stats is True
