"""``rtxcourse bench augment``: images per second of one augmentation chain, several ways, one run.

The chain (random crop, horizontal flip, rotation up to 15 degrees with a reflected border,
colour jitter, one cutout square) runs on the same real photos (scikit-image's samples):

1. **one process**: ``rtxcourse.augment`` against albumentations, the same chain on the same
   images (both call the same OpenCV kernels, so a gap is per-call overhead), and each
   transform alone, to find where a gap comes from; timed in alternating rounds so that
   background load falls on both alike;
2. **tf.data**: our chain through ``tf.numpy_function`` and the closest Keras preprocessing
   layers chain, each at ``num_parallel_calls`` 1, 2, ... and AUTOTUNE;
3. **DataLoader**: our chain in ``num_workers`` 0, 1, 2, ... worker processes.

Parts whose library is missing are skipped with the reason printed. Every rate is images per
second at the median of several timed epochs, after a warm-up epoch.
"""

from __future__ import annotations

import argparse
import os

import cv2
import numpy as np

from rtxcourse import augment as A
from rtxcourse import bench
from rtxcourse.hardware import installed
from rtxcourse.runtime import by_tier

ROTATE_DEGREES, JITTER, HUE = 15, 0.4, 0.1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=None, help="images per epoch (default: 48 quick, 256 full)")
    parser.add_argument("--size", type=int, default=None, help="crop size in pixels (default: 112 quick, 224 full)")
    parser.add_argument("--max-workers", type=int, default=None,
                        help="largest DataLoader num_workers / tf.data num_parallel_calls tried (default: CPU count, at most 8)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: albumentations, tf, torch")


def photo_batch(n: int, size: int) -> np.ndarray:
    """``n`` real RGB photos as one uint8 array (n, H, W, 3), H x W = 1.15 * size x 1.4 * size, cycling through the samples."""
    from rtxcourse.data import sample_photos

    h, w = round(1.15 * size), round(1.4 * size)
    photos = [p for p in sample_photos().values() if p.ndim == 3 and p.shape[2] == 3]
    resized = [cv2.resize(p, (w, h), interpolation=cv2.INTER_AREA) for p in photos]
    return np.stack([resized[i % len(resized)] for i in range(n)])


def our_chain(size: int) -> A.Compose:
    """The benchmarked chain in rtxcourse.augment."""
    return A.Compose([
        A.RandomCrop(size),
        A.RandomFlip(0.5),
        A.RandomRotate(ROTATE_DEGREES, border="reflect"),
        A.ColorJitter(JITTER, JITTER, JITTER, HUE),
        A.Cutout(size // 4),
    ])


def albumentations_chain(size: int):
    """The same chain in albumentations, every step always applied as in ours (p=1 except the flip)."""
    import albumentations as alb

    return alb.Compose([
        alb.RandomCrop(size, size),
        alb.HorizontalFlip(p=0.5),
        alb.Rotate(limit=ROTATE_DEGREES, border_mode=cv2.BORDER_REFLECT_101, p=1.0),
        alb.ColorJitter(brightness=JITTER, contrast=JITTER, saturation=JITTER, hue=HUE, p=1.0),
        alb.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(size // 4, size // 4),
                          hole_width_range=(size // 4, size // 4), fill=0, p=1.0),
    ], seed=0)


def keras_chain(size: int):
    """The closest Keras preprocessing-layer chain (Keras has no cutout of a fixed size: RandomErasing of that area)."""
    import keras

    area = (size // 4) ** 2 / size ** 2
    return keras.Sequential([
        keras.layers.RandomCrop(size, size, seed=0),
        keras.layers.RandomFlip("horizontal", seed=1),
        keras.layers.RandomRotation(ROTATE_DEGREES / 360, fill_mode="reflect", seed=2),
        keras.layers.RandomColorJitter(value_range=(0, 255), brightness_factor=JITTER, contrast_factor=JITTER,
                                       saturation_factor=JITTER, hue_factor=HUE, seed=3),
        keras.layers.RandomErasing(factor=1.0, scale=(area, area), value_range=(0, 255), seed=4),
    ])


def _skip(part: str, reason: str) -> None:
    print(f"rtxcourse bench augment: skipping {part}: {reason}")


def _epoch_timer(fn, name: str, n: int, sync=None, **params) -> bench.Measurement:
    """Time one pass over ``n`` images: a warm-up epoch, then 3 timed epochs."""
    return bench.measure(fn, name=name, warmup=1, repeats=3, number=1, work=n, unit="img", sync=sync, params=params)


def _head_to_head(fns: dict, n: int, rounds: int = 5, sync=None) -> list[bench.Measurement]:
    """Time several epoch functions in alternating rounds (one warm-up epoch each), so a change in
    background load hits all alike; a function's repeats are its times from all rounds."""
    return list(bench.interleaved(fns, rounds=rounds, warmup=1, sync=sync, work=n, unit="img").values())


def bench_one_process(images: np.ndarray, size: int, with_albumentations: bool) -> list[bench.Report]:
    """Our chain against albumentations' in this process, whole and transform by transform."""
    rng = np.random.default_rng(0)
    ours = our_chain(size)
    chain = bench.Report(f"augmentation chain, one process ({len(images)} photos, crop {size})")
    fns = {"rtxcourse.augment": lambda: [ours(im, rng) for im in images]}
    if with_albumentations:
        alb = albumentations_chain(size)
        fns["albumentations"] = lambda: [alb(image=im)["image"] for im in images]
    for m in _head_to_head(fns, len(images)):
        chain.add(m)
    if not with_albumentations:
        return [chain]
    chain.ratio("rtxcourse.augment", "albumentations")

    # Each transform alone, on the crops the chain's later steps see, to locate any overhead.
    import albumentations

    crops = np.stack([A.random_crop(im, size, rng) for im in images])
    steps = bench.Report(f"each transform alone ({len(images)} crops of {size})")
    for ours_t, alb_t in zip(ours.transforms, alb.transforms):
        name = type(ours_t).__name__
        single = albumentations.Compose([alb_t], seed=0)
        source = images if name == "RandomCrop" else crops
        pair = {f"{name} ours": lambda t=ours_t, s=source: [t(im, rng) for im in s],
                f"{name} albumentations": lambda t=single, s=source: [t(image=im)["image"] for im in s]}
        for m in _head_to_head(pair, len(images), rounds=3):
            steps.add(m)
        steps.ratio(f"{name} ours", f"{name} albumentations")
    return [chain, steps]


def _parallelism(max_workers: int) -> list[int]:
    return sorted({1, *range(2, max_workers + 1, 2), max_workers}) if max_workers > 1 else [1]


def bench_tf_data(images: np.ndarray, size: int, max_workers: int) -> bench.Report:
    """tf.data: our chain via numpy_function and the Keras layer chain, across num_parallel_calls."""
    from rtxcourse.augment_tf import map_numpy
    from rtxcourse.runtime import import_tensorflow

    tf = import_tensorflow()
    labels = np.zeros(len(images), np.int64)
    base = tf.data.Dataset.from_tensor_slices((images, labels)).cache()
    report = bench.Report(f"tf.data map ({len(images)} photos, crop {size}, batches of 32)")
    layers = keras_chain(size)
    settings = [(str(p), p) for p in _parallelism(max_workers)] + [("AUTOTUNE", tf.data.AUTOTUNE)]
    ours, keras_layers = {}, {}
    for label, calls in settings:
        ds = map_numpy(base, our_chain(size), num_parallel_calls=calls).batch(32).prefetch(tf.data.AUTOTUNE)
        ours[f"ours numpy_function x{label}"] = lambda d=ds: [None for _ in d]
        # Keras layers work on whole batches (one op per batch, per-image random parameters).
        ds = (base.batch(32).map(lambda x, y: (layers(tf.cast(x, tf.float32), training=True), y),
                                 num_parallel_calls=calls).prefetch(tf.data.AUTOTUNE))
        keras_layers[f"Keras layers x{label}"] = lambda d=ds: [None for _ in d]
    for fns in (ours, keras_layers):  # each chain's settings in alternating rounds
        for m in _head_to_head(fns, len(images), rounds=3, sync="tf"):
            report.add(m)
    for impl in ("ours numpy_function", "Keras layers"):
        report.ratio(f"{impl} xAUTOTUNE", f"{impl} x1")
    report.ratio("ours numpy_function xAUTOTUNE", "Keras layers xAUTOTUNE")
    return report


def bench_dataloader(images: np.ndarray, size: int, max_workers: int) -> bench.Report:
    """torch DataLoader: our chain in 0..max_workers worker processes (persistent, so start-up is not timed)."""
    import torch

    from rtxcourse.augment_torch import WorkerSeeded
    from rtxcourse.data import as_torch_loader

    labels = np.zeros(len(images), np.int64)
    transform = WorkerSeeded(A.Compose([*our_chain(size).transforms, A.ToFloat()]))
    report = bench.Report(f"DataLoader ({len(images)} photos, crop {size}, batches of 32)")
    for workers in [0, *_parallelism(max_workers)]:
        extra = {"persistent_workers": True, "prefetch_factor": 4} if workers else {}
        loader = as_torch_loader(images, labels, 32, shuffle=True, transform=transform, num_workers=workers,
                                 pin_memory=torch.cuda.is_available(), **extra)
        report.add(_epoch_timer(lambda ld=loader: [None for _ in ld], f"workers={workers}", len(images),
                                sync="torch", num_workers=workers))
        del loader  # stops its persistent workers before the next setting starts its own
    for workers in _parallelism(max_workers):
        report.ratio(f"workers={workers}", "workers=0")
    return report


def run(args: argparse.Namespace) -> list[bench.Report]:
    """Run every part this machine has the libraries for; return their reports."""
    size = by_tier(quick=112, cpu=224) if args.size is None else args.size
    n = by_tier(quick=48, cpu=256, gpu=1024) if args.images is None else args.images
    max_workers = min(8, os.cpu_count() or 1) if args.max_workers is None else args.max_workers
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - {"albumentations", "tf", "torch"}
    if unknown:
        raise ValueError(f"--skip takes albumentations, tf, torch; got {sorted(unknown)}")
    if size < 8 or n < 1 or max_workers < 1:
        raise ValueError(f"need --size >= 8, --images >= 1, --max-workers >= 1; got {size}, {n}, {max_workers}")
    images = photo_batch(n, size)

    with_alb = "albumentations" not in skip and installed("albumentations")
    if not with_alb:
        _skip("albumentations", "asked to (--skip)" if "albumentations" in skip else "not installed (pip install -e '.[dev]')")
    reports = bench_one_process(images, size, with_alb)
    for part, module, fn in (("tf", "tensorflow", bench_tf_data), ("torch", "torch", bench_dataloader)):
        if part in skip:
            _skip(part, "asked to (--skip)")
        elif not installed(module):
            _skip(part, f"{module} is not installed (pip install -e '.[{part}]')")
        else:
            reports.append(fn(images, size, max_workers))
    return reports
