"""Lesson 07's self-check: passes on good evidence, and every claim fails on realistic broken evidence.

The good evidence is written down by hand (numbers of the size lesson 07 measures on a CPU),
never computed with the functions under test.
"""

from __future__ import annotations

import pytest

from rtxcourse.selfchecks import lesson07

MiB = 2**20
COUNTED = 1_835_008  # 512 x (128 + 256 + 384 + 128) floats: a Linear+ReLU stack counted by hand


def good(**changes):
    ev = dict(saved_measured=COUNTED, saved_counted=COUNTED, peak_none=21 * MiB, peak_ckpt=5.5 * MiB,
              time_none=0.030, time_ckpt=0.039, peak_mixed=14 * MiB, mixed_dtype="bfloat16")
    ev.update(changes)
    return ev


BATCHES = {"fp32": (512, 60 * MiB), "fp32 + checkpointing": (2048, 62 * MiB),
           "bf16 + checkpointing": (3072, 63 * MiB), "fp32 + checkpointing, 4 x accumulation": (8192, 62 * MiB)}


def run(**kwargs):
    args = dict(torch=good(), tf=good(saved_measured=COUNTED * 1.08), batches=BATCHES, budget=64 * MiB,
                seed_error="InvalidArgumentError")
    args.update(kwargs)
    lesson07.check(**args)


def test_good_evidence_passes(capsys):
    run()
    out = capsys.readouterr().out
    assert "Lesson 07: all" in out and "✗" not in out
    run(tf=None, batches=None)  # a torch-only learner
    run(torch=None, batches=None, tf=good(peak_mixed=None, mixed_dtype=None))  # TF only, no bf16 on this CPU


@pytest.mark.parametrize("broken, claim", [
    # a hook that sums every save: the hidden ReLU outputs counted twice (by the ReLU and the next Linear)
    (dict(torch=good(saved_measured=COUNTED + 512 * (256 + 384) * 4)), "agrees with the hand count"),
    # the parameters measured instead of the activations (weights of the same stack)
    (dict(torch=good(saved_measured=(128 * 256 + 256 * 384 + 384 * 128) * 4)), "agrees with the hand count"),
    # held memory read after the output was dropped: nothing left
    (dict(tf=good(saved_measured=0)), "agrees with the hand count"),
    # checkpoint() wrapped around the whole network's *output* only: nothing is recomputed or freed
    (dict(torch=good(peak_ckpt=20.5 * MiB)), "lowers the measured peak"),
    # checkpointing every layer of a Linear+ReLU stack: each checkpoint keeps its input, no saving
    (dict(tf=good(peak_ckpt=15 * MiB)), "lowers the measured peak"),
    # checkpointed time summed over 5 repeats, compared with a per-call time
    (dict(torch=good(time_ckpt=5 * 0.039)), "one extra forward pass"),
    # the checkpointed "step" timed without its backward pass
    (dict(tf=good(time_ckpt=0.012)), "one extra forward pass"),
    # an fp32 run labelled mixed: same peak, float32 activations
    (dict(torch=good(peak_mixed=21 * MiB, mixed_dtype="float32")), "mixed precision stores 16-bit"),
    # autocast on, but the peak measured of the fp32 step again
    (dict(tf=good(peak_mixed=21 * MiB)), "mixed precision stores 16-bit"),
    # a batch search that stopped at its limit without measuring
    (dict(batches={**BATCHES, "fp32 + checkpointing": (65536, 900 * MiB)}), "within the 64.0 MiB budget"),
    # checkpointing not applied in the search: the same batch fits
    (dict(batches={**BATCHES, "fp32 + checkpointing": (512, 60 * MiB)}), "twice the batch"),
    # someone 'fixed' the seed's reshape: it runs, and teaches a myth
    (dict(seed_error=None), "does not even run"),
    # no framework's section ran at all
    (dict(torch=None, tf=None, batches=None), "at least one framework"),
])
def test_each_claim_fails_on_broken_evidence(broken, claim):
    with pytest.raises(AssertionError, match=claim):
        run(**broken)


def test_malformed_evidence_is_named():
    with pytest.raises(ValueError, match="torch evidence lacks time_ckpt"):
        run(torch={k: v for k, v in good().items() if k != "time_ckpt"})
    with pytest.raises(TypeError, match="must be a mapping"):
        run(tf=[1, 2])
    with pytest.raises(ValueError, match="without a budget"):
        run(budget=None)
    with pytest.raises(ValueError, match="lacks the way 'fp32'"):
        run(batches={"bf16": (1, 1)})
