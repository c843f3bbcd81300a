"""Measure what :mod:`rtxcourse.estimate` predicts: the memory of a PyTorch training step.

On a GPU the CUDA caching allocator counts every byte (``torch.cuda.max_memory_allocated``).
On a CPU no allocator statistic exists, and ``tracemalloc`` cannot see torch's C++ allocations,
so each part is measured from the tensors themselves: ``nbytes`` of the parameters, of their
gradients and of the optimizer's state, and the activations autograd keeps for the backward
pass as seen by :func:`torch.autograd.graph.saved_tensors_hooks` (each storage counted once,
parameters left out; autocast's 16-bit copies of the weights counted apart)::

    from rtxcourse import estimate_torch
    parts = estimate_torch.measure_training_memory(model, x, y, optimizer="adam", precision="bf16")
"""

from __future__ import annotations

import torch
from torch import nn

from rtxcourse.estimate import OPTIMIZER_STATES, PRECISIONS

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def make_optimizer(model: nn.Module, name: str, lr: float = 1e-3) -> torch.optim.Optimizer:
    """SGD (no state), SGD with momentum (one state) or Adam (two states) for ``model``."""
    if name not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZER_STATES)}; got {name!r}")
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def _is_weight_copy(t: torch.Tensor) -> bool:
    """True for autocast's 16-bit cast of a parameter (or a transposed view of it, as Linear saves)."""
    fn = t.grad_fn
    while fn is not None and type(fn).__name__ in ("TBackward0", "TransposeBackward0", "PermuteBackward0", "ViewBackward0"):
        fn = fn.next_functions[0][0]
    return fn is not None and type(fn).__name__ == "ToCopyBackward0" and any(
        f is not None and type(f).__name__ == "AccumulateGrad" for f, _ in fn.next_functions)


def saved_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str = "fp32") -> dict[str, float]:
    """Bytes autograd keeps for backward after one forward pass and loss: activations and weight copies."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, tuple[int, bool]] = {}

    def pack(t):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params and ptr not in seen:
            seen[ptr] = (storage.nbytes(), _is_weight_copy(t))
        return t

    dtype = _DTYPES[precision]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast(x.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss = nn.functional.cross_entropy(model(x), y)
    del loss
    return {"activations": float(sum(n for n, copy in seen.values() if not copy)),
            "weight copies": float(sum(n for n, copy in seen.values() if copy))}


def _nbytes(tensors) -> float:
    return float(sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor)))


def measure_training_memory(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, optimizer: str = "adam",
                            precision: str = "fp32") -> dict[str, float]:
    """Bytes of each part of a training step of ``model`` on the batch ``(x, y)``, measured.

    Runs two steps (the optimizer creates its state in the first). Returns the parts that
    :func:`rtxcourse.estimate.training_memory` predicts ('weights', 'weight copies',
    'gradients', 'optimizer', 'activations'), their 'total' and, on a GPU, 'peak allocated'
    (the CUDA allocator's high-water mark during the second step, which sees temporaries too).
    """
    opt = make_optimizer(model, optimizer)
    dtype = _DTYPES[precision] if precision in _DTYPES else None
    cuda = x.device.type == "cuda"
    for step in range(2):
        opt.zero_grad(set_to_none=False)
        if cuda and step == 1:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        with torch.autocast(x.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()  # fp16 would need a GradScaler to train; one step's memory is the same without
        opt.step()
    parts = {
        "weights": _nbytes(model.parameters()),
        "gradients": _nbytes(p.grad for p in model.parameters()),
        "optimizer": _nbytes(v for state in opt.state.values() for v in state.values() if torch.is_tensor(v) and v.dim()),
        **saved_bytes(model, x, y, precision),
    }
    parts["total"] = sum(parts.values())
    if cuda:
        torch.cuda.synchronize()
        parts["peak allocated"] = float(torch.cuda.max_memory_allocated())
    return parts
