"""gvcourse.nets residual blocks, block_mlp and cnn; GradientFlow on nested residual models."""

import pytest
import torch
from torch import nn

from gvcourse import nets
from gvcourse.monitor import GradientFlow


def test_block_mlp_counts_weight_layers_and_names():
    for depth, blocks in ((4, 1), (8, 3), (32, 15)):
        m = nets.block_mlp(depth, 16, 5, 3, residual=True)
        assert sum(isinstance(x, nn.Linear) for x in m.modules()) == depth
        assert [n for n, _ in m.named_children()] == (
            ["stem", "stem_norm", "stem_act"] + [f"block{i}" for i in range(1, blocks + 1)] + ["out"])
        assert m(torch.randn(7, 5)).shape == (7, 3)


def test_cnn_counts_weight_layers_and_shapes():
    m = nets.cnn(10, 6, residual=True)
    assert sum(isinstance(x, nn.Conv2d) for x in m.modules()) == 9
    assert sum(isinstance(x, nn.Linear) for x in m.modules()) == 1
    assert m(torch.randn(4, 1, 8, 8)).shape == (4, 10)
    assert nets.cnn(4, 3, in_channels=3, num_classes=5, norm="layer")(torch.randn(2, 3, 6, 6)).shape == (2, 5)
    assert isinstance(nets.cnn(4, 3, norm="layer").block1.norm1, nn.GroupNorm)
    assert nets.cnn(4, 3, norm="batch").block1.layer1.bias is None  # BN's shift replaces the conv bias
    assert nets.cnn(4, 3, norm=None).block1.layer1.bias is not None


@pytest.mark.parametrize("block_cls, shape", [(nets.BasicBlock, (6, 8)), (nets.ConvBlock, (3, 8, 5, 5))])
def test_post_and_pre_activation_blocks_compute_the_papers_formulas(block_cls, shape):
    x = torch.randn(*shape)
    post = block_cls(8, norm="batch", residual=True)
    f = post.norm2(post.layer2(torch.relu(post.norm1(post.layer1(x)))))
    assert torch.allclose(post(x), torch.relu(x + f), atol=1e-6)  # He et al. 2016a: relu(x + F(x))
    plain = block_cls(8, norm="batch", residual=False)
    plain.load_state_dict(post.state_dict())
    assert torch.allclose(plain(x), torch.relu(f), atol=1e-6)  # the same layers without the shortcut
    pre = block_cls(8, norm="layer", residual=True, style="pre")
    g = pre.layer2(torch.relu(pre.norm2(pre.layer1(torch.relu(pre.norm1(x))))))
    assert torch.allclose(pre(x), x + g, atol=1e-6)  # He et al. 2016b: x + F(x), nothing after the sum


def test_pre_activation_block_jacobian_is_identity_plus_branch():
    torch.manual_seed(0)
    blk = nets.BasicBlock(5, activation="tanh", norm=None, style="pre").double()
    x = torch.randn(5, dtype=torch.float64)
    j = torch.autograd.functional.jacobian(blk, x)
    nets_branch = nets.BasicBlock(5, activation="tanh", norm=None, style="pre", residual=False).double()
    nets_branch.load_state_dict(blk.state_dict())
    jf = torch.autograd.functional.jacobian(nets_branch, x)
    assert torch.allclose(j, torch.eye(5, dtype=torch.float64) + jf, atol=1e-12)


def test_plain_and_residual_share_initial_weights():
    a = nets.block_mlp(8, 12, 4, 2, residual=False, seed=5)
    b = nets.block_mlp(8, 12, 4, 2, residual=True, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c, d = nets.cnn(6, 4, residual=False, seed=2), nets.cnn(6, 4, residual=True, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(c.parameters(), d.parameters()))


def test_he_init_reaches_conv_filters():
    m = nets.cnn(4, 32, seed=0)
    w = m.block1.layer1.weight
    assert float(w.detach().var()) == pytest.approx(2 / (32 * 9), rel=0.1)  # He et al. 2015: Var = 2 / (k² c)


def test_pre_style_layout():
    m = nets.block_mlp(6, 8, 3, 2, residual=True, style="pre", norm="layer")
    assert [n for n, _ in m.named_children()] == ["stem", "block1", "block2", "out_norm", "out_act", "out"]
    c = nets.cnn(6, 4, residual=True, style="pre")
    assert [n for n, _ in c.named_children()] == ["stem", "block1", "block2", "out_norm", "out_act", "pool",
                                                 "flatten", "out"]
    assert c(torch.randn(2, 1, 8, 8)).shape == (2, 10)


class _Scrambled(nn.Module):
    """Residual blocks nested two levels deep, registered in the opposite order to the one forward() uses."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(8, 3)
        self.stages = nn.ModuleList([nn.Sequential(nets.BasicBlock(8), nets.BasicBlock(8)) for _ in range(2)])
        self.stem = nn.Linear(4, 8)

    def forward(self, x):
        h = self.stem(x)
        for stage in reversed(self.stages):
            h = stage(h)
        return self.head(h)


def test_gradient_flow_reports_nested_residual_blocks_in_forward_order():
    model = _Scrambled()
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    with GradientFlow(model) as flow:
        nn.functional.cross_entropy(model(x), y).backward()
    expected = ["stem"] + [f"stages.{s}.{b}.layer{k}" for s in (1, 0) for b in (0, 1) for k in (1, 2)] + ["head"]
    assert list(flow.grad_norms()) == expected
    assert list(flow.backprop_norms()) == expected
    for name, norm in flow.grad_norms().items():
        assert norm == pytest.approx(float(model.get_submodule(name).weight.grad.norm()), rel=1e-6)
    # activation modules inside the blocks are found and reported in forward order too
    acts = list(flow.activation_stats())
    assert acts[:2] == ["stages.1.0.act1", "stages.1.0.act2"] and len(acts) == 8


def test_gradient_flow_on_cnn_and_block_mlp_in_forward_order():
    for model, x in ((nets.cnn(8, 4, residual=True), torch.randn(6, 1, 8, 8)),
                     (nets.block_mlp(8, 8, 4, 3, residual=True, style="pre"), torch.randn(6, 4))):
        with GradientFlow(model) as flow:
            model(x).sum().backward()
        names = list(flow.grad_norms())
        assert names == ["stem"] + [f"block{i}.layer{k}" for i in (1, 2, 3) for k in (1, 2)] + ["out"]
        assert all(v > 0 for v in flow.grad_norms().values())


def test_residual_skip_keeps_gradient_when_branch_vanishes():
    """A vanishing branch (sigmoid, standard init): the plain stack's input gradient collapses, the skip keeps it."""
    norms = {}
    for residual in (False, True):
        m = nets.block_mlp(42, 32, 8, 2, residual=residual, norm=None, activation="sigmoid", init="standard",
                           style="pre", seed=0)
        with GradientFlow(m, activations=False) as flow:
            m(torch.randn(64, 8)).sum().backward()
        g = list(flow.grad_norms().values())
        norms[residual] = g[0] / g[-1]
    assert norms[False] < 1e-12 < 1e-3 < norms[True]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: nets.block_mlp(7, 8, 2, 2), ValueError, "even"),
        (lambda: nets.block_mlp(2, 8, 2, 2), ValueError, ">= 4"),
        (lambda: nets.cnn(8, 0), ValueError, "channels"),
        (lambda: nets.cnn(8, 4, norm="group"), ValueError, "norm 'group' is not one of"),
        (lambda: nets.cnn(8, 4, style="middle"), ValueError, "style 'middle' is not one of: post, pre"),
        (lambda: nets.block_mlp(8, 4, 2, 2, residual="yes"), TypeError, "residual must be True or False"),
        (lambda: nets.BasicBlock(4, activation="sigmod"), ValueError, "activation 'sigmod'"),
        (lambda: nets.cnn(8, 4, init="kaiming"), ValueError, "init 'kaiming'"),
    ],
)
def test_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
