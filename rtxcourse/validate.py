"""Input checks shared by the package's public functions: one readable message per mistake."""

from __future__ import annotations

import numbers

import numpy as np


def positive_ints(**values) -> None:
    """Raise ValueError naming the first argument that is not a positive integer."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def check_xy(x, y) -> None:
    """Raise unless ``x`` is a NumPy batch of images (N, H, W, C) matching NumPy labels ``y`` (N,)."""
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"x and y must be NumPy arrays, got {type(x).__name__} and {type(y).__name__}")
    if x.ndim != 4:
        raise ValueError(f"x must be a batch of images with shape (N, H, W, C); got shape {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y must have shape ({len(x)},) to match x {x.shape}; got {y.shape}")
