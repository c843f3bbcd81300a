"""rtxcourse.selfchecks.lesson08: every claim fails on realistic broken evidence."""

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson08

FLOOR = 1.4612  # -ln(e / (e + 9)), written out


def good() -> dict:
    """Evidence of a correct run on 2 replicas, built by hand (not with the code under test)."""
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(64, 8)).astype(np.float32), np.zeros(8, np.float32)]
    works = "works"
    return dict(
        devices=["/cpu:0", "/cpu:1"], replicas=2, fit_accuracy=0.95, custom_losses=[2.3, 0.9, 0.2],
        custom_accuracy=0.93, variable_copies=[2, 2, 2, 2],
        precision_results={"float32 / fit, jit_compile=True": "fails: InvalidArgumentError",
                           "mixed_bfloat16 / fit": works, "mixed_bfloat16 / custom loop, built in scope": works,
                           "mixed_float16 / custom loop, lazy optimizer": "fails: InvalidArgumentError",
                           "mixed_float16 / custom loop, built in scope": works},
        overflow_results={"fit": {"finite": False, "unchanged": False, "scale_ratio": 1.0},
                          "course step": {"finite": True, "unchanged": True, "scale_ratio": 0.5}},
        keras_warned={"float32 / from_logits=True": True, "mixed_bfloat16 / from_logits=True": False},
        logit_losses={"float32 / from_logits=True": 0.15, "mixed_bfloat16 / from_logits=True": 1.74,
                      "mixed_bfloat16 / from_logits=False": 0.25},
        loss_floor=FLOOR,
        one_device={"weights": weights, "loss": 2.340577},
        mirrored={"weights": [w + 2e-8 for w in weights], "loss": 2.340577},
        per_replica_mean={"weights": [w + 0.04 for w in weights], "loss": 2.3406},
        workers=[{"weights_sum": 52.539, "is_chief": True, "checkpoint": "/tmp/ckpt/ckpt-1", "losses": [2.33, 0.31]},
                 {"weights_sum": 52.539, "is_chief": False, "checkpoint": None, "losses": [2.33, 0.31]}],
        restored_sum=52.539,
    )


def test_good_evidence_passes(capsys):
    lesson08.check(**good())
    assert "all 17 claims hold" in capsys.readouterr().out


def _two_chiefs(e):  # task_id == 0 with a chief task in TF_CONFIG: worker 0 believes it is the chief too
    e["workers"][1].update(is_chief=True, checkpoint="/tmp/ckpt/ckpt-1")


def _workers_drifted(e):
    e["workers"][1]["weights_sum"] = 52.6


BROKEN = {
    "one replica's loss returned": (lambda e: e["mirrored"].update(loss=2.340577 / 2), "returns the mean loss"),
    "model created outside strategy.scope()": (lambda e: e.update(variable_copies=[1, 1, 1, 1]), "one copy of every variable"),
    "loss averaged per replica (reduce_mean)": (lambda e: e.update(mirrored=dict(e["per_replica_mean"])), "as one device does"),
    "step error not measured (same weights twice)": (lambda e: e.update(per_replica_mean=dict(e["one_device"])),
                                                     "visibly different step"),
    "one device only": (lambda e: e.update(devices=["/cpu:0"], replicas=1, variable_copies=[1] * 4), "one replica per device"),
    "fit does not learn": (lambda e: e.update(fit_accuracy=0.3), "fit under MirroredStrategy learns"),
    "custom loop diverged": (lambda e: e.update(custom_losses=[2.3, 5.0]), "custom loop (strategy.run) learns"),
    "bfloat16 fails in the custom loop": (lambda e: e["precision_results"].update(
        {"mixed_bfloat16 / custom loop, built in scope": "fails: ValueError"}), "bfloat16 works"),
    "keras already skips on every replica": (lambda e: e["overflow_results"].update(
        fit={"finite": True, "unchanged": True, "scale_ratio": 0.5}), "Keras alone lets an overflow"),
    "course step without skip_together": (lambda e: e["overflow_results"].update(
        {"course step": {"finite": False, "unchanged": False, "scale_ratio": 1.0}}), "skips the overflowing step"),
    "Keras stopped rescuing float32": (lambda e: e["logit_losses"].update({"float32 / from_logits=True": 1.5}), "rescues"),
    "from_logits=True after a softmax not stuck": (lambda e: e["logit_losses"].update(
        {"mixed_bfloat16 / from_logits=True": 0.3}), "stays above the second-softmax floor"),
    "from_logits=False also stuck": (lambda e: e["logit_losses"].update({"mixed_bfloat16 / from_logits=False": 1.7}),
                                     "train below that floor"),
    "workers drifted apart": (_workers_drifted, "same weights"),
    "two checkpoint writers (chief by task_id == 0)": (_two_chiefs, "exactly one chief"),
    "multi-worker loss rose": (lambda e: [w.update(losses=[2.3, 2.4]) for w in e["workers"]], "job lowers the loss"),
    "checkpoint restores other weights": (lambda e: e.update(restored_sum=40.0), "checkpoint restores"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_each_claim_fails_on_broken_evidence(name):
    breaks, claim = BROKEN[name]
    evidence = good()
    breaks(evidence)
    with pytest.raises(AssertionError) as info:
        lesson08.check(**evidence)
    assert claim in str(info.value), (name, str(info.value))
