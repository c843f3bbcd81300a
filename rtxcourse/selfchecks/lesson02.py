"""Self-check of lesson 02 (Keras mixed precision): policies, float32 outputs, loss scaling, bf16 sums."""

from __future__ import annotations

import numpy as np

from rtxcourse.course.checks import Claims


def check(*, policy_compute: str, layer_output: str, kernel: str, model_output: str, global_after: str,
          price16: np.ndarray, price32: np.ndarray, probs16: np.ndarray, probs32: np.ndarray,
          fit_optimizer: str, fit_losses: list[float], loop_losses: list[float],
          nan_loss: float, nan_weight_change: float, scale_before: float, scale_after: float,
          clipnorm_error: str, clipped_losses: list[float],
          fp32_accuracy: float, mixed_accuracy: float, mixed: bool,
          custom_errors: dict[str, str], custom_dtypes: dict[str, str],
          bf16_running_sum: float, fp32_running_sum: float, n_added: int,
          tf32_speedup: float | None = None, tf32_floor: float | None = None) -> None:
    """Check lesson 02's claims from the dtypes, values and losses it observed.

    ``layer_output``/``kernel``/``model_output`` are dtype names as TensorFlow reported them;
    ``nan_weight_change`` is the largest absolute weight change of the NaN step; the running
    sums added ``n_added`` ones; ``tf32_speedup`` is TF32 over strict fp32 matmuls (None when
    not measured), ``tf32_floor`` the least this GPU should show (None: no TF32 gain expected).
    """
    with Claims("Lesson 02") as c:
        c.check(layer_output == policy_compute and kernel == "float32",
                "a layer built under the policy computes in its dtype and keeps float32 variables",
                f"policy {policy_compute}: output {layer_output}, kernel {kernel}")
        c.check(model_output == "float32" and global_after == "float32",
                "the model's logits are float32 and the global policy is restored", f"{model_output}, {global_after}")
        c.check(np.isinf(price16).all() and np.isfinite(price32).all(),
                "an fp16 regression head overflows where a float32 one does not", f"{price16} vs {price32}")
        c.check(probs16.ravel()[-1] == 0 and probs32.ravel()[-1] > 0,
                "a 16-bit softmax loses small probabilities", f"{probs16.ravel()[-1]} vs {probs32.ravel()[-1]:.1e}")
        c.check(fit_optimizer == "LossScaleOptimizer" and fit_losses[-1] < fit_losses[0],
                "compile wraps the optimizer for mixed_float16 and fit learns", f"{fit_optimizer}, loss {fit_losses[0]:.3f} -> {fit_losses[-1]:.3f}")
        c.check(loop_losses[-1] < 0.5 * loop_losses[0], "the loss-scaled custom loop learns",
                f"{loop_losses[0]:.3f} -> {loop_losses[-1]:.3f}")
        c.check(np.isnan(nan_loss) and nan_weight_change == 0 and scale_after == scale_before / 2,
                "a NaN batch is skipped and the loss scale halves",
                f"loss {nan_loss}, weights moved {nan_weight_change:g}, scale {scale_before:g} -> {scale_after:g}")
        c.check("clipnorm" in clipnorm_error and np.isfinite(clipped_losses).all() and clipped_losses[-1] < clipped_losses[0],
                "LossScaleOptimizer refuses clipnorm; on the inner optimizer it trains",
                f"{clipnorm_error[:60]!r}; loss {clipped_losses[0]:.3f} -> {clipped_losses[-1]:.3f}")
        c.check(fp32_accuracy > 0.5 and mixed_accuracy >= fp32_accuracy - 0.05,
                "mixed precision reaches float32's test accuracy", f"{mixed_accuracy:.3f} vs {fp32_accuracy:.3f}")
        if mixed:
            c.check("NaiveScale" in custom_errors and custom_dtypes.get("UpcastScale") == "float32"
                    and custom_dtypes.get("PolicyScale") == policy_compute,
                    "a float32 constant clashes, an upcast leaves the policy, a cast constant follows it",
                    f"errors {sorted(custom_errors)}, dtypes {custom_dtypes}")
        c.check(bf16_running_sum == 256 and fp32_running_sum == n_added > 256,
                "a running sum kept in bf16 stalls at 256; in float32 it is exact",
                f"bf16 {bf16_running_sum:g}, float32 {fp32_running_sum:g} of {n_added} ones")
        if tf32_speedup is not None and tf32_floor is not None:
            c.check(tf32_speedup >= tf32_floor, "TensorFlow's default TF32 beats strict fp32 on this GPU",
                    f"{tf32_speedup:.2f}x, at least {tf32_floor:g}x expected")
