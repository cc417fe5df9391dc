"""gvcourse.data: shapes, determinism, learnability and bad input."""

import pytest
import torch

from gvcourse import data


def test_teacher_task_shapes_and_determinism():
    x, y = data.teacher_task(n=500, d=8, classes=4, seed=1)
    assert x.shape == (500, 8) and x.dtype == torch.float32
    assert y.shape == (500,) and y.dtype == torch.int64
    assert set(y.tolist()) == {0, 1, 2, 3}
    x2, y2 = data.teacher_task(n=500, d=8, classes=4, seed=1)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, data.teacher_task(n=500, d=8, classes=4, seed=2)[0])


def test_teacher_task_is_linearly_separable():
    x, y = data.teacher_task(n=2000, d=8, classes=3, seed=0)
    # least squares on one-hot targets recovers the teacher's argmax well
    w = torch.linalg.lstsq(x, torch.nn.functional.one_hot(y).float()).solution
    assert float(((x @ w).argmax(1) == y).float().mean()) > 0.8


def test_random_binary_matches_seed_example():
    x, y = data.random_binary(seed=0)
    assert x.shape == (1000, 20) and y.shape == (1000, 1)
    assert float(x.min()) >= 0 and float(x.max()) < 1
    assert set(y.flatten().tolist()) == {0.0, 1.0}


def test_digits_bundled():
    x, y = data.digits()
    assert x.shape == (1797, 64) and float(x.max()) == 1.0
    xi, _ = data.digits(flatten=False)
    assert xi.shape == (1797, 1, 8, 8)
    assert len(set(y.tolist())) == 10
    # scikit-learn's load_digits, which the bundled copy replaced (the same tensors, compared when it was made)
    assert torch.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert float(x.sum()) == 35107.375 and bool(((x * 16) == (x * 16).round()).all())


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: data.teacher_task(n=0), ValueError),
        (lambda: data.teacher_task(classes=1), ValueError),
        (lambda: data.teacher_task(seed=-1), ValueError),
        (lambda: data.teacher_task(d="8"), TypeError),
        (lambda: data.random_binary(n=1.5), TypeError),
        (lambda: data.digits(flatten="no"), TypeError),
    ],
)
def test_bad_input(call, error):
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("task", ["copy", "reverse", "sort"])
def test_token_sequences_targets(task):
    x, y = data.token_sequences(n=300, length=6, vocab=5, task=task, seed=2)
    assert x.shape == y.shape == (300, 6) and x.dtype == y.dtype == torch.int64
    assert int(x.min()) >= 0 and int(x.max()) < 5
    expected = {"copy": x, "reverse": x.flip(1), "sort": x.sort(1).values}[task]
    assert torch.equal(y, expected)
    x2, y2 = data.token_sequences(n=300, length=6, vocab=5, task=task, seed=2)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, data.token_sequences(n=300, length=6, vocab=5, task=task, seed=3)[0])


def test_token_sequences_bad_input_is_named():
    with pytest.raises(ValueError, match="'shuffle' is not one of: copy, reverse, sort"):
        data.token_sequences(task="shuffle")
    with pytest.raises(ValueError, match="length must be an integer >= 2"):
        data.token_sequences(length=1)
