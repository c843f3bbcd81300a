import json

import pytest

from rtxcourse import hardware


@pytest.mark.parametrize(
    "cap, arch, gen, has, lacks",
    [
        ((6, 1), "pre-Volta", 0, (), ("fp16",)),
        ((7, 0), "Volta", 1, ("fp16",), ("bf16", "int8")),
        ("7.5", "Turing", 2, ("fp16", "int8"), ("bf16", "tf32")),
        ("8.0", "Ampere", 3, ("bf16", "tf32"), ("fp8",)),
        ("sm_86", "Ampere", 3, ("bf16",), ("fp8",)),
        ((8, 9), "Ada Lovelace", 4, ("fp8",), ("fp4",)),
        ((9, 0), "Hopper", 4, ("fp8", "bf16"), ("fp4",)),
        ((10, 0), "Blackwell", 5, ("fp4", "fp8"), ()),
        ((12, 0), "Blackwell", 5, ("fp4",), ()),
    ],
)
def test_tensor_core_table(cap, arch, gen, has, lacks):
    tc = hardware.tensor_cores(cap)
    assert (tc.architecture, tc.generation) == (arch, gen)
    assert all(p in tc.precisions for p in has)
    assert not any(p in tc.precisions for p in lacks)


def test_unknown_capability():
    assert hardware.tensor_cores(None).generation == 0
    assert hardware.parse_capability("garbage") is None


def _fake_smi(monkeypatch, text):
    hardware.driver_gpus.cache_clear()
    monkeypatch.setattr(hardware, "_run", lambda cmd, timeout=10.0: text)


def test_driver_gpus_parses_nvidia_smi(monkeypatch):
    _fake_smi(monkeypatch, "0, NVIDIA H100 80GB HBM3, 81559, 9.0\n1, NVIDIA H100 80GB HBM3, 81559, 9.0\n")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    try:
        gpus = hardware.driver_gpus()
        assert [g.name for g in gpus] == ["NVIDIA H100 80GB HBM3"] * 2
        assert gpus[0].capability == (9, 0) and 79 < gpus[0].memory_gib < 80
        assert hardware.visible_gpu_count() == 2
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
        assert hardware.visible_gpu_count() == 1
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
        assert hardware.visible_gpu_count() == 0
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,7,1")  # CUDA stops at the first invalid index
        assert hardware.visible_gpu_count() == 1
        rec = hardware.recommend(list(gpus), hardware.cpu_info())
        assert rec["tier"] == "multi-gpu" and "bf16" in rec["precision"]
    finally:
        hardware.driver_gpus.cache_clear()


def test_pre_ampere_gpu_recommends_fp16_with_loss_scaling(monkeypatch):
    rec = hardware.recommend([hardware.GPU(0, "Tesla T4", 15.0, (7, 5))], hardware.cpu_info())
    assert rec["tier"] == "1-gpu"
    assert "fp16" in rec["precision"] and "loss scaling" in rec["precision"]


def test_cpu_recommendation_never_fp16():
    cpu = {"features": {"avx512_bf16": False, "amx_bf16": False}}
    assert "never fp16" in hardware.recommend([], cpu)["precision"]
    assert "fp32" in hardware.recommend([], cpu)["precision"]
    cpu["features"]["amx_bf16"] = True
    assert "bf16" in hardware.recommend([], cpu)["precision"]


def test_report_without_gpu_says_so_and_survives_broken_probes(monkeypatch):
    hardware.driver_gpus.cache_clear()
    monkeypatch.setattr(hardware, "_run", lambda cmd, timeout=10.0: None)
    monkeypatch.setattr(hardware.os.path, "isdir", lambda p: False)

    def broken():
        raise RuntimeError("simulated broken install")

    monkeypatch.setattr(hardware, "torch_info", broken)
    monkeypatch.setattr(hardware, "tf_info", lambda: {"installed": False, "hint": "pip install -e '.[tf]'"})
    try:
        rep = hardware.report()
    finally:
        hardware.driver_gpus.cache_clear()
    assert rep["gpus"] == [] and rep["recommendation"]["tier"] == "cpu"
    assert "simulated broken install" in rep["errors"]["torch"]
    text = hardware.format_report(rep)
    assert "none found" in text and "CPU path" in text
    assert "not installed: pip install -e '.[tf]'" in text
    json.dumps(rep, default=str)


def test_cpu_info_has_features():
    info = hardware.cpu_info()
    assert info["usable_cores"] >= 1
    assert set(info["features"]) == set(hardware.CPU_FEATURES)


def test_summary_is_framework_free_and_describes_machine():
    s = hardware.summary()
    assert "CPU" in s["description"] and s["cpu_cores"] >= 1
