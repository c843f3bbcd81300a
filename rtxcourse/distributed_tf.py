"""tf.distribute helpers shared by lesson 08 and the TensorFlow worker (imports TensorFlow).

* :func:`replica_devices` - the devices a ``MirroredStrategy`` should mirror over on this
  machine: the GPUs when there are several, else one device split into logical devices so
  data parallelism runs (and can be checked) on a laptop too.
* :func:`make_train_step` - the custom training step of a ``tf.distribute`` strategy:
  ``strategy.run`` on each replica, the loss averaged over the *global* batch, gradients
  summed over replicas by the optimizer.
"""

from __future__ import annotations

from rtxcourse.runtime import import_tensorflow

tf = import_tensorflow()

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
    try:
        if gpus:  # import_tensorflow() turned on memory growth; TF refuses it beside a split
            tf.config.experimental.set_memory_growth(physical, False)
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
    :func:`build_in_scope`). Returns the mean loss over the global batch.
    """
    if not isinstance(global_batch_size, int) or global_batch_size < 1:
        raise ValueError(f"global_batch_size must be a positive int, got {global_batch_size!r}")

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.nn.compute_average_loss(loss_fn(y, logits), global_batch_size=global_batch_size)
            scaled = optimizer.scale_loss(loss)  # a LossScaleOptimizer multiplies; others return loss
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)  # all-reduce (SUM over replicas), then update
        return loss

    @tf.function
    def train_step(x, y):
        per_replica = strategy.run(replica_step, args=(x, y))
        return strategy.reduce("SUM", per_replica, axis=None)  # each replica holds its share of the mean

    return train_step


def build_in_scope(strategy, model, optimizer) -> None:
    """Create the optimizer's variables now, inside ``strategy.scope()``.

    Keras builds an optimizer lazily on its first ``apply``; inside ``strategy.run`` that
    lazy build happens in replica context, which breaks ``LossScaleOptimizer`` (a
    "You must feed a value for placeholder tensor" error on keras 3.15). Building it here,
    as ``model.fit`` does, avoids that for every optimizer.
    """
    with strategy.scope():
        optimizer.build(model.trainable_variables)
