"""Parameters and forward FLOPs of a PyTorch model, counted by ``torch.utils.flop_counter``.

    from rtxcourse import flops_torch
    c = flops_torch.count(model, torch.randn(8, 3, 32, 32))   # -> rtxcourse.flops.ModelCount
    c.params, c.flops, c.flops_per_example; print(c.table())

PyTorch's ``FlopCounterMode`` intercepts every aten op of one forward pass and applies its
formula (2 FLOPs per multiply-add of matmuls and convolutions, nothing for elementwise ops),
so it sees functional calls too, not only modules. Two gaps of torch 2.13 are filled here:
on a CPU, ``scaled_dot_product_attention`` runs an op the counter has no formula for (its
attention scores would count 0), and ``nn.MultiheadAttention`` without gradients takes a fused
fast path the counter cannot see into; :func:`count` adds the library's own attention formula
for the first and runs the forward with gradients enabled to avoid the second. The unit tests
check the result against the formulas of :mod:`rtxcourse.flops`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils import flop_counter

from rtxcourse.flops import LayerCount, ModelCount



def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """The CPU attention kernel takes (query, key, value, ...) like the GPU kernels the library covers."""
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


_EXTRA_FORMULAS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flop}


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules that own parameters directly, or have no children: the rows of the table."""
    return [(name, m) for name, m in model.named_modules()
            if name and (next(m.parameters(recurse=False), None) is not None or not any(True for _ in m.children()))]


def count(model: nn.Module, *inputs: torch.Tensor) -> ModelCount:
    """Parameters and forward FLOPs of ``model(*inputs)`` (the whole batch), with one row per layer.

    The model runs once in eval mode (no BatchNorm statistics change, no dropout) with
    gradients enabled (so fused no-grad kernels do not hide FLOPs); its mode is restored.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"count() needs a torch.nn.Module, got {type(model).__name__}")
    if not inputs or not all(isinstance(x, torch.Tensor) for x in inputs):
        raise TypeError("count(model, *inputs) needs at least one example input tensor, batch first")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), flop_counter.FlopCounterMode(display=False, custom_mapping=_EXTRA_FORMULAS) as fc:
            model(*inputs)
    finally:
        model.train(was_training)
    per_module = {name: sum(ops.values()) for name, ops in fc.get_flop_counts().items()}
    root = type(model).__name__
    rows, names = [], [name for name, _ in _layers(model)]
    for name, m in _layers(model):
        inside = per_module.get(f"{root}.{name}", 0)
        # a module's count includes its children's: keep only what no listed descendant claims
        children = sum(per_module.get(f"{root}.{n}", 0) for n in names
                       if n.startswith(name + ".") and "." not in n[len(name) + 1:])
        own = sum(p.numel() for p in m.parameters(recurse=False))
        rows.append(LayerCount(name, type(m).__name__, own, inside - children))
    root_params = sum(p.numel() for p in model.parameters(recurse=False))  # e.g. a position embedding
    if root_params:
        rows.insert(0, LayerCount("(model)", root, root_params, 0))
    total = fc.get_total_flops()
    outside = total - sum(r.flops for r in rows)
    if outside:
        rows.append(LayerCount("(outside any layer)", "functional", 0, outside))
    return ModelCount(params=sum(p.numel() for p in model.parameters()), flops=total, batch=int(inputs[0].shape[0]),
                      layers=rows, source="torch.utils.flop_counter.FlopCounterMode, forward pass")
