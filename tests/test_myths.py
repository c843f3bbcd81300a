"""%%seed: run a seed snippet as written, record what it raised, never stop the notebook."""

import pytest

from rtxcourse import hardware, myths, sections


def test_attempt_records_the_exception_and_keeps_going():
    ns = {}
    out = myths.attempt("crop", "import numpy as np\nnp.random.randint(0, 0)", ns)
    assert (out.error, out.ran) == ("ValueError", False) and "high" in out.message
    assert myths.attempt("fine", "x = 2 * 21", ns).ran and ns["x"] == 42
    assert myths.outcomes()["crop"] == out
    assert "fails here: ValueError" in myths.describe(out)


def test_interrupts_are_not_swallowed():
    with pytest.raises(KeyboardInterrupt):
        myths.attempt("stop", "raise KeyboardInterrupt", {})


def test_seed_cell_is_a_framework_section(monkeypatch, capsys):
    monkeypatch.setenv("RTXCOURSE_FRAMEWORKS", "torch")
    assert myths.seed_cell("dlss --framework tf", "raise RuntimeError('must not run')", {}) is None
    assert "needs TensorFlow" in capsys.readouterr().out and "tf" in sections.skipped()
    monkeypatch.setattr(hardware, "installed", lambda module: True)
    monkeypatch.delenv("RTXCOURSE_FRAMEWORKS")
    out = myths.seed_cell("ddp --framework torch", "1 / 0", {})
    assert out.error == "ZeroDivisionError" and "torch" in sections.ran()


@pytest.mark.parametrize("line", ["", "two words", "x --framework jax", "not-an-identifier"])
def test_bad_seed_lines_are_clear_errors(line):
    with pytest.raises(ValueError, match="usage: %%seed|identifier"):
        myths.seed_cell(line, "pass", {})
