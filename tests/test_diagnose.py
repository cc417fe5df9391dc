"""gvcourse.diagnose on models of known health, all built with plain torch.nn (never with gvcourse).

The verdicts asserted here are the ones theory predicts: a deep sigmoid net multiplies the back-propagated
gradient by at most 1/4 per layer (vanishing); tanh and ReLU nets with weights N(0, σ_w²/n) multiply its squared
norm by χ₁ = σ_w² E[φ'(s)²] per layer (Poole et al. 2016; Schoenholz et al. 2017): χ₁ < 1 vanishes, χ₁ > 1
explodes, He initialization (σ_w² = 2 for ReLU) keeps it at 1; a vanilla RNN's gradient through time shrinks
like the recurrent Jacobian's norm to the power T (Bengio et al. 1994; Pascanu et al. 2013).
Each case is checked on three random seeds.
"""

import math

import matplotlib
import pytest
import torch
from torch import nn

from gvcourse.diagnosis import CHAPTERS, EXPLODING_RATIO, VANISHING_RATIO, DiagnosisReport, diagnose
from gvcourse.plots import get_alt_text

F = nn.functional
SEEDS = (0, 1, 2)


# -- models built with torch.nn only ----------------------------------------------------------------------------
def mlp(depth, act, sigma_w=None, width=64, d_in=32, d_out=10, norm=None, seed=0):
    """depth hidden layers Linear → [norm] → act, then a linear output layer.

    sigma_w=None keeps PyTorch's default init; otherwise W ~ N(0, σ_w²/fan_in), b = 0 (mean-field init).
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    layers, fan_in = [], d_in
    for _ in range(depth):
        lin = nn.Linear(fan_in, width)
        if sigma_w is not None:
            with torch.no_grad():
                lin.weight.normal_(0.0, sigma_w / math.sqrt(fan_in), generator=gen)
                lin.bias.zero_()
        layers += [lin] + ([norm(width)] if norm else []) + [act()]
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(width, d_out))


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.a, self.b, self.act = nn.Linear(width, width), nn.Linear(width, width), nn.ReLU()

    def forward(self, x):
        return x + self.b(self.act(self.a(x)))


class ResMLP(nn.Module):
    """Nested residual blocks x + F(x) (He et al. 2016), PyTorch's default init, functional ReLU in the stem."""

    def __init__(self, blocks=16, width=64, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.stem = nn.Linear(32, width)
        self.body = nn.Sequential(*[Block(width) for _ in range(blocks)])
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        return self.head(self.body(F.relu(self.stem(x))))


class ConvBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.n1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.n2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.n2(self.c2(F.relu(self.n1(self.c1(x))))))


class ResCNN(nn.Module):
    def __init__(self, blocks=6, c=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.stem = nn.Conv2d(1, c, 3, padding=1)
        self.blocks = nn.Sequential(*[ConvBlock(c) for _ in range(blocks)])
        self.fc = nn.Linear(c, 10)

    def forward(self, x):
        return self.fc(self.blocks(F.relu(self.stem(x))).mean(dim=(2, 3)))


def cnn(depth, act, he=False, c=8, seed=0):
    torch.manual_seed(seed)
    layers, c_in = [], 1
    for _ in range(depth):
        conv = nn.Conv2d(c_in, c, 3, padding=1)
        if he:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        layers += [conv, act()]
        c_in = c
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 64, 10))


class SeqModel(nn.Module):
    """A recurrent module reading (batch, T, 4) sequences and a linear read-out of the last step."""

    def __init__(self, kind, hidden=32, **kw):
        super().__init__()
        self.rnn = kind(4, hidden, batch_first=True, **kw)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def rnn(scale, nonlinearity="tanh", seed=0):
    """Vanilla RNN whose recurrent matrix is a random orthogonal matrix times ``scale``."""
    torch.manual_seed(seed)
    model = SeqModel(nn.RNN, nonlinearity=nonlinearity)
    with torch.no_grad():
        q, r = torch.linalg.qr(torch.randn(32, 32))
        model.rnn.weight_hh_l0.copy_(scale * q * torch.sign(torch.diagonal(r)))
    return model


def lstm(seed=0, forget_bias=None, chrono_T=None):
    """LSTM with PyTorch's init, or forget-gate bias set (Gers et al. 2000), or chrono init (Tallec & Ollivier 2018)."""
    torch.manual_seed(seed)
    model = SeqModel(nn.LSTM)
    h = 32
    with torch.no_grad():
        if forget_bias is not None:
            model.rnn.bias_ih_l0[h:2 * h].fill_(forget_bias)
            model.rnn.bias_hh_l0[h:2 * h].zero_()
        if chrono_T is not None:
            b = torch.log(torch.empty(h).uniform_(1, chrono_T - 1))
            model.rnn.bias_ih_l0.zero_()
            model.rnn.bias_hh_l0.zero_()
            model.rnn.bias_ih_l0[h:2 * h].copy_(b)  # forget gate
            model.rnn.bias_ih_l0[:h].copy_(-b)  # input gate
    return model


class CellLoop(nn.Module):
    """An RNNCell stepped by hand in forward(): the time profile comes from the cell's calls."""

    def __init__(self, scale, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.cell = nn.RNNCell(4, 32)
        self.head = nn.Linear(32, 1)
        with torch.no_grad():
            q, _ = torch.linalg.qr(torch.randn(32, 32))
            self.cell.weight_hh.copy_(scale * q)

    def forward(self, x):
        h = torch.zeros(x.shape[0], 32)
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
        return self.head(h)


def _classify(seed, n=256):
    g = torch.Generator().manual_seed(100 + seed)
    return torch.randn(n, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def _images(seed, n=64):
    g = torch.Generator().manual_seed(200 + seed)
    return torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def _sequences(seed, T, n=32):
    g = torch.Generator().manual_seed(300 + seed)
    return torch.randn(n, T, 4, generator=g), torch.randn(n, 1, generator=g)


# -- verdicts on models of known health -------------------------------------------------------------------------
MLP_CASES = {
    # vanishing: σ' ≤ 1/4 per layer; tanh with χ₁ = σ_w² = 0.25; PyTorch's default init U(±1/√n) for tanh
    # (σ_w² = 1/3: Glorot & Bengio 2010's "standard" init) — whose *weight* gradients look flat
    "sigmoid, 20 layers": (lambda s: mlp(20, nn.Sigmoid, seed=s), "vanishing"),
    "tanh, sigma_w = 0.5": (lambda s: mlp(20, nn.Tanh, 0.5, seed=s), "vanishing"),
    "tanh, PyTorch default init, 10 layers": (lambda s: mlp(10, nn.Tanh, seed=s), "vanishing"),
    "ReLU, PyTorch default init, 20 layers": (lambda s: mlp(20, nn.ReLU, seed=s), "vanishing"),
    # exploding: tanh in the chaotic phase (χ₁ ≈ 2 at σ_w = 4); ReLU at twice He's σ_w (χ₁ = 4)
    "tanh, sigma_w = 4 (chaotic)": (lambda s: mlp(20, nn.Tanh, 4.0, seed=s), "exploding"),
    "ReLU, sigma_w = 2 sqrt 2": (lambda s: mlp(20, nn.ReLU, 2 * math.sqrt(2), seed=s), "exploding"),
    # healthy: He init (χ₁ = 1), with and without normalization; tanh at the edge of chaos
    "ReLU, He init, 20 layers": (lambda s: mlp(20, nn.ReLU, math.sqrt(2), seed=s), "healthy"),
    "ReLU, He init + BatchNorm": (lambda s: mlp(20, nn.ReLU, math.sqrt(2), norm=nn.BatchNorm1d, seed=s), "healthy"),
    "ReLU, He init + LayerNorm": (lambda s: mlp(20, nn.ReLU, math.sqrt(2), norm=nn.LayerNorm, seed=s), "healthy"),
    "sigmoid + BatchNorm, 20 layers": (lambda s: mlp(20, nn.Sigmoid, norm=nn.BatchNorm1d, seed=s), "healthy"),
    "tanh, sigma_w = 1 (critical)": (lambda s: mlp(20, nn.Tanh, 1.0, seed=s), "healthy"),
    "residual MLP, 16 nested blocks": (lambda s: ResMLP(16, seed=s), "healthy"),
}


@pytest.mark.parametrize("case", list(MLP_CASES))
@pytest.mark.parametrize("seed", SEEDS)
def test_verdict_fully_connected(case, seed):
    build, expected = MLP_CASES[case]
    x, y = _classify(seed)
    report = diagnose(build(seed), x, y, F.cross_entropy)
    assert report.verdict == expected, str(report)
    if expected == "healthy":
        assert report.triggered == []
    else:
        assert report.triggered and report.suggestions


CNN_CASES = {
    "sigmoid CNN, 8 conv layers": (lambda s: cnn(8, nn.Sigmoid, seed=s), "vanishing"),
    "ReLU CNN, He init, 8 conv layers": (lambda s: cnn(8, nn.ReLU, he=True, seed=s), "healthy"),
    "residual CNN with BatchNorm, 6 blocks": (lambda s: ResCNN(6, seed=s), "healthy"),
}


@pytest.mark.parametrize("case", list(CNN_CASES))
@pytest.mark.parametrize("seed", SEEDS)
def test_verdict_convolutional(case, seed):
    build, expected = CNN_CASES[case]
    x, y = _images(seed)
    report = diagnose(build(seed), x, y, F.cross_entropy)
    assert report.verdict == expected, str(report)


RNN_CASES = {
    # vanishing through time: tanh RNN, recurrent weights 0.5 × orthogonal, 100 steps (≤ 0.5^99)
    "tanh RNN, small recurrent weights, T = 100": (lambda s: rnn(0.5, seed=s), 100, "vanishing"),
    # even an orthogonal (norm-1) recurrent matrix vanishes over 100 steps: tanh' < 1 off zero
    "tanh RNN, orthogonal recurrent weights, T = 100": (lambda s: rnn(1.0, seed=s), 100, "vanishing"),
    "tanh RNN, orthogonal recurrent weights, T = 10": (lambda s: rnn(1.0, seed=s), 10, "healthy"),
    # exploding through time: ReLU RNN with recurrent gain 2
    "ReLU RNN, recurrent weights 2 x orthogonal, T = 50": (lambda s: rnn(2.0, "relu", seed=s), 50, "exploding"),
    # the LSTM's cell state carries the gradient when the forget gate is open: chrono init (Tallec & Ollivier 2018)
    "LSTM, chrono init, T = 100": (lambda s: lstm(s, chrono_T=100), 100, "healthy"),
    "LSTM, forget-gate bias 1, T = 10": (lambda s: lstm(s, forget_bias=1.0), 10, "healthy"),
    # PyTorch's LSTM init puts the forget gate near σ(0) = 1/2: the cell gradient halves at every step
    "LSTM, PyTorch default init, T = 50": (lambda s: lstm(s), 50, "vanishing"),
    "RNNCell stepped by hand, small weights, T = 60": (lambda s: CellLoop(0.5, seed=s), 60, "vanishing"),
}


@pytest.mark.parametrize("case", list(RNN_CASES))
@pytest.mark.parametrize("seed", SEEDS)
def test_verdict_recurrent(case, seed):
    build, T, expected = RNN_CASES[case]
    x, y = _sequences(seed, T)
    report = diagnose(build(seed), x, y, F.mse_loss)
    assert report.verdict == expected, str(report)
    (profile,) = report.through_time
    assert len(profile.norms) == T
    if expected != "healthy":
        assert any("(through time)" in t for t in report.triggered)
        assert any(s.chapter == CHAPTERS["rnn"] for s in report.suggestions)


def test_vanishing_through_time_follows_the_recurrent_gain():
    """For a near-linear tanh RNN the per-step factor is ≈ the recurrent gain: ratio ≈ gain^(T−1) (within 10×)."""
    x, y = _sequences(0, 30)
    x = 0.01 * x  # keep the units in tanh's linear regime, where ∂h_t/∂h_{t−1} ≈ W_hh
    report = diagnose(rnn(0.7), x, y, F.mse_loss)
    ratio = report.through_time[0].ratio
    assert 0.1 < ratio / 0.7 ** 29 < 10


def test_weight_gradients_look_flat_while_backprop_vanishes():
    """Glorot & Bengio (2010): ∂L/∂W = (∂L/∂s) xᵀ can stay flat while ∂L/∂s collapses. diagnose reads ∂L/∂s."""
    x, y = _classify(0)
    report = diagnose(mlp(20, nn.Tanh, 0.5), x, y, F.cross_entropy)
    first, last = report.layers[0], report.layers[-1]
    assert 0.1 < first.grad_norm / last.grad_norm < 10  # weight gradients: flat
    assert first.backprop_ratio < 1e-4  # back-propagated gradient: collapsed
    assert report.verdict == "vanishing"


def test_sigmoid_ratio_respects_the_quarter_bound():
    """Each sigmoid layer multiplies the gradient by at most (1/4)·‖W‖₂; with PyTorch's init ‖W‖₂ < 2."""
    x, y = _classify(0)
    model = mlp(20, nn.Sigmoid)
    report = diagnose(model, x, y, F.cross_entropy)
    bound = 1.0
    for lin in [m for m in model if isinstance(m, nn.Linear)][1:]:
        bound *= 0.25 * float(torch.linalg.matrix_norm(lin.weight.detach(), ord=2))
    assert report.layers[0].backprop_ratio <= bound


def test_non_finite_loss_is_exploding():
    model = mlp(3, nn.ReLU, 1.0)
    with torch.no_grad():
        model[0].weight.fill_(1e20)
        model[2].weight.fill_(1e20)  # activations overflow to inf
    x, y = _classify(0)
    report = diagnose(model, x, y, F.cross_entropy)
    assert report.verdict == "exploding"
    assert "loss" in report.triggered or "gradients" in report.triggered


def test_dead_network_is_vanishing():
    model = mlp(4, nn.ReLU, math.sqrt(2))
    with torch.no_grad():
        model[2].bias.fill_(-100.0)  # every unit of the second layer is dead
    x, y = _classify(0)
    report = diagnose(model, x, y, F.cross_entropy)
    assert report.verdict == "vanishing"
    assert report.layer("0").backprop_norm == 0.0
    assert any("dead" in s.why or "dead" in s.fix for s in report.suggestions)


def test_custom_thresholds():
    x, y = _classify(0)
    model = mlp(20, nn.ReLU, math.sqrt(2))
    assert diagnose(model, x, y, F.cross_entropy).verdict == "healthy"
    assert diagnose(model, x, y, F.cross_entropy, vanishing_ratio=0.9).verdict == "vanishing"


def test_unrolled_rnn_gives_the_same_loss_and_gradients():
    model = lstm(0, forget_bias=1.0)
    x, y = _sequences(0, 12)
    loss = F.mse_loss(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    report = diagnose(model, x, y, F.mse_loss)
    assert report.loss == pytest.approx(float(loss.detach()), rel=1e-5)
    expected = math.sqrt(sum(float(g.pow(2).sum()) for g, (n, _) in zip(grads, model.named_parameters())
                             if n.startswith("rnn.weight")))
    assert report.layer("rnn").grad_norm == pytest.approx(expected, rel=1e-4)
    assert "forward" not in vars(model.rnn)  # the unrolled forward was removed


# -- the model is left as it was -------------------------------------------------------------------------------
class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.5),
                                 nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)


def test_weights_buffers_grads_modes_and_rng_are_unchanged():
    model = Noisy()
    x, y = _classify(0)
    F.cross_entropy(model(x), y).backward()  # pre-existing .grad fields
    model.net[4].bias.grad = None  # ... and one missing
    model.eval()
    model.net[3].train()  # a mix of modes
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}
    grad_ids = {n: id(p.grad) for n, p in model.named_parameters()}
    modes = {n: m.training for n, m in model.named_modules()}
    rng = torch.get_rng_state()
    report = diagnose(model, x, y, F.cross_entropy)
    assert isinstance(report, DiagnosisReport)
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k  # weights and BatchNorm running statistics
    for n, p in model.named_parameters():
        assert id(p.grad) == grad_ids[n]
        assert (p.grad is None) == (grads[n] is None)
        if p.grad is not None:
            assert torch.equal(p.grad, grads[n])
    assert {n: m.training for n, m in model.named_modules()} == modes
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks


def test_mode_eval_uses_running_statistics_and_is_restored():
    model = Noisy().train()
    x, y = _classify(0)
    a = diagnose(model, x, y, F.cross_entropy, mode="eval")
    b = diagnose(model, x, y, F.cross_entropy, mode="eval")
    assert a.loss == b.loss  # no dropout in eval mode
    assert model.training and a.mode == "eval"


def test_state_restored_when_the_loss_raises():
    model = Noisy()
    x, y = _classify(0)
    state = {k: v.clone() for k, v in model.state_dict().items()}

    def broken(out, target):
        raise RuntimeError("boom")

    with pytest.raises(ValueError, match="boom"):
        diagnose(model, x, y, broken)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])
    assert all(not m._forward_hooks for m in model.modules())


# -- bad input ----------------------------------------------------------------------------------------------
def test_bad_input():
    model = mlp(2, nn.ReLU)
    x, y = _classify(0)
    with pytest.raises(TypeError, match="nn.Module"):
        diagnose("net", x, y, F.cross_entropy)
    with pytest.raises(TypeError, match="inputs"):
        diagnose(model, [[1.0] * 32], y, F.cross_entropy)
    with pytest.raises(TypeError, match="targets"):
        diagnose(model, x, [0, 1], F.cross_entropy)
    with pytest.raises(TypeError, match="loss_fn"):
        diagnose(model, x, y, "cross_entropy")
    bad = x.clone()
    bad[3, 4] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        diagnose(model, bad, y, F.cross_entropy)
    with pytest.raises(ValueError, match="NaN"):
        diagnose(model, x, torch.full((256,), float("inf")), F.mse_loss)
    with pytest.raises(ValueError, match="empty"):
        diagnose(model, x[:0], y[:0], F.cross_entropy)
    with pytest.raises(ValueError, match="shape"):
        diagnose(model, torch.randn(256, 7), y, F.cross_entropy)  # the model wants 32 features
    with pytest.raises(ValueError, match="rows"):
        diagnose(model, x, y[:100], F.cross_entropy)
    with pytest.raises(ValueError, match="scalar"):
        diagnose(model, x, y, lambda out, t: F.cross_entropy(out, t, reduction="none"))
    with pytest.raises(TypeError, match="torch.Tensor"):
        diagnose(model, x, y, lambda out, t: 1.0)
    with pytest.raises(ValueError, match="does not depend"):
        diagnose(model, x, y, lambda out, t: torch.tensor(1.0))
    with pytest.raises(ValueError, match="broadcast"):
        diagnose(mlp(2, nn.ReLU, d_out=1), x, torch.randn(256), F.mse_loss)  # (256, 1) against (256,)
    with pytest.raises(ValueError, match="mode"):
        diagnose(model, x, y, F.cross_entropy, mode="training")
    with pytest.raises(ValueError, match="vanishing_ratio"):
        diagnose(model, x, y, F.cross_entropy, vanishing_ratio=2.0)
    with pytest.raises(ValueError, match="no parameter"):
        diagnose(nn.Sequential(nn.ReLU()), x, y, lambda o, t: o.sum())
    with pytest.raises(ValueError, match="no layer"):
        diagnose(nn.BatchNorm1d(32), x, y, lambda o, t: o.sum())


# -- the report --------------------------------------------------------------------------------------------
def test_report_text_html_and_plot():
    x, y = _classify(0)
    report = diagnose(mlp(12, nn.Sigmoid), x, y, F.cross_entropy)
    text = str(report)
    assert "VANISHING" in text and "saturation.ipynb" in text
    assert text.count("\n") > len(report.layers)
    assert repr(report) == text
    page = report._repr_html_()
    assert page == diagnose(mlp(12, nn.Sigmoid), x, y, F.cross_entropy)._repr_html_()  # deterministic
    assert "<table" in page and "id=" not in page and "<script" not in page
    assert [lay.name for lay in report.layers] == [str(i) for i in range(0, 25, 2)]  # forward order
    assert report.layers[0].activation == "1" and not math.isnan(report.layers[0].saturated)
    fig = report.plot()
    assert isinstance(fig, matplotlib.figure.Figure) and "vanishing" in get_alt_text(fig)
    matplotlib.pyplot.close(fig)
    seq, t = _sequences(0, 40)
    fig = diagnose(rnn(0.5), seq, t, F.mse_loss).plot()
    assert len(fig.axes) == 2 and "through time" in get_alt_text(fig)
    matplotlib.pyplot.close(fig)
    _, ax = matplotlib.pyplot.subplots()
    assert report.plot(ax=ax) is ax.figure
    matplotlib.pyplot.close(ax.figure)


def test_suggestions_name_existing_chapters():
    x, y = _classify(0)
    for build in (lambda: mlp(20, nn.Sigmoid), lambda: mlp(20, nn.ReLU, 2 * math.sqrt(2)),
                  lambda: mlp(20, nn.ReLU, math.sqrt(2))):
        report = diagnose(build(), x, y, F.cross_entropy)
        assert report.suggestions
        assert all(s.chapter in CHAPTERS.values() for s in report.suggestions)


def test_deep_plain_batchnorm_net_explodes_and_is_sent_to_residual_connections():
    # BatchNorm's own gradient growth, √(π/(π − 1)) ≈ 1.21 per ReLU layer (Yang et al. 2019): 1.21⁴⁰ ≈ 2 × 10³.
    # It does not depend on the weight scale, so "reduce the initial weight scale" would be wrong advice.
    for seed in SEEDS:
        x, y = _classify(seed)
        report = diagnose(mlp(40, nn.ReLU, math.sqrt(2), norm=nn.BatchNorm1d, seed=seed), x, y, F.cross_entropy)
        assert report.verdict == "exploding", str(report)
        assert any(s.chapter == CHAPTERS["residual"] for s in report.suggestions)
        assert not any("weight scale" in s.fix for s in report.suggestions)
    # without normalization the weight scale is the cause, and the advice says so
    x, y = _classify(0)
    report = diagnose(mlp(20, nn.ReLU, 2 * math.sqrt(2)), x, y, F.cross_entropy)
    assert any("weight scale" in s.fix for s in report.suggestions)


def test_healthy_deep_batchnorm_net_is_warned_about_degradation():
    x, y = _classify(0)
    report = diagnose(mlp(16, nn.ReLU, math.sqrt(2), norm=nn.BatchNorm1d), x, y, F.cross_entropy)
    assert report.verdict == "healthy"
    assert any(s.chapter == CHAPTERS["residual"] for s in report.suggestions)


def test_unscaled_inputs_are_noted_but_healthy():
    x, y = _classify(0)
    report = diagnose(mlp(10, nn.ReLU, math.sqrt(2)), 1000 * x, y, F.cross_entropy)
    assert report.verdict == "healthy"
    assert any("not standardized" in n for n in report.notes)


def test_thresholds_are_ordered():
    assert 0 < VANISHING_RATIO < 1 < EXPLODING_RATIO


def test_zero_initialized_branch_is_noted():
    """Fixup-style zero init (Zhang et al. 2019): inner layers get no gradient at step 0; the report says why."""
    model = ResMLP(4)
    with torch.no_grad():
        for block in model.body:
            block.b.weight.zero_()
    x, y = _classify(0)
    report = diagnose(model, x, y, F.cross_entropy)
    assert report.layer("body.0.a").backprop_norm == 0.0
    assert any("all zeros" in n for n in report.notes)
