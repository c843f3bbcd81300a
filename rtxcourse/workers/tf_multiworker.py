"""Data-parallel training over several worker processes: tf.distribute.MultiWorkerMirroredStrategy.

Each worker reads ``TF_CONFIG`` (the list of all workers and which one it is), holds a copy of
the model on its own devices, trains on its share of each global batch, and all-reduces the
gradients with the others. One of them is the *chief*: it logs and its checkpoint is the one kept.
Which one is decided from the cluster resolver's task type, as TensorFlow's multi-worker guide
does (:func:`is_chief`): the ``chief`` task when the cluster has one (Kubeflow's TFJob and
Vertex AI start a ``chief`` beside the ``worker`` tasks), else worker 0.

    # on this machine (each worker a process, GPUs split one per worker, CPUs otherwise):
    from rtxcourse import distributed
    job = distributed.launch_tf(module="rtxcourse.workers.tf_multiworker", nworkers=2)

    # on a cluster, every node runs the same command with its own TF_CONFIG
    # (see rtxcourse/templates/multinode/ and docs/multi_node.md):
    TF_CONFIG='{"cluster": {"worker": ["node0:12345", "node1:12345"]}, "task": {"type": "worker", "index": 0}}' \\
        python -m rtxcourse.workers.tf_multiworker

A worker uses every GPU it can see (one replica per GPU), so one worker per node needs nothing
more; several workers on one node each need their own ``CUDA_VISIBLE_DEVICES`` (``launch_tf``
sets it), or they would all claim the same GPUs.

The training loop is a custom one (``strategy.run``): on keras 3.15 ``model.fit`` fails under
this strategy (``--try-fit`` checks whether it works on your versions; lesson 08 explains).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time

from rtxcourse.runtime import import_tensorflow


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60, help="optimizer steps")
    p.add_argument("--batch-per-replica", type=int, default=32, help="global batch = this x replicas")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate (for the global batch)")
    p.add_argument("--policy", default="float32", choices=["float32", "mixed_bfloat16", "mixed_float16"],
                   help="Keras dtype policy (mixed_float16 adds a LossScaleOptimizer)")
    p.add_argument("--checkpoint-dir", default=None, help="the chief's checkpoints go here")
    p.add_argument("--log-every", type=int, default=20, help="chief prints the loss every N steps")
    p.add_argument("--try-fit", action="store_true", help="first try model.fit under this strategy and report")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    tf = import_tensorflow()
    # The strategy reads TF_CONFIG and sets up the collectives between workers: create it before
    # any other TensorFlow operation, or the runtime is already initialised without them.
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras

    from rtxcourse import data
    from rtxcourse.distributed import save_result
    from rtxcourse.distributed_tf import build_in_scope, make_train_step
    from rtxcourse.models_tf import mlp

    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id or 0  # None when run alone, without TF_CONFIG
    cluster = resolver.cluster_spec().as_dict()
    chief = is_chief(task_type, task_id, cluster)  # "worker 0" is NOT the chief when a chief task exists
    log = print if chief else (lambda *a, **k: None)
    replicas = strategy.num_replicas_in_sync
    global_batch = args.batch_per_replica * replicas
    keras.mixed_precision.set_global_policy(args.policy)
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))  # absent: a single worker on its own
    workers = sum(len(cluster.get(t, [])) for t in ("chief", "worker")) or 1  # the chief trains too
    log(f"{replicas} replicas over {workers} worker(s), "
        f"global batch {global_batch}, policy {args.policy}")

    # -- data: every worker builds the same pipeline; the strategy gives each worker every
    # n-th example of each global batch (DATA sharding: there are no files to split).
    x, y = data.digits()
    ds = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=args.seed)
          .repeat().batch(global_batch, drop_remainder=True))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = ds.with_options(options)

    with strategy.scope():  # variables created here are mirrored on every replica of every worker
        keras.utils.set_random_seed(args.seed)  # same initial weights on every worker
        model = mlp(x.shape[1:], hidden=(128,), num_classes=10)
        optimizer = keras.optimizers.SGD(args.lr, momentum=0.9)
        if args.policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    fit_report = try_fit(strategy, model, ds) if args.try_fit else None
    build_in_scope(strategy, model, optimizer)
    # Logits out, so from_logits=True; reduction=None: one loss per example (see make_train_step).
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    train_step = make_train_step(strategy, model, optimizer, loss_fn, global_batch)

    losses, start = [], time.perf_counter()
    batches = iter(strategy.experimental_distribute_dataset(ds))
    for step in range(args.steps):
        losses.append(float(train_step(*next(batches))))
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            log(f"step {step + 1}/{args.steps}: loss {losses[-1]:.4f}")
    seconds = time.perf_counter() - start

    checkpoint = save_checkpoint(tf, model, optimizer, args.checkpoint_dir, chief, task_id) if args.checkpoint_dir else None
    if checkpoint:
        log(f"checkpoint: {checkpoint}")
    result = {"task_type": task_type, "task_id": task_id, "is_chief": chief, "replicas": replicas, "global_batch": global_batch, "losses": losses,
              "weights_sum": float(sum(float(tf.reduce_sum(tf.cast(w, tf.float64))) for w in model.weights)),
              "checkpoint": checkpoint, "examples_per_s": args.steps * global_batch / seconds,
              "fit": fit_report, "policy": args.policy, "tf_config": tf_config}
    save_result(result)
    return result


def is_chief(task_type: str | None, task_id: int, cluster: dict) -> bool:
    """Whether this task is the chief, from the cluster resolver's view (TensorFlow's own rule).

    A ``chief`` task when the cluster has one; worker 0 only when it has none; a task started
    without ``TF_CONFIG`` (``task_type`` None) is alone and therefore the chief. Deciding by
    ``task_id == 0`` alone makes the chief *and* worker 0 both write the real checkpoint.
    """
    if task_type is None or task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and not cluster.get("chief")


def save_checkpoint(tf, model, optimizer, directory: str, chief: bool, task_id: int) -> str | None:
    """Every worker saves (saving runs collectives); only the chief's copy is kept.

    The other workers write to a temporary folder they delete afterwards, as the TensorFlow
    multi-worker guide recommends: two workers writing one path would corrupt it.
    """
    target = directory if chief else tempfile.mkdtemp(prefix=f"worker{task_id}-")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    path = tf.train.CheckpointManager(checkpoint, target, max_to_keep=1).save()
    if not chief:
        shutil.rmtree(target, ignore_errors=True)
        return None
    return path


def try_fit(strategy, model, ds) -> dict:
    """Try ``model.fit`` for two steps under ``strategy``; report whether it worked and why not."""
    import keras

    with strategy.scope():
        model.compile(optimizer=keras.optimizers.SGD(0.0),  # lr 0: the weights must not move
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    try:
        model.fit(ds, epochs=1, steps_per_epoch=2, shuffle=False, verbose=0)
    except Exception as e:  # reported to the launcher, the custom loop then trains
        message = re.sub(r"PerReplica:\{.*\}", "PerReplica:{...}", " ".join(str(e).split()))  # drop tensor dumps
        return {"works": False, "error": f"{type(e).__name__}: {message[:300]}"}
    return {"works": True, "error": None}


if __name__ == "__main__":
    main()
