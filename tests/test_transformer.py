"""gvcourse.transformer: the chapter's small Transformer encoder, its remedies and the softmax closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from gvcourse import GradientFlow, data
from gvcourse.transformer import (
    TinyTransformer,
    TransformerBlock,
    copy_from_torch_layer,
    deepnet_constants,
    sequence_accuracy,
    softmax_jacobian,
    softmax_jacobian_norm,
    train_sequence_model,
    warmup_factor,
)


def _tokens(batch=4, length=8, vocab=8, seed=0):
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("position", ["post", "pre"])
@pytest.mark.parametrize("norm", ["layer", "rms"])
def test_shapes(position, norm):
    model = TinyTransformer(8, d_model=16, n_heads=2, depth=3, max_len=8, norm_position=position, norm=norm, seed=0)
    out = model(_tokens(length=6))
    assert out.shape == (4, 6, 8)
    assert len(model.residual_stream(_tokens())) == 4  # embedding + one per block


def test_post_and_pre_placement_compute_different_functions():
    pre = TinyTransformer(8, d_model=16, n_heads=2, depth=2, max_len=8, norm_position="pre", seed=0)
    post = TinyTransformer(8, d_model=16, n_heads=2, depth=2, max_len=8, norm_position="post", seed=0)
    post.load_state_dict({k: v for k, v in pre.state_dict().items() if not k.startswith("final_norm")})
    x = _tokens()
    assert not torch.allclose(pre(x), post(x), atol=1e-3)
    # post-LN: every block's output is normalized; pre-LN: the residual stream is not
    block_out = post.blocks(post.embed(x) + post.pos_embedding[:8])
    assert torch.allclose(block_out.mean(-1), torch.zeros(4, 8), atol=1e-5)
    assert torch.allclose(block_out.var(-1, unbiased=False), torch.ones(4, 8), atol=1e-3)
    stream = pre.blocks(pre.embed(x) + pre.pos_embedding[:8])
    assert not torch.allclose(stream.var(-1, unbiased=False), torch.ones(4, 8), atol=0.1)


@pytest.mark.parametrize("norm_first", [False, True])
def test_block_matches_torch_encoder_layer(norm_first):
    torch.manual_seed(1)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True,
                                       norm_first=norm_first)
    with torch.no_grad():  # non-trivial norm gains and biases, so a mix-up of norm1/norm2 would show
        for norm in (layer.norm1, layer.norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    block = copy_from_torch_layer(layer, TransformerBlock(16, 2, 32, "pre" if norm_first else "post"))
    x = torch.randn(3, 5, 16)
    layer.train()  # the reference (slow) path; the fused eval fast path computes the same function
    torch.testing.assert_close(block(x), layer(x), rtol=1e-5, atol=1e-5)


def test_copy_refuses_a_mismatched_placement():
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, norm_first=True)
    with pytest.raises(ValueError, match="norm_first=True.*'post'"):
        copy_from_torch_layer(layer, TransformerBlock(16, 2, 32, "post"))


@pytest.mark.parametrize("kwargs, error, words", [
    ({"norm_position": "middle"}, ValueError, ["'middle'", "post", "pre"]),
    ({"norm": "batch"}, ValueError, ["'batch'", "layer", "rms"]),
    ({"scaling": "fixup"}, ValueError, ["'fixup'", "none", "deepnet"]),
    ({"norm_position": 1}, TypeError, ["norm_position", "post", "pre", "int"]),
    ({"depth": 0}, ValueError, ["depth", "0"]),
    ({"depth": 2.5}, TypeError, ["depth", "2.5"]),
    ({"d_model": 10, "n_heads": 4}, ValueError, ["d_model (10)", "n_heads (4)"]),
    ({"scaling": "deepnet", "norm_position": "pre"}, ValueError, ["deepnet", "'post'", "'pre'"]),
    ({"embed_std": -1.0}, ValueError, ["embed_std", "> 0"]),
])
def test_bad_arguments_are_named(kwargs, error, words):
    args = {"vocab_size": 8, "d_model": 16, "n_heads": 2, "depth": 2} | kwargs
    with pytest.raises(error) as info:
        TinyTransformer(**args)
    for word in words:
        assert word in str(info.value)


def test_bad_input_is_named():
    model = TinyTransformer(8, d_model=16, n_heads=2, depth=1, max_len=8, seed=0)
    with pytest.raises(TypeError, match="integer token ids.*float32"):
        model(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"max_len = 8.*\(2, 9\)"):
        model(torch.zeros(2, 9, dtype=torch.int64))


def test_seed_reproduces_the_initialization():
    a = TinyTransformer(8, d_model=16, n_heads=2, depth=2, seed=3)
    b = TinyTransformer(8, d_model=16, n_heads=2, depth=2, seed=3)
    c = TinyTransformer(8, d_model=16, n_heads=2, depth=2, seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.head.weight, c.head.weight)


def test_deepnet_constants_and_scaling():
    alpha, beta = deepnet_constants(18)
    assert alpha == pytest.approx(36 ** 0.25) and beta == pytest.approx(144 ** -0.25)
    plain = TinyTransformer(8, d_model=16, n_heads=2, depth=18, norm_position="post", seed=0)
    deep = TinyTransformer(8, d_model=16, n_heads=2, depth=18, norm_position="post", scaling="deepnet", seed=0)
    assert deep.blocks[0].alpha == pytest.approx(alpha) and plain.blocks[0].alpha == 1.0
    d = 16
    w_plain, w_deep = plain.blocks[0].attn.in_proj_weight, deep.blocks[0].attn.in_proj_weight
    torch.testing.assert_close(w_deep[: 2 * d], w_plain[: 2 * d])  # queries and keys keep gain 1
    torch.testing.assert_close(w_deep[2 * d:], beta * w_plain[2 * d:])  # values scaled by β
    torch.testing.assert_close(deep.blocks[5].mlp.down.weight, beta * plain.blocks[5].mlp.down.weight)


def test_rms_norm_does_not_centre():
    model = TinyTransformer(8, d_model=16, n_heads=2, depth=1, norm_position="post", norm="rms", seed=0)
    x = torch.randn(2, 4, 16) + 3.0
    out = model.blocks[0].norm1(x)
    assert torch.allclose(out.pow(2).mean(-1), torch.ones(2, 4), atol=1e-3)
    assert out.mean() > 0.5  # the mean is kept (LayerNorm would remove it)


def test_gradient_flow_sees_attention_and_mlp_of_every_block():
    model = TinyTransformer(8, d_model=16, n_heads=2, depth=3, max_len=8, seed=0)
    x, y = data.token_sequences(n=16, length=8, vocab=8, seed=0)
    with GradientFlow(model) as flow:
        nn.functional.cross_entropy(model(x).reshape(-1, 8), y.reshape(-1)).backward()
    norms = flow.grad_norms()
    for i in range(3):
        for part in ("attn", "attn.out_proj", "mlp.up", "mlp.down"):
            assert norms[f"blocks.{i}.{part}"] > 0
    assert flow.tensors()["blocks.0.attn"] == ["blocks.0.attn.in_proj_weight"]


def test_pre_ln_last_layer_gradient_shrinks_with_depth_post_ln_does_not():
    """Xiong et al. (2020), Theorems 1-2, in the regime of the chapter: averaged over seeds, the pre-LN gradient of
    the last MLP weight falls by more than half from 3 to 24 blocks; the post-LN one does not."""
    x, y = data.token_sequences(n=128, length=8, vocab=8, seed=0)

    def last_grad(position, depth, seed):
        model = TinyTransformer(8, d_model=32, n_heads=2, depth=depth, max_len=8, norm_position=position, seed=seed)
        nn.functional.cross_entropy(model(x).reshape(-1, 8), y.reshape(-1)).backward()
        return model.blocks[-1].mlp.down.weight.grad.norm().item()

    def mean_log(position, depth):
        return np.mean([math.log(last_grad(position, depth, s)) for s in range(3)])

    assert mean_log("pre", 24) - mean_log("pre", 3) < math.log(0.5)
    assert mean_log("post", 24) - mean_log("post", 3) > math.log(0.5)


def test_softmax_jacobian_closed_form_matches_autograd():
    z = torch.tensor([0.3, -1.2, 2.0, 0.1], dtype=torch.float64)
    p = torch.softmax(z, 0)
    auto = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, 0), z)
    np.testing.assert_allclose(softmax_jacobian(p.numpy()), auto.numpy(), atol=1e-12)
    assert softmax_jacobian_norm(p.numpy()) == pytest.approx(float(auto.norm()))


def test_softmax_jacobian_vanishes_as_p_becomes_one_hot():
    norms = [softmax_jacobian_norm(torch.softmax(scale * torch.tensor([1.0, 0.0, -0.5, 0.2]), 0).double().numpy())
             for scale in (1, 4, 16, 64)]
    assert all(a > b for a, b in zip(norms, norms[1:]))
    assert norms[-1] < 1e-20
    n = 8
    uniform = np.full(n, 1 / n)  # diag(p) − ppᵀ = (I − 11ᵀ/n)/n: Frobenius norm √(n − 1)/n
    assert softmax_jacobian_norm(uniform) == pytest.approx(math.sqrt(n - 1) / n)


@pytest.mark.parametrize("p, match", [([1.0], "at least 2"), ([0.7, 0.7], "sum to 1"), ([1.5, -0.5], "non-negative")])
def test_softmax_jacobian_refuses_non_probabilities(p, match):
    with pytest.raises(ValueError, match=match):
        softmax_jacobian(p)


def test_warmup_factor():
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0


def test_training_learns_reverse_and_is_reproducible():
    x, y = data.token_sequences(n=512, length=4, vocab=4, task="reverse", seed=0)
    runs = []
    for _ in range(2):
        model = TinyTransformer(4, d_model=16, n_heads=2, depth=2, max_len=4, seed=0)
        history = train_sequence_model(model, (x, y), 150, 3e-3, warmup=10, batch_size=32, seed=0)
        runs.append((history, sequence_accuracy(model, x, y)))
    assert runs[0][0].loss == runs[1][0].loss
    assert runs[0][1] > 0.9 > 1 / 4 + 0.1
    assert runs[0][0].lr[:2] == pytest.approx([3e-4, 6e-4])
    assert runs[0][0].loss[-1] < runs[0][0].loss[0] / 3
