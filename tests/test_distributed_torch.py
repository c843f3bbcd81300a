"""rtxcourse.distributed_torch: the worker's process-group set-up, precision choice and helpers."""

import pytest

from rtxcourse.precision import PrecisionWarning

torch = pytest.importorskip("torch")

from rtxcourse import distributed_torch as dt  # noqa: E402
from rtxcourse.hardware import cpu_has_fast_bf16  # noqa: E402


def test_setup_without_torchrun_is_a_world_of_one(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("RTXCOURSE_DEVICE", "cpu")
    ctx = dt.setup()
    assert (ctx.rank, ctx.world_size, ctx.distributed, ctx.is_main) == (0, 1, False, True)
    assert ctx.device == torch.device("cpu") and ctx.device_ids is None
    assert dt.mean_over_ranks(2.5, ctx) == 2.5
    dt.teardown(ctx)  # nothing to tear down: must not fail


def test_device_ids_name_the_gpu_of_this_process():
    ctx = dt.DistContext(3, 1, 4, torch.device("cuda", 1), "nccl")
    assert ctx.device_ids == [1] and ctx.distributed and not ctx.is_main


def test_autocast_dtype_rules():
    cpu = torch.device("cpu")
    assert dt.autocast_dtype(cpu, "fp32") is None
    assert dt.autocast_dtype(cpu, "bf16") is torch.bfloat16
    assert dt.autocast_dtype(cpu, "auto") is (torch.bfloat16 if cpu_has_fast_bf16() else None)
    with pytest.warns(PrecisionWarning, match="fp16 was requested on a CPU"):
        assert dt.autocast_dtype(cpu, "fp16") is (torch.bfloat16 if cpu_has_fast_bf16() else None)
    with pytest.raises(ValueError, match="precision must be one of"):
        dt.autocast_dtype(cpu, "half")


def test_autocast_context_switches_the_matmul_dtype():
    cpu = torch.device("cpu")
    a = torch.randn(4, 4)
    with dt.autocast(cpu, torch.bfloat16):
        assert (a @ a).dtype == torch.bfloat16
    with dt.autocast(cpu, None):
        assert (a @ a).dtype == torch.float32
