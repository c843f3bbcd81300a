import json
import os

import pytest

from rtxcourse import doctor, hardware


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
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")  # CUDA's order, not the driver's
        assert [g.index for g in hardware.visible_driver_gpus()] == [1, 0]
    finally:
        hardware.driver_gpus.cache_clear()


def test_report_without_gpu_says_so_and_survives_broken_probes(monkeypatch):
    hardware.driver_gpus.cache_clear()
    monkeypatch.setattr(hardware, "_run", lambda cmd, timeout=10.0: None)
    monkeypatch.setattr(hardware.os.path, "isdir", lambda p: False)

    def broken():
        raise RuntimeError("simulated broken install")

    monkeypatch.setattr(hardware, "torch_info", broken)
    monkeypatch.setattr(hardware, "tf_info", lambda: {"installed": False, "hint": "pip install -e '.[tf]'"})
    try:
        rep = doctor.report()
    finally:
        hardware.driver_gpus.cache_clear()
    assert rep["gpus"] == [] and rep["recommendation"]["tier"] == "cpu"
    assert "simulated broken install" in rep["errors"]["torch"]
    text = hardware.format_report(rep)
    assert "none found" in text and "CPU path" in text
    assert "not installed: pip install -e '.[tf]'" in text
    json.dumps(rep, default=str)


# Two logical CPUs of a Sapphire Rapids machine as /proc/cpuinfo lists them (flags shortened).
CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile
"""


@pytest.fixture
def fake_cpuinfo(monkeypatch):
    """Let ``hardware`` read ``text`` as /proc/cpuinfo (cpu_info is cached: cleared before and after)."""
    import io

    real_open = open

    def use(text):
        monkeypatch.setattr(hardware, "open", lambda path, *a, **k: io.StringIO(text) if path == "/proc/cpuinfo"
                            else real_open(path, *a, **k), raising=False)
        hardware.cpu_info.cache_clear()

    yield use
    hardware.cpu_info.cache_clear()


def test_cpu_info_reads_model_and_isa_flags_from_proc_cpuinfo(monkeypatch, fake_cpuinfo):
    fake_cpuinfo(CPUINFO)
    info = hardware.cpu_info()
    assert info["model"] == "Intel(R) Xeon(R) Platinum 8480+" and info["features_known"]
    assert info["features"] == {"avx2": True, "avx512f": True, "avx512_bf16": True, "avx512_fp16": False,
                                "amx_bf16": True, "amx_int8": False}  # avx512_fp16 and amx_int8 are not listed
    # the cores this process may run on (taskset, cgroups), not the machine's: what a DataLoader can use
    assert info["usable_cores"] == len(os.sched_getaffinity(0)) and info["logical_cores"] == os.cpu_count()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})  # e.g. taskset -c 3, or a 1-CPU cgroup
    fake_cpuinfo(CPUINFO)
    assert hardware.cpu_info()["usable_cores"] == 1
    assert hardware.cpu_has_fast_bf16()
    fake_cpuinfo(CPUINFO.replace(" avx512_bf16 amx_bf16", ""))  # a Skylake-like AVX-512 CPU
    assert hardware.cpu_info()["features"]["avx512f"] and not hardware.cpu_has_fast_bf16()
    fake_cpuinfo("processor\t: 0\n")  # no flags line (some VMs, non-x86): features unknown
    assert not hardware.cpu_info()["features_known"] and not any(hardware.cpu_info()["features"].values())


def test_summary_is_framework_free_and_describes_machine(monkeypatch, fake_cpuinfo):
    s = hardware.summary()
    assert "CPU" in s["description"] and s["cpu_cores"] == len(os.sched_getaffinity(0))
    fake_cpuinfo(CPUINFO)
    monkeypatch.setattr(hardware, "visible_driver_gpus",
                        lambda: [hardware.GPU(0, "NVIDIA H100 80GB HBM3", 79.6, (9, 0), ["driver"])])
    assert hardware.summary()["description"].startswith(
        f"NVIDIA H100 80GB HBM3 80 GiB; CPU Intel(R) Xeon(R) Platinum 8480+ ({len(os.sched_getaffinity(0))} cores, "
        "avx512_bf16, amx_bf16)")


# --------------------------------------------------------------------------- simulated GPUs
#
# No GPU here: these tests put a GPU behind torch's own query functions (and the driver query)
# and check what the doctor concludes from it. They prove the decisions, not the hardware.


def _simulate_torch_gpus(monkeypatch, props, nccl=(2, 27, 5)):
    torch = pytest.importorskip("torch")
    import torch.distributed as dist

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(props))
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props[i])
    monkeypatch.setattr(torch.cuda.nccl, "version", lambda: nccl)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(dist, "is_nccl_available", lambda: True)


def _props(name, gib, cap):
    from types import SimpleNamespace

    return SimpleNamespace(name=name, total_memory=int(gib * 2**30), major=cap[0], minor=cap[1])


def test_torch_info_reads_every_gpu_and_nccl(monkeypatch):
    _simulate_torch_gpus(monkeypatch, [_props("NVIDIA H100 80GB HBM3", 79.2, (9, 0)), _props("Tesla T4", 14.6, (7, 5))])
    info = hardware.torch_info()
    assert info["cuda_available"] and info["nccl"] and info["nccl_version"] == "2.27.5"
    assert [(g["index"], g["name"], g["capability"]) for g in info["gpus"]] == [
        (0, "NVIDIA H100 80GB HBM3", "9.0"), (1, "Tesla T4", "7.5")]
    assert info["gpus"][0]["tensor_cores"]["architecture"] == "Hopper" and info["gpus"][0]["seen_by"] == ["torch"]
    assert 79 < info["gpus"][0]["memory_gib"] < 80


def _gpu_machine(monkeypatch, smi_lines, torch_info, tf_info=None):
    _fake_smi(monkeypatch, "".join(line + "\n" for line in smi_lines))
    monkeypatch.setattr(hardware, "torch_info", lambda: torch_info)
    monkeypatch.setattr(hardware, "tf_info", lambda: tf_info or {"installed": False, "hint": "pip install -e '.[tf]'"})


def test_doctor_on_a_simulated_h100_machine(monkeypatch):
    _simulate_torch_gpus(monkeypatch, [_props("NVIDIA H100 80GB HBM3", 79.2, (9, 0))])
    torch_view = hardware.torch_info()
    tf_view = {"installed": True, "version": "2.21.0", "keras": "3.15.1", "cuda_build": "12.5.1",
               "gpus": [hardware.GPU(0, "NVIDIA H100 80GB HBM3", None, (9, 0), ["tensorflow"]).to_dict()]}
    _gpu_machine(monkeypatch, ["0, NVIDIA H100 80GB HBM3, 81559, 9.0"], torch_view, tf_view)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    try:
        first, rep = hardware.report(), doctor.report()  # twice: the cached driver list must not change
    finally:
        hardware.driver_gpus.cache_clear()
    assert first["gpus"] == rep["gpus"]
    (gpu,) = rep["gpus"]
    assert gpu["seen_by"] == ["driver", "torch", "tensorflow"]
    assert gpu["tensor_cores"]["precisions"] == ["fp16", "bf16", "tf32", "fp8", "int8", "fp64"]
    assert rep["recommendation"]["tier"] == "1-gpu" and "bf16" in rep["recommendation"]["precision"]
    assert rep["advice"] == [] and rep["errors"] == {}
    text = hardware.format_report(rep)
    assert "Tensor Cores gen 4 (Hopper): fp16, bf16, tf32, fp8, int8, fp64; seen by driver, torch, tensorflow" in text
    assert "NCCL: yes (2.27.5)" in text and "CUDA 12.8 build" in text and "Fix" not in text
    json.dumps(rep)


def test_doctor_names_the_fix_when_frameworks_cannot_use_the_gpu(monkeypatch):
    cpu_torch = {"installed": True, "version": "2.13.0+cpu", "cuda_build": None, "cuda_available": False, "gpus": []}
    tf_no_libs = {"installed": True, "version": "2.21.0", "keras": "3.15.1", "cuda_build": "12.5.1", "gpus": []}
    _gpu_machine(monkeypatch, ["0, NVIDIA GeForce RTX 4090, 24564, 8.9"], cpu_torch, tf_no_libs)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    try:
        rep = hardware.report()
    finally:
        hardware.driver_gpus.cache_clear()
    torch_tip, tf_tip = rep["advice"]
    assert "CPU-only build" in torch_tip and "torch==2.13.0 --index-url https://download.pytorch.org/whl/cu" in torch_tip
    assert "sees no GPU" in tf_tip and 'tensorflow[and-cuda]==2.21.0' in tf_tip
    assert hardware.format_report(rep).count("\nFix ") == 2


@pytest.mark.parametrize("torch_view, expected", [
    ({"installed": True, "version": "2.13.0", "cuda_build": "12.8", "cuda_available": False, "gpus": []}, "driver"),
    ({"installed": True, "version": "2.13.0", "cuda_build": "12.8", "cuda_available": True,
      "gpus": [{"index": 0, "name": "NVIDIA A100-SXM4-80GB", "capability": "8.0"}]}, "sees 1 of the 2"),
])
def test_doctor_advice_for_old_drivers_and_missing_gpus(monkeypatch, torch_view, expected):
    _gpu_machine(monkeypatch, ["0, NVIDIA A100-SXM4-80GB, 81920, 8.0", "1, NVIDIA A100-SXM4-80GB, 81920, 8.0"], torch_view)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    try:
        rep = hardware.report()
    finally:
        hardware.driver_gpus.cache_clear()
    assert len(rep["advice"]) == 1 and expected in rep["advice"][0]


def test_doctor_says_when_cuda_visible_devices_hides_every_gpu(monkeypatch):
    _gpu_machine(monkeypatch, ["0, Tesla T4, 15360, 7.5"], {"installed": False, "hint": "pip install -e '.[torch]'"})
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    try:
        rep = doctor.report()
    finally:
        hardware.driver_gpus.cache_clear()
    assert rep["gpus"] == [] and rep["recommendation"]["tier"] == "cpu"
    assert rep["advice"] == ["CUDA_VISIBLE_DEVICES='' hides all 1 GPU(s) the driver reports: "
                             "unset it (or list the GPUs to use) to train on them"]


def test_cuda_visible_devices_by_uuid_and_mig(monkeypatch):
    _fake_smi(monkeypatch, "0, NVIDIA A100-SXM4-40GB, 40960, 8.0, GPU-aaaa1111\n"
                           "1, NVIDIA A100-SXM4-40GB, 40960, 8.0, GPU-bbbb2222\n")
    try:
        assert hardware.driver_gpus()[1].uuid == "GPU-bbbb2222"
        for env, expected in [("GPU-bbbb", [1]), ("GPU-bbbb2222,GPU-a", [1, 0]), ("GPU-bbbb,0", [1]),
                              ("GPU-cccc,GPU-a", []), ("GPU-,GPU-a", []),  # "GPU-" matches both: ambiguous
                              ("1,GPU-bbbb", [1]), ("1gpu,0", [1, 0]), ("0,-1,1", [0]),
                              ("1,1", []), ("GPU-a,GPU-a", [])]:  # an entry given twice hides every GPU
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", env)
            assert [g.index for g in hardware.visible_driver_gpus()] == expected, env
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-0f1e2d3c,MIG-4b5a6978")
        assert [g.name for g in hardware.visible_driver_gpus()] == ["MIG slice MIG-0f1e2d3c", "MIG slice MIG-4b5a6978"]
        rep = doctor.report(frameworks=False)  # more visible slices than driver GPUs: no crash
        assert rep["recommendation"]["tier"] == "multi-gpu" and rep["errors"] == {}
        hardware.visible_driver_gpus()[0].seen_by.append("x")  # copies: the cached list stays clean
        assert hardware.driver_gpus()[0].seen_by == ["driver"]
    finally:
        hardware.driver_gpus.cache_clear()


TF_2_21_ARCHS = ["sm_60", "sm_70", "sm_80", "sm_89", "compute_90"]  # tf.sysconfig.get_build_info() of 2.21


@pytest.mark.parametrize("capability, expected", [
    ((8, 0), None), ((8, 6), None), ((8, 9), None), ((7, 5), None),  # sm_80 machine code runs on 8.6; sm_70 on 7.5
    ((9, 0), "compiles them from PTX"), ((12, 0), "compiles them from PTX"),
    ((5, 2), "cannot run on compute capability 5.2"), (None, None),
])
def test_missing_kernels_follows_cuda_binary_compatibility(capability, expected):
    gap = hardware.missing_kernels(capability, TF_2_21_ARCHS)
    assert gap == expected if expected is None else expected in gap
    assert hardware.missing_kernels(capability, []) is None


def test_doctor_warns_that_tensorflow_compiles_kernels_for_an_h100(monkeypatch):
    h100 = hardware.GPU(0, "NVIDIA H100 80GB HBM3", None, (9, 0), ["tensorflow"]).to_dict()
    tf_view = {"installed": True, "version": "2.21.0", "keras": "3.15.1", "cuda_build": "12.5.1",
               "cuda_archs": TF_2_21_ARCHS, "gpus": [h100, dict(h100, index=1)]}
    _gpu_machine(monkeypatch, ["0, NVIDIA H100 80GB HBM3, 81559, 9.0", "1, NVIDIA H100 80GB HBM3, 81559, 9.0"],
                 {"installed": False, "hint": ""}, tf_view)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    try:
        rep = hardware.report()
    finally:
        hardware.driver_gpus.cache_clear()
    (tip,) = rep["advice"]  # one line for two identical GPUs
    assert tip.startswith("TensorFlow 2.21.0 has no kernels built for compute capability 9.0") and "CUDA_CACHE_MAXSIZE" in tip
