"""Lesson 06's self-check passes on good evidence and fails, claim by claim, on realistic broken evidence.

Each claim is broken in each install shape: PyTorch only, TensorFlow only, and both. The good
evidence is worked out by hand here (an 8x8x16 -> 32 layer, k = 3), never with the formulas
under test.
"""

import copy

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson06

RNG = np.random.default_rng(0)
OUT = RNG.standard_normal((2, 8, 8, 32)).astype("float32")
SHAPES = {"torch only": {"torch"}, "tf only": {"tf"}, "both": {"torch", "tf"}}
NAME = {"torch": "PyTorch", "tf": "TensorFlow"}


def good(ran):
    # depthwise 9*16 + pointwise 16*32 + 32 bias; 64 pixels * (144 + 512) multiply-adds, 2 FLOPs each
    counted = dict(separable_params=688, separable_flops=83_968, standard_params=4608, standard_flops=589_824)
    cnn = {"torch": {"standard": dict(params=18_482, flops=1_217_152, accuracy=0.971, step_times=[0.0188, 0.05, 0.019]),
                     "separable": dict(params=3_330, flops=246_912, accuracy=0.898, step_times=[0.0211, 0.021, 0.09])},
           "tf": {"standard": dict(params=18_482, flops=1_217_152, accuracy=0.944, step_times=[0.0153, 0.0151, 0.0160]),
                  "separable": dict(params=3_330, flops=246_912, accuracy=0.871, step_times=[0.0129, 0.0131, 0.0125])}}
    convs = {"torch": dict(standard_rate=55.9e9, depthwise_rate=5.2e9, bandwidth=4.5e9, peak_flops=61.8e9,
                           depthwise_intensity=2.2),
             "tf": dict(standard_rate=31.0e9, depthwise_rate=1.9e9, bandwidth=3.1e9, peak_flops=48.0e9,
                        depthwise_intensity=2.2)}
    both = ran == {"torch", "tf"}
    return dict(
        ran=set(ran),
        layer=dict(h=8, w=8, c_in=16, c_out=32, k=3, bias=True),
        counted={fw: dict(counted) for fw in ran},
        # expansion 2, hidden 16: expand 8*16 + BN 32, depthwise 9*16 + BN 32, project 16*8 + BN 16
        block=dict(c_in=8, c_out=8, expansion=2, params={fw: 480 for fw in ran}),
        outputs={"separable layer": (OUT, OUT + 2e-7) if both else None,
                 "MobileNet block": (OUT[:, :4], OUT[:, :4] - 1e-7) if both else None},
        cnn={fw: cnn[fw] for fw in ran},
        convs={fw: convs[fw] for fw in ran},
    )


@pytest.mark.parametrize("shape, claims", [("torch only", 12), ("tf only", 12), ("both", 25)])
def test_good_evidence_passes(shape, claims, capsys):
    lesson06.check(**good(SHAPES[shape]))
    out = capsys.readouterr().out
    assert f"all {claims} claims hold" in out
    assert out.count("not compared across frameworks") == (0 if shape == "both" else 2)


def _broken(ev, path, value):
    ev = copy.deepcopy(ev)
    *keys, last = path
    target = ev
    for k in keys:
        target = target[k]
    target[last] = value
    return ev


# (path below the framework's entry, broken value, claim): the mistakes a lesson really makes.
PER_FRAMEWORK = [
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
    # the "separable" CNN that is the standard one
    (("cnn", "separable"), dict(params=18_482, flops=1_217_152, accuracy=0.97, step_times=[0.0188, 0.05, 0.019]),
     "at most half the standard CNN's parameters and FLOPs"),
    # BatchNorm statistics never caught up: chance accuracy at inference
    (("cnn", "separable", "accuracy"), 0.10, "both CNNs learned"),
    # a step timed without running it (e.g. queued GPU work, no synchronisation)
    (("cnn", "separable", "step_times"), [0.0005, 0.0004, 0.05], "step time falls less than its FLOPs"),
    # intensity taken from the standard conv's count
    (("convs", "depthwise_intensity"), 139.0, "left of the ridge point"),
    # the depthwise rate computed with the standard conv's FLOPs as its work
    (("convs", "depthwise_rate"), 5.2e9 * 64, "less than half the standard conv's FLOP/s"),
]


def _path(path, fw):
    # block params are keyed by framework one level down: block -> params -> fw
    return ("block", "params", fw) if path == ("block", "params") else (path[0], fw, *path[1:])


@pytest.mark.parametrize("shape, fw", [(s, fw) for s, ran in SHAPES.items() for fw in sorted(ran)])
@pytest.mark.parametrize("path, value, claim", PER_FRAMEWORK, ids=[f"{p[-1]}={v}"[:40] for p, v, _ in PER_FRAMEWORK])
def test_each_claim_fails_on_broken_evidence(shape, fw, path, value, claim):
    with pytest.raises(AssertionError) as info:
        lesson06.check(**_broken(good(SHAPES[shape]), _path(path, fw), value))
    message = str(info.value)
    assert f"{NAME[fw]}: " in message and claim in message
    other = ({"torch", "tf"} - {fw}).pop()
    assert f"{NAME[other]}: " not in message  # the other framework's good evidence still passes


@pytest.mark.parametrize("name, pair", [
    # weights copied without the transpose: same shapes, other numbers
    ("separable layer", (OUT, RNG.standard_normal(OUT.shape))),
    # the torch output compared in NCHW against Keras' NHWC
    ("MobileNet block", (OUT, OUT.transpose(0, 3, 1, 2))),
    # both frameworks ran but the comparison cell recorded nothing
    ("separable layer", None),
])
def test_cross_framework_outputs_fail_when_both_ran(name, pair):
    with pytest.raises(AssertionError, match=f"same {name} outputs"):
        lesson06.check(**_broken(good(SHAPES["both"]), ("outputs", name), pair))


@pytest.mark.parametrize("shape", ["torch only", "tf only", "both"])
def test_a_framework_that_ran_must_leave_its_evidence(shape):
    ran = SHAPES[shape]
    ev = good(ran)
    fw = sorted(ran)[0]
    del ev["cnn"][fw]  # e.g. the training cell's results never stored
    with pytest.raises(AssertionError, match=f"{NAME[fw]}: every section that ran left its evidence"):
        lesson06.check(**ev)


def test_nothing_ran_fails():
    ev = good(set())
    with pytest.raises(AssertionError, match="at least one framework ran"):
        lesson06.check(**ev)


def test_block_formula_without_expansion():
    # expansion 1: no expand conv; depthwise 9*8 + BN 16, project 8*16 + BN 32
    assert lesson06.block_params(8, 16, 1) == 72 + 16 + 128 + 32
