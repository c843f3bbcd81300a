"""Lesson 12's self-check: passes on good evidence, and every claim fails on realistic broken evidence.

The good evidence is written by hand (numbers of the size lesson 12 measures on the 2-core CPU
in quick mode), with each ``helped`` as the verdict of those numbers.
"""

from __future__ import annotations

import copy

import pytest

from rtxcourse.selfchecks import lesson12

MiB = 2**20


def good(**changes):
    ev = {
        "baseline": dict(accuracy=0.93, epoch_seconds=0.12, helped=None),
        "mixed": dict(speedup=0.95, accuracy_fp32=0.93, accuracy_mixed=0.92, dtype="bfloat16", cpu=True,
                      helped=False, accuracy=0.92, epoch_seconds=0.13),
        "pipeline": dict(speedup=0.8, workers=2, cores=2, helped=False, accuracy=0.92, epoch_seconds=0.15),
        "augment": dict(moved_before=0.68, moved_after=0.72, clean_before=0.92, clean_after=0.75, helped=True,
                        accuracy=0.75, epoch_seconds=0.2),
        "separable": dict(flop_ratio=4.9, param_ratio=5.5, speedup=0.7, helped=False, accuracy=0.67,
                          epoch_seconds=0.25),
        "checkpoint": dict(batch_before=128, batch_after=256, peak_before=9 * MiB, peak_after=4 * MiB,
                           budget=9 * MiB, peak_found=8 * MiB, helped=True, accuracy=0.6, epoch_seconds=0.3),
        "devices": dict(max_weight_diff=7.6e-6, speedup=0.6, nprocs=2, gpus=0, cores=2, weight_change=0.012,
                        helped=False, accuracy=0.6, epoch_seconds=0.5),
    }
    for step, values in changes.items():
        ev[step].update(values)
    return ev


def test_good_evidence_passes(capsys):
    lesson12.check(torch=good(), tf=good())
    out = capsys.readouterr().out
    assert "Lesson 12: all" in out and "✗" not in out
    lesson12.check(torch=good())  # a torch-only learner
    lesson12.check(tf=good(mixed=dict(dtype="float32", speedup=1.0, helped=False)))  # TF only, a CPU without bf16
    gpu = good(mixed=dict(speedup=2.1, helped=True), devices=dict(speedup=1.8, gpus=2, cores=32, helped=True))
    lesson12.check(torch=gpu)  # a GPU machine where both pay off


@pytest.mark.parametrize("broken, claim", [
    # "mixed precision makes training faster", hard-coded, while the paired ratio says 0.95x
    (dict(mixed=dict(helped=True)), "says it helped, as measured"),
    # autocast left on in evaluation with fp16 on a CPU: accuracy collapses, the step still "tracks"
    (dict(mixed=dict(accuracy_mixed=0.35, helped=False)), "accuracy tracks fp32"),
    # the speed-up computed the wrong way round (new / old): 0.8x reported as 1.25x, "helped"
    (dict(pipeline=dict(speedup=1 / 0.8, helped=False)), "says it did not help, as measured"),
    # augmentation hurt on the moved test set (applied to the test set too), the notebook says it helped
    (dict(augment=dict(moved_after=0.5)), "says it helped, as measured"),
    # the standard model counted twice: no FLOP or parameter saving
    (dict(separable=dict(flop_ratio=1.0, param_ratio=1.0)), "fewer FLOPs and parameters"),
    # checkpointing that recomputes nothing (one segment): same peak, same batch, notebook says it helped
    (dict(checkpoint=dict(batch_after=128, peak_after=9 * MiB)), "says it helped, as measured"),
    # the same mistake in the lesson itself: its verdict honestly says "did not help", the peak claim fails
    (dict(checkpoint=dict(batch_after=128, peak_after=9 * MiB, helped=False)), "torch: checkpointing in segments"),
    # the batch reported as fitting was never measured within the budget
    (dict(checkpoint=dict(peak_found=12 * MiB)), "measured within the budget"),
    # no gradient averaging (each rank trains on its own slice): the copies drift apart
    (dict(devices=dict(max_weight_diff=3e-3)), "same weights as one process"),
    # weights compared before any training step: trivially equal
    (dict(devices=dict(max_weight_diff=0.0, weight_change=0.0)), "same weights as one process"),
    # a baseline that learnt nothing (BatchNorm's moving statistics never updated)
    (dict(baseline=dict(accuracy=0.1)), "the baseline learnt"),
])
def test_each_claim_fails_on_broken_evidence(broken, claim):
    with pytest.raises(AssertionError, match=claim):
        lesson12.check(torch=good(**broken))
    if claim.startswith("torch:"):
        lesson12.check(torch=good(), tf=good(**broken))  # TF's coarse CPU peaks are not judged
        return
    with pytest.raises(AssertionError, match=claim):
        lesson12.check(torch=good(), tf=good(**broken))


def test_no_framework_and_malformed_evidence():
    with pytest.raises(AssertionError, match="at least one framework"):
        lesson12.check()
    ev = good()
    del ev["devices"]
    with pytest.raises(ValueError, match="lacks the step"):
        lesson12.check(torch=ev)
    ev = copy.deepcopy(good())
    del ev["mixed"]["helped"]
    with pytest.raises(ValueError, match="helped"):
        lesson12.check(torch=ev)
    with pytest.raises(TypeError, match="map steps"):
        lesson12.check(torch=[1, 2])
