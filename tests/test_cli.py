import json
import subprocess
import sys

import pytest

from rtxcourse import cli


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "rtxcourse", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_doctor_json_with_frameworks():
    r = run_cli("doctor", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    for key in ("python", "cpu", "gpus", "torch", "tensorflow", "recommendation", "errors"):
        assert key in rep
    assert rep["errors"] == {}, rep["errors"]
    assert rep["recommendation"]["tier"] in ("cpu", "1-gpu", "multi-gpu")
    # Framework start-up noise is filtered; real errors would still show.
    assert "cuInit" not in r.stderr and "oneDNN custom operations" not in r.stderr


def test_doctor_table_without_frameworks():
    r = run_cli("doctor", "--no-frameworks")
    assert r.returncode == 0, r.stderr
    assert "CPU features" in r.stdout and "Tier" in r.stdout and "Precision" in r.stdout


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["frobnicate"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bench_topics_are_registered():
    parser = cli.build_parser()
    for topic in cli.BENCH_TOPICS:
        args = parser.parse_args(["bench", topic, "--quick", "--json"])
        assert args.quick and args.json and callable(args.func)


def test_doctor_on_a_gpu_machine_reads_the_driver(tmp_path):
    """End to end through a stand-in nvidia-smi: two Ampere GPUs, one hidden by CUDA_VISIBLE_DEVICES."""
    import os

    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho '0, NVIDIA A100-SXM4-80GB, 81920, 8.0'\necho '1, NVIDIA A100-SXM4-80GB, 81920, 8.0'\n")
    smi.chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}", CUDA_VISIBLE_DEVICES="1")
    env.pop("RTXCOURSE_TIER", None)
    r = subprocess.run([sys.executable, "-m", "rtxcourse", "doctor", "--json", "--no-frameworks"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert len(rep["driver_gpus"]) == 2 and len(rep["gpus"]) == 1
    gpu = rep["gpus"][0]
    assert gpu["tensor_cores"]["architecture"] == "Ampere" and "bf16" in gpu["tensor_cores"]["precisions"]
    assert rep["recommendation"]["tier"] == "1-gpu" and "bf16" in rep["recommendation"]["precision"]
    table = subprocess.run([sys.executable, "-m", "rtxcourse", "doctor", "--no-frameworks"],
                           capture_output=True, text=True, env=env, timeout=60).stdout
    assert "Tensor Cores gen 3 (Ampere)" in table and "80.0 GiB" in table
