"""estimate_tf counts a Keras training step's parts, and they agree with the framework-free estimator."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from rtxcourse import estimate as est  # noqa: E402
from rtxcourse import estimate_tf as et  # noqa: E402
from rtxcourse import models_tf  # noqa: E402

X = np.random.default_rng(0).standard_normal((8, 32), dtype=np.float32)
Y = np.arange(8) % 10


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_an_mlp_step_matches_the_estimate(precision):
    parts = et.count_training_memory(lambda: models_tf.mlp((32,), (64,)), X, Y, optimizer="adam", precision=precision)
    n = 32 * 64 + 64 + 64 * 10 + 10  # counted by hand: two Dense layers with biases
    assert parts["weights"] == parts["gradients"] == 4 * n
    assert parts["optimizer"] == 8 * n  # Adam's two fp32 moments; its step counter is not a per-parameter state
    values = 8 * (32 + 64) * (2 if precision == "bf16" else 4) + 8 * 10 * 4  # inputs of both Dense, fp32 logits
    assert parts["activations"] == values
    assert parts["weight copies"] == (2 * (32 * 64 + 64) if precision == "bf16" else 0)  # the fp32 head is not cast
    rule = est.mlp(32, (64,)).memory(8, precision=precision, optimizer="adam").parts
    head_copy = 2 * (64 * 10 + 10) if precision == "bf16" else 0  # the estimator casts every weight, Keras not the head
    assert sum(rule.values()) - head_copy == parts["total"]


@pytest.mark.parametrize("optimizer, states", [("sgd", 0), ("momentum", 1)])
def test_optimizer_states_per_parameter(optimizer, states):
    parts = et.count_training_memory(lambda: models_tf.mlp((32,), (64,)), X, Y, optimizer=optimizer)
    assert parts["optimizer"] == states * parts["weights"]


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        et.count_training_memory(lambda: models_tf.mlp((32,), (64,)), X, Y, precision="int8")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        et.make_optimizer("lion")
