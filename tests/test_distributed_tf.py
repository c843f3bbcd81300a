"""rtxcourse.distributed_tf: logical replicas on one machine and the distributed custom training step.

Each test runs in a fresh Python process: splitting a device must happen before TensorFlow's
first operation, which a shared pytest process cannot promise.
"""

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("tensorflow")


def run_fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_replicas_take_the_same_step_as_one_device_and_a_wrong_loss_does_not():
    res = run_fresh("""
        import json
        import numpy as np
        from rtxcourse.distributed_tf import build_in_scope, make_train_step, replica_devices, tf
        import keras
        from rtxcourse.models_tf import mlp

        devices = replica_devices(2)
        tf.config.experimental.enable_tensor_float_32_execution(False)  # true float32 on GPUs too
        rng = np.random.default_rng(0)
        x = rng.random((64, 8, 8, 1), dtype=np.float32); y = rng.integers(0, 10, 64)

        def one_step(strategy, wrong=False):
            with strategy.scope():
                keras.utils.set_random_seed(0)
                model = mlp((8, 8, 1), hidden=(32,))
                opt = keras.optimizers.SGD(0.5)
            build_in_scope(strategy, model, opt)
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
            # wrong: divide by the per-replica batch, as a plain mean inside strategy.run would
            step = make_train_step(strategy, model, opt, loss_fn, 32 if wrong else 64)
            for a, b in strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(64)):
                loss = float(step(a, b))
            return [w.numpy() for w in model.weights], loss

        w2, l2 = one_step(tf.distribute.MirroredStrategy(devices))
        w1, l1 = one_step(tf.distribute.OneDeviceStrategy(devices[0]))
        wrong, _ = one_step(tf.distribute.MirroredStrategy(devices), wrong=True)
        try:
            replica_devices(3)
            late = "no error"
        except RuntimeError as e:
            late = str(e)
        diff = lambda a, b: float(max(np.abs(u - v).max() for u, v in zip(a, b)))
        print(json.dumps({"devices": devices, "same": diff(w1, w2), "wrong": diff(w1, wrong), "l1": l1, "l2": l2, "late": late}))
    """)
    assert len(res["devices"]) == 2
    assert res["same"] < 1e-5 and res["l1"] == pytest.approx(res["l2"], rel=1e-5)
    assert res["wrong"] > 1e-3  # double the gradient: visibly different weights
    assert "restart the kernel" in res["late"]
    assert run_fresh("from rtxcourse.distributed_tf import replica_devices; import json; "
                     "print(json.dumps(replica_devices(2) == replica_devices(2)))")  # a re-run cell keeps the split
