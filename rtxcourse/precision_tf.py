"""Mixed precision in Keras 3 (TensorFlow backend): the plan for this machine as a dtype policy.

    from rtxcourse import precision_tf as ptf
    plan = ptf.plan()                          # bf16 on Ampere+/AVX512_BF16 CPUs, fp16+scaling on Volta/Turing
    with ptf.policy(plan):                     # layers built inside compute in the plan's dtype
        model = build_model()                  # ... with a float32 output layer
    model.compile(optimizer=ptf.optimizer(keras.optimizers.Adam(), plan), ...)

A Keras policy is global state read when a layer is *built*: set it before creating the model,
and restore it afterwards (:func:`policy` does both), or every later model inherits it.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Callable

from rtxcourse import hardware, runtime
from rtxcourse.precision import PrecisionPlan, PrecisionWarning, choose_precision
from rtxcourse.runtime import import_tensorflow

tf = import_tensorflow()  # quiet start-up before keras pulls TensorFlow in
import keras  # noqa: E402


def gpu_capability() -> tuple[int, int] | None:
    """Compute capability of TensorFlow's first GPU, or None when it sees none."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    cap = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
    return tuple(cap) if cap else None


def plan(requested="auto") -> PrecisionPlan:
    """The :class:`~rtxcourse.precision.PrecisionPlan` for the device TensorFlow will use.

    TensorFlow places work on its first GPU when it sees one, else on the CPU. See
    :func:`rtxcourse.precision.choose_precision` for the rules and warnings.
    """
    if not tf.config.list_physical_devices("GPU"):
        _warn_if_driver_sees_gpus()
        return choose_precision("cpu", requested=requested, stacklevel=3)
    cap = gpu_capability()
    if cap is None:
        raise ValueError("TensorFlow sees a GPU but reports no compute capability; pass one to "
                         "rtxcourse.precision.choose_precision('cuda', capability=...) yourself")
    name = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get("device_name")
    return choose_precision("cuda", requested=requested, capability=cap, name=name, stacklevel=3)


_warned_driver_gpus = False  # say it once per process, not at every plan()


def _warn_if_driver_sees_gpus() -> None:
    """Warn when the NVIDIA driver shows GPUs that this TensorFlow cannot use; size lessons for the CPU.

    The usual cause is a TensorFlow without its CUDA libraries. TensorFlow's own message about
    it is a C++ warning, which the course's quiet start-up (TF_CPP_MIN_LOG_LEVEL) hides. Lesson
    sizes follow the hardware tier, so the tier drops to ``cpu``
    (:func:`rtxcourse.runtime.fall_back_to_cpu_tier`), unless torch is using a GPU in this
    process (a lesson with both frameworks keeps torch's GPU sizes).
    """
    global _warned_driver_gpus
    n = hardware.visible_gpu_count()
    if not n or _warned_driver_gpus:
        return
    _warned_driver_gpus = True
    torch = sys.modules.get("torch")
    torch_on_gpu = torch is not None and torch.cuda.is_available()
    if torch_on_gpu:
        sizes = "lessons keep their GPU sizes for torch, which uses the GPU"
    elif runtime.fall_back_to_cpu_tier("TensorFlow sees none of the driver's GPUs"):
        sizes = "lessons use CPU sizes from here on"
    else:
        sizes = f"the hardware tier stays {runtime.tier()!r}"
    warnings.warn(
        f"the NVIDIA driver shows {n} GPU(s) but TensorFlow sees none, so TensorFlow runs on the CPU "
        f"({sizes}). Most often TensorFlow cannot load its CUDA libraries: "
        "pip install 'tensorflow[and-cuda]==2.21.0' (README, 'GPU users'); "
        "`rtxcourse doctor` shows what each framework sees",
        PrecisionWarning, stacklevel=3)


@contextlib.contextmanager
def policy(p: PrecisionPlan | str):
    """Context manager: the Keras global dtype policy of ``p`` (a plan or a policy name) inside.

    Models built inside compute in the policy's dtype with float32 variables; the previous
    global policy is restored on exit. A plan's TF32 switch applies inside too.
    """
    name = p.keras_policy if isinstance(p, PrecisionPlan) else p
    if not isinstance(name, str):
        raise TypeError(f"policy() needs a PrecisionPlan or a policy name such as 'mixed_bfloat16', got {p!r}")
    old = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        with tf32(p.tf32) if isinstance(p, PrecisionPlan) else contextlib.nullcontext():
            yield keras.mixed_precision.global_policy()
    finally:
        keras.mixed_precision.set_global_policy(old)


def set_tf32(enabled: bool) -> None:
    """Allow (or forbid) TF32 for float32 matmuls and convolutions on Ampere+ GPUs.

    TensorFlow allows TF32 by default (PyTorch does not, for matmuls): a strict float32
    baseline must turn it off. No effect on a CPU.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"set_tf32() needs True or False, got {enabled!r}")
    tf.config.experimental.enable_tensor_float_32_execution(enabled)


@contextlib.contextmanager
def tf32(enabled: bool):
    """Context manager: :func:`set_tf32` inside, the previous setting restored on exit."""
    old = tf.config.experimental.tensor_float_32_execution_enabled()
    set_tf32(enabled)
    try:
        yield
    finally:
        set_tf32(old)


def optimizer(opt: keras.optimizers.Optimizer, p: PrecisionPlan) -> keras.optimizers.Optimizer:
    """Wrap ``opt`` in a ``LossScaleOptimizer`` (dynamic loss scaling) when the plan needs it.

    ``Model.compile`` also wraps automatically under ``mixed_float16`` (``auto_scale_loss=True``);
    a custom training loop needs the wrapper explicitly, with ``scale_loss`` and ``apply``.
    """
    if not isinstance(opt, keras.optimizers.Optimizer):
        raise TypeError(f"optimizer() needs a keras optimizer, got {type(opt).__name__}")
    if p.loss_scaling and not isinstance(opt, keras.mixed_precision.LossScaleOptimizer):
        return keras.mixed_precision.LossScaleOptimizer(opt)
    return opt


def make_train_step(model: keras.Model, opt: keras.optimizers.Optimizer, loss_fn: Callable,
                    *, jit_compile: bool = False) -> Callable:
    """Return a compiled ``step(X, y) -> loss`` for a custom loop, loss-scaled when ``opt`` is.

    ``opt.scale_loss`` multiplies the loss by the current scale (a no-op for a plain optimizer);
    ``opt.apply`` of a ``LossScaleOptimizer`` divides the gradients by it, skips the update when
    one is inf/NaN and adjusts the scale. The loss is computed in float32 from the float32 logits.
    """

    @tf.function(jit_compile=jit_compile)
    def step(X, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(X, training=True))
            scaled = opt.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        opt.apply(grads, model.trainable_variables)
        return loss

    return step

