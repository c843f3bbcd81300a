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

# Re-exported, so lessons and modules can keep writing rtxcourse.runtime.TIERS / import_tensorflow.
from rtxcourse.hardware import TIERS, import_tensorflow, quiet_frameworks, tier_for

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


def forced_tier() -> str | None:
    """The tier ``RTXCOURSE_TIER`` forces (an instructor's CPU path on a GPU box), or None."""
    forced = os.environ.get("RTXCOURSE_TIER", "").strip()
    if forced:
        tier_rank(forced)  # a typo is an error, not a silent default
    return forced or None


def tier_of(n_gpus: int) -> str:
    """The course's tier rule: ``RTXCOURSE_TIER`` when set, else the tier of ``n_gpus`` usable GPUs.

    :func:`tier` applies it to this machine; ``rtxcourse doctor`` to the GPUs it found.
    """
    return forced_tier() or tier_for(n_gpus)


@lru_cache(maxsize=None)
def _machine_tier() -> tuple[str, bool]:
    """(tier of this machine by :func:`tier_of`, whether RTXCOURSE_TIER forced it)."""
    from rtxcourse.hardware import visible_gpu_count

    return tier_of(visible_gpu_count()), forced_tier() is not None


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

    The first code cell of every notebook calls this before importing TensorFlow or torch. In
    a notebook it also registers the ``%%framework`` cell magic (:mod:`rtxcourse.sections`).
    """
    from rtxcourse import sections

    hidden = sections.hide_frameworks()
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        sections.register(shell)
    quiet_frameworks()
    seed_everything(seed)
    info = Setup(tier=tier(), quick=quick_mode(), seed=seed, cpu_count=os.cpu_count() or 1)
    if verbose:
        print(info)
        if hidden:
            print(f"RTXCOURSE_FRAMEWORKS hides {', '.join(sorted(hidden))}: this kernel behaves as a one-framework install")
        if info.tier == "cpu":
            print(
                "No NVIDIA GPU found: lessons take their CPU path (bf16 where the CPU has "
                "AVX512_BF16/AMX). Run `rtxcourse doctor` for details."
            )
    return info
