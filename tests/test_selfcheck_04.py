"""Lesson 04's self-check: passes on good evidence, and each claim fails on realistic broken evidence."""

import copy

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson04

RNG = np.random.default_rng(0)
BATCH = RNG.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
OTHER = RNG.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)

# Good evidence, written down as a correct lesson would observe it (not computed by lesson04).
GOOD = dict(
    blog_crop_counts=[1490, 1510, 0], our_crop_counts=[990, 1012, 998], blog_full_crop_error="ValueError: high <= 0",
    seed_crop={"image_hw": (427, 640), "crop": 200, "max_top": 226, "max_left": 438, "shapes": [(200, 200, 3)] * 5},
    flips={"n": 1000, "p": 0.5, "blog": 1000, "ours": 511},
    rotations={"n": 20, "blog_distinct": 1, "ours_distinct": 20, "original_black": 0.0, "constant_black": 0.105,
               "reflect_black": 0.0},
    probability={"n": 2000, "p": 0.8, "applied": 1610},
    jitter_first={"brightness": 507, "contrast": 479, "saturation": 504, "hue": 510},
    batches=(BATCH, BATCH.copy(), OTHER),
    digit_transforms=["RandomRotate", "RandomResizedCrop"],
    experiment={fw: {"without": [[0.95, 0.65, 0.80], [0.94, 0.70, 0.78], [0.95, 0.69, 0.77]],
                     "with": [[0.95, 0.85, 0.90], [0.94, 0.83, 0.88], [0.96, 0.86, 0.89]]} for fw in ("torch", "tf")},
)


def _with(**changes):
    ev = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(ev.get(key), dict) and key != "experiment":
            ev[key].update(value)
        else:
            ev[key] = value
    return ev


def _experiment(torch_without, torch_with):
    return {"torch": {"without": torch_without, "with": torch_with}}


BROKEN = {
    # the seed's crop fixed by accident (it reaches the last offset): the lesson would show no bug
    "never draws the last offset": _with(blog_crop_counts=[1000, 1000, 1000]),
    # ours with randint(0, h - c): the last offset is missing
    "ours draws every offset": _with(our_crop_counts=[1500, 1500, 0]),
    # ours biased towards offset 0 (e.g. a clamp instead of a draw)
    "equally often": _with(our_crop_counts=[1300, 850, 850]),
    "crashes when the crop equals": _with(blog_full_crop_error=None),
    # a crop that really swaps the axes: row offsets beyond H - crop
    "x is the row offset": _with(seed_crop={"max_top": 430}),
    # crops of the wrong shape (offsets applied to the wrong axes of a non-square crop)
    "no swap in its code": _with(seed_crop={"shapes": [(200, 200, 3), (200, 150, 3)]}),
    # column offsets bounded by the height: the bound is taken from the wrong axis
    "y the column": _with(seed_crop={"max_left": 220}),
    "flips every time": _with(flips={"blog": 502}),
    # ours always flips (the seed's bug copied), or never
    "flips with probability p": _with(flips={"ours": 1000}),
    "one fixed angle": _with(rotations={"ours_distinct": 1}),
    "reflection adds none": _with(rotations={"reflect_black": 0.10}),
    "constant border adds black corners": _with(rotations={"constant_black": 0.0}),
    # p ignored: the transform always applied
    "applied to a fraction p": _with(probability={"applied": 2000}),
    # colour jitter in a fixed order: brightness always first
    "new order each call": _with(jitter_first={"brightness": 2000, "contrast": 0, "saturation": 0, "hue": 0}),
    "same seed gives the same batch": _with(batches=(BATCH, OTHER, OTHER)),
    "another seed another": _with(batches=(BATCH, BATCH.copy(), BATCH.copy())),
    # an augmentation that changes labels (a flipped 6 is a 9)
    "keeps labels": _with(digit_transforms=["RandomRotate", "RandomFlip"]),
    "ran in at least one framework": _with(experiment={}),
    # a model that did not learn (lr far too low)
    "both models learned": _with(experiment=_experiment([[0.3, 0.2, 0.2]] * 3, [[0.3, 0.25, 0.25]] * 3)),
    # augmentation that does nothing (the stream was never augmented)
    "in-family shifts": _with(experiment=_experiment([[0.95, 0.7, 0.8]] * 3, [[0.95, 0.71, 0.8]] * 3)),
    # a gain on the in-family set only: nothing general was learned
    "unseen shift": _with(experiment=_experiment([[0.95, 0.65, 0.80]] * 3, [[0.95, 0.85, 0.80]] * 3)),
    # augmentation so strong it ruins clean accuracy
    "costs at most a little": _with(experiment=_experiment([[0.95, 0.65, 0.80]] * 3, [[0.85, 0.85, 0.88]] * 3)),
}


def test_good_evidence_passes(capsys):
    lesson04.check(**GOOD)
    assert "all 21 claims hold" in capsys.readouterr().out


def test_one_framework_checks_what_ran(capsys):
    lesson04.check(**_with(experiment={"tf": GOOD["experiment"]["tf"]}))
    out = capsys.readouterr().out
    assert "tf: on an unseen shift" in out and "torch:" not in out


@pytest.mark.parametrize("claim", list(BROKEN))
def test_each_claim_fails_on_broken_evidence(claim, capsys):
    with pytest.raises(AssertionError) as e:
        lesson04.check(**BROKEN[claim])
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("✗")]
    assert any(claim in line for line in failed), (claim, failed)
    assert claim in str(e.value) or "claims do not hold" in str(e.value)
