"""DDP training that survives a killed worker: checkpoints every N steps, torchrun restarts, it resumes.

torchrun's ``--max-restarts k`` restarts *every* worker of the job (up to k times) when one of
them dies; each restarted worker finds the latest checkpoint and continues from it. With the
full training state saved (weights, optimizer, scheduler, scaler, step and every rank's RNG
states, :mod:`rtxcourse.checkpoint_torch`) and a data order that depends only on the seed and
the epoch, the restarted job ends with exactly the weights an uninterrupted run ends with::

    # on this machine: rank 1 kills itself at step 13 of its first attempt, torchrun restarts both
    from rtxcourse import distributed
    job = distributed.launch_torch(module="rtxcourse.workers.resumable_train", nprocs=2, max_restarts=1,
                                   args=["--checkpoint-dir", "/tmp/run1", "--crash-at-step", "13"])

    # by hand, or on a cluster (a pre-empted node is the crash; the scheduler resubmits the job)
    torchrun --standalone --nproc-per-node 2 --max-restarts 3 -m rtxcourse.workers.resumable_train \\
        --checkpoint-dir /shared/run1

``--crash-at-step N`` is the simulated failure: on its first attempt (torchrun's
``TORCHELASTIC_RESTART_COUNT`` is 0) rank ``--crash-rank`` sends itself SIGKILL after step N,
like the kernel's out-of-memory killer or a lost node: no exception, no cleanup, no last save.
"""

from __future__ import annotations

import argparse
import os
import signal
from itertools import islice

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from rtxcourse import checkpoint, data
from rtxcourse import checkpoint_torch as ckpt
from rtxcourse.distributed import save_result
from rtxcourse.distributed_torch import PRECISIONS, autocast, autocast_dtype, mean_over_ranks, setup, teardown
from rtxcourse.models_torch import MLP


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # -- training
    p.add_argument("--steps", type=int, default=30, help="optimizer steps in the whole run")
    p.add_argument("--batch-size", type=int, default=32, help="per process")
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--dropout", type=float, default=0.2, help="dropout after the hidden layer (uses the RNG)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS, help="autocast dtype")
    p.add_argument("--seed", type=int, default=0, help="initial weights, data order (with the epoch), dropout")
    # -- checkpoints and the simulated failure
    p.add_argument("--checkpoint-dir", required=True, help="where checkpoints go (shared by all ranks)")
    p.add_argument("--checkpoint-every", type=int, default=5, help="save after every N steps")
    p.add_argument("--keep", type=int, default=2, help="checkpoints kept on disk")
    p.add_argument("--crash-at-step", type=int, default=None, help="first attempt only: die after this step")
    p.add_argument("--crash-rank", type=int, default=1, help="the rank that dies")
    return p.parse_args(argv)


def make_model(in_features: int, dropout: float, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)  # identical initial weights on every rank
    mlp = MLP(in_features, (64,), 10)
    mlp.net.insert(3, torch.nn.Dropout(dropout))  # Flatten, Linear, ReLU, [Dropout], Linear
    return mlp


def main(argv=None) -> dict:
    args = parse_args(argv)
    ctx = setup()
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))  # set by torchrun: 0, 1, 2, ...
    log = print if ctx.is_main else (lambda *a, **k: None)
    amp_dtype = autocast_dtype(ctx.device, args.precision)

    x, y = data.digits()
    (x_tr, y_tr), _ = data.train_test_split(x, y, test_fraction=0.25, seed=args.seed)
    train = TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr))
    # The order of epoch e depends only on (seed, e): a resumed run finds it again by skipping.
    sampler = DistributedSampler(train, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                 seed=args.seed, drop_last=True)
    # A generator of its own: each new iterator draws a seed from it, and from the global RNG
    # without one, which would shift the dropout masks of a resumed run by one draw.
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler, drop_last=True,
                        generator=torch.Generator().manual_seed(args.seed))

    model = make_model(x[0].size, args.dropout, args.seed).to(ctx.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.steps)
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=amp_dtype == torch.float16)
    torch.manual_seed(args.seed + 1 + ctx.rank)  # each rank its own dropout masks

    state = ckpt.resume(args.checkpoint_dir, model=model, optimizer=optimizer, scheduler=scheduler,
                        scaler=scaler, map_location=ctx.device)
    step = state["step"] if state else 0
    losses = list(state["extra"]["losses"]) if state else []
    log(f"attempt {restart}: " + (f"resumed from {state['path'].name} at step {step}" if state else "fresh start"))
    if ctx.distributed:
        model = DDP(model, device_ids=ctx.device_ids)

    model.train()
    while step < args.steps:
        epoch, offset = divmod(step, len(loader))
        sampler.set_epoch(epoch)
        for xb, yb in islice(loader, offset, None):  # skip the batches trained before the checkpoint
            xb, yb = xb.to(ctx.device), yb.to(ctx.device)
            with autocast(ctx.device, amp_dtype):
                loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            losses.append(mean_over_ranks(loss.item(), ctx))
            if step % args.checkpoint_every == 0 or step == args.steps:
                path = ckpt.save(args.checkpoint_dir, step=step, epoch=epoch, model=model, optimizer=optimizer,
                                 scheduler=scheduler, scaler=scaler, extra={"losses": losses}, keep=args.keep)
                if path:  # rank 0 wrote it
                    log(f"step {step}: loss {losses[-1]:.4f}, saved {path.name}")
            if restart == 0 and step == args.crash_at_step and ctx.rank == args.crash_rank:
                print(f"rank {ctx.rank}: killed after step {step} (simulated failure)", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            if step == args.steps:
                break

    net = ckpt.unwrap(model)
    params = torch.cat([p.detach().cpu().flatten() for p in net.parameters()]).numpy()
    result = {"rank": ctx.rank, "world_size": ctx.world_size, "restart_count": restart,
              "resumed_from_step": state["step"] if state else None, "losses": losses, "params": params,
              "checkpoints": [p.name for p in checkpoint.list_checkpoints(args.checkpoint_dir)]}
    save_result(result)
    teardown(ctx)
    return result


if __name__ == "__main__":
    main()
