"""Datasets that need no download, as NumPy arrays, plus adapters to tf.data and torch.

* :func:`digits` - 1,797 real handwritten digits (scikit-learn ships them), any resolution.
* :func:`sample_photos` - real photographs shipped with scikit-image, for augmentation demos.
* :func:`synthetic_images` - a generated classification set whose size, resolution and class
  count are parameters, so one lesson can be tiny on a CPU and large on a GPU.
* :func:`mnist` / :func:`cifar10` - the real datasets when cached (or downloadable); otherwise
  a stand-in of the same shape with a one-line message.

Images are NHWC ``float32`` in [0, 1] (photos: HWC ``uint8``), labels ``int64``. The same seed
always gives the same data. Framework adapters (:func:`as_tf_dataset`, :func:`as_torch_dataset`,
:func:`as_torch_loader`) import their framework only when called.
"""

from __future__ import annotations

import os
import pickle
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtxcourse.validate import check_xy, positive_ints

# Photos from scikit-image's bundled data (no download): name -> loader attribute.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "camera")

_URLS = {
    "mnist": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _resize_batch(images: np.ndarray, size: int) -> np.ndarray:
    """Resize NHW[C] images to size x size by the course's one rule (``augment.resize``: area when shrinking)."""
    from rtxcourse.augment import resize

    if images.shape[1] == size and images.shape[2] == size:
        return images
    return np.stack([resize(im, size) for im in images])


def digits(image_size: int = 8, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's 1,797 handwritten digits as ``(x, y)``.

    ``x`` has shape (1797, image_size, image_size, channels), float32 in [0, 1]; 8 is the
    native resolution, larger sizes are upsampled (e.g. 32 for a CNN built for CIFAR-sized
    input). ``channels=3`` repeats the grey level for models that expect colour.
    """
    positive_ints(image_size=image_size)
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)  # pixel values are 0..16
    x = _resize_batch(x, image_size)[..., None]
    if channels == 3:
        x = np.repeat(x, 3, axis=-1)
    return np.ascontiguousarray(x), bunch.target.astype(np.int64)


def sample_photos(names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Return real photographs bundled with scikit-image as ``{name: HWC uint8 RGB image}``.

    ``camera`` is greyscale (HW); the rest are RGB. ``names`` picks a subset of :data:`PHOTOS`.
    """
    import skimage.data

    names = PHOTOS if names is None else tuple(names)
    unknown = [n for n in names if n not in PHOTOS]
    if unknown:
        raise ValueError(f"unknown photo(s) {unknown}; available: {', '.join(PHOTOS)}")
    return {n: np.ascontiguousarray(getattr(skimage.data, n)()) for n in names}


def synthetic_images(
    n: int,
    size: int = 32,
    num_classes: int = 10,
    channels: int = 3,
    seed: int = 0,
    noise: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a learnable image-classification set as ``(x, y)``.

    Class ``c`` is a sinusoidal grating at angle ``pi * c / num_classes`` with a class-specific
    colour tint, random phase, random contrast and Gaussian noise: easy for a CNN to learn,
    impossible to solve from mean pixel values alone. Memory is ``n * size * size * channels *
    4`` bytes, so pick ``n`` and ``size`` for the machine (see ``rtxcourse.by_tier``).
    """
    positive_ints(n=n, size=size, num_classes=num_classes)
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, size=n).astype(np.int64)
    coords = (np.arange(size, dtype=np.float32) - size / 2) / size
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    angle = np.pi * y / num_classes
    freq = 3.0 + 2.0 * (y % 3)
    phase = rng.uniform(0, 2 * np.pi, size=n)
    proj = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    grating = np.sin(2 * np.pi * freq[:, None, None] * proj + phase[:, None, None]).astype(np.float32)
    contrast = rng.uniform(0.5, 1.0, size=(n, 1, 1)).astype(np.float32)
    base = 0.5 + 0.5 * contrast * grating  # (n, size, size) in [0, 1]
    if channels == 3:
        tint = 0.6 + 0.4 * np.stack([np.cos(2 * np.pi * (y / num_classes + k / 3)) for k in range(3)], axis=-1)
        x = base[..., None] * tint[:, None, None, :].astype(np.float32)
    else:
        x = base[..., None]
    x = x + noise * rng.standard_normal(x.shape, dtype=np.float32)
    return np.clip(x, 0.0, 1.0).astype(np.float32), y


def train_test_split(x: np.ndarray, y: np.ndarray, test_fraction: float = 0.25, seed: int = 0):
    """Split stratified by class: return ``(x_train, y_train), (x_test, y_test)`` like Keras."""
    check_xy(x, y)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    from sklearn.model_selection import train_test_split as split

    x_tr, x_te, y_tr, y_te = split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return (x_tr, y_tr), (x_te, y_te)


# --------------------------------------------------------------------------- real datasets


@dataclass
class ImageData:
    """A train/test image dataset and where it came from (``source`` says if it is a stand-in)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str

    @property
    def is_real(self) -> bool:
        return not self.source.startswith("stand-in")


def data_dir() -> Path:
    """Where cached datasets are looked for: ``$RTXCOURSE_DATA`` or ``~/.keras/datasets``."""
    return Path(os.environ.get("RTXCOURSE_DATA", Path.home() / ".keras" / "datasets")).expanduser()


def _fetch(name: str, dest: Path, download: bool, timeout: float) -> Path | None:
    if dest.exists():
        return dest
    if not download:
        return None
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(_URLS[name], timeout=timeout) as r, open(tmp, "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)
        os.replace(tmp, dest)  # a cut download never looks like a finished file
        return dest
    except OSError:
        tmp.unlink(missing_ok=True)
        return None


def _subset(x, y, limit):
    return (x, y) if limit is None else (x[:limit], y[:limit])


def mnist(*, download: bool | None = None, limit: int | None = None, timeout: float = 20.0) -> ImageData:
    """MNIST (28x28 grey) from the Keras cache or a download; else upsampled digits, said aloud.

    ``download`` defaults to True outside quick mode. ``limit`` keeps the first N examples of
    each split.
    """
    from rtxcourse.runtime import quick_mode

    download = (not quick_mode()) if download is None else download
    path = _fetch("mnist", data_dir() / "mnist.npz", download, timeout)
    names = tuple(str(i) for i in range(10))
    if path is not None:
        try:
            with np.load(path) as f:
                xtr, ytr = _subset(f["x_train"], f["y_train"], limit)
                xte, yte = _subset(f["x_test"], f["y_test"], limit)
            return ImageData("mnist", (xtr[..., None] / 255.0).astype(np.float32), ytr.astype(np.int64),
                             (xte[..., None] / 255.0).astype(np.float32), yte.astype(np.int64), names, str(path))
        except (OSError, KeyError, ValueError) as e:
            print(f"rtxcourse: {path} is unreadable ({e}); using the stand-in", file=sys.stderr)
    print("rtxcourse: MNIST not cached and not downloadable here; using scikit-learn digits upsampled to 28x28 instead.")
    x, y = digits(image_size=28)
    (xtr, ytr), (xte, yte) = train_test_split(x, y, 0.25)
    xtr, ytr = _subset(xtr, ytr, limit)
    xte, yte = _subset(xte, yte, limit)
    return ImageData("mnist", xtr, ytr, xte, yte, names, "stand-in: scikit-learn digits at 28x28")


def cifar10(*, download: bool | None = None, limit: int | None = None, timeout: float = 60.0) -> ImageData:
    """CIFAR-10 (32x32 colour) from the cache or a download; else a generated stand-in, said aloud."""
    from rtxcourse.runtime import quick_mode

    download = (not quick_mode()) if download is None else download
    path = _fetch("cifar10", data_dir() / "cifar-10-python.tar.gz", download, timeout)
    if path is not None:
        try:
            return _read_cifar(path, limit)
        except (OSError, KeyError, ValueError, tarfile.TarError, pickle.UnpicklingError) as e:
            print(f"rtxcourse: {path} is unreadable ({e}); using the stand-in", file=sys.stderr)
    print("rtxcourse: CIFAR-10 not cached and not downloadable here; using a generated 32x32 colour set instead.")
    n_train, n_test = (limit, limit) if limit else (50_000, 10_000)
    xtr, ytr = synthetic_images(n_train, 32, 10, 3, seed=0)
    xte, yte = synthetic_images(n_test, 32, 10, 3, seed=1)
    return ImageData("cifar10", xtr, ytr, xte, yte, CIFAR10_CLASSES, "stand-in: rtxcourse.data.synthetic_images")


def _read_cifar(path: Path, limit: int | None) -> ImageData:
    xs, ys = {"train": [], "test": []}, {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            base = os.path.basename(member.name)
            split = "train" if base.startswith("data_batch") else "test" if base == "test_batch" else None
            if split is None:
                continue
            batch = pickle.load(tar.extractfile(member), encoding="bytes")
            xs[split].append(batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys[split].append(np.asarray(batch[b"labels"]))
    if not xs["train"] or not xs["test"]:
        raise ValueError("archive has no data_batch_* / test_batch files")
    out = {}
    for split in ("train", "test"):
        x, y = _subset(np.concatenate(xs[split]), np.concatenate(ys[split]), limit)
        out[split] = ((x / 255.0).astype(np.float32), y.astype(np.int64))
    return ImageData("cifar10", *out["train"], *out["test"], CIFAR10_CLASSES, str(path))


# --------------------------------------------------------------------------- adapters


def as_tf_dataset(x, y, batch_size: int = 32, *, shuffle: bool = True, seed: int = 0, drop_remainder: bool = False):
    """A batched, shuffled, prefetched ``tf.data.Dataset`` of ``(image, label)`` (imports TF)."""
    from rtxcourse.data_tf import as_tf_dataset as impl

    return impl(x, y, batch_size, shuffle=shuffle, seed=seed, drop_remainder=drop_remainder)


def as_torch_dataset(x, y, transform=None, *, channels_first: bool = True):
    """A ``torch.utils.data.Dataset`` over the arrays, with an optional per-image transform (imports torch)."""
    from rtxcourse.data_torch import ArrayDataset

    return ArrayDataset(x, y, transform=transform, channels_first=channels_first)


def as_torch_loader(x, y, batch_size: int = 32, *, shuffle: bool = True, seed: int = 0, transform=None, **loader_kwargs):
    """A ``torch.utils.data.DataLoader`` over the arrays, reproducible for a given seed (imports torch)."""
    from rtxcourse.data_torch import make_loader

    return make_loader(x, y, batch_size, shuffle=shuffle, seed=seed, transform=transform, **loader_kwargs)


