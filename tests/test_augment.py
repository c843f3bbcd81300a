"""rtxcourse.augment: correctness, statistics of the random draws, shapes, dtypes, errors, seeds."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
from scipy import stats

from rtxcourse import augment as A
from rtxcourse import data


def _images():
    """One image of every supported kind: grey 2-D, grey HW1, uint8 RGB, float32 RGB, float64 RGBA."""
    rng = np.random.default_rng(123)
    return {
        "gray2d_u8": rng.integers(0, 256, (20, 24), dtype=np.uint8),
        "gray_hw1_f32": rng.random((20, 24, 1), dtype=np.float32),
        "rgb_u8": rng.integers(0, 256, (20, 24, 3), dtype=np.uint8),
        "rgb_f32": rng.random((20, 24, 3), dtype=np.float32),
        "rgba_f64": rng.random((20, 24, 4)),
    }


# Every transform with settings that work on every image kind (colour jitter on RGB below).
GENERIC = {
    "crop": A.RandomCrop((11, 13)),
    "flip_h": A.RandomFlip(0.5),
    "flip_v": A.RandomFlip(0.5, horizontal=False),
    "rotate_reflect": A.RandomRotate(30, border="reflect"),
    "rotate_constant": A.RandomRotate(30, fill=0.5),
    "resized_crop": A.RandomResizedCrop((12, 10), scale=(0.2, 1.0)),
    "jitter_bc": A.ColorJitter(brightness=0.5, contrast=0.5),
    "cutout": A.Cutout(5, n=2),
}


def _rng(seed=0):
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- every transform


@pytest.mark.parametrize("tname", GENERIC)
@pytest.mark.parametrize("kind", _images())
def test_shape_dtype_kept_input_untouched_and_seeded(tname, kind):
    image = _images()[kind]
    before = image.copy()
    t = GENERIC[tname]
    out = t(image, _rng(7))
    assert out.dtype == image.dtype
    assert out.ndim == image.ndim
    if image.ndim == 3:
        assert out.shape[2] == image.shape[2]
    if tname in ("crop", "resized_crop"):
        assert out.shape[:2] == t.size
    else:
        assert out.shape == image.shape
    np.testing.assert_array_equal(image, before)  # never writes into its input
    np.testing.assert_array_equal(out, t(image, _rng(7)))  # same seed, same result
    if image.dtype != np.uint8:
        assert 0.0 <= out.min() and out.max() <= 1.0


@pytest.mark.parametrize("tname", ["crop", "flip_h", "rotate_reflect", "resized_crop", "jitter_bc", "cutout"])
def test_different_seeds_give_different_results(tname):
    image = _images()["rgb_f32"]
    outs = [GENERIC[tname](image, _rng(s)) for s in range(8)]
    assert len({o.tobytes() for o in outs}) > 1


# --------------------------------------------------------------------------- random_crop


def test_crop_offsets_cover_every_position_uniformly():
    h, w, ch, cw = 9, 12, 6, 8  # 4 row offsets (0..3) and 5 column offsets (0..4)
    image = np.arange(h * w, dtype=np.float64).reshape(h, w) / (h * w)  # each pixel unique
    rng, n = _rng(1), 6000
    tops, lefts = [], []
    for _ in range(n):
        corner = int(round(A.random_crop(image, (ch, cw), rng)[0, 0] * h * w))
        tops.append(corner // w)
        lefts.append(corner % w)
    for offsets, count in ((tops, h - ch + 1), (lefts, w - cw + 1)):
        observed = np.bincount(offsets, minlength=count)
        assert len(observed) == count, "an offset past the last valid one was drawn"
        assert observed.min() > 0, f"an offset is never drawn: {observed} (the last one is the usual bug)"
        assert stats.chisquare(observed).pvalue > 1e-4, f"offsets not uniform: {observed}"


def test_crop_content_matches_the_window():
    image = _images()["rgb_u8"]
    rng = _rng(3)
    for _ in range(50):
        out = A.random_crop(image, (7, 9), rng)
        hits = [(t, l) for t in range(20 - 7 + 1) for l in range(24 - 9 + 1)
                if np.array_equal(image[t:t + 7, l:l + 9], out)]
        assert hits, "the crop is not a window of the image"


def test_crop_as_large_as_the_image_returns_it():
    image = _images()["rgb_u8"]
    np.testing.assert_array_equal(A.random_crop(image, (20, 24), _rng()), image)


@pytest.mark.parametrize("size", [(21, 24), (20, 25), 30])
def test_crop_larger_than_the_image_names_both_sizes(size):
    with pytest.raises(ValueError, match=r"crop size .* larger than the image \(20, 24\)"):
        A.random_crop(_images()["rgb_u8"], size, _rng())


@pytest.mark.parametrize("size", [0, -3, (4,), (4, 0), 2.5, "8", (True, 3)])
def test_bad_crop_size(size):
    with pytest.raises(ValueError, match="crop size"):
        A.random_crop(_images()["rgb_u8"], size, _rng())


# --------------------------------------------------------------------------- random_flip


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_flip_frequency_matches_p(p):
    image = _images()["rgb_u8"]
    rng, n = _rng(2), 4000
    flipped = sum(not np.array_equal(A.random_flip(image, p, rng), image) for _ in range(n))
    # Binomial: mean n*p, sd sqrt(n p (1-p)); 5 sd is a false alarm once in ~3.5 million runs.
    assert abs(flipped - n * p) <= 5 * np.sqrt(n * p * (1 - p)) + 1e-9


@pytest.mark.parametrize("horizontal, expected", [(True, lambda im: im[:, ::-1]), (False, lambda im: im[::-1])])
def test_flip_mirrors_the_right_axis(horizontal, expected):
    for image in _images().values():
        np.testing.assert_array_equal(A.random_flip(image, 1.0, _rng(), horizontal=horizontal), expected(image))
        assert A.random_flip(image, 0.0, _rng(), horizontal=horizontal) is image


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", None])
def test_bad_flip_probability(p):
    with pytest.raises(ValueError, match="probability"):
        A.random_flip(_images()["rgb_u8"], p, _rng())


# --------------------------------------------------------------------------- random_rotate


def test_rotate_border_is_a_trade_off_constant_by_default_or_reflected():
    image = np.full((32, 32, 3), 200, np.uint8)
    rng = _rng(4)
    # Constant (the default, as torchvision and albumentations): corners painted with fill.
    corners = [A.random_rotate(image, 45, rng)[0, 0] for _ in range(50)]
    assert min(c.min() for c in corners) == 0
    assert A.random_rotate(image, 45, rng, fill=np.uint8(77), border="constant").min() in (77, 78)  # blended edge
    # Reflect: every pixel comes from the image, mirrored (no corners, invented content instead).
    for _ in range(20):
        assert A.random_rotate(image, 45, rng, border="reflect").min() == 200


def test_rotate_zero_degrees_is_identity_and_angle_is_uniform():
    image = _images()["rgb_f32"]
    np.testing.assert_allclose(A.random_rotate(image, 0, _rng()), image, atol=1e-6)
    # The angle is rng.uniform(-max, max): replaying the generator gives the same rotation.
    rng, replay = _rng(5), _rng(5)
    out = A.random_rotate(image, 40, rng)
    angle = replay.uniform(-40, 40)
    m = cv2.getRotationMatrix2D(((24 - 1) / 2, (20 - 1) / 2), angle, 1.0)
    np.testing.assert_allclose(out, cv2.warpAffine(image, m, (24, 20), borderMode=cv2.BORDER_CONSTANT), atol=1e-6)
    angles = _rng(6).uniform(-40, 40, 4000)
    assert stats.kstest((angles + 40) / 80, "uniform").pvalue > 1e-4


def test_rotate_turns_about_the_true_centre():
    # A disc centred between the four middle pixels of an even-sized image is unchanged by any
    # rotation about (W-1)/2, (H-1)/2; rotating about W//2 (a common bug) shifts it half a pixel.
    n = 40
    yy, xx = np.mgrid[:n, :n]
    disc = (((yy - (n - 1) / 2) ** 2 + (xx - (n - 1) / 2) ** 2) < 12 ** 2).astype(np.float32)
    disc = cv2.GaussianBlur(disc, (15, 15), 3)
    inside = ((yy - (n - 1) / 2) ** 2 + (xx - (n - 1) / 2) ** 2) < (n / 2) ** 2  # corners get reflections
    rng = _rng(8)
    for _ in range(10):
        assert np.abs(A.random_rotate(disc, 180, rng) - disc)[inside].max() < 0.03  # about W//2: up to 0.19


@pytest.mark.parametrize("kwargs, match", [({"border": "black"}, "border"), ({"interpolation": "bilinear"}, "interpolation")])
def test_rotate_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        A.random_rotate(_images()["rgb_u8"], 10, _rng(), **kwargs)
    with pytest.raises(ValueError, match="max_degrees"):
        A.RandomRotate(-5)


# --------------------------------------------------------------------------- random_resized_crop


def test_resized_crop_full_scale_and_ratio_is_a_resize():
    image = _images()["rgb_u8"]
    out = A.random_resized_crop(image, (20, 24), _rng(), scale=(1.0, 1.0), ratio=(24 / 20, 24 / 20))
    np.testing.assert_array_equal(out, image)


def test_resized_crop_area_follows_scale():
    # Crop a known ramp so the crop's extent can be read back from the output corners.
    h, w = 100, 100
    image = np.dstack(np.mgrid[:h, :w]).astype(np.float64) / 100  # channel 0 = row / 100, 1 = col / 100
    rng = _rng(9)
    areas = []
    for _ in range(300):
        out = A.random_resized_crop(image, 50, rng, scale=(0.25, 0.64), ratio=(1.0, 1.0), interpolation="nearest")
        height = (out[-1, 0, 0] - out[0, 0, 0]) * 100 + 1
        width = (out[0, -1, 1] - out[0, 0, 1]) * 100 + 1
        areas.append(height * width / (h * w))
    areas = np.array(areas)
    assert 0.22 <= areas.min() and areas.max() <= 0.67  # within scale (rounding of the side)
    assert 0.40 < areas.mean() < 0.49  # uniform on [0.25, 0.64] has mean 0.445


def _ramp(h=100, w=100):
    """Channel 0 = row / 100, channel 1 = column / 100: a crop's extent can be read from its corners."""
    return np.dstack(np.mgrid[:h, :w]).astype(np.float64) / 100


def _extent(out):
    """(height, width) in source pixels of a nearest-neighbour resized crop of :func:`_ramp`."""
    return (out[-1, 0, 0] - out[0, 0, 0]) * 100 + 1, (out[0, -1, 1] - out[0, 0, 1]) * 100 + 1


def test_resized_crop_ratio_is_width_over_height_and_log_uniform():
    image, rng = _ramp(), _rng(19)
    # ratio 2 means twice as wide as high (torchvision's w/h); a crop that swaps the two is 1:2.
    for _ in range(50):
        height, width = _extent(A.random_resized_crop(image, 50, rng, scale=(0.1, 0.3), ratio=(2.0, 2.0),
                                                      interpolation="nearest"))
        assert width / height == pytest.approx(2.0, rel=0.12), (height, width)
    # Log-uniform on [1/3, 3] is symmetric in log(w/h) about 0 (median ratio 1); a plain uniform
    # draw on [1/3, 3] has median 5/3, log 0.51. The side rounding adds about +-0.05 of noise.
    logs = []
    for _ in range(400):
        height, width = _extent(A.random_resized_crop(image, 50, rng, scale=(0.05, 0.1), ratio=(1 / 3, 3),
                                                      interpolation="nearest"))
        logs.append(np.log(width / height))
    assert abs(np.median(logs)) < 0.15 and min(logs) > np.log(1 / 3) - 0.1 and max(logs) < np.log(3) + 0.1


@pytest.mark.parametrize("ratio, window", [
    # 20 x 24 image, 10:1 never fits in 10 draws at scale >= 0.9: the whole width, 24 / 10 = 2.4 -> 2
    # rows, centred: top (20 - 2) // 2 = 9, so rows 9..10 and all 24 columns.
    (10.0, (slice(9, 11), slice(0, 24))),
    # 1:10: the whole height, 20 / 10 = 2 columns, centred: left (24 - 2) // 2 = 11, columns 11..12.
    (0.1, (slice(0, 20), slice(11, 13))),
])
def test_resized_crop_falls_back_to_the_centred_crop_with_the_ratio_clamped(ratio, window):
    image = _images()["rgb_u8"]
    out = A.random_resized_crop(image, (5, 5), _rng(), scale=(0.9, 1.0), ratio=(ratio, ratio))
    # each crop shrinks along one axis, so the course's rule resizes it with INTER_AREA
    np.testing.assert_array_equal(out, cv2.resize(image[window], (5, 5), interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize("kwargs", [{"scale": (0.5, 0.2)}, {"scale": (0.1, 1.5)}, {"ratio": (0, 1)}, {"scale": 0.5}])
def test_resized_crop_bad_ranges(kwargs):
    with pytest.raises(ValueError, match="scale|ratio"):
        A.random_resized_crop(_images()["rgb_u8"], 8, _rng(), **kwargs)


# --------------------------------------------------------------------------- color_jitter


@pytest.mark.parametrize("kind", ["rgb_u8", "rgb_f32"])
def test_jitter_full_rgb_keeps_dtype_and_range(kind):
    image = _images()[kind]
    rng = _rng(10)
    for _ in range(20):
        out = A.color_jitter(image, rng, brightness=0.8, contrast=0.8, saturation=0.8, hue=0.5)
        assert out.dtype == image.dtype and out.shape == image.shape
    assert A.color_jitter(image, rng) is image  # all strengths 0: nothing to do


_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601 weights, torchvision's rgb_to_grayscale


def _torchvision_jitter(image, name, f):
    """torchvision's definitions, written out in NumPy on float RGB: each blends the image with a target."""
    target = {"brightness": 0.0,  # adjust_brightness: blend with black
              "contrast": (image @ _LUMA).mean(),  # adjust_contrast: with the mean grey level
              "saturation": (image @ _LUMA)[..., None]}[name]  # adjust_saturation: with the grey image
    return np.clip(f * image + (1 - f) * target, 0, 1)


@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation"])
@pytest.mark.parametrize("kind", ["rgb_f32", "rgb_u8"])
def test_brightness_contrast_saturation_follow_torchvisions_definitions(name, kind):
    photo = data.sample_photos(("astronaut",))["astronaut"][::16, ::16]  # 32 x 32 real colours, some clip
    image = photo if kind == "rgb_u8" else (photo / 255).astype(np.float32)
    scale = 255 if kind == "rgb_u8" else 1
    for seed in range(10):
        # One strength set: one uniform draw of the factor from [1 - x, 1 + x] (torchvision's range), no order.
        f = _rng(seed).uniform(0.2, 1.8)
        out = A.color_jitter(image, _rng(seed), **{name: 0.8})
        expected = _torchvision_jitter(image.astype(np.float64) / scale, name, f) * scale
        # uint8: OpenCV rounds where torchvision truncates, so up to one grey level apart
        np.testing.assert_allclose(out, expected, atol=1.0 if kind == "rgb_u8" else 1e-5, err_msg=f"{name} {f}")


def test_saturation_and_hue_leave_grey_alone_and_hue_turns_colours():
    grey = np.repeat(_rng(13).integers(0, 256, (10, 10, 1), dtype=np.uint8), 3, axis=2)
    rng = _rng(14)
    for _ in range(10):
        np.testing.assert_array_equal(A.color_jitter(grey, rng, saturation=1.0), grey)
        assert np.abs(A.color_jitter(grey, rng, hue=0.5).astype(int) - grey).max() <= 1
    # A pure red image turned by a third of the wheel becomes (close to) pure green or blue.
    red = np.zeros((4, 4, 3), np.float32)
    red[..., 0] = 1.0
    out = A._shift_hue(red, 1 / 3)
    np.testing.assert_allclose(out[0, 0], [0, 1, 0], atol=1e-5)
    out8 = A._shift_hue((red * 255).astype(np.uint8), 1 / 3)
    assert out8[0, 0, 1] >= 250 and out8[0, 0, [0, 2]].max() <= 8


def test_jitter_errors():
    with pytest.raises(ValueError, match=r"need an RGB image .* \(20, 24\)"):
        A.color_jitter(_images()["gray2d_u8"], _rng(), saturation=0.2)
    with pytest.raises(ValueError, match="hue"):
        A.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="brightness"):
        A.ColorJitter(brightness=-1)


# --------------------------------------------------------------------------- cutout


def test_cutout_paints_one_clipped_rectangle_and_reaches_the_corners():
    h, w = 12, 14
    image = np.ones((h, w), np.float32)
    rng = _rng(15)
    covered, full = np.zeros((h, w), bool), 0
    for _ in range(400):
        out = A.cutout(image, (4, 6), rng, fill=0.0)
        rows, cols = np.nonzero(out == 0)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert len(rows) == height * width and height <= 4 and width <= 6  # one rectangle, clipped at most
        full += (height, width) == (4, 6)
        covered |= out == 0
    assert covered.all(), "some pixels (usually the edges) are never cut out"
    # The whole 4 x 6 shows when the centre is at least 2 rows and 3 columns from the top/left and
    # 1 row and 2 columns from the bottom/right edge: rows 2..10 of 12, columns 3..11 of 14.
    assert _within_5_sd(full, 400, (9 / 12) * (9 / 14)), full
    np.testing.assert_array_equal(image, 1.0)


def test_cutout_n_zero_and_bad_n():
    image = _images()["rgb_u8"]
    np.testing.assert_array_equal(A.cutout(image, 4, _rng(), n=0), image)
    with pytest.raises(ValueError, match="non-negative int"):
        A.cutout(image, 4, _rng(), n=-1)


# --------------------------------------------------------------------------- input errors


@pytest.mark.parametrize("bad, error, match", [
    ([[1, 2], [3, 4]], TypeError, "numpy array .* got list"),
    (np.zeros((2, 8, 8, 3), np.uint8), ValueError, "got 4 dims .* apply_batch"),
    (np.zeros(8, np.uint8), ValueError, "got 1 dims"),
    (np.zeros((0, 8, 3), np.uint8), ValueError, "empty"),
    (np.zeros((8, 8, 3), np.int64), TypeError, "dtype int64"),
    (np.zeros((8, 8, 3), np.float16), TypeError, "dtype float16"),
])
@pytest.mark.parametrize("tname", GENERIC)
def test_bad_images_get_a_clear_error(bad, error, match, tname):
    with pytest.raises(error, match=match):
        GENERIC[tname](bad, _rng())


@pytest.mark.parametrize("rng", [0, None, np.random.RandomState(0)])
def test_rng_must_be_a_generator(rng):
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        A.random_crop(_images()["rgb_u8"], 4, rng)


# --------------------------------------------------------------------------- Compose and batches


def test_compose_applies_in_order_with_one_generator():
    image = _images()["rgb_f32"]
    chain = A.Compose([A.RandomCrop(16), A.RandomFlip(1.0), A.ColorJitter(brightness=0.3)])
    rng, replay = _rng(16), _rng(16)
    expected = A.color_jitter(A.random_flip(A.random_crop(image, 16, replay), 1.0, replay), replay, brightness=0.3)
    np.testing.assert_array_equal(chain(image, rng), expected)
    assert len(chain) == 3 and "RandomCrop(size=(16, 16))" in repr(chain)
    with pytest.raises(TypeError, match="callables"):
        A.Compose([A.RandomCrop(4), "flip"])


def test_apply_batch_stacks_and_is_reproducible():
    images = np.stack([_images()["rgb_u8"]] * 6)
    chain = A.Compose([A.RandomResizedCrop(8), A.RandomFlip()])
    out = A.apply_batch(chain, images, _rng(17))
    assert out.shape == (6, 8, 8, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, A.apply_batch(chain, images, _rng(17)))
    assert len({o.tobytes() for o in out}) > 1  # each image gets its own draw
    mixed = [np.zeros((10, 12, 3), np.uint8), np.zeros((30, 20, 3), np.uint8)]
    assert A.apply_batch(A.RandomCrop(8), mixed, _rng()).shape == (2, 8, 8, 3)
    with pytest.raises(ValueError, match="different shapes"):
        A.apply_batch(A.RandomFlip(), mixed, _rng())
    with pytest.raises(ValueError, match="empty"):
        A.apply_batch(chain, [], _rng())
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        A.apply_batch(chain, np.zeros((2, 3, 4, 5, 6), np.uint8), _rng())


def test_importing_augment_loads_no_framework():
    code = "import sys, rtxcourse.augment; print(sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- probabilities and composition
# Frequencies are binomial: with n draws at probability q the count has sd sqrt(n q (1 - q)); a
# 5 sd bound fails by chance about once in 3.5 million runs, and the seeds are fixed anyway.


def _within_5_sd(count: int, n: int, q: float) -> bool:
    return abs(count - n * q) <= 5 * np.sqrt(n * q * (1 - q)) + 1e-9


def _plus(k):
    """A marker transform: adds k, so the output says which branch ran."""
    return lambda im, rng: im + k


@pytest.mark.parametrize("make", [
    lambda p: A.RandomCrop(4, p=p), lambda p: A.RandomRotate(30, p=p), lambda p: A.RandomResizedCrop(4, p=p),
    lambda p: A.ColorJitter(brightness=0.5, p=p), lambda p: A.Cutout(4, p=p), lambda p: A.Compose([_plus(1)], p=p),
    lambda p: A.RandomApply([_plus(1)], p=p), lambda p: A.OneOf([_plus(1), _plus(2)], p=p),
])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_every_transform_is_applied_with_probability_p(make, p):
    image = _rng(30).uniform(0.2, 0.8, (12, 12, 3)).astype(np.float32)
    t, rng, n = make(p), _rng(31), 2000
    outs = [t(image, rng) for _ in range(n)]
    untouched = sum(o is image for o in outs)  # a skipped transform returns its input itself
    assert _within_5_sd(n - untouched, n, p), (n - untouched, n, p)
    # When applied it really transformed the image (each of these always changes a float image).
    assert all(o.shape != image.shape or not np.array_equal(o, image) for o in outs if o is not image)


def test_random_apply_defaults_to_one_half_and_applies_the_group_together():
    image = np.zeros((2, 2), np.float32)
    t, rng, n = A.RandomApply([_plus(1), _plus(10)]), _rng(32), 4000
    values = np.array([t(image, rng)[0, 0] for _ in range(n)])
    assert set(np.unique(values)) == {0.0, 11.0}  # all of the group or none of it
    assert _within_5_sd(int((values == 11).sum()), n, 0.5)


@pytest.mark.parametrize("weights, expected", [(None, [1 / 3] * 3), ([1, 3, 0], [0.25, 0.75, 0.0]),
                                               (np.array([0.2, 0.2, 0.6], np.float32), [0.2, 0.2, 0.6])])
def test_one_of_picks_exactly_one_with_the_given_weights(weights, expected):
    image = np.zeros((2, 2), np.float32)
    t, rng, n = A.OneOf([_plus(1), _plus(2), _plus(3)], weights=weights), _rng(33), 6000
    counts = np.bincount(np.array([t(image, rng)[0, 0] for _ in range(n)]).astype(int), minlength=4)
    assert counts[0] == 0  # never none, never two (1 + 2 = 3 is ruled out by the weights test below)
    for k in range(3):
        assert _within_5_sd(int(counts[k + 1]), n, expected[k]), (counts, expected)


def test_one_of_and_p_errors():
    with pytest.raises(ValueError, match="at least one"):
        A.OneOf([])
    with pytest.raises(ValueError, match="weights"):
        A.OneOf([_plus(1), _plus(2)], weights=[1])
    with pytest.raises(ValueError, match="weights"):
        A.OneOf([_plus(1)], weights=[0])
    with pytest.raises(ValueError, match="probability p"):
        A.Cutout(4, p=1.5)
    with pytest.raises(TypeError, match="callables"):
        A.OneOf(["flip"])


def test_jitter_order_is_a_fresh_uniform_permutation_each_call():
    rng, n = _rng(34), 4800
    orders = [tuple(name for name, _ in A.jitter_plan(rng, 0.4, 0.4, 0.4, 0.1)) for _ in range(n)]
    assert all(sorted(o) == sorted(A.JITTERS) for o in orders)
    for name in A.JITTERS:  # each change comes first a quarter of the time
        assert _within_5_sd(sum(o[0] == name for o in orders), n, 0.25), name
    counts = np.array(list({o: orders.count(o) for o in set(orders)}.values()))
    assert len(counts) == 24 and stats.chisquare(counts).pvalue > 1e-6  # all 24 orders, equally often
    # Factors follow torchvision's ranges; a 0 strength is skipped and draws nothing.
    plan = dict(A.jitter_plan(_rng(35), brightness=0.4, hue=0.1))
    assert set(plan) == {"brightness", "hue"} and 0.6 <= plan["brightness"] <= 1.4 and abs(plan["hue"]) <= 0.1
    assert A.jitter_plan(_rng(), 0, 0, 0, 0) == []


def test_color_jitter_applies_its_plan_in_order_and_order_matters():
    image = _rng(36).integers(0, 256, (8, 8, 3), dtype=np.uint8)  # uint8 clips: the changes do not commute
    differs = 0
    for seed in range(40):
        plan = A.jitter_plan(_rng(seed), 0.8, 0.8, 0.8, 0.2)
        out = A.color_jitter(image, _rng(seed), 0.8, 0.8, 0.8, 0.2)
        expected, reversed_ = image, image
        for step in plan:
            expected = A._jitter_step(expected, *step)
        for step in plan[::-1]:
            reversed_ = A._jitter_step(reversed_, *step)
        np.testing.assert_array_equal(out, expected)
        differs += not np.array_equal(out, reversed_)
    assert differs >= 30, "the order of the changes should change the result for most draws"


@pytest.mark.parametrize("number", [np.float32, np.float64, np.int64])
def test_numpy_scalars_are_accepted_and_act_like_the_same_python_number(number):
    image = _images()["rgb_f32"]

    def run(convert):
        """The same settings and seed, every number passed through ``convert``."""
        n = lambda v: convert(number(v))  # noqa: E731
        i = lambda v: convert(np.int64(v))  # noqa: E731
        half, one = (n(0.5), n(1)) if number is not np.int64 else (n(0), n(1))
        hue = n(0.1) if number is not np.int64 else n(0)
        chain = A.Compose([
            A.RandomCrop(i(16), p=one), A.RandomFlip(p=half), A.RandomRotate(n(20), fill=half, p=one),
            A.RandomResizedCrop(i(12), scale=(half, one), ratio=(one, one)),
            A.ColorJitter(half, half, half, hue, p=one),
            A.Cutout(i(3), n=i(2), fill=half), A.OneOf([A.RandomFlip(half)], weights=[one]),
        ], p=one)
        rng = _rng(21)
        return [chain(image, rng), A.random_flip(image, half, rng), A.random_rotate(image, n(10), rng, fill=half),
                A.color_jitter(image, rng, brightness=half), A.random_crop(image, i(7), rng)]

    as_python = lambda v: v.item()  # noqa: E731  (np.float32(0.5).item() is the float 0.5)
    for got, expected in zip(run(lambda v: v), run(as_python)):
        np.testing.assert_array_equal(got, expected)
    assert run(lambda v: v)[0].shape == (12, 12, 3)


def test_bools_are_not_numbers():
    with pytest.raises(ValueError, match="probability"):
        A.RandomFlip(p=True)
    with pytest.raises(ValueError, match="brightness"):
        A.ColorJitter(brightness=np.bool_(True))


# --------------------------------------------------------------------------- one resize rule


def _checkerboard(n=32):
    return (np.indices((n, n)).sum(axis=0) % 2).astype(np.float32)


def test_resize_is_anti_aliased_when_shrinking_and_linear_when_growing():
    board = _checkerboard()
    small = A.resize(board, 8)  # each output pixel averages 4x4 input pixels: flat grey
    np.testing.assert_allclose(small, 0.5, atol=1e-6)
    big = _checkerboard(40)  # 40 -> 13: a non-integer factor, where sampling shows its aliasing
    assert A.resize(big, 13).std() < 0.03  # area: close to flat grey
    assert cv2.resize(big, (13, 13), interpolation=cv2.INTER_LINEAR).std() > 0.1  # what the crop did before: moire
    grown = A.resize(board[:4, :4], 8)
    np.testing.assert_array_equal(grown, cv2.resize(board[:4, :4], (8, 8), interpolation=cv2.INTER_LINEAR))
    # Shrinking one axis and growing the other still averages along the shrinking one.
    np.testing.assert_allclose(A.resize(board, (8, 64)).mean(), 0.5, atol=1e-3)
    assert A.resize(board, 32) is board
    assert A.resize(board[..., None], 8).shape == (8, 8, 1)


def test_resized_crop_and_data_follow_the_same_rule():
    board = _checkerboard()
    out = A.random_resized_crop(board, 8, _rng(), scale=(1.0, 1.0), ratio=(1.0, 1.0))
    np.testing.assert_allclose(out, 0.5, atol=1e-6)  # the whole board, area-averaged

    x, _ = data.digits(image_size=4)
    full, _ = data.digits(image_size=8)
    np.testing.assert_array_equal(x[:5, ..., 0], np.stack([A.resize(im[..., 0], 4) for im in full[:5]]))
