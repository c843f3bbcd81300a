"""Self-check of lesson 10: runs resume exactly, restarted jobs end where uninterrupted ones do, exports agree.

Every argument is raw evidence measured in the lesson (weights, losses, predictions, counters);
the verdicts are reached here. Weights are compared bit for bit (``atol=0``): on a CPU every
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


def check(*, torch_resume: Mapping, keras_resume: Mapping, torchrun_job: Mapping, tf_job: Mapping,
          exports: Mapping[str, tuple], labels, atol: float = 0.0) -> None:
    """Check lesson 10's claims; raise AssertionError naming every one that fails.

    ``torch_resume``, ``keras_resume``, ``torchrun_job`` and ``tf_job`` each hold
    ``uninterrupted_weights``, ``resumed_weights``, ``uninterrupted_losses``, ``resumed_losses``,
    ``resumed_from_step`` (None: started from scratch) and ``total_steps``; the two jobs also
    ``restart_count`` (what the worker read from its launcher). ``exports`` maps a format name
    to ``(original_logits, reloaded_logits)``: what the trained model and its export reloaded
    from disk predicted for the test inputs, whose labels are ``labels``.
    """
    with Claims("Lesson 10") as c:
        _resumed(c, "PyTorch checkpoint", torch_resume, atol)
        _resumed(c, "Keras BackupAndRestore", keras_resume, atol)
        for name, job in (("torchrun --max-restarts", torchrun_job), ("TF multi-worker", tf_job)):
            c.check(job["restart_count"] >= 1, f"{name}: a worker was killed and the job restarted",
                    f"restart count {job['restart_count']}")
            _resumed(c, name, job, atol)
        c.check(len(exports) >= 3, "three export formats were reloaded", ", ".join(exports) or "none")
        for fmt, (original, reloaded) in exports.items():
            original = np.asarray(original)
            accuracy = float(np.mean(original.argmax(-1) == np.asarray(labels))) if original.ndim == 2 else 0.0
            d = _max_diff(reloaded, original)
            c.check(accuracy >= MIN_ACCURACY and d <= EXPORT_ATOL,
                    f"{fmt}: the trained model, reloaded, gives the same predictions",
                    f"test accuracy {accuracy:.3f} (at least {MIN_ACCURACY}), max logit diff {d:.1e} "
                    f"(tolerance {EXPORT_ATOL:g})")
