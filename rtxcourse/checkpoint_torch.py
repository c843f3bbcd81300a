"""Save and resume a PyTorch training run exactly: everything the next step depends on, atomically.

A resumed run continues bit for bit like the uninterrupted one only if the checkpoint holds
*all* the state the next step reads, not just the weights:

==============================  ======================================================
``model.state_dict()``          weights and buffers (BatchNorm running statistics)
``optimizer.state_dict()``      momentum / Adam moments and the step count
``scaler.state_dict()``         the fp16 loss scale and its growth counter
``scheduler.state_dict()``      where the learning-rate schedule is
``step``, ``epoch``             where the data order is (the sampler is seeded by epoch)
RNG states                      Python, NumPy, torch CPU and every CUDA device: dropout
                                masks and random augmentations of the next batches
==============================  ======================================================

::

    from rtxcourse import checkpoint_torch as ckpt
    state = ckpt.resume(run_dir, model=model, optimizer=opt, scaler=scaler, scheduler=sched)
    start = state["step"] if state else 0                     # None: nothing saved yet
    for step in range(start, num_steps):
        ...train one step...
        if (step + 1) % every == 0:
            ckpt.save(run_dir, step=step + 1, model=model, optimizer=opt, scaler=scaler, scheduler=sched)

Files are written through :mod:`rtxcourse.checkpoint` (temporary file + rename, the last
``keep`` kept). They hold only tensors and plain Python values, so ``torch.load`` reads them
with ``weights_only=True`` (its default since torch 2.6), which refuses to run pickled code.

In a distributed job call :func:`save` on every rank: the weights are the same on every rank
(DDP keeps them so) and are taken from rank 0, but every rank's dropout draws differ, so the
RNG states of all ranks are gathered and stored in the one file rank 0 writes; :func:`load`
gives each rank its own back.
"""

from __future__ import annotations

import io
import os
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from rtxcourse import checkpoint

FORMAT = 1  # bumped when the layout of the saved dict changes


# --------------------------------------------------------------------------- RNG states


def rng_state() -> dict[str, Any]:
    """This process's random-number generator states: Python, NumPy (global), torch CPU and CUDA."""
    np_state = np.random.get_state(legacy=False)
    return {
        "python": _plain(random.getstate()),
        "numpy": {"bit_generator": np_state["bit_generator"],
                  "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]),
                  "has_gauss": int(np_state["has_gauss"]), "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Put back generator states taken by :func:`rng_state` (in the same or a new process)."""
    missing = {"python", "numpy", "torch", "cuda"} - set(state)
    if missing:
        raise ValueError(f"RNG state lacks {', '.join(sorted(missing))}: not made by rng_state()")
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state({"bit_generator": np_state["bit_generator"],
                         "state": {"key": np_state["key"].cpu().numpy().astype(np.uint32), "pos": np_state["pos"]},
                         "has_gauss": np_state["has_gauss"], "gauss": np_state["gauss"]})
    torch.set_rng_state(state["torch"].cpu())  # generator states are CPU byte tensors, whatever map_location did
    cuda = [s.cpu() for s in state["cuda"]]
    if cuda and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            raise ValueError(f"the checkpoint holds RNG states of {len(cuda)} GPU(s) but {torch.cuda.device_count()} "
                             "are visible: resume with the same CUDA_VISIBLE_DEVICES")
        torch.cuda.set_rng_state_all(cuda)
    elif cuda:
        warnings.warn("the checkpoint holds CUDA RNG states but no GPU is visible: dropout on the GPU "
                      "will not repeat the uninterrupted run", RuntimeWarning, stacklevel=2)


def _plain(python_state: tuple) -> list:
    """``random.getstate()`` as lists (a tuple of 625 ints round-trips through weights_only loading)."""
    version, internal, gauss = python_state
    return [version, list(internal), gauss]


# --------------------------------------------------------------------------- save and load


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a DDP wrapper or a ``torch.compile`` result (whose keys get prefixes)."""
    while True:
        if isinstance(model, torch.nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def state_dict(*, model, optimizer=None, scaler=None, scheduler=None, step: int = 0, epoch: int = 0,
               extra: dict | None = None, rng: Any = None) -> dict[str, Any]:
    """Everything a run needs to continue, as one dict of tensors and plain values.

    ``rng`` is this process's :func:`rng_state` when None; a list holds one state per rank.
    ``extra`` is for plain values of your own (the loss history, the best validation score).
    """
    return {
        "format": FORMAT, "step": int(step), "epoch": int(epoch),
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_state() if rng is None else rng,
        "extra": dict(extra or {}),
    }


def save(directory: str | os.PathLike, *, step: int, model, optimizer=None, scaler=None, scheduler=None,
         epoch: int = 0, extra: dict | None = None, keep: int = 3) -> Path | None:
    """Save the run's state as ``directory/ckpt-<step>.pt`` atomically, keeping the newest ``keep``.

    In a distributed job every rank must call it (it gathers the RNG states of all ranks);
    rank 0 writes and gets the path, the other ranks get None.
    """
    rng: Any = rng_state()
    if dist.is_available() and dist.is_initialized():
        everyone = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
        dist.gather_object(rng, everyone, dst=0)
        if dist.get_rank() != 0:
            return None
        rng = everyone
    buffer = io.BytesIO()
    torch.save(state_dict(model=model, optimizer=optimizer, scaler=scaler, scheduler=scheduler,
                          step=step, epoch=epoch, extra=extra, rng=rng), buffer)
    return checkpoint.save(directory, step, buffer.getvalue(), keep=keep)


def load(path: str | os.PathLike, *, model, optimizer=None, scaler=None, scheduler=None,
         restore_rng: bool = True, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint into the given objects; return its ``step``, ``epoch``, ``extra`` and ``path``.

    Each object passed in must have been saved: a checkpoint without optimizer state cannot
    resume a run exactly, so asking for it is an error rather than a silent fresh optimizer.
    With ``restore_rng`` (the default) this process's generators continue where they were
    (in a distributed job, each rank takes its own saved states).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a checkpoint written by rtxcourse.checkpoint_torch.save")
    unwrap(model).load_state_dict(state["model"])
    for name, obj in (("optimizer", optimizer), ("scaler", scaler), ("scheduler", scheduler)):
        if obj is None:
            continue
        if state[name] is None:
            raise ValueError(f"{str(path)!r} holds no {name} state (it was saved without one), "
                             f"so the run cannot resume exactly; pass {name}=None to start it afresh on purpose")
        obj.load_state_dict(state[name])
    if restore_rng:
        set_rng_state(_own_rng(state["rng"], path))
    return {"step": state["step"], "epoch": state["epoch"], "extra": state["extra"], "path": path}


def resume(directory: str | os.PathLike, **objects) -> dict[str, Any] | None:
    """Load the latest checkpoint in ``directory`` into ``objects`` (see :func:`load`); None when there is none."""
    found = checkpoint.latest(directory)
    return None if found is None else load(found, **objects)


def _own_rng(saved, path: Path) -> dict:
    """This rank's RNG state out of a checkpoint (a list of per-rank states when saved distributed)."""
    if isinstance(saved, dict):
        return saved
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    if len(saved) != (dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1):
        raise ValueError(f"{str(path)!r} holds RNG states of {len(saved)} ranks; resume it with that many processes")
    return saved[rank]
