"""Activation memory in PyTorch: measure it, then cut it with activation checkpointing.

Two ways to see the memory, both of which watch torch's own allocations (Python's
``tracemalloc`` sees none of them: tensor memory is allocated in C++)::

    from rtxcourse import memory_torch as mt
    use = mt.measure_memory(lambda: step(X))        # GPU: allocator statistics; CPU: profiler events
    with mt.SavedTensors(model) as saved:           # what autograd keeps for backward, per layer
        out = model(X)
    saved.total_bytes, saved.by_module

and the ways to spend compute instead of memory::

    forward = mt.checkpointed(model, "sequential")   # checkpoint_sequential, about sqrt(n) segments
    forward = mt.checkpointed(model, "each")         # torch.utils.checkpoint.checkpoint per block
    forward = mt.checkpointed(model, "selective")    # per block, but keep the matmul outputs
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint, checkpoint_sequential, create_selective_checkpoint_contexts

from rtxcourse.memory import MemoryUse, sqrt_segments
from rtxcourse import precision_torch
from rtxcourse.validate import positive_ints

MODES = ("none", "each", "sequential", "selective")


# --------------------------------------------------------------------------- measuring


def measure_memory(fn: Callable[[], object], *, device=None) -> MemoryUse:
    """Run ``fn()`` once and return its peak and held allocation in bytes (see :class:`MemoryUse`).

    On a CUDA device: the caching allocator's statistics (``torch.cuda.reset_peak_memory_stats``,
    ``max_memory_allocated``), which count every tensor on the GPU. On the CPU torch keeps no
    such statistics; the profiler records every allocation and free of the CPU allocator
    (``profile_memory=True``), and the running sum of those events gives the peak. ``fn``'s
    result is kept alive until the measurement ends, so ``held_bytes`` is what it holds.
    ``device`` defaults to :func:`rtxcourse.precision_torch.default_device`.
    """
    if not callable(fn):
        raise TypeError(f"measure_memory() needs a callable, got {type(fn).__name__}")
    dev = torch.device(device) if device is not None else precision_torch.default_device()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        start = torch.cuda.memory_allocated(dev)
        result = fn()
        torch.cuda.synchronize(dev)
        use = MemoryUse(torch.cuda.max_memory_allocated(dev) - start, torch.cuda.memory_allocated(dev) - start,
                        f"torch.cuda allocator statistics ({torch.cuda.get_device_name(dev)})")
        del result
        return use
    if dev.type != "cpu":
        raise ValueError(f"measure_memory() measures CUDA devices and the CPU, got {dev}")
    return _cpu_profiled(fn)


def _cpu_profiled(fn) -> MemoryUse:
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    with _without_kineto_notices(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    # Each "[memory]" event is one allocation (+bytes) or free (-bytes) of the CPU allocator.
    events = [e for e in prof.profiler.kineto_results.events()
              if e.name() == "[memory]" and e.device_type() == DeviceType.CPU]
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for e in events:
        current += e.nbytes()
        peak = max(peak, current)
    del result
    return MemoryUse(peak, current, "torch.profiler CPU allocation events")


@contextlib.contextmanager
def _without_kineto_notices():
    """Drop the profiler library's "USDT: ... profiler_start/stop" lines from file descriptor 2.

    Kineto writes them from C++ at every profile, which a notebook shows under each cell; any
    other line written meanwhile is passed on.
    """
    import os
    import sys
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [ln for ln in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if ln.strip() and not ln.startswith("USDT:")]
            if kept:
                sys.stderr.write("".join(kept))


class SavedTensors:
    """Context manager: the tensors autograd saves for backward inside it, each storage once.

    A ``torch.autograd.graph.saved_tensors_hooks`` pack hook sees every tensor an operation
    saves. Several saves often share one storage (a ReLU's output is also the next Linear's
    input; a transposed weight is a view of the weight), so the bytes are counted once per
    storage; ``naive_bytes`` is the sum over every save (shared tensors and views counted
    again), the usual mistake. Storages of ``exclude`` (default: the parameters and buffers of
    ``model``) are not activations and are left out of both. With ``model``, each storage is put down to the leaf module that saved it first.

    Inside a checkpointed region checkpoint's own hooks take the saves, so what is seen there is
    what checkpointing keeps (each region's inputs), not the recomputation in the backward
    pass: measure the peak of a checkpointed step with :func:`measure_memory`.
    """

    def __init__(self, model: nn.Module | None = None, *, exclude=None):
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if exclude is None:
            exclude = [] if model is None else [*model.parameters(), *model.buffers()]
        self._excluded = {t.untyped_storage().data_ptr() for t in exclude}
        self._model = model
        self.by_module: dict[str, int] = {}
        self.saves = 0  # tensors saved (not counting excluded ones), shared ones counted each time
        self.naive_bytes = 0
        self._storages: dict[int, object] = {}
        self._current = "(outside any module)"

    @property
    def total_bytes(self) -> int:
        return sum(self.by_module.values())

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key in self._excluded:
            return t
        self.saves += 1
        self.naive_bytes += t.numel() * t.element_size()
        if key not in self._storages:
            self._storages[key] = storage  # held until exit so that a freed address is not reused
            self.by_module[self._current] = self.by_module.get(self._current, 0) + storage.nbytes()
        return t

    def __enter__(self) -> "SavedTensors":
        self._handles = []
        if self._model is not None:
            for name, module in self._model.named_modules():
                if not any(True for _ in module.children()):  # leaf modules do the saving
                    self._handles.append(module.register_forward_pre_hook(functools.partial(self._enter_module, name)))
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def _enter_module(self, name, module, args):
        self._current = name

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)
        for h in self._handles:
            h.remove()
        self._storages.clear()


@contextlib.contextmanager
def threads(n: int):
    """Run torch with ``n`` intra-op CPU threads inside the block; restore the old number after.

    On a CPU shared with other busy processes, torch's OpenMP threads wait for each other at
    every operation whenever one is descheduled, and small steps take many times longer; one
    thread makes such timings steady (and slower where the machine is idle).
    """
    positive_ints(n=n)
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# --------------------------------------------------------------------------- models


class MLPBlock(nn.Module):
    """A transformer's MLP half: ``x + fc2(gelu(fc1(layernorm(x))))``, widths w -> e*w -> w."""

    def __init__(self, width: int, expansion: int = 4):
        super().__init__()
        positive_ints(width=width, expansion=expansion)
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, expansion * width)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(expansion * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


def residual_mlp(width: int, depth: int, expansion: int = 4) -> nn.Sequential:
    """``depth`` :class:`MLPBlock` s in a row: deep, with activations known exactly
    (:func:`rtxcourse.memory.residual_mlp_saved_bytes`)."""
    positive_ints(width=width, depth=depth, expansion=expansion)
    return nn.Sequential(*[MLPBlock(width, expansion) for _ in range(depth)])


def linear_relu_stack(widths) -> nn.Sequential:
    """``Linear(w[i-1], w[i])`` + ``ReLU`` for each consecutive pair of ``widths``
    (activations: :func:`rtxcourse.memory.linear_relu_saved_bytes`)."""
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(f"widths needs the input width and at least one layer width, got {widths!r}")
    positive_ints(**{f"widths[{i}]": w for i, w in enumerate(widths)})
    layers: list[nn.Module] = []
    for w_in, w_out in zip(widths, widths[1:]):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- checkpointing

# Selective checkpointing keeps what is expensive to recompute (matmul outputs) and recomputes
# the cheap elementwise ops (LayerNorm, GELU, casts) in the backward pass.
_SAVE_OPS = [torch.ops.aten.mm.default, torch.ops.aten.addmm.default]


def checkpointed(model: nn.Sequential, mode: str = "sequential", *, segments: int | None = None) -> Callable:
    """Return ``forward(x)`` running ``model`` with activation checkpointing of kind ``mode``.

    * ``"none"``: the model itself; every block's activations stay saved until backward.
    * ``"each"``: ``torch.utils.checkpoint.checkpoint`` around every block: only block inputs
      stay, each block runs its forward again in the backward pass.
    * ``"sequential"``: ``checkpoint_sequential`` in ``segments`` segments (default about
      sqrt(len(model))); the last segment is not checkpointed (its backward comes first).
    * ``"selective"``: like ``"each"``, but the matmul outputs are saved and only the cheap ops
      are recomputed (``create_selective_checkpoint_contexts``).

    Always ``use_reentrant=False``: the reentrant variant gives no gradients to the weights
    inside when the input does not require grad, and torch warns that its default will change.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"checkpointed() needs an nn.Sequential of blocks, got {type(model).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "none":
        return model
    if mode == "sequential":
        n = sqrt_segments(len(model)) if segments is None else segments
        positive_ints(segments=n)
        return lambda x: checkpoint_sequential(model, n, x, use_reentrant=False)
    context_fn = (functools.partial(create_selective_checkpoint_contexts, _SAVE_OPS) if mode == "selective"
                  else None)

    def forward(x: torch.Tensor) -> torch.Tensor:
        for block in model:
            x = (checkpoint(block, x, use_reentrant=False, context_fn=context_fn) if context_fn
                 else checkpoint(block, x, use_reentrant=False))
        return x

    return forward


def train_step(model: nn.Module, forward: Callable | None = None, *, plan=None, accumulation: int = 1,
               lr: float = 1e-3) -> Callable:
    """Return ``step(X, y) -> loss``: forward, mean-squared-error loss, backward, SGD update.

    ``forward`` defaults to ``model`` (pass :func:`checkpointed`'s result); ``plan`` is a
    :class:`~rtxcourse.precision.PrecisionPlan` run under autocast, with loss scaling when it
    computes in float16 (None: float32). With ``accumulation = k`` the batch is split into k
    micro-batches whose gradients add up before one update, so only one micro-batch's
    activations are alive at a time. Gradients are allocated (zero) before the first step and
    zeroed in place, so a memory measurement of the step sees activations and temporaries, not
    the gradients.
    """
    positive_ints(accumulation=accumulation)
    forward = model if forward is None else forward
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    scaler = precision_torch.grad_scaler(plan) if plan is not None else None

    def step(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for xb, yb in zip(X.chunk(accumulation), y.chunk(accumulation)):
            with precision_torch.autocast(plan) if plan is not None else contextlib.nullcontext():
                # divided by k: the k micro-batch gradients then add up to the full batch's mean
                loss = nn.functional.mse_loss(forward(xb).float(), yb) / accumulation
            (scaler.scale(loss) if scaler else loss).backward()
            total += loss.detach()
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=False)
        return total

    return step
