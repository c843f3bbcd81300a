"""Self-check of lesson 10: runs resume exactly, restarted jobs end where uninterrupted ones do, exports agree.

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
          exports: Mapping[str, Mapping[str, tuple]], labels, atol: float = 0.0) -> None:
    """Check lesson 10's claims for each framework in ``ran``; raise AssertionError naming every one that fails.

    ``ran`` names the frameworks whose sections ran (``rtxcourse.sections.ran()``); each of
    them must have left its evidence, keyed by framework ("torch", "tf"), and all of it is
    checked. ``resume[fw]`` (the in-process resume) and ``jobs[fw]`` (the restarted
    two-process job) each hold ``uninterrupted_weights``, ``resumed_weights``,
    ``uninterrupted_losses``, ``resumed_losses``, ``resumed_from_step`` (None: started from
    scratch) and ``total_steps``; a job also ``restart_count`` (what the worker read from its
    launcher). ``exports[fw]`` maps a format name to ``(original_logits, reloaded_logits)``:
    what the trained model and its export reloaded from disk predicted for the test inputs,
    whose labels are ``labels``.
    """
    ran = sorted(set(ran))
    with Claims("Lesson 10") as c:
        c.check(bool(ran) and set(ran) <= set(NAMES), "the sections of at least one framework ran",
                f"ran: {ran or 'none'} (known: {sorted(NAMES)})")
        for fw in (f for f in ran if f in NAMES):
            evidence = {"resume": resume.get(fw), "restarted job": jobs.get(fw), "exports": exports.get(fw)}
            missing = [k for k, v in evidence.items() if v is None]
            c.check(not missing, f"{NAMES[fw]}: every section that ran left its evidence",
                    f"missing: {', '.join(missing)}" if missing else "resume, restarted job and exports present")
            if not missing:
                _check_framework(c, fw, resume[fw], jobs[fw], exports[fw], labels, atol)


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
