"""%%framework sections and the RTXCOURSE_FRAMEWORKS switch that proves one-framework installs."""

import subprocess
from pathlib import Path
import sys

import pytest

from rtxcourse import hardware, sections


class FakeShell:
    def __init__(self, ok=True):
        self.ok, self.ran = ok, []

    def run_cell(self, cell, store_history=False):
        self.ran.append(cell)
        return type("R", (), {"success": self.ok})()


def test_hidden_framework_is_not_available(monkeypatch):
    monkeypatch.setenv("RTXCOURSE_FRAMEWORKS", "torch")
    assert hardware.hidden_frameworks() == {"tf"}
    assert not hardware.installed("tensorflow") and not hardware.installed("keras")
    assert "tf" not in hardware.available_frameworks()
    monkeypatch.setenv("RTXCOURSE_FRAMEWORKS", "jax")
    with pytest.raises(ValueError, match="RTXCOURSE_FRAMEWORKS names \\['jax'\\]"):
        hardware.hidden_frameworks()


def test_section_of_a_missing_framework_prints_one_line_and_runs_nothing(monkeypatch, capsys):
    monkeypatch.setenv("RTXCOURSE_FRAMEWORKS", "torch")
    shell = FakeShell()
    sections.run_section("tf", "raise RuntimeError('must not run')", shell)
    assert shell.ran == [] and "tf" in sections.skipped()
    assert capsys.readouterr().out.strip() == "⏭ This section needs TensorFlow: pip install -e '.[tf]' (skipped here)"


def test_section_of_an_available_framework_runs_and_failures_fail_the_cell(monkeypatch):
    monkeypatch.delenv("RTXCOURSE_FRAMEWORKS", raising=False)
    monkeypatch.setattr(hardware, "installed", lambda module: True)
    shell = FakeShell()
    sections.run_section(" torch ", "x = 1", shell)
    assert shell.ran == ["x = 1"] and "torch" in sections.ran()
    with pytest.raises(sections.SectionFailed):
        sections.run_section("torch", "1 / 0", FakeShell(ok=False))
    with pytest.raises(ValueError, match="takes one of"):
        sections.run_section("jax", "x", shell)


def test_hidden_framework_cannot_be_imported_after_setup():
    code = ("import rtxcourse as rc; rc.setup(verbose=False)\n"
            "try:\n    import tensorflow\nexcept ModuleNotFoundError as e:\n    print('refused:', e)\n"
            "import numpy; print('numpy ok')")
    env = {"RTXCOURSE_FRAMEWORKS": "torch", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60).stdout
    assert "refused: No module named 'tensorflow' (hidden by RTXCOURSE_FRAMEWORKS)" in out and "numpy ok" in out


def test_probing_a_hidden_framework_does_not_raise():
    """torch.optim imports dynamo, which probes for TensorFlow with importlib.util.find_spec: no crash."""
    code = ("import rtxcourse as rc; rc.setup(verbose=False)\n"
            "import importlib.util\nspec = importlib.util.find_spec('tensorflow')\n"
            "print('origin', spec.origin)\n"
            "try:\n    import keras.layers\nexcept ModuleNotFoundError as e:\n    print('refused:', e.name)\n")
    env = {"RTXCOURSE_FRAMEWORKS": "torch", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "origin None" in out.stdout and "refused: keras" in out.stdout, out.stderr[-2000:]


def test_current_names_the_section_running_now(monkeypatch):
    """checks.question reads it: a learner's summary scores each framework's questions apart."""
    monkeypatch.delenv("RTXCOURSE_FRAMEWORKS", raising=False)
    monkeypatch.setattr(hardware, "installed", lambda module: True)
    seen = []

    class Recording(FakeShell):
        def run_cell(self, cell, store_history=False):
            seen.append(sections.current())
            return super().run_cell(cell, store_history)

    assert sections.current() is None
    sections.run_section("tf", "x = 1", Recording())
    with pytest.raises(sections.SectionFailed):
        sections.run_section("torch", "1 / 0", Recording(ok=False))
    assert seen == ["tf", "torch"] and sections.current() is None  # reset after a failing section too
