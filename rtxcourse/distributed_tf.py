"""tf.distribute helpers shared by lesson 08 and the TensorFlow worker (imports TensorFlow).

* :func:`replica_devices` - the devices a ``MirroredStrategy`` should mirror over on this
  machine: the GPUs when there are several, else one device split into logical devices so
  data parallelism runs (and can be checked) on a laptop too.
* :func:`make_train_step` - the custom training step of a ``tf.distribute`` strategy:
  ``strategy.run`` on each replica, the loss averaged over the *global* batch, gradients
  summed over replicas by the optimizer, and with float16 loss scaling one skip decision
  shared by all replicas (:func:`skip_together`).
"""

from __future__ import annotations

from rtxcourse.runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402

_GPU_SPLIT_MB = 2048  # memory of each logical GPU when one GPU is split (lesson-sized models)


def replica_devices(n: int = 2) -> list[str]:
    """Return device names for a ``MirroredStrategy`` with at least ``n`` replicas where possible.

    * two or more GPUs: all of them (one replica per GPU, the real thing);
    * one GPU: it is split into ``n`` logical GPUs of 2 GiB each (same code path, no speed-up);
    * no GPU: the CPU is split into ``n`` logical CPUs (same code path, no speed-up).

    Splitting must happen before TensorFlow runs its first op, so call this in the first
    TensorFlow cell of a notebook; once the runtime is initialised it raises RuntimeError.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (replicas), got {n!r}")
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) >= 2:
        return [f"/gpu:{i}" for i in range(len(gpus))]
    kind, physical = ("GPU", gpus[0]) if gpus else ("CPU", tf.config.list_physical_devices("CPU")[0])
    config = tf.config.LogicalDeviceConfiguration(memory_limit=_GPU_SPLIT_MB if gpus else None)
    # The memory growth that import_tensorflow() turned on is ignored once a GPU is split (each
    # logical GPU gets its fixed memory_limit), so it is left alone: switching it off here made a
    # second call fail, since TensorFlow refuses to touch memory growth beside a split.
    try:
        tf.config.set_logical_device_configuration(physical, [config] * n)
    except RuntimeError as e:
        current = tf.config.list_logical_devices(kind)
        if len(current) >= n:  # already split (a cell run twice): keep it
            return [d.name for d in current[:n]]
        raise RuntimeError(
            "TensorFlow is already initialised, so its devices can no longer be split; restart "
            "the kernel and call replica_devices() before any other TensorFlow operation") from e
    return [d.name for d in tf.config.list_logical_devices(kind)]


def make_train_step(strategy, model, optimizer, loss_fn, global_batch_size: int):
    """Return a ``tf.function`` that trains one step on a distributed batch ``(x, y)``.

    ``loss_fn`` must return one loss per example (``reduction=None``): each replica divides
    its sum by the *global* batch size (``tf.nn.compute_average_loss``) and the optimizer sums
    the replicas' gradients, which together give the gradient of the mean over the global
    batch. The optimizer must already be built in ``strategy.scope()`` (see
    :func:`build_in_scope`). With a ``LossScaleOptimizer`` the replicas skip a step together
    when any of them overflowed (:func:`skip_together`). Returns the mean loss over the global
    batch.
    """
    if not isinstance(global_batch_size, int) or global_batch_size < 1:
        raise ValueError(f"global_batch_size must be a positive int, got {global_batch_size!r}")

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.nn.compute_average_loss(loss_fn(y, logits), global_batch_size=global_batch_size)
            scaled = optimizer.scale_loss(loss)  # a LossScaleOptimizer multiplies; others return loss
        grads = tape.gradient(scaled, model.trainable_variables)
        if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
            grads = skip_together(grads)
        optimizer.apply(grads, model.trainable_variables)  # all-reduce (SUM over replicas), then update
        return loss

    @tf.function
    def train_step(x, y):
        per_replica = strategy.run(replica_step, args=(x, y))
        return strategy.reduce("SUM", per_replica, axis=None)  # each replica holds its share of the mean

    return train_step


def skip_together(grads: list) -> list:
    """Inside ``strategy.run``: make every replica's gradients non-finite when any replica's are.

    A ``LossScaleOptimizer`` skips a step when the gradients hold an inf/NaN, but on keras 3.15
    it decides from the *first local replica's own* gradients, before the all-reduce: an
    overflow on another GPU then passes into the summed gradients and turns every weight into
    NaN (``MirroredStrategy``), or workers disagree about skipping and wait on each other
    (``MultiWorkerMirroredStrategy``). One all-reduced flag gives every replica the same
    verdict: when any replica overflowed, all gradients become NaN and all replicas skip.
    """
    finite = [tf.reduce_all(tf.math.is_finite(_dense_values(g))) for g in grads if g is not None]
    local_bad = tf.cast(tf.logical_not(tf.reduce_all(finite)), tf.float32)
    any_bad = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, local_bad) > 0
    poison = tf.where(any_bad, float("nan"), 1.0)  # x * 1.0 keeps every bit of a good gradient
    return [None if g is None else _scale(g, tf.cast(poison, g.dtype)) for g in grads]


def _dense_values(g):
    return g.values if isinstance(g, tf.IndexedSlices) else g


def _scale(g, factor):
    if isinstance(g, tf.IndexedSlices):  # sparse gradients (embeddings): scale the rows present
        return tf.IndexedSlices(g.values * factor, g.indices, g.dense_shape)
    return g * factor


def build_in_scope(strategy, model, optimizer) -> None:
    """Create the optimizer's variables now, inside ``strategy.scope()``.

    Keras builds an optimizer lazily on its first ``apply``; inside ``strategy.run`` that
    lazy build happens in replica context, which breaks ``LossScaleOptimizer`` (a
    "You must feed a value for placeholder tensor" error on keras 3.15). Building it here,
    as ``model.fit`` does, avoids that for every optimizer.
    """
    with strategy.scope():
        optimizer.build(model.trainable_variables)
