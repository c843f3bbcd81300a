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


def test_mean_over_ranks_divides_the_all_reduce_sum_by_the_world_size(monkeypatch):
    # Rank 0 of 4 logs 2.5; the other ranks hold 1.0, 3.0 and 5.5. all_reduce (SUM, in place) is
    # played by adding their values: the mean is (2.5 + 1.0 + 3.0 + 5.5) / 4 = 3.0 on every rank.
    calls = []

    def all_reduce(t, op=dt.dist.ReduceOp.SUM):
        calls.append(op)
        t.add_(1.0 + 3.0 + 5.5)

    monkeypatch.setattr(dt.dist, "all_reduce", all_reduce)
    ctx = dt.DistContext(0, 0, 4, torch.device("cpu"), "gloo")
    assert dt.mean_over_ranks(2.5, ctx) == pytest.approx(3.0) and calls == [dt.dist.ReduceOp.SUM]


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


# --------------------------------------------------------------------------- the GPU path, simulated
# No GPU here: torch.cuda and torch.distributed are replaced by recorders, and the tests check the
# decisions setup() makes (device, backend, order of calls), not CUDA itself.


@pytest.fixture
def fake_gpus(monkeypatch):
    """A machine whose torch sees ``n`` GPUs; returns the list of calls setup() made."""
    calls = []

    def install(n):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(("set_device", torch.device(d))))
        monkeypatch.setattr(dt.dist, "init_process_group",
                            lambda backend, **kw: calls.append(("init_process_group", backend, kw.get("device_id"))))
        monkeypatch.setattr(dt.dist, "get_rank", lambda: int(dt.os.environ["RANK"]))
        monkeypatch.setattr(dt.dist, "get_world_size", lambda: int(dt.os.environ["WORLD_SIZE"]))
        return calls

    return install


def _torchrun_env(monkeypatch, rank, local_rank, world, device=None):
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(local_rank))
    monkeypatch.setenv("WORLD_SIZE", str(world))
    if device is None:
        monkeypatch.delenv("RTXCOURSE_DEVICE", raising=False)
    else:
        monkeypatch.setenv("RTXCOURSE_DEVICE", device)


def test_gpu_worker_takes_gpu_local_rank_before_joining_the_nccl_group(monkeypatch, fake_gpus):
    calls = fake_gpus(4)
    _torchrun_env(monkeypatch, rank=5, local_rank=1, world=8, device="cuda")
    ctx = dt.setup()
    assert calls == [("set_device", torch.device("cuda", 1)),  # first: NCCL and CUDA calls then use GPU 1
                     ("init_process_group", "nccl", torch.device("cuda", 1))]
    assert (ctx.rank, ctx.local_rank, ctx.world_size, ctx.backend) == (5, 1, 8, "nccl")
    assert ctx.device == torch.device("cuda", 1) and ctx.device_ids == [1]


def test_torchrun_by_hand_uses_the_gpus_torch_sees_not_nvidia_smi(monkeypatch, fake_gpus):
    # On a cluster RTXCOURSE_DEVICE is unset. A container without nvidia-smi made the driver
    # count 0 and the workers fell back to gloo on the CPU; what counts is what torch can use.
    from rtxcourse import hardware

    monkeypatch.setattr(hardware, "visible_gpu_count", lambda: 0)
    calls = fake_gpus(8)
    _torchrun_env(monkeypatch, rank=0, local_rank=0, world=16)
    assert dt.setup().backend == "nccl" and calls[-1][1] == "nccl"
    # and the other way round: the driver shows GPUs, but this torch cannot use them
    monkeypatch.setattr(hardware, "visible_gpu_count", lambda: 2)
    fake_gpus(0)
    assert dt.setup().backend == "gloo"


def test_more_processes_than_gpus_fails_with_the_fix_not_invalid_device_ordinal(monkeypatch, fake_gpus):
    calls = fake_gpus(2)
    _torchrun_env(monkeypatch, rank=2, local_rank=2, world=4)  # torchrun --nproc-per-node 4 on 2 GPUs
    with pytest.raises(RuntimeError, match=r"LOCAL_RANK is 2 but this node has 2 visible GPU\(s\).*--nproc-per-node 2"):
        dt.setup()
    assert calls == []  # stopped before touching a GPU or the rendezvous


def test_gpu_asked_for_but_torch_sees_none(monkeypatch, fake_gpus):
    fake_gpus(0)
    _torchrun_env(monkeypatch, rank=0, local_rank=0, world=2, device="cuda")
    with pytest.raises(RuntimeError, match="asked to use a GPU but torch sees none"):
        dt.setup()


def test_single_process_on_a_gpu_names_its_gpu(monkeypatch, fake_gpus):
    fake_gpus(1)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("RTXCOURSE_DEVICE", raising=False)
    ctx = dt.setup()
    assert not ctx.distributed and ctx.device == torch.device("cuda", 0) and ctx.device_ids == [0]


def test_strict_fp32_turns_tf32_off_and_drops_the_container_override(monkeypatch):
    from rtxcourse import precision_torch

    monkeypatch.setenv("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "1")  # as some GPU containers set it
    old = precision_torch.set_tf32(True)
    try:
        dt.strict_fp32()
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
        assert "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE" not in dt.os.environ
    finally:
        torch.backends.cuda.matmul.fp32_precision = old["matmul"]
        torch.backends.cudnn.conv.fp32_precision = old["conv"]
