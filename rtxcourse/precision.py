"""Number formats, and the precision to train in on the device at hand. Loads no framework.

Two halves:

* **Formats.** :data:`FORMATS` describes fp32, TF32, fp16, bf16 and the two fp8 formats by
  their bit layout; range, precision and rounding follow from it (:func:`format_table`,
  :func:`round_to`, :func:`bit_fields`, :func:`plot_layouts`), computed with NumPy so they
  work on any machine and can be checked against torch, TensorFlow and ``ml_dtypes``.
* **Choice.** :func:`choose_precision` turns "this device, this request" into a
  :class:`PrecisionPlan` (compute dtype, loss scaling, TF32) with the reason said aloud.
  ``rtxcourse.precision_torch`` and ``rtxcourse.precision_tf`` detect the device and turn the
  plan into ``torch.autocast`` + ``GradScaler`` or a Keras dtype policy +
  ``LossScaleOptimizer``::

      from rtxcourse import precision
      plan = precision.choose_precision("cuda", capability=(7, 5))   # a T4
      print(plan)   # float16 with dynamic loss scaling: Turing Tensor Cores have no bf16 ...
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: 1 sign bit, ``exponent_bits``, ``mantissa_bits``.

    ``finite_only`` formats (fp8 E4M3 "fn") have no infinity: the all-ones exponent still holds
    normal numbers and only the all-ones pattern is NaN, which buys one more binade of range.
    """

    name: str
    long_name: str
    exponent_bits: int
    mantissa_bits: int  # stored fraction bits (the leading 1 of normal numbers is implicit)
    finite_only: bool = False
    storage_bits: int | None = None  # bits in memory when not 1 + e + m (TF32 lives in fp32)
    note: str = ""

    @property
    def bits(self) -> int:
        """Bits that carry information: sign + exponent + mantissa."""
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def max_exponent(self) -> int:
        """Largest unbiased exponent of a finite number."""
        top = 2**self.exponent_bits - 1  # all-ones exponent field
        return top - self.bias if self.finite_only else top - 1 - self.bias

    @property
    def min_exponent(self) -> int:
        """Smallest unbiased exponent of a normal number."""
        return 1 - self.bias

    @property
    def max(self) -> float:
        """Largest finite value."""
        m = self.mantissa_bits
        # finite_only: the all-ones mantissa in the top binade is NaN, so the top is one step lower
        frac = 2 - 2 ** (1 - m) if self.finite_only else 2 - 2**-m
        return frac * 2.0**self.max_exponent

    @property
    def min_normal(self) -> float:
        return 2.0**self.min_exponent

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (self.min_exponent - self.mantissa_bits)

    @property
    def eps(self) -> float:
        """Gap between 1 and the next larger number: the relative precision."""
        return 2.0**-self.mantissa_bits

    @property
    def decimal_digits(self) -> float:
        """About how many significant decimal digits the format keeps."""
        return (self.mantissa_bits + 1) * math.log10(2)


FORMATS: dict[str, FloatFormat] = {
    f.name: f
    for f in (
        FloatFormat("fp32", "float32", 8, 23, note="IEEE single: the default of both frameworks"),
        FloatFormat("tf32", "TensorFloat-32", 8, 10, storage_bits=32,
                    note="a Tensor Core compute mode (Ampere+): fp32 in memory, inputs rounded to 10 mantissa bits"),
        FloatFormat("fp16", "float16", 5, 10, note="IEEE half: fine precision, small range; needs loss scaling"),
        FloatFormat("bf16", "bfloat16", 8, 7, note="fp32's range with 8 bits of precision; no loss scaling"),
        FloatFormat("fp8_e4m3", "float8_e4m3fn", 4, 3, finite_only=True,
                    note="Hopper/Ada/Blackwell: forward activations and weights, per-tensor scales"),
        FloatFormat("fp8_e5m2", "float8_e5m2", 5, 2, note="Hopper/Ada/Blackwell: gradients (more range, less precision)"),
    )
}

# Spellings people (and frameworks) use for each format, lower-case.
_ALIASES = {
    "fp32": ("fp32", "float32", "float", "single", "f32", "float32_t"),
    "tf32": ("tf32", "tensorfloat32", "tensorfloat-32"),
    "fp16": ("fp16", "float16", "half", "f16", "mixed_float16"),
    "bf16": ("bf16", "bfloat16", "mixed_bfloat16"),
    "fp8_e4m3": ("fp8_e4m3", "fp8", "e4m3", "float8_e4m3fn", "float8_e4m3", "fp8_e4m3fn"),
    "fp8_e5m2": ("fp8_e5m2", "e5m2", "float8_e5m2"),
}
_ALIAS_TO_NAME = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}


def normalize_dtype(dtype) -> str:
    """Return the course's short name (``'bf16'``, ``'fp32'`` ...) for any spelling of a format.

    Accepts strings (``'bfloat16'``, ``'half'``, ``'mixed_float16'``), NumPy, torch and
    TensorFlow dtypes (``torch.bfloat16``, ``tf.float16``, ``np.float32``).
    """
    name = getattr(dtype, "name", None)  # np.dtype, tf.DType
    if not isinstance(name, str):
        name = dtype if isinstance(dtype, str) else str(dtype)  # torch.dtype -> "torch.bfloat16"
    key = name.strip().lower().removeprefix("torch.").removeprefix("tf.").replace(" ", "")
    if key not in _ALIAS_TO_NAME:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"unknown floating-point format {dtype!r}; expected one of {known} (or a common spelling)")
    return _ALIAS_TO_NAME[key]


def format_info(dtype) -> FloatFormat:
    """The :class:`FloatFormat` of a format given in any spelling :func:`normalize_dtype` accepts."""
    return FORMATS[normalize_dtype(dtype)]


def format_table(names=None) -> list[dict]:
    """One row per format: bits, range, precision; ready for printing or a DataFrame."""
    rows = []
    for name in names or FORMATS:
        f = format_info(name)
        rows.append({
            "format": f.name,
            "bits": f.bits if f.storage_bits is None else f"{f.bits} (stored in {f.storage_bits})",
            "sign/exp/mantissa": f"1/{f.exponent_bits}/{f.mantissa_bits}",
            "max": f.max,
            "min normal": f.min_normal,
            "min subnormal": f.min_subnormal,
            "eps": f.eps,
            "decimal digits": round(f.decimal_digits, 1),
        })
    return rows


def format_table_text(names=None) -> str:
    """:func:`format_table` as aligned text."""
    rows = format_table(names)
    cells = [[k for k in rows[0]]] + [[v if isinstance(v, str) else f"{v:.4g}" for v in r.values()] for r in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def round_to(x, dtype, *, saturate: bool = False) -> np.ndarray:
    """Round ``x`` to the nearest value of a format (ties to even); return float64 values.

    This is what casting to that format does, computed in NumPy for any format, including
    the ones NumPy lacks (bf16, TF32, fp8). Values beyond the largest finite number become
    inf (NaN for formats without inf) unless ``saturate=True`` clips them to +-max, as
    scaled fp8 casts usually do. Values below half the smallest subnormal become 0.
    """
    f = format_info(dtype)
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    finite_nonzero = np.isfinite(a) & (a > 0)
    # Unbiased exponent of each value, clamped at the normal minimum: below it (subnormals)
    # the spacing between neighbours stays fixed at min_subnormal.
    _, k = np.frexp(np.where(finite_nonzero, a, 1.0))
    exponent = np.maximum(k - 1, f.min_exponent)
    quantum = np.ldexp(1.0, exponent - f.mantissa_bits)
    rounded = np.where(finite_nonzero, np.round(a / quantum) * quantum, a)  # np.round: ties to even
    too_big = np.isfinite(a) & (rounded > f.max)
    if saturate:
        rounded = np.where(too_big | np.isinf(a), f.max, rounded)
    else:
        rounded = np.where(too_big, np.nan if f.finite_only else np.inf, rounded)
        if f.finite_only:
            rounded = np.where(np.isinf(a), np.nan, rounded)
    return np.copysign(rounded, x)


@dataclass(frozen=True)
class BitPattern:
    """The bits a format stores for one value, as strings of '0' and '1'."""

    dtype: str
    value: float  # the value actually stored (after rounding)
    sign: str
    exponent: str
    mantissa: str

    def __str__(self) -> str:
        return f"{self.sign} | {self.exponent} | {self.mantissa}  ({self.dtype}: {self.value!r})"


def bit_fields(value: float, dtype) -> BitPattern:
    """Round ``value`` to a format and return its sign, exponent and mantissa bits."""
    f = format_info(dtype)
    if not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"bit_fields() needs one real number, got {type(value).__name__}")
    v = float(round_to(value, f))
    e, m = f.exponent_bits, f.mantissa_bits
    sign = "1" if math.copysign(1.0, v) < 0 else "0"
    a = abs(v)
    if math.isnan(v):  # the canonical quiet NaN (all ones for E4M3, which has one NaN per sign)
        exp_field, man_field = 2**e - 1, (2**m - 1 if f.finite_only else 2 ** (m - 1))
    elif math.isinf(v):
        exp_field, man_field = 2**e - 1, 0
    elif a < f.min_normal:  # zero and subnormals: exponent field 0, no implicit leading 1
        exp_field, man_field = 0, round(a / f.min_subnormal)
    else:
        exponent = math.frexp(a)[1] - 1
        exp_field = exponent + f.bias
        man_field = round((a / 2.0**exponent - 1) * 2**m)
    return BitPattern(f.name, v, sign, format(exp_field, f"0{e}b"), format(man_field, f"0{m}b"))


def plot_layouts(names=None, ax=None):
    """Draw the bit layout of each format (sign, exponent, mantissa) as coloured boxes."""
    import matplotlib.pyplot as plt

    names = [normalize_dtype(n) for n in (names or FORMATS)]
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.55 * len(names) + 0.6))
    colors = {"sign": "#d62728", "exponent": "#1f77b4", "mantissa": "#76b900"}
    for row, name in enumerate(names):
        f = FORMATS[name]
        y = len(names) - 1 - row
        x = 0
        for part, width in (("sign", 1), ("exponent", f.exponent_bits), ("mantissa", f.mantissa_bits)):
            ax.barh(y, width, left=x, color=colors[part], edgecolor="white", height=0.7,
                    label=part if row == 0 else None)
            if width >= 2:
                ax.text(x + width / 2, y, str(width), ha="center", va="center", color="white", fontsize=8)
            x += width
        ax.text(x + 0.4, y, f"max {f.max:.3g}, eps {f.eps:.2g}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), [FORMATS[n].long_name for n in reversed(names)])
    ax.set_xlim(0, 44)
    ax.set_xlabel("bits")
    ax.legend(loc="lower right", fontsize=8, ncols=3)
    ax.set_title("Bit layouts: the exponent sets the range, the mantissa the precision", fontsize=10)
    return ax


# --------------------------------------------------------------------------- choice


# What fp16 costs on a CPU, as measured (docs/benchmarks.md): it depends on the kernel path, not on
# a law of CPUs. Said by the fp16 warning and the lessons.
CPU_FP16_NOTE = ("fp16 speed on a CPU depends on the framework's kernel path: torch measured 33-50x slower "
                 "than fp32 on a CPU without AVX512_FP16 and about as fast as fp32 with it, TensorFlow 0.7-0.9x; "
                 "and unlike bf16 it needs loss scaling")


class PrecisionWarning(UserWarning):
    """A requested precision cannot be used on this device; the warning says what is used instead."""


# What a request may say, mapped to the course's names ("auto" lets the device decide).
_REQUESTS = {"auto": "auto", "fp32": "fp32", "tf32": "tf32", "bf16": "bf16", "fp16": "fp16"}
_COMPUTE_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
_KERAS_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


@dataclass(frozen=True)
class PrecisionPlan:
    """How to train on one device: compute dtype, loss scaling, TF32, and why.

    ``dtype`` is the compute dtype of matmuls and convolutions (weights stay float32: mixed
    precision). ``loss_scaling`` is True exactly for float16, whose small range loses small
    gradients to underflow. ``tf32`` lets the float32 matmuls that remain use TF32 Tensor Cores.
    """

    device: str  # "cpu" or "cuda"
    dtype: str  # "float32", "bfloat16" or "float16"
    loss_scaling: bool
    tf32: bool
    reason: str
    requested: str = "auto"

    @property
    def mixed(self) -> bool:
        """True when matmuls run in a 16-bit type (autocast / a mixed Keras policy is on)."""
        return self.dtype != "float32"

    @property
    def keras_policy(self) -> str:
        """The Keras 3 dtype policy name for this plan."""
        return _KERAS_POLICIES[self.dtype]

    @property
    def short(self) -> str:
        """A label for tables: 'bf16', 'fp16+scaling', 'tf32' or 'fp32'."""
        if self.dtype == "float16":
            return "fp16+scaling" if self.loss_scaling else "fp16"
        if self.mixed:
            return normalize_dtype(self.dtype)
        return "tf32" if self.tf32 else "fp32"

    def __str__(self) -> str:
        scaling = " with dynamic loss scaling" if self.loss_scaling else ""
        tf32 = ", TF32 for float32 matmuls" if self.tf32 else ""
        return f"{self.device}: compute in {self.dtype}{scaling}{tf32} ({self.reason})"


def _normalize_request(requested) -> str:
    if requested is None:
        return "auto"
    key = str(requested).strip().lower()
    if key in _REQUESTS:
        return key
    try:
        return normalize_dtype(requested)
    except ValueError:
        pass
    raise ValueError(f"requested precision must be one of {', '.join(_REQUESTS)} (or a dtype name), got {requested!r}")


def _normalize_device(device) -> str:
    kind = str(getattr(device, "type", device)).strip().lower().split(":")[0]
    if kind in ("cuda", "gpu"):
        return "cuda"
    if kind == "cpu":
        return "cpu"
    raise ValueError(f"device must be 'cpu' or 'cuda' (or 'gpu', 'cuda:N'), got {device!r}")


def _say(message: str, stacklevel: int) -> None:
    warnings.warn(message, PrecisionWarning, stacklevel=stacklevel + 1)


def choose_precision(device, *, requested="auto", capability=None, cpu_bf16: bool | None = None,
                     stacklevel: int = 2) -> PrecisionPlan:
    """Pick the training precision for ``device`` ('cpu' or 'cuda'), honouring ``requested``.

    ``requested`` is 'auto' (the best for the device), 'fp32' (strict, the baseline),
    'tf32', 'bf16' or 'fp16'. Rules, each said in the plan's ``reason``:

    * GPU with bf16 Tensor Cores (Ampere, compute capability 8.0, and later): bf16, no loss
      scaling, TF32 for the float32 matmuls left over.
    * GPU with Tensor Cores but no bf16 (Volta 7.0, Turing 7.5): fp16 with dynamic loss
      scaling. A bf16 request there warns (:class:`PrecisionWarning`) and gets fp16.
    * GPU without Tensor Cores: fp32 (fp16 only when asked for, with scaling).
    * CPU: bf16 when it computes bf16 natively (AVX512_BF16 or AMX, ``cpu_bf16``, detected
      when None), else fp32. An fp16 request warns and gets bf16 or fp32: fp16 on a CPU is a
      matter of the kernel path (:data:`CPU_FP16_NOTE`), and unlike bf16 it needs loss
      scaling.

    ``capability`` (e.g. ``(8, 0)`` or ``"8.6"``) is required for 'cuda'.
    """
    from rtxcourse.hardware import cpu_has_fast_bf16, parse_capability, tensor_cores

    dev = _normalize_device(device)
    req = _normalize_request(requested)
    if req not in _REQUESTS:  # fp8 and friends are not training precisions here
        raise ValueError(f"requested precision must be one of {', '.join(_REQUESTS)}, got {requested!r}")
    level = stacklevel  # _say adds its own frame

    def plan(dtype: str, reason: str, *, tf32: bool = False) -> PrecisionPlan:
        compute = _COMPUTE_DTYPES[dtype]
        return PrecisionPlan(dev, compute, compute == "float16", tf32, reason, req)

    if dev == "cpu":
        native = cpu_has_fast_bf16() if cpu_bf16 is None else bool(cpu_bf16)
        fallback = "bf16" if native else "fp32"
        why_fallback = ("this CPU computes bf16 natively (AVX512_BF16/AMX)" if native
                        else "this CPU has no native bf16, so 16-bit types would not be faster")
        if req == "fp16":
            _say(f"fp16 was requested on a CPU ({CPU_FP16_NOTE}); using {fallback} instead: {why_fallback}", level)
            return plan(fallback, f"fp16 requested; on a CPU fp16's speed depends on the kernel path and it "
                                  f"needs loss scaling, so {fallback}: {why_fallback}")
        if req == "tf32":
            _say("TF32 is a GPU Tensor Core mode; a CPU computes float32 as float32", level)
            return plan("fp32", "TF32 requested, but it exists only on NVIDIA GPUs (Ampere and later)")
        if req == "bf16":
            return plan("bf16", "bf16 requested" + ("" if native else
                        "; this CPU has no native bf16: it saves memory but is likely slower than fp32"))
        if req == "fp32":
            return plan("fp32", "strict float32 requested (the baseline)")
        return plan(fallback, why_fallback)

    cap = parse_capability(capability)
    if cap is None:
        raise ValueError(f"choose_precision('cuda') needs the GPU's compute capability such as (8, 0) or '7.5', got {capability!r}")
    tc = tensor_cores(cap)
    gpu = f"compute capability {cap[0]}.{cap[1]} ({tc.architecture})"
    has_tf32 = "tf32" in tc.precisions
    if req == "fp32":
        return plan("fp32", f"strict float32 requested (the baseline; TF32 off) on {gpu}")
    if req == "tf32":
        if has_tf32:
            return plan("fp32", f"float32 storage with TF32 Tensor Core matmuls on {gpu}", tf32=True)
        _say(f"TF32 needs Ampere (8.0) or later; {gpu} computes float32 as float32", level)
        return plan("fp32", f"TF32 requested but {gpu} has no TF32; strict float32")
    if req == "fp16":
        return plan("fp16", f"fp16 requested on {gpu}: dynamic loss scaling keeps small gradients", tf32=has_tf32)
    if tc.bf16:  # auto or bf16
        return plan("bf16", f"{gpu} has bf16 Tensor Cores: fp32's range, no loss scaling needed", tf32=True)
    if req == "bf16":
        _say(f"{gpu} has no bf16 Tensor Cores; falling back to fp16 with dynamic loss scaling", level)
        return plan("fp16", f"bf16 requested, but {gpu} has no bf16 Tensor Cores: fp16 with loss scaling instead")
    if tc.generation:
        return plan("fp16", f"{tc.architecture} Tensor Cores compute fp16, not bf16: fp16 with dynamic loss scaling")
    return plan("fp32", f"{gpu} has no Tensor Cores: fp32 by default (16-bit types save memory; some such "
                        "GPUs, e.g. the P100, also compute fp16 at twice fp32: request 'fp16' there)")


def distinct_plans(plans) -> list[PrecisionPlan]:
    """The plans without repeats (by :attr:`PrecisionPlan.short`), in order.

    A side-by-side run of "strict fp32 vs this device's best" is one run where the best is
    fp32 too, and on a T4 "auto" and "fp16" are the same plan.
    """
    unique: dict[str, PrecisionPlan] = {}
    for p in plans:
        if not isinstance(p, PrecisionPlan):
            raise TypeError(f"distinct_plans() takes PrecisionPlans, got {type(p).__name__}")
        unique.setdefault(p.short, p)
    return list(unique.values())


def machine_plan(capabilities, *, cpu_bf16: bool | None = None) -> PrecisionPlan:
    """The plan for a whole machine: its weakest GPU decides (every GPU must run the plan), else the CPU.

    ``capabilities`` lists the compute capability of each GPU (None where unknown); empty means
    no GPU. This is what ``rtxcourse doctor`` recommends, by the same rule the lessons use.
    """
    caps = list(capabilities)
    if not caps:
        return choose_precision("cpu", cpu_bf16=cpu_bf16)
    from rtxcourse.hardware import parse_capability

    known = [c for c in (parse_capability(c) for c in caps) if c is not None]
    if not known:  # GPUs whose capability no probe reported: say so rather than guess
        return PrecisionPlan("cuda", "float32", False, False, "the GPUs' compute capability is unknown: "
                             "fp32 until a framework reports it (`rtxcourse doctor` with torch or TensorFlow)")
    return choose_precision("cuda", capability=min(known))


@dataclass(frozen=True)
class SpeedupExpectation:
    """The least speed-up a 16-bit plan must show over strict fp32 here, and what is typical.

    ``floor`` is None where no speed-up is promised (the plan is fp32, or the hardware has no
    fast 16-bit path); a self-check then only reports the ratio.
    """

    floor: float | None
    typical: str

    def __str__(self) -> str:
        return self.typical if self.floor is None else f"at least {self.floor:g}x here; {self.typical}"


def expected_speedup(p: PrecisionPlan, workload: str = "matmul") -> SpeedupExpectation:
    """What a 16-bit plan should gain over strict fp32 on its device, for a ``workload``.

    ``workload`` is ``"matmul"`` (one large matrix multiply) or ``"train"`` (a whole training
    step of a model big enough to be matmul-bound: the optimizer and the elementwise work
    around the matmuls gain less). The floors leave room for a busy shared machine; the
    ``typical`` text says what the hardware should show.
    """
    if not isinstance(p, PrecisionPlan):
        raise TypeError(f"expected_speedup() needs a PrecisionPlan, got {type(p).__name__}")
    if workload not in ("matmul", "train"):
        raise ValueError(f"workload must be 'matmul' or 'train', got {workload!r}")
    if not p.mixed:
        return SpeedupExpectation(None, f"no 16-bit speed-up expected: {p.reason}")
    matmul = workload == "matmul"
    if p.device == "cpu":
        return SpeedupExpectation(1.4 if matmul else 1.2,
                                  "a CPU with AVX512_BF16 shows about 2-3x on large matmuls (AMX: more), "
                                  "about 2x on a training step")
    return SpeedupExpectation(2.0 if matmul else 1.3,
                              "Tensor Cores against strict fp32: GeForce/RTX cards (fp32 accumulation at half "
                              "rate) about 2-4x on large matmuls, A100/H100/B200 5-15x; a training step gains less")
