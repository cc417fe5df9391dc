"""The RNN and GAN chapters' helpers: adding problem, 2-D mixtures, sequence models, BPTT measurements, GAN losses."""

import math

import numpy as np
import pytest
import torch

from gvcourse import data, gan, sequence, theory


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny recurrent and GAN models run faster on one thread (and a busy machine makes two threads much slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

# --- data -----------------------------------------------------------------------------------------------------------


def test_adding_problem_structure_and_target():
    x, y = data.adding_problem(500, 20, seed=3)
    assert x.shape == (500, 20, 2) and y.shape == (500, 1) and x.dtype == y.dtype == torch.float32
    markers = x[..., 1]
    assert torch.all(markers.sum(dim=1) == 2)
    assert torch.all(markers[:, :10].sum(dim=1) == 1) and torch.all(markers[:, 10:].sum(dim=1) == 1)
    assert torch.allclose(y[:, 0], (x[..., 0] * markers).sum(dim=1))
    assert float(x[..., 0].min()) >= 0 and float(x[..., 0].max()) < 1
    x2, y2 = data.adding_problem(500, 20, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_adding_problem_trivial_predictor_scores_one_sixth():
    _, y = data.adding_problem(40_000, 10, seed=0)
    assert abs(float(((y - 1) ** 2).mean()) - 1 / 6) < 0.005


@pytest.mark.parametrize("kwargs, err", [({"T": 1}, ValueError), ({"n": 0}, ValueError), ({"seed": -1}, ValueError),
                                         ({"T": 5.0}, TypeError), ({"n": "10"}, TypeError)])
def test_adding_problem_bad_input(kwargs, err):
    with pytest.raises(err, match=next(iter(kwargs))):
        data.adding_problem(**{"n": 10, "T": 10, **kwargs})


def test_gaussian_mixture_points_sit_on_the_ring():
    x = data.gaussian_mixture_2d(2000, modes=8, radius=2.0, std=0.02, seed=1)
    centres = data.mixture_centers(8, 2.0)
    assert x.shape == (2000, 2) and centres.shape == (8, 2)
    nearest = torch.cdist(x, centres).min(dim=1).values
    assert float(nearest.max()) < 0.02 * 6
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    assert gan.mode_coverage(x, centres, 0.02)[0] == 8


@pytest.mark.parametrize("kwargs, err", [({"modes": 0}, ValueError), ({"radius": -1.0}, ValueError),
                                         ({"std": 0.0}, ValueError), ({"std": "big"}, TypeError)])
def test_gaussian_mixture_bad_input(kwargs, err):
    with pytest.raises(err, match=next(iter(kwargs))):
        data.gaussian_mixture_2d(10, **kwargs)


# --- theory ---------------------------------------------------------------------------------------------------------


def test_rnn_grad_bound_values_and_errors():
    assert theory.rnn_grad_bound(1.0, 0.9, 10) == pytest.approx(0.9**10)
    assert theory.rnn_grad_bound(0.25, 4.0, 50) == pytest.approx(1.0)
    assert theory.rnn_grad_bound(0.25, 2.0, 0) == 1.0
    with pytest.raises(ValueError, match="sigma_max"):
        theory.rnn_grad_bound(1.0, -1.0, 3)
    with pytest.raises(ValueError, match="t must be"):
        theory.rnn_grad_bound(1.0, 1.0, -2)
    with pytest.raises(TypeError, match="gamma"):
        theory.rnn_grad_bound("tanh", 1.0, 2)


@pytest.mark.parametrize("loss", theory.GAN_LOSSES)
def test_generator_logit_grad_matches_autograd(loss):
    logits = torch.linspace(-30, 30, 121, dtype=torch.float64, requires_grad=True)
    logsig = torch.nn.functional.logsigmoid  # log σ(a), and log(1 − σ(a)) = log σ(−a); exact backward in torch
    values = logsig(-logits) if loss == "minimax" else -logsig(logits)
    (grad,) = torch.autograd.grad(values.sum(), logits)
    ours = theory.generator_logit_grad(logits.detach().numpy(), loss)
    assert np.allclose(ours, grad.numpy(), rtol=1e-12, atol=0)
    theirs = values.detach().numpy()
    assert np.allclose(theory.generator_loss_of_logit(logits.detach().numpy(), loss), theirs, rtol=1e-12)
    # the torch loss used in training agrees with the theory's value
    assert float(gan.generator_loss(logits.detach(), loss)) == pytest.approx(float(values.detach().mean()), rel=1e-12)


def test_generator_logit_grad_ratio_is_exp_of_logit():
    for a in (-20.0, -5.0, -1.0, 0.0, 2.0):
        mm, ns = theory.generator_logit_grad(a, "minimax"), theory.generator_logit_grad(a, "non_saturating")
        assert mm < 0 and ns < 0
        assert mm / ns == pytest.approx(math.exp(a), rel=1e-12)
    assert theory.generator_logit_grad(0.0, "minimax") == -0.5
    assert theory.generator_logit_grad(-40.0, "non_saturating") == pytest.approx(-1.0)


def test_generator_logit_grad_bad_input():
    with pytest.raises(ValueError, match="'wasserstein' is not one of: minimax, non_saturating"):
        theory.generator_logit_grad(0.0, "wasserstein")
    with pytest.raises(ValueError, match="finite"):
        theory.generator_logit_grad(float("nan"), "minimax")
    with pytest.raises(ValueError, match="finite"):
        theory.generator_logit_grad(np.array([0.0, np.inf]), "minimax")
    with pytest.raises(TypeError, match="logit"):
        theory.generator_logit_grad("big", "minimax")


# --- sequence models --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, nl", [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("rnn", "linear"),
                                      ("lstm", "tanh"), ("gru", "tanh")])
def test_rnn_model_shapes_and_seed(kind, nl):
    x = torch.rand(3, 7, 2)
    a, b = sequence.rnn_model(kind, 8, activation=nl, seed=4), sequence.rnn_model(kind, 8, activation=nl, seed=4)
    assert a(x).shape == (3, 1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.hidden_size == 8


def test_rnn_model_refuses_torchs_name_for_the_activation():
    """``nonlinearity`` is torch.nn.RNN's keyword; gvcourse says ``activation`` everywhere and says so."""
    with pytest.raises(TypeError, match=r"rnn_model\(\) has no keyword nonlinearity=.*activation='relu'"):
        sequence.rnn_model("rnn", 8, nonlinearity="relu")
    with pytest.raises(TypeError, match=r"ElmanRNN\(\) has no keyword nonlinearity=.*activation='linear'"):
        sequence.ElmanRNN(2, 8, nonlinearity="linear")
    with pytest.raises(TypeError, match="unexpected keyword argument 'hiden'"):
        sequence.rnn_model("rnn", hiden=8)
    m = sequence.rnn_model("rnn", 8, activation="sigmoid")
    assert m.activation == m.rnn.activation == "sigmoid" and "activation='sigmoid'" in repr(m)
    assert sequence.rnn_model("lstm", 8).activation is None
    with pytest.raises(ValueError, match="'softsign' is not one of"):
        sequence.rnn_model("rnn", 8, activation="softsign")


def test_gan_losses_have_one_home():
    assert gan.GAN_LOSSES is theory.GAN_LOSSES
    assert not hasattr(theory, "generator_loss")  # theory's is generator_loss_of_logit; gan's is the torch batch loss


def test_elman_rnn_matches_torch_rnn_for_the_same_weights():
    torch_rnn = sequence.rnn_model("rnn", 6, activation="tanh", seed=0)
    ours = sequence.ElmanRNN(2, 6, "linear")
    ours.load_state_dict(torch_rnn.rnn.state_dict())
    x = torch.rand(2, 5, 2) * 0.01  # tiny inputs, zero biases: tanh ≈ linear
    with torch.no_grad():
        for p in list(ours.parameters())[2:] + list(torch_rnn.rnn.parameters())[2:]:
            p.zero_()
        assert torch.allclose(ours(x)[0], torch_rnn.rnn(x)[0], atol=1e-5)


def test_spectral_radius_and_orthogonal_init():
    m = sequence.rnn_model("rnn", 16, recurrent_init="normal", spectral_radius=0.7, seed=2)
    w = sequence.recurrent_matrix(m).detach().double()
    assert float(torch.linalg.eigvals(w).abs().max()) == pytest.approx(0.7, rel=1e-5)
    q = sequence.recurrent_matrix(sequence.rnn_model("rnn", 16, recurrent_init="orthogonal", seed=2)).detach().double()
    assert torch.allclose(q @ q.T, torch.eye(16, dtype=torch.float64), atol=1e-5)


def test_identity_init_and_gru():
    m = sequence.rnn_model("rnn", 6, activation="relu", recurrent_init="identity", seed=0)
    assert torch.equal(sequence.recurrent_matrix(m), torch.eye(6))
    g = sequence.rnn_model("gru", 6, seed=0)
    assert isinstance(g.rnn, torch.nn.GRU) and sequence.recurrent_matrix(g).shape == (18, 6)
    x = torch.rand(3, 5, 2)
    with torch.no_grad():  # the GRU's update equation, Cho et al. 2014 (PyTorch's order r, z, n): h_1 from h_0 = 0
        gi = x[:, 0] @ g.rnn.weight_ih_l0.T + g.rnn.bias_ih_l0
        gh = g.rnn.bias_hh_l0.expand(3, -1)
        r, z = torch.sigmoid(gi[:, :6] + gh[:, :6]), torch.sigmoid(gi[:, 6:12] + gh[:, 6:12])
        n = torch.tanh(gi[:, 12:] + r * gh[:, 12:])
        assert torch.allclose(g.rnn(x)[0][:, 0], (1 - z) * n, atol=1e-6)


def test_update_bias_sets_the_gru_update_gate():
    m = sequence.rnn_model("gru", 5, update_bias=1.0, seed=0)
    assert torch.allclose(m.rnn.bias_ih_l0[5:10] + m.rnn.bias_hh_l0[5:10], torch.ones(5))
    x = torch.rand(2, 4, 2)
    z = sequence.gru_update_gates(m, x)
    with torch.no_grad():  # at t = 1 (h_0 = 0) the update gate is σ(W_iz x_1 + b_iz + b_hz)
        z1 = torch.sigmoid(x[:, 0] @ m.rnn.weight_ih_l0[5:10].T + m.rnn.bias_ih_l0[5:10] + m.rnn.bias_hh_l0[5:10])
    assert torch.allclose(z[:, 0], z1, atol=1e-6)
    with torch.no_grad():
        for name, p in m.rnn.named_parameters():
            if name.startswith("weight"):
                p.zero_()
    gates = sequence.gru_update_gates(m, x)
    assert z.shape == (2, 4, 5) and torch.allclose(gates, torch.full_like(gates, 1 / (1 + math.exp(-1))))
    with pytest.raises(TypeError, match="needs a GRU"):
        sequence.gru_update_gates(sequence.rnn_model("lstm", 5), x)
    with pytest.raises(ValueError, match="update_bias applies only to kind='gru'"):
        sequence.rnn_model("lstm", 5, update_bias=1.0)


def test_forget_bias_sets_the_forget_gate():
    m = sequence.rnn_model("lstm", 5, forget_bias=1.0, seed=0)
    assert torch.allclose(m.rnn.bias_ih_l0[5:10] + m.rnn.bias_hh_l0[5:10], torch.ones(5))
    with torch.no_grad():
        for name, p in m.rnn.named_parameters():
            if name.startswith("weight"):
                p.zero_()
    gates = sequence.lstm_forget_gates(m, torch.rand(2, 4, 2))
    assert gates.shape == (2, 4, 5) and torch.allclose(gates, torch.full_like(gates, 1 / (1 + math.exp(-1))))


@pytest.mark.parametrize("kwargs, err, words", [
    ({"kind": "transformer"}, ValueError, "'transformer' is not one of: rnn, lstm, gru"),
    ({"kind": "gru", "forget_bias": 1.0}, ValueError, "update gate"),
    ({"kind": "gru", "recurrent_init": "identity"}, ValueError, "kind='gru'"),
    ({"activation": "softmax"}, ValueError, "activation 'softmax'"),
    ({"forget_bias": 1.0}, ValueError, "forget_bias"),
    ({"kind": "lstm", "spectral_radius": 0.9}, ValueError, "spectral_radius"),
    ({"spectral_radius": -1.0}, ValueError, "spectral_radius"),
    ({"recurrent_init": "xavier"}, ValueError, "recurrent_init 'xavier'"),
    ({"hidden": 0}, ValueError, "hidden"),
])
def test_rnn_model_bad_input(kwargs, err, words):
    with pytest.raises(err, match=words):
        sequence.rnn_model(**kwargs)


def test_model_rejects_bad_sequences():
    m = sequence.rnn_model("rnn", 4)
    with pytest.raises(ValueError, match=r"\(batch, T, 2\)"):
        m(torch.rand(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        m(torch.ones(1, 3, 2, dtype=torch.int64))


# --- backpropagation through time -------------------------------------------------------------------------------------


def test_linear_rnn_jacobian_is_the_matrix_power():
    m = sequence.rnn_model("rnn", 10, activation="linear", recurrent_init="normal", spectral_radius=0.9, seed=1)
    x, _ = data.adding_problem(1, 12, seed=0)
    jac = sequence.hidden_state_jacobians(m, x[0])
    w = sequence.recurrent_matrix(m).detach().double()
    assert jac.shape == (12, 10, 10)
    for t in (1, 5, 12):
        assert torch.allclose(jac[t - 1], torch.linalg.matrix_power(w, t), atol=1e-12)


def test_tanh_jacobian_matches_full_autograd_jacobian():
    m = sequence.rnn_model("rnn", 6, activation="tanh", seed=3)
    x, _ = data.adding_problem(1, 8, seed=2)
    rnn64 = m.rnn.double()
    full = torch.autograd.functional.jacobian(
        lambda h0: rnn64(x.double(), h0.reshape(1, 1, 6))[0][0], torch.zeros(6, dtype=torch.float64))
    assert torch.allclose(sequence.hidden_state_jacobians(m, x), full, atol=1e-12)


@pytest.mark.parametrize("nl, rho", [("tanh", 0.8), ("tanh", 1.5), ("sigmoid", 3.0), ("relu", 1.2)])
def test_measured_jacobian_norm_never_exceeds_the_bound(nl, rho):
    m = sequence.rnn_model("rnn", 12, activation=nl, recurrent_init="normal", spectral_radius=rho, seed=0)
    x, _ = data.adding_problem(1, 30, seed=0)
    norms = sequence.hidden_state_jacobian_norms(m, x)
    sigma_max = float(torch.linalg.matrix_norm(sequence.recurrent_matrix(m).detach().double(), ord=2))
    gamma = theory.derivative_max(nl)
    bounds = np.array([theory.rnn_grad_bound(gamma, sigma_max, t) for t in range(1, 31)])
    assert norms.shape == (30,) and np.all(norms <= bounds * (1 + 1e-9))


def test_lstm_jacobian_covers_hidden_and_cell_state():
    m = sequence.rnn_model("lstm", 4, seed=0)
    x, _ = data.adding_problem(1, 6, seed=0)
    assert sequence.hidden_state_jacobians(m, x).shape == (6, 8, 8)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_hidden_state_grad_norms_end_with_the_last_state_gradient(kind):
    m = sequence.rnn_model(kind, 5, seed=0)
    x, y = data.adding_problem(4, 9, seed=0)
    norms = sequence.hidden_state_grad_norms(m, x, y)
    assert norms.shape == (10,)
    m64 = m.double()
    out, _ = m64.rnn(x.double())
    h_last = out[:, -1].detach().requires_grad_(True)
    loss = torch.nn.functional.mse_loss(m64.head(h_last), y.double())
    (g,) = torch.autograd.grad(loss, h_last)
    # for an LSTM the state is (h, c): the loss reads h only, so the c part of the last gradient is 0
    assert norms[-1] == pytest.approx(float(g.norm()), rel=1e-10)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_truncated_bptt_is_exactly_zero_beyond_k_steps_and_full_within(kind):
    m = sequence.rnn_model(kind, 5, seed=1)
    x, y = data.adding_problem(4, 12, seed=3)
    full = sequence.hidden_state_grad_norms(m, x, y)
    for k in (1, 4, 11):
        cut = sequence.hidden_state_grad_norms(m, x, y, truncate=k)
        assert np.all(cut[:12 - k] == 0.0) and np.all(cut[12 - k:] > 0)
        # within the window the gradient is the full one: the forward pass is unchanged
        assert np.allclose(cut[12 - k:], full[12 - k:], rtol=1e-12, atol=0)
    assert np.array_equal(sequence.hidden_state_grad_norms(m, x, y, truncate=12), full)
    assert np.array_equal(sequence.hidden_state_grad_norms(m, x, y, truncate=50), full)
    assert np.all(full > 0)
    with pytest.raises(ValueError, match="truncate"):
        sequence.hidden_state_grad_norms(m, x, y, truncate=0)


def test_measurements_reject_bad_input():
    m = sequence.rnn_model("rnn", 4)
    with pytest.raises(TypeError, match="SequenceRegressor"):
        sequence.hidden_state_jacobian_norms(torch.nn.Linear(2, 2), torch.rand(5, 2))
    with pytest.raises(ValueError, match="one sequence"):
        sequence.hidden_state_jacobians(m, torch.rand(2, 5, 2))
    with pytest.raises(ValueError, match="y must be a tensor of shape"):
        sequence.hidden_state_grad_norms(m, torch.rand(2, 5, 2), torch.rand(3, 1))
    with pytest.raises(TypeError, match="needs an LSTM"):
        sequence.lstm_forget_gates(m, torch.rand(2, 5, 2))


# --- GAN ------------------------------------------------------------------------------------------------------------


def test_gan_networks_and_losses():
    g, d = gan.generator(latent_dim=3, seed=0), gan.discriminator(seed=0)
    fake = gan.sample(g, 7, torch.Generator().manual_seed(0))
    assert fake.shape == (7, 2) and d(fake).shape == (7, 1)
    real_logits, fake_logits = torch.tensor([[40.0]]), torch.tensor([[-40.0]])
    assert float(gan.discriminator_loss(real_logits, fake_logits)) < 1e-12
    with pytest.raises(ValueError, match="'wgan' is not one of"):
        gan.generator_loss(fake_logits, "wgan")
    with pytest.raises(TypeError, match="latent_dim"):
        gan.sample(torch.nn.Linear(2, 2), 3)


def _gan_mlp_as_written_before(in_dim, hidden, depth, out_dim, seed):
    """gan's own MLP builder before it used nets.mlp_layers (commit b942663), kept here as the reference."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torch.nn.Sequential()
        width = in_dim
        for i in range(1, depth + 1):
            model.add_module(f"fc{i}", torch.nn.Linear(width, hidden))
            model.add_module(f"act{i}", torch.nn.ReLU())
            width = hidden
        model.add_module("out", torch.nn.Linear(width, out_dim))
    return model


@pytest.mark.parametrize("latent_dim, hidden, depth, seed", [(2, 64, 3, 0), (3, 16, 2, 1), (2, 8, 1, 7)])
def test_gan_networks_are_bit_identical_to_the_hand_written_mlp(latent_dim, hidden, depth, seed):
    """The GAN chapter's numbers rest on these exact weights: same layers, names, initialization and RNG draws,
    and the global generator untouched."""
    state = torch.random.get_rng_state()
    pairs = [(gan.generator(latent_dim, hidden, depth, seed=seed), _gan_mlp_as_written_before(
                 latent_dim, hidden, depth, 2, seed)),
             (gan.discriminator(2, hidden, depth, seed=seed), _gan_mlp_as_written_before(2, hidden, depth, 1, seed))]
    assert torch.equal(torch.random.get_rng_state(), state)
    for ours, reference in pairs:
        assert [(n, type(m)) for n, m in ours.named_children()] == [(n, type(m)) for n, m in reference.named_children()]
        a, b = ours.state_dict(), reference.state_dict()
        assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
        x = torch.randn(5, ours.fc1.in_features, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(ours(x), reference(x))


def test_frozen_generator_minimax_gradient_vanishes_and_non_saturating_does_not():
    real = data.gaussian_mixture_2d(1024, seed=0)
    g, d = gan.generator(hidden=16, depth=2, seed=0), gan.discriminator(hidden=16, depth=2, seed=0)
    before = [p.detach().clone() for p in g.parameters()]
    hist = gan.train_discriminator(d, g, real, 300, lr=5e-3, batch_size=128, record_every=100, eval_size=256)
    assert hist.steps == [0, 100, 200, 300] and hist.d_accuracy[-1] == 1.0
    mm, ns = hist.grad_norm["minimax"], hist.grad_norm["non_saturating"]
    assert mm[-1] < mm[0] / 10 and ns[-1] > ns[0] * 10 and mm[-1] < ns[-1] / 100
    assert all(torch.equal(a, b) for a, b in zip(before, g.parameters()))  # the generator stayed frozen
    assert all(p.grad is None for p in g.parameters())


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_train_gan_records_every_step(optimizer):
    real = data.gaussian_mixture_2d(512, seed=0)
    g, d = gan.generator(hidden=8, depth=1, seed=0), gan.discriminator(hidden=8, depth=1, seed=0)
    hist = gan.train_gan(g, d, real, 20, "minimax", batch_size=32, optimizer=optimizer, progress=False)
    assert len(hist.g_grad_norm) == len(hist.d_fake) == len(hist.d_loss) == 20
    assert all(0 <= v <= 1 for v in hist.d_fake + hist.d_real)


def test_gan_training_bad_input():
    real = data.gaussian_mixture_2d(64, seed=0)
    g, d = gan.generator(seed=0), gan.discriminator(seed=0)
    with pytest.raises(ValueError, match="loss 'minmax'"):
        gan.train_gan(g, d, real, 5, "minmax")
    with pytest.raises(ValueError, match="optimizer 'rmsprop'"):
        gan.train_gan(g, d, real, 5, optimizer="rmsprop")
    with pytest.raises(ValueError, match="real_data"):
        gan.train_discriminator(d, g, real[:, 0], 5)
    with pytest.raises(ValueError, match="steps"):
        gan.train_discriminator(d, g, real, 0)
    with pytest.raises(ValueError, match="share d"):
        gan.mode_coverage(real, torch.zeros(8, 3), 0.02)
