"""Tests for rtxcourse.memory_torch: the measurements agree with activations counted by hand."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rtxcourse import memory, memory_torch as mt  # noqa: E402

B = 32
WIDTHS = [64, 256, 128, 96]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny sizes need no second thread, and a busy machine makes two stall each other (memory_torch.threads)."""
    with mt.threads(1):
        yield


def _stack():
    torch.manual_seed(0)
    return mt.linear_relu_stack(WIDTHS), torch.randn(B, WIDTHS[0])


def test_saved_tensors_of_a_linear_relu_stack_match_the_hand_count_per_layer():
    net, X = _stack()
    with mt.SavedTensors(net) as saved:
        net(X)
    expected = memory.linear_relu_saved_bytes(B, WIDTHS)
    # modules 2i (Linear) and 2i+1 (ReLU) make up layer i
    per_layer = [0] * len(expected)
    for name, n in saved.by_module.items():
        per_layer[int(name) // 2] += n
    assert per_layer == expected
    assert saved.total_bytes == sum(expected)
    # each hidden ReLU output is saved twice (by the ReLU and by the next Linear)
    assert saved.naive_bytes == sum(expected) + B * sum(WIDTHS[1:-1]) * 4
    assert saved.saves == 2 * (len(WIDTHS) - 1)


def test_saved_tensors_under_bf16_autocast_count_half_width_activations_and_the_weight_copies():
    net, X = _stack()
    with torch.autocast("cpu", dtype=torch.bfloat16), mt.SavedTensors(net) as saved:
        net(X)
    # autocast saves bf16 copies of the input and of the weights (they are not parameters). The
    # first layer's weight is not saved at all: its input needs no gradient, and only that
    # gradient (grad @ W) would need W.
    weights = sum(m.weight.numel() for m in list(net)[2:] if isinstance(m, torch.nn.Linear))
    assert saved.total_bytes == sum(memory.linear_relu_saved_bytes(B, WIDTHS, dtype="bf16")) + 2 * weights


def test_saved_tensors_of_the_residual_mlp_match_the_hand_count():
    torch.manual_seed(0)
    net = mt.residual_mlp(width=32, depth=3)
    with mt.SavedTensors(net) as saved:
        net(torch.randn(B, 32))
    assert saved.total_bytes == sum(memory.residual_mlp_saved_bytes(B, 32, 3))


def test_cpu_allocations_after_a_forward_pass_are_the_saved_activations():
    net, X = _stack()
    use = mt.measure_memory(lambda: net(X))
    # held: every saved tensor except the input (allocated before) — the output is the last one
    assert use.held_bytes == sum(memory.linear_relu_saved_bytes(B, WIDTHS)) - B * WIDTHS[0] * 4
    assert use.peak_bytes >= use.held_bytes
    assert "profiler" in use.method
    torch.manual_seed(0)
    res = mt.residual_mlp(width=32, depth=3)
    X = torch.randn(B, 32)
    # input (excluded) and output (included) have the same size: held = the hand count exactly
    assert mt.measure_memory(lambda: res(X)).held_bytes == sum(memory.residual_mlp_saved_bytes(B, 32, 3))


def test_measure_memory_sees_a_tensor_it_frees_again():
    use = mt.measure_memory(lambda: torch.ones(1000).sum())  # 4000 B allocated, freed before return
    assert use.peak_bytes >= 4000 and use.held_bytes < 4000


def _grads(net, forward, X):
    net.zero_grad(set_to_none=True)
    forward(X).square().mean().backward()
    return [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("mode", ["each", "sequential", "selective"])
def test_checkpointing_gives_the_same_gradients_and_lower_peak(mode):
    torch.manual_seed(0)
    net = mt.residual_mlp(width=64, depth=9)
    X = torch.randn(256, 64)
    plain, ckpt = _grads(net, net, X), _grads(net, mt.checkpointed(net, mode), X)
    for a, b in zip(plain, ckpt):
        torch.testing.assert_close(a, b)
    y = torch.zeros(256, 64)
    peaks = {}
    for m in ("none", mode):
        step = mt.train_step(net, mt.checkpointed(net, m))
        step(X, y)
        peaks[m] = mt.measure_memory(lambda: step(X, y)).peak_bytes
    # "none" keeps about 9 blocks of activations; checkpointing keeps block inputs and one block
    limit = {"each": 0.5, "sequential": 0.6, "selective": 0.8}[mode]
    assert peaks[mode] < limit * peaks["none"], peaks


def test_saved_tensor_hooks_see_only_the_block_inputs_a_checkpoint_keeps():
    torch.manual_seed(0)
    net = mt.residual_mlp(width=32, depth=3)
    with mt.SavedTensors(net) as saved:
        mt.checkpointed(net, "each")(torch.randn(8, 32, requires_grad=True))
    # checkpoint's own hooks take the saves inside each block; what stays is each block's input
    assert saved.total_bytes == 3 * 8 * 32 * 4


def test_gradient_accumulation_gives_the_full_batch_update_with_less_memory():
    torch.manual_seed(0)
    X, y = torch.randn(256, 32), torch.randn(256, 32)
    results = {}
    for k in (1, 4):
        torch.manual_seed(1)
        net = mt.residual_mlp(width=32, depth=4)
        step = mt.train_step(net, accumulation=k, lr=0.1)
        loss = step(X, y)
        results[k] = (loss, [p.detach().clone() for p in net.parameters()])
        step2 = mt.train_step(net, accumulation=k, lr=0.0)
        results[k] += (mt.measure_memory(lambda: step2(X, y)).peak_bytes,)
    torch.testing.assert_close(results[1][0], results[4][0])
    for a, b in zip(results[1][1], results[4][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert results[4][2] < 0.5 * results[1][2]
    # Both against one SGD step written out: w - lr * d(mean squared error over all 256 rows)/dw.
    torch.manual_seed(1)
    net = mt.residual_mlp(width=32, depth=4)
    loss = torch.nn.functional.mse_loss(net(X), y)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    torch.testing.assert_close(results[4][0], loss.detach())
    for p, g, b in zip(net.parameters(), grads, results[4][1]):
        torch.testing.assert_close(b, p.detach() - 0.1 * g, rtol=1e-4, atol=1e-6)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="nn.Sequential"):
        mt.checkpointed(torch.nn.Linear(2, 2), "each")
    with pytest.raises(ValueError, match="mode must be one of none, each, sequential, selective"):
        mt.checkpointed(torch.nn.Sequential(torch.nn.Linear(2, 2)), "all")
    with pytest.raises(TypeError, match="callable"):
        mt.measure_memory(3)
    with pytest.raises(ValueError, match="CUDA devices and the CPU"):
        mt.measure_memory(lambda: None, device="meta")
    with pytest.raises(ValueError, match="at least one layer"):
        mt.linear_relu_stack([4])
    with pytest.raises(TypeError, match="nn.Module"):
        mt.SavedTensors("model")


def test_cpu_measurement_keeps_the_profilers_notices_off_stderr(capfd):
    if torch.cuda.is_available():
        pytest.skip("the CPU path only")
    mt.measure_memory(lambda: torch.ones(10))
    assert "USDT" not in capfd.readouterr().err


def test_threads_sets_and_restores_the_thread_count():
    before = torch.get_num_threads()
    with mt.threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n must be a positive integer"):
        with mt.threads(0):
            pass
