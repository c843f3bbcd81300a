"""Data-parallel training with DistributedDataParallel (DDP): one process per GPU, or per CPU share.

Every process holds a full copy of the model and trains on its own slice of each global batch;
after ``backward()`` DDP averages the gradients of all processes (an all-reduce), so every copy
takes the same optimizer step and the copies never drift apart.

    # on this machine, from Python or a notebook (nccl on GPUs, gloo on CPUs):
    from rtxcourse import distributed
    job = distributed.launch_torch(module="rtxcourse.workers.ddp_train", nprocs=2, args=["--epochs", "2"])

    # by hand: one process, N GPUs on one node, 2 nodes of 8 GPUs (run the last on every node)
    python -m rtxcourse.workers.ddp_train
    torchrun --standalone --nproc-per-node 4 -m rtxcourse.workers.ddp_train
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        --rdzv-id job42 -m rtxcourse.workers.ddp_train

Only rank 0 prints and saves. ``--accum-steps k`` accumulates k micro-batches per optimizer
step and skips the all-reduce on all but the last (``no_sync``). Mixed precision is autocast
(bf16 where supported, fp16 with a GradScaler on older GPUs), the same inside DDP as outside.
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from rtxcourse import data, precision_torch
from rtxcourse.distributed import save_result
from rtxcourse.distributed_torch import PRECISIONS, autocast, mean_over_ranks, setup, teardown
from rtxcourse.models_torch import MLP


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # -- training
    p.add_argument("--epochs", type=int, default=3, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=64, help="per process: the global batch is this x world size")
    p.add_argument("--lr", type=float, default=0.05, help="learning rate for a global batch of --base-batch")
    p.add_argument("--base-batch", type=int, default=64, help="global batch --lr was tuned for (linear scaling rule)")
    p.add_argument("--accum-steps", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--precision", default="auto", choices=PRECISIONS, help="autocast dtype (auto: bf16 where fast)")
    # -- model and data
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 256], help="MLP hidden widths")
    p.add_argument("--image-size", type=int, default=8, help="digits resolution (8 is native)")
    p.add_argument("--seed", type=int, default=0, help="same on every rank: same initial weights, same shuffles")
    # -- output
    p.add_argument("--checkpoint", default=None, help="rank 0 saves the final weights here (.pt)")
    return p.parse_args(argv)


def make_model(in_features: int, hidden, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)  # every rank builds identical weights (DDP would also broadcast rank 0's)
    return MLP(in_features, tuple(hidden), 10)


def main(argv=None) -> dict:
    args = parse_args(argv)
    ctx = setup()  # rank, world size, device; init_process_group(nccl|gloo) under torchrun
    log = print if ctx.is_main else (lambda *a, **k: None)  # only rank 0 talks
    plan = precision_torch.plan(ctx.device, args.precision)  # the course's one precision rule
    amp_dtype = precision_torch.autocast_dtype(plan)
    log(f"world size {ctx.world_size}, backend {ctx.backend or 'none (single process)'}, device {ctx.device}, "
        f"autocast {amp_dtype or 'off (fp32)'}")

    # -- data: every rank loads the same arrays; the sampler gives each rank a disjoint slice
    x, y = data.digits(image_size=args.image_size)
    (x_tr, y_tr), (x_te, y_te) = data.train_test_split(x, y, test_fraction=0.25, seed=args.seed)
    train = TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr))
    sampler = DistributedSampler(train, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                 seed=args.seed, drop_last=True) if ctx.distributed else None
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler, shuffle=sampler is None,
                        drop_last=True, generator=torch.Generator().manual_seed(args.seed))

    # -- model: build, move to this rank's device, then wrap (the wrap broadcasts rank 0's weights)
    model = make_model(x.shape[1] * x.shape[2] * x.shape[3], args.hidden, args.seed).to(ctx.device)
    if ctx.distributed:
        model = DDP(model, device_ids=ctx.device_ids)
    # Linear scaling rule: a k-times larger global batch takes a k-times larger step.
    global_batch = args.batch_size * ctx.world_size * args.accum_steps
    lr = args.lr * global_batch / args.base_batch
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scaler = precision_torch.grad_scaler(plan)
    log(f"global batch {global_batch} ({args.batch_size} per process x {ctx.world_size} x {args.accum_steps} "
        f"accumulation steps), lr {lr:.3g}")

    epoch_losses, first_indices, start = [], None, time.perf_counter()
    samples = 0
    for epoch in range(args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)  # reshuffle: without it every epoch repeats epoch 0's order
            if first_indices is None:
                first_indices = list(sampler)  # what this rank trains on in epoch 0
        model.train()
        total, count = 0.0, 0
        for i, (xb, yb) in enumerate(loader):
            xb, yb = xb.to(ctx.device, non_blocking=True), yb.to(ctx.device, non_blocking=True)
            # The epoch's last batch also ends a group: no unsynchronised gradient is left over.
            last_micro = (i + 1) % args.accum_steps == 0 or i + 1 == len(loader)
            # no_sync: accumulate locally; the all-reduce runs once, on the last micro-batch.
            sync = model.no_sync() if ctx.distributed and not last_micro else nullcontext()
            with sync:
                with autocast(ctx.device, amp_dtype):
                    loss = F.cross_entropy(model(xb), yb)
                # Divide so the accumulated gradient is the mean over all micro-batches, not their sum.
                scaler.scale(loss / args.accum_steps).backward()
            if last_micro:
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
            total, count = total + loss.item(), count + 1
            samples += len(xb) * ctx.world_size
        epoch_losses.append(mean_over_ranks(total / count, ctx))
        log(f"epoch {epoch + 1}/{args.epochs}: loss {epoch_losses[-1]:.4f}")
    seconds = time.perf_counter() - start

    net = model.module if ctx.distributed else model  # the plain model inside the DDP wrapper
    checksum = float(sum(p.detach().double().sum() for p in net.parameters()))
    accuracy = evaluate(net, x_te, y_te, ctx.device) if ctx.is_main else None
    if ctx.is_main:
        log(f"test accuracy {accuracy:.3f}; {samples / seconds:.0f} samples/s over all ranks")
        if args.checkpoint:
            torch.save(net.state_dict(), args.checkpoint)  # one writer: rank 0
            log(f"saved {args.checkpoint}")
    result = {"rank": ctx.rank, "world_size": ctx.world_size, "backend": ctx.backend, "device": str(ctx.device),
              "global_batch": global_batch, "lr": lr, "epoch_losses": epoch_losses, "param_checksum": checksum,
              "first_epoch_indices": first_indices, "test_accuracy": accuracy,
              "samples_per_s": samples / seconds, "autocast": str(amp_dtype)}
    save_result(result)
    teardown(ctx)  # destroy_process_group: every rank, after its last collective
    return result


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, device: torch.device) -> float:
    """Accuracy of ``model`` on arrays ``x``, ``y``."""
    model.eval()
    logits = model(torch.from_numpy(x).to(device))
    return (logits.argmax(1).cpu() == torch.from_numpy(y)).float().mean().item()


if __name__ == "__main__":
    main()
