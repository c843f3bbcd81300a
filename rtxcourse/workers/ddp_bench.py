"""Time DDP training steps in every process; rank 0 hands its timing back (``rtxcourse bench ddp``).

Synthetic batches already on the device, so the timing is compute plus gradient all-reduce,
not data loading. With several processes, each first times the model without the DDP wrapper
(no all-reduce), then wrapped: the difference is the cost of communication; the difference
between the unwrapped run and one process is the cost of sharing the machine.

    torchrun --standalone --nproc-per-node 4 -m rtxcourse.workers.ddp_bench --steps 20

Sizes not given on the command line are those of ``rtxcourse bench ddp`` for this device
(:func:`rtxcourse.benchmarks.ddp.default_sizes`), so a run across nodes compares with one node.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from rtxcourse import bench, precision_torch
from rtxcourse.benchmarks.ddp import default_sizes
from rtxcourse.distributed import save_result
from rtxcourse.distributed_torch import PRECISIONS, autocast, setup, teardown
from rtxcourse.models_torch import MLP, count_parameters


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=None, help="per process (weak scaling: fixed per process)")
    p.add_argument("--features", type=int, default=1024)
    p.add_argument("--hidden", type=int, nargs="+", default=None)
    p.add_argument("--steps", type=int, default=None, help="steps per timed repeat (the same on every rank)")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--precision", default="auto", choices=PRECISIONS)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    ctx = setup()
    sizes = default_sizes(ctx.device.type)  # the same on every rank: ranks on one device type
    for name in ("batch_size", "hidden", "steps", "repeats"):
        if getattr(args, name) is None:
            setattr(args, name, sizes[name])
    torch.manual_seed(0)
    model = MLP(args.features, tuple(args.hidden), 10).to(ctx.device)
    params = count_parameters(model)
    plan = precision_torch.plan(ctx.device, args.precision)  # the course's one precision rule
    dtype = precision_torch.autocast_dtype(plan)
    xb = torch.randn(args.batch_size, args.features, device=ctx.device)
    yb = torch.randint(0, 10, (args.batch_size,), device=ctx.device)
    name = f"{ctx.world_size} process{'es' if ctx.world_size > 1 else ''}"
    info = {"nprocs": ctx.world_size, "device": ctx.device.type, "backend": ctx.backend, "autocast": str(dtype),
            "parameters": params, "batch_per_process": args.batch_size, "torch": torch.__version__}

    def timed(net, label: str, ddp: bool) -> dict:
        optimizer = torch.optim.SGD(net.parameters(), lr=1e-3)
        scaler = precision_torch.grad_scaler(plan)

        def step():
            with autocast(ctx.device, dtype):
                loss = F.cross_entropy(net(xb), yb)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)

        # `number` fixed: every rank must run the same number of steps, or the all-reduces
        # would not pair up and the job would hang (measure's auto-calibration differs per rank).
        m = bench.measure(step, name=label, warmup=2, repeats=args.repeats, number=args.steps, sync="torch",
                          work=args.batch_size * ctx.world_size, unit="sample", params=dict(info, ddp=ddp))
        if ctx.is_main:
            print(f"{m.name}: {bench.format_seconds(m.median)} per step, {bench.format_rate(m.rate, 'sample')}")
        return m.to_dict()

    result = {}
    if ctx.distributed and ctx.world_size > 1:
        # The same processes training independently: no gradient all-reduce, same machine load.
        result["no_ddp"] = timed(model, f"{name}, no all-reduce", ddp=False)
    net = DDP(model, device_ids=ctx.device_ids) if ctx.distributed else model
    result["ddp"] = timed(net, name, ddp=ctx.distributed)
    save_result(result)
    teardown(ctx)
    return result


if __name__ == "__main__":
    main()
