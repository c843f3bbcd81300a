"""rtxcourse.augment_tf.map_numpy: our OpenCV chains inside tf.data, seeded per element."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from rtxcourse import augment as A  # noqa: E402
from rtxcourse.augment_tf import map_numpy  # noqa: E402
from rtxcourse.runtime import import_tensorflow  # noqa: E402

tf = import_tensorflow()
X = np.random.default_rng(0).integers(0, 256, (12, 20, 22, 3), dtype=np.uint8)
Y = np.arange(12, dtype=np.int64)
CHAIN = A.Compose([A.RandomCrop(12), A.RandomFlip(), A.ColorJitter(0.3, 0.3), A.ToFloat()])


def _epoch(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.stack(xs), np.array(ys)


def _base():
    return tf.data.Dataset.from_tensor_slices((X, Y))


def test_shape_dtype_from_the_transform_and_labels_kept():
    ds = map_numpy(_base(), CHAIN, seed=0)
    assert ds.element_spec[0].shape == (12, 12, 3) and ds.element_spec[0].dtype == tf.float32
    x, y = _epoch(ds)
    assert x.shape == (12, 12, 12, 3) and 0 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(y, Y)
    # A transform that draws nothing: each output is that element's own image, converted, by its label.
    x, y = _epoch(map_numpy(_base(), A.ToFloat(), seed=0))
    np.testing.assert_array_equal(y, Y)
    np.testing.assert_allclose(x, X[y] / 255, rtol=1e-6)


def test_each_element_is_its_seed_s_draw_of_the_transform():
    """The i-th output is transform(X[i], rng seeded by the i-th number of tf.data's seed stream)."""
    seeds = [int(s) for s in tf.data.Dataset.random(seed=3, rerandomize_each_iteration=True).take(len(X))]
    x, _ = _epoch(map_numpy(_base(), CHAIN, seed=3, num_parallel_calls=None))
    for i in range(len(X)):  # default_rng takes the seed's 64-bit pattern (negative seeds are refused)
        expected = CHAIN(X[i], np.random.default_rng(np.uint64(np.int64(seeds[i]).astype(np.uint64))))
        np.testing.assert_array_equal(x[i], expected, err_msg=f"element {i}")


@pytest.mark.parametrize("calls", [None, 1, 4, -1])
def test_same_seed_same_data_at_any_parallelism_and_new_draws_each_epoch(calls):
    reference, _ = _epoch(map_numpy(_base(), CHAIN, seed=5, num_parallel_calls=1))
    ds = map_numpy(_base(), CHAIN, seed=5, num_parallel_calls=calls)
    first, _ = _epoch(ds)
    second, _ = _epoch(ds)
    np.testing.assert_array_equal(first, reference)
    assert not np.array_equal(first, second), "each epoch must draw new augmentations"
    other, _ = _epoch(map_numpy(_base(), CHAIN, seed=6))
    assert not np.array_equal(first, other)


def test_each_element_gets_its_own_draw():
    same = tf.data.Dataset.from_tensor_slices((np.repeat(X[:1], 8, axis=0), Y[:8]))
    x, _ = _epoch(map_numpy(same, A.RandomCrop(8), seed=0))
    assert len({im.tobytes() for im in x}) > 1


def test_unknown_shapes_need_output_shape():
    ragged = tf.data.Dataset.from_generator(lambda: ((X[i], Y[i]) for i in range(3)), output_signature=(
        tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int64)))
    with pytest.raises(ValueError, match="output_shape"):
        map_numpy(ragged, A.RandomCrop(8))
    x, _ = _epoch(map_numpy(ragged, A.RandomCrop(8), output_shape=(8, 8, 3)))
    assert x.shape == (3, 8, 8, 3) and x.dtype == np.uint8


def test_bad_inputs():
    with pytest.raises(TypeError, match="callable"):
        map_numpy(_base(), "crop")
    with pytest.raises(ValueError, match=r"\(image, label\)"):
        map_numpy(tf.data.Dataset.from_tensor_slices(X), CHAIN)
