"""Self-check of lesson 07 (activation memory): every claim, from the evidence the lesson measured.

    from rtxcourse.selfchecks import lesson07
    lesson07.check(torch=torch_evidence, tf=tf_evidence, batches=found, budget=BUDGET,
                   seed_error=seed_error)

``torch`` / ``tf``: what that framework's sections measured (None when they did not run), a
mapping with the keys of :data:`EVIDENCE` — bytes and seconds as measured, not conclusions.
``batches``: the way -> ``(largest batch, measured peak bytes at it)`` from the batch search,
with ``"fp32"`` and ``"fp32 + checkpointing"`` among the ways; ``budget`` its bytes.
``seed_error``: the type name of what the seed's "activation compression" raised (None: it ran).
"""

from __future__ import annotations

from rtxcourse.course.checks import Claims
from rtxcourse.memory import format_bytes

EVIDENCE = {
    "saved_measured": "bytes the framework's allocator (or saved-tensor hooks) saw for the Linear+ReLU stack",
    "saved_counted": "bytes of the same activations counted by hand",
    "peak_none": "peak bytes of a training step of the deep network, no checkpointing",
    "peak_ckpt": "peak bytes of the same step with every block checkpointed",
    "time_none": "median seconds of the step, no checkpointing",
    "time_ckpt": "median seconds of the checkpointed step, measured in the same run",
    "peak_mixed": "peak bytes of the step under mixed precision (None where the device has none)",
    "mixed_dtype": "dtype name of an activation observed under mixed precision (None where not run)",
}
# Allocators hand out blocks at least as large as the request (TensorFlow's BFC may give a
# free block up to twice a request), so a measurement may exceed the count, never fall below.
AGREE_LOW, AGREE_HIGH = 0.98, 1.2
MIN_CKPT_SAVING = 2.0  # a deep network: blocks keep ~10 widths of activations, checkpoints keep 1
# One extra forward pass is about a third of a step (backward ~ 2 forwards): ~1.3x. The band
# leaves room for a busy shared machine (measured up to 2.6x there at a load of 9 per core, where
# two OpenMP threads stall each other); far above it something is recomputed several times,
# or times of different kinds are compared. The lesson prints the measured overhead.
OVERHEAD_LOW, OVERHEAD_HIGH = 0.9, 4.0
MIN_MIXED_SAVING = 1.25  # 16-bit activations; LayerNorm statistics and casts stay 32-bit
_NOT_GIVEN = object()
SIXTEEN_BIT = {"bfloat16", "float16", "bf16", "fp16", "torch.bfloat16", "torch.float16", "half"}


def _evidence(fw: str, ev) -> dict:
    if not hasattr(ev, "keys"):
        raise TypeError(f"{fw}= must be a mapping with keys {', '.join(EVIDENCE)}, got {type(ev).__name__}")
    missing = [k for k in EVIDENCE if k not in ev]
    if missing:
        raise ValueError(f"{fw} evidence lacks {', '.join(missing)} (expected: {', '.join(EVIDENCE)})")
    return dict(ev)


def _framework_claims(c: Claims, fw: str, ev: dict) -> None:
    m, n = ev["saved_measured"], ev["saved_counted"]
    c.check(n > 0 and AGREE_LOW * n <= m <= AGREE_HIGH * n,
            f"{fw}: the measured activation memory agrees with the hand count",
            f"measured {format_bytes(m)}, counted {format_bytes(n)}, allowed {AGREE_LOW:g}x..{AGREE_HIGH:g}x")
    saving = ev["peak_none"] / ev["peak_ckpt"] if ev["peak_ckpt"] > 0 else float("inf")
    c.check(ev["peak_ckpt"] > 0 and saving >= MIN_CKPT_SAVING,
            f"{fw}: checkpointing lowers the measured peak activation memory of the deep network by >= {MIN_CKPT_SAVING:g}x",
            f"{format_bytes(ev['peak_none'])} -> {format_bytes(ev['peak_ckpt'])}, {saving:.1f}x")
    overhead = ev["time_ckpt"] / ev["time_none"] if ev["time_none"] > 0 else float("inf")
    c.check(OVERHEAD_LOW <= overhead <= OVERHEAD_HIGH,
            f"{fw}: checkpointing costs about one extra forward pass",
            f"step {ev['time_none'] * 1e3:.1f} ms -> {ev['time_ckpt'] * 1e3:.1f} ms, {overhead - 1:+.0%}; "
            f"sane band {OVERHEAD_LOW:g}x..{OVERHEAD_HIGH:g}x")
    if ev["peak_mixed"] is not None:
        mixed = ev["peak_none"] / ev["peak_mixed"] if ev["peak_mixed"] > 0 else float("inf")
        c.check(str(ev["mixed_dtype"]) in SIXTEEN_BIT and ev["peak_mixed"] > 0 and mixed >= MIN_MIXED_SAVING,
                f"{fw}: mixed precision stores 16-bit activations and lowers the peak by >= {MIN_MIXED_SAVING:g}x",
                f"activation dtype {ev['mixed_dtype']}, {format_bytes(ev['peak_none'])} -> "
                f"{format_bytes(ev['peak_mixed'])}, {mixed:.2f}x")


def check(*, torch=None, tf=None, batches=None, budget=None, seed_error=_NOT_GIVEN) -> None:
    """Check lesson 07's claims from its measured evidence; raise AssertionError naming failures."""
    given = {fw: _evidence(fw, ev) for fw, ev in (("torch", torch), ("tf", tf)) if ev is not None}
    with Claims("Lesson 07") as c:
        c.check(bool(given), "the lesson measured at least one framework", ", ".join(given) or "no framework ran")
        for fw, ev in given.items():
            _framework_claims(c, fw, ev)
        if batches is not None:
            if not budget or budget <= 0:
                raise ValueError(f"batches were given without a budget in bytes (got budget={budget!r})")
            for need in ("fp32", "fp32 + checkpointing"):
                if need not in batches:
                    raise ValueError(f"batches lacks the way {need!r} (has: {', '.join(batches)})")
            over = {way: peak for way, (b, peak) in batches.items() if b is None or peak > budget}
            c.check(not over, f"every largest batch was measured within the {format_bytes(budget)} budget",
                    "; ".join(f"{w}: batch {b}, peak {format_bytes(p)}" for w, (b, p) in batches.items()))
            plain, ckpt = batches["fp32"][0] or 0, batches["fp32 + checkpointing"][0] or 0
            c.check(plain > 0 and ckpt >= 2 * plain, "checkpointing fits at least twice the batch in the same budget",
                    f"fp32 {plain}, with checkpointing {ckpt}")
        if seed_error is not _NOT_GIVEN:
            c.check(isinstance(seed_error, str) and bool(seed_error),
                    "the seed's 'activation compression' does not even run (it is not a memory technique)",
                    f"raised {seed_error}" if seed_error else "it ran without an error")
