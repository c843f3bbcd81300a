"""Self-check of lesson 03 (PyTorch mixed precision): autocast, GradScaler, production steps, side by side."""

from __future__ import annotations

import numpy as np

from rtxcourse.course.checks import Claims


def _underflow(g: np.ndarray, reference: np.ndarray) -> float:
    nonzero = reference != 0
    return float(((g == 0) & nonzero).sum() / max(nonzero.sum(), 1))


def check(*, plan_dtype: str, observed: dict[str, str], reference: np.ndarray, gradients: dict[str, np.ndarray],
          scales: list[float], changed: list[bool], nan_loss: float, nan_weight_change: float,
          rel_error: dict[str, float], clip_norm: float, clipped_norm: float, scale_at_clip: float,
          accumulated_error: float, restored_scale: float, saved_scale: float,
          fp32: dict, mixed: dict, bce_refused: bool | None = None) -> None:
    """Check lesson 03's claims from what it observed.

    * ``plan_dtype``: the plan's compute dtype ('bfloat16', 'float16' or 'float32');
      ``observed``: op -> the dtype name autocast actually returned;
    * ``reference`` / ``gradients``: the fp32 micro-step gradient and the same gradient under
      ``"fp16"``, ``"fp16 + GradScaler"`` and ``"bf16"``;
    * ``scales`` / ``changed``: the scale before each dynamic-scaling step and whether it moved a weight;
    * ``clipped_norm``: the gradient norm after ``unscale_`` + ``clip_grad_norm_(clip_norm)`` at scale
      ``scale_at_clip``; ``accumulated_error``: relative error of gradients accumulated over
      micro-batches through a scaler vs the full batch; ``restored_scale`` vs ``saved_scale``:
      a scaler's scale after ``load_state_dict`` of a checkpoint;
    * ``fp32`` / ``mixed``: the side-by-side runs (``accuracy``, ``loss``, ``activations_MB``);
    * ``bce_refused``: whether CUDA autocast refused ``F.binary_cross_entropy`` (None off CUDA).
    """
    mixed_plan = plan_dtype != "float32"
    with Claims("Lesson 03") as c:
        if mixed_plan:
            c.check(observed["linear (matmul)"] == plan_dtype and observed["cross_entropy"] == "float32",
                    "under autocast matmuls run in the plan's dtype and the loss in float32",
                    f"plan {plan_dtype}: linear {observed['linear (matmul)']}, cross_entropy {observed['cross_entropy']}")
        lost = {k: _underflow(np.asarray(g), np.asarray(reference)) for k, g in gradients.items()}
        c.check(lost["fp16"] > 0.01 and lost["fp16 + GradScaler"] < lost["fp16"] / 20 and lost["bf16"] < 0.001,
                "unscaled fp16 loses gradients that GradScaler and bf16 keep", ", ".join(f"{k} {v:.2%}" for k, v in lost.items()))
        skipped = [s for s, moved in zip(scales, changed) if not moved]
        c.check(skipped and sum(changed[-9:]) >= 8 and scales[-1] < scales[0],
                "the scaler skips overflowing steps, backs off and settles",
                f"{len(skipped)} of {len(scales)} skipped, scale 2^{np.log2(scales[0]):.0f} -> 2^{np.log2(scales[-1]):.0f}")
        c.check(np.isnan(nan_loss) and nan_weight_change == 0, "a NaN batch's step is skipped",
                f"loss {nan_loss}, weights moved {nan_weight_change:g}")
        c.check(rel_error["fp32"] < 1e-6 < rel_error["tf32"] < rel_error["bf16"] < 0.05,
                "TF32 costs about fp16's precision, bf16 more", str({k: f"{v:.1e}" for k, v in rel_error.items()}))
        c.check(clipped_norm <= clip_norm * 1.001 and scale_at_clip > 1,
                "unscale_ before clip_grad_norm_ clips the true gradients",
                f"norm {clipped_norm:.3g} after clipping to {clip_norm:g} at scale {scale_at_clip:g}")
        c.check(accumulated_error < 0.01, "accumulating micro-batches through the scaler gives the full-batch gradient",
                f"relative error {accumulated_error:.1e}")
        c.check(restored_scale == saved_scale and saved_scale != 2.0**16,
                "the scaler's state survives a checkpoint", f"saved {saved_scale:g}, restored {restored_scale:g}")
        c.check(fp32["accuracy"] > 0.5 and mixed["accuracy"] >= fp32["accuracy"] - 0.05
                and abs(mixed["loss"] - fp32["loss"]) < 0.15 + 0.5 * fp32["loss"],
                "mixed precision trains to float32's accuracy",
                f"accuracy {mixed['accuracy']:.3f} vs {fp32['accuracy']:.3f}, loss {mixed['loss']:.3f} vs {fp32['loss']:.3f}")
        if mixed_plan:
            c.check(mixed["activations_MB"] < 0.6 * fp32["activations_MB"], "mixed precision keeps about half the activations",
                    f"{mixed['activations_MB']:.2f} vs {fp32['activations_MB']:.2f} MB saved for backward")
        if bce_refused is not None:
            c.check(bce_refused, "CUDA autocast refuses F.binary_cross_entropy (use binary_cross_entropy_with_logits)")
