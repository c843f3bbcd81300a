"""Run one prepared notebook in a fresh kernel, in its own process and folder, under limits.

``rtxcourse grade`` starts ``python -m rtxcourse.course.kernel_runner JOB_DIR`` once per
submission (nothing is reused between students). ``JOB_DIR`` holds ``job.json`` (the limits)
and ``prepared.ipynb``; the runner writes ``executed.ipynb`` (with outputs, capped) and
``run.json`` (timings and how the run ended: ``completed``, ``timeout``, ``kernel died`` or
``kernel failed``). It imports no framework; the notebook's kernel does.

Each kernel (:mod:`rtxcourse.course.kernel`) gets:

* a new temporary folder as its working directory, with ``HOME`` and ``TMPDIR`` inside it, so
  relative paths, ``~`` and temporary files land there; the folder is deleted afterwards, and
  every process in the kernel's process group is killed;
* a memory limit (``RLIMIT_DATA``, set in the kernel's own process; see that module for why
  not ``RLIMIT_AS``);
* a per-cell timeout (the cell is interrupted with SIGINT, its question gets no points, the
  notebook goes on) and a total timeout (the kernel is killed; points already earned count);
* an output cap: outputs past ``output_limit`` bytes are dropped as they arrive, so tens of MB
  printed by a notebook never reach the gradebook or the feedback.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":
    # jsonschema (imported by nbformat) compiles an RFC 3987 grammar at import when the
    # rfc3987_syntax package is installed: 2.5 s of CPU per runner here, for a URI format
    # no notebook schema uses. The runner validates nothing, so it goes without.
    sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402  (after the line above, on purpose)
from jupyter_client import AsyncKernelManager  # noqa: E402
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import DeadKernelError  # noqa: E402

from rtxcourse.files import atomic_write  # noqa: E402

GRADER_KEY = "rtxcourse_grader"  # cell metadata of the cells the grader adds
STARTUP_TIMEOUT_S = 60
# A grader cell prints a few hundred bytes; more means something is writing into it.
GRADER_OUTPUT_LIMIT = 64 * 1024
DROPPED_NOTE = "[rtxcourse grade: output past the limit of {limit} dropped]\n"


class _Specs(KernelSpecManager):
    """The one kernel the grader runs: this interpreter's IPython, started under the limits."""

    memory_bytes = 0

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        argv = [sys.executable, "-m", "rtxcourse.course.kernel", str(self.memory_bytes), "-f", "{connection_file}"]
        return KernelSpec(argv=argv, display_name="rtxcourse grader", language="python",
                          interrupt_mode="signal", metadata={})


class _Client(NotebookClient):
    """nbclient's executor with outputs capped and the notebook's own cell time measured."""

    def __init__(self, nb, km, output_limit: int, **kw):
        super().__init__(nb, km=km, **kw)
        self.output_limit, self.output_bytes, self.dropped_bytes = output_limit, 0, 0
        self.truncated_cells: set[int] = set()
        self.notebook_seconds, self._cell_start = 0.0, 0.0
        self.on_cell_execute, self.on_cell_executed = self._started, self._finished

    def _started(self, cell, cell_index):
        self._cell_start = time.monotonic()

    def _finished(self, cell, cell_index, execute_reply):
        if GRADER_KEY not in cell.metadata:
            self.notebook_seconds += time.monotonic() - self._cell_start

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {})))
        grader = GRADER_KEY in self.nb.cells[cell_index].metadata
        used = sum(len(json.dumps(o)) for o in outs) if grader else self.output_bytes
        limit = GRADER_OUTPUT_LIMIT if grader else self.output_limit
        if used + size > limit:
            self.dropped_bytes += size
            if cell_index not in self.truncated_cells:
                self.truncated_cells.add(cell_index)
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=DROPPED_NOTE.format(limit=_size(limit))))
            return None
        if not grader:
            self.output_bytes += size
        return super().output(outs, msg, display_id, cell_index)


def _size(n: float) -> str:
    """Bytes for a reader: ``1 MB``, ``64 kB``."""
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 2**10:.0f} kB"


def with_this_package(env: dict[str, str]) -> dict[str, str]:
    """``env`` with this ``rtxcourse``'s folder first on PYTHONPATH (wherever the grader started)."""
    package_parent = str(Path(__file__).resolve().parents[2])
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)}


def kernel_env(root: Path) -> dict[str, str]:
    """The kernel's environment: the grader's, with HOME, TMPDIR and PWD inside ``root``.

    The kernel imports the same ``rtxcourse`` as the grader (its folder goes first on
    PYTHONPATH), runs in quick mode unless ``RTXCOURSE_QUICK`` says otherwise, and plots
    without a display. Matplotlib gets a private config folder seeded with a copy of the
    grader's font cache (building it costs seconds; sharing it would let one submission
    change what the next one sees).
    """
    env = with_this_package({k: v for k, v in os.environ.items() if k not in ("OLDPWD", "JPY_PARENT_PID")})
    mpl = root / "home" / ".matplotlib"
    mpl.mkdir(parents=True, exist_ok=True)
    cache = Path(env.get("MPLCONFIGDIR") or Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib")
    for fontlist in cache.glob("fontlist-*.json"):
        shutil.copyfile(fontlist, mpl / fontlist.name)
    env.update(HOME=str(root / "home"), TMPDIR=str(root / "tmp"), PWD=str(root / "work"), MPLBACKEND="Agg",
               MPLCONFIGDIR=str(mpl))
    env.setdefault("RTXCOURSE_QUICK", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def _exit_description(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


async def _exit_code(km) -> int | None:
    """The kernel process's exit status, waiting up to 5 s for it (None if it is still running)."""
    process = getattr(km.provisioner, "process", None)
    for _ in range(50):
        if process is None or process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    return None if process is None else process.poll()


def kill_group(pid: int | None) -> None:
    """SIGKILL the process group led by ``pid`` (a kernel leads its own session), if it still exists."""
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGKILL)  # the kernel leads its own session: this takes its children too
    except (ProcessLookupError, PermissionError):
        pass


async def execute(nb, *, cell_timeout: float, total_timeout: float, memory_bytes: int, output_limit: int,
                  pid_file: Path | None = None):
    """Execute ``nb`` (in place) in a fresh, limited kernel; return the run facts as a dict.

    ``pid_file`` receives the kernel's process id, so that whoever kills this runner can kill
    the kernel's process group too.
    """
    root = Path(tempfile.mkdtemp(prefix="rtxcourse-grade-"))
    for sub in ("home", "tmp", "work"):
        (root / sub).mkdir()
    env = kernel_env(root)
    specs = _Specs()
    specs.memory_bytes = memory_bytes
    km = AsyncKernelManager(kernel_name="rtxcourse-grader", kernel_spec_manager=specs, transport="ipc", ip=str(root / "kernel"))
    client = _Client(nb, km, output_limit, timeout=cell_timeout, allow_errors=True, interrupt_on_timeout=True,
                     startup_timeout=STARTUP_TIMEOUT_S, record_timing=False, kernel_name="rtxcourse-grader")
    run = {"ended": "completed", "message": "", "kernel_start_seconds": 0.0}
    t0 = time.monotonic()
    log_path = root / "kernel.log"
    pid = None
    try:
        with open(log_path, "wb") as log:
            try:
                await km.start_kernel(cwd=str(root / "work"), env=env, stdout=log, stderr=log,
                                      extra_arguments=["--HistoryManager.hist_file=:memory:"])
                pid = getattr(km.provisioner, "pid", None)
                if pid_file is not None and pid:
                    atomic_write(pid_file, str(pid))
                await client.async_start_new_kernel_client()  # start-up has its own timeout, not the notebook's
                run["kernel_start_seconds"] = time.monotonic() - t0
                task = asyncio.ensure_future(client.async_execute())
                done, _ = await asyncio.wait({task}, timeout=total_timeout)
                if not done:  # kill the kernel first: nbclient then ends the task itself
                    run["ended"], run["message"] = "timeout", f"the notebook ran past the total timeout of {total_timeout:g} s and was stopped"
                    kill_group(pid)
                    await asyncio.wait({task}, timeout=30)
                    task.cancel()
                else:
                    task.result()
            except DeadKernelError:
                code = await _exit_code(km)
                why = "stopped answering" if code is None else f"died ({_exit_description(code)})"
                run["ended"], run["message"] = "kernel died", f"the kernel {why}"
            except Exception as e:  # the kernel could not start or answer: that submission only
                run["ended"], run["message"] = "kernel failed", f"{type(e).__name__}: {str(e)[:300]}"
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
        kill_group(pid)
        try:
            await km.shutdown_kernel(now=True)
        except Exception:  # already gone: nothing left to stop
            pass
        tail = log_path.read_bytes()[-2000:].decode("utf-8", "replace") if log_path.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
    run.update(seconds=time.monotonic() - t0, notebook_seconds=client.notebook_seconds,
               dropped_output_bytes=client.dropped_bytes, output_limit=output_limit,
               truncated_cells=sorted(client.truncated_cells), kernel_log_tail=tail if run["ended"] != "completed" else "")
    return run


def run_job(job_dir: Path) -> None:
    """Execute ``job_dir/prepared.ipynb`` with the limits of ``job.json``; write the results there."""
    job = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    # The grader wrote and validated this notebook: the v4 reader and writer skip the schema.
    nb = nbformat.v4.reads((job_dir / "prepared.ipynb").read_text(encoding="utf-8"))
    try:
        run = asyncio.run(execute(nb, cell_timeout=job["cell_timeout"], total_timeout=job["timeout"],
                                  memory_bytes=int(job["memory_bytes"]), output_limit=int(job["output_limit"]),
                                  pid_file=job_dir / "kernel.pid"))
    except Exception as e:  # still leave a result: the grader reports it for this submission only
        run = {"ended": "kernel failed", "message": f"the kernel runner failed: {type(e).__name__}: {str(e)[:300]}"}
    atomic_write(job_dir / "executed.ipynb", nbformat.v4.writes(nb))
    atomic_write(job_dir / "run.json", json.dumps(run))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m rtxcourse.course.kernel_runner JOB_DIR", file=sys.stderr)
        return 2
    run_job(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
