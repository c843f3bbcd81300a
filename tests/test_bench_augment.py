"""rtxcourse bench augment: the same chain on the same images, every part, skips with reasons."""

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

from rtxcourse import augment as A
from rtxcourse.benchmarks import augment as B


def _args(**kw):
    parser = argparse.ArgumentParser()
    B.add_arguments(parser)
    args = parser.parse_args([])
    args.quick, args.json = True, False
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def test_photo_batch_is_real_rgb_photos_of_one_size():
    photos = B.photo_batch(7, 40)
    assert photos.shape == (7, 46, 56, 3) and photos.dtype == np.uint8
    assert len({p.tobytes() for p in photos}) == 5  # the 5 colour photos, cycled
    assert B.our_chain(40)(photos[0], np.random.default_rng(0)).shape == (40, 40, 3)


def test_ours_and_albumentations_run_the_same_chain():
    pytest.importorskip("albumentations")
    photos = B.photo_batch(4, 40)
    ours, alb = B.our_chain(40), B.albumentations_chain(40)
    assert [type(t).__name__ for t in ours.transforms] == ["RandomCrop", "RandomFlip", "RandomRotate", "ColorJitter", "Cutout"]
    assert len(alb.transforms) == len(ours.transforms)
    for im in photos:
        a, b = ours(im, np.random.default_rng(0)), alb(image=im)["image"]
        assert a.shape == b.shape == (40, 40, 3) and a.dtype == b.dtype == np.uint8
        # Both cut one 10x10 hole of zeros (ours is never smaller than albumentations').
        assert (a.max(axis=2) == 0).sum() >= 10 * 10 * 0.5 and (b.max(axis=2) == 0).sum() >= 10 * 10 * 0.5


def test_one_process_part_reports_ratio_and_every_transform(capsys):
    pytest.importorskip("albumentations")
    reports = B.run(_args(images=6, size=24, skip="tf,torch"))
    out = capsys.readouterr().out
    assert "skipping tf: asked to" in out and "skipping torch: asked to" in out
    chain, steps = reports
    assert [m.name for m in chain.measurements] == ["rtxcourse.augment", "albumentations"]
    ours, alb = chain.measurements
    assert chain.ratios[0].value == "rtxcourse.augment" and chain.ratios[0].baseline == "albumentations"
    assert chain.ratios[0].speedup == pytest.approx(float(np.median(alb.times)) / float(np.median(ours.times)))
    assert all(m.work == 6 and m.unit == "img" and len(m.times) == 5 for m in chain.measurements)
    assert len(steps.measurements) == 2 * len(B.our_chain(24)) and len(steps.ratios) == len(B.our_chain(24))


def test_missing_albumentations_is_skipped_with_a_reason(monkeypatch, capsys):
    monkeypatch.setattr(B, "installed", lambda module: False)
    reports = B.run(_args(images=4, size=16))
    out = capsys.readouterr().out
    assert "skipping albumentations: not installed" in out
    assert "skipping tf: tensorflow is not installed" in out and "skipping torch: torch is not installed" in out
    assert len(reports) == 1 and [m.name for m in reports[0].measurements] == ["rtxcourse.augment"]


@pytest.mark.parametrize("kw, match", [({"skip": "tf,jax"}, "--skip"), ({"size": 4}, "--size"), ({"images": 0}, "--images")])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        B.run(_args(**{"images": 4, "size": 16, **kw}))


@pytest.mark.slow
def test_cli_json_runs_every_part():
    r = subprocess.run([sys.executable, "-m", "rtxcourse", "bench", "augment", "--quick", "--json", "--images", "8",
                        "--size", "32", "--max-workers", "2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    reports = json.loads(r.stdout[r.stdout.index("["):])
    titles = [rep["title"] for rep in reports]
    assert any(t.startswith("augmentation chain") for t in titles), titles
    assert any(t.startswith("tf.data map") for t in titles) and any(t.startswith("DataLoader") for t in titles), titles
    loader = next(rep for rep in reports if rep["title"].startswith("DataLoader"))
    assert [m["name"] for m in loader["measurements"]] == ["workers=0", "workers=1", "workers=2"]
    tfdata = next(rep for rep in reports if rep["title"].startswith("tf.data"))
    assert {"ours numpy_function xAUTOTUNE", "Keras layers xAUTOTUNE"} <= {m["name"] for m in tfdata["measurements"]}
    for rep in reports:  # every rate is images per second over one pass of the 8 images asked for
        assert rep["hardware"], rep["title"]
        for m in rep["measurements"]:
            assert (m["work"], m["unit"]) == (8, "img") and m["rate"] == pytest.approx(8 / m["median_s"]), m["name"]
