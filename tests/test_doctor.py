"""rtxcourse.doctor: the doctor's tier and precision come from the course's one rule for each."""

import pytest

from rtxcourse import doctor, hardware, precision

AVX2_CPU = {"features": {"avx512_bf16": False, "amx_bf16": False}}
AMX_CPU = {"features": {"avx512_bf16": False, "amx_bf16": True}}


def _gpu(cap, i=0):
    return hardware.GPU(i, "some GPU", 16.0, cap).to_dict()


def test_two_hoppers_get_bf16_and_multi_gpu(monkeypatch):
    monkeypatch.delenv("RTXCOURSE_TIER", raising=False)
    rec = doctor.recommend([_gpu((9, 0)), _gpu((9, 0), 1)], AVX2_CPU)
    assert rec["tier"] == "multi-gpu" and rec["plan"]["dtype"] == "bfloat16" and rec["plan"]["tf32"]
    assert "bf16" in rec["precision"] and not rec["tier_forced"]


def test_pre_ampere_gpu_gets_fp16_with_loss_scaling(monkeypatch):
    monkeypatch.delenv("RTXCOURSE_TIER", raising=False)
    rec = doctor.recommend([_gpu((7, 5))], AVX2_CPU)
    assert rec["tier"] == "1-gpu" and rec["plan"] == {"device": "cuda", "dtype": "float16", "loss_scaling": True, "tf32": False}
    assert "loss scaling" in rec["precision"]


def test_the_weakest_gpu_decides():
    """An A100 next to a T4: the T4 has no bf16, so the job that uses both must run fp16."""
    assert doctor.recommend([_gpu((8, 0)), _gpu((7, 5), 1)], AVX2_CPU)["plan"]["dtype"] == "float16"


@pytest.mark.parametrize("cpu, dtype", [(AVX2_CPU, "float32"), (AMX_CPU, "bfloat16")])
def test_cpu_gets_bf16_only_with_native_bf16_never_fp16(cpu, dtype):
    rec = doctor.recommend([], cpu)
    assert rec["plan"]["device"] == "cpu" and rec["plan"]["dtype"] == dtype and "CPU path" in rec["precision"]


def test_doctor_and_lessons_use_the_same_precision_rule():
    for cap in ((7, 0), (7, 5), (8, 0), (8, 9), (9, 0), (10, 0), (6, 0)):
        plan = precision.choose_precision("cuda", capability=cap)
        assert doctor.recommend([_gpu(cap)], AVX2_CPU)["plan"]["dtype"] == plan.dtype, cap


def test_gpus_with_unknown_capability_get_fp32_said_aloud():
    rec = doctor.recommend([hardware.GPU(0, "NVIDIA GPU").to_dict()], AVX2_CPU)
    assert rec["plan"]["dtype"] == "float32" and "unknown" in rec["precision"]


def test_rtxcourse_tier_forces_the_doctors_tier_too(monkeypatch):
    """The foundation bug: RTXCOURSE_TIER=cpu on a GPU machine made the doctor disagree with the lessons."""
    monkeypatch.setenv("RTXCOURSE_TIER", "cpu")
    rec = doctor.recommend([_gpu((9, 0))], AVX2_CPU)
    assert rec["tier"] == "cpu" and rec["tier_forced"]
    assert rec["plan"]["device"] == "cuda"  # the GPU still computes: only the sizes follow the tier
    monkeypatch.setenv("RTXCOURSE_TIER", "2-gpus")
    with pytest.raises(ValueError, match="unknown hardware tier"):
        doctor.recommend([], AVX2_CPU)


def test_report_adds_recommendation_and_lessons_and_survives(monkeypatch):
    monkeypatch.delenv("RTXCOURSE_TIER", raising=False)
    monkeypatch.setattr(hardware, "report", lambda frameworks=True: {"gpus": [_gpu((8, 6))], "cpu": AVX2_CPU, "errors": {}})
    rep = doctor.report()
    assert rep["recommendation"]["tier"] == "1-gpu" and rep["lessons"]["lines"]
    monkeypatch.setattr(hardware, "report", lambda frameworks=True: {"gpus": None, "cpu": {}, "errors": {}})
    assert "TypeError" in doctor.report()["errors"]["recommendation"]  # said, not raised
