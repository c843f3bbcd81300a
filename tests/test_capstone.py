"""rtxcourse.capstone: sizes, data, rows and table, plot, and verdicts that follow the numbers."""

from __future__ import annotations

import numpy as np
import pytest

from rtxcourse import capstone


def row(step="baseline", **changes):
    kw = dict(step=step, epoch_seconds=0.5, peak_bytes=3 * 2**20, accuracy=0.9, moved_accuracy=0.6, batch=32,
              precision="fp32", params=18_000, train_flops_per_image=3.6e6, images_per_epoch=768)
    kw.update(changes)
    return capstone.Row(**kw)


def test_sizes_are_tiny_in_quick_mode():
    s = capstone.sizes()  # tests run with RTXCOURSE_QUICK=1
    assert s.n_train <= 1000 and s.epochs <= 3 and s.width <= 8


def test_dataset_splits_and_moves_the_test_set():
    s = capstone.sizes()
    d = capstone.dataset(s)
    assert d.x_train.shape == (s.n_train, s.image_size, s.image_size, 1) and d.x_train.dtype == np.float32
    assert d.x_moved.shape == d.x_test.shape and d.x_moved.dtype == np.float32
    assert not np.allclose(d.x_moved, d.x_test), "the moved test set must differ from the test set"
    assert np.allclose(capstone.dataset(s).x_moved, d.x_moved), "the moved test set is fixed by its seed"


def test_random_shift_keeps_the_shape_and_moves_the_content():
    img = np.zeros((8, 8, 1), np.float32)
    img[3:5, 3:5] = 1
    rng = np.random.default_rng(0)
    outs = [capstone.RandomShift(2)(img, rng) for _ in range(50)]
    assert all(o.shape == img.shape for o in outs)
    assert all(o.sum() == pytest.approx(4) for o in outs), "a shift of at most 2 keeps a central square whole"
    assert len({o.tobytes() for o in outs}) > 5
    with pytest.raises(ValueError, match="pad"):
        capstone.RandomShift(0)


def test_config_validates_and_changes_one_field():
    c = capstone.Config()
    assert c.but(precision="bfloat16").precision == "bfloat16" and c.precision == "float32"
    with pytest.raises(ValueError, match="precision"):
        capstone.Config(precision="fp8")
    with pytest.raises(ValueError, match="model"):
        capstone.Config(model="resnet")


def test_table_keeps_step_order_and_shows_every_column():
    t = capstone.Ablation("torch")
    t.add(row())
    t.add(row("mixed", precision="bf16", epoch_seconds=0.4, mfu=0.01, mfu_note="upper bound of this CPU's bf16 peak"))
    text = t.table()
    assert "1 baseline fp32" in text and "2 + mixed precision" in text and "1.00%" in text and "MFU: upper bound" in text
    t.add(row("mixed"))  # re-running the last step replaces its row
    bad = capstone.Ablation("x")
    bad.add(row("augment"))
    with pytest.raises(ValueError, match="in order"):
        bad.add(row("mixed"))
    with pytest.raises(ValueError, match="step"):
        row("warp")
    with pytest.raises(ValueError, match="epoch_seconds"):
        row(epoch_seconds=0)


def test_but_step_scales_time_and_mfu():
    r = row("checkpoint", mfu=0.02)
    d = r.but_step("devices", seconds_before=1.0, seconds_after=2.0)
    assert d.step == "devices" and d.epoch_seconds == pytest.approx(1.0) and d.mfu == pytest.approx(0.01)
    assert d.accuracy == r.accuracy and d.batch == r.batch


def test_mfu_on_the_cpu_names_its_ceiling():
    r = row(epoch_seconds=0.1)
    m = capstone.mfu_of(r, "cpu")
    assert 0 < r.mfu < 1 and "upper bound" in r.mfu_note and m.value == r.mfu


def test_plot_draws_four_panels(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    t = capstone.Ablation("tf")
    t.add(row())
    axes = capstone.plot(t, title="x")
    assert len(axes) == 4


def test_record_keeps_evidence_and_the_verdict(capsys):
    t, ev = capstone.Ablation("torch"), {}
    capstone.record(t, ev, row())
    v = capstone.record(t, ev, row("mixed"), dict(speedup=0.8, accuracy_fp32=0.9, accuracy_mixed=0.9,
                                                   dtype="bfloat16", cpu=True))
    assert v.helped is False and ev["mixed"]["helped"] is False and ev["mixed"]["speedup"] == 0.8
    assert "DID NOT HELP" in capsys.readouterr().out


@pytest.mark.parametrize("step, args, helped", [
    ("mixed", dict(speedup=1.8, accuracy_fp32=0.9, accuracy_mixed=0.89, dtype="bfloat16"), True),
    ("mixed", dict(speedup=1.8, accuracy_fp32=0.9, accuracy_mixed=0.5, dtype="bfloat16"), False),  # accuracy lost
    ("mixed", dict(speedup=1.05, accuracy_fp32=0.9, accuracy_mixed=0.9, dtype="bfloat16"), False),  # within noise
    ("mixed", dict(speedup=3.0, accuracy_fp32=0.9, accuracy_mixed=0.9, dtype="float32"), False),  # the plan chose fp32
    ("pipeline", dict(speedup=0.7, workers=2, cores=2), False),
    ("pipeline", dict(speedup=1.5, workers=4, cores=16), True),
    ("augment", dict(moved_before=0.6, moved_after=0.7, clean_before=0.9, clean_after=0.88), True),
    ("augment", dict(moved_before=0.6, moved_after=0.55, clean_before=0.9, clean_after=0.8), False),
    ("separable", dict(flop_ratio=5.0, param_ratio=5.5, speedup=1.3), True),
    ("separable", dict(flop_ratio=5.0, param_ratio=5.5, speedup=0.9), False),
    ("checkpoint", dict(batch_before=128, batch_after=256, peak_before=8e6, peak_after=4e6, budget=8e6), True),
    ("checkpoint", dict(batch_before=128, batch_after=128, peak_before=8e6, peak_after=7.9e6, budget=8e6), False),
    ("devices", dict(max_weight_diff=1e-7, speedup=1.9, nprocs=2, gpus=2, cores=16), True),
    ("devices", dict(max_weight_diff=1e-7, speedup=0.5, nprocs=2, gpus=0, cores=2), False),
    ("devices", dict(max_weight_diff=0.1, speedup=1.9, nprocs=2, gpus=2, cores=16), False),  # not the same training
])
def test_verdicts_follow_the_numbers(step, args, helped):
    v = capstone.judge(step, **args)
    assert v.helped is helped and v.step == step
    assert ("HELPED" if helped else "DID NOT HELP") in str(v)


def test_verdict_texts_give_the_reason_when_a_step_does_not_help():
    assert "fp16 on a CPU" in capstone.verdict_mixed(speedup=1, accuracy_fp32=.9, accuracy_mixed=.9, dtype="float32").text
    assert "competes" in capstone.verdict_pipeline(speedup=0.8, workers=2, cores=2).text
    assert "memory-bound" in capstone.verdict_separable(flop_ratio=5, param_ratio=5, speedup=1.2).text
    assert "share its cores" in capstone.verdict_devices(max_weight_diff=0, speedup=0.6, nprocs=2, gpus=0, cores=2).text
    assert "slower" in capstone.verdict_pipeline(speedup=0.5, workers=2, cores=2).text


def test_judge_rejects_unknown_steps_and_bad_numbers():
    with pytest.raises(ValueError, match="no verdict"):
        capstone.judge("baseline")
    with pytest.raises(ValueError, match="speedup"):
        capstone.verdict_pipeline(speedup=float("nan"), workers=2, cores=2)


def test_max_difference():
    a = {"w": np.zeros(3), "b": np.ones(2)}
    assert capstone.max_difference(a, {"w": np.array([0, 0.5, 0]), "b": np.ones(2)}) == 0.5
    with pytest.raises(ValueError, match="different names"):
        capstone.max_difference(a, {"w": np.zeros(3)})
