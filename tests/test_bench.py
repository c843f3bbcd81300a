import json
import time

import pytest

from rtxcourse import bench


def test_measure_counts_calls_and_warmup():
    calls = []
    m = bench.measure(lambda: calls.append(1), name="noop", warmup=3, repeats=4, number=5)
    assert len(calls) == 3 + 4 * 5 and len(m.times) == 4


def test_measure_times_sleep_accurately():
    # Seconds per call, not per repeat of 10 calls (0.1 s): a sleep never ends early, and the upper
    # bound leaves a loaded machine up to 40 ms of late wake-up per call on average.
    m = bench.measure(lambda: time.sleep(0.01), name="sleep", warmup=1, repeats=3, number=10, work=100, unit="img")
    assert 0.0099 < m.median < 0.05
    assert 100 / 0.05 < m.rate < 100 / 0.0099
    assert m.to_dict()["median_s"] == m.median


def test_auto_number_reaches_min_time():
    m = bench.measure(lambda: None, name="fast", warmup=0, repeats=2, min_time=0.01)
    assert m.median < 1e-4  # per call, not per repeat


def test_sync_is_called_at_each_timer_edge():
    edges = []
    bench.measure(lambda: None, name="x", warmup=0, repeats=2, number=1, sync=lambda: edges.append(1))
    assert len(edges) == 4
    with pytest.raises(ValueError, match="sync must be"):
        bench.measure(lambda: None, name="x", sync="cuda")


class _BurstyMachine:
    """A fake clock on which a background burst makes every call of the first ``slow_calls`` 5x slower."""

    def __init__(self, slow_calls):
        self.now, self.calls, self.slow_calls = 0.0, 0, slow_calls

    def work(self, seconds):
        self.calls += 1
        self.now += seconds * (5 if self.calls <= self.slow_calls else 1)


def test_interleaved_paired_ratio_cancels_load_that_back_to_back_timing_turns_into_a_wrong_ratio(monkeypatch):
    machine = _BurstyMachine(slow_calls=6)
    monkeypatch.setattr(bench.time, "perf_counter", lambda: machine.now)
    fast, slow = (lambda: machine.work(1.0)), (lambda: machine.work(2.0))
    # Back to back, 'fast' is timed during the burst and 'slow' after it: 'slow' looks 2.5x faster.
    c = bench.measure(fast, name="fast", warmup=0, repeats=5, number=1)
    d = bench.measure(slow, name="slow", warmup=0, repeats=5, number=1)
    assert d.median / c.median == pytest.approx(0.4)  # the wrong answer: 'slow' looks faster
    machine.calls = 0
    got = bench.interleaved({"fast": fast, "slow": slow}, rounds=7, warmup=0)
    assert list(got) == ["fast", "slow"] and all(len(m.times) == 7 for m in got.values())
    assert bench.paired_ratio(got["fast"], got["slow"]) == pytest.approx(2.0)
    assert got["fast"].best == 1.0 and got["slow"].best == 2.0


def test_interleaved_rotates_the_order_and_syncs_each_edge():
    order, edges = [], []
    bench.interleaved({k: (lambda k=k: order.append(k)) for k in "abc"}, rounds=3, warmup=1,
                      sync=lambda: edges.append(1))
    assert order == list("abc") + list("abc") + list("bca") + list("cab")
    assert len(edges) == 2 * (3 + 9)


@pytest.mark.parametrize("fns, kwargs, error", [
    ({}, {}, TypeError), ({"a": 1}, {}, TypeError), ({"a": print}, {"rounds": 0}, ValueError),
    ({"a": print}, {"number": 0}, ValueError)])
def test_interleaved_rejects_bad_input(fns, kwargs, error):
    with pytest.raises(error):
        bench.interleaved(fns, **kwargs)


def test_paired_ratio_needs_the_same_rounds():
    with pytest.raises(ValueError, match="same rounds"):
        bench.paired_ratio(bench.Measurement("a", [1.0, 2.0]), bench.Measurement("b", [1.0]))


def test_report_ratio_table_json():
    r = bench.Report("demo", hardware={"description": "test machine"})
    r.add(bench.Measurement("slow", [2.0, 2.2, 1.8], work=4.0, unit="FLOP"))
    r.add(bench.Measurement("fast", [1.0, 1.0, 1.1], work=4.0, unit="FLOP"))
    assert r.ratio("fast", "slow") == pytest.approx(2.0)
    table = r.table()
    assert "fast vs slow: 2.00x" in table and "test machine" in table and "FLOP/s" in table
    d = json.loads(r.to_json())
    assert d["ratios"][0]["speedup"] == pytest.approx(2.0) and len(d["measurements"][0]["times"]) == 3
    with pytest.raises(ValueError, match="already"):
        r.add(bench.Measurement("fast", [1.0]))
    with pytest.raises(KeyError, match="have: slow, fast"):
        r["medium"]


def test_report_notes_in_table_and_json():
    r = bench.Report("demo", hardware={"description": "test machine"})
    r.note("scaling efficiency 2 processes: 90%")
    assert "scaling efficiency 2 processes: 90%" in r.table()
    assert json.loads(r.to_json())["notes"] == ["scaling efficiency 2 processes: 90%"]
    with pytest.raises(ValueError, match="non-empty"):
        r.note("  ")


def test_report_uses_real_hardware_by_default():
    r = bench.Report("x")
    assert "CPU" in r.hardware["description"]


def test_format_helpers():
    assert bench.format_rate(3.2e11, "FLOP") == "320.0 GFLOP/s"
    assert bench.format_seconds(0.0025) == "2.50 ms"


# --------------------------------------------------------------------------- peak tables and MFU


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
    for peaks in bench.known_gpus():
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


@pytest.mark.parametrize("features, dtype, per_cycle, via", [
    ({"avx512f": True}, "fp32", 64, "avx512f"), ({"avx2": True}, "fp32", 32, "avx2"),
    ({"avx2": True, "avx512_bf16": True}, "bf16", 128, "avx512_bf16"), ({"amx_bf16": True}, "bf16", 2048, "amx_bf16"),
    ({"avx2": True}, "bf16", 32, "no native bf16 unit"), ({"avx512f": True}, "tf32", 64, "avx512f"),
])
def test_cpu_peak_is_cores_times_clock_times_the_widest_unit(monkeypatch, features, dtype, per_cycle, via):
    from rtxcourse import hardware

    monkeypatch.setattr(hardware, "cpu_info", lambda: {"usable_cores": 4, "features": features})
    monkeypatch.setattr(bench, "_cpu_clock_ghz", lambda: (3.0, "maximum clock"))
    peak, how = bench.cpu_peak_flops(dtype)
    assert peak == pytest.approx(4 * 3.0e9 * per_cycle) and via in how and "upper bound" in how
    m = bench.mfu(peak / 4, peak=peak, source=how)
    assert m.value == pytest.approx(0.25) and m.reason == how
    with pytest.raises(ValueError, match="no CPU peak"):
        bench.cpu_peak_flops("fp8")


def test_interleaved_number_none_calibrates_each_function_to_min_time():
    calls = {"fast": 0, "slow": 0}
    got = bench.interleaved({"fast": lambda: calls.__setitem__("fast", calls["fast"] + 1),
                             "slow": lambda: (time.sleep(0.02), calls.__setitem__("slow", calls["slow"] + 1))},
                            rounds=2, warmup=0, number=None, min_time=0.01)
    assert calls["fast"] > 100 * calls["slow"] > 0  # many fast calls per round, one or two slow ones
    assert got["fast"].median < 1e-4 < 0.015 < got["slow"].median  # per call, not per round
