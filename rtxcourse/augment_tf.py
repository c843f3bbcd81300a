"""Run :mod:`rtxcourse.augment` chains inside ``tf.data`` (imports TensorFlow).

``tf.data`` runs Python through ``tf.numpy_function``. Each element gets its own seed from a
``tf.data`` random stream, so the result does not depend on which thread ran it or in which
order: the same ``seed`` gives the same augmented dataset with any ``num_parallel_calls``.
Python holds the GIL while it runs, so parallel calls scale only as far as the OpenCV kernels
(which release it) dominate; native TensorFlow ops (Keras preprocessing layers, ``tf.image``)
have no such limit. ``rtxcourse bench augment`` measures both.
"""

from __future__ import annotations

import numpy as np

from rtxcourse.runtime import import_tensorflow


AUTOTUNE = -1  # the value of tf.data.AUTOTUNE, without importing TensorFlow to name a default


def map_numpy(ds, transform, *, seed: int = 0, num_parallel_calls: int | None = AUTOTUNE, deterministic: bool | None = None,
              output_shape: tuple[int, ...] | None = None, output_dtype=None):
    """Apply ``transform(image, rng)`` to the image of each ``(image, label)`` element of ``ds``.

    ``num_parallel_calls`` defaults to ``tf.data.AUTOTUNE``; ``None`` maps sequentially in the
    calling thread, as ``Dataset.map`` does without it (any number, even 1, runs the map in a
    background thread that works ahead, which is a prefetch of its own). The output's shape and dtype are
    found by running the transform once on zeros when the input shape is fully known; give
    ``output_shape`` (and ``output_dtype``, default: the input's) when images vary in size.
    Each epoch draws new random numbers.
    """
    tf = import_tensorflow()
    if not callable(transform):
        raise TypeError(f"transform must be callable as transform(image, rng), got {type(transform).__name__}")
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(f"map_numpy needs a dataset of (image, label) pairs (unbatched), got element_spec {spec}")
    image_spec = spec[0]
    if output_shape is None:
        if not image_spec.shape.is_fully_defined():
            raise ValueError(f"images have shape {image_spec.shape}: pass output_shape=(H, W, C) for the transform's output")
        probe = transform(np.zeros(image_spec.shape, image_spec.dtype.as_numpy_dtype), np.random.default_rng(0))
        output_shape, output_dtype = probe.shape, output_dtype or probe.dtype
    out_dtype = tf.as_dtype(output_dtype or image_spec.dtype)

    def augment_one(image: np.ndarray, element_seed: np.int64) -> np.ndarray:
        # default_rng rejects negative seeds; the bit pattern as uint64 keeps all 64 bits.
        return transform(image, np.random.default_rng(np.uint64(element_seed.astype(np.uint64))))

    def fn(pair, element_seed):
        image, label = pair
        out = tf.numpy_function(augment_one, [image, element_seed], Tout=out_dtype, stateful=False)
        out.set_shape(output_shape)
        return out, label

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip((ds, seeds)).map(
        fn, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
