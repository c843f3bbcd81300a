"""Self-check of lesson 11: the estimator's arithmetic, and its agreement with what this machine ran.

The lesson passes raw evidence. Framework-neutral (always): the bytes per parameter the
estimator gives for each (precision, optimizer), its totals per GPU for each ZeRO stage, the
activations without and with checkpointing. Per framework whose section ran (``ran``, from
:func:`rtxcourse.sections.ran`): the estimated and the measured (or counted) memory parts of
each (model, precision), the estimator's forward FLOPs and the framework's count (and, where the
framework counts the backward pass too, training FLOPs), the estimator's and the framework's
parameter counts, the calibrated MFUs and the predicted and measured epoch times.
"""

from __future__ import annotations

from rtxcourse.course.checks import Claims

MEMORY_TOLERANCE = 0.15  # estimated memory (total, and activations) within 15% of the measured
FLOP_TOLERANCE = {"forward": 0.05, "training": 0.10}  # training: the first layer skips its input gradient
EPOCH_FACTOR = {"cuda": 1.3, "cpu": 3.0}  # median predicted/measured epoch within this factor: a shared CPU times noisily
SIXTEEN_BIT_ACTIVATIONS = 0.75  # a 16-bit run keeps at most 3/4 of fp32's activation bytes (ideal: 1/2)
BYTES_PER_PARAM = {("fp32", "sgd"): 8, ("fp32", "adam"): 16, ("bf16", "adam"): 18}  # the module docstring's table
FRAMEWORKS = ("torch", "tf")


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def _neutral(c, bytes_per_param: dict, shard_totals: dict, activations: tuple) -> None:
    for key, want in BYTES_PER_PARAM.items():
        got = bytes_per_param.get(key, float("nan"))
        c.check(abs(got - want) < 1e-9, f"{key[0]} + {key[1]} costs {want} B/param before activations", f"{got:g} B/param")
    order = ("none", "zero1", "zero2", "zero3")
    totals = [shard_totals.get(s, float("nan")) for s in order]
    c.check(all(a > b for a, b in zip(totals, totals[1:])), "each ZeRO stage shrinks the memory per GPU",
            ", ".join(f"{s} {t / 2**30:.1f} GiB" for s, t in zip(order, totals)))
    plain, ckpt = activations
    c.check(0 < ckpt < plain, "activation checkpointing keeps fewer activation bytes", f"{plain / 2**30:.2f} -> {ckpt / 2**30:.2f} GiB")


def _framework(c, fw: str, ev: dict, device: str) -> None:
    estimated, measured = ev["estimated"], ev["measured"]
    c.check(len(measured) > 0, f"{fw}: memory was measured for at least one model", f"{len(measured)} runs")
    for (name, precision), m in measured.items():
        e = estimated[name, precision]
        total = _ratio(sum(e.values()), m["total"])
        c.check(abs(total - 1) <= MEMORY_TOLERANCE, f"{fw} {name} {precision}: estimated memory within "
                f"{MEMORY_TOLERANCE:.0%} of the {ev['memory_source']}", f"{total:.3f}x ({sum(e.values()) / 2**20:.2f} vs "
                f"{m['total'] / 2**20:.2f} MiB)")
        act = _ratio(e["activations"], m["activations"])
        c.check(abs(act - 1) <= MEMORY_TOLERANCE, f"{fw} {name} {precision}: estimated activations within "
                f"{MEMORY_TOLERANCE:.0%} of the {ev['memory_source']}", f"{act:.3f}x")
        if precision != "fp32" and (name, "fp32") in measured:
            share = _ratio(m["activations"], measured[name, "fp32"]["activations"])
            c.check(share <= SIXTEEN_BIT_ACTIVATIONS, f"{fw} {name}: the {precision} run keeps 16-bit activations",
                    f"{share:.2f} of fp32's bytes")
    formula, counted = ev["forward_flops"]
    fwd = _ratio(formula, counted)
    c.check(abs(fwd - 1) <= FLOP_TOLERANCE["forward"], f"{fw}: the forward FLOP formula matches the framework's count",
            f"{fwd:.3f}x")
    if ev.get("training_flops") is not None:
        formula, counted = ev["training_flops"]
        train = _ratio(formula, counted)
        c.check(abs(train - 1) <= FLOP_TOLERANCE["training"],
                f"{fw}: training FLOPs (3 x forward) match the counted forward + backward", f"{train:.3f}x")
    est_params, fw_params = ev["params"]
    c.check(est_params == fw_params, f"{fw}: the estimator's parameter count equals the model's",
            f"{est_params:,} vs {fw_params:,}")
    mfus = ev["mfus"]
    c.check(len(mfus) > 0 and all(0 < m <= 1 for m in mfus), f"{fw}: MFU is a fraction of the ceiling: 0 < MFU <= 1",
            ", ".join(f"{m:.4f}" for m in mfus))
    factor = EPOCH_FACTOR["cuda" if device == "cuda" else "cpu"]
    ratios = sorted(_ratio(p, m) for p, m in zip(ev["predicted_epochs_s"], ev["measured_epochs_s"]))
    median = ratios[len(ratios) // 2] if ratios else float("nan")
    c.check(bool(ratios) and 1 / factor <= median <= factor,
            f"{fw}: predicted epoch time within {factor}x of the measured epoch (median of {len(ratios)} rounds)",
            ", ".join(f"{r:.2f}x" for r in ratios))


def check(*, ran, bytes_per_param: dict, shard_totals: dict, activations: tuple, torch: dict | None = None,
          tf: dict | None = None, device: str = "cpu") -> None:
    """Check lesson 11's claims: the neutral arithmetic always, each framework's section where it ran.

    ``ran`` is the set of frameworks whose sections ran; ``torch`` / ``tf`` hold that framework's
    evidence (None where its section did not run): ``estimated`` and ``measured`` map (model,
    precision) to bytes per part, ``memory_source`` says whether the memory was 'measured' or
    'counted', ``forward_flops`` and ``training_flops`` are (formula, counted) pairs (training
    None where the framework counts no backward pass), ``params`` is (estimator, model), and
    ``mfus``, ``predicted_epochs_s``, ``measured_epochs_s`` hold one value per timing round.
    """
    evidence = {"torch": torch, "tf": tf}
    with Claims("Lesson 11") as c:
        _neutral(c, bytes_per_param, shard_totals, activations)
        for fw in FRAMEWORKS:
            if fw in ran or evidence[fw] is not None:
                c.check(fw in ran and evidence[fw] is not None, f"{fw}: evidence given exactly when its section ran",
                        f"section {'ran' if fw in ran else 'did not run'}, evidence "
                        f"{'given' if evidence[fw] is not None else 'missing'}")
            if fw in ran and evidence[fw] is not None:
                _framework(c, fw, evidence[fw], device)
