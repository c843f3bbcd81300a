"""Checkpoint files that survive a crash: atomic writes, the last N kept, the latest found.

Framework-free: the frameworks turn their training state into bytes
(:mod:`rtxcourse.checkpoint_torch` uses ``torch.save``), this module decides where the bytes go::

    path = checkpoint.save(run_dir, step=1200, data=payload, keep=3)  # ckpt-00001200.pt, atomically
    latest = checkpoint.latest(run_dir)                                # Path, or None on a fresh start
    checkpoint.step_of(latest)                                         # 1200

* A checkpoint is written to a temporary file in the same folder and renamed over its final
  name (:func:`rtxcourse.files.atomic_write`): a process killed half-way through a save leaves
  the previous checkpoint intact and, at worst, a hidden ``.ckpt-*.tmp`` that discovery
  ignores and the next save removes. Writing ``torch.save(state, "last.pt")`` directly, as
  most tutorials do, can leave a truncated ``last.pt`` that the restarted job then fails to load.
* Names carry the step, zero-padded (``ckpt-00001200.pt``), so "the latest" is the highest
  step, not the newest modification time (clocks and copied folders lie).
* ``keep`` bounds the disk a long run uses: after each save only the newest ``keep`` remain.

The rename is atomic against a crash of the *process* (what a killed or pre-empted job is).
Surviving a power cut as well needs an ``fsync`` of the file and its folder, which costs
milliseconds on a local disk and much more on network file systems; the course does not do it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rtxcourse.files import atomic_write
from rtxcourse.validate import positive_ints

PREFIX = "ckpt-"
DEFAULT_SUFFIX = ".pt"
_STEP_DIGITS = 8


def _check_suffix(suffix: str) -> None:
    if not isinstance(suffix, str) or not re.fullmatch(r"\.[A-Za-z0-9_.]+", suffix):
        raise ValueError(f"suffix must look like '.pt' (a dot and letters), got {suffix!r}")


def path_for(directory: str | os.PathLike, step: int, suffix: str = DEFAULT_SUFFIX) -> Path:
    """The file name the checkpoint of ``step`` gets in ``directory`` (``ckpt-00001200.pt``)."""
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    _check_suffix(suffix)
    return Path(directory) / f"{PREFIX}{step:0{_STEP_DIGITS}d}{suffix}"


def step_of(path: str | os.PathLike) -> int:
    """The step a checkpoint file was saved at, read from its name."""
    m = re.fullmatch(rf"{PREFIX}(\d+)\..+", Path(path).name)
    if not m:
        raise ValueError(f"{str(path)!r} is not a checkpoint name like {PREFIX}00001200{DEFAULT_SUFFIX}")
    return int(m.group(1))


def list_checkpoints(directory: str | os.PathLike, suffix: str = DEFAULT_SUFFIX) -> list[Path]:
    """All complete checkpoints in ``directory``, oldest step first (empty when it does not exist).

    Temporary files of an interrupted save (hidden, ``.tmp``) are not checkpoints and never listed.
    """
    _check_suffix(suffix)
    folder = Path(directory)
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"{PREFIX}\d+{re.escape(suffix)}")
    return sorted((p for p in folder.iterdir() if p.is_file() and pattern.fullmatch(p.name)), key=step_of)


def latest(directory: str | os.PathLike, suffix: str = DEFAULT_SUFFIX) -> Path | None:
    """The checkpoint with the highest step in ``directory``, or None when there is none yet."""
    found = list_checkpoints(directory, suffix)
    return found[-1] if found else None


def rotate(directory: str | os.PathLike, keep: int, suffix: str = DEFAULT_SUFFIX) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoints and any leftover temporary files; return what was deleted."""
    positive_ints(keep=keep)
    found = list_checkpoints(directory, suffix)
    stale = found[:-keep]
    # Temporary files of a save that was killed half-way (atomic_write names them .NAME.XXXX.tmp).
    stale += [p for p in Path(directory).glob(f".{PREFIX}*{suffix}.*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def save(directory: str | os.PathLike, step: int, data: bytes, *, keep: int = 3,
         suffix: str = DEFAULT_SUFFIX) -> Path:
    """Write ``data`` as the checkpoint of ``step`` atomically, then keep only the newest ``keep``.

    Returns the path written. An existing checkpoint of the same step is replaced (a run
    resumed from before it saves that step again, with the same content when it is exact).
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes (the serialised training state), got {type(data).__name__}")
    target = path_for(directory, step, suffix)
    positive_ints(keep=keep)  # before writing: a bad argument must not leave a file behind
    atomic_write(target, bytes(data))
    rotate(directory, keep, suffix)
    return target
