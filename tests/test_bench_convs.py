"""rtxcourse bench convs: the four convolutions, their FLOPs and ratios, at a tiny size."""

import argparse

import pytest

from rtxcourse.benchmarks import convs as B

TINY = B.ConvSizes(batch=2, size=8, c_in=16, c_out=32)


def test_counts_are_the_formulas():
    c = B.counts(TINY)
    # 8x8 pixels: standard 9*16*32 products each; depthwise 9*16; pointwise 16*32
    assert c["standard"].flops == 2 * 64 * 9 * 16 * 32
    assert c["separable"].flops == c["depthwise"].flops + c["pointwise"].flops == 2 * 64 * (9 * 16 + 16 * 32)
    assert c["separable"].params == 9 * 16 + 16 * 32


@pytest.fixture
def one_call_per_repeat(monkeypatch):
    """These tests check names, work, rates and notes, not speed: one call per round instead of as
    many as fill min_time cuts the torch report from 3.5-8.7 s to 0.1-0.2 s (torch already imported)."""
    real = B.bench.interleaved
    monkeypatch.setattr(B.bench, "interleaved", lambda fns, **kw: real(fns, **{**kw, "number": 1}))


def test_torch_report_names_rates_ratios_and_notes(one_call_per_repeat):
    pytest.importorskip("torch")
    report = B.torch_report(TINY, repeats=2)
    names = [m.name for m in report.measurements]
    assert names == list(B.KINDS) + [k + " channels_last" for k in B.KINDS]
    hand = {"standard": 9 * 16 * 32, "depthwise": 9 * 16, "pointwise": 16 * 32, "separable": 9 * 16 + 16 * 32}
    for m in report.measurements:  # FLOP/s = batch x 8x8 pixels x 2 x multiply-adds per pixel, over the median
        assert len(m.times) == 2 and m.unit == "FLOP", m.name
        assert m.work == 2 * 64 * 2 * hand[m.name.removesuffix(" channels_last")], m.name
        assert m.rate == pytest.approx(m.work / (sum(m.times) / 2)), m.name  # the median of 2 repeats is their mean
    assert report["depthwise"].work == 2 * 2 * 64 * 9 * 16 and report["standard"].params["params"] == 9 * 16 * 32
    assert report["depthwise"].params["intensity_flop_per_byte"] < report["standard"].params["intensity_flop_per_byte"]
    assert ("separable", "standard") in [(r.value, r.baseline) for r in report.ratios]
    assert any("1/C_out + 1/k^2 = 0.142" in n for n in report.notes)  # 1/32 + 1/9
    assert "depthwise half reaches" in report.table()


@pytest.mark.slow
def test_tf_report_has_the_four_convs(one_call_per_repeat):
    pytest.importorskip("tensorflow")
    report = B.tf_report(TINY, repeats=1)
    assert [m.name for m in report.measurements] == list(B.KINDS)
    assert report["pointwise"].params["layout"] == "NHWC" and report.ratios[0].value == "separable"


def test_run_picks_installed_frameworks(monkeypatch):
    calls = []
    monkeypatch.setattr(B, "torch_report", lambda: calls.append("torch") or "t")
    monkeypatch.setattr(B, "tf_report", lambda: calls.append("tf") or "k")
    monkeypatch.setattr("rtxcourse.hardware.available_frameworks", lambda: {"torch"})
    assert B.run(argparse.Namespace(framework="both")) == ["t"] and calls == ["torch"]
    with pytest.raises(SystemExit, match="tf is not installed"):
        B.run(argparse.Namespace(framework="tf"))


def test_cli_registers_the_topic():
    from rtxcourse import cli

    args = cli.build_parser().parse_args(["bench", "convs", "--quick", "--json", "--framework", "torch"])
    assert args.topic == "convs" and args.framework == "torch" and args.json
