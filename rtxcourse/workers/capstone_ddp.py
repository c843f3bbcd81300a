"""Lesson 12, step 7: the capstone model trained by several DDP processes, for comparison with one.

Each process builds the same model (same seed), takes its slice of every global batch and
trains ``--steps`` steps; DDP averages the gradients, so all copies stay equal. Rank 0 hands
back its weights and the time of the steps after the first (start-up and warm-up excluded)::

    from rtxcourse import distributed
    job = distributed.launch_torch(module="rtxcourse.workers.capstone_ddp", nprocs=2,
                                   args=["--model", "separable", "--precision", "bfloat16", "--batch", "128"])
    job.result(0)["weights"]

    torchrun --standalone --nproc-per-node 4 -m rtxcourse.workers.capstone_ddp --batch 512   # 4 GPUs

The sizes (image size, width, steps, learning rate) are ``rtxcourse.capstone.sizes()``, the
same in the workers as in the notebook, since the launcher passes ``RTXCOURSE_QUICK`` on.
"""

from __future__ import annotations

import argparse
import time

import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from rtxcourse import bench, capstone, capstone_torch as ct
from rtxcourse.distributed import save_result
from rtxcourse.distributed_torch import setup, teardown


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="separable", choices=["small", "separable"])
    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--batch", type=int, default=128, help="global batch: each process takes batch / world size")
    p.add_argument("--lr", type=float, default=None, help="Adam's learning rate (default: the sizes' lr)")
    p.add_argument("--checkpoint", action="store_true", help="activation checkpointing of the feature layers")
    p.add_argument("--augment", action="store_true", help="unused by the fixed batches; kept for the config")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    ctx = setup()
    s = capstone.sizes()
    cfg = capstone.Config(precision=args.precision, model=args.model, batch=args.batch, checkpoint=args.checkpoint,
                          augment=args.augment, lr=args.lr)
    if cfg.batch % ctx.world_size:
        raise SystemExit(f"--batch {cfg.batch} does not split into {ctx.world_size} equal slices")
    lab = ct.Lab(capstone.dataset(s), s, device=ctx.device)
    net = ct.build(cfg, s).to(ctx.device)  # same seed on every rank: identical initial weights
    forward = ct.forward_fn(net, cfg)
    if ctx.distributed:
        forward = DDP(forward, device_ids=ctx.device_ids)
    step = lab.make_step(net, cfg, forward=forward)
    share = cfg.batch // ctx.world_size
    times = []
    for i, (X, y) in enumerate(lab.steps_batches(cfg, s.device_steps)):
        sl = slice(ctx.rank * share, (ctx.rank + 1) * share)  # this rank's slice of the global batch
        if ctx.distributed:
            dist.barrier()
        start = time.perf_counter()
        step(X[sl], y[sl])
        bench.torch_sync()
        if i:  # the first step also builds DDP's buckets and warms the kernels
            times.append(time.perf_counter() - start)
    if ctx.is_main:
        print(f"world size {ctx.world_size} on {ctx.device}: {len(times)} timed steps of global batch {cfg.batch}")
        save_result({"weights": ct.weights(net), "seconds": sum(times), "world_size": ctx.world_size,
                     "device": str(ctx.device)})
    teardown(ctx)


if __name__ == "__main__":
    main()
