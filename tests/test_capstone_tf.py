"""rtxcourse.capstone_tf: BatchNorm momentum, checkpointed forward, sharded reference, a tiny Lab run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from rtxcourse import capstone, capstone_tf as ctf  # noqa: E402

tf = ctf.tf
keras = ctf.keras
TINY = capstone.Sizes(n_train=64, n_test=32, image_size=16, width=4, epochs=2, batch=16, lr=1e-3, rounds=1,
                      budget_batch=32, device_steps=2)


@pytest.fixture(scope="module")
def lab():
    return ctf.Lab(capstone.dataset(TINY), TINY)


def test_build_sets_a_short_run_batchnorm_momentum():
    model = ctf.build(capstone.Config(), TINY)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(layer.momentum == 0.9 for layer in bns)


def test_checkpointed_forward_gives_the_same_gradients():
    cfg = capstone.Config(model="separable")
    model = ctf.build(cfg, TINY)
    x, y = tf.random.normal((8, 16, 16, 1), seed=1), tf.range(8) % 10

    def grads(forward):
        with tf.GradientTape() as tape:
            loss = keras.losses.sparse_categorical_crossentropy(y, forward(x), from_logits=True)
        return tape.gradient(loss, model.trainable_variables)

    plain, ckpt = grads(ctf.forward_fn(model, cfg)), grads(ctf.forward_fn(model, cfg.but(checkpoint=True)))
    assert all(g is not None for g in ckpt)
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(plain, ckpt))


def test_a_tiny_run_gives_a_measured_row(lab):
    row = lab.train("baseline", capstone.Config(batch=16, workers=1, augment=True), progress=False)
    assert 0 <= row.accuracy <= 1 and row.epoch_seconds > 0 and row.images_per_epoch == 64
    assert row.params == lab.count(capstone.Config()).params and row.mfu is not None


def test_reference_with_one_shard_is_plain_training(lab):
    cfg = capstone.Config(batch=16)
    one, _ = lab.reference(cfg, 2, shards=1)
    model = ctf.build(cfg, TINY)
    step = lab.make_step(model, cfg)
    for X, y in lab.steps_batches(cfg, 2):
        step(X, y)
    assert capstone.max_difference(one, ctf.weights(model)) < 1e-6
