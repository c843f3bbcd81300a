"""rtxcourse.distributed_plots: the parallelism pictures draw what they say and validate n."""

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from rtxcourse import distributed_plots  # noqa: E402


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_data_parallel_draws_one_shard_replica_and_gradient_per_device():
    ax = distributed_plots.data_parallel(3)
    texts = _texts(ax)
    for i in range(3):
        assert f"shard {i}" in texts and f"replica {i}\nfull model" in texts and f"grad {i}" in texts
    assert "shard 3" not in texts and any("all-reduce" in t for t in texts)
    with pytest.raises(ValueError, match="from 1 to 8"):
        distributed_plots.data_parallel(0)


def test_parallelism_kinds_has_four_panels_and_a_pipeline_bubble():
    fig = distributed_plots.parallelism_kinds(2)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 4 and any("FSDP" in t for t in titles) and any("Pipeline" in t for t in titles)
    fsdp = next(ax for ax in fig.axes if "FSDP" in ax.get_title())
    assert "layer 1\npart 2/2" in _texts(fsdp)
    pipeline = next(ax for ax in fig.axes if "Pipeline" in ax.get_title())
    assert _texts(pipeline).count("idle") == 2  # 2 stages: one idle slot each while filling/draining
    with pytest.raises(ValueError, match="from 2 to 4"):
        distributed_plots.parallelism_kinds(5)
