"""Lesson 11's self-check passes on good evidence and fails on each kind of broken evidence,
in the three shapes a kernel can have: PyTorch only, TensorFlow only, both."""

import copy
import re

import pytest

from rtxcourse.selfchecks import lesson11

PARTS = {"weights": 4000.0, "weight copies": 0.0, "gradients": 4000.0, "optimizer": 8000.0, "gathered": 0.0}
SHAPES = {"torch": {"torch"}, "tf": {"tf"}, "both": {"torch", "tf"}}


def framework_evidence(fw):
    """Evidence written by hand: a 1000-parameter model with Adam, fp32 and bf16, measured a little off."""
    return dict(
        estimated={("mlp", "fp32"): {**PARTS, "activations": 2000.0},
                   ("mlp", "bf16"): {**PARTS, "weight copies": 2000.0, "activations": 1000.0}},
        measured={("mlp", "fp32"): {**PARTS, "activations": 2100.0, "total": 18100.0},
                  ("mlp", "bf16"): {**PARTS, "weight copies": 1900.0, "activations": 1060.0, "total": 18960.0}},
        memory_source="measured" if fw == "torch" else "counted Keras tensors",
        forward_flops=(1000.0, 1000.0), training_flops=(3000.0, 2900.0) if fw == "torch" else None,
        params=(1000, 1000), mfus=[0.010, 0.012, 0.009], predicted_epochs_s=[10.0, 9.0, 11.0],
        measured_epochs_s=[12.5, 30.0, 10.0])  # rounds: 0.8x, 0.3x (a stalled round), 1.1x


def good(shape="both"):
    ran = SHAPES[shape]
    return dict(ran=set(ran), bytes_per_param={("fp32", "sgd"): 8.0, ("fp32", "momentum"): 12.0, ("fp32", "adam"): 16.0,
                                               ("bf16", "adam"): 18.0},
                shard_totals={"none": 120e9, "zero1": 75e9, "zero2": 52e9, "zero3": 16e9},
                activations=(80e9, 11e9), device="cpu",
                **{fw: (framework_evidence(fw) if fw in ran else None) for fw in ("torch", "tf")})


def _fails(evidence, claim):
    with pytest.raises(AssertionError, match=claim):
        lesson11.check(**evidence)


@pytest.mark.parametrize("shape", SHAPES)
def test_good_evidence_passes(shape, capsys):
    lesson11.check(**good(shape))
    out = capsys.readouterr().out
    assert "✗" not in out
    for fw in ("torch", "tf"):
        assert (f"{fw}: predicted epoch time" in out) == (fw in SHAPES[shape])


# --------------------------------------------------------------------------- framework-neutral claims, every shape


@pytest.mark.parametrize("shape", SHAPES)
def test_mixed_precision_counted_as_halving_the_bytes_fails(shape):
    ev = good(shape)
    ev["bytes_per_param"]["bf16", "adam"] = 8.0  # the seed's myth: 16-bit everything
    _fails(ev, "bf16 \\+ adam costs 18 B/param")


@pytest.mark.parametrize("shape", SHAPES)
def test_an_estimate_without_adam_states_fails(shape):
    ev = good(shape)
    ev["bytes_per_param"]["fp32", "adam"] = 8.0
    _fails(ev, "fp32 \\+ adam costs 16 B/param")
    ev = good(shape)
    ev["bytes_per_param"]["fp32", "sgd"] = 16.0  # SGD given Adam's two states
    _fails(ev, "fp32 \\+ sgd costs 8 B/param")


@pytest.mark.parametrize("shape", SHAPES)
def test_zero3_that_shards_nothing_more_fails(shape):
    ev = good(shape)
    ev["shard_totals"]["zero3"] = ev["shard_totals"]["zero2"]  # weights not divided by the GPUs
    _fails(ev, "each ZeRO stage shrinks")


@pytest.mark.parametrize("shape", SHAPES)
def test_checkpointing_that_keeps_everything_fails(shape):
    ev = good(shape)
    ev["activations"] = (80e9, 80e9)
    _fails(ev, "activation checkpointing keeps fewer")


# --------------------------------------------------------------------------- what ran, and its evidence


@pytest.mark.parametrize("fw", ["torch", "tf"])
def test_a_section_that_ran_without_its_evidence_fails(fw):
    ev = good(fw)
    ev[fw] = None  # the section ran, but its evidence cell failed or was skipped
    _fails(ev, f"{fw}: evidence given exactly when its section ran")


@pytest.mark.parametrize("fw", ["torch", "tf"])
def test_evidence_of_a_section_that_did_not_run_fails(fw):
    ev = good("tf" if fw == "torch" else "torch")
    ev[fw] = framework_evidence(fw)  # stale numbers from another kernel
    _fails(ev, f"{fw}: evidence given exactly when its section ran")


CASES = {  # broken evidence of one framework: (break it, the claim that must fail)
    "forgot the optimizer states": (lambda e: [p.update(optimizer=0.0) for p in e["estimated"].values()],
                                    "mlp fp32: estimated memory within 15%"),
    "activations in the wrong dtype": (lambda e: e["estimated"]["mlp", "bf16"].update(activations=2000.0),
                                       "mlp bf16: estimated activations within 15%"),
    "an fp32 run labelled bf16": (lambda e: (e["measured"].update({("mlp", "bf16"): copy.deepcopy(e["measured"]["mlp", "fp32"])}),
                                             e["estimated"].update({("mlp", "bf16"): copy.deepcopy(e["estimated"]["mlp", "fp32"])})),
                                  "mlp: the bf16 run keeps 16-bit activations"),
    "no memory measured": (lambda e: (e["measured"].clear(), e["estimated"].clear()), "memory was measured"),
    "forward counted as multiply-adds": (lambda e: e.update(forward_flops=(500.0, 1000.0)), "forward FLOP formula"),
    "a layer the estimator forgot": (lambda e: e.update(params=(900, 1000)), "parameter count equals"),
    "an MFU above one": (lambda e: e.update(mfus=[0.5, 1.5, 0.6]), "0 < MFU <= 1"),
    "no timing rounds": (lambda e: e.update(mfus=[], predicted_epochs_s=[], measured_epochs_s=[]), "0 < MFU <= 1"),
    "an epoch prediction far off": (lambda e: e.update(predicted_epochs_s=[40.0, 100.0, 35.0]),
                                    "predicted epoch time within 3.0x"),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("case", CASES)
def test_broken_evidence_of_each_framework_that_ran_fails(shape, case):
    breaks, claim = CASES[case]
    for fw in sorted(SHAPES[shape]):
        ev = good(shape)
        breaks(ev[fw])
        _fails(ev, rf"{fw}\b[^;]*{re.escape(claim)}")  # the claim of the framework whose evidence broke


@pytest.mark.parametrize("shape", ["torch", "both"])
def test_a_training_formula_without_the_backward_pass_fails(shape):
    ev = good(shape)
    ev["torch"]["training_flops"] = (1000.0, 2900.0)
    _fails(ev, "torch: training FLOPs")


def test_the_epoch_bound_depends_on_the_device():
    ev = good("both")
    for fw in ("torch", "tf"):
        ev[fw]["predicted_epochs_s"] = [18.0, 18.0, 18.0]  # median 1.44x: fine on a shared CPU, not on a GPU
    lesson11.check(**ev)
    _fails({**ev, "device": "cuda"}, "predicted epoch time within 1.3x")
