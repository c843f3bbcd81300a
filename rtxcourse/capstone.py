"""Lesson 12's capstone, framework-neutral part: the steps, the data, the ablation table and the verdicts.

The capstone trains one small image model end to end and adds the course's techniques one at
a time, each step on top of the previous one::

    from rtxcourse import capstone
    S = capstone.sizes()                     # by hardware tier; tiny in RTXCOURSE_QUICK=1
    data = capstone.dataset(S)               # digits, split, plus a rotated + shifted test set
    table = capstone.Ablation("torch")
    table.add(capstone.Row("baseline", ...))  # one row per step, every number measured
    print(table.table())
    v = capstone.verdict_mixed(speedup=1.8, accuracy_fp32=0.9, accuracy_mixed=0.9, dtype="bfloat16")
    print(v)                                 # the conclusion the numbers support, helped or not

Framework code (training loops, memory, processes) is in :mod:`rtxcourse.capstone_torch` and
:mod:`rtxcourse.capstone_tf`. The verdict functions are the one place that turns measurements
into sentences, so the notebook never states a gain it did not measure, and lesson 12's
self-check recomputes each verdict from the evidence to catch a notebook that does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from rtxcourse import bench
from rtxcourse.memory import format_bytes
from rtxcourse.runtime import by_tier

STEPS = ("baseline", "mixed", "pipeline", "augment", "separable", "checkpoint", "devices")
TITLES = {
    "baseline": "1 baseline fp32",
    "mixed": "2 + mixed precision",
    "pipeline": "3 + input pipeline",
    "augment": "4 + augmentation",
    "separable": "5 + separable convs",
    "checkpoint": "6 + checkpointing, larger batch",
    "devices": "7 + several devices",
}
FASTER, SLOWER = 1.10, 0.90  # paired speed-ups inside this band are "no measurable difference"
ACCURACY_TOLERANCE = 0.05  # mixed precision "tracks" fp32 within 5 accuracy points (a tiny test set)
AUGMENT_MIN_GAIN = 0.0  # any gain on the transformed test set counts as "helped"
WEIGHTS_ATOL = 1e-4  # multi-process weights vs the single-process reference (fp32 reduction order)


@dataclass(frozen=True)
class Sizes:
    """Sizes of one capstone run: data, model, training, the batch search."""

    n_train: int  # training images (the rest of the 1,797 digits, up to n_test, are the test set)
    n_test: int
    image_size: int  # digits upsampled from 8x8
    width: int  # channels of the first stage (SmallCNN: width, 2w, 4w)
    epochs: int
    batch: int
    lr: float
    rounds: int  # interleaved timing rounds per comparison
    budget_batch: int  # step 6: the memory budget is the peak of a plain step at this batch
    device_steps: int  # training steps the multi-process step runs, and its reference


def sizes() -> Sizes:
    """The capstone's sizes for this machine (``rtxcourse.by_tier``): tiny in quick mode."""
    return by_tier(
        quick=Sizes(n_train=640, n_test=256, image_size=16, width=8, epochs=3, batch=32, lr=3e-3, rounds=3,
                    budget_batch=128, device_steps=4),
        cpu=Sizes(n_train=1200, n_test=500, image_size=24, width=16, epochs=8, batch=64, lr=3e-3, rounds=5,
                  budget_batch=256, device_steps=8),
        gpu=Sizes(n_train=1200, n_test=500, image_size=32, width=32, epochs=15, batch=128, lr=3e-3, rounds=5,
                  budget_batch=512, device_steps=8),
    )


@dataclass(frozen=True)
class Config:
    """What one step trains with; each step changes one field of the previous step's config."""

    precision: str = "float32"  # the plan's compute dtype: float32, bfloat16 or float16
    workers: int = 0  # input pipeline: 0 = batches made in the training process, no prefetching
    augment: bool = False
    model: str = "small"  # "small" (SmallCNN) or "separable" (SeparableCNN)
    checkpoint: bool = False  # activation checkpointing of the feature layers
    batch: int = 64
    lr: float | None = None  # None: the sizes' lr (a larger batch gets a scaled one)

    def __post_init__(self):
        if self.precision not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"precision must be float32, bfloat16 or float16, got {self.precision!r}")
        if self.model not in ("small", "separable"):
            raise ValueError(f"model must be 'small' or 'separable', got {self.model!r}")
        if not isinstance(self.batch, int) or self.batch < 1 or not isinstance(self.workers, int) or self.workers < 0:
            raise ValueError(f"batch must be >= 1 and workers >= 0, got batch={self.batch!r}, workers={self.workers!r}")

    def but(self, **changes) -> "Config":
        """A copy with ``changes``: the next step's config."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Data:
    """Training and test arrays (NHWC float32 in [0, 1], int64 labels) and the transformed test set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_moved: np.ndarray  # the test images rotated and shifted: what augmentation should help with


class RandomShift:
    """Move an HWC image by up to ``pad`` pixels each way, zero border: a random crop of the zero-padded image.

    Zero is the digits' background, so a shifted digit looks like a digit written off-centre.
    (``rtxcourse.augment`` has crops that shrink the image; this one keeps its size.)
    """

    def __init__(self, pad: int):
        if not isinstance(pad, int) or pad < 1:
            raise ValueError(f"pad must be a positive int (pixels), got {pad!r}")
        self.pad = pad

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from rtxcourse.augment import random_crop

        p = self.pad
        padded = np.pad(image, ((p, p), (p, p)) + ((0, 0),) * (image.ndim - 2))
        return np.ascontiguousarray(random_crop(padded, image.shape[:2], rng))


def augmentation(max_degrees: float = 15.0, pad: int = 2):
    """The training augmentation, ``transform(image, rng)``: a random rotation, then a :class:`RandomShift`."""
    from rtxcourse import augment

    return augment.Compose([augment.RandomRotate(max_degrees), RandomShift(pad)])


def dataset(s: Sizes, seed: int = 0) -> Data:
    """Digits at ``s.image_size``, split by class, and the test set moved by :func:`augmentation`.

    The moved test set uses stronger settings (20 degrees, 3 pixels) and its own seed, so it
    holds images that no training augmentation produced exactly.
    """
    from rtxcourse import augment, data

    x, y = data.digits(s.image_size)
    (x_tr, y_tr), (x_te, y_te) = data.train_test_split(x, y, test_fraction=0.4, seed=seed)
    x_tr, y_tr, x_te, y_te = x_tr[: s.n_train], y_tr[: s.n_train], x_te[: s.n_test], y_te[: s.n_test]
    moved = augment.apply_batch(augmentation(20.0, max(1, s.image_size // 6)), x_te, np.random.default_rng(seed + 1))
    return Data(x_tr, y_tr, x_te, y_te, moved.astype(np.float32))


# --------------------------------------------------------------------------- rows and table


@dataclass
class Row:
    """One step's measurements: time per epoch, peak memory of a step, accuracies, FLOPs, MFU."""

    step: str
    epoch_seconds: float  # the fastest epoch of the run (background load only adds time)
    peak_bytes: int | None  # peak memory of one training step at this batch (None: not measured)
    accuracy: float  # on the clean test set
    moved_accuracy: float  # on the rotated and shifted test set
    batch: int
    precision: str  # "fp32", "bf16", ...
    params: int
    train_flops_per_image: float  # 3x the forward FLOPs (forward + backward)
    images_per_epoch: int
    mfu: float | None = None
    mfu_note: str = ""
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.step not in STEPS:
            raise ValueError(f"step must be one of {', '.join(STEPS)}, got {self.step!r}")
        if not self.epoch_seconds > 0:
            raise ValueError(f"epoch_seconds must be > 0, got {self.epoch_seconds!r}")

    def but_step(self, step: str, seconds_before: float, seconds_after: float) -> "Row":
        """This row as ``step``: same model and batch, time per epoch scaled by ``seconds_after / seconds_before``.

        For a step that changes only where the same steps run (several devices): the two times
        are those of the same training steps measured both ways.
        """
        _finite(seconds_before=seconds_before, seconds_after=seconds_after)
        if seconds_before <= 0 or seconds_after <= 0:
            raise ValueError(f"both times must be > 0, got {seconds_before!r} and {seconds_after!r}")
        factor = seconds_after / seconds_before
        mfu = self.mfu / factor if self.mfu is not None else None
        return replace(self, step=step, epoch_seconds=self.epoch_seconds * factor, mfu=mfu,
                       notes=dict(self.notes, scaled_from=self.step, time_factor=factor))

    @property
    def achieved_flops(self) -> float:
        """Model FLOP/s of the fastest epoch (training FLOPs per image x images / seconds)."""
        return self.train_flops_per_image * self.images_per_epoch / self.epoch_seconds


def mfu_of(row: Row, device: str, gpu_name: str | None = None):
    """Fill ``row.mfu`` and ``row.mfu_note`` from its achieved FLOP/s; return the :class:`~rtxcourse.bench.MFU`.

    The peak is that of the row's precision: on a GPU the datasheet's (``bench.mfu``), on a CPU
    the upper bound of ``bench.cpu_peak_flops`` (the note says which ceiling), as lessons 01 and
    06 do. A GPU missing from the table gets no MFU, and the note says why.
    """
    from rtxcourse.benchmarks.precision import mfu

    dtype = {"fp16+scaling": "fp16"}.get(row.precision, row.precision)
    m = mfu(row.achieved_flops, dtype, device, gpu_name)
    row.mfu, row.mfu_note = m.value, m.reason
    return m


class Ablation:
    """The ablation table of one framework: one :class:`Row` per step, in step order."""

    def __init__(self, framework: str):
        self.framework = framework
        self.rows: dict[str, Row] = {}

    def add(self, row: Row) -> Row:
        """Add (or replace) the row of ``row.step``; steps must come in :data:`STEPS` order."""
        if not isinstance(row, Row):
            raise TypeError(f"add() needs a capstone.Row, got {type(row).__name__}")
        done = [s for s in STEPS if s in self.rows and s != row.step]
        if done and STEPS.index(row.step) < STEPS.index(done[-1]):
            raise ValueError(f"step {row.step!r} comes before {done[-1]!r}: add the steps in order")
        self.rows[row.step] = row
        return row

    def __getitem__(self, step: str) -> Row:
        return self.rows[step]

    def table(self) -> str:
        """The table as text: one line per step, every column measured in this run."""
        head = ("step", "batch", "prec", "s/epoch", "img/s", "peak mem", "acc", "moved acc", "params", "MFU")
        lines = [head]
        for r in self.rows.values():
            lines.append((TITLES[r.step], str(r.batch), r.precision, f"{r.epoch_seconds:.3f}",
                          f"{r.images_per_epoch / r.epoch_seconds:,.0f}",
                          format_bytes(r.peak_bytes) if r.peak_bytes is not None else "-",
                          f"{r.accuracy:.1%}", f"{r.moved_accuracy:.1%}", f"{r.params:,}",
                          f"{r.mfu:.2%}" if r.mfu is not None else "-"))
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
                for line in lines]
        notes = sorted({r.mfu_note for r in self.rows.values() if r.mfu_note})
        return "\n".join([f"[{self.framework}]", text[0], "-" * len(text[0]), *text[1:]] + [f"MFU: {n}" for n in notes])

    def to_dict(self) -> dict:
        return {"framework": self.framework, "rows": [asdict(r) for r in self.rows.values()]}


def plot(tables, axes=None, title: str = ""):
    """Bar charts of time per epoch, peak memory, accuracy (clean and moved) and MFU, step by step.

    ``tables`` is one :class:`Ablation` or several (one per framework, side by side bars).
    """
    import matplotlib.pyplot as plt

    tables = [tables] if isinstance(tables, Ablation) else list(tables)
    if axes is None:
        _, axes = plt.subplots(1, 4, figsize=(14, 3.4))
    panels = [("s / epoch", lambda r: r.epoch_seconds), ("peak MiB of a step", lambda r: (r.peak_bytes or 0) / 2**20),
              ("accuracy: clean (solid), moved (hatched)", None), ("MFU %", lambda r: 100 * (r.mfu or 0))]
    width = 0.8 / len(tables)
    for ax, (label, value) in zip(axes, panels):
        for k, t in enumerate(tables):
            xs = [STEPS.index(s) + k * width for s in t.rows]
            if value is None:
                ax.bar(xs, [r.accuracy for r in t.rows.values()], width / 2, label=t.framework)
                ax.bar([x + width / 2 for x in xs], [r.moved_accuracy for r in t.rows.values()], width / 2,
                       hatch="//", alpha=0.6)
            else:
                ax.bar(xs, [value(r) for r in t.rows.values()], width, label=t.framework)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(STEPS))], [str(i + 1) for i in range(len(STEPS))])
        ax.set(title=label, xlabel="step")
        ax.title.set_fontsize(9)
    axes[0].legend(fontsize=8)
    if title:
        axes[0].figure.suptitle(title, fontsize=9)
    return axes


def compare(fns: dict, rounds: int, sync: str) -> tuple[float, dict]:
    """Time ``{name: fn}`` (two entries: baseline first) in interleaved rounds; return (speed-up, measurements).

    The speed-up is the second entry's over the first, :func:`bench.paired_ratio` of the rounds;
    ``sync`` is ``"torch"`` or ``"tf"`` (see :func:`bench.measure`).
    """
    m = bench.interleaved(fns, rounds=rounds, sync=sync)
    base, new = list(m.values())
    return bench.paired_ratio(new, base), m


def max_difference(a: dict, b: dict) -> float:
    """The largest absolute difference between two ``{name: array}`` weight dicts with the same names."""
    if not a or a.keys() != b.keys():
        raise ValueError(f"the weights have different names: {sorted(set(a) ^ set(b))[:5] or 'none given'}")
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    """What one step did on this machine: ``helped`` (True/False) and the sentence the numbers support."""

    step: str
    helped: bool
    text: str

    def __str__(self) -> str:
        return f"{TITLES[self.step]}: {'HELPED' if self.helped else 'DID NOT HELP'} here. {self.text}"


def _speed(speedup: float) -> str:
    if speedup >= FASTER:
        return f"{speedup:.2f}x faster"
    if speedup <= SLOWER:
        return f"{1 / speedup:.2f}x slower" if speedup > 0 else "no time measured"
    return f"no measurable difference ({speedup:.2f}x, within {SLOWER:g}..{FASTER:g})"


def _finite(**values) -> None:
    for k, v in values.items():
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{k} must be a finite number, got {v!r}")


def verdict_mixed(*, speedup: float, accuracy_fp32: float, accuracy_mixed: float, dtype: str,
                  cpu: bool = False) -> Verdict:
    """Mixed precision helped when the step got faster and the accuracy tracked fp32's.

    ``speedup``: the paired ratio (fp32 step time / mixed step time, :func:`bench.paired_ratio`);
    ``dtype``: what the precision plan chose ('float32' when the machine has no fast 16-bit type).
    """
    _finite(speedup=speedup, accuracy_fp32=accuracy_fp32, accuracy_mixed=accuracy_mixed)
    if dtype in ("float32", "fp32", "tf32"):
        return Verdict("mixed", False, "The precision plan chose fp32: this machine has no fast 16-bit type "
                       "(fp16 on a CPU runs on a slow path, and bf16 needs AVX512_BF16/AMX or an Ampere GPU).")
    tracks = abs(accuracy_mixed - accuracy_fp32) <= ACCURACY_TOLERANCE
    helped = speedup >= FASTER and tracks
    why = (f"{dtype} steps: {_speed(speedup)}; accuracy {accuracy_mixed:.1%} vs fp32 {accuracy_fp32:.1%} "
           f"({'tracks' if tracks else 'does NOT track'} fp32 within {ACCURACY_TOLERANCE:.0%}).")
    if not helped and speedup < FASTER:
        why += (" A model this small is limited by per-op overhead and memory traffic, not by matmul "
                "throughput, so the 16-bit units have little to speed up." if not cpu else
                " On a CPU bf16 pays off in large matmuls; at these tiny widths the casts and per-op "
                "overhead eat the gain.")
    return Verdict("mixed", helped, why)


def verdict_pipeline(*, speedup: float, workers: int, cores: int) -> Verdict:
    """A better input pipeline helped when an epoch got faster (paired ratio, plain / better)."""
    _finite(speedup=speedup)
    helped = speedup >= FASTER
    why = f"epoch with {workers} loader worker(s) / prefetching: {_speed(speedup)} on {cores} core(s)."
    if not helped:
        why += (f" Workers and prefetching only hide input time behind compute when there are spare cores; "
                f"with {cores} core(s) the loader competes with the training step for the same CPU, and "
                "in-memory digits cost almost nothing to load.")
    return Verdict("pipeline", helped, why)


def verdict_augment(*, moved_before: float, moved_after: float, clean_before: float, clean_after: float) -> Verdict:
    """Augmentation helped when accuracy on the rotated and shifted test set went up."""
    _finite(moved_before=moved_before, moved_after=moved_after, clean_before=clean_before, clean_after=clean_after)
    gain = moved_after - moved_before
    helped = gain > AUGMENT_MIN_GAIN
    why = (f"moved test set {moved_before:.1%} -> {moved_after:.1%} ({gain:+.1%}); "
           f"clean test set {clean_before:.1%} -> {clean_after:.1%}.")
    if not helped:
        why += (" With this few epochs the network has not yet learnt from the extra variety: "
                "augmentation makes the task harder first and pays off with longer training.")
    return Verdict("augment", helped, why)


def verdict_separable(*, flop_ratio: float, param_ratio: float, speedup: float) -> Verdict:
    """The separable model helped when it did the work faster; fewer FLOPs alone are not speed.

    ``flop_ratio`` / ``param_ratio``: standard / separable (above 1: the separable one has fewer).
    """
    _finite(flop_ratio=flop_ratio, param_ratio=param_ratio, speedup=speedup)
    helped = speedup >= FASTER
    why = (f"{flop_ratio:.1f}x fewer FLOPs and {param_ratio:.1f}x fewer parameters; training step "
           f"{_speed(speedup)}.")
    if speedup < flop_ratio:
        why += (" The time fell less than the FLOPs: depthwise convolutions do few FLOPs per byte they "
                "read (memory-bound), and a separable layer is two kernels instead of one.")
    return Verdict("separable", helped, why)


def verdict_checkpoint(*, batch_before: int, batch_after: int, peak_before: int, peak_after: int, budget: int) -> Verdict:
    """Checkpointing helped when a larger batch fitted the same memory budget (measured peaks).

    ``peak_before`` / ``peak_after``: peaks of one training step at the same batch without and with
    checkpointing; ``batch_before`` / ``batch_after``: the largest batches within ``budget``.
    """
    helped = batch_after > batch_before and peak_after < peak_before
    why = (f"peak of a step at the same batch {format_bytes(peak_before)} -> {format_bytes(peak_after)}; "
           f"largest batch within {format_bytes(budget)}: {batch_before} -> {batch_after}.")
    if not helped:
        why += (" The activations of a model this small are a small part of what a step allocates "
                "(weights, gradients, temporaries), so keeping fewer of them frees little.")
    return Verdict("checkpoint", helped, why)


def verdict_devices(*, max_weight_diff: float, speedup: float, nprocs: int, gpus: int, cores: int,
                    unit: str = "processes") -> Verdict:
    """Several devices helped when the job trained the same weights faster than one process.

    ``speedup``: single-process time / multi-process time for the same steps, start-up excluded;
    ``unit`` names the devices on a CPU ("processes", or "logical CPU devices" for one
    TensorFlow process split in two).
    """
    _finite(max_weight_diff=max_weight_diff, speedup=speedup)
    same = max_weight_diff <= WEIGHTS_ATOL
    helped = same and speedup >= FASTER
    where = f"{nprocs} GPUs" if gpus >= nprocs else f"{nprocs} {unit} on {cores} CPU core(s)"
    why = (f"{where}: weights {'equal' if same else 'DIFFER from'} the single-process run's "
           f"(max difference {max_weight_diff:.1e}); {_speed(speedup)}.")
    if not helped and gpus < nprocs:
        why += (f" {unit.capitalize()} on one CPU share its cores and memory bandwidth, and every step adds a "
                "gradient all-reduce and a wait for the slowest process; on a shared or small CPU that "
                "eats what the second process adds. On GPUs each process has its own device.")
    return Verdict("devices", helped, why)


VERDICTS = {"mixed": verdict_mixed, "pipeline": verdict_pipeline, "augment": verdict_augment,
            "separable": verdict_separable, "checkpoint": verdict_checkpoint, "devices": verdict_devices}


def judge(step: str, **evidence) -> Verdict:
    """The verdict of ``step`` from its measured ``evidence`` (the keywords of its ``verdict_*`` function)."""
    if step not in VERDICTS:
        raise ValueError(f"no verdict for step {step!r}; steps with one: {', '.join(VERDICTS)}")
    return VERDICTS[step](**evidence)


def record(table: Ablation, evidence: dict, row: Row, verdict_args: dict | None = None, **extra) -> Verdict | None:
    """Add ``row`` to ``table``, judge its step from ``verdict_args`` and keep it all in ``evidence``.

    ``evidence[row.step]`` receives the verdict's arguments, ``helped`` (the verdict printed),
    the row's accuracy and epoch time, and ``extra`` measurements for the self-check. Prints
    the table so far and the verdict; returns the verdict (None for the baseline).
    """
    table.add(row)
    verdict = judge(row.step, **verdict_args) if row.step in VERDICTS else None
    evidence[row.step] = dict(verdict_args or {}, **extra, helped=verdict.helped if verdict else None,
                              accuracy=row.accuracy, epoch_seconds=row.epoch_seconds)
    print(table.table())
    if verdict is not None:
        print("\n" + str(verdict))
    return verdict
