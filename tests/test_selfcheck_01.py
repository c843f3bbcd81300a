"""Lesson 01's self-check: each claim fails on realistic broken evidence; absent frameworks are not checked."""

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson01

# Independent of rtxcourse.precision: the IEEE / bfloat16 / OCP fp8 constants themselves.
TORCH_LIMITS = {"fp32": (3.4028234663852886e38, 2**-23, 2**-126), "fp16": (65504.0, 2**-10, 2**-14),
                "bf16": (3.3895313892515355e38, 2**-7, 2**-126), "fp8_e4m3": (448.0, 0.125, 2**-6),
                "fp8_e5m2": (57344.0, 0.25, 2**-14)}
RATES = {"fp32": {256: 2e10, 1024: 1e11}, "bf16": {256: 5e10, 1024: 3e11}, "fp16": {256: 2e9}}


def _gradients():
    # log-uniform magnitudes from 2^-40 to 2^-2: some below fp16's smallest subnormal (2^-24)
    rng = np.random.default_rng(0)
    return np.exp2(rng.uniform(-40, -2, 20_000)) * rng.choice([-1, 1], 20_000)


def good():
    return dict(limits={"torch": TORCH_LIMITS, "tf": {k: TORCH_LIMITS[k] for k in ("fp32", "fp16", "bf16")}},
                tf32_defaults={"torch matmul": "none", "torch conv": "tf32", "tf": True},
                sums={"fp32": 100.0029, "fp16": 32.0, "bf16": 4.0},
                softmax={"fp32": np.array([0.9998, 1.2e-4, 8e-7]), "fp16": np.array([np.nan, 0.0, 0.0]),
                         "bf16": np.array([1.0, 1.2e-4, 8e-7])},
                gradients=_gradients(),
                matmul={"torch": {"rates": RATES, "low": "bf16", "floor": 1.4, "device": "cpu"}},
                mfus={"torch fp32": 0.3, "torch bf16": 0.05, "tf fp32": None})


def test_good_evidence_passes():
    lesson01.check(**good())


def test_a_one_framework_kernel_checks_what_ran(capsys):
    """A TensorFlow-only learner: no torch limits, no torch TF32 flags, no torch matmul."""
    e = good()
    e["limits"] = {"tf": e["limits"]["tf"]}
    e["tf32_defaults"] = {"tf": True}
    e["matmul"] = {"tf": dict(e["matmul"]["torch"])}
    lesson01.check(**e)
    out = capsys.readouterr().out
    assert "tf's dtype limits" in out and "torch's dtype limits" not in out and "PyTorch: cuDNN" not in out


def test_no_promised_speedup_is_only_reported(capsys):
    e = good()
    e["matmul"]["torch"].update(floor=None, rates={"fp32": {256: 1e10}, "bf16": {256: 0.5e10}})
    lesson01.check(**e)
    assert "no 16-bit speed-up expected" in capsys.readouterr().out


def _broken(path, value):
    e = good()
    *keys, last = path
    target = e
    for k in keys:
        target = target[k]
    target[last] = value
    return e


@pytest.mark.parametrize("path, value, claim", [
    (("limits", "torch", "fp16"), (65536.0, 2**-10, 2**-14), "torch's dtype limits"),  # a 2^16 "max"
    (("limits", "tf", "bf16"), (3.4028234663852886e38, 2**-7, 2**-126), "tf's dtype limits"),  # fp32's max for bf16
    (("tf32_defaults", "tf"), False, "TensorFlow runs float32 matmuls"),
    (("tf32_defaults", "torch matmul"), "tf32", "PyTorch: cuDNN convolutions default to TF32"),
    (("sums", "bf16"), 100.0, "running sum of 0.01 stalls"),  # summed in fp32 behind the label
    (("softmax", "fp16"), np.array([0.9998, 1.2e-4, 8e-7]), "exp\\(12\\) overflows fp16"),
    (("gradients",), np.exp2(np.random.default_rng(1).uniform(-20, -2, 5000)), "fp16 flushes real gradients"),
    (("matmul", "torch", "rates", "bf16"), {256: 2e10, 1024: 1.1e11}, "torch: bf16 matmuls beat strict fp32"),
    (("mfus", "torch bf16"), 1.7, "MFU of the torch bf16 step"),  # a measured rate used as the "peak"
    (("mfus", "torch fp32"), 0.0, "MFU of the torch fp32 step"),
])
def test_each_claim_fails_on_broken_evidence(path, value, claim):
    with pytest.raises(AssertionError, match=claim):
        lesson01.check(**_broken(path, value))
