"""scripts/gpu_check.sh: the one command for a GPU machine runs its dry mode on the CPU, with no TensorFlow."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("torch")


@pytest.mark.slow
def test_dry_run_writes_every_output_and_passes(tmp_path):
    # as on the GPU machine: no TensorFlow (hidden), the repository on PYTHONPATH, this Python
    env = dict(os.environ, OUT=str(tmp_path / "out"), PYTHON=sys.executable, RTXCOURSE_FRAMEWORKS="torch",
               PYTHONPATH=str(ROOT))
    r = subprocess.run(["bash", str(ROOT / "scripts/gpu_check.sh"), "--dry"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    out = tmp_path / "out"
    summary = (out / "summary.txt").read_text() if (out / "summary.txt").exists() else r.stdout
    assert r.returncode == 0, f"{summary}\n{r.stderr[-3000:]}\n" + "\n".join(
        f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(out.glob("*.stderr.txt")))
    for name in ("env.txt", "test_gpu.txt", "test_gpu.xml", "doctor.json", "bench_precision.json", "lessons.json"):
        assert (out / name).stat().st_size > 0, name
    assert [line.split()[0] for line in summary.splitlines()[:4]] == ["test_gpu", "doctor", "bench", "lessons"]
    doctor = json.loads((out / "doctor.json").read_text())
    assert doctor["recommendation"]["tier"] in ("cpu", "1-gpu", "multi-gpu") and doctor["tensorflow"]["installed"] is False
    bench = json.loads((out / "bench_precision.json").read_text())
    assert bench and all("hardware" in rep for rep in bench)
    lessons = json.loads((out / "lessons.json").read_text())
    assert lessons["dry"] is True and lessons["lesson03"]["claims"] and lessons["lesson09"]["nprocs"] == 2
    assert all(c["ok"] for part in ("lesson03", "lesson09") for c in lessons[part]["claims"])


def test_unknown_arguments_are_refused(tmp_path):
    r = subprocess.run(["bash", str(ROOT / "scripts/gpu_check.sh"), "--fast"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2 and "unknown argument '--fast'" in r.stderr
