"""rtxcourse.flops: every formula against numbers worked out by hand in the test."""

import pytest

from rtxcourse import flops as F


def test_standard_conv_counts():
    # 3x3 conv, 32x32x16 -> 32 channels, "same": 3*3*16*32 = 4608 weights + 32 biases;
    # each of the 32*32*32 outputs sums 3*3*16 = 144 products.
    c = F.conv2d(32, 32, 16, 32, 3)
    assert (c.params, c.macs, c.flops, c.out_shape) == (4640, 32 * 32 * 32 * 144, 2 * 32 * 32 * 32 * 144, (32, 32, 32))
    # stride 2 "same" -> ceil(32/2)=16; "valid" -> 30; padding 1 -> 32; no bias
    assert F.conv2d(32, 32, 16, 32, 3, stride=2).out_shape == (16, 16, 32)
    assert F.conv2d(32, 32, 16, 32, 3, padding="valid").out_shape == (30, 30, 32)
    assert F.conv2d(33, 33, 16, 32, 3, stride=2, padding=1, bias=False).out_shape[:2] == (17, 17)
    assert F.conv2d(8, 8, 4, 4, 3, bias=False).params == 144


def test_grouped_depthwise_and_pointwise_counts():
    # groups=2 halves the weights: 3*3*(16/2)*32 = 2304
    assert F.conv2d(8, 8, 16, 32, 3, groups=2, bias=False).params == 2304
    # depthwise 5x5 on 16 channels: 25 weights per channel = 400 (+16 bias); 10*10*16*25 macs
    d = F.depthwise_conv2d(10, 10, 16, 5)
    assert (d.params, d.macs) == (416, 10 * 10 * 16 * 25)
    assert F.depthwise_conv2d(10, 10, 16, 3, multiplier=2, bias=False).params == 16 * 2 * 9
    # pointwise 16 -> 64: 1024 weights + 64; 10*10*1024 macs
    p = F.pointwise_conv2d(10, 10, 16, 64)
    assert (p.params, p.macs) == (1088, 102_400)
    s = F.separable_conv2d(10, 10, 16, 64, 3)  # depthwise without bias + pointwise with bias
    assert (s.params, s.macs) == (16 * 9 + 16 * 64 + 64, 100 * 16 * 9 + 100 * 16 * 64)


def test_reduction_factor_matches_the_counted_ratio():
    assert F.separable_reduction(64, 3) == pytest.approx(1 / 64 + 1 / 9)
    std = F.conv2d(16, 16, 32, 64, 3, bias=False)
    sep = F.separable_conv2d(16, 16, 32, 64, 3, bias=False)
    # (9*32 + 32*64) / (9*32*64) = 2336 / 18432
    assert sep.params / std.params == pytest.approx(2336 / 18432)
    assert sep.macs / std.macs == pytest.approx(2336 / 18432)


def test_dense_and_attention_counts():
    d = F.dense(64, 10)
    assert (d.params, d.macs) == (650, 640)
    assert F.dense(32, 128, tokens=10, bias=False).macs == 40_960
    # 4 projections of 32x32 (+32 bias each) on 10 tokens, then QK^T and AV: 2 * 10*10*32
    a = F.attention(10, 32, 4)
    assert a.params == 4 * (32 * 32 + 32)
    assert a.macs == 4 * 10 * 32 * 32 + 2 * 10 * 10 * 32
    assert F.attention(10, 32, 4, kv_len=20).macs == 2 * 10 * 32 * 32 + 2 * 20 * 32 * 32 + 2 * 10 * 20 * 32


def test_counts_add_in_sequence_and_intensity():
    a, b = F.pointwise_conv2d(4, 4, 2, 8), F.pointwise_conv2d(4, 4, 8, 2)
    both = a + b
    assert (both.params, both.macs, both.out_shape) == (a.params + b.params, a.macs + b.macs, (4, 4, 2))
    # pointwise 4x4x2 -> 8, batch 1, fp32: 2*256 FLOPs over (32 + 128 + 24) * 4 bytes
    assert F.arithmetic_intensity(a) == pytest.approx(512 / (184 * 4))
    # 56x56x128 in and out, batch 32, fp32: depthwise 2*9 FLOPs per output value, standard 2*9*128.
    # Bytes: 32 * 2 * 56*56*128 values (+ the weights) * 4.
    dw = F.depthwise_conv2d(56, 56, 128, 3, bias=False)
    std = F.conv2d(56, 56, 128, 128, 3, bias=False)
    values = 32 * 2 * 56 * 56 * 128
    assert F.arithmetic_intensity(dw, 32) == pytest.approx(32 * 2 * 56 * 56 * 128 * 9 / ((values + 128 * 9) * 4))
    assert F.arithmetic_intensity(std, 32) == pytest.approx(32 * 2 * 56 * 56 * 128 * 9 * 128 / ((values + 128 * 128 * 9) * 4))


def test_roofline():
    # 100 GFLOP/s peak, 10 GB/s: ridge at 10 FLOP/B
    assert list(F.roofline([1, 10, 100], 100e9, 10e9)) == [10e9, 100e9, 100e9]
    assert F.roofline(2.5, 100e9, 10e9) == 25e9
    with pytest.raises(ValueError, match="must be > 0"):
        F.roofline(1, 0, 1)


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(8, 8, 6, 8, 3, groups=4), "groups=4 must divide both c_in=6 and c_out=8"),
    (lambda: F.conv2d(4, 4, 3, 8, 5), "kernel 5x5 is larger than the 4x4 input"),
    (lambda: F.depthwise_conv2d(2, 8, 3, 3), "larger than the 2x8 input"),
    (lambda: F.conv2d(8, 8, 3, 0, 3), "c_out must be a positive integer, got 0"),
    (lambda: F.conv2d(8, 8, 3, 8, 3, padding="full"), "padding must be 'same', 'valid' or an int"),
    (lambda: F.attention(8, 30, 4), "d_model=30 must be divisible by n_heads=4"),
    (lambda: F.dense(2.5, 3), "in_features must be a positive integer"),
    (lambda: F.arithmetic_intensity(F.Count(0, 0)), "moves no data"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_model_count_table():
    rows = [F.LayerCount("conv", "Conv2d", 10, 400), F.LayerCount("relu", "ReLU", 0, 0)]
    c = F.ModelCount(params=10, flops=400, batch=4, layers=rows, source="by hand")
    assert c.flops_per_example == 100
    table = c.table()
    assert "conv" in table and "relu" not in table and "(by hand)" in table and table.splitlines()[-2].split()[-1] == "100"
