"""Lesson 13's self-check fails when a seed snippet stops failing the way its section says, or a fix breaks."""

import copy

import pytest

from rtxcourse.myths import Outcome
from rtxcourse.selfchecks import lesson13


def _outcomes():
    """What the pinned stack does, written out by hand (not read from lesson13.EXPECTED)."""
    raised = {"crop_example": "AttributeError", "crop_equal_size": "ValueError", "flip_example": None,
              "rotate_example": "AttributeError", "gradient_acceleration": "ValueError", "dlss": "ValueError",
              "architecture": "ValueError", "image_data_generator": "ValueError",
              "image_data_generator_keras3": "AttributeError", "early_stopping": None,
              "legacy_h5": "FileNotFoundError", "depthwise_separable": "TypeError",
              "activation_compression": "InvalidArgumentError", "mirrored_loop": "NameError",
              "ddp_init": "ValueError", "one_gpu": "IndexError"}
    return {k: Outcome(k, v, "message" if v else "") for k, v in raised.items()}


GOOD = {
    "crop_possible_tops": [0, 1, 2, 3], "crop_seed_tops": [0, 1, 2], "crop_fixed_tops": [0, 1, 2, 3],
    "flip_example_returned_none": True, "flip_seed_rate": 1.0, "flip_fixed_rate": 0.493,
    "rotate_seed_distinct": 1, "rotate_seed_black": 0.11, "rotate_fixed_distinct": 5, "rotate_fixed_black": 0.0,
    "fixed_mlp_accuracy_float32": 0.87, "dlss_fixed_losses": [2.4, 1.1, 0.3],
    "one_gpu_physical": 0, "one_gpu_visible_after": 0,
    "architecture_params": 407050, "baseline_params": 407050, "cnn_params": 12810, "cnn_accuracy": 0.82,
    "keras_augment_shape": (32, 28, 28, 1), "keras_augment_changed": 0.06,
    "es_seed_best": 0.30, "es_seed_last": 0.36, "es_seed_kept": 0.3601,
    "es_fixed_stopped_epoch": 9, "es_fixed_best": 0.29, "es_fixed_kept": 0.2901,
    "h5_warned_legacy": True, "keras_roundtrip_maxdiff": 0.0, "keras_reloaded_optimizer": "Adam",
    "optimizer_after_h5": "RMSprop",
    "separable_output_shape": (1, 32, 32, 32), "conv_params": 864, "separable_params": 123,
    "from_logits_floor": 1.46115, "probabilities_loss": 1e-7,
    "ddp_seed_weight_gap": 0.21, "ddp_fixed_weight_gap": 0.0, "ddp_fixed_seen_per_rank": 512,
}
BOTH = {"tf", "torch"}


def test_passes_on_the_pinned_stacks_behaviour(capsys):
    lesson13.check(_outcomes(), GOOD, BOTH)
    assert "all" in capsys.readouterr().out


@pytest.mark.parametrize("name, now", [
    ("depthwise_separable", None),          # a TF release accepts the call: the section is stale
    ("activation_compression", "ValueError"),  # fails differently now
    ("crop_equal_size", None),              # someone "fixed" the seed code in the lesson
    ("ddp_init", None),
    ("early_stopping", "ValueError"),       # the snippet that must run no longer does
])
def test_fails_when_a_snippet_behaves_differently(name, now):
    outcomes = _outcomes()
    outcomes[name] = Outcome(name, now)
    with pytest.raises(AssertionError, match=name):
        lesson13.check(outcomes, GOOD, BOTH)


def test_fails_when_a_section_ran_but_recorded_no_snippet():
    outcomes = _outcomes()
    del outcomes["mirrored_loop"]
    with pytest.raises(AssertionError, match="'mirrored_loop' was run"):
        lesson13.check(outcomes, GOOD, BOTH)


@pytest.mark.parametrize("key, bad, claim", [
    ("crop_seed_tops", [0, 1, 2, 3], "never draws the last offset"),     # the seed crop was silently corrected
    ("crop_fixed_tops", [0, 1, 2], "draws every offset"),                # the package crop regressed (randint bug)
    ("flip_seed_rate", 0.5, "flips every image"),
    ("flip_fixed_rate", 1.0, "about half"),                               # a flip that always flips
    ("rotate_fixed_black", 0.12, "leaves no black pixel"),               # constant border slipped back in
    ("rotate_seed_distinct", 5, "one angle"),
    ("fixed_mlp_accuracy_float32", 0.1, "learns digits"),                # chance level: the fix does not train
    ("dlss_fixed_losses", [2.3, 2.3, 2.4], "loss falls"),
    ("architecture_params", 101770, "section 1's model"),
    ("cnn_params", 407050, "10x fewer"),
    ("es_seed_kept", 0.30, "last epoch"),                                # best weights restored: not the seed's code
    ("es_fixed_kept", 0.36, "best epoch"),                               # restore_best_weights forgotten
    ("es_fixed_stopped_epoch", 0, "best epoch"),                         # never stopped: nothing restored
    ("keras_roundtrip_maxdiff", 0.02, "exactly the same"),
    ("keras_reloaded_optimizer", "RMSprop", "with its Adam optimizer"),
    ("optimizer_after_h5", "Adam", "loses the Adam optimizer"),            # Keras fixed it: the sentence is stale
    ("separable_params", 864, "123 weights"),
    ("from_logits_floor", 0.0, "cannot go below"),                       # from_logits=False: no double softmax
    ("ddp_seed_weight_gap", 0.0, "different models"),
    ("ddp_fixed_weight_gap", 0.05, "same model"),                        # DDP wrapper forgotten in the fix
    ("ddp_fixed_seen_per_rank", 1024, "half the data"),                  # DistributedSampler forgotten
])
def test_each_claim_fails_on_broken_evidence(key, bad, claim):
    evidence = copy.deepcopy(GOOD)
    evidence[key] = bad
    with pytest.raises(AssertionError, match=claim):
        lesson13.check(_outcomes(), evidence, BOTH)


def test_one_gpu_expectation_follows_the_hardware():
    outcomes = _outcomes()
    on_gpu = dict(GOOD, one_gpu_physical=2, one_gpu_visible_after=1)
    outcomes["one_gpu"] = Outcome("one_gpu", None)
    lesson13.check(outcomes, on_gpu, BOTH)  # ran and left one GPU: the opposite of parallel, as the lesson says
    with pytest.raises(AssertionError, match="exactly one visible"):
        lesson13.check(outcomes, dict(on_gpu, one_gpu_visible_after=2), BOTH)
    with pytest.raises(AssertionError, match="IndexError"):
        lesson13.check(outcomes, GOOD, BOTH)  # no GPU, yet gpus[0] worked


def test_one_framework_checks_what_ran():
    outcomes = {k: v for k, v in _outcomes().items() if k in lesson13.EXPECTED[None] or k == "ddp_init"}
    lesson13.check(outcomes, {k: v for k, v in GOOD.items() if not k.startswith(("es_", "h5", "keras"))}, {"torch"})
    with pytest.raises(AssertionError, match="both ranks end with the same model"):
        lesson13.check(outcomes, dict(GOOD, ddp_fixed_weight_gap=1.0), {"torch"})
