"""The ``rtxcourse`` command (also ``python -m rtxcourse``).

    rtxcourse doctor [--json] [--no-frameworks]   what this machine can do, and what to run here
    rtxcourse bench <topic> [--quick] [--json]   the course's benchmarks (see `rtxcourse bench -h`)
    rtxcourse release [--check]                  regenerate exercises/ and solutions/ from source/
    rtxcourse estimate --params 7e9 ...          memory per GPU, the GPUs it fits on, training time
    rtxcourse grade SUBMISSIONS --assignment NAME --out DIR [-j N]   grade submitted notebooks
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

# Benchmark suites: topic -> (module in rtxcourse.benchmarks, one-line description).
# Each module defines add_arguments(parser) and run(args) -> list[bench.Report].
BENCH_TOPICS = {
    "precision": ("precision", "matmul sweep and training steps in fp32, TF32, bf16 and fp16"),
    "augment": ("augment", "images/s of the augmentation chain against albumentations and framework pipelines"),
    "ddp": ("ddp", "DistributedDataParallel throughput with 1 and N processes, scaling efficiency"),
    "convs": ("convs", "standard vs depthwise-separable convolution: params, FLOPs, time, achieved FLOP/s"),
}


def _doctor(args: argparse.Namespace) -> int:
    from rtxcourse import doctor, hardware

    rep = doctor.report(frameworks=not args.no_frameworks)
    print(json.dumps(rep, indent=2, default=str) if args.json else hardware.format_report(rep))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from rtxcourse.runtime import quiet_frameworks, set_quick_mode

    if args.quick:
        set_quick_mode(True)
    quiet_frameworks()
    module = importlib.import_module(f"rtxcourse.benchmarks.{BENCH_TOPICS[args.topic][0]}")
    reports = module.run(args)
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2, default=str))
    else:
        print("\n\n".join(r.table() for r in reports))
    return 0


def _release(args: argparse.Namespace) -> int:
    from rtxcourse.course import release

    return release.main(check=args.check, root=args.root)


def _estimate(args: argparse.Namespace) -> int:
    from rtxcourse import estimate

    return estimate.run(args)


def _grade(args: argparse.Namespace) -> int:
    from rtxcourse.course import grade

    return grade.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtxcourse", description="Train deep networks fast on NVIDIA GPUs: course tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{doctor,bench,release,estimate,grade}")

    p = sub.add_parser("doctor", help="show CPU, GPUs, Tensor Cores, frameworks and what to run here")
    p.add_argument("--json", action="store_true", help="print the same facts as JSON")
    p.add_argument("--no-frameworks", action="store_true", help="skip importing torch and TensorFlow (faster)")
    p.set_defaults(func=_doctor)

    p = sub.add_parser("bench", help="run one of the course's benchmarks")
    topics = p.add_subparsers(dest="topic", required=True, metavar="{" + ",".join(BENCH_TOPICS) + "}")
    for topic, (module_name, help_text) in BENCH_TOPICS.items():
        tp = topics.add_parser(topic, help=help_text, description=help_text)
        tp.add_argument("--quick", action="store_true", help="small sizes (as RTXCOURSE_QUICK=1)")
        tp.add_argument("--json", action="store_true", help="print hardware, every repeat and the ratios as JSON")
        try:
            module = importlib.import_module(f"rtxcourse.benchmarks.{module_name}")
        except ModuleNotFoundError as e:
            if e.name != f"rtxcourse.benchmarks.{module_name}":
                raise
            tp.set_defaults(func=lambda a, t=topic: _missing_topic(t))
            continue
        module.add_arguments(tp)
        tp.set_defaults(func=_bench)

    p = sub.add_parser("release", help="regenerate exercises/ and solutions/ from source/")
    p.add_argument("--check", action="store_true", help="write nothing; fail if the committed copies differ")
    p.add_argument("--root", default=None, help="course repository root (default: found from the current folder)")
    p.set_defaults(func=_release)

    p = sub.add_parser("estimate", help="memory per GPU, where a model fits, and its training time")
    from rtxcourse.estimate import add_arguments as estimate_arguments

    estimate_arguments(p)
    p.set_defaults(func=_estimate)

    p = sub.add_parser("grade", help="grade submitted notebooks of an exercise: gradebook, feedback, log",
                       description="Run each submission in a fresh kernel under limits and score its checks "
                                   "(docs/instructors.md).")
    p.add_argument("submissions", nargs="?", help="a notebook, or a folder with one file or folder per student")
    p.add_argument("--assignment", help="the exercise, as named in lessons.toml (e.g. 03_amp_train_step)")
    p.add_argument("--out", help="folder for gradebook.csv, feedback/, executed/ and grade.log")
    p.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    p.add_argument("--timeout", type=float, default=600, help="seconds one notebook may run in all (default 600)")
    p.add_argument("--cell-timeout", type=float, default=120, help="seconds one cell may run (default 120)")
    p.add_argument("--memory", type=float, default=4, help="GB of memory one kernel may use (default 4)")
    p.add_argument("--source", help="instructor notebook to grade against (default: source/ASSIGNMENT.ipynb)")
    p.add_argument("--plan", action="store_true", help="print the workshop plan from lessons.toml and exit")
    p.set_defaults(func=_grade)
    return parser


def _missing_topic(topic: str) -> int:
    print(f"rtxcourse: the '{topic}' benchmark is not part of this version of the course", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
