"""The notebook harness in conftest.py: skips say why, a notebook that runs nothing fails."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from rtxcourse.course.notebook import write as save_clean

ROOT = Path(__file__).resolve().parent.parent

CATALOG = """
[[lesson]]
id = "01"
notebook = "notebooks/01_runs.ipynb"
title = "runs"
quick_seconds = 5

[[lesson]]
id = "02"
notebook = "notebooks/02_needs_cluster.ipynb"
title = "needs a cluster"
min_tier = "multi-gpu"

[[lesson]]
id = "03"
notebook = "notebooks/03_does_nothing.ipynb"
title = "does nothing"
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "loadscope"]], ids=["serial", "xdist"])
def test_harness_skips_with_reason_and_fails_a_notebook_that_ran_nothing(tmp_path, workers):
    nbdir = tmp_path / "notebooks"
    save_clean(new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("assert x == 1")]), nbdir / "01_runs.ipynb")
    save_clean(new_notebook(cells=[new_code_cell("raise RuntimeError('must not run here')")]), nbdir / "02_needs_cluster.ipynb")
    save_clean(new_notebook(cells=[new_markdown_cell("only words"), new_code_cell("# NBVAL_SKIP\nx = 1")]), nbdir / "03_does_nothing.ipynb")
    (tmp_path / "lessons.toml").write_text(CATALOG)
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -ra --nbval-lax --nbval-current-env -p no:cacheprovider\n")
    env = dict(os.environ, RTXCOURSE_LESSONS=str(tmp_path / "lessons.toml"), RTXCOURSE_TIER="cpu")
    r = subprocess.run([sys.executable, "-m", "pytest", "notebooks", *workers], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    out = r.stdout + r.stderr
    assert "lesson 02 needs a multi-gpu machine; this one is cpu" in out, out
    assert "03_does_nothing.ipynb: ran no cell" in out, out
    assert "must not run here" not in out
    assert r.returncode == 1, out


def test_each_xdist_process_gets_its_share_of_the_cores_and_a_users_setting_is_kept():
    from rtxcourse.course.plugin import share_the_cores

    env = {"PYTEST_XDIST_WORKER_COUNT": "2", "MKL_NUM_THREADS": "3"}
    assert share_the_cores(env, cpus=8) == 4
    assert env["OMP_NUM_THREADS"] == env["TF_NUM_INTRAOP_THREADS"] == "4" and env["MKL_NUM_THREADS"] == "3"
    assert share_the_cores(env3 := {"PYTEST_XDIST_WORKER_COUNT": "3"}, cpus=2) == 1 and env3["OMP_NUM_THREADS"] == "1"
    serial = {}
    assert share_the_cores(serial, cpus=2) is None and serial == {}  # one process: the frameworks' defaults


class _Item:
    def __init__(self, nodeid, seconds=None):
        self.nodeid, self.path = nodeid, nodeid.split("::")[0]
        self._mark = pytest.mark.expected_seconds(seconds).mark if seconds is not None else None

    def get_closest_marker(self, name):
        return self._mark if name == "expected_seconds" else None


def test_longest_scopes_go_first_and_keep_their_items_together_in_order():
    from rtxcourse.course.plugin import longest_first

    items = [_Item("tests/test_a.py::test_1"), _Item("tests/test_g.py::TestShort::test", 10),
             _Item("tests/test_a.py::test_2"), _Item("tests/test_g.py::TestLong::test", 90),
             _Item("tests/test_b.py::test_1", 30), _Item("tests/test_b.py::test_2")]
    order = [it.nodeid for it in longest_first(items)]
    assert order == ["tests/test_g.py::TestLong::test", "tests/test_b.py::test_1", "tests/test_b.py::test_2",
                     "tests/test_g.py::TestShort::test", "tests/test_a.py::test_1", "tests/test_a.py::test_2"]


def test_a_notebooks_time_limit_stretches_only_with_load_beyond_the_cores():
    from rtxcourse.course.plugin import load_factor

    assert load_factor(0.3, 2) == load_factor(2.0, 2) == 1.0  # idle, or the suite's own two processes
    assert load_factor(4.0, 2) == 2.0  # two CPU hogs beside the suite: half a core each
    assert load_factor(3.0, 0) == 3.0  # no core count known: treated as one core
