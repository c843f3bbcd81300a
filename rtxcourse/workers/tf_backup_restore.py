"""MultiWorkerMirroredStrategy training that survives a killed worker: back up every N steps, restore.

What Keras' ``BackupAndRestore`` callback does for ``model.fit``, done for the custom loop that
multi-worker training needs on keras 3.15 (``fit`` under this strategy fails there; lesson 08 and
``tf_multiworker --try-fit`` show it): a ``tf.train.Checkpoint`` of the model, the optimizer and
a step counter, written by a ``tf.train.CheckpointManager`` every ``--backup-every`` steps, and
restored when the job starts again. The batches are a function of the step (a seeded shuffle,
skipped to the step), so the restarted job trains on exactly what the lost one would have::

    # on this machine: worker 1 kills itself after step 13 of the first attempt, all restart
    from rtxcourse import distributed
    job = distributed.launch_tf(module="rtxcourse.workers.tf_backup_restore", nworkers=2, max_restarts=1,
                                args=["--backup-dir", "/tmp/tfrun", "--crash-at-step", "13"])

    # on a cluster every node runs this with its TF_CONFIG; the cluster manager restarts the job
    python -m rtxcourse.workers.tf_backup_restore --backup-dir /shared/tfrun

Every worker takes part in each save (saving runs collectives), the chief (worker 0) into
``--backup-dir`` and the others into temporary folders they delete, as the TensorFlow
multi-worker guide says. A ``CheckpointManager`` writes the checkpoint files first and its
index file (``checkpoint``) last, so a save cut short leaves the index on the previous one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile

from rtxcourse.runtime import import_tensorflow


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=30, help="optimizer steps in the whole run")
    p.add_argument("--batch-per-replica", type=int, default=32, help="global batch = this x replicas")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="initial weights and data order")
    p.add_argument("--backup-dir", required=True, help="where the chief keeps its backups")
    p.add_argument("--backup-every", type=int, default=5, help="back up after every N steps")
    p.add_argument("--keep", type=int, default=2, help="backups kept")
    p.add_argument("--crash-at-step", type=int, default=None, help="first attempt only: die after this step")
    p.add_argument("--crash-rank", type=int, default=1, help="the worker that dies")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    tf = import_tensorflow()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any other TF op (reads TF_CONFIG)
    import keras
    import numpy as np

    from rtxcourse import data
    from rtxcourse.distributed import save_result
    from rtxcourse.distributed_tf import build_in_scope, make_train_step
    from rtxcourse.models_tf import mlp

    task_id = strategy.cluster_resolver.task_id or 0
    restart = int(os.environ.get("RTXCOURSE_RESTART_COUNT", "0"))  # set by launch_tf(max_restarts=...)
    log = print if task_id == 0 else (lambda *a, **k: None)
    global_batch = args.batch_per_replica * strategy.num_replicas_in_sync

    x, y = data.digits()
    with strategy.scope():
        keras.utils.set_random_seed(args.seed)  # same initial weights and shuffle seed on every worker
        model = mlp(x.shape[1:], hidden=(64,), num_classes=10)
        optimizer = keras.optimizers.Adam(args.lr)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        history = tf.Variable(tf.zeros([args.steps]), trainable=False, name="losses")  # survives restarts too
    build_in_scope(strategy, model, optimizer)
    backup = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step, losses=history)
    folder = args.backup_dir if task_id == 0 else tempfile.mkdtemp(prefix=f"worker{task_id}-")
    manager = tf.train.CheckpointManager(backup, folder, max_to_keep=args.keep)
    # Every worker restores the chief's latest backup (a shared file system; here, one machine).
    restored = tf.train.latest_checkpoint(args.backup_dir)
    if restored:
        backup.restore(restored).assert_existing_objects_matched()
    start = int(step.numpy())
    log(f"attempt {restart}: " + (f"restored {os.path.basename(restored)} at step {start}" if restored else "fresh start"))

    # Batch k is the same whichever attempt computes it: a fixed shuffle, skipped to the step.
    ds = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=args.seed, reshuffle_each_iteration=True)
          .repeat().batch(global_batch, drop_remainder=True).skip(start))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = iter(strategy.experimental_distribute_dataset(ds.with_options(options)))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    train_step = make_train_step(strategy, model, optimizer, loss_fn, global_batch)

    losses = history.numpy()
    for k in range(start, args.steps):
        losses[k] = float(train_step(*next(batches)))
        step.assign(k + 1)
        history.assign(losses)
        if (k + 1) % args.backup_every == 0 or k + 1 == args.steps:
            path = manager.save(checkpoint_number=k + 1)  # every worker: the save is collective
            log(f"step {k + 1}: loss {losses[k]:.4f}, backed up {os.path.basename(path)}")
        if restart == 0 and k + 1 == args.crash_at_step and task_id == args.crash_rank:
            print(f"worker {task_id}: killed after step {k + 1} (simulated failure)", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    if task_id != 0:
        shutil.rmtree(folder, ignore_errors=True)

    weights = np.concatenate([np.asarray(w).ravel() for w in model.trainable_weights])
    result = {"task_id": task_id, "restart_count": restart, "restored_step": start if restored else None,
              "losses": losses.tolist(), "weights": weights,
              "backups": sorted(os.path.basename(p) for p in manager.checkpoints) if task_id == 0 else None}
    save_result(result)
    return result


if __name__ == "__main__":
    main()
