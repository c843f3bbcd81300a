"""Lesson 02's self-check: each claim fails on realistic broken evidence."""

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson02


def good():
    return dict(policy_compute="bfloat16", layer_output="bfloat16", kernel="float32", model_output="float32",
                global_after="float32", price16=np.array([np.inf]), price32=np.array([120000.0]),
                probs16=np.array([[1.0, 0.0, 0.0]]), probs32=np.array([[1.0, 2.1e-9, 1.4e-11]]),
                fit_optimizer="LossScaleOptimizer", fit_losses=[1.9, 0.6, 0.3], loop_losses=[2.3, 1.0, 0.2],
                nan_loss=float("nan"), nan_weight_change=0.0, scale_before=32768.0, scale_after=16384.0,
                clipnorm_error="LossScaleOptimizer does not support `clipnorm`. Instead, set `clipnorm` on the `inner_optimizer`.",
                clipped_losses=[2.3, 0.9, 0.4], fp32_accuracy=0.93, mixed_accuracy=0.92, mixed=True,
                custom_errors={"NaiveScale": "cannot compute Mul as input #1 was expected to be a bfloat16 tensor"},
                custom_dtypes={"UpcastScale": "float32", "PolicyScale": "bfloat16"},
                bf16_running_sum=256.0, fp32_running_sum=1000.0, n_added=1000,
                tf32_speedup=None, tf32_floor=None)


def test_good_evidence_passes():
    lesson02.check(**good())


def test_tf32_is_checked_only_where_the_datasheet_promises_it():
    lesson02.check(**dict(good(), tf32_speedup=1.0, tf32_floor=None))  # a CPU or a GeForce card: reported only
    lesson02.check(**dict(good(), tf32_speedup=5.2, tf32_floor=1.5))


@pytest.mark.parametrize("broken, claim", [
    ({"layer_output": "float32"}, "computes in its dtype"),  # an fp32 run labelled mixed_bfloat16
    ({"kernel": "bfloat16"}, "keeps float32 variables"),  # a plain "bfloat16" policy instead of mixed_
    ({"model_output": "bfloat16"}, "logits are float32"),
    ({"global_after": "mixed_bfloat16"}, "global policy is restored"),
    ({"price16": np.array([120000.0])}, "fp16 regression head overflows"),
    ({"probs16": np.array([[1.0, 2.1e-9, 1.4e-11]])}, "16-bit softmax loses"),  # computed in fp32 behind the label
    ({"fit_optimizer": "Adam"}, "compile wraps the optimizer"),
    ({"loop_losses": [2.3, 2.2, 2.1]}, "custom loop learns"),
    ({"nan_weight_change": 0.37}, "NaN batch is skipped"),
    ({"scale_after": 32768.0}, "NaN batch is skipped"),
    ({"clipnorm_error": ""}, "refuses clipnorm"),
    ({"clipped_losses": [2.3, float("nan"), float("nan")]}, "refuses clipnorm; on the inner optimizer it trains"),
    ({"mixed_accuracy": 0.6}, "reaches float32's test accuracy"),
    ({"custom_errors": {}}, "float32 constant clashes"),
    ({"bf16_running_sum": 1000.0}, "running sum kept in bf16 stalls"),  # the sum ran in fp32 behind the label
    ({"tf32_speedup": 1.02, "tf32_floor": 1.5}, "TF32 beats strict fp32"),
])
def test_each_claim_fails_on_broken_evidence(broken, claim):
    with pytest.raises(AssertionError, match=claim):
        lesson02.check(**dict(good(), **broken))
