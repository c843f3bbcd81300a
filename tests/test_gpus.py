"""The one GPU table: datasheet values pinned, names matched to the right row, Tensor Cores right."""

import re

import pytest

from rtxcourse import bench, gpus, hardware


# Dense figures copied by hand from the datasheets (sparse figures halved): a sparse value
# copied by mistake doubles a number here, which a ratio test between columns cannot see.
@pytest.mark.parametrize("row, dtype, tflops", [
    ("H100 SXM", "bf16", 989.5), ("H100 SXM", "tf32", 494.5), ("H100 SXM", "fp8", 1979), ("H100 SXM", "fp64_tc", 67),
    ("H100 PCIe", "fp16", 756), ("H200 SXM", "bf16", 989.5), ("GH200", "bf16", 989.5),
    ("B200", "bf16", 2250), ("B200", "fp8", 4500), ("GB200", "bf16", 2500), ("GB200", "fp4", 10000),
    ("A100 40GB", "bf16", 312), ("A100 80GB SXM", "tf32", 156), ("A100 40GB", "fp64_tc", 19.5),
    ("L4", "fp8", 242.5), ("L40S", "bf16", 362), ("A10", "fp16", 125), ("T4", "fp16", 65),
    ("V100 SXM2", "fp16", 125), ("V100 PCIe", "fp16", 112), ("V100S PCIe", "fp16", 130),
    ("P100 PCIe", "fp16", 18.7), ("P100 PCIe", "fp32", 9.3),
    ("GeForce RTX 4090", "bf16", 165.2), ("GeForce RTX 4090", "fp32", 82.6), ("GeForce RTX 3090", "fp16", 71),
    ("GeForce RTX 5090", "bf16", 209.5), ("GeForce RTX 2080 Ti", "fp16", 53.8),
])
def test_pinned_dense_datasheet_values(row, dtype, tflops):
    spec = next(g for g in gpus.GPUS if g.name == row)
    assert spec.tflops[dtype] == pytest.approx(tflops)


@pytest.mark.parametrize("row, memory_gb, bandwidth", [
    ("H100 SXM", 80, 3350), ("H200 SXM", 141, 4800), ("GH200", 96, 4000), ("GH200 144GB", 144, 4900),
    ("B200", 180, 7700), ("A100 80GB SXM", 80, 2039), ("GeForce RTX 4090", 24, 1008), ("T4", 16, 320),
])
def test_pinned_memory_and_bandwidth(row, memory_gb, bandwidth):
    spec = next(g for g in gpus.GPUS if g.name == row)
    assert (spec.memory_gb, spec.bandwidth_gbs) == (memory_gb, bandwidth)


@pytest.mark.parametrize("device_name, row", [
    ("NVIDIA GB200", "GB200"), ("NVIDIA B200", "B200"),  # "GB200" once matched the B200 row
    ("NVIDIA GH200 480GB", "GH200"), ("NVIDIA GH200 144G HBM3e", "GH200 144GB"),  # GH200 once matched H200 SXM
    ("NVIDIA H200", "H200 SXM"), ("NVIDIA H200 NVL", "H200 NVL"),
    ("Tesla V100S-PCIE-32GB", "V100S PCIe"), ("Tesla V100-PCIE-16GB", "V100 PCIe"),  # V100S once matched V100 PCIe
    ("Tesla V100-SXM2-32GB", "V100 SXM2"), ("Tesla P100-PCIE-16GB", "P100 PCIe"), ("Tesla P100-SXM2-16GB", "P100 SXM2"),
    ("Tesla T4", "T4"), ("NVIDIA L4", "L4"), ("NVIDIA L40S", "L40S"), ("NVIDIA A10", "A10"),
    ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090"), ("NVIDIA GeForce RTX 5090", "GeForce RTX 5090"),
    ("NVIDIA GeForce GTX 1660", "GeForce GTX 1660"), ("NVIDIA GeForce GTX 1660 Ti", "GeForce GTX 1660 Ti"),
    ("NVIDIA GeForce GTX 1660 SUPER", "GeForce GTX 1660 SUPER"), ("NVIDIA GeForce GTX 1650", "GeForce GTX 1650"),
])
def test_device_names_find_their_row(device_name, row):
    assert gpus.lookup(device_name).name == row


@pytest.mark.parametrize("device_name", ["NVIDIA A10G", "NVIDIA L40", "NVIDIA H800", "NVIDIA GeForce RTX 4090 D",
                                         "NVIDIA GeForce RTX 4080 SUPER", "NVIDIA GeForce GTX 1660 Ti with Max-Q Design",
                                         "AMD Instinct MI300X"])
def test_other_parts_are_not_guessed(device_name):
    assert gpus.lookup(device_name) is None


def test_every_table_name_matches_exactly_one_row():
    """No pattern catches another row's device name (the GB200/GH200/V100S bugs)."""
    for spec in gpus.GPUS:
        device_name = f"NVIDIA {spec.name.removesuffix(' SXM').removesuffix(' SXM2')}"
        hits = [g.name for g in gpus.GPUS if re.search(g.pattern, device_name, re.IGNORECASE)]
        assert hits and hits[0] == spec.name, (device_name, hits)


def test_gtx_16xx_have_no_tensor_cores_though_capability_7_5():
    assert gpus.tensor_cores((7, 5)).generation == 2  # T4, RTX 20
    for name in ("NVIDIA GeForce GTX 1660 Ti", "NVIDIA GeForce GTX 1650", "NVIDIA GeForce GTX 1660 Ti with Max-Q Design"):
        tc = gpus.tensor_cores((7, 5), name)
        assert tc.generation == 0 and tc.precisions == () and tc.architecture == "Turing", name
    assert gpus.tensor_cores((7, 5), "NVIDIA GeForce RTX 2080 Ti").generation == 2
    assert gpus.lookup("NVIDIA GeForce GTX 1660").tensor_cores.generation == 0


def test_doctor_does_not_report_tensor_cores_or_pick_fp16_for_a_gtx_1660():
    gtx = hardware.GPU(0, "NVIDIA GeForce GTX 1660 SUPER", 6.0, (7, 5), ["driver"])
    text = hardware.format_report({"python": {"version": "3.11", "executable": "python"}, "cpu": {"features": {}},
                                   "gpus": [gtx.to_dict()]})
    assert "no Tensor Cores (Turing)" in text and "gen 2" not in text
    rec = hardware.recommend([gtx], {"features": {}})
    assert rec["precision"].startswith("fp32")
    rtx = hardware.GPU(0, "NVIDIA GeForce RTX 2080 Ti", 11.0, (7, 5), ["driver"])
    assert hardware.recommend([rtx], {"features": {}})["precision"].startswith("fp16")


def test_p100_runs_fp16_at_twice_fp32_and_the_doctor_says_so():
    assert gpus.fp16_speedup("Tesla P100-PCIE-16GB") == pytest.approx(2.0, rel=0.01)
    p100 = hardware.GPU(0, "Tesla P100-PCIE-16GB", 16.0, (6, 0), ["driver"])
    precision = hardware.recommend([p100], {"features": {}})["precision"]
    assert "2x fp32" in precision and "not time" not in precision
    p40 = hardware.GPU(0, "Tesla P40", 24.0, (6, 1), ["driver"])  # GP102: fp16 at 1/64, not in the table
    assert "saves memory but not time" in hardware.recommend([p40], {"features": {}})["precision"]


def test_fp64_tensor_cores_on_a100_h100_b200_only():
    for cap in ((8, 0), (9, 0), (10, 0)):
        assert "fp64" in gpus.tensor_cores(cap).precisions, cap
    for cap in ((8, 6), (8, 9), (12, 0), (7, 0)):
        assert "fp64" not in gpus.tensor_cores(cap).precisions, cap
    for spec in gpus.GPUS:
        assert ("fp64_tc" in spec.tflops) == ("fp64" in spec.tensor_cores.precisions), spec.name
    assert bench.peak_flops("NVIDIA A100-SXM4-40GB", "float64") == pytest.approx(19.5e12)
    assert bench.peak_flops("NVIDIA GeForce RTX 4090", "fp64") == pytest.approx(1.29e12)


def test_rows_are_consistent_with_their_architecture():
    for spec in gpus.GPUS:
        tc = spec.tensor_cores
        assert spec.source and spec.memory_gb > 0 and spec.bandwidth_gbs > 0, spec.name
        assert spec.tflops["fp64"] < spec.tflops["fp32"] or spec.tflops["fp64"] == spec.tflops["fp32"] / 2, spec.name
        if tc.generation == 0:  # no Tensor Cores: no Tensor Core formats in the row
            assert not {"tf32", "bf16", "fp8", "fp4"} & set(spec.tflops), spec.name
        else:
            assert tc.architecture == spec.architecture, spec.name
            assert ("bf16" in spec.tflops) == tc.bf16, spec.name
        if spec.segment == "GeForce":
            assert not spec.ecc and spec.tflops["fp64"] <= spec.tflops["fp32"] / 32 * 1.01, spec.name


def test_no_nvlink_on_rtx_40_and_50():
    for spec in gpus.GPUS:
        if re.search(r"RTX [45]0\d\d", spec.name):
            assert spec.nvlink_gbs is None, spec.name
    assert gpus.lookup("NVIDIA GeForce RTX 3090").nvlink_gbs == 112.5


def test_find_accepts_table_names_and_lists_close_names():
    assert gpus.find("H100").name == "H100 SXM" and gpus.find("rtx 4090").name == "GeForce RTX 4090"
    assert gpus.find("GeForce RTX 3090").name == "GeForce RTX 3090"
    with pytest.raises(ValueError, match=r"unknown GPU 'H1000'.*closest in the table: .*H100"):
        gpus.find("H1000")
    with pytest.raises(TypeError):
        gpus.lookup(None)
