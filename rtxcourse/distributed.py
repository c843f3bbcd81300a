"""Start a data-parallel job on this machine and watch it: torchrun for PyTorch, TF_CONFIG for TF.

The frameworks' own engines do the distributed work; this module only starts them the way a
cluster would, on localhost, and supervises the processes so a notebook never hangs::

    from rtxcourse import distributed
    job = distributed.launch_torch(module="rtxcourse.workers.ddp_train", nprocs=2, args=["--epochs", "2"])
    job.result(0)            # what rank 0 passed to distributed.save_result(...)
    print(job.output(1))     # everything rank 1 printed

* :func:`launch_torch` runs ``python -m torch.distributed.run`` (torchrun) from this
  interpreter, with a c10d rendezvous on a free localhost port: the same flags a multi-node
  job uses, with ``--nnodes 1``.
* :func:`launch_tf` starts N TensorFlow worker processes itself (TensorFlow has no torchrun),
  each with its own ``TF_CONFIG`` naming all workers on free localhost ports.

Both stream every line the workers print, tagged ``[rank N]``, keep them per rank in the
returned :class:`JobResult`, and stop the whole job when one worker crashes or when the job
runs past ``timeout`` seconds; the :class:`DistributedJobError` they raise names the failing
rank and shows its last lines. Workers must import their code from files (a module or a
script), never from a notebook cell: the ``%%distributed`` cell magic
(:mod:`rtxcourse.magics`) writes the cell to a file first.

How many GPU processes? One process per GPU. ``device="auto"`` uses the GPUs when at least
``nprocs`` are visible and CPU processes otherwise (with a warning when some, but too few,
GPUs exist); ``device="cuda"`` with too few GPUs is an error. See :func:`resolve_device`.

Workers are always fresh interpreters (``subprocess``, never ``fork``), so a notebook kernel
that has already used CUDA can launch GPU jobs: nothing of its CUDA state reaches them.
"""

from __future__ import annotations

import os
import pickle
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

DEVICES = ("auto", "cuda", "cpu")
FRAMEWORKS = ("torch", "tf")
TAIL_LINES = 20  # lines of the failing rank shown in an error
_GRACE_S = 5.0  # after SIGTERM, how long workers get to exit before SIGKILL
_RESULT_DIR_ENV = "RTXCOURSE_RESULT_DIR"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the folder that holds rtxcourse/


class DistributedJobError(RuntimeError):
    """A distributed job failed: a rank crashed, or the job ran past its timeout.

    ``rank`` is the failing rank (None when no rank could be blamed, e.g. the launcher itself
    failed), ``reason`` is ``"crashed"``, ``"timeout"`` or ``"launcher"``, and ``job`` holds
    everything collected until the job was stopped (logs of every rank).
    """

    def __init__(self, message: str, *, rank: int | None, reason: str, job: "JobResult"):
        super().__init__(message)
        self.rank, self.reason, self.job = rank, reason, job


@dataclass
class JobResult:
    """What a finished job left: per-rank logs, per-rank results, timing and the command."""

    framework: str
    nprocs: int
    device: str
    command: list[str]
    seconds: float = 0.0
    returncode: int | None = None
    logs: dict[int, list[str]] = field(default_factory=dict)  # rank -> lines (stdout and stderr)
    launcher_log: list[str] = field(default_factory=list)  # torchrun's own lines
    results: dict[int, Any] = field(default_factory=dict)  # rank -> value given to save_result

    def output(self, rank: int | None = None) -> str:
        """Everything ``rank`` printed (all ranks, tagged, when ``rank`` is None)."""
        if rank is None:
            return "\n".join(f"[rank {r}] {line}" for r in sorted(self.logs) for line in self.logs[r])
        return "\n".join(self.logs.get(rank, []))

    def result(self, rank: int = 0) -> Any:
        """The value rank ``rank`` passed to :func:`save_result`."""
        if rank not in self.results:
            have = ", ".join(map(str, sorted(self.results))) or "none"
            raise KeyError(f"rank {rank} saved no result (ranks with a result: {have}); "
                           "call rtxcourse.distributed.save_result(...) in the worker")
        return self.results[rank]

    def __repr__(self) -> str:
        return (f"JobResult({self.framework}, {self.nprocs} processes on {self.device}, "
                f"{self.seconds:.1f} s, returncode={self.returncode}, results from ranks {sorted(self.results)})")


# --------------------------------------------------------------------------- ports and devices


def free_ports(n: int = 1, host: str = "127.0.0.1") -> list[int]:
    """Return ``n`` distinct TCP ports that are free on ``host`` right now.

    The sockets are held open together (so the ports differ) and closed before returning; a
    process started right after can bind them. Another program could take one in between,
    which on a laptop practically never happens.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port(host: str = "127.0.0.1") -> int:
    """Return one TCP port that is free on ``host`` right now."""
    return free_ports(1, host)[0]


def resolve_device(nprocs: int, device: str = "auto", gpus: int | None = None, *,
                   framework: str | None = None) -> str:
    """Decide whether ``nprocs`` worker processes run on GPUs (``"cuda"``) or CPUs (``"cpu"``).

    The rule: one process per GPU, never two processes on one GPU (NCCL refuses it and it
    would be slower anyway).

    * ``device="cpu"``: CPU processes (gloo), whatever GPUs exist.
    * ``device="cuda"``: GPU processes; fewer than ``nprocs`` visible GPUs is a ValueError.
    * ``device="auto"``: GPUs when at least ``nprocs`` are visible; with none, CPU processes;
      with some but too few, CPU processes and a warning saying how to use the GPUs.

    ``gpus`` is the number of visible GPUs. By default it is asked from the driver (no
    framework import); ``framework="torch"`` counts the GPUs torch can use instead
    (:func:`torch_gpu_count`), which is what a torch job needs.
    """
    if not isinstance(nprocs, int) or isinstance(nprocs, bool) or nprocs < 1:
        raise ValueError(f"nprocs must be a positive int (processes to start), got {nprocs!r}")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if device == "cpu":
        return "cpu"
    if gpus is None:
        if framework == "torch":
            gpus = torch_gpu_count()
        else:
            from rtxcourse.hardware import visible_gpu_count

            gpus = visible_gpu_count()
    if gpus >= nprocs:
        return "cuda"
    if device == "cuda":
        raise ValueError(
            f"asked for {nprocs} GPU processes but {gpus} GPU(s) are visible "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); "
            f"start at most {gpus} processes, or pass device='cpu' to run {nprocs} CPU processes"
        )
    if gpus > 0:
        warnings.warn(
            f"{nprocs} processes asked for but only {gpus} GPU(s) visible: running {nprocs} CPU "
            f"processes (gloo) instead. Use nprocs={gpus} to train on the GPU(s).",
            RuntimeWarning,
            stacklevel=3,
        )
    return "cpu"


def torch_gpu_count() -> int:
    """Number of GPUs that torch workers started from this process can use.

    Asks the driver first (milliseconds, no import) and returns 0 when it reports none. Only
    when the driver shows GPUs is torch imported and asked: a CPU-only torch build sees none
    of them, and a job that put its workers on "cuda" would fail in every rank; that case
    warns and counts 0 GPUs. ``torch.cuda.device_count()`` asks NVML, so this process (a
    notebook kernel, usually) neither initialises CUDA, which would break CUDA in processes
    it forks later, nor takes GPU memory.
    """
    from rtxcourse.hardware import visible_gpu_count

    driver = visible_gpu_count()
    if driver == 0:
        return 0
    import torch

    usable = torch.cuda.device_count()  # 0 for a CPU-only build; respects CUDA_VISIBLE_DEVICES
    if usable < driver:
        from rtxcourse.precision_torch import build

        warnings.warn(
            f"the NVIDIA driver shows {driver} GPU(s) but torch {torch.__version__} can use {usable} "
            f"({build()}); torch workers that need a GPU will run on the CPU. Install a CUDA build "
            "of torch (README, 'GPU users') and check with `rtxcourse doctor`.",
            RuntimeWarning,
            stacklevel=3,
        )
    return usable


# --------------------------------------------------------------------------- inside a worker


def worker_rank() -> int:
    """This worker's global rank (0 outside a distributed job).

    torchrun sets ``RANK``; :func:`launch_tf` sets ``RTXCOURSE_RANK`` (TensorFlow itself keeps
    it in ``TF_CONFIG``, read as a last resort).
    """
    for name in ("RANK", "RTXCOURSE_RANK"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    if "TF_CONFIG" in os.environ:
        import json

        return int(json.loads(os.environ["TF_CONFIG"]).get("task", {}).get("index", 0))
    return 0


def worker_device() -> str:
    """The device the launcher chose for this worker: ``"cuda"`` or ``"cpu"``.

    Outside a launcher (a script started by hand, or by torchrun on a cluster), ``"cuda"``
    when the driver reports a GPU, else ``"cpu"``.
    """
    chosen = os.environ.get("RTXCOURSE_DEVICE")
    if chosen in ("cuda", "cpu"):
        return chosen
    from rtxcourse.hardware import visible_gpu_count

    return "cuda" if visible_gpu_count() else "cpu"


def save_result(value: Any) -> Path | None:
    """From inside a worker, hand ``value`` back to the launcher as ``job.result(rank)``.

    ``value`` must pickle without the worker's own classes: numbers, strings, lists, dicts,
    NumPy arrays (convert tensors with ``.cpu().numpy()`` first). Outside a launched job this
    does nothing and returns None, so a worker script also runs on its own.
    """
    folder = os.environ.get(_RESULT_DIR_ENV)
    if not folder:
        return None
    from rtxcourse.files import atomic_write

    # the launcher never reads half a file
    return atomic_write(Path(folder) / f"rank{worker_rank()}.pkl", pickle.dumps(value))


# --------------------------------------------------------------------------- launchers


def launch_torch(
    script: str | os.PathLike | None = None,
    *,
    module: str | None = None,
    nprocs: int = 2,
    args: Sequence[str] = (),
    device: str = "auto",
    timeout: float = 300.0,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    echo: bool | Callable[[str], None] = True,
) -> JobResult:
    """Run a PyTorch training script as ``nprocs`` processes under torchrun; return the result.

    Give either ``script`` (a ``.py`` file) or ``module`` (e.g. ``"rtxcourse.workers.ddp_train"``),
    plus its command-line ``args``. The command is ``python -m torch.distributed.run --nnodes 1
    --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint 127.0.0.1:PORT ...`` from this
    interpreter, so workers use this environment's torch. Each worker gets ``RANK``,
    ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` from torchrun (env://
    rendezvous), ``RTXCOURSE_DEVICE`` (see :func:`resolve_device`; the GPUs counted are those
    torch can use, :func:`torch_gpu_count`) and this package on ``PYTHONPATH``. On GPUs every
    worker sees all of them and takes GPU ``LOCAL_RANK``.

    ``echo`` prints each line live as ``[rank N] text`` (True), passes it to a callable, or
    stays silent (False). Raises :class:`DistributedJobError` when a rank fails or the job
    runs past ``timeout`` seconds; the whole job is stopped first.
    """
    target, chosen = _prepare(script, module, nprocs, device, timeout, framework="torch")
    with tempfile.TemporaryDirectory(prefix="rtxcourse-torchrun-") as folder:
        run_dir = Path(folder)
        command = [
            sys.executable, "-m", "torch.distributed.run",
            "--nnodes", "1", "--nproc-per-node", str(nprocs),
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}",
            "--rdzv-id", uuid.uuid4().hex[:12], "--max-restarts", "0",
            "--log-dir", str(run_dir / "logs"), "--tee", "3",  # tee: each line tagged [default<rank>]:
            *target, *map(str, args),
        ]
        job = JobResult("torch", nprocs, chosen, command)
        proc = _popen(command, _worker_env(env, chosen, nprocs, run_dir), cwd)
        return _supervise(job, {None: proc}, run_dir, timeout, echo)


def launch_tf(
    script: str | os.PathLike | None = None,
    *,
    module: str | None = None,
    nworkers: int = 2,
    args: Sequence[str] = (),
    device: str = "auto",
    timeout: float = 300.0,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    echo: bool | Callable[[str], None] = True,
) -> JobResult:
    """Run a TensorFlow script as ``nworkers`` local workers of one MultiWorkerMirroredStrategy job.

    Each worker is ``python <script>`` (or ``python -m <module>``) with its own ``TF_CONFIG``::

        {"cluster": {"worker": ["127.0.0.1:PORT0", "127.0.0.1:PORT1"]},
         "task": {"type": "worker", "index": i}}

    which is exactly what each node of a real cluster gets (with real host names). On GPUs
    worker ``i`` sees only GPU ``i`` (one worker per GPU); on CPUs the GPUs are hidden.
    Logs, results, ``echo``, ``timeout`` and errors work as in :func:`launch_torch`; when one
    worker fails the others are stopped at once (they would otherwise wait for it forever).
    """
    import json

    target, chosen = _prepare(script, module, nworkers, device, timeout)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(nworkers)]}
    gpu_ids = _visible_gpu_ids(nworkers) if chosen == "cuda" else []
    with tempfile.TemporaryDirectory(prefix="rtxcourse-tf-") as folder:
        run_dir = Path(folder)
        command = [sys.executable, *target, *map(str, args)]
        job = JobResult("tf", nworkers, chosen, command)
        base = _worker_env(env, chosen, nworkers, run_dir)
        procs: dict[int | None, subprocess.Popen] = {}
        for rank in range(nworkers):
            worker_env = dict(base, RTXCOURSE_RANK=str(rank),
                              TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": rank}}))
            if chosen == "cuda":
                worker_env["CUDA_VISIBLE_DEVICES"] = gpu_ids[rank]
            procs[rank] = _popen(command, worker_env, cwd)
        return _supervise(job, procs, run_dir, timeout, echo)


def launch(framework: str, script=None, *, module=None, nprocs: int = 2, **kwargs) -> JobResult:
    """Dispatch to :func:`launch_torch` (``framework="torch"``) or :func:`launch_tf` (``"tf"``)."""
    if framework == "torch":
        return launch_torch(script, module=module, nprocs=nprocs, **kwargs)
    if framework == "tf":
        return launch_tf(script, module=module, nworkers=nprocs, **kwargs)
    raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}; got {framework!r}")


# --------------------------------------------------------------------------- internals


def _prepare(script, module, nprocs: int, device: str, timeout, framework: str | None = None) -> tuple[list[str], str]:
    """Validate a launch; return the interpreter arguments of the target and the chosen device."""
    target = _target(script, module)
    _check_timeout(timeout)
    return target, resolve_device(nprocs, device, framework=framework)


def _target(script, module) -> list[str]:
    """The interpreter arguments that run ``script`` or ``module`` (exactly one)."""
    if (script is None) == (module is None):
        raise ValueError("give exactly one of script= (a .py file) or module= (e.g. 'rtxcourse.workers.ddp_train')")
    if module is not None:
        if not isinstance(module, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", module):
            raise ValueError(f"module must be a dotted Python module name, got {module!r}")
        return ["-m", module]
    path = Path(script)
    if not path.is_file():
        raise ValueError(f"script {str(path)!r} is not a file; workers import their code from a .py file")
    return [str(path.resolve())]


def _check_timeout(timeout) -> None:
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")


def _visible_gpu_ids(n: int) -> list[str]:
    """CUDA_VISIBLE_DEVICES value for each of ``n`` one-GPU workers, respecting the user's own."""
    user = [t.strip() for t in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if t.strip()]
    return user[:n] if "CUDA_VISIBLE_DEVICES" in os.environ else [str(i) for i in range(n)]


def _worker_env(extra: dict[str, str] | None, device: str, nprocs: int, run_dir: Path) -> dict[str, str]:
    """The environment every worker starts with."""
    from rtxcourse.runtime import quick_mode, quiet_frameworks

    if extra is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise TypeError("env must map str to str")
    quiet_frameworks()  # TF_CPP_MIN_LOG_LEVEL etc. are inherited by the workers
    env = dict(os.environ)
    # Workers import this copy of rtxcourse (and whatever the caller had on its path).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"  # lines reach the notebook as they are printed
    env["RTXCOURSE_DEVICE"] = device
    env[_RESULT_DIR_ENV] = str(run_dir)
    if quick_mode():
        env["RTXCOURSE_QUICK"] = "1"
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the rule chose CPU processes: keep them off any GPU
        # N processes share the cores: give each its share, or they fight over every core.
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nprocs)))
    else:
        env.setdefault("OMP_NUM_THREADS", "1")  # the GPU does the work; torchrun's default too
    env.update(extra or {})
    return env


def _popen(command: list[str], env: dict[str, str], cwd) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, errors="replace", bufsize=1,
        start_new_session=True,  # its own process group, so stopping the job reaches every child
    )


_TORCHRUN_TAG = re.compile(r"^\[default(\d+)\]:(.*)$", re.DOTALL)
_ROOT_CAUSE = re.compile(r"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", re.DOTALL)


class _Streams:
    """Reader threads that put every line of every pipe on one queue: (source, line)."""

    def __init__(self, procs: dict[int | None, subprocess.Popen]):
        self.queue: queue.Queue = queue.Queue()
        self.threads = []
        for source, proc in procs.items():
            for pipe in (proc.stdout, proc.stderr):
                t = threading.Thread(target=self._read, args=(source, pipe), daemon=True)
                t.start()
                self.threads.append(t)

    def _read(self, source, pipe) -> None:
        for line in pipe:
            self.queue.put((source, line.rstrip("\n")))
        pipe.close()

    def lines(self, wait: float):
        """Yield the lines available now, waiting up to ``wait`` seconds for the first."""
        try:
            yield self.queue.get(timeout=wait)
            while True:
                yield self.queue.get_nowait()
        except queue.Empty:
            return

    def finish(self, timeout: float = 5.0) -> None:
        for t in self.threads:
            t.join(timeout)


def _supervise(job: JobResult, procs: dict[int | None, subprocess.Popen], run_dir: Path,
               timeout: float, echo) -> JobResult:
    """Collect logs until every process exits, a rank fails, or ``timeout`` passes."""
    from rtxcourse.hardware import _TF_NOISE

    show = _echo_function(echo)
    last_seen = {r: time.monotonic() for r in range(job.nprocs)}
    for r in range(job.nprocs):
        job.logs[r] = []
    streams = _Streams(procs)
    start = time.monotonic()
    failure: tuple[int | None, str, int | None] | None = None  # (source, reason, exit code)

    def route(source, text) -> None:
        rank = source
        if source is None:  # torchrun: worker lines carry [default<rank>]:
            m = _TORCHRUN_TAG.match(text)
            if not m:
                job.launcher_log.append(text)
                return
            rank, text = int(m.group(1)), m.group(2)
        job.logs[rank].append(text)
        last_seen[rank] = time.monotonic()
        if show and not any(noise in text for noise in _TF_NOISE):
            show(f"[rank {rank}] {text}")

    try:
        while True:
            for source, text in streams.lines(wait=0.1):
                route(source, text)
            codes = {src: p.poll() for src, p in procs.items()}
            crashed = [src for src, c in codes.items() if c not in (None, 0)]
            if crashed:
                failure = (crashed[0], "crashed", codes[crashed[0]])
                break
            if all(c == 0 for c in codes.values()):
                break
            if time.monotonic() - start > timeout:
                failure = (None, "timeout", None)
                break
    except BaseException:  # KeyboardInterrupt (the notebook's stop button): leave no orphan workers
        _stop(procs)
        raise

    alive = _alive_ranks(job, procs) if failure and failure[1] == "timeout" else []
    _stop(procs)
    streams.finish()
    for source, text in streams.lines(wait=0):
        route(source, text)
    job.seconds = time.monotonic() - start
    job.returncode = _returncode(procs)
    job.results = _load_results(run_dir, job.nprocs)
    if failure is None:
        return job
    raise _failure_error(job, failure, alive, last_seen, timeout)


def _echo_function(echo) -> Callable[[str], None] | None:
    if echo is True:
        return lambda line: print(line, flush=True)
    if echo is False or echo is None:
        return None
    if callable(echo):
        return echo
    raise TypeError(f"echo must be True, False or a callable taking one line; got {echo!r}")


def _alive_ranks(job: JobResult, procs: dict[int | None, subprocess.Popen]) -> list[int]:
    """Ranks whose process is still running (torchrun's workers are found by their RANK)."""
    if None not in procs:
        return [r for r, p in procs.items() if p.poll() is None]
    import psutil

    alive = []
    try:
        for child in psutil.Process(procs[None].pid).children(recursive=True):
            rank = child.environ().get("RANK")
            if rank is not None and rank.isdigit() and child.is_running():
                alive.append(int(rank))
    except psutil.Error:  # exited while we looked: report what we found
        pass
    return sorted(set(alive)) or list(range(job.nprocs))


def _stop(procs: dict[int | None, subprocess.Popen]) -> None:
    """Stop every process and its children: SIGTERM, a grace period, then SIGKILL."""
    import psutil

    running = [p for p in procs.values() if p.poll() is None]
    if not running:
        return
    family = []
    for p in running:
        try:  # torchrun starts each worker in a session of its own: find them before signalling
            family += psutil.Process(p.pid).children(recursive=True)
        except psutil.Error:
            pass
        _signal_group(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_S
    for p in running:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in running:
        if p.poll() is None:
            _signal_group(p.pid, signal.SIGKILL)
            p.wait()
    _, still = psutil.wait_procs(family, timeout=0)
    for child in still:
        try:
            child.kill()
        except psutil.Error:
            pass


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def _returncode(procs: dict[int | None, subprocess.Popen]) -> int:
    codes = [p.returncode for p in procs.values()]
    return next((c for c in codes if c), 0)


def _load_results(run_dir: Path, nprocs: int) -> dict[int, Any]:
    results = {}
    for rank in range(nprocs):
        path = run_dir / f"rank{rank}.pkl"
        if path.is_file():
            with open(path, "rb") as f:
                results[rank] = pickle.load(f)
    return results


def _tail(lines: Iterable[str], n: int = TAIL_LINES) -> str:
    tail = list(deque(lines, maxlen=n))
    return "\n".join(f"    {line}" for line in tail) if tail else "    (printed nothing)"


def _failure_error(job: JobResult, failure, alive: list[int], last_seen: dict[int, float],
                   timeout: float) -> DistributedJobError:
    """Build the error that names the failing rank and shows its last lines."""
    source, reason, code = failure
    what = f"{job.framework} job ({job.nprocs} processes on {job.device})"
    if reason == "timeout":
        # The rank that went quiet first is the likely culprit: the others wait for it.
        rank = min(alive, key=lambda r: (last_seen[r], r))
        quiet = time.monotonic() - last_seen[rank]
        done = sorted(set(range(job.nprocs)) - set(alive))
        message = (
            f"{what} ran past its timeout of {timeout:g} s and was stopped. "
            f"Still running: rank(s) {', '.join(map(str, alive))}"
            + (f" (finished: {', '.join(map(str, done))})" if done else "")
            + f". Rank {rank} was the first to go quiet ({quiet:.0f} s without output): "
            "the others are probably waiting for it in a collective."
        )
    elif source is None:  # torchrun exited non-zero: its summary names the first failed rank
        m = _ROOT_CAUSE.search("\n".join(job.launcher_log))
        if m:
            rank, code = int(m.group(1)), int(m.group(2))
            message = f"{what} failed: rank {rank} exited with code {code}{_signal_name(code)}; torchrun stopped the other ranks."
        else:
            rank = None
            message = (f"{what} failed: torchrun exited with code {job.returncode} before naming a failed rank. "
                       f"Its last lines:\n{_tail(job.launcher_log)}")
    else:
        rank = source
        message = f"{what} failed: rank {rank} exited with code {code}{_signal_name(code)}; the other ranks were stopped."
    if rank is not None:
        message += f"\nLast lines of rank {rank}:\n{_tail(job.logs.get(rank, []))}"
    return DistributedJobError(message, rank=rank, reason=reason if rank is not None or reason == "timeout" else "launcher", job=job)


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return ""
    try:
        return f" (killed by {signal.Signals(-code).name})"
    except ValueError:
        return f" (killed by signal {-code})"
