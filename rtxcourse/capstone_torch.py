"""Lesson 12's capstone in PyTorch: one model, trained with each step's configuration.

    from rtxcourse import capstone, capstone_torch as ct
    lab = ct.Lab(capstone.dataset(S), S)
    cfg = capstone.Config()                                  # step 1: fp32, no workers, SmallCNN
    row = lab.train("baseline", cfg)                         # trains a fresh model, returns a Row
    fast = lab.compare({"fp32": lab.step_fn(cfg), "bf16": lab.step_fn(cfg.but(precision="bfloat16"))})

Every run starts from the same seed, so two configurations differ only by what the step
changed. Reuses the course's pieces: ``data.as_torch_loader`` with ``augment_torch.WorkerSeeded``,
``precision_torch`` (autocast, GradScaler), ``models_torch.SmallCNN``/``SeparableCNN``,
``memory_torch`` (checkpointing, measured peaks) and ``flops_torch``.
"""

from __future__ import annotations

import copy
import os
import time

import torch
from torch import nn

from rtxcourse import bench, capstone, flops_torch, memory, memory_torch, precision_torch
from rtxcourse.capstone import Config, Row

MODELS = {"small": "SmallCNN", "separable": "SeparableCNN"}


def build(cfg: Config, s: capstone.Sizes, seed: int = 0) -> nn.Module:
    """A fresh SmallCNN or SeparableCNN (``cfg.model``) for 1-channel digits, seeded."""
    from rtxcourse import models_torch

    torch.manual_seed(seed)
    return getattr(models_torch, MODELS[cfg.model])(in_channels=1, num_classes=10, width=s.width)


class Checkpointed(nn.Module):
    """``net``'s feature layers under ``checkpoint_sequential`` (about sqrt(n) segments), then its head.

    A module (not a function), so that DistributedDataParallel can wrap it: DDP must see the
    forward pass to know which gradients to all-reduce.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.features = memory_torch.checkpointed(net.features, "sequential")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.head(torch.flatten(self.features(x), 1))


def forward_fn(net: nn.Module, cfg: Config) -> nn.Module:
    """``net`` itself, or :class:`Checkpointed` around it when ``cfg.checkpoint``."""
    return Checkpointed(net) if cfg.checkpoint else net


def shard_loss(forward, X, y, shards: int, plan):
    """Mean of the per-shard losses, each shard run on its own: what ``shards`` DDP processes compute together.

    BatchNorm normalises each shard with that shard's statistics, as each DDP process does with
    its slice (without SyncBatchNorm); DDP then averages the processes' gradients, which is the
    gradient of this mean. Each shard gets its own autocast region: autocast caches the 16-bit
    copy of each weight inside a region, and a shared copy would add the shards' weight
    gradients in 16 bits, where DDP adds them in float32.
    """
    total = 0.0
    for xs, ys in zip(X.chunk(shards), y.chunk(shards)):
        with precision_torch.autocast(plan):
            total = total + nn.functional.cross_entropy(forward(xs), ys)
    return total / shards


class Lab:
    """Train, time and measure one configuration after another on the same data and device."""

    def __init__(self, data: capstone.Data, s: capstone.Sizes, device=None, *, threads: int | None = 1):
        """``threads``: torch's intra-op threads on a CPU (None: leave torch's setting).

        One by default: the capstone's layers are tiny, so each op is a few microseconds of work
        and every op ends at a barrier where torch's OpenMP threads wait for each other. On a
        shared machine one of them is often descheduled, and an epoch measured 17x slower with
        two threads than with one (a 2-core machine at a load of 10). One thread per process is
        also what each DDP worker of step 7 gets, so the comparison there is fair.
        """
        self.data, self.s = data, s
        self.device = torch.device(device) if device is not None else precision_torch.default_device()
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if threads is not None and self.device.type == "cpu":
            torch.set_num_threads(threads)

    def plan(self, cfg: Config):
        """The :class:`~rtxcourse.precision.PrecisionPlan` of ``cfg.precision`` on this device."""
        return precision_torch.plan(self.device, {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}[cfg.precision])

    def loader(self, cfg: Config, batch: int | None = None):
        """The training DataLoader: plain (0 workers) or with ``cfg.workers`` persistent workers and pinned memory."""
        from rtxcourse import data
        from rtxcourse.augment_torch import WorkerSeeded

        transform = WorkerSeeded(capstone.augmentation()) if cfg.augment else None
        extra = dict(num_workers=cfg.workers, persistent_workers=True, prefetch_factor=2,
                     pin_memory=self.device.type == "cuda") if cfg.workers else {}
        return data.as_torch_loader(self.data.x_train, self.data.y_train, batch or cfg.batch, seed=0,
                                    transform=transform, drop_last=True, **extra)

    def make_step(self, net: nn.Module, cfg: Config, *, forward: nn.Module | None = None, shards: int = 1):
        """``step(X, y)``: one Adam update under the plan (autocast, GradScaler when it needs one).

        ``forward`` defaults to :func:`forward_fn` (pass a DDP wrapper of it in a worker);
        ``shards > 1`` computes :func:`shard_loss`, the single-process reference of a DDP job.
        """
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr or self.s.lr)
        forward = forward_fn(net, cfg) if forward is None else forward
        plan = self.plan(cfg)
        scaler = precision_torch.grad_scaler(plan)  # disabled (a pass-through) unless fp16

        def step(X, y):
            opt.zero_grad(set_to_none=False)  # gradients stay allocated: measured peaks are activations
            if shards > 1:
                loss = shard_loss(forward, X, y, shards, plan)
            else:
                with precision_torch.autocast(plan):
                    loss = nn.functional.cross_entropy(forward(X), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            return loss.detach()

        return step

    def steps_batches(self, cfg: Config, steps: int):
        """The fixed global batches of the multi-device comparison: consecutive slices of the training set."""
        X, y = self.batch(steps * cfg.batch)
        return list(zip(X.split(cfg.batch), y.split(cfg.batch)))

    def reference(self, cfg: Config, steps: int, shards: int) -> tuple[dict, float]:
        """Train ``steps`` steps in this one process as ``shards`` DDP ranks would; return (weights, seconds).

        The seconds are those of the same steps as ordinary single-process training (full batch):
        what several devices have to beat.
        """
        net = build(cfg, self.s).to(self.device)
        step = self.make_step(net, cfg, shards=shards)
        for X, y in self.steps_batches(cfg, steps):
            step(X, y)
        plain, batches = self.make_step(build(cfg, self.s).to(self.device), cfg), self.steps_batches(cfg, steps)
        plain(*batches[0])  # warm-up, as the workers do
        start = time.perf_counter()
        for X, y in batches[1:]:
            plain(X, y)
        bench.torch_sync()
        return weights(net), time.perf_counter() - start

    def accuracy(self, net: nn.Module, cfg: Config, x) -> float:
        """Test accuracy of ``net`` on NHWC images ``x``: eval mode, no gradients."""
        net.eval()
        X = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().to(self.device)
        y = torch.from_numpy(self.data.y_test).to(self.device)
        with torch.no_grad(), precision_torch.autocast(self.plan(cfg)):
            right = (net(X).argmax(1) == y).float().mean().item()
        net.train()
        return right

    def train(self, step_name: str, cfg: Config, *, progress: bool = True) -> Row:
        """Train a fresh model with ``cfg`` for ``s.epochs`` epochs (a progress bar unless ``progress=False``); return its :class:`Row`."""
        from tqdm.auto import tqdm

        bar = tqdm(total=self.s.epochs, desc=f"torch {step_name}: epochs", leave=False, disable=not progress)
        net = build(cfg, self.s).to(self.device)
        step, loader = self.make_step(net, cfg), self.loader(cfg)
        times = []
        for _ in range(self.s.epochs):
            start = time.perf_counter()
            for X, y in loader:
                step(X.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True))
            bench.torch_sync()
            times.append(time.perf_counter() - start)
            bar.update(1)
        bar.close()
        count = flops_torch.count(net, torch.zeros(1, 1, self.s.image_size, self.s.image_size, device=self.device))
        images = len(loader) * cfg.batch
        row = Row(step_name, min(times), self.peak(cfg, cfg.batch, net), self.accuracy(net, cfg, self.data.x_test),
                  self.accuracy(net, cfg, self.data.x_moved), cfg.batch, self.plan(cfg).short, count.params,
                  3 * count.flops_per_example, images, notes={"epoch_seconds": times})
        gpu = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None
        capstone.mfu_of(row, self.device.type, gpu)
        return row

    def batch(self, n: int):
        """The first ``n`` training images as a (X, y) batch on the device (``n`` may exceed the set: repeated)."""
        reps = -(-n // len(self.data.x_train))
        x = torch.from_numpy(self.data.x_train).permute(0, 3, 1, 2).repeat(reps, 1, 1, 1)[:n]
        return x.contiguous().to(self.device), torch.from_numpy(self.data.y_train).repeat(reps)[:n].to(self.device)

    def step_fn(self, cfg: Config, batch: int | None = None):
        """A zero-argument training step of a fresh model on a fixed batch, for :meth:`compare`."""
        step, (X, y) = self.make_step(build(cfg, self.s).to(self.device), cfg), self.batch(batch or cfg.batch)
        return lambda: step(X, y)

    def epoch_fn(self, cfg: Config):
        """A zero-argument full epoch (loader and steps) of a fresh model, for :meth:`compare`."""
        step, loader = self.make_step(build(cfg, self.s).to(self.device), cfg), self.loader(cfg)

        def epoch():
            for X, y in loader:
                step(X.to(self.device), y.to(self.device))

        return epoch

    def compare(self, fns: dict, rounds: int | None = None) -> tuple[float, dict]:
        """Time ``{name: fn}`` (two entries: baseline first) in interleaved rounds: :func:`capstone.compare`."""
        return capstone.compare(fns, rounds or self.s.rounds, "torch")

    def peak(self, cfg: Config, batch: int, net: nn.Module | None = None) -> int:
        """Measured peak bytes of one training step at ``batch`` (a copy of ``net``, or a fresh model)."""
        net = copy.deepcopy(net) if net is not None else build(cfg, self.s).to(self.device)
        step, (X, y) = self.make_step(net, cfg), self.batch(batch)
        step(X, y)  # warm-up: optimizer state and allocator pools exist before the measured step
        return memory_torch.measure_memory(lambda: step(X, y), device=self.device).peak_bytes

    def largest_batch(self, cfg: Config, budget: int, start: int, limit: int, step: int | None = None) -> memory.BatchSearch:
        """The largest multiple of ``step`` (default ``start``) up to ``limit`` whose measured step peak fits ``budget`` bytes."""
        return memory.largest_batch(lambda b: self.peak(cfg, b) <= budget, start=start, limit=limit, step=step)

    def count(self, cfg: Config):
        """Parameters and forward FLOPs per image (``flops_torch.count``) of ``cfg``'s model."""
        net = build(cfg, self.s).to(self.device)
        return flops_torch.count(net, torch.zeros(1, 1, self.s.image_size, self.s.image_size, device=self.device))


def weights(net: nn.Module) -> dict:
    """The parameters of ``net`` as float32 NumPy arrays by name (what a worker hands back)."""
    return {k: v.detach().float().cpu().numpy() for k, v in net.named_parameters()}

