"""Self-check of lesson 08 (TensorFlow multi-GPU): MirroredStrategy, the custom step, multi-worker.

The lesson passes what it measured: losses, accuracies, how many copies each variable has, the
weights after one step on one device and on the replicas (with the losses those steps
returned), the precision and overflow experiments, and what each worker of the multi-worker
job reported. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math

from rtxcourse.course.checks import Claims
from rtxcourse.selfchecks._arrays import max_abs_diff

STEP_TOLERANCE = 1e-5  # float32 sums in another order: about 1e-8 measured


def check(*, devices: list[str], replicas: int, fit_accuracy: float, custom_losses: list[float],
          custom_accuracy: float, variable_copies: list[int], precision_results: dict[str, str],
          overflow_results: dict[str, dict], keras_warned: dict[str, bool], logit_losses: dict[str, float],
          loss_floor: float, one_device: dict, mirrored: dict, per_replica_mean: dict, workers: list[dict],
          restored_sum: float) -> None:
    """Check every claim of lesson 08 on its evidence; raise AssertionError naming those that fail.

    ``precision_results``: ``"policy / how"`` -> ``"works"`` or the failure; ``overflow_results``:
    ``"fit"`` and ``"course step"`` -> ``finite``, ``unchanged``, ``scale_ratio``;
    ``keras_warned`` and ``logit_losses``: ``"policy / from_logits=B"`` -> value. ``one_device``,
    ``mirrored``, ``per_replica_mean``: ``{"weights": [...], "loss": float}`` after one step on
    the same global batch. ``workers``: each worker's result of the multi-worker job.
    """
    with Claims("Lesson 08") as c:
        c.check(replicas == len(devices) >= 2, "the strategy has one replica per device, at least 2",
                f"{replicas} replicas on {devices}")
        c.check(fit_accuracy > 0.8, "Keras fit under MirroredStrategy learns", f"test accuracy {fit_accuracy:.3f}")
        c.check(len(custom_losses) >= 2 and custom_losses[-1] < custom_losses[0] and custom_accuracy > 0.8,
                "the custom loop (strategy.run) learns",
                f"loss {custom_losses[0]:.3f} -> {custom_losses[-1]:.3f}, accuracy {custom_accuracy:.3f}")
        c.check(bool(variable_copies) and all(n == replicas for n in variable_copies),
                "the model built in strategy.scope() has one copy of every variable per replica",
                f"copies per variable {sorted(set(variable_copies))}, replicas {replicas}")
        works = [k for k, v in precision_results.items() if v == "works"]
        needed = ["mixed_bfloat16 / fit", "mixed_bfloat16 / custom loop, built in scope",
                  "mixed_float16 / custom loop, built in scope"]
        c.check(all(k in works for k in needed), "bfloat16 works in fit and in the custom loop; float16 once the "
                "optimizer is built in scope", f"working: {works}")
        c.check(overflow_results["fit"]["finite"] is False,
                "Keras alone lets an overflow on replica 1 into the weights", f"fit: {overflow_results['fit']}")
        step = overflow_results["course step"]
        c.check(step["finite"] and step["unchanged"] and step["scale_ratio"] == 0.5,
                "the course's step skips the overflowing step on every replica and halves the scale", f"{step}")
        c.check(keras_warned.get("float32 / from_logits=True") and logit_losses["float32 / from_logits=True"] < loss_floor,
                "Keras rescues softmax + from_logits=True in float32 (and warns)",
                f"loss {logit_losses['float32 / from_logits=True']:.3f}, floor {loss_floor:.3f}")
        c.check(logit_losses["mixed_bfloat16 / from_logits=True"] >= loss_floor - 1e-2,
                "under mixed precision softmax + from_logits=True stays above the second-softmax floor",
                f"loss {logit_losses['mixed_bfloat16 / from_logits=True']:.3f}, floor {loss_floor:.3f}")
        c.check(logit_losses["mixed_bfloat16 / from_logits=False"] < loss_floor,
                "probabilities with from_logits=False train below that floor",
                f"loss {logit_losses['mixed_bfloat16 / from_logits=False']:.3f}")
        step_error = max_abs_diff(one_device["weights"], mirrored["weights"])
        c.check(step_error < STEP_TOLERANCE, f"{replicas} replicas change the weights as one device does on the "
                "whole batch", f"max difference {step_error:.1e}, tolerance {STEP_TOLERANCE:g}")
        loss_error = abs(one_device["loss"] - mirrored["loss"])
        c.check(loss_error < STEP_TOLERANCE, "the distributed step returns the mean loss of the whole global batch",
                f"{mirrored['loss']:.6f} vs one device {one_device['loss']:.6f}")
        bug_error = max_abs_diff(one_device["weights"], per_replica_mean["weights"])
        c.check(1e-3 < bug_error < math.inf, "a loss averaged per replica takes a visibly different step",
                f"max difference {bug_error:.1e}")
        sums = [w["weights_sum"] for w in workers]
        c.check(len(workers) >= 2 and max(sums) - min(sums) < 1e-6 * max(1.0, abs(sums[0])),
                "every worker of MultiWorkerMirroredStrategy ends with the same weights", f"{sums}")
        chiefs = [r for r, w in enumerate(workers) if w["is_chief"]]
        writers = [r for r, w in enumerate(workers) if w["checkpoint"]]
        c.check(len(chiefs) == 1 and writers == chiefs, "exactly one chief, and only it keeps a checkpoint",
                f"chiefs {chiefs}, checkpoint writers {writers}")
        chief = workers[chiefs[0]] if chiefs else workers[0]
        c.check(chief["losses"][-1] < chief["losses"][0], "the multi-worker job lowers the loss",
                f"{chief['losses'][0]:.3f} -> {chief['losses'][-1]:.3f}")
        c.check(abs(restored_sum - chief["weights_sum"]) < 1e-6 * max(1.0, abs(restored_sum)),
                "the chief's checkpoint restores its weights in one process",
                f"{restored_sum:.6f} vs {chief['weights_sum']:.6f}")
