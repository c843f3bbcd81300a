"""``rtxcourse bench ddp``: DistributedDataParallel throughput with 1 and N processes.

Weak scaling, the way data parallelism is used: each process keeps the same batch, so N
processes train on an N-times larger global batch. Two torchrun jobs of
:mod:`rtxcourse.workers.ddp_bench` give three measurements:

* ``1 process``: the baseline, one device;
* ``N processes, no all-reduce``: the N processes training independently, which separates
  the cost of communication from the cost of sharing the machine;
* ``N processes``: the same processes with DDP, gradients all-reduced every step.

Scaling efficiency = throughput(N) / (N x throughput(1)); with a fixed batch per process it
equals t(1) / t(N), the ratio of median step times. The step time the DDP run adds to the same
processes without the wrapper is the *exposed* communication plus DDP's own overhead (bucketing,
hooks): DDP all-reduces during ``backward()``, so the part of the all-reduce that overlaps the
remaining backward computation costs nothing and is not in it. It is not the all-reduce's
duration, which only a profiler shows. On GPUs each process owns one GPU. On a
CPU each process gets cores/N threads, so a process plays the part of one device and the ideal
is still N times the throughput; cores shared with other work make it noisy.

Sizes follow the device the processes run on (:func:`default_sizes`), not the machine's tier:
a 1-GPU machine runs its 2 processes on the CPU, at CPU sizes. On GPUs the batch per process
is large enough that a step computes for longer than NCCL needs to all-reduce the gradients
over NVLink, so the efficiency measures data parallelism, not launch overheads.
"""

from __future__ import annotations

import argparse

from rtxcourse import bench, distributed
from rtxcourse.runtime import quick_mode

WORKER = "rtxcourse.workers.ddp_bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nprocs", type=int, default=None,
                        help="processes of the parallel runs (default: every GPU if there are 2+, else 2)")
    parser.add_argument("--device", default="auto", choices=distributed.DEVICES,
                        help="auto: GPUs if there are at least --nprocs, else CPU processes")
    parser.add_argument("--batch-size", type=int, default=None, help="per process (default: by device, see default_sizes)")
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="MLP hidden widths (default: by device)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed repeat")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is stopped")


def _default_nprocs() -> int:
    return max(2, distributed.torch_gpu_count())


def default_sizes(device: str) -> dict:
    """Batch per process, hidden widths, steps per repeat and repeats for processes on ``device``.

    ``device`` is where the processes run (``"cpu"`` or ``"cuda"``, see
    :func:`rtxcourse.distributed.resolve_device`); quick mode gives small sizes on either.
    On GPUs: an MLP 1024-4096-4096-10 (21 M parameters, 84 MB of fp32 gradients to all-reduce)
    with 8192 examples per GPU, about 1 TFLOP per step: milliseconds on any recent GPU.
    """
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda' (where the processes run), got {device!r}")
    if quick_mode():
        return {"batch_size": 64, "hidden": (512, 512), "steps": 4, "repeats": 3}
    if device == "cuda":
        return {"batch_size": 8192, "hidden": (4096, 4096), "steps": 20, "repeats": 5}
    return {"batch_size": 256, "hidden": (2048, 2048), "steps": 10, "repeats": 5}


def scaling_report(
    nprocs: int = 2,
    *,
    device: str = "auto",
    batch_size: int = 256,
    hidden: tuple[int, ...] = (2048, 2048),
    steps: int = 10,
    repeats: int = 3,
    precision: str = "auto",
    timeout: float = 600.0,
    echo=False,
) -> bench.Report:
    """Measure 1 process, ``nprocs`` DDP processes and ``nprocs`` independent ones; return the Report.

    The Report's ratio ``N processes vs 1 process`` is t(1)/t(N), the weak-scaling efficiency;
    its notes give the throughput speed-up, the cost of sharing the machine and the exposed
    communication plus DDP overhead.
    """
    if not isinstance(nprocs, int) or nprocs < 2:
        raise ValueError(f"nprocs must be an int >= 2 (the baseline is 1 process), got {nprocs!r}")
    chosen = distributed.resolve_device(nprocs, device, framework="torch")
    env = {}
    if chosen == "cpu":
        import os

        # One share of the cores per process in every run, the baseline too: a process is a "device".
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nprocs))
    common = ["--batch-size", batch_size, "--hidden", *hidden, "--steps", steps, "--repeats", repeats,
              "--precision", precision]
    report = bench.Report(f"DDP weak scaling: MLP {'-'.join(map(str, hidden))}, batch {batch_size} per process, "
                          f"{chosen} {'processes' if chosen == 'cpu' else 'GPUs'}")
    timings = {}
    for n in (1, nprocs):
        job = distributed.launch_torch(module=WORKER, nprocs=n, args=list(map(str, common)),
                                       device=chosen, timeout=timeout, env=env, echo=echo)
        timings[n] = job.result(0)  # {"ddp": ..., and with several processes "no_ddp": ...}
    for m in (timings[1]["ddp"], timings[nprocs]["no_ddp"], timings[nprocs]["ddp"]):
        report.add(bench.Measurement(m["name"], m["times"], m["work"], m["unit"], m["params"]))
    one, alone, many = (m.name for m in report.measurements)
    efficiency = report.ratio(many, one)  # t1 / tN: fixed work per process
    exposed = 1 - report[alone].median / report[many].median
    sharing = report[alone].median / report[one].median - 1
    report.note(f"scaling efficiency with {nprocs} processes: {efficiency:.0%} "
                f"(throughput {efficiency * nprocs:.2f}x that of 1 process; ideal {nprocs}x)")
    report.note(f"sharing the machine: {nprocs} processes without all-reduce take {sharing:+.0%} "
                "of the 1-process step time")
    report.note(f"exposed communication + DDP overhead: {exposed:.0%} of a DDP step "
                f"(DDP step vs the same {nprocs} processes without gradient synchronisation; "
                "all-reduce hidden behind backward is not counted)")
    return report


def run(args: argparse.Namespace) -> list[bench.Report]:
    """Entry point of ``rtxcourse bench ddp``."""
    nprocs = args.nprocs if args.nprocs is not None else _default_nprocs()
    chosen = distributed.resolve_device(nprocs, args.device, framework="torch")  # warns once if GPUs are too few
    sizes = default_sizes(chosen)
    batch = args.batch_size or sizes["batch_size"]
    hidden = tuple(args.hidden or sizes["hidden"])
    steps = args.steps or sizes["steps"]
    return [scaling_report(nprocs, device=chosen, batch_size=batch, hidden=hidden, steps=steps,
                           repeats=sizes["repeats"], precision=args.precision, timeout=args.timeout)]
