"""Recurrent sequence models and gradient-through-time measurements (the RNN chapter).

A recurrent network applies the same transition at every step,

    h_t = φ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh),

so backpropagation through time multiplies one Jacobian per step,
∂h_t/∂h_0 = Π_{k=t}^{1} diag(φ'(s_k)) W_hh (Pascanu, Mikolov & Bengio 2013, eqs. 3–5). This module builds
the models (:func:`rnn_model`, on ``torch.nn.RNN``/``torch.nn.LSTM``/``torch.nn.GRU``) and measures that product:

- :func:`hidden_state_jacobians` / :func:`hidden_state_jacobian_norms`: ∂h_t/∂h_0 for t = 1 … T, and its
  spectral norm, for one input sequence — the quantity bounded by (γ σ_max(W_hh))^t
  (:func:`gvcourse.theory.rnn_grad_bound`);
- :func:`hidden_state_grad_norms`: ‖∂L/∂h_t‖ for t = 0 … T, the gradient of a loss at the last step that
  reaches each hidden state — the "temporal gradient" whose decay makes long-range dependencies unlearnable
  (Bengio, Simard & Frasconi 1994); with ``truncate=k`` the same under truncated backpropagation through time
  (Williams & Peng 1990), which is exactly zero more than k steps back.

Measurements run on a float64 copy of the model, step by step, with ``torch.autograd``.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from ._checks import one_of, positive_int, real
from .activations import refuse_removed_keywords

__all__ = ["RNN_KINDS", "RNN_ACTIVATIONS", "RECURRENT_INITS", "ElmanRNN", "SequenceRegressor", "rnn_model",
           "recurrent_matrix", "hidden_state_jacobians", "hidden_state_jacobian_norms", "hidden_state_grad_norms"]

RNN_KINDS = ("rnn", "lstm", "gru")
#: ``tanh`` and ``relu`` run on ``torch.nn.RNN``; ``sigmoid`` and ``linear`` on :class:`ElmanRNN`.
RNN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
RECURRENT_INITS = ("default", "orthogonal", "normal", "identity")

_PHI = {"sigmoid": torch.sigmoid, "linear": lambda s: s}


class ElmanRNN(nn.Module):
    """A one-layer Elman RNN, h_t = φ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), for φ = ``sigmoid`` or ``linear``.

    ``torch.nn.RNN`` offers only tanh and ReLU; this module has the same parameter names (``weight_ih_l0``,
    ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``), the same initialization (U[−1/√H, 1/√H]) and the same call
    signature with ``batch_first=True``: ``forward(x, h0=None)`` returns ``(output, h_n)`` with output (B, T, H)
    and h_n (1, B, H). It runs a Python loop over time, so it is slower than ``nn.RNN``.
    """

    def __init__(self, input_size: int, hidden_size: int, activation: str = "sigmoid", **removed):
        refuse_removed_keywords("ElmanRNN", removed)  # not nonlinearity= (torch.nn.RNN's name): activation=
        super().__init__()
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.activation = one_of("activation", activation, tuple(_PHI))
        self.num_layers = 1
        self.batch_first = True
        h = self.hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(h, self.input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(h, h))
        self.bias_ih_l0 = nn.Parameter(torch.empty(h))
        self.bias_hh_l0 = nn.Parameter(torch.empty(h))
        bound = 1.0 / math.sqrt(h)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"ElmanRNN expects input of shape (batch, T, {self.input_size}), got {tuple(x.shape)}")
        phi = _PHI[self.activation]
        h = x.new_zeros(x.shape[0], self.hidden_size) if h0 is None else h0.reshape(x.shape[0], self.hidden_size)
        drive = x @ self.weight_ih_l0.T + self.bias_ih_l0 + self.bias_hh_l0
        outputs = []
        for t in range(x.shape[1]):
            h = phi(drive[:, t] + h @ self.weight_hh_l0.T)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h.unsqueeze(0)


class SequenceRegressor(nn.Module):
    """A recurrent layer ``rnn`` (batch-first) and a linear ``head`` reading the last hidden state.

    ``forward(x)`` maps inputs (B, T, input_size) to outputs (B, output_size): ``head(h_T)``.
    ``kind`` is ``"rnn"``, ``"lstm"`` or ``"gru"``; ``activation`` the vanilla RNN's φ (``None`` for the gated ones).
    """

    def __init__(self, rnn: nn.Module, head: nn.Linear, kind: str, activation: str | None):
        super().__init__()
        self.rnn = rnn
        self.head = head
        self.kind = kind
        self.activation = activation

    @property
    def hidden_size(self) -> int:
        return int(self.rnn.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_sequence(x, self.rnn.input_size)
        output, _ = self.rnn(x)
        return self.head(output[:, -1])

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, activation={self.activation!r}"


def _check_sequence(x: object, input_size: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (batch, T, {input_size}), got {type(x).__name__}")
    if x.dim() != 3 or x.shape[-1] != input_size or x.shape[1] == 0:
        raise ValueError(f"x must have shape (batch, T, {input_size}) with T >= 1, got {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    return x


def recurrent_matrix(model: nn.Module) -> torch.Tensor:
    """The recurrent weight matrix W_hh of a :class:`SequenceRegressor` (LSTM: the four gates stacked, 4H × H;
    GRU: the three, 3H × H)."""
    rnn = _rnn_of(model)
    return rnn.weight_hh_l0


def rnn_model(kind: str = "rnn", hidden: int = 32, input_size: int = 2, output_size: int = 1,
              activation: str = "tanh", recurrent_init: str = "default", spectral_radius: float | None = None,
              forget_bias: float | None = None, seed: int | None = 0, update_bias: float | None = None,
              **removed) -> SequenceRegressor:
    """A one-layer recurrent network with a linear read-out of the last hidden state (many-to-one regression).

    - ``kind="rnn"``: a vanilla (Elman) RNN, h_t = φ(W_ih x_t + W_hh h_{t−1} + b), with ``activation`` φ in
      ``tanh`` (default)/``relu`` (``torch.nn.RNN``) or ``sigmoid``/``linear`` (:class:`ElmanRNN`); the gated
      kinds ignore it. ``torch.nn.RNN`` calls it ``nonlinearity``; here, as everywhere in gvcourse, it is
      ``activation`` (``nonlinearity=`` raises a TypeError that says so);
    - ``kind="lstm"``: ``torch.nn.LSTM`` (Hochreiter & Schmidhuber 1997, with the forget gate of Gers, Schmidhuber
      & Cummins 2000); ``forget_bias`` (optional) sets the forget gate's bias b_if + b_hf, e.g. 1.0
      (Jozefowicz, Zaremba & Sutskever 2015);
    - ``kind="gru"``: ``torch.nn.GRU``, the gated recurrent unit of Cho et al. (2014, eqs. 5–8): update gate z_t,
      reset gate r_t, h_t = z_t ⊙ h_{t−1} + (1 − z_t) ⊙ h̃_t (PyTorch applies r_t after W_hn h_{t−1});
      ``update_bias`` (optional) sets the update gate's bias b_iz + b_hz, e.g. 1.0: z_t ≈ σ(1) keeps the state,
      the GRU's counterpart of the LSTM's forget bias.

    Initialization is PyTorch's, U[−1/√H, 1/√H] for every parameter, unless ``recurrent_init`` re-draws W_hh of a
    vanilla RNN: ``"orthogonal"`` (a random orthogonal matrix, all singular values 1; Saxe, McClelland & Ganguli
    2014, Henaff, Szlam & LeCun 2016), ``"identity"`` (W_hh = I; with ``activation="relu"`` and zero biases this
    is the IRNN of Le, Jaitly & Hinton 2015 — the biases are left as PyTorch draws them) or ``"normal"``
    (W_ij ~ N(0, 1/H), spectral radius ≈ 1 for large H). ``spectral_radius`` then rescales W_hh so that its
    largest |eigenvalue| is exactly that value. ``seed`` makes the weights reproducible.
    """
    refuse_removed_keywords("rnn_model", removed)
    one_of("kind", kind, RNN_KINDS)
    hidden = positive_int("hidden", hidden)
    input_size = positive_int("input_size", input_size)
    output_size = positive_int("output_size", output_size)
    one_of("recurrent_init", recurrent_init, RECURRENT_INITS)
    if kind == "rnn":
        one_of("activation", activation, RNN_ACTIVATIONS)
        if forget_bias is not None:
            raise ValueError("forget_bias applies only to kind='lstm' (a vanilla RNN has no forget gate)")
    else:
        if recurrent_init != "default" or spectral_radius is not None:
            raise ValueError(f"recurrent_init and spectral_radius apply only to kind='rnn', not to kind={kind!r}")
        if kind == "gru" and forget_bias is not None:
            raise ValueError("forget_bias applies only to kind='lstm' (a GRU has an update gate: use update_bias)")
        if forget_bias is not None:
            forget_bias = real("forget_bias", forget_bias)
    if update_bias is not None:
        if kind != "gru":
            raise ValueError(f"update_bias applies only to kind='gru' (the GRU's update gate), not to kind={kind!r}")
        update_bias = real("update_bias", update_bias)
    if spectral_radius is not None:
        spectral_radius = real("spectral_radius", spectral_radius, positive=True)
    if seed is not None:
        seed = positive_int("seed", seed, minimum=0)

    devices = []  # fork the global RNG so building a model does not disturb the notebook's random stream
    with torch.random.fork_rng(devices=devices, enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        if kind == "lstm":
            rnn: nn.Module = nn.LSTM(input_size, hidden, batch_first=True)
            if forget_bias is not None:
                with torch.no_grad():
                    rnn.bias_ih_l0[hidden:2 * hidden] = forget_bias / 2
                    rnn.bias_hh_l0[hidden:2 * hidden] = forget_bias / 2
        elif kind == "gru":
            rnn = nn.GRU(input_size, hidden, batch_first=True)
            if update_bias is not None:  # PyTorch's gate order is r, z, n
                with torch.no_grad():
                    rnn.bias_ih_l0[hidden:2 * hidden] = update_bias / 2
                    rnn.bias_hh_l0[hidden:2 * hidden] = update_bias / 2
        elif activation in ("tanh", "relu"):
            rnn = nn.RNN(input_size, hidden, nonlinearity=activation, batch_first=True)  # torch's keyword
        else:
            rnn = ElmanRNN(input_size, hidden, activation)
        head = nn.Linear(hidden, output_size)
        with torch.no_grad():
            w = rnn.weight_hh_l0
            if recurrent_init == "orthogonal":
                q, r = torch.linalg.qr(torch.randn(hidden, hidden, dtype=torch.float64))
                w.copy_(q * torch.sign(torch.diagonal(r)))
            elif recurrent_init == "identity":
                w.copy_(torch.eye(hidden, dtype=torch.float64))
            elif recurrent_init == "normal":
                w.copy_(torch.randn(hidden, hidden, dtype=torch.float64) / math.sqrt(hidden))
            if spectral_radius is not None:
                rho = float(torch.linalg.eigvals(w.double()).abs().max())
                if rho == 0:
                    raise ValueError("W_hh has spectral radius 0 and cannot be rescaled")
                w.mul_(spectral_radius / rho)
    return SequenceRegressor(rnn, head, kind, activation if kind == "rnn" else None)


# --- Measurements through time ----------------------------------------------------------------------------------

def _rnn_of(model: nn.Module) -> nn.Module:
    if isinstance(model, SequenceRegressor):
        return model.rnn
    if isinstance(model, (nn.RNN, nn.LSTM, nn.GRU, ElmanRNN)):
        return model
    raise TypeError("expected a gvcourse SequenceRegressor (from rnn_model), torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU "
                    f"or ElmanRNN, got {type(model).__name__}")


def _one_layer(rnn: nn.Module) -> None:
    if getattr(rnn, "num_layers", 1) != 1 or getattr(rnn, "bidirectional", False) or not rnn.batch_first:
        raise ValueError("the measurements need a one-layer, one-directional recurrent layer with batch_first=True")


def _step(rnn: nn.Module, x_t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """One transition of the recurrent layer on the flat state (h for an RNN; (h, c) concatenated for an LSTM)."""
    h = rnn.hidden_size
    if isinstance(rnn, nn.LSTM):
        hs, cs = state[:, :h].unsqueeze(0).contiguous(), state[:, h:].unsqueeze(0).contiguous()
        _, (hn, cn) = rnn(x_t.unsqueeze(1), (hs, cs))
        return torch.cat([hn[0], cn[0]], dim=1)
    _, hn = rnn(x_t.unsqueeze(1), state.unsqueeze(0).contiguous())
    return hn[0]


def _prepare(model: nn.Module, x: object) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    rnn = _rnn_of(model)
    _one_layer(rnn)
    x = _check_sequence(x if not (isinstance(x, torch.Tensor) and x.dim() == 2) else x.unsqueeze(0), rnn.input_size)
    model64 = copy.deepcopy(model).double().eval()
    return model64, _rnn_of(model64), x.detach().double()


def hidden_state_jacobians(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """∂h_t/∂h_0 for t = 1 … T at one input sequence, as a float64 tensor of shape (T, S, S), h_0 = 0.

    Backpropagation through time multiplies one Jacobian per step: ∂h_t/∂h_0 = D_t D_{t−1} ⋯ D_1 with
    D_k = ∂h_k/∂h_{k−1} = diag(φ'(s_k)) W_hh for a vanilla RNN (Pascanu, Mikolov & Bengio 2013, eq. 5). Each
    D_k is measured with ``torch.autograd`` (one backward pass per step, on S copies of the state) and the
    product accumulated step by step, in float64. For an LSTM the state is (h, c), S = 2H; for an RNN S = H.

    ``model`` is a :class:`SequenceRegressor` or its recurrent layer; ``x`` one sequence, shape (T, in) or (1, T, in).
    """
    _, rnn, x = _prepare(model, x)
    if x.shape[0] != 1:
        raise ValueError(f"hidden_state_jacobians takes one sequence, (T, in) or (1, T, in); got batch {x.shape[0]}")
    size = rnn.hidden_size * (2 if isinstance(rnn, nn.LSTM) else 1)
    eye = torch.eye(size, dtype=torch.float64)
    state = torch.zeros(1, size, dtype=torch.float64)
    product = eye
    jacobians = []
    for t in range(x.shape[1]):
        copies = state.detach().expand(size, size).clone().requires_grad_(True)
        new = _step(rnn, x[:, t].expand(size, -1), copies)
        # row i of D_t = ∂new_i/∂state: copy i of the batch carries output unit i
        (rows,) = torch.autograd.grad((new * eye).sum(), copies)
        product = rows @ product
        jacobians.append(product)
        state = new[:1].detach()
    return torch.stack(jacobians)


def hidden_state_jacobian_norms(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """‖∂h_t/∂h_0‖₂ (largest singular value) for t = 1 … T at one input sequence: a float64 NumPy array of length T.

    The measured counterpart of :func:`gvcourse.theory.rnn_grad_bound`, which bounds it by (γ σ_max(W_hh))^t
    (Pascanu, Mikolov & Bengio 2013, eq. 7). See :func:`hidden_state_jacobians`.
    """
    return torch.linalg.matrix_norm(hidden_state_jacobians(model, x), ord=2).numpy()


def hidden_state_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None,
                            truncate: int | None = None) -> np.ndarray:
    """‖∂L/∂h_t‖ for t = 0 … T: how much of a loss at the last step reaches each hidden state.

    L is the mean squared error of ``model(x)`` against ``y`` (or, with ``y=None``, the sum of the model's
    outputs), computed on a float64 copy of ``model`` run step by step from h_0 = 0 so that every h_t is a node of
    the graph; ∂L/∂h_t is the total derivative, through all later steps — the quantity that vanishes or explodes
    with T − t (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013, eq. 3). For an LSTM h_t is the
    state (h_t, c_t). Norms are L2 over the whole batch. Returns a float64 NumPy array of length T + 1.

    ``truncate=k`` (a positive int) measures truncated backpropagation through time, BPTT(k) (Williams & Peng
    1990): the forward pass is unchanged, but the state is detached k steps before the end, so the backward pass
    crosses only the last k transitions and ∂L/∂h_t is exactly 0 for t < T − k. ``None`` (the default) or k ≥ T is
    full backpropagation through time.
    """
    model64, rnn, x = _prepare(model, x)
    if not isinstance(model64, SequenceRegressor):
        raise TypeError("hidden_state_grad_norms needs the whole model (a SequenceRegressor from rnn_model)")
    if truncate is not None:
        truncate = positive_int("truncate", truncate)
    size = rnn.hidden_size * (2 if isinstance(rnn, nn.LSTM) else 1)
    steps = x.shape[1]
    cut = 0 if truncate is None else max(steps - truncate, 0)  # gradients stop at h_cut
    states = [torch.zeros(x.shape[0], size, dtype=torch.float64, requires_grad=True)]
    for t in range(steps):
        states.append(_step(rnn, x[:, t], states[-1] if t >= cut else states[-1].detach()))
    out = model64.head(states[-1][:, :rnn.hidden_size])
    if y is None:
        loss = out.sum()
    else:
        if not isinstance(y, torch.Tensor) or y.shape != out.shape:
            raise ValueError(f"y must be a tensor of shape {tuple(out.shape)} (the model's output), got "
                             f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
        loss = nn.functional.mse_loss(out, y.detach().double())
    grads = torch.autograd.grad(loss, states, allow_unused=True)  # states before the cut are not in the graph
    return np.array([0.0 if g is None else float(g.norm()) for g in grads])


def _second_gate(rnn: nn.LSTM | nn.GRU, x: torch.Tensor) -> torch.Tensor:
    """σ of the second gate block of a one-layer LSTM (f) or GRU (z), recomputed from the run's hidden states."""
    _one_layer(rnn)
    x = _check_sequence(x, rnn.input_size)
    h = rnn.hidden_size
    with torch.no_grad():
        output, _ = rnn(x)
        h_prev = torch.cat([output.new_zeros(output.shape[0], 1, h), output[:, :-1]], dim=1)
        pre = (x @ rnn.weight_ih_l0[h:2 * h].T + rnn.bias_ih_l0[h:2 * h]
               + h_prev @ rnn.weight_hh_l0[h:2 * h].T + rnn.bias_hh_l0[h:2 * h])
        return torch.sigmoid(pre)


def lstm_forget_gates(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The forget-gate activations f_t = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf) of an LSTM, shape (B, T, H).

    Along the cell state c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t the Jacobian ∂c_t/∂c_{t−1} has the direct term diag(f_t):
    error flows back unchanged where f_t ≈ 1 — Hochreiter & Schmidhuber (1997)'s constant error carousel, which
    the forget gate of Gers, Schmidhuber & Cummins (2000) lets the network open and close. Computed without
    gradients from ``model``'s own weights (PyTorch's gate order i, f, g, o).
    """
    rnn = _rnn_of(model)
    if not isinstance(rnn, nn.LSTM):
        raise TypeError(f"lstm_forget_gates needs an LSTM (rnn_model(kind='lstm')), got {type(rnn).__name__}")
    return _second_gate(rnn, x)


def gru_update_gates(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The update-gate activations z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz) of a GRU, shape (B, T, H).

    In h_t = z_t ⊙ h_{t−1} + (1 − z_t) ⊙ h̃_t (Cho et al. 2014, eq. 7) the Jacobian ∂h_t/∂h_{t−1} has the direct
    term diag(z_t): along that path the gradient through T steps is multiplied by Π_t z_t, as the LSTM's cell state
    multiplies it by Π_t f_t. Computed without gradients from ``model``'s own weights (PyTorch's gate order r, z, n).
    """
    rnn = _rnn_of(model)
    if not isinstance(rnn, nn.GRU):
        raise TypeError(f"gru_update_gates needs a GRU (rnn_model(kind='gru')), got {type(rnn).__name__}")
    return _second_gate(rnn, x)


__all__ += ["lstm_forget_gates", "gru_update_gates"]
