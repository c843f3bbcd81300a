"""Tests for ``rtxcourse bench precision`` (rtxcourse.benchmarks.precision).

The CPU paths run for real at tiny sizes. The GPU paths cannot run here (no GPU): the sweep is
run on the CPU behind a simulated GPU, which checks what the benchmark decides on a GPU (which
precisions, which TF32 switch each one runs under, MFU against which peak), not its speed.
"""

from __future__ import annotations

import argparse

import pytest

from rtxcourse.precision import choose_precision


def test_bench_matmul_sweep_names_ratios_and_cpu_fp16_limit(monkeypatch):
    pytest.importorskip("torch")
    from rtxcourse.benchmarks import precision as bp

    monkeypatch.setattr(bp, "CPU_FP16_MAX_N", 16)  # tiny sizes keep the test fast
    report = bp.matmul_sweep("torch", [16, 32], repeats=1)
    names = [m.name for m in report.measurements]
    assert names == ["fp32 16", "bf16 16", "fp16 16", "fp32 32", "bf16 32"]
    assert [(r.value, r.baseline) for r in report.ratios] == [("bf16 16", "fp32 16"), ("fp16 16", "fp32 16"),
                                                               ("bf16 32", "fp32 32")]
    assert any("fp16 skipped on the CPU at n = 32" in n for n in report.notes)
    assert report["bf16 32"].work == 2 * 32**3 and report["bf16 32"].unit == "FLOP"  # rate = 2 n^3 / median
    assert report.to_dict()["notes"] == report.notes
    assert "fp16 skipped" in report.table()
    with pytest.raises(ValueError, match="framework must be"):
        bp.matmul_sweep("jax")
    with pytest.raises(ValueError, match="sizes must be positive"):
        bp.matmul_sweep("torch", [0])


def test_bench_train_steps_compare_each_plan_with_fp32():
    pytest.importorskip("torch")
    from rtxcourse.benchmarks import precision as bp

    tiny = bp.TrainSizes(batch=4, image=8, width=8, seq_len=8, d_model=16, n_heads=2, n_layers=1, seq_batch=4)
    report = bp.torch_train_steps(tiny, repeats=1)
    names = [m.name for m in report.measurements]
    assert names == ["cnn fp32", "cnn bf16", "transformer fp32", "transformer bf16"]
    assert [(r.value, r.baseline) for r in report.ratios] == [("cnn bf16", "cnn fp32"), ("transformer bf16", "transformer fp32")]
    assert report["cnn bf16"].unit == "sample" and report["cnn bf16"].work == 4


def test_bench_run_command_picks_frameworks_and_parts(monkeypatch):
    from rtxcourse.benchmarks import precision as bp

    calls = []
    monkeypatch.setattr(bp, "matmul_sweep", lambda fw, sizes: calls.append(("matmul", fw, sizes)) or fw)
    monkeypatch.setattr(bp, "torch_train_steps", lambda: calls.append(("train", "torch")) or "t")
    monkeypatch.setattr(bp, "tf_train_steps", lambda: calls.append(("train", "tf")) or "k")
    monkeypatch.setattr("rtxcourse.hardware.available_frameworks", lambda: {"torch"})
    assert bp.run(argparse.Namespace(framework="both", what="all", sizes=[64], quick=True)) == ["torch", "t"]
    assert calls == [("matmul", "torch", [64]), ("train", "torch")]
    with pytest.raises(SystemExit, match="tf is not installed"):
        bp.run(argparse.Namespace(framework="tf", what="train", sizes=None, quick=True))


def test_cpu_sweep_gives_each_dtype_one_mfu_against_the_cpus_stated_bound():
    pytest.importorskip("torch")
    from rtxcourse.benchmarks import precision as bp

    report = bp.matmul_sweep("torch", [8, 16], dtypes=["fp32", "bf16"], repeats=1)
    notes = [n for n in report.notes if "MFU" in n]
    assert [n.split(":")[0] for n in notes] == ["fp32 16", "bf16 16"]
    assert all("upper bound of this CPU's" in n and "FLOP/cycle" in n for n in notes)
    assert report.table().count("upper bound of this CPU's fp32 peak") == 1


def test_cpu_peak_is_an_upper_bound_of_what_a_matmul_reaches():
    """MFU against the CPU bound stays within (0, 1] for the best matmul the CPU can do."""
    pytest.importorskip("torch")
    from rtxcourse.benchmarks import precision as bp

    rates = bp.rates_by_dtype(bp.matmul_sweep("torch", [512], dtypes=["fp32", "bf16"], repeats=2))
    for dtype, by_n in rates.items():
        m = bp.mfu(by_n[512], dtype, "cpu")
        assert 0 < m.value <= 1, (dtype, m)


def _simulated_gpu(monkeypatch, name, capability):
    """Run the torch sweep on the CPU while it believes it runs on ``name``; record the TF32 switch per call."""
    from rtxcourse import precision_torch
    from rtxcourse.benchmarks import precision as bp

    make, _ = bp._MATMULS["torch"]
    tf32_seen: dict[str, set] = {}

    def make_on_cpu(dtype, n, device):
        assert device == "cuda"
        fn, sync, setting = make(dtype, n, "cpu")

        def recorded():
            tf32_seen.setdefault(f"{dtype} {n}", set()).add(precision_torch.tf32_enabled())
            return fn()

        return recorded, sync, setting

    monkeypatch.setitem(bp._MATMULS, "torch", (make_on_cpu, lambda: bp._Device("cuda", name, capability)))
    return bp, tf32_seen


def test_sweep_on_a_simulated_h100_runs_four_precisions_under_the_right_tf32_switch(monkeypatch):
    pytest.importorskip("torch")
    from rtxcourse import precision_torch

    bp, tf32_seen = _simulated_gpu(monkeypatch, "NVIDIA H100 80GB HBM3", (9, 0))
    before = precision_torch.tf32_enabled()
    report = bp.matmul_sweep("torch", [16, 32], repeats=1)
    assert [m.name for m in report.measurements] == ["fp32 16", "tf32 16", "bf16 16", "fp16 16",
                                                      "fp32 32", "tf32 32", "bf16 32", "fp16 32"]
    assert tf32_seen["fp32 32"] == {False} and tf32_seen["tf32 32"] == {True}  # strict fp32 is the baseline
    assert precision_torch.tf32_enabled() == before  # the switch is restored
    mfu_notes = [n for n in report.notes if "MFU" in n]
    assert len(mfu_notes) == 4 and all(n.startswith(("fp32 32", "tf32 32", "bf16 32", "fp16 32")) for n in mfu_notes)
    assert "dense bf16 peak of H100 SXM" in mfu_notes[2] and "989.5 TFLOP/s" in mfu_notes[2]
    assert "dense fp32 peak of H100 SXM" in mfu_notes[0] and "fp16 skipped" not in report.table()


def test_sweep_on_a_simulated_t4_has_no_bf16_or_tf32(monkeypatch):
    pytest.importorskip("torch")
    bp, _ = _simulated_gpu(monkeypatch, "Tesla T4", (7, 5))
    report = bp.matmul_sweep("torch", [16], repeats=1)
    assert [m.name for m in report.measurements] == ["fp32 16", "fp16 16"]
    assert any("dense fp16 peak of T4" in n for n in report.notes)


@pytest.mark.parametrize("capability, labels", [
    ((9, 0), ["fp32", "tf32", "bf16", "fp16+scaling"]),  # Hopper: strict fp32 is the baseline of the three
    ((8, 6), ["fp32", "tf32", "bf16", "fp16+scaling"]),
    ((7, 5), ["fp32", "fp16+scaling"]),  # Turing: no TF32, and 'auto' is fp16 with scaling (run once)
])
def test_training_step_precisions_on_gpus(capability, labels):
    from rtxcourse.benchmarks import precision as bp

    plans = bp._unique_plans(bp.train_requests("cuda"), lambda r: choose_precision("cuda", requested=r, capability=capability))
    assert [p.short for p in plans] == labels
    assert plans[0].requested == "fp32" and not plans[0].tf32 and not plans[0].mixed


@pytest.mark.parametrize("device", ["cuda", "cpu"])
@pytest.mark.parametrize("quick", [True, False])
def test_training_sizes_suit_tensor_cores(monkeypatch, device, quick):
    """Multiples of 8 (Tensor Core tiles for fp16/bf16) and a head size that is one too."""
    from rtxcourse import runtime
    from rtxcourse.benchmarks import precision as bp

    monkeypatch.setattr(runtime, "quick_mode", lambda: quick)
    monkeypatch.setenv("RTXCOURSE_TIER", "1-gpu" if device == "cuda" else "cpu")
    s = bp.train_sizes(device)
    for name in ("batch", "width", "seq_len", "d_model", "seq_batch"):
        assert getattr(s, name) % 8 == 0, name
    assert s.d_model % s.n_heads == 0 and (s.d_model // s.n_heads) % 8 == 0
    if device == "cuda" and not quick:
        assert s.d_model >= 1024 and s.batch >= 256  # big enough that the GPU computes, not waits
