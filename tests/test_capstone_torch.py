"""rtxcourse.capstone_torch: checkpointed forward, the DDP reference loss, and a tiny Lab run."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rtxcourse import capstone, capstone_torch as ct  # noqa: E402

TINY = capstone.Sizes(n_train=64, n_test=32, image_size=8, width=4, epochs=1, batch=16, lr=1e-3, rounds=1,
                      budget_batch=32, device_steps=2)


@pytest.fixture(scope="module")
def lab():
    return ct.Lab(capstone.dataset(TINY), TINY, device="cpu")


def grads(module, x, y):
    module.zero_grad()
    torch.nn.functional.cross_entropy(module(x), y).backward()
    return [p.grad.clone() for p in module.parameters()]


def test_checkpointed_forward_gives_the_same_outputs_and_gradients():
    cfg = capstone.Config(model="separable")
    net = ct.build(cfg, TINY)
    x, y = torch.randn(8, 1, 8, 8), torch.arange(8) % 10
    plain = grads(net, x, y)
    wrapped = ct.forward_fn(net, cfg.but(checkpoint=True))
    assert isinstance(wrapped, ct.Checkpointed) and ct.forward_fn(net, cfg) is net
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain, grads(wrapped, x, y)))


def test_shard_loss_is_the_mean_of_the_slices_losses():
    cfg = capstone.Config()
    net = ct.build(cfg, TINY)
    from rtxcourse import precision_torch

    plan = precision_torch.plan("cpu", "fp32")
    x, y = torch.randn(8, 1, 8, 8), torch.arange(8) % 10
    halves = [torch.nn.functional.cross_entropy(net(x[i:i + 4]), y[i:i + 4]) for i in (0, 4)]
    assert torch.allclose(ct.shard_loss(net, x, y, 2, plan), sum(halves) / 2)


def test_a_tiny_run_gives_a_measured_row(lab):
    row = lab.train("baseline", capstone.Config(batch=16), progress=False)
    assert 0 <= row.accuracy <= 1 and 0 <= row.moved_accuracy <= 1 and row.epoch_seconds > 0
    assert row.peak_bytes > 0 and row.params == lab.count(capstone.Config()).params and 0 < row.mfu < 1
    assert row.images_per_epoch == 64


def test_checkpointing_lowers_the_measured_peak():
    # the lesson's quick sizes: at 8x8 pixels the first (recomputed) segment's activations dominate
    s = capstone.sizes()
    lesson = ct.Lab(capstone.dataset(s), s, device="cpu")
    cfg = capstone.Config(model="separable")
    plain, ckpt = lesson.peak(cfg, s.budget_batch), lesson.peak(cfg.but(checkpoint=True), s.budget_batch)
    assert ckpt < 0.9 * plain, (ckpt, plain)


def test_reference_with_one_shard_is_plain_training(lab):
    cfg = capstone.Config(batch=16)
    one, _ = lab.reference(cfg, 2, shards=1)
    net = ct.build(cfg, TINY)
    step = lab.make_step(net, cfg)
    for X, y in lab.steps_batches(cfg, 2):
        step(X, y)
    assert capstone.max_difference(one, ct.weights(net)) == 0
    two, _ = lab.reference(cfg, 2, shards=2)
    assert capstone.max_difference(one, two) > 0, "BatchNorm sees each slice alone: not the full batch's step"
