"""rtxcourse.distributed_tf: logical replicas on one machine and the distributed custom training step.

The training checks run in one fresh Python process: splitting a device must happen before
TensorFlow's first operation, which a shared pytest process cannot promise. The GPU branches of
:func:`replica_devices` are checked in this process with TensorFlow's device listing faked.
"""

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("tensorflow")


def run_fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fresh():
    return run_fresh("""
        import json
        import numpy as np
        from rtxcourse.distributed_tf import build_in_scope, make_train_step, replica_devices, tf
        import keras
        from rtxcourse.models_tf import mlp

        devices = replica_devices(2)
        tf.config.experimental.enable_tensor_float_32_execution(False)  # true float32 on GPUs too
        rng = np.random.default_rng(0)
        x = rng.random((64, 8, 8, 1), dtype=np.float32); y = rng.integers(0, 10, 64)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
        batches = lambda strategy, x: strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices((x, y)).batch(64))

        def one_step(strategy, wrong=False):
            with strategy.scope():
                keras.utils.set_random_seed(0)
                model = mlp((8, 8, 1), hidden=(32,))
                opt = keras.optimizers.SGD(0.5)
            build_in_scope(strategy, model, opt)
            # wrong: divide by the per-replica batch, as a plain mean inside strategy.run would
            step = make_train_step(strategy, model, opt, loss_fn, 32 if wrong else 64)
            for a, b in batches(strategy, x):
                loss = float(step(a, b))
            return [w.numpy() for w in model.weights], loss

        mirrored = tf.distribute.MirroredStrategy(devices)
        w2, l2 = one_step(mirrored)
        w1, l1 = one_step(tf.distribute.OneDeviceStrategy(devices[0]))
        wrong, _ = one_step(mirrored, wrong=True)

        # float16 loss scaling: a NaN in the shard of replica 0, then of replica 1 (examples 0-31, 32-63)
        keras.mixed_precision.set_global_policy("mixed_float16")
        with mirrored.scope():
            model = mlp((8, 8, 1), hidden=(32,))
            opt = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(0.1))
        keras.mixed_precision.set_global_policy("float32")
        build_in_scope(mirrored, model, opt)
        step = make_train_step(mirrored, model, opt, loss_fn, 64)
        for a, b in batches(mirrored, x):
            step(a, b)  # a good step first
        skips = []
        for replica in (0, 1):
            before, scale = [w.numpy() for w in model.weights], float(opt.dynamic_scale.numpy())
            bad = x.copy(); bad[32 * replica] = np.nan
            for a, b in batches(mirrored, bad):
                step(a, b)
            skips.append({"unchanged": all(np.array_equal(u, v.numpy()) for u, v in zip(before, model.weights)),
                          "scale_ratio": float(opt.dynamic_scale.numpy()) / scale})
        try:
            replica_devices(3)
            late = "no error"
        except RuntimeError as e:
            late = str(e)
        diff = lambda a, b: float(max(np.abs(u - v).max() for u, v in zip(a, b)))
        print(json.dumps({"devices": devices, "again": replica_devices(2), "same": diff(w1, w2),
                          "physical_gpus": len(tf.config.list_physical_devices("GPU")),
                          "wrong": diff(w1, wrong), "l1": l1, "l2": l2, "skips": skips, "late": late}))
    """)


@pytest.mark.slow
def test_two_replicas_take_the_same_step_as_one_device_and_a_wrong_loss_does_not(fresh):
    assert len(fresh["devices"]) >= 2
    assert fresh["same"] < 1e-5 and fresh["l1"] == pytest.approx(fresh["l2"], rel=1e-5)
    assert fresh["wrong"] > 1e-3  # double the gradient: visibly different weights


@pytest.mark.slow
def test_float16_step_is_skipped_on_every_replica_when_any_replica_overflows(fresh):
    # keras 3.15 alone decides from replica 0's gradients: a NaN on replica 1 reached the weights
    assert fresh["skips"] == [{"unchanged": True, "scale_ratio": 0.5}] * 2


@pytest.mark.slow
def test_split_is_kept_on_a_rerun_and_refused_after_initialisation(fresh):
    assert fresh["again"] == fresh["devices"]  # a re-run cell keeps the split
    if fresh["physical_gpus"] >= 2:  # real GPUs: nothing to split, every GPU is a replica
        assert fresh["late"] == "no error" and len(fresh["devices"]) == fresh["physical_gpus"]
    else:
        assert "restart the kernel" in fresh["late"]


class _FakeDeviceConfig:
    """TensorFlow's device-configuration calls for ``n_gpus`` GPUs, with the rules TF enforces."""

    def __init__(self, tf, n_gpus):
        self.tf, self.split = tf, {}
        self.gpus = [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(n_gpus)]

    def list_physical_devices(self, device_type=None):
        return self.gpus if device_type == "GPU" else []

    def set_logical_device_configuration(self, dev, configs):
        self.split[dev.name] = configs

    def set_memory_growth(self, dev, enable):
        if dev.name in self.split:
            raise ValueError("Cannot set memory growth on device when virtual devices configured")

    def list_logical_devices(self, device_type=None):
        n = sum(len(c) for c in self.split.values()) or len(self.gpus)
        return [self.tf.config.LogicalDevice(f"/device:GPU:{i}", "GPU") for i in range(n)]


@pytest.mark.parametrize("n_gpus", [1, 4])
def test_replica_devices_on_gpus(monkeypatch, n_gpus):
    from rtxcourse import distributed_tf as dtf

    fake = _FakeDeviceConfig(dtf.tf, n_gpus)
    for name in ("list_physical_devices", "set_logical_device_configuration", "list_logical_devices"):
        monkeypatch.setattr(dtf.tf.config, name, getattr(fake, name))
    monkeypatch.setattr(dtf.tf.config.experimental, "set_memory_growth", fake.set_memory_growth)
    first, again = dtf.replica_devices(2), dtf.replica_devices(2)  # a cell run twice
    if n_gpus == 1:  # split into two logical GPUs with fixed memory each
        assert first == again == ["/device:GPU:0", "/device:GPU:1"]
        assert [c.memory_limit for c in fake.split["/physical_device:GPU:0"]] == [2048, 2048]
    else:  # every real GPU, nothing split
        assert first == again == [f"/gpu:{i}" for i in range(n_gpus)] and not fake.split
