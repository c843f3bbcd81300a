"""Tests for rtxcourse.memory_tf: TensorFlow's allocator statistics against activations counted by hand.

On the CPU, TensorFlow 2.21 counts only allocations of at least 256 KiB (oneDNN's allocator),
so every tensor measured here is sized above that threshold.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from rtxcourse import memory, memory_tf as mtf  # noqa: E402

tf = mtf.tf
B = 512
WIDTHS = [128, 256, 384, 128]  # every activation B * w * 4 >= 256 KiB and a multiple of 256 B


def test_held_memory_of_a_taped_dense_relu_forward_is_the_hand_count():
    layers = mtf.dense_relu_stack(WIDTHS)
    X = tf.random.normal((B, WIDTHS[0]))

    def forward():
        x = X
        for layer in layers:
            x = layer(x)
        return x

    with tf.GradientTape():
        use = mtf.measure_memory(forward)
    # The tape keeps each ReLU output (the next layer's input); the input was allocated before.
    # TensorFlow's BFC allocator may hand out a whole free chunk of up to twice the request, and
    # counts the chunk: held memory is the hand count plus at most a fraction of one tensor.
    expected = sum(memory.linear_relu_saved_bytes(B, WIDTHS)) - B * WIDTHS[0] * 4
    assert expected <= use.held_bytes < expected + B * max(WIDTHS) * 4
    untaped = mtf.measure_memory(forward)
    out = B * WIDTHS[-1] * 4  # without a tape only the output stays
    assert out <= untaped.held_bytes < 2 * out


@pytest.mark.skipif(mtf.default_device() != "CPU:0", reason="the 256 KiB threshold is the CPU allocator's")
def test_cpu_statistics_miss_small_tensors():
    assert mtf.measure_memory(lambda: tf.ones((1000,)) + 1).peak_bytes == 0
    big = mtf.CPU_TRACKED_MIN_BYTES // 4
    assert mtf.measure_memory(lambda: tf.ones((big,)) + 1).held_bytes == mtf.CPU_TRACKED_MIN_BYTES
    assert "256 KiB only" in mtf.measure_memory(lambda: None).method


def _grads(blocks, forward, X):
    variables = [v for b in blocks for v in b.trainable_variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(forward(X)))
    return tape.gradient(loss, variables)


def test_recompute_grad_gives_the_same_gradients_and_lower_peak():
    tf.keras.utils.set_random_seed(0)
    blocks = mtf.residual_mlp(width=128, depth=8)
    X, y = tf.random.normal((B, 128)), tf.random.normal((B, 128))
    plain = _grads(blocks, mtf.checkpointed(blocks, "none"), X)
    for mode in ("each", "sequential"):
        for a, b in zip(plain, _grads(blocks, mtf.checkpointed(blocks, mode), X)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
    peaks = {}
    for mode in ("none", "each"):
        step = mtf.train_step(blocks, mtf.checkpointed(blocks, mode), lr=0.0)
        step(X, y)
        peaks[mode] = mtf.measure_memory(lambda: step(X, y)).peak_bytes
    assert peaks["each"] < 0.5 * peaks["none"], peaks


def test_gradient_accumulation_gives_the_full_batch_update():
    tf.keras.utils.set_random_seed(0)
    blocks = mtf.residual_mlp(width=128, depth=2)
    start = [b.get_weights() for b in blocks]
    X, y = tf.random.normal((B, 128)), tf.random.normal((B, 128))
    after = {}
    for k in (1, 4):
        for b, w in zip(blocks, start):
            b.set_weights(w)
        loss = mtf.train_step(blocks, accumulation=k, lr=0.1)(X, y)
        after[k] = (float(loss), [w for b in blocks for w in b.get_weights()])
    assert after[1][0] == pytest.approx(after[4][0], rel=1e-5)
    for a, b in zip(after[1][1], after[4][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Both against one SGD step written out: w - lr * d(mean squared error over the whole batch)/dw.
    for b, w in zip(blocks, start):
        b.set_weights(w)
    variables = [v for b in blocks for v in b.trainable_variables]
    with tf.GradientTape() as tape:
        x = X
        for b in blocks:
            x = b(x)
        loss = tf.reduce_mean(tf.square(x - y))
    grads = tape.gradient(loss, variables)
    assert after[4][0] == pytest.approx(float(loss), rel=1e-5)
    for v, g, w in zip(variables, grads, after[4][1]):
        np.testing.assert_allclose(w, v.numpy() - 0.1 * g.numpy(), rtol=1e-4, atol=1e-6)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="mode must be one of none, each, sequential"):
        mtf.checkpointed([lambda x: x], "selective")
    with pytest.raises(TypeError, match="non-empty list"):
        mtf.checkpointed([], "each")
    with pytest.raises(TypeError, match="callable"):
        mtf.measure_memory(None)
    with pytest.raises(ValueError, match="keeps no memory statistics for device 'TPU:7'"):
        mtf.measure_memory(lambda: None, device="TPU:7")
    with pytest.raises(ValueError, match="no weights yet"):
        mtf.train_step([tf.keras.layers.Dense(3)])
