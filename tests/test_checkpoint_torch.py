"""rtxcourse.checkpoint_torch and workers/resumable_train: a resumed run equals the uninterrupted one."""

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rtxcourse import checkpoint  # noqa: E402
from rtxcourse import checkpoint_torch as ckpt  # noqa: E402


def make_run(seed=0):
    """A tiny run whose next steps read every kind of state: Adam moments, a schedule, a scaler, dropout."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 3))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=40)
    scaler = torch.amp.GradScaler("cpu", growth_interval=2)  # its scale changes every 2 steps
    return {"model": model, "optimizer": opt, "scheduler": sched, "scaler": scaler}


def train(run, steps):
    losses = []
    for _ in range(steps):
        x = torch.randn(8, 6)  # the data draws come from the RNG as well
        loss = run["model"](x).pow(2).mean()
        run["optimizer"].zero_grad()
        run["scaler"].scale(loss).backward()
        run["scaler"].step(run["optimizer"])
        run["scaler"].update()
        run["scheduler"].step()
        losses.append(loss.item())
    return losses + [random.random(), float(np.random.rand())]


def test_resume_in_a_fresh_run_is_bit_identical(tmp_path):
    run = make_run()
    train(run, 5)
    path = ckpt.save(tmp_path, step=5, **run)
    expected = train(run, 6)
    params = [p.detach().clone() for p in run["model"].parameters()]

    fresh = make_run(seed=123)  # other weights, other RNG: everything must come from the file
    train(fresh, 2)
    info = ckpt.resume(tmp_path, **fresh)
    assert info["step"] == 5 and info["path"] == path
    assert train(fresh, 6) == expected
    assert all(torch.equal(a, b) for a, b in zip(params, fresh["model"].parameters()))
    assert fresh["scaler"].get_scale() == run["scaler"].get_scale()


def test_without_rng_state_or_optimizer_state_the_run_diverges(tmp_path):
    run = make_run()
    train(run, 5)
    ckpt.save(tmp_path, step=5, **run)
    expected = train(run, 6)

    no_rng = make_run(seed=1)
    ckpt.resume(tmp_path, restore_rng=False, **no_rng)
    assert train(no_rng, 6)[:6] != expected[:6]  # other dropout masks and batches

    fresh_optimizer = make_run(seed=1)
    ckpt.resume(tmp_path, model=fresh_optimizer["model"], scheduler=fresh_optimizer["scheduler"],
                scaler=fresh_optimizer["scaler"])
    assert train(fresh_optimizer, 6)[:6] != expected[:6]  # Adam's moments start again from zero


def test_loading_what_was_not_saved_is_an_error(tmp_path):
    run = make_run()
    path = ckpt.save(tmp_path, step=1, model=run["model"])
    with pytest.raises(ValueError, match="holds no optimizer state"):
        ckpt.load(path, model=run["model"], optimizer=run["optimizer"])
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ckpt.load(tmp_path / "nope.pt", model=run["model"])
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint written by"):
        ckpt.load(tmp_path / "other.pt", model=run["model"])
    with pytest.raises(ValueError, match="lacks"):
        ckpt.set_rng_state({"python": None})
    assert ckpt.resume(tmp_path / "empty", **run) is None


def test_files_load_with_weights_only_and_rotate(tmp_path):
    run = make_run()
    for step in (1, 2, 3, 4):
        ckpt.save(tmp_path, step=step, keep=2, extra={"losses": [0.5] * step}, **run)
    assert [checkpoint.step_of(p) for p in checkpoint.list_checkpoints(tmp_path)] == [3, 4]
    state = torch.load(checkpoint.latest(tmp_path), weights_only=True)  # no pickled code inside
    assert state["extra"]["losses"] == [0.5] * 4 and set(state["rng"]) == {"python", "numpy", "torch", "cuda"}


def test_unwrap_reaches_the_module_inside_a_compiled_model():
    net = torch.nn.Linear(2, 2)
    assert ckpt.unwrap(torch.compile(net)) is net and ckpt.unwrap(net) is net


# --------------------------------------------------------------------------- torchrun restarts


@pytest.mark.slow
def test_torchrun_restart_resumes_and_ends_like_the_uninterrupted_run(tmp_path):
    from rtxcourse import distributed

    def run(name, *extra, restarts=0):
        job = distributed.launch_torch(module="rtxcourse.workers.resumable_train", nprocs=2, device="cpu",
                                       timeout=120, max_restarts=restarts, echo=False, env={"OMP_NUM_THREADS": "1"},
                                       args=["--steps", "12", "--checkpoint-every", "4", "--checkpoint-dir",
                                             tmp_path / name, *extra])
        return job, job.result(0)

    _, plain = run("plain")
    job, crashed = run("crashed", "--crash-at-step", "6", restarts=1)
    assert crashed["restart_count"] == 1 and crashed["resumed_from_step"] == 4
    assert "killed after step 6" in job.output(1) and "resumed from ckpt-00000004.pt" in job.output(0)
    assert np.array_equal(crashed["params"], plain["params"]) and crashed["losses"] == plain["losses"]
    assert crashed["checkpoints"] == ["ckpt-00000008.pt", "ckpt-00000012.pt"]  # --keep 2
    assert plain["restart_count"] == 0 and plain["resumed_from_step"] is None
