"""Activation memory in TensorFlow/Keras 3: measure it, then cut it with ``tf.recompute_grad``.

    from rtxcourse import memory_tf as mtf
    blocks = mtf.residual_mlp(width=128, depth=8)
    step = mtf.train_step(blocks, mtf.checkpointed(blocks, "each"))
    use = mtf.measure_memory(lambda: step(X, y))     # TensorFlow's allocator statistics

On a GPU, ``tf.config.experimental.get_memory_info("GPU:0")`` counts every tensor. On the
CPU (measured on TF 2.21) statistics exist only through oneDNN's CPU allocator, which x86
builds use by default (``TF_ENABLE_ONEDNN_OPTS=1``), and it counts only allocations of at least
:data:`CPU_TRACKED_MIN_BYTES` (256 KiB, rounded up to 256 B): smaller tensors go to a separate
small-size allocator that keeps no statistics. So on a CPU, size the tensors you measure above
that threshold (lesson 07 does) and expect the small ones (LayerNorm's per-row statistics,
biases) to be missing. With oneDNN off there are no CPU statistics at all, and
:func:`measure_memory` says so. TensorFlow has no selective checkpointing: ``tf.recompute_grad``
recomputes the whole function it wraps.
"""

from __future__ import annotations

from typing import Callable

from rtxcourse.memory import MemoryUse
from rtxcourse.runtime import import_tensorflow
from rtxcourse.validate import positive_ints

tf = import_tensorflow()  # quiet start-up before keras pulls TensorFlow in
import keras  # noqa: E402

MODES = ("none", "each", "sequential")
CPU_TRACKED_MIN_BYTES = 262144  # smaller CPU allocations are invisible to get_memory_info (TF 2.21, oneDNN)


def default_device() -> str:
    """The device TensorFlow places work on: its first GPU when it sees one, else the CPU."""
    return "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"


def measure_memory(fn: Callable[[], object], *, device: str | None = None) -> MemoryUse:
    """Run ``fn()`` once; return its peak and held allocation on ``device`` (:class:`MemoryUse`).

    Uses ``tf.config.experimental.reset_memory_stats`` and ``get_memory_info`` of the device
    (default :func:`default_device`). ``fn``'s result stays alive until the statistics are read.
    On the CPU only allocations of :data:`CPU_TRACKED_MIN_BYTES` or more are counted (see the
    module docstring).
    """
    if not callable(fn):
        raise TypeError(f"measure_memory() needs a callable, got {type(fn).__name__}")
    dev = default_device() if device is None else device
    try:
        tf.test.experimental.sync_devices()
        tf.config.experimental.reset_memory_stats(dev)
        start = tf.config.experimental.get_memory_info(dev)["current"]
    except (ValueError, tf.errors.InvalidArgumentError) as e:
        hint = (" On the CPU they come from oneDNN's allocator: unset TF_ENABLE_ONEDNN_OPTS=0 (x86 only)."
                if "CPU" in dev.upper() else " Expected a device such as 'GPU:0' or 'CPU:0'.")
        raise ValueError(f"TensorFlow {tf.__version__} keeps no memory statistics for device {dev!r} ({e}).{hint}") from None
    result = fn()
    tf.test.experimental.sync_devices()
    info = tf.config.experimental.get_memory_info(dev)
    del result
    what = f", allocations >= {CPU_TRACKED_MIN_BYTES // 1024} KiB only" if "CPU" in dev.upper() else ""
    return MemoryUse(info["peak"] - start, info["current"] - start, f"TensorFlow allocator statistics ({dev}{what})")


class MLPBlock(keras.layers.Layer):
    """``x + fc2(gelu(fc1(layernorm(x))))``, widths w -> e*w -> w (twin of memory_torch.MLPBlock)."""

    def __init__(self, width: int, expansion: int = 4, **kwargs):
        super().__init__(**kwargs)
        positive_ints(width=width, expansion=expansion)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5)
        self.fc1 = keras.layers.Dense(expansion * width, activation="gelu")
        self.fc2 = keras.layers.Dense(width)

    def call(self, x):
        return x + self.fc2(self.fc1(self.norm(x)))


def residual_mlp(width: int, depth: int, expansion: int = 4) -> list[MLPBlock]:
    """``depth`` built :class:`MLPBlock` s (a list: :func:`checkpointed` wraps them one by one).

    Build them under :func:`rtxcourse.precision_tf.policy` for mixed precision.
    """
    positive_ints(width=width, depth=depth, expansion=expansion)
    blocks = [MLPBlock(width, expansion) for _ in range(depth)]
    x = tf.zeros((1, width))
    for b in blocks:  # create the weights now, outside any tf.function
        x = b(x)
    return blocks


def dense_relu_stack(widths) -> list[keras.layers.Dense]:
    """Built ``Dense(w[i], activation="relu")`` layers for ``widths = [w0, w1, ..., wL]``."""
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(f"widths needs the input width and at least one layer width, got {widths!r}")
    positive_ints(**{f"widths[{i}]": w for i, w in enumerate(widths)})
    layers = [keras.layers.Dense(w, activation="relu") for w in widths[1:]]
    x = tf.zeros((1, widths[0]))
    for layer in layers:
        x = layer(x)
    return layers


def checkpointed(blocks, mode: str = "each", *, segments: int | None = None) -> Callable:
    """Return ``forward(x)`` running ``blocks`` in order, recomputed in the backward pass per ``mode``.

    * ``"none"``: the tape keeps every block's intermediate tensors until the gradient.
    * ``"each"``: ``tf.recompute_grad`` around every block: only block inputs are kept.
    * ``"sequential"``: ``tf.recompute_grad`` around ``segments`` groups of blocks
      (default about sqrt(len(blocks))), the layout of PyTorch's ``checkpoint_sequential``.
    """
    from rtxcourse.memory import sqrt_segments

    blocks = list(blocks)
    if not blocks or not all(callable(b) for b in blocks):
        raise TypeError("checkpointed() needs a non-empty list of Keras layers (or callables)")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "none":
        groups = [blocks]
    else:
        n = 1 if mode == "each" else (sqrt_segments(len(blocks)) if segments is None else segments)
        positive_ints(segments=n)
        size = -(-len(blocks) // n)  # ceil: n groups of about equal size
        groups = [blocks[i:i + size] for i in range(0, len(blocks), size)] if mode == "sequential" else [[b] for b in blocks]

    def run(group):
        def f(x):
            for b in group:
                x = b(x)
            return x
        return f if mode == "none" else tf.recompute_grad(f)

    stages = [run(g) for g in groups]

    def forward(x):
        for stage in stages:
            x = stage(x)
        return x

    return forward


def train_step(blocks, forward: Callable | None = None, *, plan=None, accumulation: int = 1,
               lr: float = 1e-3) -> Callable:
    """Return a compiled ``step(X, y) -> loss``: forward, MSE loss, gradients, SGD update.

    ``forward`` defaults to running ``blocks`` in order (pass :func:`checkpointed`'s result).
    Build the blocks under the ``plan``'s policy; ``plan`` here only adds loss scaling when the
    plan computes in float16.
    With ``accumulation = k`` the batch is split into k micro-batches whose gradients add up
    before one update, so only one micro-batch's activations are alive at a time. The batch
    must divide into k equal parts.
    """
    positive_ints(accumulation=accumulation)
    forward = checkpointed(blocks, "none") if forward is None else forward
    variables = [v for b in blocks for v in b.trainable_variables]
    if not variables:
        raise ValueError("the blocks have no weights yet: build them first (residual_mlp and dense_relu_stack do)")
    opt = keras.optimizers.SGD(lr)
    if plan is not None:
        from rtxcourse import precision_tf

        opt = precision_tf.optimizer(opt, plan)  # a LossScaleOptimizer for float16 plans

    @tf.function
    def step(X, y):
        total, grads = 0.0, None
        for xb, yb in zip(tf.split(X, accumulation), tf.split(y, accumulation)):
            with tf.GradientTape() as tape:
                # divided by k: the k micro-batch gradients then add up to the full batch's mean
                loss = tf.reduce_mean(tf.square(tf.cast(forward(xb), tf.float32) - yb)) / accumulation
                scaled = opt.scale_loss(loss)  # the loss itself unless opt scales losses
            g = tape.gradient(scaled, variables)
            grads = g if grads is None else [a + b for a, b in zip(grads, g)]
            total += loss
        opt.apply(grads, variables)
        return total

    return step
