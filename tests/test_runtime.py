import random

import numpy as np
import pytest

from rtxcourse import runtime


@pytest.fixture
def fresh_quick():
    yield
    runtime.set_quick_mode(None)
    runtime._machine_tier.cache_clear()


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("no", False)])
def test_quick_mode_reads_env_once(monkeypatch, fresh_quick, value, expected):
    monkeypatch.setenv("RTXCOURSE_QUICK", value)
    runtime.set_quick_mode(None)
    assert runtime.quick_mode() is expected
    monkeypatch.setenv("RTXCOURSE_QUICK", "0" if expected else "1")
    assert runtime.quick_mode() is expected  # cached: a lesson cannot change size half-way


def test_by_tier_picks_quick_then_tier(monkeypatch, fresh_quick):
    runtime.set_quick_mode(True)
    assert runtime.by_tier(quick=1, cpu=2, gpu=3) == 1
    runtime.set_quick_mode(False)
    for tier, expected in (("cpu", 2), ("1-gpu", 3), ("multi-gpu", 4)):
        monkeypatch.setenv("RTXCOURSE_TIER", tier)
        runtime._machine_tier.cache_clear()
        assert runtime.by_tier(quick=1, cpu=2, gpu=3, multi_gpu=4) == expected
    monkeypatch.setenv("RTXCOURSE_TIER", "multi-gpu")
    runtime._machine_tier.cache_clear()
    assert runtime.by_tier(quick=1, cpu=2, gpu=3) == 3  # multi_gpu defaults to gpu
    assert runtime.by_tier(quick=1, cpu=2) == 2  # gpu defaults to cpu


def test_bad_tier_override_is_a_clear_error(monkeypatch, fresh_quick):
    monkeypatch.setenv("RTXCOURSE_TIER", "tpu")
    runtime._machine_tier.cache_clear()
    with pytest.raises(ValueError, match="unknown hardware tier 'tpu'"):
        runtime.tier()


def test_tier_follows_visible_gpus(monkeypatch, fresh_quick):
    from rtxcourse import hardware

    monkeypatch.delenv("RTXCOURSE_TIER", raising=False)
    for n, expected in ((0, "cpu"), (1, "1-gpu"), (4, "multi-gpu")):
        monkeypatch.setattr(hardware, "visible_gpu_count", lambda n=n: n)
        runtime._machine_tier.cache_clear()
        assert runtime.tier() == expected


def test_seed_everything_is_reproducible():
    runtime.seed_everything(123)
    a = (random.random(), np.random.rand(3))
    runtime.seed_everything(123)
    b = (random.random(), np.random.rand(3))
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="non-negative int"):
        runtime.seed_everything(-1)


def test_seed_everything_seeds_imported_torch():
    torch = pytest.importorskip("torch")
    seeded = runtime.seed_everything(7)
    assert "torch" in seeded
    x = torch.rand(3)
    runtime.seed_everything(7)
    assert torch.equal(x, torch.rand(3))


def test_setup_prints_machine(capsys, fresh_quick):
    info = runtime.setup(seed=3)
    out = capsys.readouterr().out
    assert f"tier={info.tier}" in out and "seed=3" in out
    assert info.quick is runtime.quick_mode()


def test_tf_kernel_gap_reads_the_gpu_and_the_build():
    from types import SimpleNamespace

    from rtxcourse.hardware import _tf_kernel_gap

    def fake_tf(capability, fail=False):
        def details(gpu):
            if fail:
                raise RuntimeError("driver went away")
            return {"compute_capability": capability}
        return SimpleNamespace(config=SimpleNamespace(experimental=SimpleNamespace(get_device_details=details)),
                               sysconfig=SimpleNamespace(get_build_info=lambda: {"cuda_compute_capabilities": ["sm_80", "compute_90"]}))

    assert "compiles them from PTX" in _tf_kernel_gap(fake_tf((9, 0)), "GPU:0")
    assert _tf_kernel_gap(fake_tf((8, 6)), "GPU:0") is None
    assert _tf_kernel_gap(fake_tf((9, 0), fail=True), "GPU:0") is None  # never stops the import


def test_fall_back_to_cpu_tier_only_changes_a_gpu_tier_found_by_the_driver(monkeypatch, fresh_quick):
    from rtxcourse import hardware

    monkeypatch.delenv("RTXCOURSE_TIER", raising=False)
    monkeypatch.setattr(runtime, "_cpu_fallback", None)
    monkeypatch.setattr(hardware, "visible_gpu_count", lambda: 2)
    runtime._machine_tier.cache_clear()
    runtime.set_quick_mode(False)
    assert runtime.tier() == "multi-gpu" and runtime.by_tier(quick=0, cpu=1, gpu=2) == 2
    assert runtime.fall_back_to_cpu_tier("torch is a CPU-only build") is True
    assert runtime.tier() == "cpu" and runtime.by_tier(quick=0, cpu=1, gpu=2) == 1
    assert runtime.fall_back_to_cpu_tier("again") is False  # already on the CPU tier
    with pytest.raises(ValueError, match="say why"):
        runtime.fall_back_to_cpu_tier("")
    monkeypatch.setattr(runtime, "_cpu_fallback", None)
    monkeypatch.setenv("RTXCOURSE_TIER", "1-gpu")  # forced by the user: kept
    runtime._machine_tier.cache_clear()
    assert runtime.fall_back_to_cpu_tier("torch is a CPU-only build") is False and runtime.tier() == "1-gpu"
