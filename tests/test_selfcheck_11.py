"""Lesson 11's self-check passes on good evidence and fails on each kind of broken evidence."""

import copy

import pytest

from rtxcourse.selfchecks import lesson11

PARTS = {"weights": 4000.0, "weight copies": 0.0, "gradients": 4000.0, "optimizer": 8000.0, "gathered": 0.0}


def good():
    """Evidence written by hand: a 1000-parameter model with Adam, fp32 and bf16, measured a little off."""
    return dict(
        estimated={("mlp", "fp32"): {**PARTS, "activations": 2000.0},
                   ("mlp", "bf16"): {**PARTS, "weight copies": 2000.0, "activations": 1000.0}},
        measured={("mlp", "fp32"): {**PARTS, "activations": 2100.0, "total": 18100.0},
                  ("mlp", "bf16"): {**PARTS, "weight copies": 1900.0, "activations": 1060.0, "total": 18960.0}},
        counted_forward_flops=1000.0, counted_training_flops=2900.0, formula_forward_flops=1000.0,
        formula_training_flops=3000.0, mfus=[0.010, 0.012, 0.009], predicted_epochs_s=[10.0, 9.0, 11.0],
        measured_epochs_s=[12.5, 30.0, 10.0], device="cpu")  # rounds: 0.8x, 0.3x (a stalled round), 1.1x


def test_good_evidence_passes(capsys):
    lesson11.check(**good())
    assert "✗" not in capsys.readouterr().out


def _fails(evidence, claim):
    with pytest.raises(AssertionError, match=claim):
        lesson11.check(**evidence)


def test_an_estimate_that_forgot_the_optimizer_states_fails():
    ev = good()
    for parts in ev["estimated"].values():
        parts["optimizer"] = 0.0
    _fails(ev, "estimated memory within 15%")


def test_activations_counted_in_the_wrong_dtype_fail():
    ev = good()
    ev["estimated"]["mlp", "bf16"]["activations"] = 2000.0  # 4 bytes per value in a bf16 run
    _fails(ev, "mlp bf16: estimated activations within 15%")


def test_an_fp32_run_labelled_bf16_fails():
    ev = good()
    ev["measured"]["mlp", "bf16"] = copy.deepcopy(ev["measured"]["mlp", "fp32"])
    ev["estimated"]["mlp", "bf16"] = copy.deepcopy(ev["estimated"]["mlp", "fp32"])
    _fails(ev, "the bf16 run keeps 16-bit activations")


def test_an_mfu_above_one_fails():
    ev = good()
    ev["mfus"] = [0.5, 1.5, 0.6]  # above the ceiling: a sparse peak, or FLOPs counted twice
    _fails(ev, "0 < MFU <= 1")


def test_a_formula_that_forgot_the_backward_pass_fails():
    ev = good()
    ev["formula_training_flops"] = 1000.0
    _fails(ev, "training FLOPs")


def test_a_forward_formula_counting_multiply_adds_fails():
    ev = good()
    ev["formula_forward_flops"] = 500.0
    _fails(ev, "forward FLOP formula")


def test_an_epoch_prediction_far_off_fails_and_the_bound_depends_on_the_device():
    ev = good()
    ev["predicted_epochs_s"] = [40.0, 100.0, 35.0]  # per-batch FLOPs taken per sample: 3.2x and more
    _fails(ev, "predicted epoch time within 3.0x")
    ev = good()
    ev["predicted_epochs_s"], ev["device"] = [18.0, 18.0, 18.0], "cuda"  # median 1.44x: fine on a shared CPU, not a GPU
    _fails(ev, "predicted epoch time within 1.3x")
    lesson11.check(**{**ev, "device": "cpu"})


def test_no_timing_rounds_fail():
    ev = good()
    ev["mfus"], ev["predicted_epochs_s"], ev["measured_epochs_s"] = [], [], []
    _fails(ev, "0 < MFU <= 1")
