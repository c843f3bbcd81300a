"""Lesson 03's self-check: each claim fails on realistic broken evidence (an fp32 run labelled bf16 among them)."""

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson03

rng = np.random.default_rng(0)
REFERENCE = np.exp2(rng.uniform(-40, -4, 10_000)).astype(np.float32)  # fp32 micro-step gradients
FP16 = np.where(np.abs(REFERENCE) < 2.0**-24, 0, REFERENCE)  # what fp16 flushes to zero
OBSERVED = {"linear (matmul)": "bfloat16", "conv2d": "bfloat16", "cross_entropy": "float32", "softmax": "bfloat16"}
SCALES = [2.0**36, 2.0**35, 2.0**34, 2.0**33] + [2.0**32] * 8 + [2.0**33] + [2.0**32] * 11
CHANGED = [False, False, False, False] + [True] * 8 + [False] + [True] * 11


def good():
    return dict(plan_dtype="bfloat16", observed=dict(OBSERVED), reference=REFERENCE,
                gradients={"fp16": FP16, "fp16 + GradScaler": REFERENCE.copy(), "bf16": REFERENCE.copy()},
                scales=list(SCALES), changed=list(CHANGED), nan_loss=float("nan"), nan_weight_change=0.0,
                rel_error={"fp32": 3e-8, "tf32": 6e-4, "bf16": 5e-3}, clip_norm=1.0, clipped_norm=0.9999,
                scale_at_clip=65536.0, accumulated_error=2e-4, restored_scale=4.3e9, saved_scale=4.3e9,
                fp32={"accuracy": 0.95, "loss": 0.12, "activations_MB": 2.0},
                mixed={"accuracy": 0.94, "loss": 0.14, "activations_MB": 1.0}, bce_refused=None)


def test_good_evidence_passes():
    lesson03.check(**good())


def test_a_float32_plan_checks_no_16bit_claims():
    e = good()
    e.update(plan_dtype="float32", observed={"linear (matmul)": "float32", "cross_entropy": "float32"},
             mixed=dict(e["fp32"]))
    lesson03.check(**e)


@pytest.mark.parametrize("broken, claim", [
    ({"observed": dict(OBSERVED, **{"linear (matmul)": "float32"})}, "matmuls run in the plan's dtype"),  # fp32 run labelled bf16
    ({"observed": dict(OBSERVED, cross_entropy="bfloat16")}, "the loss in float32"),
    ({"gradients": {"fp16": REFERENCE, "fp16 + GradScaler": REFERENCE, "bf16": REFERENCE}}, "unscaled fp16 loses"),
    ({"gradients": {"fp16": FP16, "fp16 + GradScaler": FP16, "bf16": REFERENCE}}, "GradScaler and bf16 keep"),  # scaler disabled
    ({"changed": [True] * 24}, "skips overflowing steps"),  # scaler.step ignored the inf
    ({"scales": [2.0**36] * 24}, "backs off"),  # forgot scaler.update()
    ({"nan_weight_change": 0.2}, "NaN batch's step is skipped"),
    ({"rel_error": {"fp32": 3e-8, "tf32": 3e-8, "bf16": 5e-3}}, "TF32 costs"),
    ({"clipped_norm": 65536.0 * 0.9}, "unscale_ before clip_grad_norm_"),  # clipped scaled grads, then unscaled
    ({"accumulated_error": 0.75}, "accumulating micro-batches"),  # scaler.update() between micro-batches
    ({"restored_scale": 65536.0}, "survives a checkpoint"),  # scaler state not saved
    ({"mixed": {"accuracy": 0.4, "loss": 1.5, "activations_MB": 1.0}}, "trains to float32's accuracy"),
    ({"mixed": {"accuracy": 0.94, "loss": 0.14, "activations_MB": 2.0}}, "half the activations"),
    ({"bce_refused": False}, "refuses F.binary_cross_entropy"),
])
def test_each_claim_fails_on_broken_evidence(broken, claim):
    with pytest.raises(AssertionError, match=claim):
        lesson03.check(**dict(good(), **broken))
