"""The two README commands: the lab command serves the course, CI runs the README's test command."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from rtxcourse.course import catalog
from rtxcourse.distributed import free_port

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands():
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    assert _readme_commands() == ["make lab", "make test"]
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert "make test" in ci and "set -euo pipefail" in ci


def test_extras_let_a_learner_install_one_framework():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {"torch", "tf", "all", "dev"} <= set(extras)
    assert extras["torch"] == ["torch==2.13.0"]
    assert any(d.startswith("tensorflow==2.21") for d in extras["tf"])
    assert not any(d.split("==")[0] in ("torch", "tensorflow") for d in project["dependencies"])
    for dep in project["dependencies"] + [d for v in extras.values() for d in v if "rtxcourse" not in d]:
        assert "==" in dep, f"unpinned dependency {dep!r}"
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


@pytest.mark.slow
def test_lab_command_serves_the_course_notebooks(tmp_path):
    venv = Path(sys.prefix)
    port, token = free_port(), "rtxcourse-test"
    lab_args = f"--no-browser --port {port} --ServerApp.token={token} --ServerApp.ip=127.0.0.1"
    # The Makefile's own lab command, without re-running the install step (-o: treat it as done).
    dry = subprocess.run(["make", "-s", "-n", "-o", f"{venv}/.rtxcourse-installed", "lab", f"VENV={venv}", f"LAB_ARGS={lab_args}"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert "jupyter lab" in dry and "preferred_dir=notebooks" in dry
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"))
    proc = subprocess.Popen(dry, shell=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        names, deadline = None, time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/notebooks?token={token}", timeout=5) as r:
                    names = {c["name"] for c in json.load(r)["content"]}
                break
            except OSError:
                time.sleep(1)
        assert names is not None, f"JupyterLab did not answer: {proc.stderr.read1(4000).decode() if proc.poll() is not None else 'timeout'}"
        assert {Path(lesson.notebook).name for lesson in catalog.lessons()} <= names
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_setup_turns_off_the_jupyter_news_popup(tmp_path):
    """`make setup` writes the venv's JupyterLab overrides.json; the value must be one the schema allows."""
    venv = tmp_path / "venv"
    dry = subprocess.run(["make", "-s", "-n", "-B", "setup", f"VENV={venv}"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    ours = [line for line in dry if "share/jupyter/lab/settings" in line]
    assert len(ours) == 2, dry
    subprocess.run(["bash", "-c", " && ".join(ours)], check=True)
    settings = json.loads((venv / "share/jupyter/lab/settings/overrides.json").read_text())
    news = settings["@jupyterlab/apputils-extension:notification"]["fetchNews"]
    schema = Path(sys.prefix) / "share/jupyter/lab/schemas/@jupyterlab/apputils-extension/notification.json"
    if schema.exists():  # JupyterLab installed: "false" is its "Never"
        allowed = {c["const"]: c["title"] for c in json.loads(schema.read_text())["properties"]["fetchNews"]["oneOf"]}
        assert allowed[news] == "Never"
    assert news == "false"
