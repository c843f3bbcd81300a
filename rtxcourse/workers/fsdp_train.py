"""Fully sharded data parallelism (FSDP2, ``torch.distributed.fsdp.fully_shard``).

DDP keeps a full copy of the parameters, gradients and optimizer state on every GPU. FSDP
splits (shards) all three across the N processes, so each holds about 1/N of them; before a
layer runs, its full weights are gathered from the shards (all-gather) and freed again after,
and its gradients are summed and scattered back to the owners (reduce-scatter). It trades
extra communication for memory: use it when the model, its gradients and Adam's two moments
no longer fit on one GPU.

    from rtxcourse import distributed
    job = distributed.launch_torch(module="rtxcourse.workers.fsdp_train", nprocs=2)
    torchrun --standalone --nproc-per-node 8 -m rtxcourse.workers.fsdp_train   # 8 GPUs

Shards each ``Linear`` separately, then the whole model: a layer's weights are gathered only
while that layer computes. Rank 0 saves a full (unsharded) checkpoint at the end. Mixed
precision is FSDP's own: layers are gathered and computed in bf16 (fp16 with a GradScaler on
GPUs without bf16) and gradients reduced in fp32.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from rtxcourse import data, precision_torch
from rtxcourse.distributed import save_result
from rtxcourse.distributed_torch import PRECISIONS, mean_over_ranks, setup, teardown
from rtxcourse.models_torch import MLP


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="bf16/fp16: gather and compute in that dtype, reduce gradients in fp32")
    p.add_argument("--checkpoint", default=None, help="rank 0 saves the full state dict here (.pt)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    ctx = setup()
    log = print if ctx.is_main else (lambda *a, **k: None)
    x, y = data.digits()
    train = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    sampler = DistributedSampler(train, ctx.world_size, ctx.rank, seed=args.seed, drop_last=True) if ctx.distributed else None
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler, shuffle=sampler is None, drop_last=True)

    torch.manual_seed(args.seed)
    model = MLP(x[0].size, tuple(args.hidden), 10).to(ctx.device)
    full_shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    full_numel = sum(p.numel() for p in model.parameters())
    # the course's one precision rule; a single process (no sharding) trains in fp32
    plan = precision_torch.plan(ctx.device, args.precision if ctx.distributed else "fp32")
    dtype = precision_torch.autocast_dtype(plan)
    if ctx.distributed:
        # The mesh names the device type of the shards: this process's device, said explicitly.
        # (fully_shard's default picks CUDA whenever torch sees a GPU, even for gloo CPU processes.)
        mesh = init_device_mesh(ctx.device.type, (ctx.world_size,))
        # FSDP's own mixed precision: parameters are gathered in `dtype`, gradients reduced in fp32.
        mp = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32) if dtype else MixedPrecisionPolicy()
        for layer in model.modules():
            if isinstance(layer, torch.nn.Linear):
                fully_shard(layer, mesh=mesh, mp_policy=mp)  # one unit per layer: gathered only while it runs
        fully_shard(model, mesh=mesh, mp_policy=mp)  # the root: whatever is left (none here), plus the hooks
    # Made after sharding, so Adam's moment buffers are created per shard: sharded too.
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    # fp16 gradients underflow without loss scaling; the scaler works on sharded gradients too
    # (all ranks agree on skipping a step). bf16 and fp32 need none: then it does nothing.
    scaler = precision_torch.grad_scaler(plan)

    epoch_losses = []
    for epoch in range(args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        total, count = 0.0, 0
        for xb, yb in loader:
            logits = model(xb.to(ctx.device)).float()  # the loss in fp32, whatever dtype the layers computed in
            loss = F.cross_entropy(logits, yb.to(ctx.device))
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            total, count = total + loss.item(), count + 1
        epoch_losses.append(mean_over_ranks(total / count, ctx))
        log(f"epoch {epoch + 1}/{args.epochs}: loss {epoch_losses[-1]:.4f}")

    # What this rank holds: the local piece of each (sharded) parameter and of Adam's state.
    local = {name: tuple(_local(p).shape) for name, p in model.named_parameters()}
    local_numel = sum(_local(p).numel() for p in model.parameters())
    state_numel = sum(_local(t).numel() for s in optimizer.state.values() for t in s.values()
                      if torch.is_tensor(t) and t.ndim > 0)
    log(f"rank 0 holds {local_numel:,} of {full_numel:,} parameters ({local_numel / full_numel:.0%}) "
        f"and {state_numel:,} Adam state values")
    # A full checkpoint gathers every shard; all ranks take part, rank 0 writes.
    full_state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if ctx.is_main and args.checkpoint:
        torch.save(full_state, args.checkpoint)
        log(f"saved {args.checkpoint}")
    result = {"rank": ctx.rank, "world_size": ctx.world_size, "epoch_losses": epoch_losses,
              "full_shapes": full_shapes, "local_shapes": local, "full_numel": full_numel,
              "local_numel": local_numel, "optimizer_state_numel": state_numel}
    save_result(result)
    teardown(ctx)
    return result


def _local(t: torch.Tensor) -> torch.Tensor:
    """The part of ``t`` stored on this rank (FSDP2 parameters are DTensors)."""
    return t.to_local() if hasattr(t, "to_local") else t


if __name__ == "__main__":
    main()
