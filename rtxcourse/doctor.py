"""``rtxcourse doctor``: the machine's facts (:mod:`rtxcourse.hardware`) and what to do with them.

The facts come from :func:`rtxcourse.hardware.report`; the judgement uses the course's one
rule for each question, so the doctor, the lessons and the workers always agree:

* the tier: :func:`rtxcourse.runtime.tier_of` (``RTXCOURSE_TIER``, else the GPU count), the rule
  :func:`rtxcourse.runtime.tier` applies for the lessons;
* the precision: :func:`rtxcourse.precision.machine_plan` (the rule of ``choose_precision``,
  for the machine's weakest GPU, or its CPU);
* the lessons: :func:`rtxcourse.course.catalog.lesson_plan` for that tier.

    from rtxcourse import doctor, hardware
    rep = doctor.report()
    print(hardware.format_report(rep))
"""

from __future__ import annotations

from typing import Any

from rtxcourse import hardware, precision, runtime


def recommend(gpus: list[dict[str, Any]], cpu: dict[str, Any]) -> dict[str, Any]:
    """The tier and the training precision for a machine with ``gpus`` (report dicts) and ``cpu``."""
    feats = cpu.get("features") or {}
    cpu_bf16 = bool(feats.get("avx512_bf16") or feats.get("amx_bf16"))
    plan = precision.machine_plan([g.get("capability") for g in gpus], cpu_bf16=cpu_bf16)
    how = {"bfloat16": "bf16 autocast / mixed_bfloat16 (no loss scaling needed)",
           "float16": "fp16 with dynamic loss scaling: torch.amp.GradScaler / keras LossScaleOptimizer",
           "float32": "fp32"}[plan.dtype]
    if plan.tf32:
        how += "; TF32 for the float32 matmuls left over"
    where = "CPU path" if plan.device == "cpu" else "GPU"
    return {"tier": runtime.tier_of(len(gpus)), "tier_forced": runtime.forced_tier() is not None, "precision": f"{where}: {how} ({plan.reason})",
            "plan": {"device": plan.device, "dtype": plan.dtype, "loss_scaling": plan.loss_scaling, "tf32": plan.tf32}}


def report(frameworks: bool = True) -> dict[str, Any]:
    """Everything ``rtxcourse doctor`` shows, as a JSON-ready dict (never raises)."""
    from rtxcourse.course import catalog

    rep = hardware.report(frameworks=frameworks)
    try:
        rep["recommendation"] = recommend(rep["gpus"], rep["cpu"])
        rep["lessons"] = catalog.lesson_plan(rep["recommendation"]["tier"])
    except Exception as e:  # the doctor must survive anything and say what broke
        rep["errors"]["recommendation"] = f"{type(e).__name__}: {e}"
    return rep
