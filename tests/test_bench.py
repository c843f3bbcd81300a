"""Tests for rtxcourse.bench: the peak tables and MFU (appended for the precision issue)."""

from __future__ import annotations

import pytest

from rtxcourse import bench


@pytest.mark.parametrize("device_name, table_name", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA H100 NVL", "H100 NVL"),
    ("NVIDIA H200", "H200 SXM"), ("NVIDIA H200 NVL", "H200 NVL"), ("NVIDIA B200", "B200"),
    ("NVIDIA A100-SXM4-40GB", "A100 40GB"), ("NVIDIA A100-PCIE-40GB", "A100 40GB"),
    ("NVIDIA A100-SXM4-80GB", "A100 80GB SXM"), ("NVIDIA A100 80GB PCIe", "A100 80GB PCIe"),
    ("NVIDIA A10", "A10"), ("NVIDIA L4", "L4"), ("NVIDIA L40S", "L40S"), ("Tesla T4", "T4"),
    ("Tesla V100-SXM2-16GB", "V100 SXM2"), ("Tesla V100-PCIE-32GB", "V100 PCIe"),
    ("NVIDIA GeForce RTX 3090", "GeForce RTX 3090"), ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090"),
])
def test_gpu_peaks_matches_device_names(device_name, table_name):
    assert bench.gpu_peaks(device_name).name == table_name


@pytest.mark.parametrize("device_name", [
    "NVIDIA A10G", "NVIDIA L40", "NVIDIA GeForce RTX 3090 Ti", "NVIDIA GeForce RTX 4090 D",
    "NVIDIA GeForce RTX 4090 Laptop GPU", "AMD Instinct MI300X", "CPU"])
def test_gpu_peaks_unknown_or_different_parts_are_not_guessed(device_name):
    assert bench.gpu_peaks(device_name) is None


def test_peak_tables_hold_dense_not_sparse_figures():
    """Dense Tensor Core peaks double with each halving of the bits: fp8 = 2 fp16 = 4 tf32.

    A sparse ("with sparsity") figure copied by mistake would break these ratios.
    """
    for _, peaks in bench._GPU_PEAKS:
        t = peaks.tflops
        assert t["fp32"] > 0 and t["fp16"] > t["fp32"] and peaks.memory_gbs > 0 and peaks.source, peaks.name
        if "bf16" in t:
            assert t["bf16"] == t["fp16"], peaks.name
        if "tf32" in t and not peaks.name.startswith("GeForce"):
            assert t["fp16"] / t["tf32"] == pytest.approx(2, rel=0.03), peaks.name
        if "fp8" in t:
            assert t["fp8"] / t["fp16"] == pytest.approx(2, rel=0.03), peaks.name


def test_peak_flops_units_and_dtype_spellings():
    assert bench.peak_flops("NVIDIA H100 80GB HBM3", "bfloat16") == pytest.approx(989.5e12)
    assert bench.peak_flops("NVIDIA A100-SXM4-80GB", "tf32") == pytest.approx(156e12)
    assert bench.peak_flops("NVIDIA L4", "float8_e4m3fn") == pytest.approx(242.5e12)
    assert bench.peak_flops("Tesla T4", "bf16") is None  # Turing has no bf16 Tensor Cores
    assert bench.peak_flops("NVIDIA A10G", "fp16") is None


def test_mfu_against_table_and_given_peak():
    m = bench.mfu(742e12, gpu="NVIDIA H100 80GB HBM3", dtype="bf16")
    assert m.value == pytest.approx(0.75, rel=1e-3) and "H100 SXM" in m.reason and "75.0%" in str(m)
    m = bench.mfu(2e11, peak=4e11)
    assert m.value == pytest.approx(0.5) and m.peak_flops == 4e11


def test_mfu_unknown_returns_none_with_a_reason():
    m = bench.mfu(1e12, gpu="NVIDIA A10G", dtype="fp16")
    assert m.value is None and "not in" in m.reason and str(m).startswith("MFU unknown")
    m = bench.mfu(1e12, gpu="Tesla V100-SXM2-16GB", dtype="bf16")
    assert m.value is None and "V100" in m.reason


@pytest.mark.parametrize("args, kwargs, error", [
    ((-1.0,), {"peak": 1.0}, ValueError), ((float("nan"),), {"peak": 1.0}, ValueError),
    ((1.0,), {"peak": 0}, ValueError), ((1.0,), {}, ValueError),
    ((1.0,), {"peak": 1.0, "gpu": "NVIDIA L4"}, ValueError), ((1.0,), {"gpu": "NVIDIA L4"}, ValueError),
])
def test_mfu_rejects_bad_input(args, kwargs, error):
    with pytest.raises(error):
        bench.mfu(*args, **kwargs)


def test_gpu_peaks_rejects_non_string():
    with pytest.raises(TypeError, match="gpu_name must be a string"):
        bench.gpu_peaks(None)
