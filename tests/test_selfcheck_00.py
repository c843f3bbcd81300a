"""Lesson 00's self-check: each claim fails on realistic broken evidence."""

import pytest

from rtxcourse.selfchecks import lesson00

GOOD = dict(doctor_errors={}, n_gpus=1, tier="1-gpu", doctor_tier="1-gpu", forced_tier=None,
            fast="bfloat16", slow="float32", speedup=6.0, floor=2.0, typical="Tensor Cores: 2-15x")


def test_good_evidence_passes(capsys):
    lesson00.check(**GOOD)
    assert "all 4 claims hold" in capsys.readouterr().out


def test_a_forced_cpu_tier_on_a_gpu_machine_is_right():
    """The foundation bug: RTXCOURSE_TIER=cpu on a GPU box must pass, not fail."""
    lesson00.check(**dict(GOOD, tier="cpu", doctor_tier="cpu", forced_tier="cpu"))


def test_no_promised_speedup_is_only_reported(capsys):
    lesson00.check(**dict(GOOD, speedup=0.9, floor=None, typical="no fast 16-bit path here"))
    assert "0.90x" in capsys.readouterr().out


@pytest.mark.parametrize("broken, claim", [
    ({"doctor_errors": {"torch": "ImportError: libcudart.so.12"}}, "the doctor ran without errors"),
    ({"tier": "cpu", "doctor_tier": "cpu"}, "tier follows the GPUs found"),  # one GPU, tier recomputed wrongly
    ({"n_gpus": 2}, "tier follows the GPUs found"),
    ({"doctor_tier": "multi-gpu"}, "the doctor and the lesson agree"),
    ({"speedup": 1.1}, "bfloat16 matmuls beat float32"),  # a GPU whose bf16 path silently fell back
])
def test_each_claim_fails_on_broken_evidence(broken, claim):
    with pytest.raises(AssertionError, match=claim):
        lesson00.check(**dict(GOOD, **broken))
