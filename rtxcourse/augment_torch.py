"""Run :mod:`rtxcourse.augment` chains in a PyTorch ``DataLoader`` with a proper random stream per worker.

A ``Dataset`` calls ``transform(image)``; our transforms take ``(image, rng)``. The tempting
adapter, ``functools.partial(chain, rng=np.random.default_rng(0))``, hands every worker process
a *copy* of the same generator, so worker 0 and worker 1 draw the same crops and flips (and the
same again next epoch when workers restart). :class:`WorkerSeeded` instead seeds one generator
per worker from ``torch.initial_seed()``, which PyTorch sets to a different value in every
worker and, for non-persistent workers, every epoch, all derived from the loader's seed::

    from rtxcourse import augment as A, data
    from rtxcourse.augment_torch import WorkerSeeded

    loader = data.as_torch_loader(x, y, 64, transform=WorkerSeeded(chain), num_workers=2)

Defined in a module (not a notebook) so worker processes can import it under any start method.
"""

from __future__ import annotations

import numpy as np
import torch


class WorkerSeeded:
    """Turn ``transform(image, rng)`` into ``transform(image)`` with one NumPy generator per process.

    The generator is seeded from ``torch.initial_seed()``: in the main process that is the seed
    given to ``torch.manual_seed``; in DataLoader worker ``k`` it is the loader's per-epoch base
    seed plus ``k``. Runs are therefore reproducible from the torch seed, and workers never
    repeat each other.
    """

    def __init__(self, transform):
        if not callable(transform):
            raise TypeError(f"transform must be callable as transform(image, rng), got {type(transform).__name__}")
        self.transform = transform
        self._seed: int | None = None
        self._rng: np.random.Generator | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        seed = torch.initial_seed()
        if seed != self._seed:  # first call in this process, or a new epoch's worker
            self._seed, self._rng = seed, np.random.default_rng(seed)
        return self.transform(image, self._rng)

    def __repr__(self) -> str:
        return f"WorkerSeeded({self.transform!r})"
