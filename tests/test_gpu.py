"""Checks that need an NVIDIA GPU: run by ``make test`` on a GPU machine, skipped (with the reason) elsewhere.

The machine that runs the course's CI has no GPU, so these are the tests of the CUDA paths
themselves (the other tests check the decisions the code makes for a GPU by simulating one).
On a GPU machine: ``make test``, or only these: ``make test PYTEST_ARGS="-m gpu"``.
They check behaviour (dtypes, skipped steps, TF32 rounding, synchronised timings), not speed:
speed targets are benchmarks (``rtxcourse bench precision``), recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU visible to torch (none here)"),
]


def _capability() -> tuple[int, int]:
    return torch.cuda.get_device_capability(0)


def test_doctor_lists_every_gpu_torch_sees():
    from rtxcourse import hardware

    r = subprocess.run([sys.executable, "-m", "rtxcourse", "doctor", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    n = torch.cuda.device_count()
    assert len(rep["gpus"]) == n, rep["gpus"]
    for i, gpu in enumerate(rep["gpus"]):
        assert "torch" in gpu["seen_by"], gpu
        assert gpu["capability"] == "{}.{}".format(*torch.cuda.get_device_capability(i))
        assert gpu["tensor_cores"]["generation"] == hardware.tensor_cores(torch.cuda.get_device_capability(i)).generation
    assert rep["recommendation"]["tier"] == ("1-gpu" if n == 1 else "multi-gpu")
    assert "torch" not in rep["errors"] and not any(tip.startswith("PyTorch") for tip in rep["advice"])
    table = subprocess.run([sys.executable, "-m", "rtxcourse", "doctor"], capture_output=True, text=True, timeout=300)
    assert table.returncode == 0 and torch.cuda.get_device_name(0) in table.stdout


def test_plan_and_autocast_compute_in_the_gpus_precision():
    from rtxcourse import precision_torch as pt

    plan = pt.plan("cuda")
    if _capability() >= (8, 0):
        assert (plan.dtype, plan.loss_scaling, plan.tf32) == ("bfloat16", False, True)
    elif _capability() >= (7, 0):
        assert (plan.dtype, plan.loss_scaling) == ("float16", True)
    else:
        pytest.skip(f"a GPU without Tensor Cores gets fp32 ({plan})")
    net = torch.nn.Linear(64, 64).cuda()
    x, y = torch.randn(8, 64, device="cuda"), torch.zeros(8, dtype=torch.long, device="cuda")
    with pt.autocast(plan):
        out = net(x)
        loss = torch.nn.functional.cross_entropy(out, y)
    assert out.dtype == pt.torch_dtype(plan) and net.weight.dtype == torch.float32  # mixed: weights stay fp32
    assert loss.dtype == torch.float32  # autocast keeps the loss (log-softmax) in float32


def test_grad_scaler_on_the_gpu_skips_an_overflowing_step():
    from rtxcourse import precision_torch as pt
    from rtxcourse.precision import PrecisionPlan

    plan = PrecisionPlan("cuda", "float16", True, False, "fp16 forced for the test")
    model = torch.nn.Linear(4, 2).cuda()
    scaler = pt.grad_scaler(plan, init_scale=2.0**16)
    step = pt.make_train_step(model, torch.optim.SGD(model.parameters(), 0.1),
                              torch.nn.functional.cross_entropy, plan, scaler)
    X, y = torch.randn(8, 4, device="cuda"), torch.zeros(8, dtype=torch.long, device="cuda")
    assert torch.isfinite(step(X, y))
    w = model.weight.detach().clone()
    step(X * 1e6, y)  # beyond fp16's 65504: inf activations, inf/NaN gradients
    assert torch.equal(model.weight, w), "the overflowing step must be skipped"
    assert scaler.get_scale() == 2.0**15


def test_tf32_switch_changes_how_float32_matmuls_round():
    from rtxcourse import precision_torch as pt

    if _capability() < (8, 0):
        pytest.skip("TF32 needs Ampere (compute capability 8.0) or newer")
    gen = torch.Generator(device="cuda").manual_seed(0)
    a = torch.randn(2048, 2048, device="cuda", dtype=torch.float64, generator=gen)
    b = torch.randn(2048, 2048, device="cuda", dtype=torch.float64, generator=gen)
    ref = a @ b
    before = pt.tf32_enabled()

    def rel_error(enabled: bool) -> float:
        with pt.tf32(enabled):
            out = a.float() @ b.float()
        return ((out.double() - ref).abs().max() / ref.abs().max()).item()

    strict, tf32 = rel_error(False), rel_error(True)
    # fp32 keeps 24 significant bits (error ~1e-7 here), TF32 rounds inputs to 11 (~4e-4 here)
    assert strict < 1e-5 and tf32 > 5e-5, (strict, tf32)
    assert pt.tf32_enabled() == before


def test_synchronised_timing_never_beats_the_datasheet():
    """Without synchronisation a GPU timer measures queuing and reports impossible FLOP/s."""
    from rtxcourse import bench, precision_torch as pt

    plan = pt.plan("cuda")
    dtype = pt.torch_dtype(plan) if plan.mixed else torch.float32
    n = 4096
    a, b = (torch.randn(n, n, device="cuda").to(dtype) for _ in range(2))
    m = bench.measure(lambda: a @ b, name="matmul", sync="torch", work=2 * n**3, unit="FLOP", repeats=3)
    peak = bench.peak_flops(torch.cuda.get_device_name(0), plan.dtype if plan.mixed else "fp32")
    limit = peak * 1.05 if peak else 5e15  # no GPU reaches 5 PFLOP/s dense
    assert 0 < m.rate < limit, f"{bench.format_rate(m.rate, 'FLOP')} against a limit of {bench.format_rate(limit, 'FLOP')}"


def test_bench_precision_runs_every_gpu_precision():
    from rtxcourse import precision_torch as pt
    from rtxcourse.benchmarks import precision as bp

    sweep = bp.matmul_sweep("torch", [256, 1024], repeats=2)
    expected = bp.sweep_dtypes("cuda", _capability())
    assert [m.name for m in sweep.measurements] == [f"{d} {n}" for n in (256, 1024) for d in expected]
    assert sum("MFU" in note for note in sweep.notes) == len(expected)
    cudnn_benchmark = torch.backends.cudnn.benchmark
    tiny = bp.TrainSizes(batch=16, image=32, width=16, seq_len=32, d_model=64, n_heads=4, n_layers=1, seq_batch=8)
    train = bp.torch_train_steps(tiny, repeats=2)
    assert torch.backends.cudnn.benchmark == cudnn_benchmark
    labels = [p.short for p in bp._unique_plans(bp.train_requests("cuda"), lambda r: pt.plan("cuda", r))]
    assert [m.name for m in train.measurements] == [f"{model} {label}" for model in ("cnn", "transformer") for label in labels]
    assert all(m.rate > 0 for m in train.measurements) and len(train.ratios) == 2 * (len(labels) - 1)


def test_channels_last_cnn_gives_the_same_outputs():
    from rtxcourse import models_torch, precision_torch as pt

    torch.manual_seed(0)
    model = models_torch.SmallCNN(3, 10, 16).cuda().eval()
    x = torch.randn(4, 3, 32, 32, device="cuda")
    with torch.no_grad(), pt.tf32(False):
        nchw = model(x)
        nhwc = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(nhwc, nchw, rtol=1e-4, atol=1e-4)


def test_keras_mixed_policy_on_the_gpu():
    pytest.importorskip("tensorflow")
    from rtxcourse import precision_tf

    if precision_tf.gpu_capability() is None:
        pytest.skip("TensorFlow sees no GPU here (see `rtxcourse doctor` for why)")
    keras = precision_tf.keras
    plan = precision_tf.plan()
    with precision_tf.policy(plan):
        layer = keras.layers.Dense(8)
        out = layer(keras.ops.ones((2, 4)))
    assert layer.compute_dtype == plan.dtype and layer.kernel.dtype == "float32"
    assert keras.backend.standardize_dtype(out.dtype) == plan.dtype
