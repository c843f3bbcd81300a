"""Tests for rtxcourse.memory: activation bytes counted by hand, formatting, the batch search."""

from __future__ import annotations

import pytest

from rtxcourse import memory


def test_dtype_bytes_of_storage_formats():
    assert [memory.dtype_bytes(d) for d in ("fp32", "tf32", "bfloat16", "half")] == [4, 4, 2, 2]


def test_linear_relu_saved_bytes_by_hand():
    # batch 8, Linear(3,5)+ReLU, Linear(5,7)+ReLU: layer 1 keeps the input (8x3) and its
    # ReLU output (8x5), which layer 2's Linear saves too; layer 2 adds its ReLU output (8x7).
    assert memory.linear_relu_saved_bytes(8, [3, 5, 7]) == [8 * 8 * 4, 8 * 7 * 4]
    assert memory.linear_relu_saved_bytes(8, [3, 5, 7], dtype="bf16") == [8 * 8 * 2, 8 * 7 * 2]


def test_residual_mlp_saved_bytes_by_hand():
    # batch 2, width 3, expansion 4: x, LN out (3 each), fc1 out, GELU out (12 each), mean, rstd (1 each)
    assert memory.residual_mlp_saved_bytes(2, 3, 5) == [2 * (3 + 3 + 12 + 12 + 2) * 4] * 5
    assert memory.residual_mlp_saved_bytes(2, 3, 1, expansion=1) == [2 * (3 + 3 + 3 + 3 + 2) * 4]


@pytest.mark.parametrize("call, match", [
    (lambda: memory.linear_relu_saved_bytes(8, [3]), "at least one layer"),
    (lambda: memory.linear_relu_saved_bytes(0, [3, 4]), "batch must be a positive integer"),
    (lambda: memory.linear_relu_saved_bytes(8, [3, 4.5]), r"widths\[1\] must be"),
    (lambda: memory.residual_mlp_saved_bytes(8, 4, 0), "depth must be"),
    (lambda: memory.linear_relu_saved_bytes(8, [3, 4], dtype="int7"), "unknown floating-point format"),
])
def test_bad_sizes_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_format_bytes():
    assert memory.format_bytes(512) == "512 B"
    assert memory.format_bytes(1536) == "1.5 KiB"
    assert memory.format_bytes(21_004_288) == "20.0 MiB"
    assert memory.format_bytes(3 * 2**30) == "3.0 GiB"
    assert memory.format_bytes(-2**20) == "-1.0 MiB"
    assert memory.format_bytes(float("nan")) == "n/a"


def test_sqrt_segments():
    assert [memory.sqrt_segments(n) for n in (1, 4, 10, 16, 32)] == [1, 2, 3, 4, 6]


def test_largest_batch_doubles_then_bisects_to_a_multiple_of_step():
    seen = []

    def fits(b):
        seen.append(b)
        return b * 100 <= 5000  # fits up to 50

    found = memory.largest_batch(fits, start=16)
    assert found.largest == 48
    assert seen == [16, 32, 64, 48] and [b for b, _ in found.tried] == seen
    assert [ok for _, ok in found.tried] == [True, True, False, True]
    assert memory.largest_batch(lambda b: True, start=8, limit=100).largest == 100
    assert memory.largest_batch(lambda b: False).largest is None
    assert memory.largest_batch(lambda b: b <= 1000, start=1).largest == 1000
    with pytest.raises(TypeError, match="callable"):
        memory.largest_batch(50)


def test_memory_use_prints_both_numbers_and_the_method():
    text = str(memory.MemoryUse(3 * 2**20, 2**20, "allocator statistics"))
    assert text == "peak 3.0 MiB, held 1.0 MiB (allocator statistics)"
