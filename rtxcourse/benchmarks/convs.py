"""``rtxcourse bench convs``: a standard 3x3 convolution against its depthwise-separable twin.

    rtxcourse bench convs --quick                  # a few seconds per framework on a 2-core CPU
    rtxcourse bench convs --framework torch --json

For one layer shape (batch, H, W, C_in -> C_out, k = 3) and each framework, the forward pass
of four convolutions is timed: the standard conv, the separable pair (depthwise then
pointwise), and each half alone. Every measurement carries its FLOPs (``rtxcourse.flops``
formulas), so the table's rate column is the achieved FLOP/s, and its parameters and
arithmetic intensity (FLOPs per byte moved) in ``params``. In PyTorch each is also run in
``channels_last`` memory format. The notes compare the FLOPs ratio (1/C_out + 1/k^2) with the
time ratio measured in the same run: the depthwise half does few FLOPs per byte it moves, so
it runs far below the machine's FLOP/s and the separable conv is slower than its FLOPs say.
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass

from rtxcourse import bench
from rtxcourse import flops as F
from rtxcourse.benchmarks import FRAMEWORKS, chosen_frameworks
from rtxcourse.runtime import by_tier

KINDS = ("standard", "separable", "depthwise", "pointwise")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--framework", choices=("torch", "tf", "both"), default="both",
                        help="which framework to measure (default: both that are installed)")


@dataclass(frozen=True)
class ConvSizes:
    """One layer shape: a batch of size x size x c_in images to c_out channels with k x k kernels."""

    batch: int
    size: int
    c_in: int
    c_out: int
    k: int = 3


def default_sizes(device: str) -> ConvSizes:
    """A MobileNet-like middle layer: small in quick mode, 56x56x128 on a CPU, wider on a GPU."""
    if device == "cuda":
        return by_tier(quick=ConvSizes(32, 56, 128, 128), cpu=ConvSizes(64, 56, 256, 256))
    return by_tier(quick=ConvSizes(8, 32, 64, 64), cpu=ConvSizes(32, 56, 128, 128))


def counts(s: ConvSizes) -> dict[str, F.Count]:
    """Formula counts (no bias) of the four convolutions, per example."""
    dw = F.depthwise_conv2d(s.size, s.size, s.c_in, s.k, bias=False)
    pw = F.pointwise_conv2d(s.size, s.size, s.c_in, s.c_out, bias=False)
    return {"standard": F.conv2d(s.size, s.size, s.c_in, s.c_out, s.k, bias=False), "separable": dw + pw,
            "depthwise": dw, "pointwise": pw}


def _torch_convs(s: ConvSizes, device) -> dict:
    """{kind: module} of the four convs in torch, on ``device``, in eval mode."""
    from torch import nn

    depthwise = nn.Conv2d(s.c_in, s.c_in, s.k, padding=s.k // 2, groups=s.c_in, bias=False)
    pointwise = nn.Conv2d(s.c_in, s.c_out, 1, bias=False)
    convs = {"standard": nn.Conv2d(s.c_in, s.c_out, s.k, padding=s.k // 2, bias=False),
             "separable": nn.Sequential(depthwise, pointwise), "depthwise": depthwise, "pointwise": pointwise}
    return {kind: m.to(device).eval() for kind, m in convs.items()}


def torch_report(s: ConvSizes | None = None, *, repeats: int = 5, channels_last: bool = True) -> bench.Report:
    """Forward-pass time and FLOP/s of the four convs in torch (fp32), NCHW and optionally channels_last."""
    import torch

    from rtxcourse import precision_torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    s = s or default_sizes(device.type)
    convs = _torch_convs(s, device)
    report = bench.Report(f"torch conv forward on {name}: {_shape(s)}")
    x = torch.randn(s.batch, s.c_in, s.size, s.size, generator=torch.Generator().manual_seed(0)).to(device)
    formats = {"": torch.contiguous_format, " channels_last": torch.channels_last} if channels_last else {"": torch.contiguous_format}
    c, runs = counts(s), {}
    for suffix, fmt in formats.items():
        xf = x.contiguous(memory_format=fmt)
        for kind in KINDS:
            module = convs[kind] if fmt is torch.contiguous_format else copy.deepcopy(convs[kind]).to(memory_format=fmt)
            runs[kind + suffix] = (lambda m=module, xf=xf: m(xf), c[kind], _params(c[kind], s, "torch", fmt))
    with torch.no_grad(), precision_torch.tf32(False):  # strict fp32, so the FLOP/s compare like with like
        _measure_interleaved(report, runs, s.batch, "torch", repeats)
    _compare(report, s, [""] + ([" channels_last"] if channels_last else []))
    return report


def tf_report(s: ConvSizes | None = None, *, repeats: int = 5) -> bench.Report:
    """Forward-pass time and FLOP/s of the four convs in Keras/TensorFlow (fp32, NHWC)."""
    from rtxcourse import precision_tf

    tf, keras = precision_tf.tf, precision_tf.keras
    on_gpu = precision_tf.gpu_capability() is not None
    s = s or default_sizes("cuda" if on_gpu else "cpu")
    L = keras.layers
    depthwise = L.DepthwiseConv2D(s.k, padding="same", use_bias=False)
    pointwise = L.Conv2D(s.c_out, 1, use_bias=False)
    layers = {"standard": L.Conv2D(s.c_out, s.k, padding="same", use_bias=False),
              "separable": lambda x: pointwise(depthwise(x)), "depthwise": depthwise, "pointwise": pointwise}
    report = bench.Report(f"tf/keras conv forward on {'GPU' if on_gpu else 'CPU'}: {_shape(s)}")
    x = tf.random.stateless_normal((s.batch, s.size, s.size, s.c_in), seed=(0, 0))
    c = counts(s)
    runs = {kind: (lambda f=tf.function(layers[kind]): f(x), c[kind], _params(c[kind], s, "tf", "NHWC")) for kind in KINDS}
    with precision_tf.tf32(False):
        _measure_interleaved(report, runs, s.batch, "tf", repeats)
    _compare(report, s, [""])
    return report


def _measure_interleaved(report: bench.Report, runs: dict, batch: int, sync: str, repeats: int) -> None:
    """Time every run once per round, ``repeats`` rounds: a load spike on a shared machine hits all alike."""
    timed = bench.interleaved({name: fn for name, (fn, _, _) in runs.items()}, rounds=repeats, warmup=2,
                              number=None, sync=sync)
    for name, (_, count, params) in runs.items():
        report.add(bench.Measurement(name, timed[name].times, work=batch * count.flops, unit="FLOP", params=params))


def _shape(s: ConvSizes) -> str:
    return f"batch {s.batch}, {s.size}x{s.size}x{s.c_in} -> {s.c_out}, {s.k}x{s.k}, fp32"


def _params(c: F.Count, s: ConvSizes, framework: str, layout) -> dict:
    return {"framework": framework, "layout": str(layout), "params": c.params, "flops_per_example": c.flops,
            "intensity_flop_per_byte": round(F.arithmetic_intensity(c, s.batch, 4), 2), **vars(s)}


def _compare(report: bench.Report, s: ConvSizes, suffixes: list[str]) -> None:
    """Ratios and notes: separable vs standard in time, FLOPs and parameters; depthwise vs pointwise FLOP/s."""
    c = counts(s)
    report.note(f"separable / standard: params {c['separable'].params / c['standard'].params:.3f}, FLOPs "
                f"{c['separable'].flops / c['standard'].flops:.3f} (1/C_out + 1/k^2 = {F.separable_reduction(s.c_out, s.k):.3f})")
    for suffix in suffixes:
        speedup = report.ratio("separable" + suffix, "standard" + suffix)
        dw, pw = report["depthwise" + suffix], report["pointwise" + suffix]
        report.note(f"{('separable' + suffix).strip()}: {speedup:.2f}x the speed of standard with "
                    f"{c['standard'].flops / c['separable'].flops:.1f}x fewer FLOPs; depthwise half reaches "
                    f"{dw.rate / pw.rate:.0%} of the pointwise FLOP/s and takes {dw.median / (dw.median + pw.median):.0%} "
                    f"of the pair's time for {c['depthwise'].flops / c['separable'].flops:.0%} of its FLOPs")
    if len(suffixes) > 1:
        for kind in ("standard", "depthwise"):
            report.ratio(kind + suffixes[1], kind)


def run(args: argparse.Namespace) -> list[bench.Report]:
    """Run the comparison for the chosen frameworks; return their reports."""
    frameworks = chosen_frameworks(args.framework, "convs")
    return [torch_report() if fw == "torch" else tf_report() for fw in frameworks]
