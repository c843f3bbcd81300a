"""rtxcourse.augment_torch.WorkerSeeded: independent, reproducible random streams per DataLoader worker."""

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rtxcourse import augment as A  # noqa: E402
from rtxcourse import data  # noqa: E402
from rtxcourse.augment_torch import WorkerSeeded  # noqa: E402

SAME = np.repeat(np.random.default_rng(0).random((1, 16, 16, 1), dtype=np.float32), 8, axis=0)
ZEROS = np.zeros(8, np.int64)
CROP = A.Compose([A.RandomCrop(8)])


def _epochs(transform, workers, seed=0, epochs=2, **kw):
    loader = data.as_torch_loader(SAME, ZEROS, 4, shuffle=False, seed=seed, transform=transform, num_workers=workers, **kw)
    return [[xb for xb, _ in loader] for _ in range(epochs)]


def test_in_the_main_process_it_follows_torch_manual_seed():
    t = WorkerSeeded(CROP)
    torch.manual_seed(3)
    a = [t(SAME[0]) for _ in range(5)]
    torch.manual_seed(3)
    b = WorkerSeeded(CROP)
    assert all(np.array_equal(x, b(SAME[0])) for x in a)
    assert len({x.tobytes() for x in a}) > 1  # the generator continues between calls


@pytest.mark.slow
@pytest.mark.parametrize("persistent", [False, True])
def test_workers_differ_epochs_differ_and_seed_reproduces(persistent):
    first = _epochs(WorkerSeeded(CROP), 2, persistent_workers=persistent)
    assert not torch.equal(first[0][0], first[0][1]), "worker 0 and worker 1 drew the same crops"
    assert not torch.equal(first[0][0], first[1][0]), "epoch 2 repeated epoch 1"
    again = _epochs(WorkerSeeded(CROP), 2, persistent_workers=persistent)
    assert all(torch.equal(a, b) for ea, eb in zip(first, again) for a, b in zip(ea, eb))
    other = _epochs(WorkerSeeded(CROP), 2, seed=1, persistent_workers=persistent)
    assert not torch.equal(other[0][0], first[0][0])


@pytest.mark.slow
def test_the_shared_generator_mistake_duplicates_across_workers():
    # What WorkerSeeded exists to prevent: one generator copied into every worker.
    shared = _epochs(functools.partial(CROP, rng=np.random.default_rng(0)), 2)
    assert torch.equal(shared[0][0], shared[0][1]) and torch.equal(shared[0][0], shared[1][0])


def test_the_rank_is_part_of_the_seed():
    # Same torch seed (what worker k of every rank gets when all ranks seed their loaders alike):
    # rank 0 and rank 1 must draw different crops, each rank reproducibly.
    def draws(rank):
        torch.manual_seed(5)
        t = WorkerSeeded(CROP, rank=rank)
        return [t(SAME[0]) for _ in range(4)]

    assert all(np.array_equal(a, b) for a, b in zip(draws(1), draws(1)))
    assert not any(np.array_equal(a, b) for a, b in zip(draws(0), draws(1)))


def test_the_default_rank_is_torchruns(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    assert WorkerSeeded(CROP).rank == 3
    monkeypatch.delenv("RANK")
    assert WorkerSeeded(CROP).rank == 0
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK"):
        WorkerSeeded(CROP)
    with pytest.raises(ValueError, match="rank"):
        WorkerSeeded(CROP, rank=-1)


@pytest.mark.slow
def test_worker_k_of_two_ranks_differs():
    rank0 = _epochs(WorkerSeeded(CROP, rank=0), 2, epochs=1)[0]
    rank1 = _epochs(WorkerSeeded(CROP, rank=1), 2, epochs=1)[0]
    assert not torch.equal(rank0[0], rank1[0]) and not torch.equal(rank0[1], rank1[1])


def test_needs_a_callable():
    with pytest.raises(TypeError, match="transform must be callable"):
        WorkerSeeded("crop")
