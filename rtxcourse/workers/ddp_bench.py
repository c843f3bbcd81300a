"""Time DDP training steps in every process; rank 0 hands its timing back (``rtxcourse bench ddp``).

Synthetic batches already on the device, so the timing is compute plus gradient all-reduce,
not data loading. ``--no-ddp`` runs the same processes without the DDP wrapper (no all-reduce):
the difference to a DDP run is the cost of communication; the difference to one process is
the cost of sharing the machine.

    torchrun --standalone --nproc-per-node 4 -m rtxcourse.workers.ddp_bench --steps 20
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from rtxcourse import bench
from rtxcourse.distributed import save_result
from rtxcourse.distributed_torch import PRECISIONS, autocast, autocast_dtype, setup, teardown
from rtxcourse.models_torch import MLP, count_parameters


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=256, help="per process (weak scaling: fixed per process)")
    p.add_argument("--features", type=int, default=1024)
    p.add_argument("--hidden", type=int, nargs="+", default=[2048, 2048])
    p.add_argument("--steps", type=int, default=10, help="steps per timed repeat (the same on every rank)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--precision", default="auto", choices=PRECISIONS)
    p.add_argument("--no-ddp", action="store_true", help="skip the DDP wrapper: no gradient all-reduce")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    ctx = setup()
    torch.manual_seed(0)
    model = MLP(args.features, tuple(args.hidden), 10).to(ctx.device)
    params = count_parameters(model)
    if ctx.distributed and not args.no_ddp:
        model = DDP(model, device_ids=ctx.device_ids)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    dtype = autocast_dtype(ctx.device, args.precision)
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=dtype == torch.float16)
    xb = torch.randn(args.batch_size, args.features, device=ctx.device)
    yb = torch.randint(0, 10, (args.batch_size,), device=ctx.device)

    def step():
        with autocast(ctx.device, dtype):
            loss = F.cross_entropy(model(xb), yb)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    # `number` fixed: every rank must run the same number of steps, or the all-reduces
    # would not pair up and the job would hang (measure's auto-calibration differs per rank).
    m = bench.measure(step, name=f"{ctx.world_size} process{'es' if ctx.world_size > 1 else ''}",
                      warmup=2, repeats=args.repeats, number=args.steps, sync="torch",
                      work=args.batch_size * ctx.world_size, unit="sample",
                      params={"nprocs": ctx.world_size, "ddp": not args.no_ddp, "device": ctx.device.type,
                              "backend": ctx.backend, "autocast": str(dtype), "parameters": params,
                              "batch_per_process": args.batch_size, "torch": torch.__version__})
    if ctx.is_main:
        print(f"{m.name}: {bench.format_seconds(m.median)} per step, {bench.format_rate(m.rate, 'sample')}")
    save_result(m.to_dict())
    teardown(ctx)
    return m.to_dict()


if __name__ == "__main__":
    main()
