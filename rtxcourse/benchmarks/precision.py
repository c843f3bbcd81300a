"""``rtxcourse bench precision``: matmul sweep and training steps in fp32, TF32, bf16 and fp16.

    rtxcourse bench precision --quick                    # about a minute on a 2-core CPU
    rtxcourse bench precision --framework tf --json      # Keras policies instead of torch autocast
    rtxcourse bench precision --what matmul --sizes 1024 4096 8192

What runs depends on the device, and the output says what was left out and why:

* GPU: strict fp32 (TF32 off), TF32, bf16 (Ampere and later) and fp16 (with loss scaling in
  the training steps); MFU of each matmul against the GPU's dense datasheet peak.
* CPU: fp32 and bf16; fp16 only at small matmul sizes (its speed there is a matter of the
  kernel path: see ``rtxcourse.precision.CPU_FP16_NOTE``) and never in training steps; MFU
  of each matmul against an upper bound of the CPU's peak (``bench.cpu_peak_flops``).

Every ratio compares two measurements of the same run (``bench.Report.ratio``).
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass

from rtxcourse import bench
from rtxcourse.benchmarks import FRAMEWORKS, chosen_frameworks
from rtxcourse.runtime import by_tier

# Largest fp16 matmul a CPU is asked to do: where its kernel path is slow (~1 GFLOP/s), 256^3
# already takes tens of milliseconds.
CPU_FP16_MAX_N = 256


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--framework", choices=("torch", "tf", "both"), default="both",
                        help="which framework to measure (default: both that are installed)")
    parser.add_argument("--what", choices=("matmul", "train", "all"), default="all",
                        help="the matmul sweep, the training steps, or both (default)")
    parser.add_argument("--sizes", type=int, nargs="+", metavar="N", default=None,
                        help="square matmul sizes (default: by hardware tier; --quick: small)")


# --------------------------------------------------------------------------- matmul sweep


def default_sizes(device: str) -> list[int]:
    """Matmul sizes for this run: small in quick mode, up to 8192 on a GPU."""
    if device == "cuda":
        return by_tier(quick=[256, 1024, 2048], cpu=[1024, 2048, 4096, 8192])
    return by_tier(quick=[128, 256, 512, 1024], cpu=[256, 512, 1024, 2048])


def sweep_dtypes(device: str, capability=None) -> list[str]:
    """The precisions the matmul sweep measures on a device ('tf32' = fp32 inputs, TF32 math)."""
    if device == "cpu":
        return ["fp32", "bf16", "fp16"]
    from rtxcourse.hardware import tensor_cores

    tc = tensor_cores(capability)
    return ["fp32"] + (["tf32"] if "tf32" in tc.precisions else []) + (["bf16"] if tc.bf16 else []) + ["fp16"]


@dataclass
class _Device:
    kind: str  # "cpu" | "cuda"
    name: str  # GPU name for the peak table, or "CPU"
    capability: tuple[int, int] | None


def _torch_device() -> _Device:
    import torch

    if torch.cuda.is_available():
        return _Device("cuda", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))
    return _Device("cpu", "CPU", None)


def _tf_device() -> _Device:
    from rtxcourse import precision_tf

    cap = precision_tf.gpu_capability()
    if cap is None:
        return _Device("cpu", "CPU", None)
    tf = precision_tf.tf
    name = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get("device_name", "GPU")
    return _Device("cuda", name, cap)


def _torch_matmul(dtype: str, n: int, device: str):
    """Return (fn, sync, context): one n x n matmul in ``dtype`` with torch, and its TF32 setting."""
    import torch

    from rtxcourse import precision_torch

    torch_dtype = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    gen = torch.Generator(device="cpu").manual_seed(n)
    a = torch.randn(n, n, generator=gen).to(device=device, dtype=torch_dtype)
    b = torch.randn(n, n, generator=gen).to(device=device, dtype=torch_dtype)
    # strict fp32 for "fp32", TF32 math for "tf32" (bf16/fp16 matmuls ignore the switch)
    return (lambda: a @ b), "torch", precision_torch.tf32(dtype == "tf32")


def _tf_matmul(dtype: str, n: int, device: str):
    """Return (fn, sync, context): one n x n matmul in ``dtype`` with TensorFlow, and its TF32 setting."""
    from rtxcourse import precision_tf

    tf = precision_tf.tf
    tf_dtype = {"fp32": tf.float32, "tf32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}[dtype]
    with tf.device("/GPU:0" if device == "cuda" else "/CPU:0"):
        a = tf.cast(tf.random.stateless_normal((n, n), seed=(n, 0)), tf_dtype)
        b = tf.cast(tf.random.stateless_normal((n, n), seed=(n, 1)), tf_dtype)
    return (lambda: tf.matmul(a, b)), "tf", precision_tf.tf32(dtype == "tf32")


_MATMULS = {"torch": (_torch_matmul, _torch_device), "tf": (_tf_matmul, _tf_device)}


def matmul_sweep(framework: str = "torch", sizes: list[int] | None = None, dtypes: list[str] | None = None,
                 *, repeats: int = 5) -> bench.Report:
    """Time square matmuls of each size in each dtype; return a report with ratios and MFU notes.

    Measurements are named ``"<dtype> <n>"`` (e.g. ``"bf16 2048"``) with ``work`` = 2 n^3 FLOPs,
    so ``rate`` is the achieved FLOP/s. Each dtype is compared with fp32 at the same size. On
    a CPU, fp16 is measured only up to :data:`CPU_FP16_MAX_N`.
    """
    if framework not in _MATMULS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}, got {framework!r}")
    make, detect = _MATMULS[framework]
    dev = detect()
    sizes = list(sizes or default_sizes(dev.kind))
    if any(not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(f"sizes must be positive ints, got {sizes!r}")
    dtypes = list(dtypes or sweep_dtypes(dev.kind, dev.capability))
    report = bench.Report(f"{framework} matmul sweep on {dev.name}: n x n @ n x n")
    skipped: list[int] = []
    for n in sizes:
        for dtype in dtypes:
            if dev.kind == "cpu" and dtype == "fp16" and n > CPU_FP16_MAX_N:
                skipped.append(n)
                continue
            fn, sync, tf32_setting = make(dtype, n, dev.kind)
            with tf32_setting:
                report.add(bench.measure(fn, name=f"{dtype} {n}", work=2 * n**3, unit="FLOP", sync=sync,
                                         repeats=repeats, params={"dtype": dtype, "n": n, "framework": framework}))
            if dtype != "fp32" and "fp32" in dtypes:
                report.ratio(f"{dtype} {n}", f"fp32 {n}")
    if skipped:
        report.note(f"fp16 skipped on the CPU at n = {', '.join(map(str, sorted(set(skipped))))}: "
                    f"measured only up to n = {CPU_FP16_MAX_N}, since many CPUs have only a slow fp16 kernel path")
    for m in report.measurements:  # MFU at each dtype's largest size
        if m.params["n"] == max(x.params["n"] for x in report.measurements if x.params["dtype"] == m.params["dtype"]):
            report.note(f"{m.name}: {mfu(m.rate, m.params['dtype'], dev.kind, dev.name)}")
    return report


def mfu(rate: float, dtype: str, device: str, gpu_name: str | None = None) -> bench.MFU:
    """MFU of ``rate`` (FLOP/s) in ``dtype``: against the datasheet on a GPU, the CPU's upper bound on a CPU."""
    if device == "cuda":
        return bench.mfu(rate, gpu=gpu_name, dtype=dtype)
    peak, source = bench.cpu_peak_flops(dtype)
    return bench.mfu(rate, peak=peak, source=source)


def rates_by_dtype(report: bench.Report) -> dict[str, dict[int, float]]:
    """``{dtype: {n: FLOP/s}}`` from a :func:`matmul_sweep` report, for plots and ceilings."""
    out: dict[str, dict[int, float]] = {}
    for m in report.measurements:
        out.setdefault(m.params["dtype"], {})[m.params["n"]] = m.rate
    return out


# --------------------------------------------------------------------------- training steps


@dataclass(frozen=True)
class TrainSizes:
    """Model and batch sizes of the training-step benchmark."""

    batch: int
    image: int
    width: int  # CNN channels of the first stage
    seq_len: int
    d_model: int
    n_heads: int
    n_layers: int
    seq_batch: int


def train_sizes(device: str) -> TrainSizes:
    """Sizes for this run: tiny in quick mode, small on a CPU, Tensor-Core-sized on a GPU."""
    if device == "cuda":
        return by_tier(quick=TrainSizes(64, 32, 32, 128, 256, 4, 2, 32),
                       cpu=TrainSizes(256, 64, 64, 512, 1024, 16, 4, 32))
    return by_tier(quick=TrainSizes(32, 32, 16, 64, 128, 4, 1, 16),
                   cpu=TrainSizes(64, 32, 32, 128, 256, 4, 2, 32))


def train_requests(device: str) -> list[str]:
    """Precisions of the training steps: fp16 only on a GPU, TF32 only where it exists."""
    return ["fp32", "tf32", "auto", "fp16"] if device == "cuda" else ["fp32", "auto"]


def _unique_plans(requests, make_plan):
    """Plans for the requests, without duplicates (on a T4 'auto' and 'fp16' are the same plan)."""
    import warnings

    from rtxcourse.precision import PrecisionWarning, distinct_plans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)  # e.g. tf32 asked of a Turing GPU
        return distinct_plans([make_plan(req) for req in requests])


def torch_train_steps(sizes: TrainSizes | None = None, *, repeats: int = 5) -> bench.Report:
    """Samples/s of a full training step (forward, backward, AdamW) of the CNN and transformer."""
    import torch
    import torch.nn.functional as F

    from rtxcourse import models_torch, precision_torch
    from rtxcourse.runtime import seed_everything

    dev = _torch_device()
    s = sizes or train_sizes(dev.kind)
    report = bench.Report(f"torch training step on {dev.name}")
    cuda = dev.kind == "cuda"
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(s.batch, 3, s.image, s.image, generator=gen).to(dev.kind)
    seqs = torch.randn(s.seq_batch, s.seq_len, s.d_model, generator=gen).to(dev.kind)
    if cuda:  # NHWC: the layout Tensor Core convolutions use natively
        images = images.contiguous(memory_format=torch.channels_last)
    models = {
        "cnn": (lambda: models_torch.SmallCNN(3, 10, s.width), images, s.batch),
        "transformer": (lambda: models_torch.TransformerClassifier(s.seq_len, s.d_model, s.n_heads, s.n_layers, 10),
                        seqs, s.seq_batch),
    }
    plans = _unique_plans(train_requests(dev.kind), lambda r: precision_torch.plan(dev.kind, r))
    for model_name, (build, X, batch) in models.items():
        y = torch.randint(0, 10, (batch,), generator=gen).to(dev.kind)
        for p in plans:
            seed_everything(0)
            model = build().to(dev.kind)
            if cuda and model_name == "cnn":
                model = model.to(memory_format=torch.channels_last)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            step = precision_torch.make_train_step(model, opt, F.cross_entropy, p)
            # Fixed shapes: cuDNN may time its convolution algorithms once (the warm-up absorbs it).
            with precision_torch.tf32(p.tf32), _cudnn_benchmark(cuda):
                report.add(bench.measure(lambda: step(X, y), name=f"{model_name} {p.short}", work=batch,
                                         unit="sample", sync="torch", repeats=repeats,
                                         params={"model": model_name, "plan": str(p)}))
        for p in plans[1:]:
            report.ratio(f"{model_name} {p.short}", f"{model_name} {plans[0].short}")
    report.note(f"sizes: {s}")
    if not cuda:
        report.note("fp16 not run on a CPU: its speed there depends on the kernel path, and it needs loss scaling; TF32 exists only on NVIDIA GPUs")
    return report


@contextlib.contextmanager
def _cudnn_benchmark(enabled: bool):
    """Set ``torch.backends.cudnn.benchmark`` inside, restore it on exit."""
    import torch

    old = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = old


def tf_train_steps(sizes: TrainSizes | None = None, *, repeats: int = 5) -> bench.Report:
    """Samples/s of a full Keras training step (custom loop, Adam) per dtype policy."""
    import numpy as np

    from rtxcourse import models_tf, precision_tf
    from rtxcourse.runtime import seed_everything

    keras = precision_tf.keras
    dev = _tf_device()
    s = sizes or train_sizes(dev.kind)
    report = bench.Report(f"tf/keras training step on {dev.name}")
    rng = np.random.default_rng(0)
    data = {
        "cnn": (lambda: models_tf.small_cnn((s.image, s.image, 3), 10, s.width),
                rng.standard_normal((s.batch, s.image, s.image, 3), dtype=np.float32), s.batch),
        "transformer": (lambda: models_tf.transformer_classifier(s.seq_len, s.d_model, s.n_heads, s.n_layers, 10),
                        rng.standard_normal((s.seq_batch, s.seq_len, s.d_model), dtype=np.float32), s.seq_batch),
    }
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    plans = _unique_plans(train_requests(dev.kind), precision_tf.plan)
    for model_name, (build, x, batch) in data.items():
        X = precision_tf.tf.constant(x)
        y = precision_tf.tf.constant(rng.integers(0, 10, batch))
        for p in plans:
            seed_everything(0)
            with precision_tf.policy(p):
                model = build()
                opt = precision_tf.optimizer(keras.optimizers.Adam(1e-3), p)
                step = precision_tf.make_train_step(model, opt, loss_fn)
                report.add(bench.measure(lambda: step(X, y), name=f"{model_name} {p.short}", work=batch,
                                         unit="sample", sync="tf", repeats=repeats,
                                         params={"model": model_name, "plan": str(p), "policy": p.keras_policy}))
        for p in plans[1:]:
            report.ratio(f"{model_name} {p.short}", f"{model_name} {plans[0].short}")
    report.note(f"sizes: {s}")
    if dev.kind == "cpu":
        report.note("mixed_float16 not run on a CPU: its speed there depends on the kernel path, and it needs loss scaling; TF32 exists only on NVIDIA GPUs")
    return report


# --------------------------------------------------------------------------- command


def run(args: argparse.Namespace) -> list[bench.Report]:
    """Run the sweep and/or training steps for the chosen frameworks; return their reports."""
    frameworks = chosen_frameworks(args.framework, "precision")
    reports: list[bench.Report] = []
    for fw in frameworks:
        if args.what in ("matmul", "all"):
            reports.append(matmul_sweep(fw, args.sizes))
        if args.what in ("train", "all"):
            reports.append(torch_train_steps() if fw == "torch" else tf_train_steps())
    return reports
