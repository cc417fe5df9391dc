"""Lab 3 — long-range and adversarial: the RNN bound and the generator's gradient under both GAN losses."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from .checking import Fail, as_vector, exercise, kind_of, variant

__all__ = ["LAB3_T", "LAB3_LOGITS", "lab3_rnn"]

#: Lab 3's horizon for the RNN bound, and the discriminator logits for the GAN exercise.
LAB3_T = 30
LAB3_LOGITS = (-8.0, -4.0, -1.0, 0.0, 2.0)
_GAN_RTOL = 5e-3


def lab3_rnn(seed: int | None = None) -> nn.RNN:
    """Lab 3's vanilla tanh RNN: ``torch.nn.RNN(2, 32)`` with PyTorch's init, W_hh then scaled by 0.7.

    ``seed=None`` uses the current variant's seed (:func:`~gvcourse.labs.use_variant`; 0 by default).

    Scaling puts the largest singular value of W_hh below 1, so the bound (γ σ_max)^t of Pascanu, Mikolov &
    Bengio (2013, eq. 7) predicts vanishing.
    """
    seed = variant() if seed is None else seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        rnn = nn.RNN(2, 32, nonlinearity="tanh", batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.7)
    return rnn


def _measured_norms() -> np.ndarray:
    """‖∂h_t/∂h_0‖ for t = 1 … LAB3_T on the lab's input (the values Lab 3 prints)."""
    from ..data import adding_problem
    from ..sequence import hidden_state_jacobian_norms

    x_one, _ = adding_problem(1, T=LAB3_T, seed=0)
    return np.asarray(hidden_state_jacobian_norms(lab3_rnn(), x_one), dtype=float)


@exercise("lab3-rnn-bound", "lab3_long_range",
           f"the upper bound (γ·σ_max)^t on ‖∂h_t/∂h_0‖ for lab3_rnn(), for t = 1, …, {LAB3_T}: a sequence of "
           f"{LAB3_T} numbers.",
           "γ = sup|tanh'| = 1 and σ_max is the largest singular value of rnn.weight_hh_l0 "
           "(torch.linalg.matrix_norm(W, ord=2)); the norm of a product is at most the product of the norms.")
def _check_lab3_bound(answer: object) -> str:
    values = as_vector(answer, LAB3_T, "The bound")
    w = lab3_rnn().weight_hh_l0.detach().double()
    sigma = float(torch.linalg.matrix_norm(w, ord=2))
    t = np.arange(1, LAB3_T + 1)
    exact = sigma ** t
    if np.allclose(values, exact, rtol=1e-3, atol=0):
        return (f"σ_max(W_hh) = {sigma:.4f} and γ = 1 for tanh, so the bound falls from {exact[0]:.3f} at t = 1 to "
                f"{exact[-1]:.2e} at t = {LAB3_T}.")
    if np.allclose(values, -exact, rtol=1e-3, atol=0):
        raise Fail("The magnitudes are right but the sign is flipped: a bound on a norm is positive.",
                    "σ_max ≥ 0 and γ = 1, so (γ·σ_max)^t is positive for every t.")
    if variant() != 0:
        public = float(torch.linalg.matrix_norm(lab3_rnn(seed=0).weight_hh_l0.detach().double(), ord=2)) ** t
        if np.allclose(values, public, rtol=1e-3, atol=0):
            raise Fail(f"This is the bound of the website's RNN (variant 0), not of yours (variant {variant()}): "
                        f"your σ_max(W_hh) is {sigma:.4f}.", "Compute σ_max from your own labs.lab3_rnn().")
    measured = _measured_norms()
    if np.allclose(values, measured, rtol=0.05, atol=0):
        raise Fail(f"These are the measured norms ‖∂h_t/∂h_0‖ (the lab prints some of them: {measured[-1]:.1e} at t = "
                    f"{LAB3_T}), not the bound. The bound is computed from W_hh alone, before any input is seen, "
                    f"and lies above the measurement: {exact[-1]:.1e} at t = {LAB3_T}.",
                    "Bound each step's Jacobian by γ·σ_max and multiply: no forward pass is needed.")
    rho = float(torch.linalg.eigvals(w).abs().max())
    frob = float(torch.linalg.matrix_norm(w))
    if np.allclose(values, rho ** t, rtol=1e-3):
        raise Fail("You used the spectral radius (largest |eigenvalue|). It governs the product in the long run but "
                    "does not bound every ‖W^t‖; the bound needs the largest singular value.")
    if np.allclose(values, frob ** t, rtol=1e-3):
        raise Fail("You used the Frobenius norm; it is a valid but much looser bound. The exercise asks for the "
                    "spectral norm (largest singular value), ord=2.")
    if np.allclose(values, sigma ** (t - 1), rtol=1e-3):
        raise Fail("Your sequence starts at t = 0; the exercise asks for t = 1 … 30.")
    if np.allclose(values, (0.25 * sigma) ** t, rtol=1e-3):
        raise Fail("γ = 1/4 is the sigmoid's; this RNN uses tanh, whose derivative is at most 1.")
    base = values[0]
    if base > 0 and abs(base - sigma) <= 0.01 * sigma and np.allclose(values, base ** t, rtol=1e-3):
        raise Fail(f"Your sequence is {base:.6g}^t: σ_max rounded (the checker computed {sigma:.6f}). Raised to "
                    f"the {LAB3_T}th power the rounding grows to {abs((base / sigma) ** LAB3_T - 1):.1%} at "
                    f"t = {LAB3_T}.", "Use σ_max at full precision — the value torch.linalg.matrix_norm returns, "
                    "not a rounded printout.")
    first_bad = int(np.argmax(~np.isclose(values, exact, rtol=1e-3)))
    raise Fail(f"At t = {first_bad + 1} your bound is {values[first_bad]:.4g}; the checker computed "
                f"{exact[first_bad]:.4g}.")


@exercise("lab3-generator-grad", "lab3_long_range",
           "the derivative of the generator's loss with respect to the discriminator's logit a at "
           f"a = {', '.join(f'{a:g}' for a in LAB3_LOGITS)}, for both losses: a dict {{'minimax': [...], "
           "'non_saturating': [...]} (minimax loss log(1 − σ(a)), non-saturating loss −log σ(a), both minimized "
           "by the generator), to 3 significant digits.",
           "D = σ(a). d/da log(1 − σ(a)) = −σ(a) and d/da (−log σ(a)) = −(1 − σ(a)); check with torch.autograd.")
def _check_lab3_gan(answer: object) -> str:
    keys = ("minimax", "non_saturating")
    if not isinstance(answer, Mapping):
        raise Fail("The answer should be a dict with keys 'minimax' and 'non_saturating', got "
                    f"{kind_of(answer)}.")
    missing = [k for k in keys if k not in answer]
    if missing:
        raise Fail(f"The dict is missing {missing}; it needs keys 'minimax' and 'non_saturating'.")
    n = len(LAB3_LOGITS)
    got = {k: as_vector(answer[k], n, f"answer[{k!r}]") for k in keys}
    a = torch.tensor(LAB3_LOGITS, dtype=torch.float64, requires_grad=True)
    losses = {"minimax": torch.log1p(-torch.sigmoid(a)), "non_saturating": -torch.nn.functional.logsigmoid(a)}
    exact = {k: torch.autograd.grad(losses[k].sum(), a)[0].numpy() for k in keys}
    # 3 significant digits (0.5 %), as in Lab 1: the lab prints the gradients to 3 digits
    ok = {k: np.allclose(got[k], exact[k], rtol=_GAN_RTOL, atol=1e-6) for k in keys}
    if all(ok.values()):
        ratio = exact["non_saturating"][0] / exact["minimax"][0]
        return (f"Both match torch.autograd. At a = {LAB3_LOGITS[0]:g} (a fake the discriminator rejects) the minimax "
                f"gradient is {exact['minimax'][0]:.2e} and the non-saturating one {exact['non_saturating'][0]:.3f}: "
                f"{ratio:.0f} times larger (e^(−a)).")
    if np.allclose(got["minimax"], exact["non_saturating"], rtol=_GAN_RTOL, atol=1e-6) and \
            np.allclose(got["non_saturating"], exact["minimax"], rtol=_GAN_RTOL, atol=1e-6):
        raise Fail("Your two lists are swapped.")
    bad = [k for k in keys if not ok[k]]
    for k in bad:
        if np.allclose(got[k], -exact[k], rtol=_GAN_RTOL, atol=1e-6):
            raise Fail(f"{k}: the magnitudes are right but the sign is flipped.",
                        "Both losses decrease as a grows (the fake looks more real), so both derivatives are "
                        "negative.")
    verb = "does" if len(bad) == 1 else "do"
    other = "; the other is right" if len(bad) == 1 else ""
    k = bad[0]
    i = int(np.argmax(~np.isclose(got[k], exact[k], rtol=_GAN_RTOL, atol=1e-6)))
    raise Fail(f"{' and '.join(bad)} {verb} not match torch.autograd{other}: at a = {LAB3_LOGITS[i]:g} your {k} "
                f"value is {got[k][i]:.4g}, torch.autograd gives {exact[k][i]:.4g}.")
