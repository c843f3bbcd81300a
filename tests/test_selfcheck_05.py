"""Lesson 05's self-check: passes on good evidence, and each claim fails on realistic broken evidence."""

import copy

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson05

R = np.random.default_rng(0)
A_, B_ = R.random((4, 3, 8, 8)), R.random((4, 3, 8, 8))


def _intervals(starts, length):
    return [(s, s + length) for s in starts]


# 10 reads and steps of 10 ms: in series they alternate; with prefetch reads run during steps.
SERIAL = (_intervals(np.arange(10) * 0.02, 0.01), _intervals(np.arange(10) * 0.02 + 0.0101, 0.0098))
PREFETCHED = (_intervals(np.arange(10) * 0.01, 0.01), _intervals(np.arange(10) * 0.01 + 0.011, 0.0098))

TF = dict(
    keras_has_idg=False, idg_error="Input data in `NumpyArrayIterator` should have rank 4. You passed an array with shape",
    inference=(A_, A_.copy()), training=(A_, B_), crop_inference_shape=(8, 32, 32, 3), batch_shape=(8, 32, 32, 3),
    crop_model_error="Input 0 of layer is incompatible", batch_crops=np.repeat(A_[:1], 8, axis=0), per_image_crops=np.stack([A_[0], B_[0], A_[1]]),
    parallel=(A_, A_.copy()), decodes=64, n_images=64, cache_right=(A_, B_), cache_wrong=(A_, A_.copy()),
    prefetch={"serial": SERIAL, "prefetch": PREFETCHED}, starvation={"synthetic": [0.40, 0.9, 0.41], "real": [0.55, 0.5, 1.2]},
)
TORCH = dict(
    shared=(A_, A_.copy()), seeded=[A_, B_], seeded_again=[A_.copy(), B_.copy()],
    order_by_workers={0: np.array([3, 1, 2, 0]), 2: np.array([3, 1, 2, 0])}, starvation={"synthetic": [0.20, 0.21, 0.6], "real": [0.31, 0.3, 0.28]},
)


def _ev(fw, **changes):
    ev = copy.deepcopy(TF if fw == "tf" else TORCH)
    ev.update(changes)
    return ev


def _run(tf=None, torch=None, ran=None):
    lesson05.check(ran=set(ran if ran is not None else [k for k, v in (("tf", tf), ("torch", torch)) if v is not None]),
                   tf=tf, torch=torch)


BROKEN = {
    "no longer exports ImageDataGenerator": dict(tf=_ev("tf", keras_has_idg=True)),
    "fails asking for rank 4": dict(tf=_ev("tf", idg_error=None)),
    # augmentation layers that stay active at inference
    "off at inference": dict(tf=_ev("tf", inference=(A_, B_))),
    "RandomCrop returns the input size": dict(tf=_ev("tf", crop_inference_shape=(8, 28, 28, 3))),
    "one position for all images": dict(tf=_ev("tf", per_image_crops=np.stack([A_[0]] * 3))),
    # a pipeline whose images depend on the parallelism (a generator shared by threads)
    "same images at 1 call and at AUTOTUNE": dict(tf=_ev("tf", parallel=(A_, B_))),
    # cache() placed before the decode: it runs every epoch
    "decode runs once per image": dict(tf=_ev("tf", decodes=128)),
    # cache() after the random augmentation: epoch 2 replays epoch 1
    "new images every epoch": dict(tf=_ev("tf", cache_right=(A_, A_.copy()))),
    "replays epoch 1": dict(tf=_ev("tf", cache_wrong=(A_, B_))),
    # no prefetch at all (both runs serial), or a "serial" run that tf.data prefetched by itself
    "reads run during the steps": dict(tf=_ev("tf", prefetch={"serial": SERIAL, "prefetch": SERIAL})),
    "without prefetch no read overlaps": dict(tf=_ev("tf", prefetch={"serial": PREFETCHED, "prefetch": PREFETCHED})),
    # a 'real' pipeline that skipped the work (e.g. it reused one batch too)
    "tf: the real pipeline is not faster": dict(tf=_ev("tf", starvation={"synthetic": [0.40, 0.41, 0.39], "real": [0.02, 0.9, 0.02]})),
    "repeats across workers": dict(torch=_ev("torch", shared=(A_, B_))),
    # functools.partial(chain, rng=...) passed where WorkerSeeded should be
    "each worker its own augmentations": dict(torch=_ev("torch", seeded=[A_, A_.copy()])),
    # workers seeded from the clock or os.urandom: not reproducible
    "same seed and worker count give the same batches": dict(torch=_ev("torch", seeded_again=[B_, A_])),
    # a pipeline whose order depends on worker count (e.g. an IterableDataset split by worker)
    "not on the number of workers": dict(torch=_ev("torch", order_by_workers={0: np.array([3, 1, 2, 0]), 2: np.array([3, 2, 1, 0])})),
    "torch: the real pipeline is not faster": dict(torch=_ev("torch", starvation={"synthetic": [0.20, 0.2, 0.2], "real": [0.01, 0.012, 0.011]})),
    # a section ran but left no evidence (the cell that records it was deleted)
    "tf: its sections ran and left their evidence": dict(tf=None, torch=TORCH, ran=["tf", "torch"]),
    "at least one framework ran": dict(tf=None, torch=None, ran=[]),
}


@pytest.mark.parametrize("tf, torch", [(TF, TORCH), (TF, None), (None, TORCH)], ids=["both", "tf only", "torch only"])
def test_good_evidence_passes_for_what_ran(tf, torch, capsys):
    _run(tf=tf, torch=torch)
    out = capsys.readouterr().out
    assert "all" in out and "claims hold" in out
    assert ("map_numpy" in out) == (tf is not None) and ("WorkerSeeded" in out) == (torch is not None)


@pytest.mark.parametrize("claim", list(BROKEN))
def test_each_claim_fails_on_broken_evidence(claim, capsys):
    with pytest.raises(AssertionError):
        _run(**BROKEN[claim])
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("✗")]
    assert any(claim in line for line in failed), (claim, failed)


def test_overlaps_counts_reads_inside_steps():
    assert lesson05.overlaps([(0, 1), (2, 3), (5, 6)], [(0.5, 2.5)]) == 2
    assert lesson05.overlaps([(0, 1)], [(1, 2)]) == 0  # touching is not overlapping
