"""rtxcourse.benchmarks.ddp (`rtxcourse bench ddp`): DDP weak scaling measured with torchrun jobs."""

import json

import pytest

from rtxcourse import cli
from rtxcourse.benchmarks import ddp


def test_sizes_follow_where_the_processes_run_not_the_tier(monkeypatch):
    from rtxcourse import runtime

    monkeypatch.setattr(runtime, "_QUICK", False)
    monkeypatch.setattr(runtime, "tier", lambda: "1-gpu")  # the tier said "GPU sizes" before
    seen = {}
    monkeypatch.setattr(ddp, "scaling_report", lambda nprocs, **kw: seen.update(kw, nprocs=nprocs) or "report")
    args = cli.build_parser().parse_args(["bench", "ddp"])
    # One GPU: 2 processes on the CPU, so CPU sizes (GPU ones took minutes per step there).
    monkeypatch.setattr(ddp.distributed, "torch_gpu_count", lambda: 1)
    with pytest.warns(RuntimeWarning, match="only 1 GPU"):
        ddp.run(args)
    assert (seen["nprocs"], seen["device"], seen["batch_size"]) == (2, "cpu", ddp.default_sizes("cpu")["batch_size"])
    # Four GPUs: four GPU processes at GPU sizes.
    monkeypatch.setattr(ddp.distributed, "torch_gpu_count", lambda: 4)
    ddp.run(args)
    assert (seen["nprocs"], seen["device"], seen["hidden"]) == (4, "cuda", ddp.default_sizes("cuda")["hidden"])


def test_gpu_sizes_compute_longer_than_the_all_reduce_takes(monkeypatch):
    from rtxcourse import runtime

    monkeypatch.setattr(runtime, "_QUICK", False)
    gpu = ddp.default_sizes("cuda")
    # FLOPs per step (6 x parameters x batch) over bytes all-reduced (4 x parameters) = 1.5 x batch.
    # An H100 computes ~1000 bf16 TFLOP/s and all-reduces ~400 GB/s over NVLink: ~2500 FLOP/byte
    # is break-even, so the batch must be well above 2500 / 1.5 for compute to dominate.
    assert 1.5 * gpu["batch_size"] >= 4 * 2500
    assert all(h % 8 == 0 for h in gpu["hidden"]) and gpu["batch_size"] % 8 == 0  # Tensor Core shapes
    assert ddp.default_sizes("cpu")["batch_size"] < gpu["batch_size"]
    monkeypatch.setattr(runtime, "_QUICK", True)
    assert ddp.default_sizes("cuda") == ddp.default_sizes("cpu")  # quick mode: small everywhere
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        ddp.default_sizes("auto")


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
    assert all(len(m["times"]) == 3 for m in report["measurements"])
    (ratio,) = report["ratios"]
    assert (ratio["value"], ratio["baseline"]) == ("2 processes", "1 process")
    assert ratio["speedup"] == pytest.approx(by_name["1 process"]["median_s"] / by_name["2 processes"]["median_s"])
    assert any(n.startswith("scaling efficiency with 2 processes") for n in report["notes"])
    assert any(n.startswith("exposed communication + DDP overhead: ") for n in report["notes"])
    assert not any("all-reduce share" in n for n in report["notes"])
    assert "CPU" in report["hardware"]["description"]
