"""Lesson 12's capstone in TensorFlow/Keras 3: one model, trained with each step's configuration.

    from rtxcourse import capstone, capstone_tf as ctf
    lab = ctf.Lab(capstone.dataset(S), S)
    row = lab.train("baseline", capstone.Config())
    speedup, m = lab.compare({"fp32": lab.step_fn(cfg), "bf16": lab.step_fn(cfg.but(precision="bfloat16"))})

The same steps as :mod:`rtxcourse.capstone_torch`, with Keras' tools: the model built under the
plan's dtype policy (``precision_tf.policy``, a ``LossScaleOptimizer`` for fp16), a plain
Python batch loop or ``tf.data`` with parallel ``map`` and ``prefetch(AUTOTUNE)``
(``augment_tf.map_numpy`` for the augmentation), ``models_tf.small_cnn``/``separable_cnn``,
``tf.recompute_grad`` through ``memory_tf.checkpointed`` and ``memory_tf.measure_memory``.
A custom training step (``tf.function``) rather than ``fit``: checkpointing needs to choose
what the tape keeps, which ``fit`` does not expose.
"""

from __future__ import annotations

import time

import numpy as np

from rtxcourse import capstone, flops_tf, memory, memory_tf, precision_tf
from rtxcourse.capstone import Config, Row
from rtxcourse.runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402

AUTOTUNE = tf.data.AUTOTUNE
REQUESTS = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def build(cfg: Config, s: capstone.Sizes, seed: int = 0) -> keras.Model:
    """A fresh small_cnn or separable_cnn (``cfg.model``) for 1-channel digits, under ``cfg``'s dtype policy."""
    from rtxcourse import models_tf

    keras.utils.set_random_seed(seed)
    make = models_tf.small_cnn if cfg.model == "small" else models_tf.separable_cnn
    with precision_tf.policy(precision_tf.plan(REQUESTS[cfg.precision])):
        model = make((s.image_size, s.image_size, 1), num_classes=10, width=s.width)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # Keras' default momentum 0.99 needs hundreds of steps before the moving statistics
            # used at inference mean anything; a short run needs torch's 0.9 (its "momentum=0.1").
            layer.momentum = 0.9
    return model


def forward_fn(model: keras.Model, cfg: Config):
    """``x -> logits`` in training mode; with ``cfg.checkpoint`` the feature layers run under ``tf.recompute_grad``.

    The capstone's models are a chain of layers, so they can be run layer by layer; groups of
    about sqrt(n) layers are recomputed (``memory_tf.checkpointed(..., "sequential")``), the
    classifier layer is not.
    """
    if not cfg.checkpoint:
        return lambda x: model(x, training=True)
    *features, head = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    train_mode = [(lambda x, layer=layer: layer(x, training=True)) for layer in features]
    run = memory_tf.checkpointed(train_mode, "sequential")
    return lambda x: head(run(x))


class Lab:
    """Train, time and measure one configuration after another on the same data."""

    def __init__(self, data: capstone.Data, s: capstone.Sizes):
        self.data, self.s = data, s
        self.device = memory_tf.default_device()
        self._steps = {}  # cfg -> a compiled step of one model, reused by peak() at every batch

    def plan(self, cfg: Config):
        """The :class:`~rtxcourse.precision.PrecisionPlan` of ``cfg.precision`` on TensorFlow's device."""
        return precision_tf.plan(REQUESTS[cfg.precision])

    def batches(self, cfg: Config, batch: int | None = None, seed: int = 0):
        """An iterable of training batches: a plain Python loop (``workers == 0``) or ``tf.data``.

        ``tf.data``: shuffle, augmentation in parallel calls (``augment_tf.map_numpy``), batch,
        ``prefetch(AUTOTUNE)`` so the next batch is made while the step runs.
        """
        b = batch or cfg.batch
        x, y = self.data.x_train, self.data.y_train
        if not cfg.workers:
            return _PlainBatches(x, y, b, capstone.augmentation() if cfg.augment else None, seed)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
        if cfg.augment:
            from rtxcourse import augment_tf

            ds = augment_tf.map_numpy(ds, capstone.augmentation(), seed=seed, num_parallel_calls=AUTOTUNE)
        return ds.batch(b, drop_remainder=True).prefetch(AUTOTUNE)

    def make_step(self, model: keras.Model, cfg: Config, shards: int = 1):
        """A compiled ``step(X, y)``: one Adam update, loss-scaled when the plan needs it.

        ``shards > 1``: the loss is the mean of the per-shard losses, each shard run on its own
        (BatchNorm statistics per shard), which is what ``shards`` replicas of a
        ``MirroredStrategy`` compute together: the single-device reference of :meth:`mirrored`.
        """
        opt = precision_tf.optimizer(keras.optimizers.Adam(cfg.lr or self.s.lr), self.plan(cfg))
        opt.build(model.trainable_variables)
        forward = forward_fn(model, cfg)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        @tf.function(reduce_retracing=True)
        def step(X, y):
            with tf.GradientTape() as tape:
                losses = [loss_fn(ys, tf.cast(forward(xs), tf.float32))
                          for xs, ys in zip(tf.split(X, shards), tf.split(y, shards))]
                loss = tf.add_n(losses) / shards
                scaled = opt.scale_loss(loss)  # the loss itself unless the optimizer scales losses
            opt.apply(tape.gradient(scaled, model.trainable_variables), model.trainable_variables)
            return loss

        return step

    def steps_batches(self, cfg: Config, steps: int):
        """The fixed global batches of the multi-device comparison: consecutive slices of the training set."""
        X, y = self.batch(steps * cfg.batch)
        return list(zip(tf.split(X, steps), tf.split(y, steps)))

    def reference(self, cfg: Config, steps: int, shards: int) -> tuple[dict, float]:
        """Train ``steps`` steps on one device as ``shards`` replicas would; return (weights, seconds).

        The seconds are those of the same steps (all but the first) as ordinary one-device training.
        """
        model = build(cfg, self.s)
        step = self.make_step(model, cfg, shards=shards)
        for X, y in self.steps_batches(cfg, steps):
            step(X, y)
        plain, batches = self.make_step(build(cfg, self.s), cfg), self.steps_batches(cfg, steps)
        float(plain(*batches[0]))  # warm-up and tracing, as for the replicas
        start = time.perf_counter()
        for X, y in batches[1:]:
            loss = plain(X, y)
        float(loss)
        return weights(model), time.perf_counter() - start

    def mirrored(self, cfg: Config, steps: int, devices: list[str]) -> tuple[dict, float]:
        """Train ``steps`` steps under ``MirroredStrategy(devices)``, each replica its slice of every batch.

        Returns (weights, seconds of all steps but the first). Each replica divides its loss sum
        by the *global* batch (``tf.nn.compute_average_loss``) and the strategy sums the gradients.
        """
        from rtxcourse import distributed_tf

        strategy = tf.distribute.MirroredStrategy(devices)
        n = strategy.num_replicas_in_sync
        with strategy.scope():
            model = build(cfg, self.s)
            opt = precision_tf.optimizer(keras.optimizers.Adam(cfg.lr or self.s.lr), self.plan(cfg))
            distributed_tf.build_in_scope(strategy, model, opt)
        forward = forward_fn(model, cfg)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

        def replica_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(loss_fn(y, tf.cast(forward(x), tf.float32)), global_batch_size=cfg.batch)
                scaled = opt.scale_loss(loss)
            grads = tape.gradient(scaled, model.trainable_variables)
            if isinstance(opt, keras.mixed_precision.LossScaleOptimizer):
                grads = distributed_tf.skip_together(grads)  # every replica skips an overflowed step together
            opt.apply(grads, model.trainable_variables)  # all-reduce (sum over replicas), then update
            return loss

        @tf.function
        def step(x, y):
            return strategy.reduce("SUM", strategy.run(replica_step, args=(x, y)), axis=None)

        share, times = cfg.batch // n, []
        for i, (X, y) in enumerate(self.steps_batches(cfg, steps)):
            parts = [strategy.experimental_distribute_values_from_function(
                lambda ctx, t=t: t[ctx.replica_id_in_sync_group * share:(ctx.replica_id_in_sync_group + 1) * share])
                for t in (X, y)]
            start = time.perf_counter()
            float(step(*parts))
            if i:
                times.append(time.perf_counter() - start)
        return weights(model), sum(times)

    def accuracy(self, model: keras.Model, x) -> float:
        """Test accuracy on NHWC images ``x`` (inference mode)."""
        logits = model(tf.constant(x), training=False)
        return float(np.mean(np.argmax(logits.numpy(), axis=1) == self.data.y_test))

    def train(self, step_name: str, cfg: Config, *, progress: bool = True) -> Row:
        """Train a fresh model with ``cfg`` for ``s.epochs`` epochs (a progress bar unless ``progress=False``); return its :class:`Row`."""
        from tqdm.auto import tqdm

        bar = tqdm(total=self.s.epochs, desc=f"tf {step_name}: epochs", leave=False, disable=not progress)
        model = build(cfg, self.s)
        step, times, steps = self.make_step(model, cfg), [], 0
        for epoch in range(self.s.epochs):
            start, steps = time.perf_counter(), 0
            for X, y in self.batches(cfg, seed=epoch):
                loss = step(X, y)
                steps += 1
            float(loss)  # wait for the last step
            times.append(time.perf_counter() - start)
            bar.update(1)
        bar.close()
        count = flops_tf.count(model)
        accuracy, moved = self.accuracy(model, self.data.x_test), self.accuracy(model, self.data.x_moved)
        X, y = self.batch(cfg.batch)  # then the peak of one more step of this model (traced for this shape already)
        peak = memory_tf.measure_memory(lambda: step(X, y), device=self.device).peak_bytes
        row = Row(step_name, min(times[1:] or times), peak, accuracy, moved, cfg.batch, self.plan(cfg).short, count.params,
                   3 * count.flops_per_example, steps * cfg.batch,
                   notes={"epoch_seconds": times, "first_epoch_traces": True})
        gpu = None
        if self.device.startswith("GPU"):
            gpu = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get("device_name")
        capstone.mfu_of(row, "cuda" if gpu is not None or self.device.startswith("GPU") else "cpu", gpu)
        return row

    def batch(self, n: int):
        """The first ``n`` training images (repeated when ``n`` exceeds the set) as tensors."""
        idx = np.arange(n) % len(self.data.x_train)
        return tf.constant(self.data.x_train[idx]), tf.constant(self.data.y_train[idx])

    def step_fn(self, cfg: Config, batch: int | None = None):
        """A zero-argument training step of a fresh model on a fixed batch, for :meth:`compare`."""
        step, (X, y) = self.make_step(build(cfg, self.s), cfg), self.batch(batch or cfg.batch)
        return lambda: float(step(X, y))

    def epoch_fn(self, cfg: Config):
        """A zero-argument full epoch (input pipeline and steps) of a fresh model, for :meth:`compare`."""
        step = self.make_step(build(cfg, self.s), cfg)

        def epoch():
            for X, y in self.batches(cfg):
                loss = step(X, y)
            float(loss)

        return epoch

    def compare(self, fns: dict, rounds: int | None = None) -> tuple[float, dict]:
        """Time ``{name: fn}`` (two entries: baseline first) in interleaved rounds: :func:`capstone.compare`."""
        return capstone.compare(fns, rounds or self.s.rounds, "tf")

    def peak(self, cfg: Config, batch: int) -> int:
        """Measured peak bytes of one training step of ``cfg``'s model at ``batch`` (after a warm-up step)."""
        if cfg not in self._steps:  # one model and optimizer per config; a new batch only retraces
            self._steps[cfg] = self.make_step(build(cfg, self.s), cfg)
        step, (X, y) = self._steps[cfg], self.batch(batch)
        step(X, y)
        return memory_tf.measure_memory(lambda: step(X, y), device=self.device).peak_bytes

    def largest_batch(self, cfg: Config, budget: int, start: int, limit: int, step: int | None = None) -> memory.BatchSearch:
        """The largest multiple of ``step`` (default ``start``) up to ``limit`` whose measured step peak fits ``budget`` bytes."""
        return memory.largest_batch(lambda b: self.peak(cfg, b) <= budget, start=start, limit=limit, step=step)

    def count(self, cfg: Config):
        """Parameters and forward FLOPs per image (``flops_tf.count``) of ``cfg``'s model."""
        return flops_tf.count(build(cfg, self.s))


class _PlainBatches:
    """Batches cut from the arrays in the training process, one after the other: no overlap with the step."""

    def __init__(self, x, y, batch, transform, seed):
        self.x, self.y, self.b, self.transform, self.seed = x, y, batch, transform, seed

    def __iter__(self):
        from rtxcourse.augment import apply_batch

        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(self.x))
        for i in range(0, len(order) - self.b + 1, self.b):
            xb = self.x[order[i:i + self.b]]
            if self.transform is not None:
                xb = apply_batch(self.transform, xb, rng).astype(np.float32)
            yield tf.constant(xb), tf.constant(self.y[order[i:i + self.b]])


def weights(model: keras.Model) -> dict:
    """The trainable weights of ``model`` as float32 NumPy arrays, by position and name."""
    return {f"{i}:{v.path.split('/')[-1]}": np.asarray(v.numpy(), np.float32) for i, v in enumerate(model.trainable_variables)}
