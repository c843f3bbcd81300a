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
