"""rtxcourse.flops_tf: the Keras layer walker against hand-computed counts."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.slow  # imports TensorFlow

import keras  # noqa: E402
from keras import layers  # noqa: E402

from rtxcourse import flops_tf  # noqa: E402


def _model(shape, *stack):
    inputs = keras.Input(shape)
    x = inputs
    for layer in stack:
        x = layer(x)
    return keras.Model(inputs, x)


def test_convolutions_dense_and_norms():
    # on 8x8x16, batch 2: standard 3x3 -> 32 (bias), depthwise 3x3 (no bias), pointwise -> 24, BN 24, dense 24 -> 10
    m = _model((8, 8, 16), layers.Conv2D(32, 3, padding="same"), layers.DepthwiseConv2D(3, padding="same", use_bias=False),
               layers.Conv2D(24, 1), layers.BatchNormalization(), layers.GlobalAveragePooling2D(), layers.Dense(10))
    c = flops_tf.count(m, batch=2)
    params = [3 * 3 * 16 * 32 + 32, 3 * 3 * 32, 32 * 24 + 24, 2 * 24, 24 * 10 + 10]  # BN: gamma, beta (trainable)
    macs = [8 * 8 * 32 * 144, 8 * 8 * 32 * 9, 8 * 8 * 32 * 24, 0, 240]
    assert c.params == sum(params) and c.flops == 2 * 2 * sum(macs)
    assert [r.params for r in c.layers if r.params] == params


def test_separable_strided_grouped_and_tokens():
    m = _model((9, 9, 8), layers.SeparableConv2D(16, 3, strides=2, padding="same"), layers.Conv2D(8, 3, groups=4))
    # separable: depthwise 3x3x8 at 5x5 (ceil 9/2), pointwise 8->16 (+16 bias);
    # grouped: 16 channels in 4 groups, 3x3 "valid" 5->3: 3*3*(16/4)*8 weights (+8 bias)
    c = flops_tf.count(m)
    assert c.params == 72 + 128 + 16 + 288 + 8
    assert c.flops == 2 * (25 * 72 + 25 * 128 + 9 * 288)
    seq = _model((10, 32), layers.Dense(64, use_bias=False))  # applied to each of the 10 tokens
    assert flops_tf.count(seq).flops == 2 * 10 * 32 * 64


def test_attention_and_the_course_transformer():
    inputs = keras.Input((10, 32))
    m = keras.Model(inputs, layers.MultiHeadAttention(4, 8)(inputs, inputs))
    assert flops_tf.count(m).flops == 2 * (4 * 10 * 32 * 32 + 2 * 10 * 10 * 32)
    assert flops_tf.count(m).params == 4 * (32 * 32 + 32)
    from rtxcourse.models_tf import transformer_classifier

    t = transformer_classifier(8, 32, 4, 1, 3)
    c = flops_tf.count(t)
    trainable = sum(int(np.prod(v.shape)) for v in t.trainable_weights)
    assert c.params == trainable
    assert c.flops == 2 * (4 * 8 * 32 * 32 + 2 * 8 * 8 * 32 + 2 * 8 * 32 * 128 + 32 * 3)


def test_unknown_layers_and_unsupported_options_are_named():
    class Scale(layers.Layer):
        def build(self, shape):
            self.s = self.add_weight(shape=(1,))

        def call(self, x):
            return x * self.s

    with pytest.raises(ValueError, match="unknown layer 'scale' of type Scale: the FLOP counter knows Conv2D"):
        flops_tf.count(_model((4,), Scale(name="scale")))
    with pytest.raises(ValueError, match="dilated"):
        flops_tf.count(_model((8, 8, 2), layers.Conv2D(2, 3, dilation_rate=2)))
    with pytest.raises(ValueError, match="not square"):
        flops_tf.count(_model((8, 8, 2), layers.Conv2D(2, (3, 1))))
    with pytest.raises(ValueError, match="needs a built Keras model"):
        flops_tf.count(keras.Sequential([layers.Dense(2)]))
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        flops_tf.count(_model((4,), layers.Dense(2)), batch=0)
