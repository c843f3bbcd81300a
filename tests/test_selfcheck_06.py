"""Lesson 06's self-check passes on good evidence and fails, claim by claim, on realistic broken evidence.

The good evidence is worked out by hand here (an 8x8x16 -> 32 layer, k = 3), never with the
formulas under test.
"""

import copy

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson06

RNG = np.random.default_rng(0)
OUT = RNG.standard_normal((2, 8, 8, 32)).astype("float32")


def good():
    return dict(
        layer=dict(h=8, w=8, c_in=16, c_out=32, k=3, bias=True),
        # depthwise 9*16 + pointwise 16*32 + 32 bias; 64 pixels * (144 + 512) multiply-adds, 2 FLOPs each
        counted=dict(separable_params=688, separable_flops=83_968, standard_params=4608, standard_flops=589_824),
        # expansion 2, hidden 16: expand 8*16 + BN 32, depthwise 9*16 + BN 32, project 16*8 + BN 16
        block=dict(c_in=8, c_out=8, expansion=2, params=480),
        outputs={"separable layer": (OUT, OUT + 2e-7), "MobileNet block": (OUT[:, :4], OUT[:, :4] - 1e-7)},
        cnn={"standard": dict(params=18_482, flops=1_217_152, accuracy=0.971, step_s=0.0188),
             "separable": dict(params=3_330, flops=246_912, accuracy=0.898, step_s=0.0211)},
        convs=dict(standard_rate=55.9e9, depthwise_rate=5.2e9, bandwidth=4.5e9, peak_flops=61.8e9, depthwise_intensity=2.2),
    )


def test_good_evidence_passes(capsys):
    lesson06.check(**good())
    assert "all 12 claims hold" in capsys.readouterr().out


def test_tensorflow_skipped_leaves_its_claims_out(capsys):
    ev = good()
    ev["outputs"] = {"separable layer": None, "MobileNet block": None}
    lesson06.check(**ev)
    out = capsys.readouterr().out
    assert "all 10 claims hold" in out and out.count("TensorFlow sections skipped") == 2


def _broken(path, value):
    ev = copy.deepcopy(good())
    *keys, last = path
    target = ev
    for k in keys:
        target = target[k]
    target[last] = value
    return ev


@pytest.mark.parametrize("path, value, claim", [
    # a count that forgot the pointwise bias (the layer has one)
    (("counted", "separable_params"), 656, "the separable layer has the analytic parameter count exactly"),
    # a "separable" layer that is really a full 3x3 conv (with bias)
    (("counted", "separable_params"), 4640, "the separable layer has the analytic parameter count exactly"),
    (("counted", "separable_flops"), 589_824, "its counted FLOPs are the formula's"),
    # multiply-adds reported as FLOPs (the factor 2 forgotten)
    (("counted", "separable_flops"), 41_984, "its counted FLOPs are the formula's"),
    # the standard conv built with a bias: its count and the reduction ratio are off
    (("counted", "standard_params"), 4640, "the standard conv's counts are the formula's"),
    (("counted", "standard_params"), 4640, "separable / standard = 1/N + 1/k"),
    # BatchNorm's scale and shift left out of the block's count
    (("block", "params"), 400, "the MobileNet block has the analytic parameter count"),
    # weights copied without the transpose: same shapes, other numbers
    (("outputs", "separable layer"), (OUT, RNG.standard_normal(OUT.shape)), "same separable layer outputs"),
    # the torch output compared in NCHW against Keras' NHWC
    (("outputs", "MobileNet block"), (OUT, OUT.transpose(0, 3, 1, 2)), "same MobileNet block outputs"),
    # the "separable" CNN that is the standard one
    (("cnn", "separable"), dict(params=18_482, flops=1_217_152, accuracy=0.97, step_s=0.0188),
     "at most half the standard CNN's parameters and FLOPs"),
    # BatchNorm statistics never caught up: chance accuracy at inference
    (("cnn", "separable", "accuracy"), 0.10, "both CNNs learned"),
    # a step timed without running it (e.g. queued GPU work, no synchronisation)
    (("cnn", "separable", "step_s"), 0.0005, "step time falls less than its FLOPs"),
    # intensity taken from the standard conv's count
    (("convs", "depthwise_intensity"), 139.0, "left of the ridge point"),
    # the depthwise rate computed with the standard conv's FLOPs as its work
    (("convs", "depthwise_rate"), 5.2e9 * 64, "less than half the standard conv's FLOP/s"),
])
def test_each_claim_fails_on_broken_evidence(path, value, claim):
    with pytest.raises(AssertionError) as info:
        lesson06.check(**_broken(path, value))
    assert claim in str(info.value)


def test_block_formula_without_expansion():
    # expansion 1: no expand conv; depthwise 9*8 + BN 16, project 8*16 + BN 32
    assert lesson06.block_params(8, 16, 1) == 72 + 16 + 128 + 32
