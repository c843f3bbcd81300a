"""Tests for rtxcourse.precision (formats, rounding, the chooser) and its torch / Keras halves."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from rtxcourse import precision
from rtxcourse.precision import (FORMATS, PrecisionWarning, bit_fields, choose_precision, distinct_plans, expected_speedup,
                                 machine_plan, normalize_dtype, round_to)


def _random_floats(n: int, seed: int, low_exp: int = -30, high_exp: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * np.exp2(rng.uniform(low_exp, high_exp, n))).astype(np.float32)


def _same(a, b) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


# --------------------------------------------------------------------------- formats


def test_import_loads_no_framework():
    code = "import sys, rtxcourse.precision; print(any(m in sys.modules for m in ('torch', 'tensorflow', 'keras')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name, np_dtype", [("fp32", np.float32), ("fp16", np.float16)])
def test_format_constants_match_numpy_finfo(name, np_dtype):
    f, fi = FORMATS[name], np.finfo(np_dtype)
    assert f.max == float(fi.max)
    assert f.min_normal == float(fi.smallest_normal)
    assert f.min_subnormal == float(fi.smallest_subnormal)
    assert f.eps == float(fi.eps)
    assert f.bits == fi.bits


def test_format_constants_of_formats_numpy_lacks():
    assert FORMATS["bf16"].max == pytest.approx(3.3895313892515355e38)
    assert FORMATS["bf16"].min_normal == FORMATS["fp32"].min_normal  # same exponent: same range
    assert FORMATS["bf16"].eps == 2**-7
    assert FORMATS["tf32"].eps == FORMATS["fp16"].eps and FORMATS["tf32"].storage_bits == 32
    assert FORMATS["fp8_e4m3"].max == 448 and FORMATS["fp8_e4m3"].min_subnormal == 2**-9
    assert FORMATS["fp8_e5m2"].max == 57344 and FORMATS["fp8_e5m2"].min_subnormal == 2**-16


@pytest.mark.parametrize("spelling, expected", [
    ("bfloat16", "bf16"), ("BF16", "bf16"), ("half", "fp16"), ("mixed_float16", "fp16"), ("float32", "fp32"),
    ("torch.bfloat16", "bf16"), (np.float16, "fp16"), (np.dtype("float32"), "fp32"), ("float8_e4m3fn", "fp8_e4m3"),
    ("tf32", "tf32"),
])
def test_normalize_dtype_spellings(spelling, expected):
    assert normalize_dtype(np.dtype(spelling) if spelling is np.float16 else spelling) == expected


def test_normalize_dtype_rejects_unknown_with_the_choices():
    with pytest.raises(ValueError, match="unknown floating-point format 'int8'.*bf16"):
        normalize_dtype("int8")


def test_format_table_has_every_format_and_text_aligns():
    rows = precision.format_table()
    assert [r["format"] for r in rows] == list(FORMATS)
    # Layouts from IEEE 754 (fp32, fp16), NVIDIA's TF32 and bf16 definitions and the OCP FP8 spec;
    # decimal digits = log10(2^(mantissa bits + 1)), the implicit leading bit included.
    layouts = {"fp32": "1/8/23", "tf32": "1/8/10", "fp16": "1/5/10", "bf16": "1/8/7", "fp8_e4m3": "1/4/3",
               "fp8_e5m2": "1/5/2"}
    digits = {"fp32": 7.2, "tf32": 3.3, "fp16": 3.3, "bf16": 2.4, "fp8_e4m3": 1.2, "fp8_e5m2": 0.9}
    assert {r["format"]: r["sign/exp/mantissa"] for r in rows} == layouts
    assert {r["format"]: r["decimal digits"] for r in rows} == digits
    by_name = {r["format"]: r for r in rows}
    assert by_name["tf32"]["bits"] == "19 (stored in 32)" and by_name["bf16"]["bits"] == 16
    # subnormals: 2^(min exponent - mantissa bits), fp32's exponent with fewer fraction bits
    assert by_name["tf32"]["min subnormal"] == 2.0**-136 and by_name["bf16"]["min subnormal"] == 2.0**-133
    assert by_name["tf32"]["max"] == (2 - 2**-10) * 2.0**127
    text = precision.format_table_text(["fp16", "bf16"]).splitlines()
    assert len(text) == 4 and len({len(line) for line in text}) == 1


# --------------------------------------------------------------------------- rounding


def test_round_to_fp16_matches_numpy_on_random_values():
    x = _random_floats(100_000, seed=1)
    with np.errstate(over="ignore"):
        ref = x.astype(np.float16).astype(np.float64)
    assert _same(round_to(x, "fp16"), ref).all()


@pytest.mark.parametrize("name, attr, saturate", [
    ("bf16", "bfloat16", False), ("fp8_e4m3", "float8_e4m3fn", True), ("fp8_e5m2", "float8_e5m2", False)])
def test_round_to_matches_torch_casts(name, attr, saturate):
    torch = pytest.importorskip("torch")
    x = np.concatenate([_random_floats(50_000, seed=2), np.float32([0, -0.0, np.inf, -np.inf, 448, 464, 500, 1e9])])
    ref = torch.from_numpy(x).to(getattr(torch, attr)).double().numpy()
    # torch saturates out-of-range values for E4M3 (no inf there); saturate=True is that convention
    assert _same(round_to(x, name, saturate=saturate), ref).all()


def test_round_to_edge_cases():
    assert round_to(65519, "fp16") == 65504  # below half an ulp past max: rounds down to max
    assert round_to(65520, "fp16") == np.inf  # half an ulp past max: overflows
    assert round_to(2.0**-25, "fp16") == 0  # a tie between 0 and the smallest subnormal: to even, 0
    assert round_to(3 * 2.0**-26, "fp16") == 2.0**-24
    assert round_to(1 + 2.0**-8, "bf16") == 1  # tie: to even
    assert round_to(1 + 3 * 2.0**-8, "bf16") == 1 + 2.0**-6
    assert np.isnan(round_to(500, "fp8_e4m3")) and round_to(500, "fp8_e4m3", saturate=True) == 448
    assert round_to(-1e30, "fp16") == -np.inf and np.signbit(round_to(-1e-30, "fp16"))
    assert round_to(1e30, "bf16") == pytest.approx(1e30, rel=2**-8)  # bf16 keeps fp32's range


def test_round_to_is_idempotent_and_monotonic():
    for name in FORMATS:
        x = np.sort(_random_floats(20_000, seed=3, low_exp=-20, high_exp=10).astype(np.float64))
        r = round_to(x, name)
        assert _same(round_to(r, name), r).all(), name
        finite = np.isfinite(r)
        assert (np.diff(r[finite]) >= 0).all(), name


# --------------------------------------------------------------------------- bit fields


def test_bit_fields_match_numpy_bit_patterns():
    for v in list(_random_floats(2000, seed=4)) + [0.0, -0.0, 1.0, 65504.0, 1e-7, np.inf, -np.inf]:
        for dtype, np_t, u_t, width in (("fp32", np.float32, np.uint32, 32), ("fp16", np.float16, np.uint16, 16)):
            with np.errstate(over="ignore"):
                expected = format(int(np.array(v, dtype=np_t).view(u_t)), f"0{width}b")
            p = bit_fields(float(v), dtype)
            assert p.sign + p.exponent + p.mantissa == expected, (v, dtype)


def test_bit_fields_of_fp8_and_bad_input():
    assert str(bit_fields(448, "fp8_e4m3")).startswith("0 | 1111 | 110")
    p = bit_fields(float("nan"), "fp8_e4m3")
    assert (p.exponent, p.mantissa) == ("1111", "111")
    with pytest.raises(TypeError, match="one real number"):
        bit_fields([1.0, 2.0], "fp16")


def test_plot_layouts_draws_one_row_per_format():
    import matplotlib

    matplotlib.use("Agg")
    ax = precision.plot_layouts(["fp32", "bf16"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["bfloat16", "float32"]


# --------------------------------------------------------------------------- choice


@pytest.mark.parametrize("device, requested, capability, cpu_bf16, dtype, scaling, tf32, warns", [
    ("cpu", "auto", None, True, "bfloat16", False, False, False),
    ("cpu", "auto", None, False, "float32", False, False, False),
    ("cpu", "fp16", None, True, "bfloat16", False, False, True),  # fp16 on a CPU: warn, bf16
    ("cpu", "fp16", None, False, "float32", False, False, True),  # ... or fp32 without native bf16
    ("cpu", "tf32", None, True, "float32", False, False, True),
    ("cpu", "bf16", None, False, "bfloat16", False, False, False),  # honoured (reason says it is slow)
    ("cpu", "fp32", None, True, "float32", False, False, False),
    ("cuda", "auto", (9, 0), None, "bfloat16", False, True, False),
    ("cuda", "auto", "8.6", None, "bfloat16", False, True, False),
    ("cuda", "auto", (7, 5), None, "float16", True, False, False),  # Turing: fp16 + scaling
    ("cuda", "bf16", (7, 0), None, "float16", True, False, True),  # Volta: bf16 asked, fp16 given, said aloud
    ("cuda", "auto", (6, 1), None, "float32", False, False, False),  # no Tensor Cores
    ("cuda", "fp32", (8, 0), None, "float32", False, False, False),  # strict baseline: TF32 off
    ("cuda", "tf32", (8, 0), None, "float32", False, True, False),
    ("cuda", "tf32", (7, 5), None, "float32", False, False, True),
    ("cuda", "fp16", (9, 0), None, "float16", True, True, False),
    ("gpu", "mixed_bfloat16", (8, 9), None, "bfloat16", False, True, False),
])
def test_choose_precision_rules(device, requested, capability, cpu_bf16, dtype, scaling, tf32, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = choose_precision(device, requested=requested, capability=capability, cpu_bf16=cpu_bf16)
    assert (plan.dtype, plan.loss_scaling, plan.tf32) == (dtype, scaling, tf32)
    assert [w.category for w in caught] == ([PrecisionWarning] if warns else [])
    if warns:
        assert caught[0].filename == __file__  # the warning points at the caller's line
    assert plan.reason and plan.device in ("cpu", "cuda")


def test_plan_names_for_keras_and_tables():
    plan = choose_precision("cuda", capability=(7, 5))
    assert (plan.keras_policy, plan.short, plan.mixed) == ("mixed_float16", "fp16+scaling", True)
    plan = choose_precision("cuda", requested="tf32", capability=(8, 0))
    assert (plan.keras_policy, plan.short, plan.mixed) == ("float32", "tf32", False)
    assert "dynamic loss scaling" in str(choose_precision("cuda", capability="7.0"))


@pytest.mark.parametrize("kwargs, message", [
    ({"device": "tpu"}, "device must be 'cpu' or 'cuda'"),
    ({"device": "cuda"}, "needs the GPU's compute capability"),
    ({"device": "cpu", "requested": "int4"}, "requested precision must be one of"),
    ({"device": "cpu", "requested": "fp8"}, "requested precision must be one of"),
])
def test_choose_precision_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        choose_precision(kwargs.pop("device"), **kwargs)


# --------------------------------------------------------------------------- torch


@pytest.fixture(scope="module")
def pt():
    pytest.importorskip("torch")
    from rtxcourse import precision_torch

    return precision_torch


def test_torch_autocast_and_scaler_follow_the_plan(pt):
    import torch

    a = torch.randn(8, 8)
    bf16 = choose_precision("cpu", requested="bf16")
    with pt.autocast(bf16):
        assert (a @ a).dtype == torch.bfloat16
    with pt.autocast(choose_precision("cpu", requested="fp32")):
        assert (a @ a).dtype == torch.float32
    assert not pt.grad_scaler(bf16).is_enabled()
    fp16 = choose_precision("cuda", capability=(7, 5))
    assert pt.torch_dtype(fp16) == torch.float16


def test_torch_plan_warns_for_fp16_on_cpu(pt):
    with pytest.warns(PrecisionWarning, match="fp16 was requested on a CPU"):
        plan = pt.plan("cpu", "fp16")
    assert plan.dtype in ("bfloat16", "float32")
    with pytest.raises(ValueError, match="CPU or CUDA"):
        pt.plan("meta")


def test_torch_tf32_switches_both_matmul_and_conv_and_restore(pt):
    import torch

    before = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision)
    with pt.tf32(True):
        assert pt.tf32_enabled() and torch.backends.cudnn.conv.fp32_precision == "tf32"
        with pt.tf32(False):
            assert not pt.tf32_enabled() and torch.backends.cudnn.conv.fp32_precision == "ieee"
    assert (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision) == before
    torch.get_float32_matmul_precision()  # restored: the legacy getter must not see a mixed-API state
    with pytest.raises(TypeError):
        pt.set_tf32("yes")


@pytest.fixture
def fake_gpu(monkeypatch):
    """Make torch report one CUDA GPU of a chosen compute capability (nothing runs on it)."""
    import torch

    def use(capability, name="NVIDIA Test GPU"):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)

    return use


@pytest.mark.parametrize("capability, short, dtype, tf32", [
    ((7, 5), "fp16+scaling", "float16", False),  # T4: fp16 with GradScaler, said in the reason
    ((7, 0), "fp16+scaling", "float16", False),  # V100
    ((8, 0), "bf16", "bfloat16", True),  # A100: bf16, TF32 for the float32 rest
    ((9, 0), "bf16", "bfloat16", True),  # H100
])
def test_torch_plan_on_a_gpu_picks_dtype_scaler_and_device(pt, fake_gpu, capability, short, dtype, tf32):
    import torch

    fake_gpu(capability)
    assert pt.default_device() == torch.device("cuda")
    plan = pt.plan()
    assert (plan.device, plan.short, plan.dtype, plan.tf32) == ("cuda", short, dtype, tf32), plan
    scaler = pt.grad_scaler(plan)
    assert scaler._device == "cuda" and scaler.is_enabled() == (dtype == "float16")
    if dtype == "float16":
        assert "loss scaling" in plan.reason
        with pytest.warns(PrecisionWarning, match="no bf16 Tensor Cores"):
            assert pt.plan("cuda:0", "bf16").dtype == "float16"


@pytest.fixture
def driver_gpus(monkeypatch):
    """Make the driver show ``n`` GPUs (call the fixture's value with n); the tier is recomputed."""
    from rtxcourse import hardware, runtime

    def show(n: int):
        monkeypatch.delenv("RTXCOURSE_TIER", raising=False)
        monkeypatch.setattr(hardware, "visible_gpu_count", lambda: n)
        monkeypatch.setattr(runtime, "_cpu_fallback", None)
        runtime._machine_tier.cache_clear()

    yield show
    runtime._machine_tier.cache_clear()


def test_torch_default_device_falls_back_to_cpu_sizes_when_torch_cannot_use_the_gpu(pt, monkeypatch, driver_gpus):
    import torch

    from rtxcourse import runtime

    driver_gpus(1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # e.g. a CPU-only wheel on a GPU machine
    assert runtime.tier() == "1-gpu"
    with pytest.warns(RuntimeWarning, match="cannot use a GPU: lessons run on the CPU with CPU sizes"):
        assert pt.default_device() == torch.device("cpu")
    assert runtime.tier() == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pt.default_device() == torch.device("cpu")  # said once: the tier is cpu now
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        pt.plan("cuda")
    monkeypatch.setenv("RTXCOURSE_TIER", "1-gpu")  # a tier the user forces is kept, and the warning says so
    runtime._machine_tier.cache_clear()
    with pytest.warns(RuntimeWarning, match="'1-gpu' \\(RTXCOURSE_TIER\\).*Set RTXCOURSE_TIER=cpu"):
        pt.default_device()
    assert runtime.tier() == "1-gpu"
    driver_gpus(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pt.default_device() == torch.device("cpu")  # no GPU anywhere: nothing to say


def test_torch_train_step_learns_in_every_cpu_plan(pt):
    import torch

    from rtxcourse.models_torch import MLP

    X, y = torch.randn(64, 16, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 4
    for req in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = MLP(16, (32,), 4)
        step = pt.make_train_step(model, torch.optim.Adam(model.parameters(), 1e-2),
                                  torch.nn.functional.cross_entropy, choose_precision("cpu", requested=req))
        losses = [step(X, y).item() for _ in range(30)]
        assert losses[-1] < 0.7 * losses[0], (req, losses[0], losses[-1])


def test_torch_train_step_with_fp16_scaler_skips_overflowing_step(pt):
    """A float16 plan on CPU (forced: the chooser never picks it there) scales and skips inf steps."""
    import torch

    plan = precision.PrecisionPlan("cpu", "float16", True, False, "forced for the test")
    model = torch.nn.Linear(4, 2)
    scaler = pt.grad_scaler(plan, init_scale=2.0**16)
    step = pt.make_train_step(model, torch.optim.SGD(model.parameters(), 0.1), torch.nn.functional.cross_entropy, plan, scaler)
    X, y = torch.randn(8, 4), torch.zeros(8, dtype=torch.long)
    step(X, y)
    w = model.weight.detach().clone()
    step(X * 1e6, y)  # the fp16 forward overflows: inf loss, inf gradients
    assert torch.equal(model.weight, w), "the overflowing step must be skipped"
    assert scaler.get_scale() == 2.0**15


# --------------------------------------------------------------------------- Keras


@pytest.fixture(scope="module")
def ptf():
    pytest.importorskip("tensorflow")
    from rtxcourse import precision_tf

    return precision_tf


@pytest.mark.slow
def test_keras_policy_context_builds_mixed_models_and_restores(ptf):
    import keras

    from rtxcourse.models_tf import mlp

    before = keras.mixed_precision.global_policy().name
    with ptf.policy(choose_precision("cpu", requested="bf16")):
        model = mlp((16,), (32,), 4)
    assert keras.mixed_precision.global_policy().name == before
    hidden = model.layers[2]
    assert (hidden.compute_dtype, hidden.variable_dtype) == ("bfloat16", "float32")
    assert model.output.dtype == "float32"
    with pytest.raises(TypeError):
        with ptf.policy(3):
            pass


@pytest.mark.slow
def test_keras_loss_scale_optimizer_skips_overflow_and_halves_scale(ptf):
    import keras

    from rtxcourse.models_tf import mlp

    fp16 = choose_precision("cuda", capability=(7, 5))  # a plan with loss scaling, run here on the CPU
    with ptf.policy(fp16):
        model = mlp((4,), (8,), 2)
    opt = ptf.optimizer(keras.optimizers.SGD(0.1), fp16)
    assert isinstance(opt, keras.mixed_precision.LossScaleOptimizer)
    assert ptf.optimizer(keras.optimizers.SGD(0.1), choose_precision("cpu")).__class__ is keras.optimizers.SGD
    step = ptf.make_train_step(model, opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    X, y = np.ones((8, 4), np.float32), np.zeros(8, np.int64)
    step(X, y)
    scale, w = float(opt.dynamic_scale), model.layers[2].kernel.numpy().copy()
    step(X * 1e30, y)
    assert float(opt.dynamic_scale) == scale / 2
    assert np.array_equal(model.layers[2].kernel.numpy(), w)


def _tf_sees_gpus(monkeypatch, ptf, capability, count=1):
    """Let TensorFlow "see" ``count`` GPUs of ``capability`` (device listing and details only)."""
    tf = ptf.tf
    real_list = tf.config.list_physical_devices
    fake = [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(count)]
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda device_type=None: fake if device_type == "GPU" else real_list(device_type))
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda dev: {"device_name": "fake", "compute_capability": capability})


@pytest.mark.parametrize("capability, policy, scaling, tf32", [
    ((7, 5), "mixed_float16", True, False),  # T4: fp16 + LossScaleOptimizer, no TF32
    ((7, 0), "mixed_float16", True, False),  # V100
    ((8, 0), "mixed_bfloat16", False, True),  # A100: bf16, TF32 for what stays float32
    ((9, 0), "mixed_bfloat16", False, True),  # H100
])
def test_keras_plan_follows_the_gpu_tensorflow_sees(ptf, monkeypatch, capability, policy, scaling, tf32):
    import keras

    _tf_sees_gpus(monkeypatch, ptf, capability)
    plan = ptf.plan()
    assert (plan.device, plan.keras_policy, plan.loss_scaling, plan.tf32) == ("cuda", policy, scaling, tf32)
    wrapped = ptf.optimizer(keras.optimizers.SGD(0.1), plan)
    assert isinstance(wrapped, keras.mixed_precision.LossScaleOptimizer) == scaling
    assert ptf.plan("fp32").tf32 is False  # the strict baseline switches TF32 off


def test_keras_plan_on_pre_ampere_says_bf16_is_replaced_by_fp16(ptf, monkeypatch):
    _tf_sees_gpus(monkeypatch, ptf, (7, 5))
    with pytest.warns(PrecisionWarning, match="no bf16 Tensor Cores"):
        plan = ptf.plan("bf16")
    assert plan.keras_policy == "mixed_float16" and "loss scaling" in str(plan)


def test_keras_plan_warns_once_when_the_driver_shows_gpus_tensorflow_cannot_use(ptf, monkeypatch, driver_gpus):
    torch = pytest.importorskip("torch")

    from rtxcourse import runtime

    _tf_sees_gpus(monkeypatch, ptf, None, count=0)
    monkeypatch.setattr(ptf, "_warned_driver_gpus", False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    driver_gpus(2)
    with pytest.warns(PrecisionWarning, match=r"driver shows 2 GPU\(s\) but TensorFlow sees none.*CPU sizes from here on"):
        assert ptf.plan().device == "cpu"
    assert runtime.tier() == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        ptf.plan()  # said once per process
    driver_gpus(2)  # torch uses the GPU in this process: its sizes stay
    monkeypatch.setattr(ptf, "_warned_driver_gpus", False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.warns(PrecisionWarning, match="keep their GPU sizes for torch"):
        ptf.plan()
    assert runtime.tier() == "multi-gpu"
    driver_gpus(0)
    monkeypatch.setattr(ptf, "_warned_driver_gpus", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        ptf.plan()  # no GPU anywhere: nothing to say


def test_keras_tf32_switch_is_restored(ptf):
    tf = ptf.tf
    before = tf.config.experimental.tensor_float_32_execution_enabled()
    with ptf.tf32(not before):
        assert tf.config.experimental.tensor_float_32_execution_enabled() is (not before)
    assert tf.config.experimental.tensor_float_32_execution_enabled() is before
    with ptf.policy(choose_precision("cuda", requested="fp32", capability=(8, 0))):
        assert not tf.config.experimental.tensor_float_32_execution_enabled()
    assert tf.config.experimental.tensor_float_32_execution_enabled() is before


def test_distinct_plans_keeps_the_first_of_each_label():
    fp32 = choose_precision("cpu", requested="fp32")
    assert distinct_plans([fp32, choose_precision("cpu", requested="fp32", cpu_bf16=False)]) == [fp32]
    bf16 = choose_precision("cpu", requested="bf16", cpu_bf16=True)
    assert [p.short for p in distinct_plans([fp32, bf16, fp32])] == ["fp32", "bf16"]
    with pytest.raises(TypeError, match="PrecisionPlans"):
        distinct_plans(["bf16"])


def test_machine_plan_follows_the_weakest_gpu_or_the_cpu():
    assert machine_plan(["9.0", (7, 5)]).dtype == "float16"
    assert machine_plan([(8, 0)]).dtype == "bfloat16"
    assert machine_plan([], cpu_bf16=False).dtype == "float32" and machine_plan([], cpu_bf16=True).dtype == "bfloat16"
    assert "unknown" in machine_plan([None]).reason


def test_expected_speedup_depends_on_device_and_plan():
    fp32 = choose_precision("cpu", requested="fp32")
    assert expected_speedup(fp32).floor is None  # nothing promised where nothing is 16-bit
    cpu = expected_speedup(choose_precision("cpu", requested="bf16", cpu_bf16=True))
    gpu = expected_speedup(choose_precision("cuda", capability=(8, 0)))
    t4 = expected_speedup(choose_precision("cuda", capability=(7, 5)), "train")
    assert gpu.floor > cpu.floor > 1 and 1 < t4.floor < gpu.floor
    assert "A100/H100/B200" in gpu.typical and "at least 2x" in str(gpu)
    with pytest.raises(ValueError, match="workload"):
        expected_speedup(fp32, "inference")


def test_cpu_fp16_warning_states_the_measurement_not_a_law():
    with pytest.warns(PrecisionWarning) as caught:
        choose_precision("cpu", requested="fp16", cpu_bf16=True)
    text = str(caught[0].message)
    assert "33-50x" in text and "0.7-0.9x" in text and "kernel path" in text and "hundreds" not in text


def test_gpu_without_tensor_cores_is_not_said_to_gain_nothing():
    """P100 (6.0) computes fp16 at twice fp32: the reason must not say 16 bits never save time."""
    p = choose_precision("cuda", capability=(6, 0))
    assert p.dtype == "float32" and "P100" in p.reason and "not time" not in p.reason
