"""torch.utils.data adapters for rtxcourse.data arrays (imports torch).

Defined in a module, not a notebook, so DataLoader worker processes can import them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from rtxcourse.validate import check_xy


class ArrayDataset(Dataset):
    """Images (N, H, W, C) and labels (N,) as a map-style dataset.

    ``transform`` receives one HWC NumPy image and returns one (e.g. an ``rtxcourse.augment``
    chain); the result is converted to a float32 tensor (uint8 scaled to [0, 1]), CHW when
    ``channels_first``.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, transform=None, *, channels_first: bool = True):
        check_xy(x, y)
        self.x, self.y, self.transform, self.channels_first = x, y, transform, channels_first

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        img = self.x[i]
        if self.transform is not None:
            img = self.transform(img)
        if img.dtype == np.uint8:  # photos: 0..255 -> 0..1, as torchvision's ToTensor does
            img = img.astype(np.float32) / 255.0
        t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
        if self.channels_first:
            t = t.permute(2, 0, 1)
        return t, int(self.y[i])


def make_loader(x, y, batch_size: int = 32, *, shuffle: bool = True, seed: int = 0, transform=None, **kwargs) -> DataLoader:
    """A DataLoader over the arrays whose shuffle order depends only on ``seed``."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(ArrayDataset(x, y, transform), batch_size=batch_size, shuffle=shuffle, generator=generator, **kwargs)
