"""Activation memory without a framework: what a network saves for its backward pass, in bytes.

A training step keeps, between the forward and the backward pass, the tensors each layer
needs to compute its gradients ("saved tensors", "activations"). For a few layers this is
known exactly, so a measurement can be checked against the count::

    from rtxcourse import memory
    memory.linear_relu_saved_bytes(512, [784, 256, 256, 10])   # per layer, input included
    memory.residual_mlp_saved_bytes(512, width=128, depth=8)   # LayerNorm-MLP blocks
    memory.format_bytes(21_004_288)                            # '20.0 MiB'

The measurements themselves are framework code: :mod:`rtxcourse.memory_torch` (allocator
statistics on a GPU, the profiler's allocation events and saved-tensor hooks on a CPU) and
:mod:`rtxcourse.memory_tf` (TensorFlow's allocator statistics, which also count the CPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from rtxcourse.precision import format_info
from rtxcourse.validate import positive_ints


def dtype_bytes(dtype) -> int:
    """Bytes of one element of ``dtype`` in memory (4 for fp32 and tf32, 2 for bf16 and fp16)."""
    f = format_info(dtype)
    return (f.storage_bits or f.bits) // 8


def linear_relu_saved_bytes(batch: int, widths, *, dtype="fp32") -> list[int]:
    """Bytes each Linear+ReLU layer of a stack saves for backward, counting each tensor once.

    ``widths = [w0, w1, ..., wL]`` describes L layers ``Linear(w[i-1], w[i])`` each followed by a
    ReLU. Linear saves its input (for the weight gradient) and ReLU saves its output (its
    gradient is ``grad * (out > 0)``); layer i's input *is* layer i-1's ReLU output, one tensor
    saved by two layers. So layer 1 holds ``batch * (w0 + w1)`` elements (the network's input and
    its output), every later layer ``batch * w[i]``. Weights are parameters, not activations.
    """
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(f"widths needs the input width and at least one layer width, got {widths!r}")
    positive_ints(batch=batch, **{f"widths[{i}]": w for i, w in enumerate(widths)})
    size = dtype_bytes(dtype)
    per_layer = [batch * w * size for w in widths[1:]]
    per_layer[0] += batch * widths[0] * size
    return per_layer


def residual_mlp_saved_bytes(batch: int, width: int, depth: int, *, expansion: int = 4) -> list[int]:
    """Bytes each fp32 block ``x + fc2(gelu(fc1(layernorm(x))))`` saves for backward, per block.

    Per block, counted once each: the block input (LayerNorm's input), LayerNorm's output (fc1's
    input), LayerNorm's mean and 1/std (one float per row each), fc1's output (GELU's input) and
    GELU's output (fc2's input): ``batch * ((2 + 2 * expansion) * width + 2)`` floats of 4 bytes.
    The residual add saves nothing. This is PyTorch's bookkeeping; TensorFlow composes
    LayerNormalization from smaller ops and keeps more (measure it, lesson 07 does).
    """
    positive_ints(batch=batch, width=width, depth=depth, expansion=expansion)
    return [batch * ((2 + 2 * expansion) * width + 2) * 4] * depth


def format_bytes(n: float) -> str:
    """Format a byte count in binary units: ``'512 B'``, ``'1.5 KiB'``, ``'20.0 MiB'``, ``'1.2 GiB'``."""
    if n is None or not math.isfinite(n):
        return "n/a"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def sqrt_segments(n_layers: int) -> int:
    """Segments for ``checkpoint_sequential`` that minimise memory: about sqrt(n).

    With s segments, the boundaries (s tensors) stay saved and one segment (n/s layers) is
    recomputed at a time, so memory goes as s + n/s, smallest at s = sqrt(n) (Chen et al. 2016,
    "Training deep nets with sublinear memory cost").
    """
    positive_ints(n_layers=n_layers)
    return max(1, round(math.sqrt(n_layers)))


@dataclass(frozen=True)
class MemoryUse:
    """Bytes allocated by one call, measured by a framework's allocator (see ``method``).

    ``peak_bytes``: the highest allocation during the call, above what was allocated when it
    started; ``held_bytes``: what was still allocated when it returned (what its result keeps
    alive, e.g. a forward pass's saved activations). Both can be slightly negative when the
    call frees memory that was allocated before it.
    """

    peak_bytes: int
    held_bytes: int
    method: str  # how it was measured, in words (allocator statistics, profiler events)

    def __str__(self) -> str:
        return f"peak {format_bytes(self.peak_bytes)}, held {format_bytes(self.held_bytes)} ({self.method})"


@dataclass(frozen=True)
class BatchSearch:
    """The largest batch for which ``fits(batch)`` held, and every batch tried with its answer."""

    largest: int | None  # None: not even the smallest batch fitted
    tried: tuple[tuple[int, bool], ...]


def largest_batch(fits: Callable[[int], bool], *, start: int = 16, limit: int = 1 << 20, step: int | None = None) -> BatchSearch:
    """Find the largest batch that fits by measuring: double from ``start``, then bisect.

    ``fits(batch) -> bool`` runs a step at that batch and says whether it stayed within the
    budget (memory grows with the batch, so the answer changes once). The result is a multiple
    of ``step`` (default ``start``) and at most ``limit``.
    """
    step = start if step is None else step
    positive_ints(start=start, limit=limit, step=step)
    if not callable(fits):
        raise TypeError(f"fits must be a callable batch -> bool, got {type(fits).__name__}")
    tried: list[tuple[int, bool]] = []

    def probe(b: int) -> bool:
        ok = bool(fits(b))
        tried.append((b, ok))
        return ok

    if not probe(start):
        return BatchSearch(None, tuple(tried))
    good, bad = start, None
    while bad is None and good < limit:
        b = min(good * 2, limit)
        if probe(b):
            good = b
        else:
            bad = b
    while bad is not None and bad - good > step:
        mid = (good + bad) // 2 // step * step
        if mid <= good:
            break
        if probe(mid):
            good = mid
        else:
            bad = mid
    return BatchSearch(good, tuple(tried))
