"""tf.data adapters for rtxcourse.data arrays (imports TensorFlow)."""

from __future__ import annotations

from rtxcourse.validate import check_xy
from rtxcourse.runtime import import_tensorflow


def as_tf_dataset(x, y, batch_size: int = 32, *, shuffle: bool = True, seed: int = 0, drop_remainder: bool = False):
    """Batched ``tf.data.Dataset`` of ``(image, label)``: shuffle (seeded), batch, prefetch."""
    check_xy(x, y)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}")
    tf = import_tensorflow()
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        # A full-size buffer gives a true shuffle; reshuffled every epoch, same order per seed.
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
