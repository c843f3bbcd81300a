"""The ``%%distributed N`` cell magic: run one notebook cell as a real N-process job.

    %load_ext rtxcourse.magics

    %%distributed 2
    import torch.distributed as dist
    dist.init_process_group("gloo")
    print("hello from rank", dist.get_rank())
    dist.destroy_process_group()

The cell is written to a temporary ``.py`` file and started with torchrun (PyTorch) or as N
TensorFlow workers with ``TF_CONFIG`` (see :mod:`rtxcourse.distributed`); each line the ranks
print appears in the notebook as ``[rank N] ...`` while they run. Because every process
imports the cell from a file, the ``mp.spawn`` failure "Can't pickle <function ...>: attribute
lookup on __main__ failed" cannot happen. The cell runs in fresh processes: it sees none of the
notebook's variables, so it imports and defines everything it needs (pass values with
``--args``, or save files). Nothing is forked from the kernel either, so a notebook that has
already used CUDA can still start GPU processes ("Cannot re-initialize CUDA in forked
subprocess" cannot happen); each GPU process takes GPU ``LOCAL_RANK``. Options::

    %%distributed N [--torch | --tf] [--device auto|cuda|cpu] [--timeout SECONDS]
                    [--out NAME] [--quiet] [--args ARG ...]

``--out NAME`` stores the :class:`~rtxcourse.distributed.JobResult` in the notebook variable
``NAME`` (with each rank's logs and what it passed to ``rtxcourse.distributed.save_result``).
Without ``--torch``/``--tf`` the framework is guessed from the cell's imports.
:func:`run_cell` is the same thing as a plain function call.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import tempfile
from pathlib import Path
from typing import Sequence

from rtxcourse import distributed, sections

_TF_IMPORT = re.compile(r"^\s*(?:import|from)\s+(?:tensorflow|keras)\b", re.MULTILINE)
_TORCH_IMPORT = re.compile(r"^\s*(?:import|from)\s+torch\b", re.MULTILINE)
CELL_RUNNER = "rtxcourse.workers.cell"


def guess_framework(code: str) -> str:
    """Return ``"tf"`` when the cell imports TensorFlow or Keras (and not torch), else ``"torch"``."""
    return "tf" if _TF_IMPORT.search(code) and not _TORCH_IMPORT.search(code) else "torch"


def run_cell(
    code: str,
    nprocs: int = 2,
    framework: str = "auto",
    *,
    args: Sequence[str] = (),
    device: str = "auto",
    timeout: float = 300.0,
    cwd: str | os.PathLike | None = None,
    echo=True,
) -> distributed.JobResult:
    """Run ``code`` as the main program of ``nprocs`` processes and return the job's result.

    ``framework`` is ``"torch"`` (torchrun), ``"tf"`` (TensorFlow workers with ``TF_CONFIG``)
    or ``"auto"`` (:func:`guess_framework`). The processes start in ``cwd`` (default: the
    current folder, which is the notebook's) and find modules there. Other arguments and
    errors are those of :func:`rtxcourse.distributed.launch_torch`.
    """
    if not isinstance(code, str) or not code.strip():
        raise ValueError("the cell is empty: write the program every rank should run")
    if framework == "auto":
        framework = guess_framework(code)
    with tempfile.TemporaryDirectory(prefix="rtxcourse-cell-") as folder:
        path = Path(folder) / "distributed_cell.py"
        path.write_text(code, encoding="utf-8")
        return distributed.launch(
            framework, module=CELL_RUNNER, nprocs=nprocs, args=[str(path), *map(str, args)],
            device=device, timeout=timeout, cwd=cwd or os.getcwd(), echo=echo,
        )


class _LineParser(argparse.ArgumentParser):
    """argparse that raises ValueError with the usage instead of exiting (which would stop the kernel)."""

    def error(self, message):
        raise ValueError(f"{message}\nusage: {self.format_usage().strip().removeprefix('usage: ')}")


def _parser() -> argparse.ArgumentParser:
    p = _LineParser(prog="%%distributed", add_help=False,
                                description="Run this cell as N processes (torchrun or TF workers).")
    p.add_argument("nprocs", type=int, help="number of processes (ranks)")
    fw = p.add_mutually_exclusive_group()
    fw.add_argument("--torch", dest="framework", action="store_const", const="torch", help="PyTorch under torchrun")
    fw.add_argument("--tf", dest="framework", action="store_const", const="tf", help="TensorFlow workers with TF_CONFIG")
    p.add_argument("--device", default="auto", choices=distributed.DEVICES, help="auto: GPUs if there are enough")
    p.add_argument("--timeout", type=float, default=300.0, help="stop the job after this many seconds")
    p.add_argument("--out", default=None, help="store the JobResult in this notebook variable")
    p.add_argument("--quiet", action="store_true", help="do not show the ranks' output live")
    p.add_argument("--args", nargs=argparse.REMAINDER, default=[], help="command-line arguments for the cell")
    p.set_defaults(framework="auto")
    return p


def parse_line(line: str) -> argparse.Namespace:
    """Parse the ``%%distributed`` line; a bad line raises ValueError with the usage."""
    ns = _parser().parse_args(shlex.split(line))
    if ns.out is not None and not ns.out.isidentifier():
        raise ValueError(f"--out needs a Python variable name, got {ns.out!r}")
    return ns


def distributed_magic(line: str, cell: str, user_ns: dict | None = None) -> None:
    """The body of ``%%distributed``: run the cell, print a summary, store the result if asked."""
    ns = parse_line(line)
    if not sections.enter(guess_framework(cell) if ns.framework == "auto" else ns.framework):
        return  # a one-framework install: the cell is that framework's section, skipped with one line
    job = run_cell(cell, ns.nprocs, ns.framework, args=ns.args, device=ns.device,
                   timeout=ns.timeout, echo=not ns.quiet)
    print(f"{job.framework}: {job.nprocs} processes on {job.device} finished in {job.seconds:.1f} s")
    if ns.out is not None and user_ns is not None:
        user_ns[ns.out] = job


def load_ipython_extension(ipython) -> None:
    """Register ``%%distributed`` (called by ``%load_ext rtxcourse.magics``)."""

    def magic(line, cell):
        return distributed_magic(line, cell, ipython.user_ns)

    magic.__doc__ = __doc__
    ipython.register_magic_function(magic, magic_kind="cell", magic_name="distributed")
