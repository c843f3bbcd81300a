"""selfchecks.lesson10: every claim passes on good evidence and fails on realistic broken evidence."""

import copy

import numpy as np
import pytest

from rtxcourse.selfchecks import lesson10

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 10, 200)


def run(total=20, start=10, restarts=None):
    """An interrupted run resumed at ``start`` that ended exactly like the uninterrupted one."""
    w = RNG.normal(size=500).astype(np.float32)
    losses = list(np.linspace(2.3, 0.4, total))
    out = dict(uninterrupted_weights=w, resumed_weights=w.copy(), uninterrupted_losses=losses,
               resumed_losses=list(losses), resumed_from_step=start, total_steps=total)
    if restarts is not None:
        out["restart_count"] = restarts
    return out


def trained_logits(noise=1e-6):
    """Logits of a model that is right on 90% of LABELS, and a reload that differs by ``noise``."""
    logits = RNG.normal(size=(len(LABELS), 10)).astype(np.float32)
    right = RNG.random(len(LABELS)) < 0.9
    logits[right, LABELS[right]] += 10.0
    return logits, logits + noise


def range_test(steps=60):
    """An LR range test that trained (2.3 -> 0.3) and stopped when the loss exploded."""
    lrs = np.geomspace(1e-5, 1.0, 150)[:steps]
    losses = np.concatenate([np.linspace(2.3, 0.3, steps - 5), [0.4, 0.6, 0.9, 1.2, 1.5]])
    return lrs, losses


def sum_orders():
    """Three float32 sums of one array that differ in the last bits, and a seed that repeats draws."""
    return dict(sums=[-123.45678, -123.45679, -123.456795], abs_sum=80_000.0, same_seed_same_draws=True)


SHAPES = [("torch",), ("tf",), ("torch", "tf")]  # a torch-only, a TensorFlow-only and a full install
CLAIMS = {"torch": 12, "tf": 11}  # per framework that ran, plus one: "at least one framework ran"


def good(ran=("torch", "tf")):
    """Evidence of the sections of ``ran``, as the lesson records it: keyed by framework."""
    evidence = dict(resume={}, jobs={}, exports={}, labels=LABELS, range_tests={}, sum_orders={})
    for fw in ran:
        evidence["range_tests"][fw] = range_test()
        evidence["sum_orders"][fw] = sum_orders()
    if "torch" in ran:
        evidence["resume"]["torch"] = run()
        evidence["jobs"]["torch"] = run(restarts=1)
        evidence["exports"]["torch"] = {"torch.export": trained_logits(0.0), "ONNX": trained_logits(3e-6)}
    if "tf" in ran:
        evidence["resume"]["tf"] = run(total=6, start=3)
        evidence["jobs"]["tf"] = run(restarts=1)
        evidence["exports"]["tf"] = {"SavedModel": trained_logits()}
    return evidence


@pytest.mark.parametrize("ran", SHAPES)
def test_good_evidence_passes(ran, capsys):
    lesson10.check(ran=set(ran), **good(ran))
    assert f"all {1 + sum(CLAIMS[fw] for fw in ran)} claims hold" in capsys.readouterr().out


def broken(ran, edit):
    evidence = copy.deepcopy(good(ran))
    edit(evidence)
    return evidence


def no_optimizer_state(e):  # Adam restarted from zero moments: the weights drift apart
    e["resume"]["torch"]["resumed_weights"] = e["resume"]["torch"]["resumed_weights"] + 2e-2


def rng_not_restored(e):  # other dropout masks after the resume: the losses differ from there on
    e["resume"]["tf"]["resumed_losses"][1] += 0.05


def restart_from_scratch(e):  # same final weights (deterministic) but nothing was resumed
    e["jobs"]["torch"]["resumed_from_step"] = None


def torch_job_lost_rng(e):  # only rank 0's RNG state saved: rank 1 draws other batches after the restart
    e["jobs"]["torch"]["resumed_losses"][-1] += 1e-3


def no_restart_happened(e):  # the worker was never killed: the job proves nothing
    e["jobs"]["tf"]["restart_count"] = 0


def torch_worker_never_killed(e):
    e["jobs"]["torch"]["restart_count"] = 0


def tf_lost_a_step(e):  # resumed from the last backup but the step counter was not in it
    e["jobs"]["tf"]["resumed_losses"] = e["jobs"]["tf"]["resumed_losses"][:-1]


def tf_restored_at_zero(e):  # the backup directory was wiped on restart: step 0 is "restored"
    e["jobs"]["tf"]["resumed_from_step"] = 0


def untrained_export(e):  # exported before fit: the reload agrees with a model that knows nothing
    logits = RNG.normal(size=(len(LABELS), 10)).astype(np.float32)
    e["exports"]["tf"]["SavedModel"] = (logits, logits)


def export_of_other_weights(e):  # ONNX exported from a fresh model, compared with the trained one
    orig, _ = e["exports"]["torch"]["ONNX"]
    e["exports"]["torch"]["ONNX"] = (orig, RNG.normal(size=orig.shape).astype(np.float32))


def pt2_of_the_fresh_model(e):  # torch.export traced before load_state_dict: other logits
    orig, _ = e["exports"]["torch"]["torch.export"]
    e["exports"]["torch"]["torch.export"] = (orig, orig[::-1].copy())


def only_one_torch_format(e):
    del e["exports"]["torch"]["ONNX"]


def no_tf_export(e):  # the export cell was skipped, but the section's other cells ran
    e["exports"]["tf"] = {}


def resumed_at_the_end(e):  # "resumed" from the final checkpoint: nothing left to show
    e["resume"]["torch"]["resumed_from_step"] = e["resume"]["torch"]["total_steps"]


def keras_from_scratch(e):  # BackupAndRestore pointed at a new directory: epoch 0 again
    e["resume"]["tf"]["resumed_from_step"] = 0


def lr_never_set(e):  # the step ignored its lr argument: trained at 1e-5 throughout, the loss barely moves
    lrs, _ = e["range_tests"]["torch"]
    e["range_tests"]["torch"] = (lrs, np.linspace(2.30, 2.25, len(lrs)))


def range_stopped_early(e):  # steps=30: stopped before the loss exploded, so the "minimum" is just the end
    lrs, losses = e["range_tests"]["tf"]
    e["range_tests"]["tf"] = (lrs[:40], losses[:40])


def range_nan_from_the_start(e):  # a rate schedule that starts at 1.0: NaN before anything was learned
    lrs, losses = e["range_tests"]["torch"]
    e["range_tests"]["torch"] = (lrs, np.full(len(lrs), np.nan))


def summed_in_one_order(e):  # the "three orders" were the same reduction three times: equal bits prove nothing
    e["sum_orders"]["tf"]["sums"] = [-123.45678] * 3


def summed_other_data(e):  # the flipped copy was drawn afresh: not the same numbers at all
    e["sum_orders"]["torch"]["sums"][1] = 17.5


def reseeded_but_drew_other_numbers(e):  # seeded once, drew twice: the second draw continues the stream
    e["sum_orders"]["tf"]["same_seed_same_draws"] = False


def torch_not_reseeded(e):
    e["sum_orders"]["torch"]["same_seed_same_draws"] = False


def tf_summed_other_data(e):
    e["sum_orders"]["tf"]["sums"][2] = 0.0


def tf_lr_never_set(e):  # keras_step assigned the rate to a Python float, not the optimizer's variable
    lrs, _ = e["range_tests"]["tf"]
    e["range_tests"]["tf"] = (lrs, np.linspace(2.30, 2.25, len(lrs)))


def torch_range_stopped_early(e):
    lrs, losses = e["range_tests"]["torch"]
    e["range_tests"]["torch"] = (lrs[:40], losses[:40])


def torch_summed_in_one_order(e):
    e["sum_orders"]["torch"]["sums"] = [1.5] * 3


# (the framework whose sections show the claim, the broken evidence, the one claim that must fail)
BREAKS = [
    ("torch", lr_never_set, "PyTorch LR range test: the loss falls as the rate grows, then explodes"),
    ("torch", torch_range_stopped_early, "PyTorch LR range test: the loss falls as the rate grows, then explodes"),
    ("torch", range_nan_from_the_start, "PyTorch LR range test: the loss falls as the rate grows, then explodes"),
    ("torch", torch_summed_in_one_order, "PyTorch: one array summed in other orders gives other bits"),
    ("torch", summed_other_data, "PyTorch: one array summed in other orders gives other bits"),
    ("torch", torch_not_reseeded, "PyTorch: the same seed gives the same random draws"),
    ("tf", tf_lr_never_set, "TensorFlow LR range test: the loss falls as the rate grows, then explodes"),
    ("tf", range_stopped_early, "TensorFlow LR range test: the loss falls as the rate grows, then explodes"),
    ("tf", summed_in_one_order, "TensorFlow: one array summed in other orders gives other bits"),
    ("tf", tf_summed_other_data, "TensorFlow: one array summed in other orders gives other bits"),
    ("tf", reseeded_but_drew_other_numbers, "TensorFlow: the same seed gives the same random draws"),
    ("torch", no_optimizer_state, "PyTorch checkpoint: ends with the uninterrupted run's weights"),
    ("torch", resumed_at_the_end, "PyTorch checkpoint: resumed from a checkpoint mid-run"),
    ("torch", torch_worker_never_killed, "torchrun --max-restarts: a worker was killed and the job restarted"),
    ("torch", restart_from_scratch, "torchrun --max-restarts: resumed from a checkpoint mid-run"),
    ("torch", torch_job_lost_rng, "torchrun --max-restarts: ends with the uninterrupted run's weights"),
    ("torch", only_one_torch_format, "PyTorch: each of its 2 export formats was reloaded"),
    ("torch", export_of_other_weights, "ONNX: the trained model, reloaded"),
    ("torch", pt2_of_the_fresh_model, "torch.export: the trained model, reloaded"),
    ("tf", keras_from_scratch, "Keras BackupAndRestore: resumed from a checkpoint mid-run"),
    ("tf", rng_not_restored, "Keras BackupAndRestore: ends with the uninterrupted run's weights"),
    ("tf", no_restart_happened, "TF multi-worker: a worker was killed and the job restarted"),
    ("tf", tf_restored_at_zero, "TF multi-worker: resumed from a checkpoint mid-run"),
    ("tf", tf_lost_a_step, "TF multi-worker: ends with the uninterrupted run's weights"),
    ("tf", no_tf_export, "TensorFlow: each of its 1 export formats was reloaded"),
    ("tf", untrained_export, "SavedModel: the trained model, reloaded"),
]


@pytest.mark.parametrize("ran, edit, claim", [
    pytest.param(ran, edit, claim, id=f"{'+'.join(ran)}-{edit.__name__}") for ran in SHAPES for fw, edit, claim in BREAKS if fw in ran])
def test_each_claim_fails_on_broken_evidence(ran, edit, claim):
    with pytest.raises(AssertionError) as info:
        lesson10.check(ran=set(ran), **broken(ran, edit))
    message = str(info.value)
    assert claim in message and message.startswith("Lesson 10: 1 of "), message  # that claim alone


def test_every_claim_of_each_framework_has_a_broken_case():
    for fw in CLAIMS:  # all but "left its evidence": the resume, the job (3), exports count + each format
        claims = {claim for f, _, claim in BREAKS if f == fw}
        assert len(claims) == CLAIMS[fw] - 1, (fw, sorted(claims))


@pytest.mark.parametrize("ran", SHAPES, ids="+".join)
@pytest.mark.parametrize("kind", ["resume", "jobs", "exports", "range_tests", "sum_orders"])
def test_a_framework_that_ran_must_leave_its_evidence(ran, kind):
    for fw in ran:  # its sections ran (sections.ran() says so) but the lesson passed nothing for them
        evidence = broken(ran, lambda e: e[kind].pop(fw))
        with pytest.raises(AssertionError, match=f"1 of .*{lesson10.NAMES[fw]}: every section that ran left its evidence"):
            lesson10.check(ran=set(ran), **evidence)


def test_nothing_ran_fails():
    with pytest.raises(AssertionError, match="the sections of at least one framework ran"):
        lesson10.check(ran=set(), **good(()))
    with pytest.raises(AssertionError, match="the sections of at least one framework ran"):
        lesson10.check(ran={"jax"}, **good())


def test_the_other_frameworks_evidence_is_not_needed_when_it_did_not_run(capsys):
    evidence = broken(("torch", "tf"), lambda e: e["jobs"]["tf"].update(restart_count=0))
    lesson10.check(ran={"torch"}, **evidence)  # the broken TF job was never run here: not checked
    assert "TF multi-worker" not in capsys.readouterr().out


def test_a_stated_tolerance_accepts_gpu_sized_differences():
    e = broken(("torch",), lambda e: e["jobs"]["torch"].update(resumed_weights=e["jobs"]["torch"]["resumed_weights"] + 1e-7))
    with pytest.raises(AssertionError):
        lesson10.check(ran={"torch"}, **e)
    lesson10.check(ran={"torch"}, **e, atol=1e-6)
