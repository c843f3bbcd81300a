"""Check :mod:`rtxcourse.estimate` on a Keras 3 model: the bytes of each part of a training step.

Weights, gradients and optimizer states are real tensors here, so their bytes are exact:
the trainable variables, the gradients a ``tf.GradientTape`` returns, the optimizer's slot
variables (Adam's moments; its scalar step counter and learning rate left out). Activations
are harder. On a GPU, TensorFlow's allocator counts every byte (``get_memory_info``, reported
as 'peak allocated'). On a CPU no statistic sees them all (TF 2.21 counts only allocations of
256 KiB or more, through oneDNN's allocator), so the activations are **counted**: the bytes of
the model's input and of every layer's output in one forward pass. For an MLP of Dense layers
that is exactly what the backward pass keeps (each matmul its input, each fused ReLU its
output); for models with BatchNorm or attention inside one layer it is not, which is why
lesson 11 compares it only for the MLP::

    from rtxcourse import estimate_tf
    parts = estimate_tf.count_training_memory(lambda: models_tf.mlp((256,), (512,)), x, y, precision="bf16")
"""

from __future__ import annotations

import math
from typing import Callable

from rtxcourse import precision_tf
from rtxcourse.estimate import OPTIMIZER_STATES, PRECISIONS
from rtxcourse.runtime import import_tensorflow

tf = import_tensorflow()  # quiet start-up before keras pulls TensorFlow in
import keras  # noqa: E402

POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
VIEWS = ("InputLayer", "Flatten", "Reshape")  # outputs that are the input's values under another shape


def make_optimizer(name: str, lr: float = 1e-3) -> keras.optimizers.Optimizer:
    """SGD (no state), SGD with momentum (one state) or Adam (two states)."""
    if name not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZER_STATES)}; got {name!r}")
    if name == "adam":
        return keras.optimizers.Adam(lr)
    return keras.optimizers.SGD(lr, momentum=0.9 if name == "momentum" else 0.0)


def _nbytes(tensors) -> float:
    return float(sum(math.prod(t.shape) * tf.as_dtype(t.dtype).size for t in tensors if len(t.shape)))


def layer_output_bytes(model: keras.Model, x) -> float:
    """Bytes of the input (in the model's compute dtype, as its first layer casts it) and of each
    layer's output in one forward pass; reshapes (views of their input) are not counted again."""
    outputs = [layer.output for layer in model.layers if type(layer).__name__ not in VIEWS]
    first = math.prod(tf.convert_to_tensor(x).shape) * tf.as_dtype(model.compute_dtype).size
    return first + _nbytes(keras.Model(model.input, outputs)(x))


def count_training_memory(make_model: Callable[[], keras.Model], x, y, *, optimizer: str = "adam",
                          precision: str = "fp32") -> dict[str, float]:
    """Bytes of each part of a training step of ``make_model()`` on ``(x, y)``: the parts of
    :func:`rtxcourse.estimate.training_memory`, their 'total' and, on a GPU, 'peak allocated'.

    'weight copies' under a mixed policy are counted as 2 B per weight of each layer that
    computes in 16 bits (Keras casts the fp32 variables at every call).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    with precision_tf.policy(POLICIES[precision]):
        model = make_model()
    opt = make_optimizer(optimizer)
    gpu = bool(tf.config.list_logical_devices("GPU"))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
        start = tf.config.experimental.get_memory_info("GPU:0")["current"]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply(grads, model.trainable_variables)
    slots = [v for v in opt.variables if v.name not in ("iteration", "iterations", "learning_rate")]
    parts = {
        "weights": _nbytes(model.trainable_variables),
        "weight copies": float(sum(2 * sum(math.prod(v.shape) for v in layer.trainable_weights)
                                   for layer in model.layers if layer.compute_dtype in ("bfloat16", "float16"))),
        "gradients": _nbytes(grads),
        "optimizer": _nbytes(slots),
        "activations": layer_output_bytes(model, x),
    }
    parts["total"] = sum(parts.values())
    if gpu:
        parts["peak allocated"] = float(tf.config.experimental.get_memory_info("GPU:0")["peak"] - start)
    return parts
