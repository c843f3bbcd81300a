"""selfchecks.lesson10: every claim passes on good evidence and fails on realistic broken evidence."""

import copy

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson10

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 10, 200)


def run(total=20, start=10, restarts=None):
    """An interrupted run resumed at ``start`` that ended exactly like the uninterrupted one."""
    w = RNG.normal(size=500).astype(np.float32)
    losses = list(np.linspace(2.3, 0.4, total))
    out = dict(uninterrupted_weights=w, resumed_weights=w.copy(), uninterrupted_losses=losses,
               resumed_losses=list(losses), resumed_from_step=start, total_steps=total)
    if restarts is not None:
        out["restart_count"] = restarts
    return out


def trained_logits(noise=1e-6):
    """Logits of a model that is right on 90% of LABELS, and a reload that differs by ``noise``."""
    logits = RNG.normal(size=(len(LABELS), 10)).astype(np.float32)
    right = RNG.random(len(LABELS)) < 0.9
    logits[right, LABELS[right]] += 10.0
    return logits, logits + noise


def good():
    return dict(torch_resume=run(), keras_resume=run(total=6, start=3), torchrun_job=run(restarts=1),
                tf_job=run(restarts=1),
                exports={"SavedModel": trained_logits(), "torch.export": trained_logits(0.0),
                         "ONNX": trained_logits(3e-6)},
                labels=LABELS)


def test_good_evidence_passes(capsys):
    lesson10.check(**good())
    assert "all 14 claims hold" in capsys.readouterr().out


def broken(edit):
    evidence = copy.deepcopy(good())
    edit(evidence)
    return evidence


def no_optimizer_state(e):  # Adam restarted from zero moments: the weights drift apart
    e["torch_resume"]["resumed_weights"] = e["torch_resume"]["resumed_weights"] + 2e-2


def rng_not_restored(e):  # other dropout masks after the resume: the losses differ from there on
    e["keras_resume"]["resumed_losses"][1] += 0.05


def restart_from_scratch(e):  # same final weights (deterministic) but nothing was resumed
    e["torchrun_job"]["resumed_from_step"] = None


def no_restart_happened(e):  # the worker was never killed: the job proves nothing
    e["tf_job"]["restart_count"] = 0


def tf_lost_a_step(e):  # resumed from the last backup but the step counter was not in it
    e["tf_job"]["resumed_losses"] = e["tf_job"]["resumed_losses"][:-1]


def untrained_export(e):  # exported before fit: the reload agrees with a model that knows nothing
    logits = RNG.normal(size=(len(LABELS), 10)).astype(np.float32)
    e["exports"]["SavedModel"] = (logits, logits)


def export_of_other_weights(e):  # ONNX exported from a fresh model, compared with the trained one
    orig, _ = e["exports"]["ONNX"]
    e["exports"]["ONNX"] = (orig, RNG.normal(size=orig.shape).astype(np.float32))


def only_two_formats(e):
    del e["exports"]["ONNX"]


def resumed_at_the_end(e):  # "resumed" from the final checkpoint: nothing left to show
    e["torch_resume"]["resumed_from_step"] = e["torch_resume"]["total_steps"]


@pytest.mark.parametrize("edit, claim", [
    (no_optimizer_state, "PyTorch checkpoint: ends with the uninterrupted run's weights"),
    (rng_not_restored, "Keras BackupAndRestore: ends with the uninterrupted run's weights"),
    (restart_from_scratch, "torchrun --max-restarts: resumed from a checkpoint mid-run"),
    (no_restart_happened, "TF multi-worker: a worker was killed and the job restarted"),
    (tf_lost_a_step, "TF multi-worker: ends with the uninterrupted run's weights"),
    (untrained_export, "SavedModel: the trained model, reloaded"),
    (export_of_other_weights, "ONNX: the trained model, reloaded"),
    (only_two_formats, "three export formats were reloaded"),
    (resumed_at_the_end, "PyTorch checkpoint: resumed from a checkpoint mid-run"),
])
def test_each_claim_fails_on_broken_evidence(edit, claim):
    with pytest.raises(AssertionError) as info:
        lesson10.check(**broken(edit))
    message = str(info.value)
    assert claim in message and message.startswith("Lesson 10: 1 of "), message  # that claim alone


def test_a_stated_tolerance_accepts_gpu_sized_differences():
    e = broken(lambda e: e["torchrun_job"].update(resumed_weights=e["torchrun_job"]["resumed_weights"] + 1e-7))
    with pytest.raises(AssertionError):
        lesson10.check(**e)
    lesson10.check(**e, atol=1e-6)
