"""gvcourse.train.fit / evaluate: determinism, learning, clipping, monitoring, errors."""

import math

import pytest
import torch

from gvcourse import data, nets
from gvcourse.monitor import GradientFlow
from gvcourse.train import evaluate, fit


def _run(**kw):
    model = nets.mlp(2, 32, 8, 3, activation="relu", init="he_normal", seed=0)
    task = data.teacher_task(n=512, d=8, classes=3, seed=0)
    kw.setdefault("progress", False)
    hist = fit(model, task, steps=kw.pop("steps", 60), lr=kw.pop("lr", 0.1), **kw)
    return model, task, hist


def test_fit_is_deterministic_and_learns():
    m1, task, h1 = _run(momentum=0.9)
    _, _, h2 = _run(momentum=0.9)
    assert h1.loss == h2.loss
    assert h1.loss[-1] < 0.6 * h1.loss[0]
    assert evaluate(m1, task)["accuracy"] > 0.8


def test_adam_and_clipping():
    _, _, h = _run(optimizer="adam", lr=1e-2, clip=0.5)
    assert len(h.grad_norm) == 60 and h.loss[-1] < h.loss[0]
    model = nets.mlp(2, 32, 8, 3, seed=0)
    task = data.teacher_task(n=256, d=8, classes=3)
    before = [p.detach().clone() for p in model.parameters()]
    h = fit(model, task, steps=1, lr=1.0, clip=1e-3, progress=False)
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert float(moved) == pytest.approx(1e-3, rel=1e-3)  # SGD step of lr * clipped gradient
    assert h.grad_norm[0] > 1e-3  # history keeps the norm before clipping


def test_fit_with_monitor_records_every_step():
    model = nets.mlp(3, 16, 8, 3, seed=0)
    task = data.teacher_task(n=256, d=8, classes=3)
    flow = GradientFlow(model, updates=True)
    fit(model, task, steps=5, lr=0.05, monitor=flow, progress=False)
    assert flow.steps == 5 and not flow.attached
    assert len(flow.history["update_data"]["fc1"]) == 5
    assert flow._scratch is None  # the weight copy for update:data is freed when fit detaches the monitor


def test_fit_monitor_back_propagated_norms_are_the_last_steps_or_every_steps():
    task = data.teacher_task(n=256, d=8, classes=3)
    default, every = GradientFlow(nets.mlp(4, 16, 8, 3, seed=0)), None
    fit(default.model, task, steps=6, lr=0.05, monitor=default, progress=False)
    model = nets.mlp(4, 16, 8, 3, seed=0)
    every = GradientFlow(model, backprop_history=True)
    fit(model, task, steps=6, lr=0.05, monitor=every, progress=False)
    assert default.history["backprop_norm"] == {} and default.backward_stats  # restored after fit
    last = default.backprop_norms()
    assert list(last) == list(every.backprop_norms()) and all(v > 0 for v in last.values())
    for name, series in every.history["backprop_norm"].items():
        assert len(series) == 6 and series[-1] == last[name] == every.backprop_norms()[name]
        assert len(set(series)) > 1  # measured on every step, not the last value repeated
    with pytest.raises(TypeError, match="backprop_history"):
        GradientFlow(model, backprop_history=1)


def test_fit_monitor_without_updates_keeps_no_weight_copy_and_reads_last_step_activations():
    model = nets.mlp(3, 16, 8, 3, activation="tanh", seed=0)
    x, y = data.teacher_task(n=256, d=8, classes=3)
    flow = GradientFlow(model)
    with flow:
        fit(model, (x, y), steps=4, lr=0.05, batch_size=256, monitor=flow, progress=False)
        assert flow._scratch is None and flow.history["update_data"] == {}
        assert len(flow.history["grad_data"]["fc1"]) == 4 and flow.forward_stats  # restored after fit
    with torch.no_grad(), GradientFlow(model) as fresh:  # the current weights on the full batch
        model(x)
    fit(model, (x, y), steps=1, lr=0.05, batch_size=256, monitor=flow, progress=False)  # its one forward pass
    assert flow.activation_stats() == fresh.activation_stats() and len(fresh.activation_stats()) == 3


def test_binary_and_regression_losses():
    x, y = data.random_binary(n=200, seed=0)
    model = nets.mlp(2, 16, 20, 1, seed=0)
    h = fit(model, (x, y), steps=3, lr=0.1, progress=False)
    assert h.accuracy  # bce path reports accuracy
    reg = fit(nets.mlp(1, 8, 20, 1, seed=0), (x, y * 2.5), steps=3, lr=0.01, progress=False)
    assert not reg.accuracy
    assert "loss" in evaluate(model, (x, y * 2.5))


def test_progress_bar_has_no_timings(capsys):
    _run(steps=3, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "it/s" not in err and "<" not in err


def test_evaluate_restores_mode():
    model, task, _ = _run(steps=2)
    model.train()
    evaluate(model, task)
    assert model.training


@pytest.mark.parametrize(
    "kw, error, words",
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"optimizer": "rmsprop"}, ValueError, "sgd, adam"),
        ({"loss": "hinge"}, ValueError, "cross_entropy"),
        ({"clip": 0.0}, ValueError, "clip"),
        ({"monitor": "flow"}, TypeError, "GradientFlow"),
    ],
)
def test_bad_arguments(kw, error, words):
    model = nets.mlp(1, 4, 8, 3)
    args = {"steps": 2, "lr": 0.1}
    args.update(kw)
    with pytest.raises(error, match=words):
        fit(model, data.teacher_task(n=32, d=8, classes=3), progress=False, **args)


def test_bad_data_and_model():
    with pytest.raises(TypeError, match="pair of tensors"):
        fit(nets.mlp(1, 4, 8, 3), [1, 2, 3], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="same number of rows"):
        fit(nets.mlp(1, 4, 8, 3), (torch.zeros(4, 8), torch.zeros(5)), steps=1, lr=0.1)
    with pytest.raises(TypeError, match="nn.Module"):
        fit(lambda x: x, data.teacher_task(n=8), steps=1, lr=0.1)
    other = GradientFlow(nets.mlp(1, 4, 8, 3))
    with pytest.raises(ValueError, match="different model"):
        fit(nets.mlp(1, 4, 8, 3), data.teacher_task(n=8, d=8, classes=3), steps=1, lr=0.1, monitor=other)


def test_fit_trains_a_model_with_sparse_gradients():
    """nn.Embedding(sparse=True) gives sparse gradients: norms and clipping must handle them (and the monitor)."""
    from gvcourse.train import grad_norm_and_clip

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(20, 8, sparse=True), torch.nn.Flatten(), torch.nn.Linear(32, 3))
    x, y = torch.randint(0, 20, (64, 4)), torch.randint(0, 3, (64,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    expected = math.sqrt(sum(float((p.grad.coalesce().values() if p.grad.is_sparse else p.grad).pow(2).sum())
                             for p in model.parameters()))
    total, per_param = grad_norm_and_clip(list(model.parameters()), clip=0.1)
    assert float(total) == pytest.approx(expected, rel=1e-5)
    clipped = math.sqrt(sum(float((p.grad.coalesce().values() if p.grad.is_sparse else p.grad).pow(2).sum())
                            for p in model.parameters()))
    assert clipped == pytest.approx(0.1, rel=1e-4)
    flow = GradientFlow(model)
    history = fit(model, (x, y), 5, lr=0.1, clip=1.0, monitor=flow, progress=False)
    assert len(history.grad_norm) == 5 and all(math.isfinite(v) for v in history.grad_norm)
    assert set(flow.grad_norms()) == {"0", "2"}


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_multi_tensor_optimizer_keeps_the_bits_of_the_per_parameter_loop(kind):
    """make_optimizer uses foreach=True; on CPU it must update every parameter exactly as the default loop does."""
    from gvcourse.optimizers import make_optimizer

    def run(build):
        model = nets.mlp(4, 16, 8, 3, activation="tanh", seed=0)
        opt = build(list(model.parameters()))
        x, y = torch.randn(32, 8, generator=torch.Generator().manual_seed(1)), torch.arange(32) % 3
        for _ in range(5):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return [p.detach().clone() for p in model.parameters()]

    if kind == "sgd":
        loop = run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, foreach=False))
        multi = run(lambda ps: make_optimizer("sgd", ps, 0.1, momentum=0.9))
    else:
        loop = run(lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.98), foreach=False))
        multi = run(lambda ps: make_optimizer("adam", ps, 1e-2, betas=(0.9, 0.98)))
    assert all(torch.equal(a, b) for a, b in zip(loop, multi))
    assert not torch.equal(loop[0], nets.mlp(4, 16, 8, 3, activation="tanh", seed=0)[0].weight)  # it trained


def test_make_optimizer_names_the_allowed_kinds():
    from gvcourse.optimizers import make_optimizer

    with pytest.raises(ValueError, match="sgd"):
        make_optimizer("rmsprop", [torch.zeros(1, requires_grad=True)], 0.1)
