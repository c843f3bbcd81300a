"""The estimator against numbers worked out by hand (bytes per parameter, layer shapes, FLOPs)."""

import json

import pytest

from rtxcourse import cli, gpus
from rtxcourse import estimate as est

P = 1e9  # one billion parameters keeps the hand arithmetic readable


@pytest.mark.parametrize("precision, optimizer, expected", [
    ("fp32", "sgd", 8e9),        # weights 4 + gradients 4
    ("fp32", "momentum", 12e9),  # + one fp32 state
    ("fp32", "adam", 16e9),      # + two fp32 states (m, v)
    ("bf16", "adam", 18e9),      # fp32 master 4 + bf16 copies 2 + fp32 gradients 4 + Adam 8
    ("fp16", "sgd", 10e9),
])
def test_bytes_per_parameter_on_one_gpu(precision, optimizer, expected):
    assert est.training_memory(P, precision=precision, optimizer=optimizer).total == pytest.approx(expected)


@pytest.mark.parametrize("shard, parts", [
    ("none", {"weights": 4e9, "weight copies": 2e9, "gradients": 4e9, "optimizer": 8e9, "gathered": 0}),
    ("zero1", {"weights": 4e9, "weight copies": 2e9, "gradients": 4e9, "optimizer": 1e9, "gathered": 0}),
    ("zero2", {"weights": 4e9, "weight copies": 2e9, "gradients": 0.5e9, "optimizer": 1e9, "gathered": 0}),
    ("zero3", {"weights": 0.5e9, "weight copies": 0, "gradients": 0.5e9, "optimizer": 1e9, "gathered": 0.2e9}),
    ("fsdp", {"weights": 0.5e9, "weight copies": 0, "gradients": 0.5e9, "optimizer": 1e9, "gathered": 0.2e9}),
])
def test_zero_stages_shard_what_they_promise_over_8_gpus(shard, parts):
    mem = est.training_memory(P, precision="bf16", optimizer="adam", gpus=8, shard=shard,
                              activations=3e9, gathered_params=1e8)
    for part, value in parts.items():
        assert mem.parts[part] == pytest.approx(value), part
    assert mem.parts["activations"] == 3e9  # each GPU keeps its own micro-batch: never divided


def test_fp32_zero3_gathers_the_unit_in_fp32():
    mem = est.training_memory(P, precision="fp32", optimizer="adam", gpus=4, shard="zero3", gathered_params=1e8)
    assert mem.parts["gathered"] == pytest.approx(4e8) and mem.total == pytest.approx(16e9 / 4 + 4e8)


def test_seven_billion_adam_fits_one_h200_but_not_one_h100():
    """The seed's "7B x 16 bytes = 112 GB is more than any single GPU": H200 and B200 hold it."""
    mem = est.training_memory(7e9, precision="fp32", optimizer="adam")
    assert mem.total == pytest.approx(112e9)
    names = [g.name for g in est.fits(mem)]
    assert "H200 SXM" in names and "B200" in names and "GB200" in names
    assert "H100 SXM" not in names and "A100 80GB SXM" not in names
    assert est.fits(mem)[0].memory_gb == 141
    # 112e9 bytes = 104.3 GiB; 90% of an H200's 141 GiB is 126.9 GiB, of an H100's 80 GiB 72 GiB
    assert mem.fits_on(gpus.find("H200")) and not mem.fits_on(gpus.find("H100"))


def test_the_course_mlp_by_hand():
    m = est.mlp(1024, (4096, 4096), 10)
    assert m.params == (1024 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10) == 21_020_682
    assert m.forward_flops == 2 * (1024 * 4096 + 4096 * 4096 + 4096 * 10)
    # each Linear keeps its input (1024 + 4096 + 4096 values), the loss keeps the fp32 logits
    assert m.activation_bytes(64, "fp32") == 64 * (9216 * 4 + 10 * 4)
    assert m.activation_bytes(64, "bf16") == 64 * (9216 * 2 + 10 * 4)


def test_the_course_cnn_by_hand():
    m = est.small_cnn(32, 3, 32, 10)
    convs = 3 * 32 * 9 + 32 * 32 * 9 + 32 * 64 * 9 + 64 * 64 * 9 + 64 * 128 * 9 + 128 * 128 * 9
    assert m.params == convs + 2 * (32 + 32 + 64 + 64 + 128 + 128) + 128 * 10 + 10 == 288_746
    # image 3x32x32; per block BN input + ReLU output; pool outputs; pooled 128 features; fp32 logits
    values = 3 * 1024 + 4 * 32 * 1024 + 32 * 256 + 4 * 64 * 256 + 64 * 64 + 4 * 128 * 64 + 128
    indices = 8 * (32 * 256 + 64 * 64)  # max-pool keeps int64 indices of its outputs
    assert m.activation_bytes(16, "fp32") == 16 * (values * 4 + 10 * 4 + indices)
    assert m.activation_bytes(16, "bf16") == 16 * (values * 2 + 10 * 4 + indices)


def test_the_course_transformer_by_hand():
    m = est.transformer(2, 256, 4, 64)
    block = (4 * 256 * 256 + 4 * 256) + (2 * 256 * 1024 + 1024 + 256) + 4 * 256
    assert m.params == 2 * block + 64 * 256 + (256 * 10 + 10 + 2 * 256) == 1_598_986
    sh = 64 * 256
    # per block 16 values per token and feature: 14 in the compute dtype + 2 fp32 LayerNorm inputs
    head32 = sh + 10
    assert m.activation_bytes(1, "fp32") == 2 * 16 * sh * 4 + 256 * 4 + head32 * 4
    assert m.activation_bytes(1, "bf16") == 2 * (14 * sh * 2 + 2 * sh * 4) + 256 * 2 + head32 * 4
    # checkpointing keeps each block's fp32 input and the head's, plus one block recomputed
    assert m.activation_bytes(1, "fp32", checkpointing=True) == 3 * sh * 4 + 16 * sh * 4
    assert m.activation_bytes(4, "fp32", checkpointing=True) == 4 * m.activation_bytes(1, "fp32", checkpointing=True)


def test_gpt2_preset_has_gpt2s_parameter_count():
    assert est.preset("gpt2-124m").params == 124_439_808  # the published count (tied embedding)


def test_flops_and_time_by_hand():
    assert est.transformer_flops(7e9, 1e12) == pytest.approx(4.2e22)
    assert est.transformer_flops(7e9, 1e12, checkpointing=True) == pytest.approx(5.6e22)
    assert est.cnn_flops(1e9, 1000) == pytest.approx(3e12)
    assert est.cnn_flops(1e9, 1000, checkpointing=True) == pytest.approx(4e12)
    seconds = est.training_time(4.2e22, gpu="H100", precision="bf16", gpus=8, mfu=0.4)
    assert seconds == pytest.approx(4.2e22 / (8 * 989.5e12 * 0.4))
    assert est.training_time(1e12, peak=1e11, mfu=0.5) == pytest.approx(20.0)
    assert est.peak_flops("Tesla T4", "fp16") == 65e12
    t = est.transformer(2, 256, 4, 64)
    assert t.training_flops(100) == pytest.approx(6 * t.params * 64 * 100)
    c = est.small_cnn()
    assert c.training_flops(100) == pytest.approx(3 * c.forward_flops * 100)


@pytest.mark.parametrize("call, message", [
    (lambda: est.training_memory(-1), "params must be > 0"),
    (lambda: est.training_memory(P, optimizer="adagrad"), "optimizer must be one of"),
    (lambda: est.training_memory(P, gpus=0), "gpus must be a positive integer"),
    (lambda: est.training_memory(P, shard="zero4"), "shard must be one of"),
    (lambda: est.training_memory(P, activations=float("nan")), "activations must be a finite number"),
    (lambda: est.training_memory(P, gathered_params=2 * P), "cannot exceed params"),
    (lambda: est.training_time(1e12, gpu="H100", mfu=1.5), "0 < mfu <= 1"),
    (lambda: est.training_time(1e12, gpu="H100", mfu=0), "0 < mfu <= 1"),
    (lambda: est.training_time(1e12, mfu=0.5), "not both or neither"),
    (lambda: est.peak_flops("Tesla T4", "bf16"), "no fast bf16"),
    (lambda: est.preset("resnet"), "preset must be one of"),
    (lambda: est.small_cnn().activation_bytes(0), "batch must be a positive integer"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------- the command


def test_cli_example_as_json(capsys):
    code = cli.main(["estimate", "--params", "7e9", "--precision", "bf16", "--optimizer", "adam", "--gpus", "8",
                     "--shard", "zero3", "--tokens", "1e12", "--gpu", "H100", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_bytes"] == pytest.approx(7e9 / 8 * (4 + 4 + 8))
    assert out["gpu"] == {"name": "H100 SXM", "memory_gb": 80, "fits": True}
    assert out["time"]["seconds"] == pytest.approx(4.2e22 / (8 * 989.5e12 * 0.4))


def test_cli_preset_table(capsys):
    assert cli.main(["estimate", "--preset", "cnn", "--batch", "128", "--samples", "1e6", "--gpu", "RTX 4090"]) == 0
    text = capsys.readouterr().out
    assert "SmallCNN" in text and "activations" in text and "fits on" in text and "GeForce RTX 4090 (24 GB): fits" in text


@pytest.mark.parametrize("args, message", [
    (["--params=-7e9"], "params must be > 0"),  # argparse reads "--params -7e9" as an option
    (["--params", "7e9", "--gpu", "H1000"], "unknown GPU 'H1000'; closest in the table: .*H100"),
    (["--params", "7e12"], "needs .* GiB per GPU, more than 90% of the largest GPU .*--shard zero3"),
    (["--params", "7e9", "--tokens", "1e12"], "timing needs --gpu"),
    (["--params", "7e9", "--mfu", "2", "--tokens", "1e9", "--gpu", "H100"], "0 < mfu <= 1"),
])
def test_cli_bad_input_is_one_readable_line(capsys, args, message):
    assert cli.main(["estimate", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rtxcourse estimate: error: ") and "\n" not in err and "Traceback" not in err
    assert __import__("re").search(message, err), err
