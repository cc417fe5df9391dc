"""Lab 2 — rescue a deep network: the problem (:func:`lab2_task`, :func:`lab2_broken_model`, :func:`lab2_train`)
and its three checkers."""

from __future__ import annotations

import contextlib
import copy
import math

import torch
from torch import nn

from ..data import teacher_task
from ..monitor import GradientFlow, layer_modules
from ..nets import mlp
from ..theory import variance_factor
from ..train import evaluate, fit
from .checking import Fail, as_float, exercise, is_close, kind_of, variant

__all__ = ["LAB2_DEPTH", "LAB2_WIDTH", "LAB2_IN", "LAB2_CLASSES", "LAB2_TARGET", "single_thread", "lab2_task",
           "lab2_broken_model", "lab2_train"]

LAB2_DEPTH, LAB2_WIDTH, LAB2_IN, LAB2_CLASSES = 20, 32, 16, 4
#: validation accuracy a rescued network must reach with :func:`lab2_train`.
LAB2_TARGET = 0.80
_LAB2_STEPS, _LAB2_LR, _LAB2_MOMENTUM, _LAB2_BATCH = 300, 0.02, 0.9, 64
#: lab2-rescue's guards: every counted layer must receive at least this share of the largest weight gradient
#: before training (the broken network's first layer gets 1e-17, every rescue in the lab 1e-3 or more) ...
_LAB2_MIN_SHARE = 1e-6
#: ... and a submitted model that already scores this on the held-out examples was trained before submission
#: (freshly initialised models of the lab score 0.18-0.31, the majority class 0.295).
_LAB2_PRETRAINED = 0.50
_LAB2_HELDOUT = 600
_RATIO_TOL = 0.01


@contextlib.contextmanager
def single_thread():
    """Run the block with one PyTorch thread, then restore the previous number.

    The labs' networks are small (32 units), so one thread is as fast as two — much faster on a busy machine,
    where threads wait for each other — and the result no longer depends on how many threads the machine
    offers: a summation split across threads rounds differently, and 300 SGD steps can amplify the 1e-8
    differences into a different third digit of an accuracy.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def lab2_task() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Lab 2's data: ``data.teacher_task(2000, d=16, classes=4, seed=0)``, split into 1,600 train and 400 validation."""
    x, y = teacher_task(n=2000, d=LAB2_IN, classes=LAB2_CLASSES, seed=0)
    return (x[:1600], y[:1600]), (x[1600:], y[1600:])


def _lab2_heldout() -> tuple[torch.Tensor, torch.Tensor]:
    """The examples lab2-rescue scores on: 600 fresh inputs labelled by the same teacher as :func:`lab2_task`.

    :func:`lab2_task` never hands them out, so a model cannot look their labels up; they are the next 600 draws
    of the same generator (``teacher_task(2600, seed=0)[2000:]``), a split from the same distribution.
    """
    x, y = teacher_task(n=2000 + _LAB2_HELDOUT, d=LAB2_IN, classes=LAB2_CLASSES, seed=0)
    return x[2000:], y[2000:]


def lab2_broken_model(seed: int | None = None) -> nn.Sequential:
    """The network Lab 2 rescues: 20 sigmoid layers of 32 units, "standard" init U[−1/√n, 1/√n].

    ``seed=None`` uses the current variant's seed (:func:`~gvcourse.labs.use_variant`; 0 by default).

    ``nets.mlp(20, 32, 16, 4, activation="sigmoid", init="standard")``: Glorot & Bengio (2010)'s standard
    initialization with the sigmoid, the combination their §4 shows to saturate and stall.
    """
    seed = variant() if seed is None else seed
    return mlp(LAB2_DEPTH, LAB2_WIDTH, LAB2_IN, LAB2_CLASSES, activation="sigmoid", init="standard", seed=seed)


def lab2_train(model: nn.Module, seed: int = 0, progress: bool = False, desc: str = "training"):
    """Train ``model`` with Lab 2's recipe and return ``(history, validation accuracy)``.

    The recipe is fixed so that fixes are compared on equal terms: 300 steps of SGD with momentum 0.9,
    learning rate 0.02, minibatches of 64 drawn with ``seed``, cross-entropy (:func:`gvcourse.train.fit`),
    on one thread (:func:`single_thread`).
    """
    train, val = lab2_task()
    with single_thread():
        history = fit(model, train, _LAB2_STEPS, lr=_LAB2_LR, optimizer="sgd", momentum=_LAB2_MOMENTUM,
                      batch_size=_LAB2_BATCH, seed=seed, progress=progress, desc=desc)
        accuracy = evaluate(model, val)["accuracy"]
    return history, accuracy


def _lab2_flow_by_layer(model: nn.Module) -> tuple[dict[str, float], dict[str, float]]:
    """``{layer: ‖∂L/∂W‖}`` and ``{layer: ‖∂L/∂s‖}`` at the model's current weights, for the layers that ran."""
    train, _ = lab2_task()
    model.zero_grad(set_to_none=True)
    with single_thread(), GradientFlow(model) as flow:
        nn.functional.cross_entropy(model(train[0]), train[1]).backward()
    result = dict(flow.grad_norms()), dict(flow.backprop_norms())
    model.zero_grad(set_to_none=True)
    return result


def _lab2_flow(model: nn.Module) -> tuple[list[float], list[float]]:
    """Weight-gradient norms and back-propagated gradient norms, layer by layer, at the model's current weights."""
    grads, back = _lab2_flow_by_layer(model)
    return list(grads.values()), list(back.values())


@exercise("lab2-gradient-ratio", "lab2_rescue",
           "‖∂L/∂W‖ of the first layer divided by ‖∂L/∂W‖ of the output layer of lab2_broken_model(), at "
           "initialization, for the cross-entropy over all 1,600 training examples (a float).",
           "Use GradientFlow(model): one forward and backward pass on the whole training set, then "
           "flow.grad_norms() — first value over last value.")
def _check_lab2_ratio(answer: object) -> str:
    value = as_float(answer, "The ratio")
    if value <= 0:
        raise Fail(f"Your ratio is {value:.2e}, but a ratio of two norms is positive: check the sign (and that you "
                    "divided norms, not gradients).", "Norms are ≥ 0: take flow.grad_norms(), first over last.")
    norms, back = _lab2_flow(lab2_broken_model())
    exact = norms[0] / norms[-1]

    def near(reference: float, tol: float = _RATIO_TOL) -> bool:
        return abs(math.log(value / reference)) <= math.log(1 + tol)

    # 1 %: the measurement is deterministic to ~1e-6, and variants' ratios differ by a few percent or more
    if near(exact):
        return (f"The checker measured {exact:.2e}: the first layer receives about {exact:.0e} of the output "
                "layer's gradient — it cannot learn.")
    if near(1 / exact, 0.05):
        raise Fail(f"Your {value:.2e} is the inverse of the measured ratio.",
                    "First layer over output layer: the first value of grad_norms() divided by the last.")
    if variant() != 0:
        public, _ = _lab2_flow(lab2_broken_model(seed=0))
        if near(public[0] / public[-1]):
            raise Fail(f"{value:.2e} is the ratio of the website's network (variant 0), not of yours (variant "
                        f"{variant()}): the checker measured {exact:.1e} on your network.",
                        "Measure your own labs.lab2_broken_model(); a number copied from elsewhere is another "
                        "network's.")
    if near(back[0] / back[-1], 0.05):
        raise Fail(f"{value:.2e} is the ratio of the back-propagated gradients ‖∂L/∂s‖ (backprop_norms), not of "
                    "the weight gradients ‖∂L/∂W‖ the exercise asks for.", "Use flow.grad_norms().")
    if near(exact, 0.05):
        raise Fail(f"Your {value:.2e} is within 5 % of the measured ratio but not within 1 %: the checker wants the "
                    "ratio you measured, not a rounded printout of it.",
                    "Pass the variable that holds norms[0] / norms[-1], not a number typed from the output.")
    raise Fail(f"The checker measured a different ratio (you: {value:.2e}; it differs by more than 5 %).")


@exercise("lab2-shrink-factor", "lab2_rescue",
           "the factor by which the back-propagated gradient norm ‖∂L/∂s‖ shrinks per layer in "
           "lab2_broken_model(), predicted from Glorot & Bengio's variance argument (a float, to 3 significant "
           "digits).",
           "Going down one layer the gradient's variance is multiplied by n·Var(W)·φ'(0)²: work out Var(W) for the "
           "uniform initialization and the sigmoid's slope at 0 (or use theory.variance_factor). A norm scales "
           "like a standard deviation, not like a variance.")
def _check_lab2_shrink(answer: object) -> str:
    value = as_float(answer, "The factor")
    factor = variance_factor("sigmoid", "standard", fan_in=LAB2_WIDTH)
    predicted = math.sqrt(factor.backward)
    back = _lab2_flow(lab2_broken_model())[1][:LAB2_DEPTH]  # hidden layers
    measured = (back[0] / back[-1]) ** (1 / (LAB2_DEPTH - 1))
    # 3 significant digits: the prediction and the measurement differ by 2 %, so a 5 % window could not tell
    # them apart; 0.5 % can.
    if is_close(value, predicted, 5e-3):
        return (f"Predicted √(n·Var(W)·σ'(0)²) = √(1/48) = {predicted:.3f}; the checker measured a geometric mean "
                f"of {measured:.3f} per layer over the 20 hidden layers.")
    if value < 0:
        raise Fail(f"Your factor {value:.3g} is negative, but it is a ratio of two norms: check the sign.",
                    "A norm is ≥ 0, so the factor by which it shrinks is positive.")
    if is_close(value, measured, 5e-3):
        raise Fail(f"{value:.3f} is the factor the lab measures on the network (the checker measured "
                    f"{measured:.3f}), not the prediction. The exercise asks what the variance argument predicts "
                    "before any measurement — then the two are compared.",
                    "Predict from n, Var(W) and the sigmoid's slope at 0, without running the network.")
    if is_close(value, factor.backward, 5e-3):
        raise Fail(f"{value:.3g} is the factor for the gradient's variance; the norm shrinks by its square root.")
    if is_close(value, 0.25, 5e-3):
        raise Fail("0.25 is σ'(0) alone; the weights shrink the gradient too, because n·Var(W) = 1/3 < 1 for "
                    "the standard init.")
    if is_close(value, 1 / math.sqrt(3), 5e-3) or is_close(value, 1 / 3, 5e-3):
        raise Fail(f"{value:.3g} accounts for the weights alone (n·Var(W) = 1/3); the sigmoid's slope at 0 "
                    "multiplies the gradient at every layer too.")
    if is_close(value, predicted, 0.05):
        raise Fail(f"{value:.3g} is close but not to 3 significant digits; compute the square root of the variance "
                    "factor exactly rather than rounding the intermediate steps.")
    raise Fail(f"The prediction differs from {value:.3g} by more than 5 %.")


@exercise("lab2-rescue", "lab2_rescue",
           f"an untrained torch.nn.Module with at least {LAB2_DEPTH} hidden layers, 16 inputs and 4 outputs that "
           f"reaches an accuracy of at least {LAB2_TARGET:.2f} on held-out examples when trained with lab2_train's "
           "recipe, every layer receiving a usable gradient.",
           "Change one thing at a time and measure: activation (relu, tanh), initialization (he_normal, "
           "xavier_normal), normalization (norm='batch') and residual=True are all options of nets.mlp.")
def _check_lab2_rescue(answer: object) -> str:
    if not isinstance(answer, nn.Module):
        raise Fail(f"The answer should be a torch.nn.Module instance (e.g. from nets.mlp), got {kind_of(answer)}.")
    n_layers = len(layer_modules(answer))
    if n_layers < LAB2_DEPTH + 1:
        raise Fail(f"Your model has {n_layers} layers with weights; a rescue keeps the depth: at least "
                    f"{LAB2_DEPTH} hidden layers and an output layer ({LAB2_DEPTH + 1}).",
                    "Making the network shallow avoids the problem instead of fixing it.")
    if not any(p.requires_grad for p in answer.parameters()):
        raise Fail("None of your model's parameters requires a gradient (requires_grad=False): nothing can train.")
    model = copy.deepcopy(answer)  # the student's model is not trained by the checker
    train, _ = lab2_task()
    heldout = _lab2_heldout()
    model.eval()
    try:
        with torch.no_grad():
            out = model(train[0][:2])
    except Exception as err:
        raise Fail(f"Your model cannot take the lab's inputs of shape (batch, {LAB2_IN}): "
                    f"{type(err).__name__}: {err}") from None
    model.train()  # measured as lab2_train will see it (BatchNorm with batch statistics)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, LAB2_CLASSES):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise Fail(f"For a batch of 2 inputs your model returns {shape}; it should return (2, {LAB2_CLASSES}), "
                    "one logit per class.")
    # A rescue is judged as submitted, untrained: the question is which architecture and initialization learn
    # under the lab's recipe. A model that already classifies was trained beforehand (on the lab's data, with
    # another recipe) — re-initialising it would discard the student's own choice of initialization, so refuse.
    with single_thread():
        before = evaluate(model, heldout)["accuracy"]
    model.train()
    if before >= _LAB2_PRETRAINED:
        raise Fail(f"Before any training your model already scores {before:.3f} on held-out examples — freshly "
                    f"initialised networks score near the majority class's {_majority(heldout):.3f}. It was trained "
                    "before you submitted it (or it is told the answers), so the checker cannot tell what the lab's "
                    "recipe does with it.",
                    "Submit the model freshly built (e.g. straight from nets.mlp), untrained: the exercise asks "
                    "which design trains under the lab's recipe, and the checker trains it itself.")
    by_layer = _lab2_flow_by_layer(model)[0]
    # every layer that counts towards the depth must be on the path from the input to the loss
    idle = [name for name in layer_modules(model) if not by_layer.get(name, 0.0) > 0.0]
    if idle:
        shown = _names(idle)
        raise Fail(f"{len(idle)} of your model's {n_layers} layers with weights receive no gradient before "
                    f"training (exactly zero, or NaN): {shown}. A layer that is never called, or that the "
                    "logits do not depend on, adds no depth; one whose gradient underflows to zero cannot learn.",
                    "The depth must be on the path from the input to the output: every layer should be called in "
                    "forward(), influence the logits and receive a gradient.")
    norms = list(by_layer.values())
    largest = max(norms)
    counted = layer_modules(model)
    starved = [name for name, g in by_layer.items() if name in counted and g < _LAB2_MIN_SHARE * largest]
    if starved:
        smallest = min(by_layer[name] for name in starved) / largest
        raise Fail(f"{len(starved)} of your model's {n_layers} layers with weights receive less than "
                    f"{_LAB2_MIN_SHARE:.0e} of the largest weight gradient before training (down to "
                    f"{smallest:.1e}): {_names(starved)}. Their gradient still vanishes, so they cannot learn in "
                    f"{_LAB2_STEPS} steps; whatever accuracy the model reaches comes from the other layers, around "
                    "the deep network rather than through it.",
                    "A bypass or a parallel shallow network beside the broken one does not rescue it: change the "
                    "deep path itself so that the gradient reaches its first layer.")
    ratio = norms[0] / norms[-1] if norms[-1] > 0 else math.nan
    _, public = lab2_train(model)
    with single_thread():
        accuracy = evaluate(model, heldout)["accuracy"]
    where = (f"before training its first layer got {ratio:.1e} of the output layer's gradient, and it scored "
             f"{before:.3f}")
    if accuracy >= LAB2_TARGET:
        return (f"Trained with the lab's recipe it reaches {accuracy:.3f} on {_LAB2_HELDOUT} held-out examples "
                f"(target {LAB2_TARGET:.2f}; {public:.3f} on the lab's validation split); {where}.")
    if public >= LAB2_TARGET and public - accuracy >= 0.1:
        raise Fail(f"Trained with the lab's recipe it scores {public:.3f} on the lab's validation split but only "
                    f"{accuracy:.3f} on {_LAB2_HELDOUT} held-out examples it has never seen (target "
                    f"{LAB2_TARGET:.2f}). A model that knows the validation labels memorised them; it did not learn "
                    "the task.", "The checker scores on examples that labs.lab2_task() never hands out: only what "
                    "the network learns from the training split counts.")
    raise Fail(f"Trained with the lab's recipe it reaches {accuracy:.3f} on {_LAB2_HELDOUT} held-out examples, below "
                f"the target {LAB2_TARGET:.2f} ({public:.3f} on the lab's validation split); {where}.")


def _majority(data: tuple[torch.Tensor, torch.Tensor]) -> float:
    return torch.bincount(data[1]).max().item() / len(data[1])


def _names(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
