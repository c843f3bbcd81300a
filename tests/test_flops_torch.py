"""rtxcourse.flops_torch: torch's FlopCounterMode (with the gaps filled) against hand-computed counts."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from rtxcourse import flops_torch  # noqa: E402


def test_standard_depthwise_and_pointwise_convs():
    x = torch.zeros(2, 16, 8, 8)
    # 3x3, 16 -> 32, padding 1: 8*8*32 outputs of 3*3*16 products, 2 FLOPs each, batch 2
    c = flops_torch.count(nn.Conv2d(16, 32, 3, padding=1), x)
    assert (c.params, c.flops, c.batch) == (3 * 3 * 16 * 32 + 32, 2 * 2 * 8 * 8 * 32 * 144, 2)
    dw = flops_torch.count(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), x)
    assert (dw.params, dw.flops) == (144, 2 * 2 * 8 * 8 * 16 * 9)
    pw = flops_torch.count(nn.Conv2d(16, 24, 1), x)
    assert (pw.params, pw.flops) == (16 * 24 + 24, 2 * 2 * 8 * 8 * 16 * 24)


def test_dense_and_attention_include_the_attention_scores():
    assert flops_torch.count(nn.Linear(64, 10), torch.zeros(5, 64)).flops == 2 * 5 * 640
    mha = nn.MultiheadAttention(32, 4, batch_first=True)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = mha

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    # batch 2, 10 tokens: 4 projections 10*32*32 + QK^T and AV 2*10*10*32 multiply-adds per example
    expected = 2 * 2 * (4 * 10 * 32 * 32 + 2 * 10 * 10 * 32)
    x = torch.zeros(2, 10, 32)
    assert flops_torch.count(SelfAttention(), x).flops == expected
    with torch.no_grad():  # the fused no-grad fast path must not hide the FLOPs
        assert flops_torch.count(SelfAttention().eval(), x).flops == expected


def test_models_rows_add_up_and_mode_is_restored():
    from rtxcourse.models_torch import SeparableCNN

    model = SeparableCNN(1, 10, 8).train()
    c = flops_torch.count(model, torch.zeros(3, 1, 16, 16))
    assert model.training and c.params == sum(p.numel() for p in model.parameters())
    assert sum(r.flops for r in c.layers) == c.flops and sum(r.params for r in c.layers) == c.params
    # first conv 1 -> 8 on 16x16: 16*16*8*9 multiply-adds per example
    first = next(r for r in c.layers if r.name == "features.0")
    assert first.flops == 3 * 2 * 16 * 16 * 8 * 9 and first.params == 72


def test_functional_matmul_outside_layers_is_a_row_of_its_own():
    class Gram(nn.Module):
        def forward(self, x):
            return x @ x.T

    c = flops_torch.count(Gram(), torch.zeros(4, 6))
    assert c.flops == 2 * 4 * 4 * 6 and c.layers[-1].name == "(outside any layer)"


def test_bad_input():
    with pytest.raises(TypeError, match="needs a torch.nn.Module"):
        flops_torch.count(lambda x: x, torch.zeros(1))
    with pytest.raises(TypeError, match="example input tensor"):
        flops_torch.count(nn.Linear(2, 2))
