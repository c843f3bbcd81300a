"""The course's small Keras 3 models (twins of rtxcourse.models_torch).

Every model ends in a ``Dense(num_classes, dtype="float32")`` producing logits: under a
mixed-precision policy the last layer must compute in float32 (a float16 softmax/logit can
overflow), and logits with ``from_logits=True`` in the loss are the numerically safe pairing.

Lesson 06's separable models (:func:`separable_cnn`, :func:`inverted_residual`) have torch twins
in :mod:`rtxcourse.models_torch`; ``models_torch.load_keras_weights`` copies these weights there.
"""

from __future__ import annotations

from rtxcourse.runtime import import_tensorflow
from rtxcourse.validate import positive_ints

import_tensorflow()  # quiet start-up before keras pulls TensorFlow in
import keras  # noqa: E402
from keras import layers  # noqa: E402


def mlp(input_shape: tuple[int, ...], hidden: tuple[int, ...] = (512,), num_classes: int = 10, name: str = "mlp") -> keras.Model:
    """Flatten -> [Dense -> ReLU] * len(hidden) -> Dense(num_classes, float32 logits)."""
    positive_ints(num_classes=num_classes, **{f"hidden[{i}]": h for i, h in enumerate(hidden)})
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Flatten()(inputs)
    for h in hidden:
        x = layers.Dense(h, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(num_classes, dtype="float32", name="logits")(x), name=name)


def _conv_block(x, filters: int):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def small_cnn(input_shape: tuple[int, int, int] = (32, 32, 3), num_classes: int = 10, width: int = 32, name: str = "small_cnn") -> keras.Model:
    """Three conv stages (width, 2*width, 4*width filters), two 3x3 convs each; NHWC input."""
    positive_ints(num_classes=num_classes, width=width)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape!r}")
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for stage, filters in enumerate((width, 2 * width, 4 * width)):
        x = _conv_block(_conv_block(x, filters), filters)
        x = layers.MaxPooling2D()(x) if stage < 2 else layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes, dtype="float32", name="logits")(x), name=name)


def transformer_block(x, d_model: int, n_heads: int, mlp_ratio: int = 4):
    """Pre-norm transformer block on (B, T, d_model): x + attn(ln(x)), then x + mlp(ln(x))."""
    if d_model % n_heads:
        raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
    h = layers.LayerNormalization()(x)
    x = x + layers.MultiHeadAttention(n_heads, d_model // n_heads)(h, h)
    h = layers.LayerNormalization()(x)
    h = layers.Dense(mlp_ratio * d_model, activation="gelu")(h)
    return x + layers.Dense(d_model)(h)


class _AddPosition(layers.Layer):
    """Adds a learned position embedding of shape (1, T, D)."""

    def build(self, input_shape):
        self.pos = self.add_weight(shape=(1, *input_shape[1:]), initializer="zeros", name="pos")

    def call(self, x):
        return x + keras.ops.cast(self.pos, x.dtype)


def transformer_classifier(seq_len: int = 64, d_model: int = 256, n_heads: int = 4, n_layers: int = 2,
                           num_classes: int = 10, name: str = "transformer") -> keras.Model:
    """Float sequences (B, T, d_model) -> positions -> n_layers blocks -> mean -> float32 logits."""
    positive_ints(seq_len=seq_len, d_model=d_model, n_heads=n_heads, n_layers=n_layers, num_classes=num_classes)
    inputs = keras.Input(shape=(seq_len, d_model))
    x = _AddPosition()(inputs)
    for _ in range(n_layers):
        x = transformer_block(x, d_model, n_heads)
    x = layers.GlobalAveragePooling1D()(layers.LayerNormalization()(x))
    return keras.Model(inputs, layers.Dense(num_classes, dtype="float32", name="logits")(x), name=name)


# --------------------------------------------------------------------------- lesson 06: separable convolutions


def _bn():
    # momentum 0.9 (torch's 0.1) and not Keras' 0.99: after a short run the running statistics
    # would still be near their initial 0 and 1, and the model would fail at inference.
    return layers.BatchNormalization(momentum=0.9)


def inverted_residual(x, out_channels: int, stride: int = 1, expansion: int = 6):
    """MobileNetV2 block on NHWC ``x``: 1x1 expand, BN, ReLU6, 3x3 depthwise, BN, ReLU6, 1x1 project, BN (+ x).

    The projection stays linear; the input is added back when stride is 1 and the channels match.
    """
    positive_ints(out_channels=out_channels, expansion=expansion)
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride!r}")
    in_channels = x.shape[-1]
    h = x
    if expansion != 1:
        h = layers.ReLU(6.0)(_bn()(layers.Conv2D(in_channels * expansion, 1, use_bias=False)(h)))
    h = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(h)
    h = layers.ReLU(6.0)(_bn()(h))
    h = _bn()(layers.Conv2D(out_channels, 1, use_bias=False)(h))
    return layers.Add()([x, h]) if stride == 1 and in_channels == out_channels else h


def _separable_block(x, filters: int, separable: bool = True):
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    return layers.ReLU()(_bn()(conv(filters, 3, padding="same", use_bias=False)(x)))


def separable_cnn(input_shape: tuple[int, int, int] = (32, 32, 3), num_classes: int = 10, width: int = 32,
                  name: str = "separable_cnn") -> keras.Model:
    """small_cnn with every 3x3 conv but the first made depthwise-separable (MobileNet's recipe); NHWC input."""
    positive_ints(num_classes=num_classes, width=width)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape!r}")
    inputs = keras.Input(shape=tuple(input_shape))
    x = _separable_block(_separable_block(inputs, width, separable=False), width)
    x = layers.MaxPooling2D()(x)
    x = layers.MaxPooling2D()(_separable_block(_separable_block(x, 2 * width), 2 * width))
    x = layers.GlobalAveragePooling2D()(_separable_block(_separable_block(x, 4 * width), 4 * width))
    return keras.Model(inputs, layers.Dense(num_classes, dtype="float32", name="logits")(x), name=name)
