"""``rtxcourse bench memory``: peak activation memory and step time with and without checkpointing.

    rtxcourse bench memory --quick                  # both frameworks, about a minute on a 2-core CPU
    rtxcourse bench memory --framework torch --json

A deep stack of LayerNorm-MLP blocks (``x + fc2(gelu(fc1(norm(x))))``) trains one SGD step per
call, in float32 and in the mixed precision this device supports (bf16 on Ampere+ GPUs and
AVX512_BF16 CPUs, fp16 on older GPUs), with every checkpointing mode of the framework. Each
row gives the median step time; the notes give each mode's measured peak memory above the
weights and gradients, how many times less that is than without checkpointing, and the time it
costs. The steps are timed in interleaved rounds (one call of each per round), so a burst of
load on a shared machine hits all of them alike; every ratio compares two rows of one run. The
time notes give the ratio of medians and of the fastest rounds: other processes only ever add
time, so on a busy machine the fastest round is the least disturbed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from rtxcourse import bench
from rtxcourse.memory import format_bytes
from rtxcourse.benchmarks import FRAMEWORKS, chosen_frameworks
from rtxcourse.runtime import by_tier



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--framework", choices=("torch", "tf", "both"), default="both",
                        help="which framework to measure (default: both that are installed)")
    parser.add_argument("--rounds", type=int, default=None, metavar="N",
                        help="timing rounds, one step of each mode per round (default: 7, --quick: 5)")


@dataclass(frozen=True)
class Sizes:
    """The network and batch of the benchmark: ``depth`` blocks of width ``width``."""

    batch: int
    width: int
    depth: int
    expansion: int = 4


def sizes(device: str) -> Sizes:
    """Sizes for this run. On a CPU every tensor is >= 256 KiB (batch * width >= 65,536), the
    smallest allocation TensorFlow's CPU statistics count."""
    if device == "cuda":
        return by_tier(quick=Sizes(1024, 512, 8), cpu=Sizes(8192, 1024, 24))
    return by_tier(quick=Sizes(512, 128, 8), cpu=Sizes(1024, 256, 16))


def _timed(steps: dict, *, rounds: int, sync: str) -> list[bench.Measurement]:
    """Time each step once per round, the steps taking turns (after a warm-up call each)."""
    return list(bench.interleaved(steps, rounds=rounds, warmup=1, sync=sync).values())


def _compare(report: bench.Report, peaks: dict[str, int], precisions: list[str], modes: list[str]) -> None:
    """Ratios and memory notes of every mode against 'none' in the same precision."""
    for p in precisions:
        base = f"{p} none"
        for mode in modes[1:]:
            name = f"{p} {mode}"
            speed = report.ratio(name, base)
            fastest = min(report[name].times) / min(report[base].times)
            report.note(f"{name}: peak {format_bytes(peaks[name])}, {peaks[base] / max(peaks[name], 1):.1f}x less "
                        f"than {base} ({format_bytes(peaks[base])}); step time {1 / speed:.2f}x "
                        f"(medians), {fastest:.2f}x (fastest rounds)")
    if len(precisions) > 1:
        report.note(f"{precisions[1]} none vs fp32 none: peak {peaks['fp32 none'] / max(peaks[precisions[1] + ' none'], 1):.1f}x less")


def _finish(report: bench.Report, measured: list[bench.Measurement], peaks: dict[str, int], params: dict) -> None:
    for m in measured:
        m.params.update(params[m.name], peak_bytes=peaks[m.name])
        report.add(m)


def _modes(modes, known) -> list[str]:
    modes = list(known if modes is None else modes)
    if modes[:1] != ["none"] or any(m not in known for m in modes) or len(modes) < 2:
        raise ValueError(f"modes must start with 'none' and name at least one of {', '.join(known[1:])}, got {modes!r}")
    return modes


def torch_checkpointing(s: Sizes | None = None, *, rounds: int | None = None, modes=None) -> bench.Report:
    """PyTorch: each of ``modes`` (default: all) of :func:`rtxcourse.memory_torch.checkpointed`,
    in fp32 and in mixed precision."""
    import torch

    from rtxcourse import memory, memory_torch as mt, precision_torch as pt
    from rtxcourse.runtime import seed_everything

    modes = _modes(modes, mt.MODES)
    dev = pt.default_device()
    s = s or sizes(dev.type)
    rounds = rounds or by_tier(quick=5, cpu=7)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    report = bench.Report(f"torch activation checkpointing on {name}: {s.depth} LayerNorm-MLP blocks, "
                          f"width {s.width}, batch {s.batch}")
    seed_everything(0)
    net = mt.residual_mlp(s.width, s.depth, s.expansion).to(dev)
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(s.batch, s.width, generator=gen).to(dev)
    y = torch.randn(s.batch, s.width, generator=gen).to(dev)
    mixed = pt.plan(dev, "auto")
    plans = {"fp32": None} | ({mixed.short: mixed} if mixed.mixed else {})
    steps, peaks, params = {}, {}, {}
    for short, plan in plans.items():
        for mode in modes:
            step = mt.train_step(net, mt.checkpointed(net, mode), plan=plan, lr=0.0)  # lr 0: same weights every call
            step(X, y)
            key = f"{short} {mode}"
            steps[key] = (lambda st=step: st(X, y))
            peaks[key] = mt.measure_memory(steps[key], device=dev).peak_bytes
            params[key] = {"framework": "torch", "mode": mode, "precision": short}
    _finish(report, _timed(steps, rounds=rounds, sync="torch"), peaks, params)
    _compare(report, peaks, list(plans), modes)
    saved = sum(memory.residual_mlp_saved_bytes(s.batch, s.width, s.depth, expansion=s.expansion))
    report.note(f"fp32 none: activations counted by hand {format_bytes(saved)}; measured peak above weights "
                f"and gradients {format_bytes(peaks['fp32 none'])} ({mt.measure_memory(lambda: None, device=dev).method})")
    if not mixed.mixed:
        report.note(f"mixed precision not run: {mixed.reason}")
    report.note(f"sizes: {s}")
    return report


def tf_checkpointing(s: Sizes | None = None, *, rounds: int | None = None, modes=None) -> bench.Report:
    """TensorFlow: each of ``modes`` (default: all) of :func:`rtxcourse.memory_tf.checkpointed`,
    in fp32 and in mixed precision."""
    import numpy as np

    from rtxcourse import memory_tf as mtf, precision_tf as ptf

    tf = mtf.tf
    modes = _modes(modes, mtf.MODES)
    device = mtf.default_device()
    s = s or sizes("cuda" if device.startswith("GPU") else "cpu")
    rounds = rounds or by_tier(quick=5, cpu=7)
    report = bench.Report(f"tf activation checkpointing (tf.recompute_grad) on {device}: {s.depth} LayerNorm-MLP "
                          f"blocks, width {s.width}, batch {s.batch}")
    rng = np.random.default_rng(0)
    X = tf.constant(rng.standard_normal((s.batch, s.width), dtype=np.float32))
    y = tf.constant(rng.standard_normal((s.batch, s.width), dtype=np.float32))
    mixed = ptf.plan("auto")
    plans = {"fp32": ptf.plan("fp32")} | ({mixed.short: mixed} if mixed.mixed else {})
    steps, peaks, params = {}, {}, {}
    # Every train_step is a new tf.function of the same code: TensorFlow would warn about
    # "frequent retracing" after a few of them, which is expected here.
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")
    try:
        _tf_steps(plans, modes, s, X, y, steps, peaks, params, device)
    finally:
        logger.setLevel(level)
    _finish(report, _timed(steps, rounds=rounds, sync="tf"), peaks, params)
    _compare(report, peaks, list(plans), modes)
    report.note(f"memory: {mtf.measure_memory(lambda: None, device=device).method}")
    if not mixed.mixed:
        report.note(f"mixed precision not run: {mixed.reason}")
    report.note(f"sizes: {s}")
    return report


def _tf_steps(plans, modes, s: Sizes, X, y, steps, peaks, params, device) -> None:
    """Build, warm up and measure the peak of one TF step per precision and mode."""
    from rtxcourse import memory_tf as mtf, precision_tf as ptf
    from rtxcourse.runtime import seed_everything

    for short, plan in plans.items():
        seed_everything(0)
        with ptf.policy(plan):
            blocks = mtf.residual_mlp(s.width, s.depth, s.expansion)
        for mode in modes:
            step = mtf.train_step(blocks, mtf.checkpointed(blocks, mode), plan=plan, lr=0.0)
            step(X, y)
            key = f"{short} {mode}"
            steps[key] = (lambda st=step: st(X, y))
            peaks[key] = mtf.measure_memory(steps[key], device=device).peak_bytes
            params[key] = {"framework": "tf", "mode": mode, "precision": short, "policy": plan.keras_policy}


def run(args: argparse.Namespace) -> list[bench.Report]:
    """Run the checkpointing comparison for the chosen frameworks; return their reports."""
    frameworks = chosen_frameworks(args.framework, "memory")
    if args.rounds is not None and args.rounds < 1:
        raise SystemExit(f"rtxcourse bench memory: --rounds must be at least 1, got {args.rounds}")
    run_one = {"torch": torch_checkpointing, "tf": tf_checkpointing}
    return [run_one[fw](rounds=args.rounds) for fw in frameworks]
