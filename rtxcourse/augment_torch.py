"""Run :mod:`rtxcourse.augment` chains in a PyTorch ``DataLoader`` with a proper random stream per worker.

A ``Dataset`` calls ``transform(image)``; our transforms take ``(image, rng)``. The tempting
adapter, ``functools.partial(chain, rng=np.random.default_rng(0))``, hands every worker process
a *copy* of the same generator, so worker 0 and worker 1 draw the same crops and flips (and the
same again next epoch when workers restart). :class:`WorkerSeeded` instead seeds one generator
per worker from ``torch.initial_seed()``, which PyTorch sets to a different value in every
worker and, for non-persistent workers, every epoch, all derived from the loader's seed, and
from the process's **rank** in a distributed job. Without the rank, every rank of a DDP job
(same loader seed, so the same per-worker seeds) would draw the same augmentations in its
worker k::

    from rtxcourse import augment as A, data
    from rtxcourse.augment_torch import WorkerSeeded

    loader = data.as_torch_loader(x, y, 64, transform=WorkerSeeded(chain), num_workers=2)
    # under torchrun: the rank is found by itself (process group, else $RANK), or pass rank=ctx.rank

Defined in a module (not a notebook) so worker processes can import it under any start method.
"""

from __future__ import annotations

import os

import numpy as np
import torch


def current_rank() -> int:
    """This process's rank: the ``torch.distributed`` group's when one is up, else ``$RANK`` (torchrun), else 0."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    rank = os.environ.get("RANK", "0")
    if not rank.isdigit():
        raise ValueError(f"the environment variable RANK must be a non-negative integer, got {rank!r}")
    return int(rank)


def worker_seed(torch_seed: int, rank: int) -> np.random.SeedSequence:
    """The NumPy seed of one DataLoader worker: its torch seed (distinct per worker and epoch) and the rank."""
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 0:
        raise ValueError(f"rank must be a non-negative int, got {rank!r}")
    return np.random.SeedSequence([int(torch_seed), int(rank)])


class WorkerSeeded:
    """Turn ``transform(image, rng)`` into ``transform(image)`` with one NumPy generator per process.

    The generator is seeded from ``torch.initial_seed()`` and the ``rank`` (see
    :func:`worker_seed`): in the main process the torch seed is the one given to
    ``torch.manual_seed``; in DataLoader worker ``k`` it is the loader's per-epoch base seed
    plus ``k``, the same on every rank of a DDP job that seeds its loaders alike, which is why
    the rank is mixed in. ``rank`` defaults to :func:`current_rank`, read here in the main
    process (worker processes have no process group). Runs are reproducible from the torch
    seed, and no two workers, on any rank, repeat each other.
    """

    def __init__(self, transform, rank: int | None = None):
        if not callable(transform):
            raise TypeError(f"transform must be callable as transform(image, rng), got {type(transform).__name__}")
        self.transform = transform
        self.rank = current_rank() if rank is None else rank
        worker_seed(0, self.rank)  # validate now, not in a worker
        self._seed: int | None = None
        self._rng: np.random.Generator | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        seed = torch.initial_seed()
        if seed != self._seed:  # first call in this process, or a new epoch's worker
            self._seed, self._rng = seed, np.random.default_rng(worker_seed(seed, self.rank))
        return self.transform(image, self._rng)

    def __repr__(self) -> str:
        return f"WorkerSeeded({self.transform!r}, rank={self.rank})"
