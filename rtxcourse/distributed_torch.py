"""The few lines every torch.distributed worker starts and ends with, in one place.

A worker started by torchrun finds ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` in its environment (the ``env://`` rendezvous). :func:`setup` turns them into a
process group on the right backend and device; a script started without torchrun becomes a
world of one, so the same file trains on a laptop, N GPUs or N nodes::

    ctx = setup()                       # rank, world size, device; process group if distributed
    model = DDP(model.to(ctx.device), device_ids=ctx.device_ids) if ctx.distributed else model
    ...
    teardown(ctx)

Backend rule: ``nccl`` for CUDA devices (GPU-to-GPU over NVLink/PCIe/InfiniBand), ``gloo`` for
CPU processes. NCCL cannot run on a machine without GPUs: asking for it there is the seeds'
mistake ``init_process_group(backend='nccl')`` on a CPU laptop.
"""

from __future__ import annotations

import gc
import os
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class DistContext:
    """Who this process is in the job and where it computes."""

    rank: int  # 0 .. world_size-1 across all nodes
    local_rank: int  # 0 .. processes-per-node-1: picks the GPU on this node
    world_size: int
    device: torch.device
    backend: str | None  # None when not distributed

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """True on rank 0: the one process that logs and saves."""
        return self.rank == 0

    @property
    def device_ids(self) -> list[int] | None:
        """What DistributedDataParallel's ``device_ids`` wants: ``[local_rank]`` on a GPU, None on CPU."""
        return [self.device.index] if self.device.type == "cuda" else None


def wants_cuda() -> bool:
    """Whether this worker computes on a GPU.

    The launchers of :mod:`rtxcourse.distributed` decide for the whole job and say so in
    ``RTXCOURSE_DEVICE``. Started any other way (``torchrun`` by hand, Slurm, Kubernetes),
    a worker uses a GPU when torch can see one, as every PyTorch script does.
    """
    chosen = os.environ.get("RTXCOURSE_DEVICE")
    if chosen in ("cuda", "cpu"):
        return chosen == "cuda"
    return torch.cuda.is_available()


def setup(timeout_s: float = 300.0) -> DistContext:
    """Join the job torchrun started (or become a world of one) and pick this process's device.

    ``timeout_s`` bounds how long a collective waits for a missing rank before it fails with
    an error instead of hanging. On GPUs the process takes GPU ``LOCAL_RANK`` (one process
    per GPU) and makes it current *before* the process group exists, so that NCCL and every
    later CUDA call use that GPU and not GPU 0.
    """
    use_cuda = wants_cuda()
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("this worker was asked to use a GPU but torch sees none "
                           f"(torch {torch.__version__}, CUDA build {torch.version.cuda}; "
                           "a CPU-only torch build, or CUDA_VISIBLE_DEVICES hides them)")
    if "RANK" not in os.environ:  # plain `python script.py`: no process group needed
        device = torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
        return DistContext(0, 0, 1, device, None)
    local_rank = int(os.environ["LOCAL_RANK"])
    if use_cuda:
        count = torch.cuda.device_count()
        if local_rank >= count:  # e.g. torchrun --nproc-per-node 4 on a machine with 2 GPUs
            raise RuntimeError(
                f"LOCAL_RANK is {local_rank} but this node has {count} visible GPU(s): start one process "
                f"per GPU (torchrun --nproc-per-node {count}, or --nproc-per-node gpu); two processes on "
                "one GPU are not allowed by NCCL")
        device = torch.device("cuda", local_rank)  # one GPU per process, chosen by LOCAL_RANK
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s),
                            device_id=device if device.type == "cuda" else None)
    return DistContext(dist.get_rank(), local_rank, dist.get_world_size(), device, backend)


def teardown(ctx: DistContext) -> None:
    """Leave the process group cleanly (every rank must call it, after its last collective)."""
    if ctx.distributed and dist.is_initialized():
        # Free DDP wrappers that are no longer used now, while their process group exists. They
        # sit in reference cycles, and freed at interpreter exit instead they crashed about one
        # gloo run in three with "terminate called without an active exception" (torch 2.13).
        gc.collect()
        dist.destroy_process_group()


def strict_fp32() -> None:
    """Compute float32 matmuls and convolutions on CUDA in full float32 (no TF32) in this process.

    For checks that compare GPU results with CPU ones at float32 tolerance: TF32 keeps 10
    mantissa bits, so its errors (about 1e-3 relative) would hide what is being checked.
    Torch's defaults are already TF32-free for matmuls but not for cuDNN convolutions, and
    some containers set ``TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1``, which torch reads once, at
    the first CUDA matmul: call this before any. No effect on CPU computations.
    """
    from rtxcourse import precision_torch

    os.environ.pop("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", None)
    precision_torch.set_tf32(False)


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None = plain fp32).

    The course's one rule decides (:func:`rtxcourse.precision.choose_precision`): ``auto`` is
    bf16 on Ampere+ GPUs and on CPUs with native bf16, fp16 (with a GradScaler) on older GPUs,
    fp32 otherwise; fp16 asked for on a CPU warns and falls back, since CPUs have no fast fp16.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    from rtxcourse import precision_torch

    p = precision_torch.plan(device, precision)
    return precision_torch.torch_dtype(p) if p.mixed else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype``, or a do-nothing context for fp32."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def mean_over_ranks(value: float, ctx: DistContext) -> float:
    """Average a Python number over all ranks (for logging a loss that every rank computed)."""
    if not ctx.distributed:
        return float(value)
    t = torch.tensor([float(value)], device=ctx.device)
    dist.all_reduce(t)  # SUM: gloo and nccl both support it (AVG is nccl-only)
    return t.item() / ctx.world_size
