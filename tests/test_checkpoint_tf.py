"""rtxcourse.checkpoint_tf and workers/tf_backup_restore: Keras runs that resume exactly."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from rtxcourse import checkpoint_tf  # noqa: E402

keras = checkpoint_tf.keras
X = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
Y = (X[:, 0] > 0).astype("int64")


class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("interrupted")


def fit(callbacks, epochs=4):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    try:
        model.fit(X, Y, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks)
    except RuntimeError:
        return None
    return model.get_weights()


def interrupted_and_resumed(tmp_path, seeds: bool):
    extra = [checkpoint_tf.EpochSeeds()] if seeds else []
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / f"backup{seeds}"))
    assert fit(extra + [backup, Interrupt()]) is None
    return fit(extra + [keras.callbacks.BackupAndRestore(str(tmp_path / f"backup{seeds}"))])


@pytest.mark.slow
def test_backup_and_restore_is_exact_only_with_epoch_seeds(tmp_path):
    plain = fit([checkpoint_tf.EpochSeeds()])
    resumed = interrupted_and_resumed(tmp_path, seeds=True)
    assert all(np.array_equal(a, b) for a, b in zip(plain, resumed))
    # keras 3.15's BackupAndRestore does not save Dropout's seed state: other masks after a resume
    unseeded = fit([])
    resumed = interrupted_and_resumed(tmp_path, seeds=False)
    assert not all(np.array_equal(a, b) for a, b in zip(unseeded, resumed))


def test_epoch_seeds_make_each_epochs_masks_depend_on_the_epoch_only():
    first, second = keras.layers.Dropout(0.5), keras.layers.Dropout(0.5)
    model = keras.Sequential([keras.Input((64,)), first, second])
    assert len(checkpoint_tf.seed_states(model)) == 2  # one SeedGenerator per Dropout
    cb = checkpoint_tf.EpochSeeds()
    cb.set_model(model)
    ones = np.ones((4, 64), "float32")

    def masks(epoch, draws_before=0):
        for _ in range(draws_before):  # what a crashed run drew and its resumed run never repeats
            model(ones, training=True)
        cb.on_epoch_begin(epoch)
        return [first(ones, training=True).numpy() != 0, second(ones, training=True).numpy() != 0]

    epoch3 = masks(3)
    assert all(np.array_equal(a, b) for a, b in zip(epoch3, masks(3, draws_before=5)))  # replayed exactly
    assert not np.array_equal(epoch3[0], masks(4)[0])  # a new epoch, new masks
    assert not np.array_equal(*epoch3)  # each layer keeps its own seed: the two layers drop different units


@pytest.mark.slow
def test_restarted_tf_job_ends_like_the_uninterrupted_one(tmp_path):
    from rtxcourse import distributed

    def run(name, *extra, restarts=0):
        job = distributed.launch_tf(module="rtxcourse.workers.tf_backup_restore", nworkers=2, device="cpu",
                                    timeout=120, max_restarts=restarts, echo=False, env={"OMP_NUM_THREADS": "1"},
                                    args=["--steps", "12", "--backup-every", "4", "--backup-dir", tmp_path / name, *extra])
        return job, job.result(0)

    _, plain = run("plain")
    job, crashed = run("crashed", "--crash-at-step", "6", restarts=1)
    assert crashed["restart_count"] == 1 and crashed["restored_step"] == 4
    assert "killed after step 6" in job.output(1) and "restored ckpt-4 at step 4" in job.output(0)
    assert np.array_equal(crashed["weights"], plain["weights"]) and crashed["losses"] == plain["losses"]
    assert crashed["backups"] == ["ckpt-12", "ckpt-8"] and plain["restored_step"] is None
