"""Self-check of lesson 12 (the capstone): each step did what the notebook says it did, on this machine.

    from rtxcourse.selfchecks import lesson12
    lesson12.check(torch=evidence["torch"], tf=evidence["tf"])

Each framework's evidence (None when its sections did not run) maps a step of
:data:`rtxcourse.capstone.STEPS` to what that step measured: the keywords of its verdict
function (``capstone.verdict_<step>``) plus ``helped``, the verdict the notebook printed, and a
few extra measurements (:data:`EXTRA`). The check recomputes every verdict from the numbers, so
a notebook that claims a gain it did not measure (or hides one it did) fails, and checks the
claims that hold on any hardware: mixed precision's accuracy tracks fp32, the separable model
has fewer FLOPs and parameters, every batch said to fit was measured within the budget,
checkpointing in segments lowers PyTorch's measured peak at the same batch (a checkpoint that
recomputes nothing would be reported as "did not help" by its verdict alone), and several
devices trained the same weights as one process.
"""

from __future__ import annotations

import math

from rtxcourse import capstone
from rtxcourse.course.checks import Claims
from rtxcourse.memory import format_bytes

EXTRA = {
    "baseline": ("accuracy", "epoch_seconds"),
    "checkpoint": ("peak_found",),  # measured peak of the checkpointed step at batch_after
    "devices": ("weight_change",),  # how far the reference weights moved from their initial values
}
MIN_BASELINE_ACCURACY = 0.5  # ten classes: chance is 0.1; the baseline must have learnt something
MIN_WEIGHT_CHANGE = 10 * capstone.WEIGHTS_ATOL  # "equal weights" means nothing if training moved nothing


def _args(step: str, ev: dict) -> dict:
    import inspect

    names = [p for p in inspect.signature(capstone.VERDICTS[step]).parameters]
    return {k: ev[k] for k in names if k in ev}


def _validate(fw: str, evidence) -> dict:
    if not hasattr(evidence, "keys"):
        raise TypeError(f"{fw}= must map steps to their measurements, got {type(evidence).__name__}")
    missing = [s for s in capstone.STEPS if s not in evidence]
    if missing:
        raise ValueError(f"{fw} evidence lacks the step(s) {', '.join(missing)}")
    for step in capstone.STEPS:
        ev = evidence[step]
        need = list(EXTRA.get(step, ()))
        if step in capstone.VERDICTS:
            import inspect

            sig = inspect.signature(capstone.VERDICTS[step]).parameters
            need += [p for p, v in sig.items() if v.default is inspect.Parameter.empty] + ["helped"]
        lacking = [k for k in need if k not in ev]
        if lacking:
            raise ValueError(f"{fw} evidence of step {step!r} lacks {', '.join(lacking)}")
    return {s: dict(evidence[s]) for s in capstone.STEPS}


def _claims(c: Claims, fw: str, ev: dict) -> None:
    base = ev["baseline"]
    c.check(base["accuracy"] >= MIN_BASELINE_ACCURACY,
            f"{fw}: the baseline learnt the digits (accuracy >= {MIN_BASELINE_ACCURACY:.0%})",
            f"accuracy {base['accuracy']:.1%}, {base['epoch_seconds']:.3f} s/epoch")
    for step in capstone.VERDICTS:
        said, truth = bool(ev[step]["helped"]), capstone.judge(step, **_args(step, ev[step]))
        c.check(said == truth.helped,
                f"{fw}: step '{capstone.TITLES[step]}' says {'it helped' if said else 'it did not help'}, as measured",
                str(truth))
    m = ev["mixed"]
    if m["dtype"] not in ("float32", "fp32", "tf32"):
        gap = abs(m["accuracy_mixed"] - m["accuracy_fp32"])
        c.check(gap <= capstone.ACCURACY_TOLERANCE, f"{fw}: {m['dtype']} accuracy tracks fp32's",
                f"{m['accuracy_mixed']:.1%} vs {m['accuracy_fp32']:.1%}, allowed {capstone.ACCURACY_TOLERANCE:.0%}")
    s = ev["separable"]
    c.check(s["flop_ratio"] > 1.5 and s["param_ratio"] > 1.5,
            f"{fw}: the separable model has fewer FLOPs and parameters (counted)",
            f"{s['flop_ratio']:.2f}x fewer FLOPs, {s['param_ratio']:.2f}x fewer parameters")
    k = ev["checkpoint"]
    c.check(0 < k["peak_found"] <= k["budget"] and k["batch_after"] >= k["batch_before"] > 0,
            f"{fw}: the checkpointed batch was measured within the budget",
            f"batch {k['batch_after']} peaked at {format_bytes(k['peak_found'])} of {format_bytes(k['budget'])}; "
            f"without checkpointing {k['batch_before']}")
    if fw == "torch":  # exact sizes of the saved tensors; TF on a CPU sees allocations >= 256 KiB only
        c.check(k["peak_after"] < k["peak_before"],
                f"{fw}: checkpointing in segments lowers the peak of a step at the same batch",
                f"{format_bytes(k['peak_before'])} -> {format_bytes(k['peak_after'])}")
    d = ev["devices"]
    ok = (math.isfinite(d["max_weight_diff"]) and d["max_weight_diff"] <= capstone.WEIGHTS_ATOL
          and d["weight_change"] >= MIN_WEIGHT_CHANGE)
    c.check(ok, f"{fw}: {d['nprocs']} devices trained the same weights as one process (and training moved them)",
            f"max difference {d['max_weight_diff']:.1e} (allowed {capstone.WEIGHTS_ATOL:g}); weights moved "
            f"{d['weight_change']:.1e} from their initial values (needed >= {MIN_WEIGHT_CHANGE:g})")


def check(*, torch=None, tf=None) -> None:
    """Check lesson 12's claims from its measured evidence; raise AssertionError naming the failures."""
    given = {fw: _validate(fw, ev) for fw, ev in (("torch", torch), ("tf", tf)) if ev is not None}
    with Claims("Lesson 12") as c:
        c.check(bool(given), "the lesson measured at least one framework", ", ".join(given) or "no framework ran")
        for fw, ev in given.items():
            _claims(c, fw, ev)
