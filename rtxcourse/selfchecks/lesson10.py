"""Self-check of lesson 10: runs resume exactly, restarted jobs end where uninterrupted ones do, exports agree,
the LR range test saw the loss fall and explode, and summation order changes the bits but not the value.

Every argument is raw evidence measured in the lesson (weights, losses, predictions, counters);
the verdicts are reached here, for each framework whose sections ran (a torch-only or a
TensorFlow-only kernel runs one framework's half of the lesson, and that half is checked whole). Weights are compared bit for bit (``atol=0``): on a CPU every
operation of these runs is deterministic, and the lesson calls
``torch.use_deterministic_algorithms(True)``, so any difference means state was lost. A lesson
run on GPUs passes a tolerance it states (atomics in some GPU kernels sum in varying order).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from rtxcourse.course.checks import Claims

EXPORT_ATOL = 1e-4  # float32 logits of a small MLP: ONNX Runtime and XLA may fuse ops differently
MIN_ACCURACY = 0.8  # an exported model worth comparing is a trained one (chance is 0.1)
RANGE_FALL = 0.5  # the range test's lowest smoothed loss is at most half its first: the rising rate trained
RANGE_BLOWUP = 4.0  # ...and its last is this many times the lowest: it went on until the loss exploded
SUM_RTOL = 1e-5  # float32 sums of 1e5 numbers in other orders differ by rounding: far below this x sum(|a|)


def _max_diff(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _resumed(c: Claims, name: str, run: Mapping[str, Any], atol: float) -> None:
    """Claims for one interrupted run: it resumed from a checkpoint (not from scratch) and ended equal."""
    total, start = run["total_steps"], run["resumed_from_step"]
    c.check(start is not None and 0 < start < total, f"{name}: resumed from a checkpoint mid-run, not from scratch",
            f"resumed at step {start} of {total}")
    d_w = _max_diff(run["resumed_weights"], run["uninterrupted_weights"])
    d_l = _max_diff(run["resumed_losses"], run["uninterrupted_losses"])
    c.check(d_w <= atol and d_l <= atol, f"{name}: ends with the uninterrupted run's weights and losses",
            f"max weight diff {d_w:.1e}, max loss diff {d_l:.1e}, tolerance {atol:g}")


# What each framework's sections show: the name of its resume and of its restarted job, and
# how many export formats it reloads (Keras: SavedModel; PyTorch: torch.export and ONNX).
NAMES = {"torch": "PyTorch", "tf": "TensorFlow"}
RESUME = {"torch": "PyTorch checkpoint", "tf": "Keras BackupAndRestore"}
JOB = {"torch": "torchrun --max-restarts", "tf": "TF multi-worker"}
EXPORT_FORMATS = {"torch": 2, "tf": 1}


def check(*, ran, resume: Mapping[str, Mapping], jobs: Mapping[str, Mapping],
          exports: Mapping[str, Mapping[str, tuple]], labels, range_tests: Mapping[str, tuple],
          sum_orders: Mapping[str, Mapping], atol: float = 0.0) -> None:
    """Check lesson 10's claims for each framework in ``ran``; raise AssertionError naming every one that fails.

    ``ran`` names the frameworks whose sections ran (``rtxcourse.sections.ran()``); each of
    them must have left its evidence, keyed by framework ("torch", "tf"), and all of it is
    checked. ``resume[fw]`` (the in-process resume) and ``jobs[fw]`` (the restarted
    two-process job) each hold ``uninterrupted_weights``, ``resumed_weights``,
    ``uninterrupted_losses``, ``resumed_losses``, ``resumed_from_step`` (None: started from
    scratch) and ``total_steps``; a job also ``restart_count`` (what the worker read from its
    launcher). ``exports[fw]`` maps a format name to ``(original_logits, reloaded_logits)``:
    what the trained model and its export reloaded from disk predicted for the test inputs,
    whose labels are ``labels``. ``range_tests[fw]`` is ``(learning_rates, smoothed_losses)`` of
    the LR range test (section 2); ``sum_orders[fw]`` holds ``sums`` (one float32 array summed
    in three orders), ``abs_sum`` (the sum of its absolute values) and ``same_seed_same_draws``
    (two draws after the same seed were equal), from section 9.
    """
    ran = sorted(set(ran))
    with Claims("Lesson 10") as c:
        c.check(bool(ran) and set(ran) <= set(NAMES), "the sections of at least one framework ran",
                f"ran: {ran or 'none'} (known: {sorted(NAMES)})")
        for fw in (f for f in ran if f in NAMES):
            evidence = {"resume": resume.get(fw), "restarted job": jobs.get(fw), "exports": exports.get(fw),
                        "LR range test": range_tests.get(fw), "summation orders": sum_orders.get(fw)}
            missing = [k for k, v in evidence.items() if v is None]
            c.check(not missing, f"{NAMES[fw]}: every section that ran left its evidence",
                    f"missing: {', '.join(missing)}" if missing else ", ".join(evidence) + " present")
            if not missing:
                _check_framework(c, fw, resume[fw], jobs[fw], exports[fw], labels, atol)
                _check_range_test(c, fw, *range_tests[fw])
                _check_sum_orders(c, fw, sum_orders[fw])


def _check_framework(c: Claims, fw: str, resume: Mapping, job: Mapping, exports: Mapping, labels, atol: float) -> None:
    """The claims one framework's sections showed."""
    _resumed(c, RESUME[fw], resume, atol)
    c.check(job["restart_count"] >= 1, f"{JOB[fw]}: a worker was killed and the job restarted",
            f"restart count {job['restart_count']}")
    _resumed(c, JOB[fw], job, atol)
    c.check(len(exports) >= EXPORT_FORMATS[fw], f"{NAMES[fw]}: each of its {EXPORT_FORMATS[fw]} export formats was reloaded",
            ", ".join(exports) or "none")
    for fmt, (original, reloaded) in exports.items():
        original = np.asarray(original)
        accuracy = float(np.mean(original.argmax(-1) == np.asarray(labels))) if original.ndim == 2 else 0.0
        d = _max_diff(reloaded, original)
        c.check(accuracy >= MIN_ACCURACY and d <= EXPORT_ATOL,
                f"{fmt}: the trained model, reloaded, gives the same predictions",
                f"test accuracy {accuracy:.3f} (at least {MIN_ACCURACY}), max logit diff {d:.1e} "
                f"(tolerance {EXPORT_ATOL:g})")


def _check_range_test(c: Claims, fw: str, lrs, losses) -> None:
    """The range test trained (the loss fell) and went on until it exploded, so its minimum means something."""
    losses = np.asarray(losses, dtype=np.float64)
    ok = losses.size > 1 and np.all(np.diff(np.asarray(lrs, dtype=np.float64)) > 0) and np.all(np.isfinite(losses[:-1]))
    low = float(np.min(losses)) if losses.size else float("nan")
    fell = ok and low <= RANGE_FALL * losses[0]
    exploded = ok and not (losses[-1] <= RANGE_BLOWUP * low)  # inf/nan at the end: exploded too
    c.check(fell and exploded, f"{NAMES[fw]} LR range test: the loss falls as the rate grows, then explodes",
            f"{losses.size} rising rates; smoothed loss {losses[0]:.3f} first, {low:.3f} lowest, {losses[-1]:.3f} last "
            f"(lowest at most {RANGE_FALL}x the first, last at least {RANGE_BLOWUP:g}x the lowest)" if losses.size else "no losses")


def _check_sum_orders(c: Claims, fw: str, orders: Mapping) -> None:
    """Other summation orders give other bits, but the same value within rounding; a seed repeats the draws."""
    sums = [float(s) for s in orders["sums"]]
    spread, scale = max(sums) - min(sums), float(orders["abs_sum"])
    c.check(len(set(sums)) > 1 and spread <= SUM_RTOL * scale,
            f"{NAMES[fw]}: one array summed in other orders gives other bits, equal within rounding",
            f"{len(set(sums))} distinct sums of {len(sums)}, spread {spread:.2e} (at most {SUM_RTOL:g} x sum|a| = {SUM_RTOL * scale:.2e})")
    c.check(bool(orders["same_seed_same_draws"]), f"{NAMES[fw]}: the same seed gives the same random draws",
            f"equal: {orders['same_seed_same_draws']}")
