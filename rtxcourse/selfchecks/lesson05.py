"""Self-check of lesson 05 (input pipelines): what each framework's sections showed, from their evidence.

The lesson passes one dict of evidence per framework whose sections ran (``None`` for one that
did not): observed errors and shapes, the arrays two runs produced, counts of decode calls,
the time intervals of reads and training steps (overlap is judged from the intervals, not
from a wall-clock ratio, so a busy machine cannot break it), and the per-round times of the
starvation measurement, taken in alternating rounds and compared round by round with a margin.
"""

from __future__ import annotations

import numpy as np

from rtxcourse.course.checks import Claims

# The real pipeline does the in-memory steps plus the input work: it cannot be faster. The two
# are timed in alternating rounds and compared by the median of the per-round ratios, so load
# from other programs falls on both; the margin leaves room for what is left of it, and a
# 'real' run twice as fast as the steps alone (work skipped, a loader that yields less) fails.
STARVATION_MARGIN = 0.5


def overlaps(reads, steps) -> int:
    """How many read intervals ``(start, end)`` intersect some training-step interval."""
    return sum(any(r0 < s1 and s0 < r1 for s0, s1 in steps) for r0, r1 in reads)


def _same(a, b) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b))


def check(*, ran, tf=None, torch=None) -> None:
    """Check lesson 05's claims for the frameworks in ``ran``; raise AssertionError naming each that fails.

    ``tf`` keys: ``keras_has_idg``, ``idg_error``, ``inference`` (two outputs of the model with
    augmentation layers at inference), ``training`` (two augmented batches), ``crop_inference_shape``,
    ``batch_shape``, ``crop_model_error``, ``batch_crops`` (RandomCrop on copies of one image as a
    batch), ``per_image_crops`` (the same, one by one in tf.data), ``parallel`` (images at 1 call
    and at AUTOTUNE), ``decodes``, ``n_images``, ``cache_right`` / ``cache_wrong`` (two epochs
    each), ``prefetch`` (``{"serial": (reads, steps), "prefetch": (reads, steps)}`` intervals),
    ``starvation`` (``{"synthetic": [s, ...], "real": [s, ...]}``, seconds per epoch in alternating rounds).
    ``torch`` keys: ``shared`` / ``seeded`` (batches of worker 0 and worker 1), ``seeded_again``
    (the seeded run repeated), ``order_by_workers`` (``{num_workers: labels in loader order}``),
    ``starvation`` (as for tf; real with 0 workers).
    """
    with Claims("Lesson 05") as c:
        c.check(bool(ran), "the sections of at least one framework ran", ", ".join(sorted(ran)) or "none")
        for fw, ev in (("tf", tf), ("torch", torch)):
            c.check(fw not in ran or ev is not None, f"{fw}: its sections ran and left their evidence",
                    "present" if ev is not None else "missing")
        if "tf" in ran and tf is not None:
            _check_tf(c, tf)
        if "torch" in ran and torch is not None:
            _check_torch(c, torch)


def _check_tf(c: Claims, ev: dict) -> None:
    c.check(not ev["keras_has_idg"], "Keras 3 no longer exports ImageDataGenerator from keras.preprocessing.image",
            f"exists: {ev['keras_has_idg']}")
    c.check(ev["idg_error"] is not None and "rank 4" in ev["idg_error"],
            "the seed post's ImageDataGenerator.flow on (N, 28, 28) fails asking for rank 4", str(ev["idg_error"]))
    c.check(_same(*ev["inference"]) and not _same(*ev["training"]),
            "augmentation layers in a model are random in training and off at inference")
    c.check(tuple(ev["crop_inference_shape"]) == tuple(ev["batch_shape"]) and ev["crop_model_error"] is not None,
            "this Keras's RandomCrop returns the input size at inference, so a model with it inside breaks",
            f"inference shape {tuple(ev['crop_inference_shape'])}, model: {ev['crop_model_error']}")
    crops, per_image = np.asarray(ev["batch_crops"]), np.asarray(ev["per_image_crops"])
    c.check(all(_same(crops[0], x) for x in crops) and len({x.tobytes() for x in per_image}) > 1,
            "RandomCrop on a batch uses one position for all images; mapped per image, each gets its own",
            f"{len({x.tobytes() for x in per_image})} distinct crops one by one")
    c.check(_same(*ev["parallel"]), "map_numpy gives the same images at 1 call and at AUTOTUNE (same seed)")
    c.check(ev["decodes"] == ev["n_images"], "cache before the random map: the decode runs once per image",
            f"{ev['decodes']} decodes for {ev['n_images']} images over 2 epochs")
    c.check(not _same(*ev["cache_right"]) and _same(*ev["cache_wrong"]),
            "cache before augmenting gives new images every epoch; cache after it replays epoch 1")
    serial, pre = ev["prefetch"]["serial"], ev["prefetch"]["prefetch"]
    n = len(pre[0])
    c.check(overlaps(*serial) == 0 and overlaps(*pre) >= n / 2,
            "without prefetch no read overlaps a step; with prefetch reads run during the steps",
            f"overlapping reads: {overlaps(*serial)} of {len(serial[0])} without, {overlaps(*pre)} of {n} with")
    _check_starvation(c, "tf", ev["starvation"])


def _check_torch(c: Claims, ev: dict) -> None:
    c.check(_same(*ev["shared"]), "a generator shared through functools.partial repeats across workers")
    c.check(not _same(*ev["seeded"]), "WorkerSeeded gives each worker its own augmentations")
    first, again = ev["seeded"], ev["seeded_again"]
    c.check(len(first) == len(again) and all(_same(a, b) for a, b in zip(first, again)),
            "the same seed and worker count give the same batches")
    orders = {k: np.asarray(v) for k, v in ev["order_by_workers"].items()}
    base = next(iter(orders.values()))
    c.check(len(orders) > 1 and all(_same(base, o) for o in orders.values()),
            "the order of examples depends on the seed only, not on the number of workers",
            f"worker counts {sorted(orders)}")
    _check_starvation(c, "torch", ev["starvation"])


def _check_starvation(c: Claims, fw: str, s: dict) -> None:
    synthetic, real = (np.asarray(s[k], dtype=float) for k in ("synthetic", "real"))
    ratio = float(np.median(real / synthetic)) if len(real) == len(synthetic) > 0 else float("nan")
    c.check(ratio > STARVATION_MARGIN,
            f"{fw}: the real pipeline is not faster than in-memory batches (it does the same steps and more)",
            f"real / in memory x{ratio:.2f} (median of {len(real)} alternating rounds; "
            f"medians {np.median(real) * 1e3:.1f} vs {np.median(synthetic) * 1e3:.1f} ms), margin {STARVATION_MARGIN}")
