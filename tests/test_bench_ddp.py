"""rtxcourse.benchmarks.ddp (`rtxcourse bench ddp`): DDP weak scaling measured with torchrun jobs."""

import json

import pytest

from rtxcourse import cli
from rtxcourse.benchmarks import ddp


def test_scaling_report_needs_at_least_two_processes():
    with pytest.raises(ValueError, match="nprocs must be an int >= 2"):
        ddp.scaling_report(1)


@pytest.mark.slow
def test_bench_ddp_cli_reports_three_measurements_efficiency_and_hardware(capsys):
    code = cli.main(["bench", "ddp", "--quick", "--json", "--device", "cpu", "--nprocs", "2",
                     "--batch-size", "16", "--hidden", "64", "--steps", "2"])
    assert code == 0
    (report,) = json.loads(capsys.readouterr().out)
    names = [m["name"] for m in report["measurements"]]
    assert names == ["1 process", "2 processes, no all-reduce", "2 processes"]
    by_name = {m["name"]: m for m in report["measurements"]}
    assert by_name["2 processes"]["params"]["ddp"] and not by_name["2 processes, no all-reduce"]["params"]["ddp"]
    assert by_name["2 processes"]["work"] == 2 * by_name["1 process"]["work"] == 32  # samples per step, all ranks
    assert all(len(m["times"]) == 3 and min(m["times"]) > 0 for m in report["measurements"])
    (ratio,) = report["ratios"]
    assert (ratio["value"], ratio["baseline"]) == ("2 processes", "1 process")
    assert ratio["speedup"] == pytest.approx(by_name["1 process"]["median_s"] / by_name["2 processes"]["median_s"])
    assert any(n.startswith("scaling efficiency with 2 processes") for n in report["notes"])
    assert "CPU" in report["hardware"]["description"]
