"""The course's one timing toolkit: warm-up, synchronisation, repeats, median and spread.

Every speed claim in the course comes from :func:`measure` and is reported through a
:class:`Report`, which prints the hardware next to the numbers and compares results as ratios
measured in the same run (never against a number from another machine)::

    from rtxcourse import bench
    report = bench.Report("matmul 2048")
    report.add(bench.measure(lambda: a @ b, name="fp32", work=2 * n**3, unit="FLOP", sync="torch"))
    report.add(bench.measure(lambda: a16 @ b16, name="bf16", work=2 * n**3, unit="FLOP", sync="torch"))
    report.ratio("bf16", "fp32")
    print(report.table())

GPUs run asynchronously: without synchronising, a timer measures how fast work is *queued*,
not how fast it runs. ``sync="torch"`` / ``sync="tf"`` waits for the device at each timer edge.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from rtxcourse import gpus

_PREFIXES = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]


def format_rate(value: float, unit: str) -> str:
    """Format ``value`` units per second with an SI prefix, e.g. ``'312.4 GFLOP/s'``."""
    if value is None or not math.isfinite(value):
        return "n/a"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.1f} {prefix}{unit}/s"
    return f"{value:.3g} {unit}/s"


def format_seconds(seconds: float) -> str:
    """Format a duration in the most readable unit (ns, us, ms, s)."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def torch_sync() -> None:
    """Wait for every queued CUDA kernel (no-op without CUDA)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def tf_sync() -> None:
    """Wait for every queued TensorFlow op on every device."""
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        tf.test.experimental.sync_devices()


_SYNCS: dict[str, Callable[[], None]] = {"torch": torch_sync, "tf": tf_sync, "none": lambda: None}


def _resolve_sync(sync) -> Callable[[], None]:
    if sync is None:
        return _SYNCS["none"]
    if callable(sync):
        return sync
    try:
        return _SYNCS[sync]
    except KeyError:
        raise ValueError(f"sync must be 'torch', 'tf', 'none', a callable or None; got {sync!r}") from None


@dataclass
class Measurement:
    """Seconds per call of one benchmarked function, one entry per repeat."""

    name: str
    times: list[float]
    work: float | None = None  # units of work done by one call (FLOPs, images, samples)
    unit: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> float:
        """Relative spread (max - min) / median of the repeats: how much to trust the median."""
        return (max(self.times) - min(self.times)) / self.median if self.median > 0 else 0.0

    @property
    def best(self) -> float:
        """The shortest repeat: background load only ever adds time, so this is the least disturbed."""
        return min(self.times)

    @property
    def rate(self) -> float | None:
        """Work per second at the median time, or None when no work was given."""
        return self.work / self.median if self.work and self.median > 0 else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(median_s=self.median, spread=self.spread, rate=self.rate)
        return d


def _timed_calls(fn: Callable[[], Any], n: int, do_sync: Callable[[], None]) -> float:
    """Seconds for ``n`` calls of ``fn`` between two synchronised timer reads."""
    do_sync()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    do_sync()
    return time.perf_counter() - start


def _calls_for(run: Callable[[int], float], min_time: float) -> int:
    """How many calls make ``run(n)`` (seconds for n calls) last at least ``min_time``."""
    number = 1
    while (elapsed := run(number)) < min_time and number < 1_000_000:
        number *= 2 if elapsed <= 0 else max(2, min(10, math.ceil(min_time / elapsed)))
    return number


def measure(
    fn: Callable[[], Any],
    *,
    name: str,
    warmup: int = 2,
    repeats: int = 5,
    number: int | None = None,
    min_time: float = 0.05,
    sync=None,
    work: float | None = None,
    unit: str | None = None,
    params: dict[str, Any] | None = None,
) -> Measurement:
    """Time ``fn()`` and return seconds per call for each of ``repeats`` repeats.

    ``warmup`` calls run first (kernel selection, caches, lazy compilation, memory pools).
    Each repeat runs ``fn`` ``number`` times between two synchronised timer reads; when
    ``number`` is None it is chosen so that one repeat lasts at least ``min_time`` seconds,
    which keeps timer resolution and launch overhead out of fast kernels.
    """
    if not callable(fn):
        raise TypeError(f"measure() needs a callable, got {type(fn).__name__}")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    do_sync = _resolve_sync(sync)

    def run(n: int) -> float:
        return _timed_calls(fn, n, do_sync)

    for _ in range(warmup):
        run(1)
    if number is None:
        number = _calls_for(run, min_time)
    times = [run(number) / number for _ in range(repeats)]
    return Measurement(name=name, times=times, work=work, unit=unit, params=dict(params or {}))


def interleaved(
    fns: "dict[str, Callable[[], Any]]",
    *,
    rounds: int = 5,
    warmup: int = 1,
    number: int | None = 1,
    min_time: float = 0.05,
    sync=None,
    work: float | None = None,
    unit: str | None = None,
) -> dict[str, Measurement]:
    """Time several functions in alternating rounds, for comparisons that survive a busy machine.

    :func:`measure` times one function's repeats back to back; two such measurements taken one
    after the other see different background load (another process starting, a compile, a
    neighbour's epoch), which a 2-core machine turns into a wrong ratio. Here every round runs
    each function once (``number`` calls between synchronised timer reads; None: as many as make
    a round of that function last ``min_time``, found after its warm-up), in an order that
    rotates from round to round, so that whatever load there is falls on all of them alike.
    Compare the results with :func:`paired_ratio` (the median of the per-round ratios) or their
    ``best`` (background load only ever adds time). Returns ``{name: Measurement}`` in the order
    given, one time per round.
    """
    if not isinstance(fns, dict) or not fns or not all(callable(f) for f in fns.values()):
        raise TypeError("interleaved() needs a non-empty dict of name -> callable")
    if rounds < 1 or warmup < 0 or (number is not None and number < 1):
        raise ValueError(f"need rounds >= 1, warmup >= 0, number >= 1 or None; got {rounds}, {warmup}, {number}")
    do_sync = _resolve_sync(sync)
    names = list(fns)
    times: dict[str, list[float]] = {k: [] for k in names}

    def run(fn, n: int) -> float:
        return _timed_calls(fn, n, do_sync)

    calls = dict.fromkeys(names, number or 1)
    for k in names:
        for _ in range(warmup):
            run(fns[k], 1)
        if number is None:
            calls[k] = _calls_for(lambda n, f=fns[k]: run(f, n), min_time)
    for r in range(rounds):
        for k in names[r % len(names):] + names[: r % len(names)]:
            times[k].append(run(fns[k], calls[k]) / calls[k])
    return {k: Measurement(name=k, times=times[k], work=work, unit=unit, params={"interleaved": True})
            for k in names}


def paired_ratio(value: Measurement, baseline: Measurement) -> float:
    """How many times faster ``value`` ran than ``baseline``: the median of the per-round ratios.

    For two :func:`interleaved` measurements, round ``i`` of each saw the same background load,
    so the ratio of their round-``i`` times cancels it; the median discards the rounds that a
    burst of load hit on one side only.
    """
    if len(value.times) != len(baseline.times) or not value.times:
        raise ValueError(f"paired_ratio needs measurements with the same rounds "
                         f"({value.name}: {len(value.times)}, {baseline.name}: {len(baseline.times)})")
    return statistics.median(b / v for v, b in zip(value.times, baseline.times) if v > 0)


@dataclass
class Ratio:
    """``value`` is ``speedup`` times faster than ``baseline`` (median times, same run)."""

    value: str
    baseline: str
    speedup: float


class Report:
    """Measurements from one run, the hardware they came from, and the ratios between them."""

    def __init__(self, title: str, *, hardware: dict[str, Any] | None = None):
        self.title = title
        self.measurements: list[Measurement] = []
        self.ratios: list[Ratio] = []
        self.notes: list[str] = []  # derived figures worth a line of their own (e.g. scaling efficiency)
        self._hardware = hardware

    @property
    def hardware(self) -> dict[str, Any]:
        if self._hardware is None:
            from rtxcourse.hardware import summary

            self._hardware = summary()
        return self._hardware

    def add(self, m: Measurement) -> Measurement:
        if any(x.name == m.name for x in self.measurements):
            raise ValueError(f"a measurement named {m.name!r} is already in report {self.title!r}")
        self.measurements.append(m)
        return m

    def __getitem__(self, name: str) -> Measurement:
        for m in self.measurements:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.measurements) or "none"
        raise KeyError(f"no measurement {name!r} in report {self.title!r} (have: {known})")

    def ratio(self, value: str, baseline: str) -> float:
        """Record and return how many times faster ``value`` ran than ``baseline``."""
        speedup = self[baseline].median / self[value].median
        self.ratios.append(Ratio(value, baseline, speedup))
        return speedup

    def note(self, text: str) -> None:
        """Add a line printed under the ratios (and kept in the JSON), e.g. a derived efficiency."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a note must be a non-empty string, got {text!r}")
        self.notes.append(text.strip())

    def table(self) -> str:
        """The human-readable table: one row per measurement, then the ratios and hardware."""
        rows = [("name", "median", "spread", "rate", "repeats")]
        for m in self.measurements:
            rate = format_rate(m.rate, m.unit or "op") if m.rate else "-"
            rows.append((m.name, format_seconds(m.median), f"{m.spread:.0%}", rate, str(len(m.times))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [self.title, "-" * len(self.title)]
        for i, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        for r in self.ratios:
            lines.append(f"{r.value} vs {r.baseline}: {r.speedup:.2f}x")
        lines.extend(self.notes)
        lines.append(f"hardware: {self.hardware.get('description', 'unknown')}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "hardware": self.hardware,
            "measurements": [m.to_dict() for m in self.measurements],
            "ratios": [asdict(r) for r in self.ratios],
            "notes": list(self.notes),
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), indent=kwargs.pop("indent", 2), **kwargs)

    def plot(self, ax=None, *, rate: bool = True):
        """Bar chart of rates (or median times) with the hardware in the title; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        names = [m.name for m in self.measurements]
        use_rate = rate and all(m.rate for m in self.measurements)
        values = [m.rate if use_rate else m.median for m in self.measurements]
        ax.bar(names, values, color="#76b900")
        unit = self.measurements[0].unit if self.measurements else ""
        ax.set_ylabel(f"{unit}/s" if use_rate else "seconds per call (median)")
        ax.set_title(f"{self.title}\n{self.hardware.get('description', '')}", fontsize=9)
        ax.tick_params(axis="x", rotation=30)
        return ax

    def __str__(self) -> str:
        return self.table()


# --------------------------------------------------------------------------- peaks and MFU
#
# Model FLOPs utilisation (MFU) = achieved FLOP/s / the device's peak FLOP/s for the dtype the
# work ran in. The peaks are the dense datasheet figures of the course's one GPU table,
# rtxcourse.gpus (sparse "with sparsity" figures halved there, each row with its source).


def gpu_peaks(gpu_name: str) -> gpus.GpuSpec | None:
    """The table row (:class:`rtxcourse.gpus.GpuSpec`) whose pattern matches a device name."""
    return gpus.lookup(gpu_name)


def peak_flops(gpu_name: str, dtype) -> float | None:
    """Dense peak FLOP/s (not TFLOP/s) of ``gpu_name`` in ``dtype``; None when not in the table."""
    from rtxcourse.precision import normalize_dtype

    peaks = gpu_peaks(gpu_name)
    if str(dtype).lower().removeprefix("torch.") in ("fp64", "float64", "double"):
        key = "fp64_tc" if peaks is not None and "fp64_tc" in peaks.tflops else "fp64"  # FP64 Tensor Cores where they exist
    else:
        key = normalize_dtype(dtype)
        key = "fp8" if key.startswith("fp8") else key
    if peaks is None or key not in peaks.tflops:
        return None
    return peaks.tflops[key] * 1e12


@dataclass(frozen=True)
class MFU:
    """Model FLOPs utilisation: ``value`` (0..1) = achieved / peak, or None with the ``reason``."""

    value: float | None
    achieved_flops: float
    peak_flops: float | None
    reason: str

    def __str__(self) -> str:
        if self.value is None:
            return f"MFU unknown: {self.reason}"
        return (f"MFU {self.value:.1%} ({format_rate(self.achieved_flops, 'FLOP')} of "
                f"{format_rate(self.peak_flops, 'FLOP')}; {self.reason})")


def mfu(achieved_flops: float, *, gpu: str | None = None, dtype=None, peak: float | None = None,
        source: str = "against the given peak") -> MFU:
    """Model FLOPs utilisation of ``achieved_flops`` (FLOP/s) against the right peak.

    Give either ``gpu`` (a device name) and ``dtype`` (the precision the work ran in, e.g.
    'bf16', 'tf32', torch.float16) to use the datasheet table :data:`rtxcourse.gpus.GPUS`, or
    ``peak`` (FLOP/s) directly with ``source`` saying where it comes from (for a CPU:
    :func:`cpu_peak_flops`). When the GPU or the dtype is not in the table, ``value`` is None
    and ``reason`` says why; nothing is guessed. A value above 1 means the peak is wrong (or
    the FLOPs were over-counted): check ``0 < value <= 1``.
    """
    if not isinstance(achieved_flops, (int, float)) or not math.isfinite(achieved_flops) or achieved_flops < 0:
        raise ValueError(f"achieved_flops must be a finite FLOP/s >= 0, got {achieved_flops!r}")
    if peak is not None:
        if gpu is not None:
            raise ValueError("give either peak= or gpu= (with dtype=), not both")
        if not isinstance(peak, (int, float)) or not peak > 0:
            raise ValueError(f"peak must be a FLOP/s > 0, got {peak!r}")
        return MFU(achieved_flops / peak, achieved_flops, float(peak), source)
    if gpu is None or dtype is None:
        raise ValueError("mfu() needs gpu= and dtype= (to look the peak up) or peak= (FLOP/s)")
    peaks = gpu_peaks(gpu)
    if peaks is None:
        return MFU(None, achieved_flops, None, f"{gpu!r} is not in rtxcourse.gpus' table (pass peak= from its datasheet)")
    found = peak_flops(gpu, dtype)
    if found is None:
        return MFU(None, achieved_flops, None, f"no dense {dtype} peak for {peaks.name}: it has no such Tensor Core path")
    return MFU(achieved_flops / found, achieved_flops, found, f"dense {dtype} peak of {peaks.name}, {peaks.source}")


def known_gpus() -> list[gpus.GpuSpec]:
    """Every GPU in the table, newest first (data centre, then GeForce), for printing side by side."""
    return list(gpus.GPUS)


# FLOPs per cycle per core of the widest path each CPU feature gives, counting a fused
# multiply-add as 2 and assuming two vector units: an upper bound (many cores have one 512-bit
# unit, or split AVX-512 in two halves), so an MFU against it never exceeds 1.
_CPU_FLOP_PER_CYCLE = {
    "fp32": (("avx512f", 64), ("avx2", 32)),
    "bf16": (("amx_bf16", 2048), ("avx512_bf16", 128)),
    "fp16": (("amx_fp16", 2048), ("avx512_fp16", 128)),
}


def _cpu_clock_ghz() -> tuple[float, str]:
    """The highest clock this CPU reports (cpufreq maximum, else /proc/cpuinfo), in GHz, and where from."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", encoding="utf-8") as f:
            return int(f.read().strip()) / 1e6, "maximum clock"
    except (OSError, ValueError):
        pass
    mhz = []
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
    except (OSError, ValueError, IndexError):
        pass
    if mhz:  # often the base clock (virtual machines): allow for boost so the bound stays a bound
        return 1.5 * max(mhz) / 1e3, f"1.5x the reported {max(mhz) / 1e3:.2f} GHz, for boost"
    return 5.0, "no clock reported: 5 GHz assumed"


def cpu_peak_flops(dtype) -> tuple[float, str]:
    """An upper bound of this CPU's peak FLOP/s in ``dtype``, and how it was computed, in words.

    CPUs have no datasheet peak per dtype the way GPUs do, so the ceiling is arithmetic: usable
    cores x clock x FLOPs per cycle of the widest vector or matrix unit the CPU reports
    (AVX-512, AVX512_BF16, AMX ...; a dtype without a native unit runs at the fp32 rate).
    Lessons print the returned text next to the MFU, so the reader knows which ceiling was used.
    """
    from rtxcourse.hardware import cpu_info
    from rtxcourse.precision import normalize_dtype

    key = normalize_dtype(dtype)
    if key == "tf32":
        key = "fp32"  # TF32 is a GPU mode: a CPU computes float32 as float32
    if key not in _CPU_FLOP_PER_CYCLE:
        raise ValueError(f"no CPU peak for {dtype!r}: use one of fp32, bf16, fp16")
    info = cpu_info()
    cores = info["usable_cores"] or 1
    ghz, clock = _cpu_clock_ghz()
    feats = info["features"]
    unit = next(((f, n) for f, n in _CPU_FLOP_PER_CYCLE[key] if feats.get(f)), None)
    if unit is None and key != "fp32":
        unit = next(((f, n) for f, n in _CPU_FLOP_PER_CYCLE["fp32"] if feats.get(f)), None)
        via = f"no native {key} unit, so the fp32 rate of "
    else:
        via = ""
    feature, per_cycle = unit or ("scalar", 8)
    peak = cores * ghz * 1e9 * per_cycle
    return peak, (f"upper bound of this CPU's {key} peak: {cores} cores x {ghz:.2f} GHz ({clock}) x "
                  f"{per_cycle} FLOP/cycle ({via}{feature} at full width, an upper bound)")
