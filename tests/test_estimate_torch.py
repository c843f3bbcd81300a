"""Measuring a training step's memory from the tensors (CPU) against hand-computed sizes."""

import pytest

torch = pytest.importorskip("torch")

from rtxcourse import estimate as est  # noqa: E402
from rtxcourse import estimate_torch as et  # noqa: E402
from rtxcourse.models_torch import MLP, SmallCNN  # noqa: E402


def _batch(n, *shape):
    torch.manual_seed(0)
    return torch.randn(n, *shape), torch.randint(0, 10, (n,))


def test_parts_of_a_small_mlp_by_hand():
    model = MLP(64, (128,), 10)
    params = 64 * 128 + 128 + 128 * 10 + 10
    x, y = _batch(8, 64)
    adam = et.measure_training_memory(model, x, y, optimizer="adam", precision="fp32")
    assert adam["weights"] == adam["gradients"] == 4 * params
    assert adam["optimizer"] == 2 * 4 * params  # m and v (the step counters are scalars, left out)
    # Linear inputs, the logits, and what cross_entropy keeps beside them: int64 targets and a scalar
    assert adam["activations"] == 8 * (64 + 128) * 4 + 8 * 10 * 4 + 8 * 8 + 4
    assert adam["weight copies"] == 0
    assert et.measure_training_memory(model, x, y, optimizer="sgd")["optimizer"] == 0
    assert et.measure_training_memory(model, x, y, optimizer="momentum")["optimizer"] == 4 * params


def test_autocast_weight_copies_are_told_apart_from_activations():
    model = MLP(64, (128,), 10)
    x, y = _batch(8, 64)
    saved = et.saved_bytes(model, x, y, "bf16")
    # the first Linear's input needs no gradient, so only the head's bf16 weight is kept for backward
    assert saved["weight copies"] == 128 * 10 * 2
    assert saved["activations"] == 8 * (64 + 128) * 2 + 8 * 10 * 4 + 8 * 8 + 4


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_estimate_is_within_15_percent_of_the_measured_cnn(precision):
    model, rule = SmallCNN(3, 10, 8), est.small_cnn(16, 3, 8, 10)
    x, y = _batch(4, 3, 16, 16)
    measured = et.measure_training_memory(model, x, y, optimizer="adam", precision=precision)
    estimate = rule.memory(4, precision=precision, optimizer="adam")
    assert estimate.total == pytest.approx(measured["total"], rel=0.15)
    assert estimate.parts["activations"] == pytest.approx(measured["activations"], rel=0.15)


def test_make_optimizer_rejects_unknown_names():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        et.make_optimizer(MLP(4, (4,), 2), "adagrad")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU visible to torch (none here)")
def test_on_a_gpu_the_allocator_peak_holds_every_measured_part():
    model = MLP(256, (512,), 10).cuda()
    x, y = _batch(32, 256)
    low = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    parts = et.measure_training_memory(model, x.cuda(), y.cuda(), optimizer="adam", precision=low)
    params = 256 * 512 + 512 + 512 * 10 + 10
    assert parts["weights"] == parts["gradients"] == 4 * params and parts["optimizer"] == 8 * params
    # weights, gradients and Adam states are all allocated during the step (zero_grad keeps the gradients)
    assert parts["peak allocated"] >= parts["weights"] + parts["gradients"] + parts["optimizer"]
    assert parts["weight copies"] == 512 * 10 * 2  # the head's 16-bit weight, kept for the backward pass
