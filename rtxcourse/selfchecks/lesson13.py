"""Lesson 13's self-check: each seed snippet fails (or misbehaves) as its section says; each fix works.

``outcomes`` are what :mod:`rtxcourse.myths` recorded for every ``%%seed`` cell (the exception
type each original snippet raised, or none); ``evidence`` is what the sections measured;
``ran`` the frameworks whose sections ran (:func:`rtxcourse.sections.ran`). The expected
failures are the behaviour of the pinned stack (TensorFlow 2.21, Keras 3.15, torch 2.13,
OpenCV 5): if a release makes a snippet run, or fail differently, this check says which.
"""

from __future__ import annotations

import math

from rtxcourse.course.checks import Claims

# Snippet -> the exception it raises here (None: it runs; its problem is what it does).
EXPECTED = {
    None: {"crop_example": "AttributeError", "crop_equal_size": "ValueError",
           "flip_example": None, "rotate_example": "AttributeError"},  # cv2.flip(None) returns None
    "tf": {"gradient_acceleration": "ValueError", "dlss": "ValueError", "architecture": "ValueError",
           "image_data_generator": "ValueError", "image_data_generator_keras3": "AttributeError",
           "early_stopping": None, "legacy_h5": "FileNotFoundError", "depthwise_separable": "TypeError",
           "activation_compression": "InvalidArgumentError", "mirrored_loop": "NameError"},
    "torch": {"ddp_init": "ValueError"},
}
FLOOR = math.log(9 + math.e) - 1  # cross-entropy of a perfect softmax output fed back through softmax


def _snippets(c: Claims, outcomes: dict, group) -> None:
    for name, expected in EXPECTED[group].items():
        got = outcomes.get(name)
        if got is None:
            c.check(False, f"snippet '{name}' was run", "its section ran but recorded no outcome")
            continue
        what = "runs" if expected is None else f"raises {expected}"
        c.check(got.error == expected, f"the seed's '{name}' {what}", f"it {'ran' if got.error is None else 'raised ' + got.error}")


def _one_gpu(c: Claims, outcomes: dict, e: dict) -> None:
    got, gpus = outcomes.get("one_gpu"), e.get("one_gpu_physical", 0)
    if got is None:
        c.check(False, "snippet 'one_gpu' was run")
    elif gpus == 0:
        c.check(got.error == "IndexError", "without a GPU, gpus[0] raises IndexError", f"got {got.error}")
    else:  # on a GPU machine: it fails (TF already initialised) or leaves one GPU, never parallelism
        c.check(got.error is not None or e.get("one_gpu_visible_after") == 1,
                "with GPUs, the seed's code fails or leaves exactly one visible", f"{got.error}, {e.get('one_gpu_visible_after')} visible")


def _neutral(c: Claims, e: dict) -> None:
    possible = e["crop_possible_tops"]
    c.check(possible[-1] not in e["crop_seed_tops"], "the seed's crop never draws the last offset", f"drew {e['crop_seed_tops']}")
    c.check(e["crop_fixed_tops"] == possible, "the fixed crop draws every offset, the last included", f"drew {e['crop_fixed_tops']}")
    c.check(e["flip_example_returned_none"], "the seed's flip example silently returns None for a missing file")
    c.check(e["flip_seed_rate"] == 1.0, "the seed's flip flips every image", f"{e['flip_seed_rate']:.3f}")
    c.check(abs(e["flip_fixed_rate"] - 0.5) < 0.06, "the fixed flip flips about half the images", f"{e['flip_fixed_rate']:.3f}")
    c.check(e["rotate_seed_distinct"] == 1 and e["rotate_seed_black"] > 0.01,
            "the seed's rotation uses one angle and paints black corners",
            f"{e['rotate_seed_distinct']} distinct, {e['rotate_seed_black']:.1%} black")
    c.check(e["rotate_fixed_distinct"] >= 4 and e["rotate_fixed_black"] == 0.0,
            "the fixed rotation draws its angle and, with a reflected border, leaves no black pixel",
            f"{e['rotate_fixed_distinct']} distinct, {e['rotate_fixed_black']:.1%} black")


def _tf(c: Claims, e: dict) -> None:
    acc = e["fixed_mlp_accuracy_float32"]
    c.check(acc > 0.5, "section 1's fixed model learns digits", f"test accuracy {acc:.3f}")
    losses = e["dlss_fixed_losses"]
    c.check(losses[-1] < losses[0], "the fixed DLSS snippet trains (loss falls)", f"{losses[0]:.3f} -> {losses[-1]:.3f}")
    c.check(e["architecture_params"] == e["baseline_params"], "the 'optimised architecture' is section 1's model",
            f"{e['architecture_params']:,} vs {e['baseline_params']:,} parameters")
    c.check(e["cnn_params"] * 10 < e["baseline_params"] and e["cnn_accuracy"] > 0.5,
            "a small CNN has over 10x fewer parameters and still learns", f"{e['cnn_params']:,} parameters, accuracy {e['cnn_accuracy']:.3f}")
    c.check(tuple(e["keras_augment_shape"]) == (32, 28, 28, 1) and e["keras_augment_changed"] > 0.01,
            "Keras preprocessing layers augment the MNIST batch", f"mean change {e['keras_augment_changed']:.3f}")
    c.check(abs(e["es_seed_kept"] - e["es_seed_last"]) < 1e-3, "the seed's early stopping keeps the last epoch's weights",
            f"kept {e['es_seed_kept']:.4f}, last epoch {e['es_seed_last']:.4f}, best {e['es_seed_best']:.4f}")
    c.check(e["es_fixed_stopped_epoch"] > 0 and abs(e["es_fixed_kept"] - e["es_fixed_best"]) < 1e-3,
            "with restore_best_weights the kept model is the best epoch's",
            f"stopped at {e['es_fixed_stopped_epoch']}, kept {e['es_fixed_kept']:.4f}, best {e['es_fixed_best']:.4f}")
    c.check(e["h5_warned_legacy"], "Keras 3 calls .h5 a legacy format when saving it")
    c.check(e["keras_roundtrip_maxdiff"] < 1e-6 and e["keras_reloaded_optimizer"] == "Adam",
            "a .keras round trip predicts exactly the same, with its Adam optimizer",
            f"{e['keras_roundtrip_maxdiff']:.1e}, {e['keras_reloaded_optimizer']}")
    c.check(e["optimizer_after_h5"] != "Adam", "after an .h5 save, Keras 3.15's .keras reload loses the Adam optimizer",
            f"reloaded with {e['optimizer_after_h5']}")
    c.check(tuple(e["separable_output_shape"]) == (1, 32, 32, 32), "the fixed separable convolution runs",
            str(tuple(e["separable_output_shape"])))
    # 3x3 conv 3 -> 32 channels: 3*3*3*32 weights; separable: 3*3*3 depthwise + 3*32 pointwise.
    c.check((e["conv_params"], e["separable_params"]) == (864, 123), "separable needs 123 weights where a 3x3 conv needs 864",
            f"{e['conv_params']} vs {e['separable_params']}")
    c.check(abs(e["from_logits_floor"] - FLOOR) < 1e-4 and e["probabilities_loss"] < 1e-3,
            "from_logits=True after a softmax cannot go below log(9+e)-1", f"{e['from_logits_floor']:.4f}")


def _torch(c: Claims, e: dict) -> None:
    c.check(e["ddp_seed_weight_gap"] > 1e-3, "the seed's 'DDP' ranks end with different models", f"gap {e['ddp_seed_weight_gap']:.2e}")
    c.check(e["ddp_fixed_weight_gap"] < 1e-6, "with DDP both ranks end with the same model", f"gap {e['ddp_fixed_weight_gap']:.2e}")
    c.check(e["ddp_fixed_seen_per_rank"] == 512, "with a DistributedSampler each rank trains on half the data",
            f"{e['ddp_fixed_seen_per_rank']} of 1024 examples over 2 epochs")


def check(outcomes: dict, evidence: dict, ran: set[str]) -> None:
    """Assert every myth section's finding on this machine (see the module docstring)."""
    with Claims("Lesson 13") as c:
        _snippets(c, outcomes, None)
        _neutral(c, evidence)
        if "tf" in ran:
            _snippets(c, outcomes, "tf")
            _one_gpu(c, outcomes, evidence)
            _tf(c, evidence)
        if "torch" in ran:
            _snippets(c, outcomes, "torch")
            _torch(c, evidence)
