"""Tests for ``rtxcourse bench memory`` (rtxcourse.benchmarks.memory), at tiny sizes."""

from __future__ import annotations

import argparse

import pytest

from rtxcourse.benchmarks import memory as bm


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny sizes need no second thread, and a busy machine makes two stall each other (memory_torch.threads)."""
    from rtxcourse.hardware import available_frameworks

    if "torch" not in available_frameworks():
        yield
        return
    from rtxcourse import memory_torch as mt

    with mt.threads(1):
        yield


def _check(report, modes, precisions):
    names = [m.name for m in report.measurements]
    assert names == [f"{p} {m}" for p in precisions for m in modes]
    assert [(r.value, r.baseline) for r in report.ratios] == [(f"{p} {m}", f"{p} none") for p in precisions for m in modes[1:]]
    for m in report.measurements:
        assert m.params["peak_bytes"] > 0 and m.params["mode"] in modes and len(m.times) == 2
    for p in precisions:
        # checkpointing every block keeps a fraction of the activations
        assert report[f"{p} each"].params["peak_bytes"] < 0.6 * report[f"{p} none"].params["peak_bytes"]
    table = report.table()
    assert "x less than fp32 none" in table and "sizes: Sizes(" in table
    assert report.to_dict()["measurements"][0]["params"]["peak_bytes"] == report.measurements[0].params["peak_bytes"]


def test_torch_report_compares_every_mode_with_no_checkpointing():
    pytest.importorskip("torch")
    from rtxcourse import precision_torch as pt

    report = bm.torch_checkpointing(bm.Sizes(batch=64, width=32, depth=6), rounds=2)
    mixed = pt.plan(None, "auto")
    precisions = ["fp32"] + ([mixed.short] if mixed.mixed else [])
    _check(report, ["none", "each", "sequential", "selective"], precisions)
    assert "activations counted by hand" in report.table()


def test_tf_report_compares_every_mode_with_no_checkpointing():
    pytest.importorskip("tensorflow")
    from rtxcourse import precision_tf as ptf

    report = bm.tf_checkpointing(bm.Sizes(batch=512, width=128, depth=4, expansion=2), rounds=2)
    mixed = ptf.plan("auto")
    _check(report, ["none", "each", "sequential"], ["fp32"] + ([mixed.short] if mixed.mixed else []))
    assert "TensorFlow allocator statistics" in report.table()


def test_modes_must_start_with_none():
    with pytest.raises(ValueError, match="modes must start with 'none'"):
        bm._modes(["each"], ("none", "each"))
    with pytest.raises(ValueError, match="modes must start with 'none'"):
        bm._modes(["none", "everything"], ("none", "each"))
    assert bm._modes(None, ("none", "each")) == ["none", "each"]


def test_cpu_sizes_are_large_enough_for_tensorflow_cpu_statistics(monkeypatch):
    for quick in (True, False):
        monkeypatch.setenv("RTXCOURSE_QUICK", "1" if quick else "0")
        s = bm.sizes("cpu")
        assert s.batch * s.width * 4 >= 262144


def test_run_picks_frameworks_and_rejects_bad_rounds(monkeypatch):
    calls = []
    monkeypatch.setattr(bm, "torch_checkpointing", lambda rounds: calls.append(("torch", rounds)) or "t")
    monkeypatch.setattr(bm, "tf_checkpointing", lambda rounds: calls.append(("tf", rounds)) or "k")
    monkeypatch.setattr("rtxcourse.hardware.available_frameworks", lambda: {"torch"})
    assert bm.run(argparse.Namespace(framework="both", rounds=None)) == ["t"]
    assert calls == [("torch", None)]
    with pytest.raises(SystemExit, match="tf is not installed"):
        bm.run(argparse.Namespace(framework="tf", rounds=None))
    with pytest.raises(SystemExit, match="--rounds must be at least 1"):
        bm.run(argparse.Namespace(framework="torch", rounds=0))


def test_cli_lists_the_memory_topic():
    from rtxcourse.cli import BENCH_TOPICS, build_parser

    assert BENCH_TOPICS["memory"][0] == "memory"
    args = build_parser().parse_args(["bench", "memory", "--quick", "--json", "--framework", "torch", "--rounds", "2"])
    assert (args.topic, args.quick, args.json, args.framework, args.rounds) == ("memory", True, True, "torch", 2)
