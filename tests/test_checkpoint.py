"""rtxcourse.checkpoint: atomic checkpoint files, keep-last-N rotation, finding the latest."""

import os

import pytest

from rtxcourse import checkpoint


def test_names_carry_the_step_zero_padded_and_read_back():
    p = checkpoint.path_for("run", 1200)
    assert p.name == "ckpt-00001200.pt" and checkpoint.step_of(p) == 1200
    assert checkpoint.path_for("run", 7, ".keras").name == "ckpt-00000007.keras"
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="step must be a non-negative int"):
            checkpoint.path_for("run", bad)
    with pytest.raises(ValueError, match="suffix must look like"):
        checkpoint.path_for("run", 1, "pt")
    with pytest.raises(ValueError, match="is not a checkpoint name"):
        checkpoint.step_of("last.pt")


def test_latest_is_the_highest_step_not_the_newest_file(tmp_path):
    assert checkpoint.latest(tmp_path / "missing") is None and checkpoint.latest(tmp_path) is None
    for step in (100, 20, 3):  # written in this order: step 3 is the newest file
        checkpoint.save(tmp_path, step, f"state {step}".encode(), keep=5)
    os.utime(checkpoint.path_for(tmp_path, 100), (0, 0))  # and step 100 the oldest by mtime
    assert [checkpoint.step_of(p) for p in checkpoint.list_checkpoints(tmp_path)] == [3, 20, 100]
    assert checkpoint.latest(tmp_path).read_bytes() == b"state 100"


def test_rotation_keeps_the_newest_n_and_removes_leftover_temporaries(tmp_path):
    leftover = tmp_path / ".ckpt-00000004.pt.abc123.tmp"  # what a save killed half-way leaves
    leftover.write_bytes(b"half")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert checkpoint.latest(tmp_path) is None  # a temporary file is never taken for a checkpoint
    for step in range(1, 6):
        checkpoint.save(tmp_path, step, b"x" * step, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000004.pt", "ckpt-00000005.pt", "notes.txt"]
    with pytest.raises(ValueError, match="keep must be a positive integer"):
        checkpoint.rotate(tmp_path, 0)


def test_a_failed_save_leaves_the_previous_checkpoint_and_no_file(tmp_path):
    checkpoint.save(tmp_path, 1, b"good")
    with pytest.raises(TypeError, match="data must be bytes"):
        checkpoint.save(tmp_path, 2, "text")
    with pytest.raises(ValueError, match="keep must be a positive integer"):
        checkpoint.save(tmp_path, 2, b"new", keep=0)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt-00000001.pt"]
    assert checkpoint.latest(tmp_path).read_bytes() == b"good"


def test_checkpoint_imports_no_framework():
    import subprocess
    import sys

    code = "import sys, rtxcourse.checkpoint; print(sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
