"""Image augmentation with NumPy and OpenCV: correct, reproducible, fast, framework-free.

Every transform works on one image laid out ``(H, W)`` or ``(H, W, C)`` (grayscale or colour,
RGB channel order), of dtype ``uint8`` (0..255) or ``float32``/``float64`` (0..1), and takes a
:class:`numpy.random.Generator`, so the same seed gives the same result::

    import numpy as np
    from rtxcourse import augment as A

    chain = A.Compose([
        A.RandomResizedCrop(24, scale=(0.5, 1.0)),
        A.RandomFlip(p=0.5),
        A.OneOf([A.RandomRotate(15),             # constant (black) corners, as torchvision does
                 A.RandomRotate(15, border="reflect")]),  # or mirrored content: a trade-off
        A.ColorJitter(brightness=0.3, contrast=0.3, p=0.8),  # p: applied to 80% of the images
        A.Cutout(8),
    ])
    rng = np.random.default_rng(0)
    out = chain(image, rng)                      # one image
    batch = A.apply_batch(chain, images, rng)    # N images -> (N, ...) array

Each transform exists twice: a function (``random_crop(image, size, rng)``) and a small class
holding the settings (``RandomCrop(size)``, called as ``t(image, rng)``), which is what
:class:`Compose` chains and what the framework adapters (``augment_tf``, ``augment_torch``)
accept. Every class takes ``p``, the probability that it is applied at all (albumentations'
convention; a skipped transform returns the image untouched), and :class:`OneOf`,
:class:`RandomApply` and :class:`Compose` combine them as albumentations and torchvision do.
Transforms never write into their input; they may return a view of it (a crop).

Three mistakes this module exists to avoid (all found in popular blog code): a crop offset drawn
with an exclusive upper bound (the last offset never comes up, and a crop as large as the image
crashes), a "random" flip that always flips, and a "random" rotation by one fixed angle. The
corners a rotation uncovers are a choice, not a bug: a constant fill (torchvision's and
albumentations' default) adds corners no test image has, reflection invents mirrored content.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Sequence

import cv2
import numpy as np

__all__ = [
    "BORDERS", "ColorJitter", "Compose", "Cutout", "OneOf", "RandomApply", "RandomCrop", "RandomFlip",
    "RandomResizedCrop", "RandomRotate", "ToFloat", "Transform", "apply_batch", "check_image", "color_jitter",
    "cutout", "jitter_plan", "random_crop", "random_flip", "random_resized_crop", "random_rotate", "resize",
]

DTYPES = (np.uint8, np.float32, np.float64)

# Border modes for transforms that move pixels: what fills the places no source pixel maps to.
BORDERS = {
    "reflect": cv2.BORDER_REFLECT_101,  # mirror without repeating the edge pixel (gfedcb|abcdefgh|gfedcba)
    "replicate": cv2.BORDER_REPLICATE,  # repeat the edge pixel (aaaaaa|abcdefgh|hhhhhhh)
    "wrap": cv2.BORDER_WRAP,  # tile the image (cdefgh|abcdefgh|abcdefg)
    "constant": cv2.BORDER_CONSTANT,  # a fixed value (``fill``): black corners with fill=0
}
# "auto": anti-aliased INTER_AREA when an axis shrinks, INTER_LINEAR when the image grows (see resize).
INTERPOLATIONS = {"auto": None, "nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                  "area": cv2.INTER_AREA}

# ITU-R BT.601 luma weights for RGB, as torchvision and OpenCV use for "grayscale".
_LUMA = np.array([0.299, 0.587, 0.114])


# --------------------------------------------------------------------------- input checks


def check_image(image, name: str = "image") -> np.ndarray:
    """Return ``image`` if it is a non-empty (H, W) or (H, W, C) array of a supported dtype; else raise.

    The error names what was expected and what came: a batch (4 dims) is pointed at
    :func:`apply_batch`, an int64 or float16 array at the supported dtypes.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of shape (H, W) or (H, W, C), got {type(image).__name__}")
    if image.ndim not in (2, 3):
        hint = "; for a batch of images use apply_batch(transform, images, rng)" if image.ndim == 4 else ""
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C), got {image.ndim} dims {image.shape}{hint}")
    if image.dtype not in DTYPES:
        raise TypeError(f"{name} must be uint8 (0..255) or float32/float64 (0..1), got dtype {image.dtype}")
    if image.size == 0:
        raise ValueError(f"{name} is empty: shape {image.shape}")
    return image


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def _is_number(value) -> bool:
    """A real number, NumPy scalars included (np.float32(0.5), np.int64(3)), but not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _pair(value, name: str) -> tuple[int, int]:
    """Return (height, width) from an int or a pair of positive ints."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in pair)):
        raise ValueError(f"{name} must be a positive int or a (height, width) pair of positive ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _range(value, name: str, low: float, high: float) -> tuple[float, float]:
    """Return (a, b) with low <= a <= b <= high from a pair of numbers."""
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(_is_number(v) for v in value) or not low <= value[0] <= value[1] <= high):
        raise ValueError(f"{name} must be a pair (a, b) with {low} <= a <= b <= {high}, got {value!r}")
    return float(value[0]), float(value[1])


def _number(value, name: str, low: float, high: float = math.inf) -> float:
    if not _is_number(value) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _choice(value, options: dict, name: str):
    """Return ``options[value]``, or raise naming the allowed values."""
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return options[value]


def _keep_channels(out: np.ndarray, image: np.ndarray) -> np.ndarray:
    """OpenCV drops a trailing channel axis of size 1: put it back so shapes are preserved."""
    return out[:, :, None] if image.ndim == 3 and out.ndim == 2 else out


def _max_value(image: np.ndarray) -> float:
    return 255.0 if image.dtype == np.uint8 else 1.0


# --------------------------------------------------------------------------- geometry


def resize(image: np.ndarray, size, interpolation: str = "auto") -> np.ndarray:
    """Resize to ``size`` (int or (height, width)); ``"auto"`` is the course's one downscaling rule.

    ``"auto"`` uses OpenCV's ``INTER_AREA`` (each output pixel averages the input pixels it
    covers: anti-aliased) when either axis shrinks, and ``INTER_LINEAR`` when the image only
    grows. ``INTER_LINEAR`` on a shrink samples 2x2 neighbours and skips the rest, so fine
    patterns alias (moire). The other names force one method.
    """
    check_image(image)
    out_h, out_w = _pair(size, "output size")
    flags = _choice(interpolation, INTERPOLATIONS, "interpolation")
    h, w = image.shape[:2]
    if (out_h, out_w) == (h, w):
        return image
    if flags is None:
        flags = cv2.INTER_AREA if out_h < h or out_w < w else cv2.INTER_LINEAR
    return _keep_channels(cv2.resize(image, (out_w, out_h), interpolation=flags), image)


def random_crop(image: np.ndarray, size, rng: np.random.Generator) -> np.ndarray:
    """Cut a ``size`` (int or (height, width)) window at a uniformly random position.

    Every valid offset, 0 to ``H - height`` inclusive, is equally likely, and a crop as large as
    the image is allowed (it returns the image). Returns a view of ``image``.
    """
    check_image(image)
    ch, cw = _pair(size, "crop size")
    h, w = image.shape[:2]
    if ch > h or cw > w:
        raise ValueError(f"crop size {(ch, cw)} (height, width) is larger than the image {(h, w)}")
    # integers(low, high) excludes high: + 1 makes the last offset, H - ch, reachable.
    top, left = _check_rng(rng).integers(0, (h - ch + 1, w - cw + 1))
    return image[top:top + ch, left:left + cw]


def random_flip(image: np.ndarray, p: float, rng: np.random.Generator, horizontal: bool = True) -> np.ndarray:
    """Mirror the image left-right (or top-bottom with ``horizontal=False``) with probability ``p``.

    Returns a new array when flipped and ``image`` itself otherwise.
    """
    check_image(image)
    _number(p, "flip probability p", 0.0, 1.0)
    if _check_rng(rng).random() >= p:
        return image
    return _keep_channels(cv2.flip(image, 1 if horizontal else 0), image)


def random_rotate(image: np.ndarray, max_degrees: float, rng: np.random.Generator, border: str = "constant",
                  fill: float = 0, interpolation: str = "linear") -> np.ndarray:
    """Rotate about the centre by an angle drawn uniformly from [-max_degrees, max_degrees].

    The output keeps the input's size. Where no source pixel lands (the corners), ``border``
    decides, and each choice is a trade-off: ``"constant"`` (default, as in torchvision and
    albumentations) paints ``fill`` (black corners with 0: content no test image has),
    ``"reflect"`` mirrors the image (no corners, but invented mirrored content next to the
    edges), ``"replicate"`` smears the edge pixels and ``"wrap"`` tiles the image.
    """
    check_image(image)
    _number(max_degrees, "max_degrees", 0.0, 180.0)
    _number(fill, "fill", -math.inf)
    border_mode = _choice(border, BORDERS, "border")
    flags = _choice(interpolation, INTERPOLATIONS, "interpolation")
    flags = cv2.INTER_LINEAR if flags is None else flags  # a rotation keeps the scale: nothing to anti-alias
    angle = _check_rng(rng).uniform(-max_degrees, max_degrees)
    h, w = image.shape[:2]
    # The centre of an image with pixel centres at 0..W-1 is (W-1)/2, not W//2.
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    out = cv2.warpAffine(image, matrix, (w, h), flags=flags, borderMode=border_mode, borderValue=(float(fill),) * 4)
    return _keep_channels(out, image)


def random_resized_crop(image: np.ndarray, size, rng: np.random.Generator, scale=(0.08, 1.0),
                        ratio=(3 / 4, 4 / 3), interpolation: str = "auto") -> np.ndarray:
    """Crop a random area and aspect ratio, then resize it to ``size`` (the Inception / ResNet crop).

    The crop covers a fraction of the image area drawn uniformly from ``scale`` and has a
    width/height ratio drawn log-uniformly from ``ratio``. After 10 draws that do not fit, it
    falls back to the largest centred crop with the ratio clamped to ``ratio``. The resize
    follows :func:`resize` (anti-aliased when shrinking, with the default ``"auto"``).
    """
    check_image(image)
    out_size = _pair(size, "output size")
    s_lo, s_hi = _range(scale, "scale", 0.0, 1.0)
    r_lo, r_hi = _range(ratio, "ratio", 1e-6, math.inf)
    _choice(interpolation, INTERPOLATIONS, "interpolation")
    _check_rng(rng)
    h, w = image.shape[:2]
    area = h * w
    for _ in range(10):
        target = area * rng.uniform(s_lo, s_hi)
        aspect = math.exp(rng.uniform(math.log(r_lo), math.log(r_hi)))
        cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            top, left = rng.integers(0, (h - ch + 1, w - cw + 1))
            break
    else:  # fallback: the whole image, trimmed to the nearest allowed aspect ratio, centred
        aspect = min(max(w / h, r_lo), r_hi)
        cw, ch = (w, min(h, round(w / aspect))) if w / h < aspect else (min(w, round(h * aspect)), h)
        top, left = (h - ch) // 2, (w - cw) // 2
    return resize(image[top:top + ch, left:left + cw], out_size, interpolation)


# --------------------------------------------------------------------------- colour


def _blend(image: np.ndarray, factor: float, other) -> np.ndarray:
    """``factor * image + (1 - factor) * other``, clipped to the dtype's range, same dtype."""
    if image.dtype == np.uint8:  # OpenCV computes in float and rounds and saturates to 0..255 in one pass
        if np.isscalar(other):  # (a lookup table, cv2.LUT, measured twice as slow)
            return _keep_channels(cv2.addWeighted(image, factor, image, 0.0, (1 - factor) * other), image)
        return cv2.addWeighted(image, factor, other, 1 - factor, 0.0)
    out = image * factor + (1 - factor) * other
    return np.clip(out, 0.0, 1.0, out=out).astype(image.dtype, copy=False)


def _gray_mean(image: np.ndarray) -> float:
    """Mean luma of the image (the grey level contrast blends towards), as torchvision defines it."""
    means = cv2.mean(image)[: image.shape[2] if image.ndim == 3 else 1]
    return float(np.dot(_LUMA, means)) if len(means) == 3 else float(np.mean(means))


def _gray(image: np.ndarray) -> np.ndarray:
    """The grey version of an RGB image, shaped to blend with it (3 channels for uint8, broadcastable for float)."""
    if image.dtype == np.uint8:
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image.astype(np.float32, copy=False), cv2.COLOR_RGB2GRAY)[:, :, None]


def _shift_hue(image: np.ndarray, shift: float) -> np.ndarray:
    """Rotate the hue of an RGB image by ``shift`` turns (-0.5..0.5)."""
    if image.dtype == np.uint8:
        # The _FULL conversion spreads hue over all 256 values of a byte, so turning the colour
        # wheel is a uint8 addition that wraps around by itself (in place, no lookup table).
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL)
        hue = hsv[..., 0]
        hue += np.uint8(round(shift * 256) % 256)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)
    hsv = cv2.cvtColor(image.astype(np.float32, copy=False), cv2.COLOR_RGB2HSV)  # float hue: 0..360
    hsv[..., 0] = (hsv[..., 0] + shift * 360.0) % 360.0
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(image.dtype, copy=False)


JITTERS = ("brightness", "contrast", "saturation", "hue")


def jitter_plan(rng: np.random.Generator, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                hue: float = 0.0) -> list[tuple[str, float]]:
    """Draw one call's colour jitter: ``[(name, factor), ...]`` in the order they will apply.

    Factors are drawn as in torchvision: brightness, contrast and saturation uniformly from
    [max(0, 1 - x), 1 + x], hue from [-hue, hue]; a 0 strength skips that change. The order of
    the changes is a fresh random permutation on every call, as torchvision's and
    albumentations' ``ColorJitter`` do (the changes do not commute once pixels clip).
    """
    strengths = {"brightness": brightness, "contrast": contrast, "saturation": saturation, "hue": hue}
    for name, value in strengths.items():
        _number(value, name, 0.0, 0.5 if name == "hue" else math.inf)
    _check_rng(rng)
    plan = [(name, float(rng.uniform(-x, x) if name == "hue" else rng.uniform(max(0.0, 1 - x), 1 + x)))
            for name, x in strengths.items() if x]
    return [plan[i] for i in rng.permutation(len(plan))] if len(plan) > 1 else plan


def _jitter_step(image: np.ndarray, name: str, factor: float) -> np.ndarray:
    """Apply one colour change of a :func:`jitter_plan`."""
    if name == "brightness":
        return _blend(image, factor, 0.0)
    if name == "contrast":
        return _blend(image, factor, _gray_mean(image))
    if name == "saturation":
        return _blend(image, factor, _gray(image))
    return _shift_hue(image, factor)


def color_jitter(image: np.ndarray, rng: np.random.Generator, brightness: float = 0.0, contrast: float = 0.0,
                 saturation: float = 0.0, hue: float = 0.0) -> np.ndarray:
    """Randomly change brightness, contrast, saturation and hue, in a random order (torchvision's definitions).

    Brightness scales the pixels, contrast blends with the mean grey level, saturation blends
    with the grey image, hue rotates the colour wheel by a fraction of a turn (hue <= 0.5).
    :func:`jitter_plan` draws the factors and the order; a 0 skips one (all zeros return
    ``image`` itself and draw nothing). Saturation and hue need 3-channel RGB.
    """
    check_image(image)
    if (saturation or hue) and (image.ndim != 3 or image.shape[2] != 3):
        raise ValueError(f"saturation and hue need an RGB image of shape (H, W, 3), got shape {image.shape}")
    out = image
    for name, factor in jitter_plan(rng, brightness, contrast, saturation, hue):
        out = _jitter_step(out, name, factor)
    return out


def cutout(image: np.ndarray, size, rng: np.random.Generator, n: int = 1, fill: float = 0) -> np.ndarray:
    """Paint ``n`` rectangles of ``size`` (int or (height, width)) with ``fill`` (DeVries & Taylor, 2017).

    Each rectangle's centre is uniform over the image, so near the edges only part of it shows,
    as in the paper. Returns a copy; the input is untouched.
    """
    check_image(image)
    ch, cw = _pair(size, "cutout size")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n (number of cutout rectangles) must be a non-negative int, got {n!r}")
    _check_rng(rng)
    out = image.copy()
    h, w = image.shape[:2]
    for cy, cx in rng.integers(0, (h, w), size=(n, 2)):
        top, left = max(0, cy - ch // 2), max(0, cx - cw // 2)
        out[top:cy - ch // 2 + ch, left:cx - cw // 2 + cw] = fill
    return out


# --------------------------------------------------------------------------- chaining and batches


class Transform:
    """Base of the transform classes: settings at construction, ``t(image, rng)`` to apply.

    ``p`` is the probability that the transform is applied at all: each call draws one number
    and returns ``image`` unchanged when it is ``>= p``; ``p=1`` (the default) draws nothing.
    Subclasses implement :meth:`apply`, the transform itself.
    """

    p: float = 1.0

    def _set_p(self, p) -> None:
        self.p = _number(p, "probability p", 0.0, 1.0)

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.p < 1.0 and _check_rng(rng).random() >= self.p:
            return check_image(image)
        return self.apply(image, rng)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "p" or v != 1.0)
        return f"{type(self).__name__}({args})"


class RandomCrop(Transform):
    """:func:`random_crop` with a fixed size."""

    def __init__(self, size, p: float = 1.0):
        self.size = _pair(size, "crop size")
        self._set_p(p)

    def apply(self, image, rng):
        return random_crop(image, self.size, rng)


class RandomFlip(Transform):
    """Mirror with probability ``p`` (left-right, or top-bottom with ``horizontal=False``), as :func:`random_flip`."""

    def __init__(self, p: float = 0.5, horizontal: bool = True):
        self._set_p(p)
        self.horizontal = bool(horizontal)

    def __call__(self, image, rng):  # the flip's own draw is its probability: one number per call
        return random_flip(image, self.p, rng, horizontal=self.horizontal)


class RandomRotate(Transform):
    """:func:`random_rotate` with fixed settings (constant border by default, as torchvision)."""

    def __init__(self, max_degrees: float, border: str = "constant", fill: float = 0, interpolation: str = "linear",
                 p: float = 1.0):
        _number(max_degrees, "max_degrees", 0.0, 180.0)
        _number(fill, "fill", -math.inf)
        _choice(border, BORDERS, "border")
        _choice(interpolation, INTERPOLATIONS, "interpolation")
        self.max_degrees, self.border, self.fill, self.interpolation = max_degrees, border, fill, interpolation
        self._set_p(p)

    def apply(self, image, rng):
        return random_rotate(image, self.max_degrees, rng, border=self.border, fill=self.fill,
                             interpolation=self.interpolation)


class RandomResizedCrop(Transform):
    """:func:`random_resized_crop` with fixed settings."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation: str = "auto", p: float = 1.0):
        self.size = _pair(size, "output size")
        self.scale, self.ratio = _range(scale, "scale", 0.0, 1.0), _range(ratio, "ratio", 1e-6, math.inf)
        self.interpolation = interpolation
        _choice(interpolation, INTERPOLATIONS, "interpolation")
        self._set_p(p)

    def apply(self, image, rng):
        return random_resized_crop(image, self.size, rng, scale=self.scale, ratio=self.ratio,
                                   interpolation=self.interpolation)


class ColorJitter(Transform):
    """:func:`color_jitter` with fixed strengths (a new random order each call)."""

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0, hue: float = 0.0,
                 p: float = 1.0):
        self.brightness, self.contrast = _number(brightness, "brightness", 0), _number(contrast, "contrast", 0)
        self.saturation, self.hue = _number(saturation, "saturation", 0), _number(hue, "hue", 0, 0.5)
        self._set_p(p)

    def apply(self, image, rng):
        return color_jitter(image, rng, self.brightness, self.contrast, self.saturation, self.hue)


class Cutout(Transform):
    """:func:`cutout` with a fixed size, count and fill value."""

    def __init__(self, size, n: int = 1, fill: float = 0, p: float = 1.0):
        self.size, self.n, self.fill = _pair(size, "cutout size"), n, _number(fill, "fill", -math.inf)
        self._set_p(p)

    def apply(self, image, rng):
        return cutout(image, self.size, rng, n=self.n, fill=self.fill)


class ToFloat(Transform):
    """Convert uint8 (0..255) to float32 (0..1); float images pass through. Draws no random number."""

    def __call__(self, image, rng=None):
        check_image(image)
        return image.astype(np.float32) * np.float32(1 / 255) if image.dtype == np.uint8 else image


def _callables(transforms, who: str) -> list:
    transforms = list(transforms)
    bad = [t for t in transforms if not callable(t)]
    if bad:
        raise TypeError(f"{who} needs callables t(image, rng); got {bad!r}")
    return transforms


class Compose(Transform):
    """Apply transforms in order, each ``t(image, rng)``, all drawing from the same generator.

    With ``p < 1`` the whole chain is applied with probability ``p`` (albumentations' ``Compose(p=)``).
    """

    def __init__(self, transforms: Sequence[Callable[[np.ndarray, np.random.Generator], np.ndarray]], p: float = 1.0):
        self.transforms = _callables(transforms, type(self).__name__)
        self._set_p(p)

    def apply(self, image, rng):
        for t in self.transforms:
            image = t(image, rng)
        return image

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        extra = f", p={self.p!r}" if self.p != 1.0 else ""
        return f"{type(self).__name__}([{inner}\n]{extra})"


class RandomApply(Compose):
    """Apply the transforms in order with probability ``p`` (default 0.5), or none of them (torchvision's ``RandomApply``)."""

    def __init__(self, transforms, p: float = 0.5):
        super().__init__(transforms, p=p)


class OneOf(Transform):
    """Apply exactly one of ``transforms``, picked at random (albumentations' ``OneOf``).

    ``weights`` (default: equal) are the relative chances of each; the picked transform's own
    ``p`` still applies. With ``p < 1`` nothing is applied with probability ``1 - p``.
    """

    def __init__(self, transforms, weights=None, p: float = 1.0):
        self.transforms = _callables(transforms, "OneOf")
        if not self.transforms:
            raise ValueError("OneOf needs at least one transform")
        weights = [1.0] * len(self.transforms) if weights is None else list(weights)
        if (len(weights) != len(self.transforms) or not all(_is_number(w) and w >= 0 for w in weights)
                or sum(weights) <= 0):
            raise ValueError(f"weights must be {len(self.transforms)} non-negative numbers, not all 0, got {weights!r}")
        total = sum(float(w) for w in weights)
        self.weights = [float(w) / total for w in weights]
        self._set_p(p)

    def apply(self, image, rng):
        return self.transforms[rng.choice(len(self.transforms), p=self.weights)](image, rng)


def apply_batch(transform: Callable[[np.ndarray, np.random.Generator], np.ndarray], images,
                rng: np.random.Generator) -> np.ndarray:
    """Apply ``transform`` to each of N images (an (N, H, W[, C]) array or a list) and stack the results.

    Every output must have the same shape (end a chain with a fixed-size crop or resize when
    the inputs differ). Images are processed in order from one generator, so the same seed
    gives the same batch.
    """
    if not callable(transform):
        raise TypeError(f"transform must be callable as transform(image, rng), got {type(transform).__name__}")
    _check_rng(rng)
    if isinstance(images, np.ndarray) and images.ndim not in (3, 4):
        raise ValueError(f"images must be an array (N, H, W) or (N, H, W, C) or a list of images, "
                         f"got shape {images.shape}")
    if len(images) == 0:
        raise ValueError("images is empty: nothing to augment")
    outs = [transform(image, rng) for image in images]
    shapes = {o.shape for o in outs}
    if len(shapes) > 1:
        raise ValueError(f"the transform returned images of different shapes {sorted(shapes)}; "
                         "end the chain with a fixed-size crop or resize to batch them")
    return np.stack(outs)
