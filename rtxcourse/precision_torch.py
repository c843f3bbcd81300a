"""Mixed precision in PyTorch: the plan for this device as autocast, GradScaler and TF32 switches.

One code path for every device and precision (as nanoGPT does it): ``enabled=`` flags
switch features off instead of if/else copies of the training step::

    from rtxcourse import precision_torch as pt
    plan = pt.plan()                       # bf16 on Ampere+/AVX512_BF16 CPUs, fp16+scaling on Volta/Turing
    pt.configure(plan)                     # TF32 for the float32 matmuls left over (or strict fp32)
    scaler = pt.grad_scaler(plan)          # does nothing unless the plan computes in float16
    with pt.autocast(plan):                # matmuls/convs in the plan's dtype, reductions in float32
        loss = loss_fn(model(X), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)                 # skipped when a gradient is inf/NaN
    scaler.update()                        # then the scale is halved
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Callable

import torch

from rtxcourse.precision import PrecisionPlan, choose_precision

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def default_device() -> torch.device:
    """The first CUDA GPU when torch can use one, else the CPU.

    When the driver shows GPUs that torch cannot use (a CPU-only torch build, or a driver too
    old for torch's CUDA), it says so (:class:`RuntimeWarning`) and drops the hardware tier to
    ``cpu`` (:func:`rtxcourse.runtime.fall_back_to_cpu_tier`), so that lessons pick CPU sizes
    instead of running GPU sizes on the CPU.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    from rtxcourse import runtime

    current = runtime.tier()
    if current != "cpu":  # the driver (or RTXCOURSE_TIER) says GPU, torch says no
        problem = f"torch {torch.__version__} ({build()}) cannot use a GPU"
        fix = "install a CUDA build of torch that matches the NVIDIA driver (`rtxcourse doctor` shows both)"
        if runtime.fall_back_to_cpu_tier(problem):
            warnings.warn(f"the driver shows GPUs, but {problem}: lessons run on the CPU with CPU sizes. "
                          f"To train on the GPU, {fix}.", RuntimeWarning, stacklevel=2)
        else:
            warnings.warn(f"the hardware tier is {current!r} (RTXCOURSE_TIER), but {problem}: this runs on the "
                          f"CPU at the GPU tier's sizes. Set RTXCOURSE_TIER=cpu for CPU sizes, or {fix}.",
                          RuntimeWarning, stacklevel=2)
    return torch.device("cpu")


def build() -> str:
    """Which CUDA this torch was built for, in words: 'a CPU-only build' or 'built for CUDA 12.8'."""
    return "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"


def plan(device=None, requested="auto") -> PrecisionPlan:
    """The :class:`~rtxcourse.precision.PrecisionPlan` for ``device`` (default: :func:`default_device`).

    Reads the GPU's compute capability from torch; see
    :func:`rtxcourse.precision.choose_precision` for the rules and warnings.
    """
    dev = torch.device(default_device() if device is None else device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {dev} was asked for, but torch sees no CUDA GPU (torch {torch.__version__})")
        capability = torch.cuda.get_device_capability(dev)
        return choose_precision("cuda", requested=requested, capability=capability, stacklevel=3)
    if dev.type != "cpu":
        raise ValueError(f"device must be a CPU or CUDA device, got {dev}")
    return choose_precision("cpu", requested=requested, stacklevel=3)


def torch_dtype(p: PrecisionPlan) -> torch.dtype:
    """The torch compute dtype of a plan."""
    return _DTYPES[p.dtype]


def autocast_dtype(p: PrecisionPlan) -> torch.dtype | None:
    """The dtype autocast runs matmuls in under the plan, or None for a float32 plan (autocast off)."""
    return torch_dtype(p) if p.mixed else None


def autocast(p: PrecisionPlan):
    """``torch.autocast`` for the plan: on for bf16/fp16 plans, a no-op for float32 plans."""
    return torch.autocast(device_type=p.device, dtype=autocast_dtype(p), enabled=p.mixed)


def grad_scaler(p: PrecisionPlan, **kwargs) -> torch.amp.GradScaler:
    """``torch.amp.GradScaler`` for the plan's device, enabled only when the plan needs loss scaling.

    A disabled scaler passes everything through (``scale(loss)`` returns ``loss``, ``step``
    calls ``optimizer.step()``), so the training step is the same code for every plan.
    """
    return torch.amp.GradScaler(p.device, enabled=p.loss_scaling, **kwargs)


def tf32_enabled() -> bool:
    """True when float32 matmuls on CUDA may use TF32 Tensor Cores."""
    return torch.backends.cuda.matmul.fp32_precision == "tf32"


def set_tf32(enabled: bool) -> dict[str, str]:
    """Allow (or forbid) TF32 for float32 CUDA matmuls AND cuDNN convolutions; return the old settings.

    Two switches, with different defaults: matmuls default to strict fp32, cuDNN convolutions
    to TF32. A "strict fp32" baseline must turn off both. Uses the ``fp32_precision`` settings
    of torch >= 2.9 (``allow_tf32`` is their deprecated predecessor). No effect on a CPU.

    Do not mix the two APIs: once matmuls are set to "tf32" this way, reading the legacy flags
    (``torch.get_float32_matmul_precision()``, ``torch.backends.cuda.matmul.allow_tf32``) raises
    a RuntimeError about "mix of the legacy and new APIs". Read ``fp32_precision`` instead.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"set_tf32() needs True or False, got {enabled!r}")
    old = {"matmul": torch.backends.cuda.matmul.fp32_precision, "conv": torch.backends.cudnn.conv.fp32_precision}
    mode = "tf32" if enabled else "ieee"
    torch.backends.cuda.matmul.fp32_precision = mode
    torch.backends.cudnn.conv.fp32_precision = mode
    return old


@contextlib.contextmanager
def tf32(enabled: bool):
    """Context manager: :func:`set_tf32` inside, the previous settings restored on exit."""
    old = set_tf32(enabled)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.fp32_precision = old["matmul"]
        torch.backends.cudnn.conv.fp32_precision = old["conv"]


def configure(p: PrecisionPlan) -> None:
    """Apply the plan's process-wide switches: TF32 on or off for float32 matmuls and convs.

    The switches stay set for the rest of the process; :func:`tf32` sets them for a block only.
    """
    set_tf32(p.tf32)


def make_train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable,
                    p: PrecisionPlan, scaler: torch.amp.GradScaler | None = None) -> Callable:
    """Return ``step(X, y) -> loss`` (a detached float32 scalar tensor): one mixed-precision update.

    The forward pass and the loss run under :func:`autocast`; the backward pass runs outside it
    (autograd reuses the dtypes of the forward). With a float16 plan the loss is scaled before
    ``backward`` and the step is skipped when a gradient overflowed. ``scaler`` defaults to
    :func:`grad_scaler`; pass your own to read its scale afterwards.
    """
    scaler = grad_scaler(p) if scaler is None else scaler

    def step(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with autocast(p):
            loss = loss_fn(model(X), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # unscales the gradients first; skips the update on inf/NaN
        scaler.update()
        return loss.detach().float()

    step.scaler = scaler
    return step
