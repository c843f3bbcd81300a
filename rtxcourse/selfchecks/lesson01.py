"""Self-check of lesson 01: number formats, rounding, overflow, underflow, matmul speed, MFU.

The evidence of each framework's sections is optional: a torch-only or TensorFlow-only learner
runs only that framework's sections, and the check checks everything that ran.
"""

from __future__ import annotations

import math

import numpy as np

from rtxcourse.course.checks import Claims
from rtxcourse.precision import FORMATS, round_to


def check(*, limits: dict[str, dict[str, tuple]], tf32_defaults: dict[str, object] | None = None,
          sums: dict[str, float] | None = None, softmax: dict[str, np.ndarray] | None = None,
          gradients: np.ndarray | None = None, matmul: dict[str, dict] | None = None,
          mfus: dict[str, float | None] | None = None) -> None:
    """Check lesson 01's claims.

    * ``limits``: per framework, ``{format: (max, eps, smallest normal)}`` as the framework
      reports them (``eps``/``tiny`` may be None where a framework does not report them);
    * ``tf32_defaults``: the TF32 switches as found at the start, ``{"torch matmul": str,
      "torch conv": str, "tf": bool}`` (keys of frameworks that did not run left out);
    * ``sums``: running sums of 10,000 x 0.01 per format; ``softmax``: the naive softmax of
      [12, 3, -2] per format; ``gradients``: the non-zero fp32 gradient values of the MLP;
    * ``matmul``: per framework, ``{"rates": {dtype: {n: FLOP/s}}, "low": dtype, "floor":
      float | None, "device": "cpu" | "cuda"}``; ``mfus``: MFU values (None: no peak known).
    """
    with Claims("Lesson 01") as c:
        for fw, table in limits.items():
            bad = {}
            for name, values in table.items():
                ours = (FORMATS[name].max, FORMATS[name].eps, FORMATS[name].min_normal)
                if any(v is not None and not math.isclose(v, o, rel_tol=1e-6) for v, o in zip(values, ours)):
                    bad[name] = (values, ours)
            c.check(table and not bad, f"{fw}'s dtype limits match the bit-layout table", f"{len(table)} formats, differing: {bad or 'none'}")
        if tf32_defaults:
            if "tf" in tf32_defaults:
                c.check(tf32_defaults["tf"] is True, "TensorFlow runs float32 matmuls and convolutions in TF32 by default",
                        f"tensor_float_32_execution_enabled() = {tf32_defaults['tf']}")
            if "torch conv" in tf32_defaults:
                c.check(tf32_defaults["torch conv"] == "tf32" and tf32_defaults["torch matmul"] != "tf32",
                        "PyTorch: cuDNN convolutions default to TF32, matmuls to strict fp32",
                        f"conv {tf32_defaults['torch conv']}, matmul {tf32_defaults['torch matmul']}")
        if sums:
            c.check(abs(sums["fp32"] - 100) < 0.1 and sums["fp16"] < 40 and sums["bf16"] < 10,
                    "a running sum of 0.01 stalls in fp16 (at 32) and bf16 (at 4), not in fp32", str(sums))
        if softmax:
            c.check(np.isnan(softmax["fp16"]).any() and np.isfinite(softmax["bf16"]).all(),
                    "exp(12) overflows fp16 (NaN softmax) but not bf16", f"fp16 {softmax['fp16']}, bf16 {softmax['bf16']}")
        if gradients is not None:
            g = np.asarray(gradients, dtype=np.float64)
            g = g[g != 0]
            lost = {k: float(np.mean(round_to(g * s, f) == 0)) if g.size else 0.0
                    for k, f, s in (("fp16", "fp16", 1.0), ("bf16", "bf16", 1.0), ("fp16 x 2^16", "fp16", 2.0**16))}
            c.check(lost["fp16"] > 0.01 and lost["bf16"] == 0 and lost["fp16 x 2^16"] < lost["fp16"] / 10,
                    "fp16 flushes real gradients to zero; bf16 and loss scaling keep them",
                    ", ".join(f"{k} {v:.2%}" for k, v in lost.items()) + f" of {g.size:,}")
        for fw, m in (matmul or {}).items():
            rates, low = m["rates"], m["low"]
            speedup = max(rates[low].values()) / max(rates["fp32"].values()) if low in rates else float("nan")
            if m["floor"] is None:
                print(f"  ({fw}: {low} vs fp32 {speedup:.2f}x; no 16-bit speed-up expected on this {m['device']})")
            else:
                c.check(speedup >= m["floor"], f"{fw}: {low} matmuls beat strict fp32 as this hardware promises",
                        f"best rates {speedup:.2f}x, at least {m['floor']:g}x expected")
        for name, value in (mfus or {}).items():
            if value is not None:
                c.check(0 < value <= 1, f"MFU of the {name} step is a fraction of the peak", f"{value:.1%}")
