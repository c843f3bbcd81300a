"""Run-time switches shared by every lesson: quick mode, seeds and the hardware tier.

Quick mode (``RTXCOURSE_QUICK=1``, set by the tests) shrinks every lesson so it finishes in
about a minute on a 2-core CPU. Without it, sizes follow the hardware tier:

* ``cpu``: no usable NVIDIA GPU,
* ``1-gpu``: exactly one,
* ``multi-gpu``: two or more.

Lessons never read the environment themselves; they ask this module::

    import rtxcourse as rc
    env = rc.setup(seed=0)                     # quiet frameworks, seed, print the machine
    n = rc.by_tier(quick=512, cpu=4096, gpu=65536)
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass
from functools import lru_cache

TIERS = ("cpu", "1-gpu", "multi-gpu")
_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


_QUICK: bool | None = None


def quick_mode() -> bool:
    """Return True when ``RTXCOURSE_QUICK`` asks for the small, fast version of each lesson."""
    global _QUICK
    if _QUICK is None:  # read once, so a lesson cannot change size half-way through
        _QUICK = _env_flag("RTXCOURSE_QUICK")
    return _QUICK


def set_quick_mode(value: bool | None) -> None:
    """Override quick mode (``None`` re-reads the environment); for tests and the CLI."""
    global _QUICK
    _QUICK = value


def tier_rank(tier: str) -> int:
    """Return the position of ``tier`` in :data:`TIERS` (cpu < 1-gpu < multi-gpu)."""
    if tier not in TIERS:
        raise ValueError(f"unknown hardware tier {tier!r}; expected one of {', '.join(TIERS)}")
    return TIERS.index(tier)


@lru_cache(maxsize=None)
def _machine_tier() -> tuple[str, bool]:
    """(tier from RTXCOURSE_TIER or the driver's GPU count, whether RTXCOURSE_TIER forced it)."""
    forced = os.environ.get("RTXCOURSE_TIER", "").strip()
    if forced:
        tier_rank(forced)
        return forced, True
    from rtxcourse.hardware import visible_gpu_count

    n = visible_gpu_count()
    return ("cpu" if n == 0 else "1-gpu" if n == 1 else "multi-gpu"), False


_cpu_fallback: str | None = None  # why a framework could not use the GPUs the driver reports


def tier() -> str:
    """Return the hardware tier of this machine from the GPUs the driver reports.

    Uses the driver (``nvidia-smi`` or ``/proc/driver/nvidia``), not a framework, so asking
    costs milliseconds and loads neither TensorFlow nor torch. ``RTXCOURSE_TIER`` overrides it
    (an instructor can force the CPU path on a GPU box). When a framework turns out unable to
    use those GPUs (:func:`fall_back_to_cpu_tier`), the tier is ``cpu`` from then on.
    """
    found, forced = _machine_tier()
    return "cpu" if _cpu_fallback and not forced else found


def fall_back_to_cpu_tier(reason: str) -> bool:
    """Size lessons for the CPU from now on: the driver shows GPUs, but the framework cannot use them.

    Called by the frameworks' device choice (``precision_torch.default_device``,
    ``precision_tf.plan``) so that a CPU-only wheel on a GPU machine runs CPU sizes instead of
    GPU sizes on the CPU. Returns True when this call changed the tier; an ``RTXCOURSE_TIER``
    set by the user is kept (False).
    """
    global _cpu_fallback
    if not isinstance(reason, str) or not reason:
        raise ValueError(f"say why the GPU tier is given up, got {reason!r}")
    found, forced = _machine_tier()
    if forced or found == "cpu" or _cpu_fallback:
        return False
    _cpu_fallback = reason
    return True


def by_tier(*, quick, cpu, gpu=None, multi_gpu=None):
    """Pick a size for this run: ``quick`` in quick mode, else the value for the hardware tier.

    ``gpu`` defaults to ``cpu`` and ``multi_gpu`` to ``gpu``, so a lesson names only the sizes
    that differ.
    """
    if quick_mode():
        return quick
    gpu = cpu if gpu is None else gpu
    multi_gpu = gpu if multi_gpu is None else multi_gpu
    return {"cpu": cpu, "1-gpu": gpu, "multi-gpu": multi_gpu}[tier()]


def seed_everything(seed: int = 0, *, deterministic: bool = False) -> list[str]:
    """Seed Python, NumPy and every framework already imported; return what was seeded.

    Frameworks that are not imported yet are not imported here (that would cost seconds and
    load a framework a lesson may not use): call this after your framework imports.
    ``deterministic=True`` also asks torch and TensorFlow for deterministic kernels, which
    can be slower; it is for checks that compare runs bit for bit.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import numpy as np

    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses (workers) started later
    random.seed(seed)
    np.random.seed(seed)
    seeded = ["random", "numpy"]
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)  # seeds every CUDA device too
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        seeded.append("torch")
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.random.set_seed(seed)
        if deterministic:
            tf.config.experimental.enable_op_determinism()
        seeded.append("tensorflow")
    if "keras" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)
        seeded.append("keras")
    return seeded


def quiet_frameworks() -> None:
    """Silence framework start-up noise (CUDA probing, oneDNN notices) before they are imported.

    TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` once, at import, so this must run first. Level 3
    hides all of TensorFlow's C++ log lines, errors included (on a CPU its "errors" are notices
    such as oneDNN falling back from fp16); failures still raise Python exceptions, and the GPU
    problems those lines would report are what ``rtxcourse doctor`` diagnoses (and
    :func:`import_tensorflow` says when a GPU lacks ready kernels). An explicit value set by the
    user is kept: ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("KMP_WARNINGS", "0")


# C++ start-up notices TensorFlow writes straight to file descriptor 2 before its logging is
# configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them. Matched lines are dropped; others pass.
_TF_NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "Unable to register cu",
    "computation placer already registered",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
    "TF-TRT Warning",
)


def import_tensorflow():
    """Import TensorFlow quietly and return the module.

    Framework noise on a machine without a GPU ("failed call to cuInit", oneDNN notices) is
    filtered from the process's stderr during the import; any other message is kept.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    import tempfile

    quiet_frameworks()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            # Grow GPU memory on demand instead of TensorFlow's default of taking nearly all of it,
            # so torch (same kernel, lessons 01 and 05) and other processes still get memory.
            gaps = set()
            for gpu in tf.config.list_physical_devices("GPU"):  # also the CUDA probe, filtered
                try:
                    tf.config.experimental.set_memory_growth(gpu, True)
                except RuntimeError:  # devices already initialised: the setting is fixed now
                    pass
                gaps.add(_tf_kernel_gap(tf, gpu))
            # In an interactive session (a notebook) TensorFlow sets its Python logger to INFO,
            # which floods cells with tf.distribute chatter; warnings and errors still show.
            tf.get_logger().setLevel("WARNING")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [ln for ln in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if ln.strip() and not any(n in ln for n in _TF_NOISE)]
            if kept:
                sys.stderr.write("".join(kept))
    for gap in sorted(g for g in gaps if g):  # hidden by the quiet log level, and it looks like a hang
        print(f"rtxcourse: TensorFlow {tf.__version__} {gap}", file=sys.stderr)
    return tf


def _tf_kernel_gap(tf, gpu) -> str | None:
    """:func:`rtxcourse.hardware.missing_kernels` for one of TensorFlow's GPUs (None when all is well)."""
    from rtxcourse.hardware import missing_kernels

    try:
        cap = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        archs = tf.sysconfig.get_build_info().get("cuda_compute_capabilities")
    except Exception:  # a diagnosis must never stop the import
        return None
    return missing_kernels(cap, archs)


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` found: the tier, quick mode and the seed in force."""

    tier: str
    quick: bool
    seed: int
    cpu_count: int

    def __str__(self) -> str:
        mode = "quick mode (small sizes)" if self.quick else "full size for this hardware"
        return f"rtxcourse: tier={self.tier}, {mode}, seed={self.seed}, {self.cpu_count} CPU cores"


def setup(seed: int = 0, *, verbose: bool = True) -> Setup:
    """Prepare a lesson: quiet the frameworks, seed, and print which machine this is.

    The first code cell of every notebook calls this before importing TensorFlow or torch.
    """
    quiet_frameworks()
    seed_everything(seed)
    info = Setup(tier=tier(), quick=quick_mode(), seed=seed, cpu_count=os.cpu_count() or 1)
    if verbose:
        print(info)
        if info.tier == "cpu":
            print(
                "No NVIDIA GPU found: lessons take their CPU path (bf16 where the CPU has "
                "AVX512_BF16/AMX). Run `rtxcourse doctor` for details."
            )
    return info
