"""Self-check of lesson 06 (depthwise-separable convolutions), from the lesson's measured evidence.

    from rtxcourse import sections
    from rtxcourse.selfchecks import lesson06
    lesson06.check(ran=sections.ran(), layer=..., counted=..., block=..., outputs=..., cnn=..., convs=...)

Every argument is raw evidence the lesson measured (counts read off the framework's modules,
output arrays, accuracies, seconds, FLOP/s), keyed by framework ("torch", "tf"); the formulas
the counts are held against come from :mod:`rtxcourse.flops`, so a layer that is secretly a
full convolution, a count that forgot the bias, or weights copied without their transpose all
fail here. ``ran`` names the frameworks whose sections ran: each of them must have left its
evidence, and all of it is checked; the outputs of one set of weights in both frameworks are
compared only when both ran (otherwise those claims are left out, and said so).
"""

from __future__ import annotations

import numpy as np

from rtxcourse import flops as F
from rtxcourse.course.checks import Claims

# Outputs of one set of weights in both frameworks, float32: summation order differs, ~1e-7.
OUTPUT_TOLERANCE = 1e-5

# The two CNNs' steps are timed in alternating rounds and compared round by round (median of the
# per-round ratios); the margin leaves room for the load that is left, while a step timed without
# running it (no synchronisation, time x0.0) still fails by far.
TIME_MARGIN = 0.5


def block_params(c_in: int, c_out: int, expansion: int) -> int:
    """Parameters of the MobileNetV2 block (bias-free convs, BN scale and shift) by formula."""
    hidden = c_in * expansion
    expand = (c_in * hidden + 2 * hidden) if expansion != 1 else 0
    return expand + (9 * hidden + 2 * hidden) + (hidden * c_out + 2 * c_out)


def _max_diff(pair) -> tuple[bool, str]:
    a, b = (np.asarray(x, dtype=np.float64) for x in pair)
    if a.shape != b.shape:
        return False, f"shapes {a.shape} and {b.shape} differ (same layout, NHWC, expected)"
    diff = float(np.max(np.abs(a - b))) if a.size else float("inf")
    return diff <= OUTPUT_TOLERANCE, f"max difference {diff:.1e}, tolerance {OUTPUT_TOLERANCE:.0e}"


NAMES = {"torch": "PyTorch", "tf": "TensorFlow"}


def check(*, ran, layer: dict, counted: dict, block: dict, outputs: dict, cnn: dict, convs: dict) -> None:
    """Check every claim of lesson 06 for each framework in ``ran``; raise AssertionError naming the failures.

    ran:     the frameworks whose sections ran (``rtxcourse.sections.ran()``)
    layer:   the separable layer's shape: h, w, c_in, c_out, k, bias (of its pointwise half)
    counted: {framework: params and FLOPs per example counted off that framework's layers:
             separable_params, separable_flops, standard_params, standard_flops (standard: no bias)}
    block:   c_in, c_out, expansion and params: {framework: counted params of the MobileNet block}
    outputs: {"separable layer": (keras_out, torch_out) or None, "MobileNet block": ...}, both NHWC
    cnn:     {framework: {"standard": {...}, "separable": {...}}, each with params, flops, accuracy, step_times (seconds per step, alternating rounds)}
    convs:   {framework: achieved FLOP/s and arithmetic intensity of the convs (standard_rate,
             depthwise_rate, depthwise_intensity) and that framework's measured peak_flops and bandwidth (B/s)}
    """
    ran = sorted(set(ran))
    with Claims("Lesson 06") as c:
        c.check(bool(ran) and set(ran) <= set(NAMES), "the sections of at least one framework ran",
                f"ran: {ran or 'none'} (known: {sorted(NAMES)})")
        for fw in ran:
            evidence = {"counted": counted.get(fw), "block params": block["params"].get(fw), "cnn": cnn.get(fw),
                        "convs": convs.get(fw)}
            missing = [k for k, v in evidence.items() if v is None]
            c.check(not missing, f"{NAMES.get(fw, fw)}: every section that ran left its evidence",
                    f"missing: {', '.join(missing)}" if missing else "counts, block, CNNs and convs present")
            if not missing:
                _check_framework(c, NAMES[fw], layer, counted[fw], dict(block, params=block["params"][fw]), cnn[fw], convs[fw])
        for name, pair in outputs.items():
            if not {"torch", "tf"} <= set(ran):
                print(f"- only {', '.join(NAMES.get(fw, fw) for fw in ran) or 'no framework'} ran: "
                      f"{name} outputs not compared across frameworks")
                continue
            ok, detail = _max_diff(pair) if pair is not None else (False, "no outputs recorded")
            c.check(ok, f"one set of weights gives the same {name} outputs in TF and PyTorch", detail)


def _check_framework(c: Claims, fw: str, layer: dict, counted: dict, block: dict, cnn: dict, convs: dict) -> None:
    """The claims one framework's sections showed."""
    h, w, c_in, c_out, k = (layer[key] for key in ("h", "w", "c_in", "c_out", "k"))
    sep = F.separable_conv2d(h, w, c_in, c_out, k, bias=layer["bias"])
    std = F.conv2d(h, w, c_in, c_out, k, bias=False)
    c.check(counted["separable_params"] == sep.params, f"{fw}: the separable layer has the analytic parameter count exactly",
            f"counted {counted['separable_params']:,}, k²·C_in + C_in·N{' + N' if layer['bias'] else ''} = {sep.params:,}")
    c.check(counted["separable_flops"] == sep.flops, f"{fw}: its counted FLOPs are the formula's",
            f"counted {counted['separable_flops']:,}, formula {sep.flops:,} per example")
    c.check(counted["standard_params"] == std.params and counted["standard_flops"] == std.flops,
            f"{fw}: the standard conv's counts are the formula's", f"params {counted['standard_params']:,} vs {std.params:,}")
    bias_free = sep.params - (c_out if layer["bias"] else 0)
    ratio, expected = bias_free / counted["standard_params"], F.separable_reduction(c_out, k)
    c.check(abs(ratio - expected) < 1e-9, f"{fw}: separable / standard = 1/N + 1/k² (without bias)",
            f"counted {ratio:.4f}, 1/{c_out} + 1/{k}² = {expected:.4f}")
    want = block_params(block["c_in"], block["c_out"], block["expansion"])
    c.check(block["params"] == want, f"{fw}: the MobileNet block has the analytic parameter count",
            f"counted {block['params']:,}, formula {want:,}")
    s, d = cnn["standard"], cnn["separable"]
    c.check(d["params"] <= 0.5 * s["params"] and d["flops"] <= 0.5 * s["flops"],
            f"{fw}: the separable CNN has at most half the standard CNN's parameters and FLOPs",
            f"params {d['params']:,} vs {s['params']:,}, FLOPs {d['flops']:,} vs {s['flops']:,}")
    c.check(min(s["accuracy"], d["accuracy"]) >= 0.5 and d["accuracy"] >= s["accuracy"] - 0.15,
            f"{fw}: both CNNs learned, the separable one within 15 points of the standard one",
            f"test accuracy {d['accuracy']:.3f} vs {s['accuracy']:.3f} (chance 0.1)")
    flop_ratio = d["flops"] / s["flops"]
    time_ratio = float(np.median(np.divide(d["step_times"], s["step_times"])))
    c.check(time_ratio > TIME_MARGIN * flop_ratio, f"{fw}: the separable CNN's step time falls less than its FLOPs",
            f"time x{time_ratio:.2f}, FLOPs x{flop_ratio:.2f} (allowed down to {TIME_MARGIN:g}x the FLOP ratio for timing noise)")
    ridge = convs["peak_flops"] / convs["bandwidth"]
    c.check(convs["depthwise_intensity"] < ridge, f"{fw}: the depthwise conv sits left of the ridge point (memory-bound)",
            f"{convs['depthwise_intensity']:.1f} FLOP/B < ridge {ridge:.1f} FLOP/B")
    c.check(convs["depthwise_rate"] < 0.5 * convs["standard_rate"],
            f"{fw}: the depthwise conv reaches less than half the standard conv's FLOP/s",
            f"{convs['depthwise_rate'] / 1e9:.1f} vs {convs['standard_rate'] / 1e9:.1f} GFLOP/s")
