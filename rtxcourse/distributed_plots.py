"""Pictures of the ways to split training over devices, for lessons 08 and 09 (matplotlib only).

* :func:`data_parallel` - one global batch split over N replicas, gradients all-reduced.
* :func:`parallelism_kinds` - data, fully sharded, tensor (model) and pipeline parallelism
  side by side: what each device holds and what travels between devices.
"""

from __future__ import annotations

_GREEN, _GREY, _BLUE, _ORANGE = "#76b900", "#d9d9d9", "#4f81bd", "#f29b30"


def _box(ax, x, y, w, h, text, color=_GREY, fontsize=8):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.01,rounding_size=0.02",
                                facecolor=color, edgecolor="black", linewidth=0.8))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, x0, y0, x1, y1, color="black", style="-|>"):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle=style, color=color, lw=1.2))


def _blank(ax, title):
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def data_parallel(n: int = 2, ax=None):
    """Draw one data-parallel step on ``n`` replicas; return the axes.

    Global batch -> n shards -> n identical model copies -> local gradients -> all-reduce
    (average) -> the same update on every copy.
    """
    import matplotlib.pyplot as plt

    if not isinstance(n, int) or not 1 <= n <= 8:
        raise ValueError(f"n must be an int from 1 to 8 (replicas to draw), got {n!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    _blank(ax, f"Data parallelism: one step on {n} replicas (global batch = {n} x per-replica batch)")
    _box(ax, 0.0, 0.42, 0.12, 0.16, "global\nbatch", _BLUE)
    h = 0.8 / n
    for i in range(n):
        y = 0.1 + i * h
        _arrow(ax, 0.12, 0.5, 0.2, y + h * 0.4)
        _box(ax, 0.2, y + h * 0.1, 0.1, h * 0.6, f"shard {i}", _BLUE)
        _box(ax, 0.36, y + h * 0.1, 0.16, h * 0.6, f"replica {i}\nfull model", _GREEN)
        _arrow(ax, 0.3, y + h * 0.4, 0.36, y + h * 0.4)
        _box(ax, 0.58, y + h * 0.1, 0.1, h * 0.6, f"grad {i}", _ORANGE)
        _arrow(ax, 0.52, y + h * 0.4, 0.58, y + h * 0.4)
        _arrow(ax, 0.68, y + h * 0.4, 0.74, 0.5)
    _box(ax, 0.74, 0.38, 0.12, 0.24, "all-reduce\n(mean of\ngrads)", _ORANGE)
    _arrow(ax, 0.86, 0.5, 0.9, 0.5)
    _box(ax, 0.9, 0.38, 0.1, 0.24, "same\nupdate\neverywhere", _GREEN)
    return ax


def _layer_panel(ax, n, title, label, color, batch, note):
    """n devices side by side, each a stack of three layers labelled by ``label(layer, device)``."""
    _blank(ax, title)
    w = 0.8 / n
    for d in range(n):
        x = 0.1 + d * w
        for j, name in enumerate(("layer 1", "layer 2", "layer 3")):
            _box(ax, x, 0.15 + j * 0.22, w * 0.8, 0.18, label(name, d), color)
        ax.text(x + w * 0.4, 0.05, f"device {d}\n" + batch.format(d=d), ha="center", fontsize=8)
    ax.text(0.5, 0.88, note, ha="center", fontsize=8, color=_ORANGE)


def parallelism_kinds(n: int = 2):
    """Draw data, fully sharded, tensor and pipeline parallelism on ``n`` devices; return the figure."""
    import matplotlib.pyplot as plt

    if not isinstance(n, int) or not 2 <= n <= 4:
        raise ValueError(f"n must be an int from 2 to 4 (devices to draw), got {n!r}")
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5))
    (dp, fsdp), (tp, pp) = axes
    _layer_panel(dp, n, "Data parallel (DDP, MirroredStrategy)\nfull model on every device; gradients all-reduced",
                 lambda name, d: name, _GREEN, "batch shard {d}", "all-reduce(grads) after backward")
    _layer_panel(fsdp, n, "Fully sharded (FSDP)\neach device stores 1/N of params, grads, optimizer state",
                 lambda name, d: f"{name}\npart {d + 1}/{n}", _GREEN, "batch shard {d}",
                 "all-gather a layer before use, reduce-scatter its grads")
    _layer_panel(tp, n, "Tensor (model) parallel\neach weight matrix split by columns/rows",
                 lambda name, d: f"{name}\ncolumns {d + 1}/{n}", _BLUE, "same batch",
                 "activations exchanged inside every layer: needs NVLink-class links")

    _blank(pp, "Pipeline parallel\nconsecutive layers on consecutive devices; micro-batches flow through")
    steps = 4 + n - 1  # 4 micro-batches, the pipeline fills and drains
    cw = 0.8 / steps
    for d in range(n):
        y = 0.7 - d * (0.55 / n)
        pp.text(0.02, y + 0.05, f"device {d}\n(stage {d})", fontsize=8, va="center")
        for t in range(steps):
            m = t - d
            busy = 0 <= m < 4
            _box(pp, 0.15 + t * cw, y, cw * 0.9, 0.1, f"mb{m}" if busy else "idle", _GREEN if busy else "white", 7)
    pp.text(0.55, 0.08, "time ->   idle boxes are the pipeline 'bubble'", ha="center", fontsize=8, color=_ORANGE)
    fig.tight_layout()
    return fig
