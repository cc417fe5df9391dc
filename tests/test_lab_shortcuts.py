"""The labs' checkers refuse the shortcuts a student can take, each with feedback that says what went wrong
(issue 22): a bypass or a shallow network beside the broken one, looking up the validation labels, submitting a
pre-trained model, the measured value as the prediction, a class instead of an instance, the wrong sign."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gvcourse import labs, nets
from gvcourse.labs import lab2


def _rescue():
    return nets.mlp(20, 32, 16, 4, activation="relu", init="he_normal", norm="batch", residual=True, seed=0)


class _BrokenPlus(nn.Module):
    """The untouched broken network with a second, trainable path added to its logits."""

    def __init__(self, extra: nn.Module):
        super().__init__()
        self.deep = labs.lab2_broken_model()
        self.extra = extra

    def forward(self, x):
        return self.deep(x) + self.extra(x)


def test_rescue_refuses_a_linear_bypass_around_the_broken_net():
    result = labs.check("lab2-rescue", _BrokenPlus(nn.Linear(16, 4)))
    assert not result
    assert "deep.fc1" in result.feedback and "around the deep network" in result.feedback
    assert "bypass" in result.hint


def test_rescue_refuses_a_small_relu_net_beside_the_broken_net():
    small = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    result = labs.check("lab2-rescue", _BrokenPlus(small))
    assert not result and "gradient still vanishes" in result.feedback and "deep.fc1" in result.feedback


class _Lookup(nn.Module):
    """A healthy deep network that, in eval mode, answers with the labels of the lab's validation split."""

    def __init__(self):
        super().__init__()
        self.net = nets.mlp(20, 32, 16, 4, activation="relu", init="he_normal", seed=0)
        _, (vx, vy) = labs.lab2_task()
        self.register_buffer("keys", vx.clone())
        self.register_buffer("labels", vy.clone())

    def forward(self, x):
        out = self.net(x)
        if self.training:
            return out
        dist, idx = torch.cdist(x, self.keys).min(dim=1)
        known = nn.functional.one_hot(self.labels[idx], 4).float() * 100
        return torch.where((dist < 1e-6)[:, None], known, out)


def test_rescue_scores_on_held_out_examples_so_looking_up_labels_fails():
    result = labs.check("lab2-rescue", _Lookup())
    assert not result
    assert "held-out" in result.feedback and "memorised" in result.feedback
    public = float(result.feedback.split("scores ")[1].split()[0])
    assert public >= labs.LAB2_TARGET  # the lookup does fool the public split: the held-out one is what refuses it
    # the held-out examples come from the same teacher, and the lab never hands them out
    hx, hy = lab2._lab2_heldout()
    (tx, _), (vx, _) = labs.lab2_task()
    assert hx.shape == (lab2._LAB2_HELDOUT, labs.LAB2_IN)
    assert torch.cdist(hx, torch.cat([tx, vx])).min() > 1e-3


def test_rescue_refuses_a_model_trained_before_submission():
    model = _rescue()
    (tx, ty), (vx, vy) = labs.lab2_task()
    x, y = torch.cat([tx, vx]), torch.cat([ty, vy])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    with labs.single_thread():
        for _ in range(40):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    result = labs.check("lab2-rescue", model)
    assert not result
    assert "Before any training" in result.feedback and "trained before you submitted it" in result.feedback
    assert "untrained" in result.hint


def test_rescue_message_says_before_training_not_at_initialization():
    result = labs.check("lab2-rescue", _rescue())
    assert result and "held-out" in result.feedback and "before training" in result.feedback
    assert "at initialization" not in result.feedback


def test_a_class_instead_of_an_instance_is_named():
    result = labs.check("lab2-rescue", nn.Linear)
    assert not result and "the class Linear itself, not an instance" in result.feedback
    for exercise in ("lab2-shrink-factor", "lab2-gradient-ratio", "lab1-softplus", "lab3-generator-grad"):
        assert "the class Linear itself" in labs.check(exercise, nn.Linear).feedback, exercise


def _predicted():
    return math.sqrt(32 * (1 / (3 * 32)) * (1 / 16))


def _measured():
    model = labs.lab2_broken_model()
    back = list(lab2._lab2_flow_by_layer(model)[1].values())[:20]
    return (back[0] / back[-1]) ** (1 / 19)


def test_shrink_factor_names_the_measured_value_as_measured():
    measured = _measured()
    assert abs(measured / _predicted() - 1) > 0.01  # the two are apart: a checker can tell them
    for value in (measured, round(measured, 3)):
        result = labs.check("lab2-shrink-factor", value)
        assert not result and "the factor the lab measures" in result.feedback and "prediction" in result.feedback
    assert labs.check("lab2-shrink-factor", round(_predicted(), 3))


def test_shrink_factor_hint_before_an_attempt_spells_out_no_number():
    result = labs.check("lab2-shrink-factor", ...)
    assert not result and "No answer yet" in result.feedback
    for number in ("1/48", "0.144", "1/4", "1/(3n)", "n = 32", "0.25"):
        assert number not in result.hint and number not in result.feedback, number


def test_the_wrong_sign_is_named():
    result = labs.check("lab2-shrink-factor", -_predicted())
    assert not result and "negative" in result.feedback and "sign" in result.feedback
    ratio = labs.check("lab2-gradient-ratio", -1.2e-17)
    assert not ratio and "sign" in ratio.feedback


def test_assert_correct_is_an_autograder_cell():
    assert labs.assert_correct("lab2-shrink-factor", round(_predicted(), 3)).passed
    try:
        labs.assert_correct("lab2-shrink-factor", -_predicted())
    except AssertionError as err:
        assert "not yet" in str(err) and "sign" in str(err)
    else:
        raise AssertionError("assert_correct accepted a wrong answer")


def test_a_flipped_rnn_bound_is_named():
    w = labs.lab3_rnn().weight_hh_l0.detach().double()
    sigma = torch.linalg.svdvals(w).max().item()
    result = labs.check("lab3-rnn-bound", [-(sigma ** t) for t in range(1, labs.LAB3_T + 1)])
    assert not result and "sign is flipped" in result.feedback


def test_the_measured_norms_are_not_the_rnn_bound():
    from gvcourse import data, sequence

    x_one, _ = data.adding_problem(1, T=labs.LAB3_T, seed=0)
    measured = sequence.hidden_state_jacobian_norms(labs.lab3_rnn(), x_one)
    result = labs.check("lab3-rnn-bound", list(measured))
    assert not result and "measured norms" in result.feedback and "not the bound" in result.feedback


@pytest.fixture
def alice():
    seed = labs.use_variant("Alice")
    yield seed
    labs.use_variant(None)


def _ratio():
    norms = list(lab2._lab2_flow_by_layer(labs.lab2_broken_model())[0].values())
    return norms[0] / norms[-1]


def _bound():
    sigma = torch.linalg.svdvals(labs.lab3_rnn().weight_hh_l0.detach().double()).max().item()
    return [sigma ** t for t in range(1, labs.LAB3_T + 1)]


def test_variants_are_per_student_and_the_website_is_variant_0(alice):
    assert alice == labs.use_variant("  alice ") == labs.variant() and alice != 0
    assert labs.use_variant("Bob") != alice
    labs.use_variant(None)
    assert labs.variant() == 0
    for bad, error in ((-1, ValueError), ("  ", ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="variant"):
            labs.use_variant(bad)


def test_a_number_copied_from_the_website_is_refused_in_a_students_variant(alice):
    labs.use_variant(None)
    public_ratio, public_bound = _ratio(), _bound()
    labs.use_variant("Alice")
    own_ratio, own_bound = _ratio(), _bound()
    assert abs(math.log(own_ratio / public_ratio)) > math.log(1.05)  # far enough apart to tell
    result = labs.check("lab2-gradient-ratio", public_ratio)
    assert not result and "website's network (variant 0)" in result.feedback
    assert labs.check("lab2-gradient-ratio", own_ratio)
    result = labs.check("lab3-rnn-bound", public_bound)
    assert not result and "website's RNN (variant 0)" in result.feedback
    assert labs.check("lab3-rnn-bound", own_bound)


def test_a_rounded_printout_of_the_ratio_is_named():
    exact = _ratio()
    typed = float(f"{exact * 1.03:.2e}")  # a number typed from a printout, 3 % off
    result = labs.check("lab2-gradient-ratio", typed)
    assert not result and "rounded printout" in result.feedback
    assert labs.check("lab2-gradient-ratio", exact)


def test_a_function_instead_of_an_operations_name_is_named():
    result = labs.check("lab1-find-bug", labs.SuspectValue.exp)
    assert not result and "the function exp itself" in result.feedback and "'exp'" in result.feedback
    assert "the class Linear itself" in labs.check("lab1-find-bug", nn.Linear).feedback
