"""The generator's two losses as functions of the discriminator's logit (Goodfellow et al. 2014).

NumPy closed forms; :mod:`gvcourse.gan` trains the networks with the same two losses (its ``generator_loss`` is
the batch mean of :func:`generator_loss_of_logit`, in torch). :data:`GAN_LOSSES` lives here and only here.
"""

from __future__ import annotations

import numpy as np

from .._checks import one_of, real

__all__ = ["GAN_LOSSES", "generator_loss_of_logit", "generator_logit_grad"]

GAN_LOSSES = ("minimax", "non_saturating")


def _logit_array(logit):
    if isinstance(logit, np.ndarray):
        if not np.issubdtype(logit.dtype, np.number) or np.iscomplexobj(logit):
            raise TypeError(f"logit must be a real number or a real NumPy array, got dtype {logit.dtype}")
        a = logit.astype(float)
        if not np.all(np.isfinite(a)):
            raise ValueError("logit must be finite")
        return a, True
    return real("logit", logit), False


def _sigmoid_np(a):
    e = np.exp(-np.abs(a))  # stable for large |a|
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def generator_loss_of_logit(logit, loss: str = "non_saturating"):
    """The generator's loss at a fake sample as a function of the discriminator's logit a, D = σ(a).

    Both are *minimised* by the generator (Goodfellow et al. 2014, §3 and eq. 1):

    - ``"minimax"``: log(1 − σ(a)) = −softplus(a) — the minimax game's term, which the generator minimises;
    - ``"non_saturating"``: −log σ(a) = softplus(−a) — the alternative Goodfellow et al. recommend, which
      "provides much stronger gradients early in learning".

    ``logit`` is a real number (returns a float) or a NumPy array (returns an array).
    """
    one_of("loss", loss, GAN_LOSSES)
    a, is_array = _logit_array(logit)
    value = -np.logaddexp(0.0, a) if loss == "minimax" else np.logaddexp(0.0, -a)
    return value if is_array else float(value)


def generator_logit_grad(logit, loss: str = "non_saturating"):
    """d/da of :func:`generator_loss_of_logit`: the gradient the generator's loss sends back into the logit.

    - ``"minimax"``: d/da log(1 − σ(a)) = −σ(a), which → 0 like −e^a as a → −∞ — exactly when the discriminator
      confidently rejects a fake (D(G(z)) = σ(a) → 0), the loss *saturates* and the generator learns nothing
      (Goodfellow et al. 2014, §3; Arjovsky & Bottou 2017, §2.2.1);
    - ``"non_saturating"``: d/da (−log σ(a)) = −(1 − σ(a)), which → −1 as a → −∞.

    Their ratio minimax / non-saturating is σ(a)/(1 − σ(a)) = e^a (so non-saturating / minimax = e^(−a)): at
    a = −10 the minimax gradient is 4.5 × 10⁻⁵ of the non-saturating one. Both are negative, so gradient descent
    on either raises the logit of the fake — the generator pushes D(G(z)) up. Real number → float, array → array.
    """
    one_of("loss", loss, GAN_LOSSES)
    a, is_array = _logit_array(logit)
    value = -_sigmoid_np(a) if loss == "minimax" else -_sigmoid_np(-a)  # 1 − σ(a) = σ(−a), without cancellation
    return value if is_array else float(value)

