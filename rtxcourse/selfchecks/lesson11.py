"""Self-check of lesson 11: the estimator agrees with what this machine measured.

The lesson passes its raw evidence: the estimated and the measured memory parts of each model
and precision, the FLOPs PyTorch counted and the estimator's formula, the achieved FLOP/s and
the ceiling it was divided by, the predicted and the measured epoch time.
"""

from __future__ import annotations

from rtxcourse.course.checks import Claims

MEMORY_TOLERANCE = 0.15  # estimated memory (total, and activations) within 15% of the measured
FLOP_TOLERANCE = {"forward": 0.05, "training": 0.10}  # training: the first layer skips its input gradient
EPOCH_FACTOR = {"cuda": 1.3, "cpu": 3.0}  # median predicted/measured epoch within this factor: a shared CPU times noisily
SIXTEEN_BIT_ACTIVATIONS = 0.75  # a 16-bit run keeps at most 3/4 of fp32's activation bytes (ideal: 1/2)


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def check(*, estimated: dict, measured: dict, counted_forward_flops: float, counted_training_flops: float,
          formula_forward_flops: float, formula_training_flops: float, mfus, predicted_epochs_s,
          measured_epochs_s, device: str = "cpu") -> None:
    """Check lesson 11's claims; ``estimated``/``measured`` map (model, precision) to bytes per part.

    ``mfus``, ``predicted_epochs_s`` and ``measured_epochs_s`` hold one value per round of
    (calibrate the MFU on a few steps, predict an epoch, time it).
    """
    with Claims("Lesson 11") as c:
        for key, m in measured.items():
            name, precision = key
            e = estimated[key]
            total = _ratio(sum(e.values()), m["total"])
            c.check(abs(total - 1) <= MEMORY_TOLERANCE, f"{name} {precision}: estimated memory within "
                    f"{MEMORY_TOLERANCE:.0%} of the measured", f"{total:.3f}x ({sum(e.values()) / 2**20:.2f} vs "
                    f"{m['total'] / 2**20:.2f} MiB)")
            act = _ratio(e["activations"], m["activations"])
            c.check(abs(act - 1) <= MEMORY_TOLERANCE, f"{name} {precision}: estimated activations within "
                    f"{MEMORY_TOLERANCE:.0%} of the measured", f"{act:.3f}x")
        for (name, precision), m in measured.items():
            if precision != "fp32" and (name, "fp32") in measured:
                share = _ratio(m["activations"], measured[name, "fp32"]["activations"])
                c.check(share <= SIXTEEN_BIT_ACTIVATIONS, f"{name}: the {precision} run keeps 16-bit activations",
                        f"{share:.2f} of fp32's bytes")
        fwd = _ratio(formula_forward_flops, counted_forward_flops)
        c.check(abs(fwd - 1) <= FLOP_TOLERANCE["forward"], "the forward FLOP formula matches FlopCounterMode",
                f"{fwd:.3f}x")
        train = _ratio(formula_training_flops, counted_training_flops)
        c.check(abs(train - 1) <= FLOP_TOLERANCE["training"],
                "training FLOPs (3 x forward) match FlopCounterMode's forward + backward", f"{train:.3f}x")
        c.check(len(mfus) > 0 and all(0 < m <= 1 for m in mfus), "MFU is a fraction of the ceiling: 0 < MFU <= 1",
                ", ".join(f"{m:.4f}" for m in mfus))
        factor = EPOCH_FACTOR["cuda" if device == "cuda" else "cpu"]
        ratios = sorted(_ratio(p, m) for p, m in zip(predicted_epochs_s, measured_epochs_s))
        median = ratios[len(ratios) // 2] if ratios else float("nan")
        c.check(bool(ratios) and 1 / factor <= median <= factor,
                f"predicted epoch time within {factor}x of the measured epoch (median of {len(ratios)} rounds)",
                ", ".join(f"{r:.2f}x" for r in ratios))
