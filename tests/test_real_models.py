"""GradientFlow and diagnose on modern architectures built by hand from torch.nn (tests/architectures.py).

GradientFlow must report every weight tensor (parameter with ≥ 2 dimensions) that receives a gradient — attention
projections used functionally, parametrizations, tied weights, free positional tables — with the norm of its
``.grad``; say what it cannot see instead of reporting zeros; and leave no hook behind when it fails.
diagnose must call these default-initialised networks healthy and still catch the broken variants.
"""

import math

import architectures as A
import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from gvcourse import GradientFlow, diagnose

F = nn.functional

BUILDERS = {
    "resnet": (A.resnet, lambda: A.images(4, 32)),
    "mobilenet_v3": (A.mobilenet_v3, lambda: A.images(4, 32)),
    "efficientnet": (A.efficientnet, lambda: A.images(4, 32)),
    "densenet": (A.densenet, lambda: A.images(4, 32)),
    "vit": (A.ViT, lambda: A.images(4, 16)),
    "swin": (A.Swin, lambda: A.images(4, 16)),
    "transformer": (A.TextClassifier, lambda: A.token_batch(4)),
}


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def _expected(model: nn.Module, flow: GradientFlow, entry: str) -> float:
    params = dict(model.named_parameters(remove_duplicate=False))
    grads = [params[n].grad for n in flow.tensors()[entry] if params[n].grad is not None]
    return math.sqrt(sum(float(g.coalesce().values().double().pow(2).sum()) if g.is_sparse
                         else float(g.double().pow(2).sum()) for g in grads))


def _check_coverage(model: nn.Module, flow: GradientFlow) -> dict[str, float]:
    norms = flow.grad_norms()
    covered = {n for entry in norms for n in flow.tensors()[entry]}
    missing = [n for n, p in model.named_parameters() if p.dim() >= 2 and p.grad is not None and n not in covered]
    assert not missing, f"weight tensors with a gradient but no entry: {missing}"
    for entry, value in norms.items():
        assert value == pytest.approx(_expected(model, flow, entry), rel=1e-5, abs=1e-12), entry
    return norms


# -- GradientFlow: what it measures ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_weight_tensor_with_a_gradient_is_reported(name):
    torch.manual_seed(0)
    build, batch = BUILDERS[name]
    model = build()
    x, y = batch()
    with GradientFlow(model) as flow:
        F.cross_entropy(model(x), y).backward()
    norms = _check_coverage(model, flow)
    assert all(v > 0 for v in norms.values())
    assert set(flow.backprop_norms()) <= set(norms)
    assert _no_hooks(model)


def test_attention_positional_tables_and_functional_projections_are_named():
    torch.manual_seed(0)
    vit = A.ViT()
    x, y = A.images(4, 16)
    with GradientFlow(vit) as flow:
        F.cross_entropy(vit(x), y).backward()
    names = list(flow.grad_norms())
    assert names[:3] == ["class_token", "pos_embedding", "patch"]  # used first, listed first
    attn = "encoder.layers.0.self_attn"
    assert names.index(attn) + 1 == names.index(attn + ".out_proj")  # out_proj's hook never runs: placed after
    assert flow.tensors()[attn] == [attn + ".in_proj_weight"]
    assert attn in flow.backprop_norms() and attn + ".out_proj" not in flow.backprop_norms()
    swin = A.Swin()
    with GradientFlow(swin) as flow:
        F.cross_entropy(swin(x), y).backward()
    names = list(flow.grad_norms())
    table = "blocks.0.attn.relative_position_bias_table"
    assert names.index(table) < names.index("blocks.0.attn.qkv") < names.index("blocks.0.attn.proj")


class Custom(nn.Module):
    """A weight named W, a parametrized Linear, an orthogonal one, a spectral-norm one, a tied output layer."""

    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn(6, 5) / 3)
        self.embed = nn.Embedding(11, 6)
        self.wn = nn.utils.parametrizations.weight_norm(nn.Linear(6, 6))
        self.orth = nn.utils.parametrizations.orthogonal(nn.Linear(6, 6))
        self.sn = nn.utils.spectral_norm(nn.Linear(6, 6))
        self.out = nn.Linear(6, 11, bias=False)
        self.out.weight = self.embed.weight  # tied (Press & Wolf 2017)

    def forward(self, tokens, x):
        h = self.embed(tokens) + x @ self.W.T
        return self.out(torch.tanh(self.sn(self.orth(self.wn(h)))))


def test_custom_parametrized_and_tied_weights():
    torch.manual_seed(0)
    model = Custom()
    tokens, x = torch.randint(0, 11, (8,)), torch.randn(8, 5)
    with GradientFlow(model) as flow:
        F.cross_entropy(model(tokens, x), tokens).backward()
    norms = _check_coverage(model, flow)
    assert list(norms) == ["W", "embed", "wn", "orth", "sn", "out"]
    assert flow.tensors()["wn"] == ["wn.parametrizations.weight.original0", "wn.parametrizations.weight.original1"]
    assert flow.tensors()["sn"] == ["sn.weight_orig"]
    assert norms["embed"] == norms["out"] == pytest.approx(float(model.embed.weight.grad.norm()), rel=1e-5)


def test_sparse_gradients():
    model = nn.Sequential(nn.Embedding(20, 8, sparse=True), nn.Flatten(), nn.Linear(24, 3))
    tokens = torch.tensor([[1, 2, 2], [2, 5, 1]])  # repeated indices: the sparse gradient must be coalesced
    with GradientFlow(model) as flow:
        model(tokens).pow(2).sum().backward()
    norms = _check_coverage(model, flow)
    assert norms["0"] == pytest.approx(float(model[0].weight.grad.to_dense().norm()), rel=1e-6)
    target = torch.randn(2, 3)
    model.zero_grad(set_to_none=True)
    F.mse_loss(model(tokens), target).backward()
    expected = float(model[0].weight.grad.to_dense().norm())
    report = diagnose(model, tokens, target, F.mse_loss)  # no crash on a sparse gradient
    assert report.layer("0").grad_norm == pytest.approx(expected, rel=1e-5)


def test_backprop_variance_after_several_forwards_and_under_checkpointing():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2))
    xs = [torch.randn(6, 5) for _ in range(3)]
    s = [model[0](x) for x in xs]
    loss = sum(model[2](model[1](si)).pow(2).sum() for si in s)
    grads = torch.autograd.grad(loss, s)
    expected = sum(float(g.pow(2).sum()) for g in grads) / sum(g.numel() for g in grads)
    with GradientFlow(model) as flow:
        sum(model(x).pow(2).sum() for x in xs).backward()  # three forward passes, one backward
    assert flow.backprop_variances()["0"] == pytest.approx(expected, rel=1e-5)

    class Checkpointed(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return checkpoint(self.inner, x, use_reentrant=False)

    wrapped = Checkpointed(model)
    with GradientFlow(wrapped) as flow:
        sum(wrapped(x).pow(2).sum() for x in xs).backward()
    assert flow.backprop_variances()["inner.0"] == pytest.approx(expected, rel=1e-5)


# -- GradientFlow: what it cannot see, and failures -------------------------------------------------------------------
def test_scripted_submodule_is_refused_and_no_hook_survives():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), torch.jit.script(nn.Linear(4, 2)))
    with pytest.raises(TypeError, match="script"):
        GradientFlow(model)
    assert _no_hooks(model)
    with pytest.raises(TypeError, match="script"):
        GradientFlow(torch.jit.script(nn.Linear(3, 3)))


class Refuses(nn.Linear):
    def register_forward_hook(self, *args, **kwargs):
        raise RuntimeError("no hooks here")


def test_failure_part_way_through_attach_removes_every_hook():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), Refuses(4, 2))
    flow = GradientFlow(model)
    with pytest.raises(TypeError, match="could not hook 3") as info:
        with flow:
            pass
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not flow.attached and _no_hooks(model)


def test_passes_without_hooks_are_not_reported_as_zeros():
    """A torch.compile-d model that has already run skips hooks registered later (checked by hand: torch 2.13
    compiles for ~100 s on this machine, too long for the suite); calling ``forward`` directly skips them too."""
    model = nn.Linear(4, 3)
    with GradientFlow(model) as flow:
        model.forward(torch.randn(5, 4)).sum().backward()
        with pytest.raises(ValueError, match="saw no forward pass"):
            flow.backprop_norms()
        with pytest.raises(ValueError, match="saw no forward pass"):
            flow.activation_stats()
        with pytest.warns(RuntimeWarning, match="no forward pass"):
            assert flow.grad_norms()[""] > 0  # read from .grad: right
    compiled = type("OptimizedModule", (nn.Module,), {})()
    compiled._orig_mod = model
    with pytest.raises(TypeError, match="torch.compile"):
        GradientFlow(compiled)


def test_functional_call_is_refused_not_zero():
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    params = {k: v.detach().clone().requires_grad_() for k, v in model.named_parameters()}
    with GradientFlow(model) as flow:
        torch.func.functional_call(model, params, (torch.randn(5, 4),)).sum().backward()
    with pytest.raises(ValueError, match="functional_call"):
        flow.grad_norms()
    assert flow.backprop_norms()["0"] > 0  # the layer outputs were still seen


# -- diagnose: verdicts ---------------------------------------------------------------------------------------------
def _aux_loss(out, y):
    logits, aux1, aux2 = out
    return F.cross_entropy(logits, y) + 0.3 * (F.cross_entropy(aux1, y) + F.cross_entropy(aux2, y))


HEALTHY = {
    **{name: (build, batch, F.cross_entropy) for name, (build, batch) in BUILDERS.items()},
    "efficientnet, 1000-class head": (lambda: A.efficientnet(1000), lambda: A.images(4, 32, 1000), F.cross_entropy),
    "inception, aux heads in the loss": (A.Inception, lambda: A.images(4, 32), _aux_loss),
    "inception, aux heads unused": (A.Inception, lambda: A.images(4, 32), lambda o, y: F.cross_entropy(o[0], y)),
    "transformer, frozen embedding": (lambda: A.TextClassifier(freeze_embedding=True), lambda: A.token_batch(4),
                                      F.cross_entropy),
}


@pytest.mark.parametrize("name", list(HEALTHY))
def test_default_initialised_architectures_are_healthy(name):
    torch.manual_seed(0)
    build, batch, loss = HEALTHY[name]
    x, y = batch()
    report = diagnose(build(), x, y, loss)
    assert report.verdict == "healthy", str(report)
    assert report.triggered == []


def test_layers_without_gradient_by_design_are_reported_not_judged():
    torch.manual_seed(0)
    x, y = A.images(4, 32)
    report = diagnose(A.Inception(), x, y, lambda o, t: F.cross_entropy(o[0], t))
    assert report.layer("aux1.fc2").status == "unused" and math.isnan(report.layer("aux1.fc2").backprop_ratio)
    assert "(unused)" in str(report) and any("unused" in n for n in report.notes)
    tokens, labels = A.token_batch(4)
    report = diagnose(A.TextClassifier(freeze_embedding=True), tokens, labels, F.cross_entropy)
    assert report.layer("embed").status == "frozen" and report.layer("embed").grad_norm == 0.0
    report = diagnose(A.mobilenet_v3(), x, y, F.cross_entropy)
    assert report.layer("3.block.3.fc1").status == "side branch"


BROKEN = {
    "sigmoid CNN, no normalization": (lambda: A.plain_cnn(10, nn.Sigmoid), "vanishing"),
    "tanh CNN, sigma_w = 3, 30 layers": (lambda: A.plain_cnn(30, nn.Tanh, 3.0), "exploding"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_variants_are_caught(name):
    torch.manual_seed(0)
    build, expected = BROKEN[name]
    x, y = A.images(4, 16)
    report = diagnose(build(), x, y, F.cross_entropy)
    assert report.verdict == expected, str(report)


def test_tanh_mlp_sigma_w_3_explodes():
    torch.manual_seed(0)
    layers = []
    for _ in range(20):
        lin = nn.Linear(64, 64)
        nn.init.normal_(lin.weight, 0.0, 3.0 / 8.0)
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Tanh()]
    model = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), *layers, nn.Linear(64, 10))
    x, y = torch.randn(64, 32), torch.randint(0, 10, (64,))
    assert diagnose(model, x, y, F.cross_entropy).verdict == "exploding"


# -- diagnose: errors -----------------------------------------------------------------------------------------------
def test_errors_name_the_problem():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
    with torch.no_grad(), pytest.raises(ValueError, match="no_grad"):
        diagnose(model, x, y, F.cross_entropy)
    scripted = nn.Sequential(nn.Linear(4, 8), torch.jit.script(nn.Linear(8, 3)))
    with pytest.raises(TypeError, match="script"):
        diagnose(scripted, x, y, F.cross_entropy)
    assert _no_hooks(scripted)


def test_time_major_ctc_output_is_accepted():
    torch.manual_seed(0)

    class CTCNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.out = nn.GRU(5, 16), nn.Linear(16, 6)  # time-major: (T, B, features)

        def forward(self, x):
            return self.out(self.rnn(x)[0]).log_softmax(-1)

    x, targets = torch.randn(12, 3, 5), torch.randint(1, 6, (3, 4))

    def ctc(out, t):
        return F.ctc_loss(out, t, torch.full((3,), 12), torch.full((3,), 4))

    report = diagnose(CTCNet(), x, targets, ctc)
    assert report.verdict in ("healthy", "vanishing", "exploding") and report.layer("out").backprop_norm > 0


def test_reentrant_checkpointing_works():
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
            self.head = nn.Linear(16, 3)

        def forward(self, x):
            return self.head(checkpoint(self.body, x, use_reentrant=True))

    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    report = diagnose(Net(), x, y, F.cross_entropy)
    assert report.verdict == "healthy" and report.layer("body.0").backprop_norm > 0
