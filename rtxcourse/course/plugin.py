"""The course's pytest plugin (loaded by the repository's conftest.py) for unit tests and notebooks.

* Quick mode is on for every test and every notebook kernel (RTXCOURSE_QUICK=1).
* Each notebook's needs come from rtxcourse/course/lessons.toml: a notebook that cannot run here
  (framework missing, tier too small) is skipped with the reason printed in the summary.
* A runnable notebook that executed no cell, or that ran far longer than its catalog
  duration, fails the session.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

os.environ["RTXCOURSE_QUICK"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")  # notebooks plot, CI has no display

# Thread pools sized for the whole machine, once per test process: with pytest-xdist's processes
# side by side, every framework's pool would spin on cores the other process is using, and a
# lesson's tight loop of small operations then measured up to 20x slower than alone (OpenMP
# threads wait for a descheduled partner at each barrier). Each process (and every kernel or
# worker it starts, which inherit the environment) gets its share of the cores instead; a value
# the user set is kept.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def share_the_cores(environ=os.environ, cpus: int | None = None) -> int | None:
    """Give each of ``PYTEST_XDIST_WORKER_COUNT`` test processes its share of the cores; return it."""
    processes = int(environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if processes <= 1:
        return None
    threads = max(1, (cpus or os.cpu_count() or 1) // processes)
    for name in THREAD_VARIABLES:
        environ.setdefault(name, str(threads))
    return threads


share_the_cores()

ROOT = Path.cwd()  # replaced by pytest's rootdir in pytest_configure
# A notebook may take this many times its catalog quick_seconds (plus kernel start-up slack)
# before the session fails: the catalog must stay honest about durations.
DURATION_FACTOR, DURATION_SLACK_S = 3.0, 30.0

# Filled from test reports only, so the checks also hold under pytest-xdist (the controller sees
# every worker's reports; the workers' own sessionfinish does not decide the exit status).
_nb_runnable: set[Path] = set()
_nb_seconds: dict[Path, float] = defaultdict(float)
_nb_passed: dict[Path, int] = defaultdict(int)
_nb_load_seconds: dict[Path, float] = defaultdict(float)  # run-queue length x seconds, per notebook


def machine_load() -> float:
    """The 1-minute load average: processes running or waiting for a core."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def load_factor(load: float, cpus: int) -> float:
    """How much longer work takes than on the idle machine when ``load`` processes share ``cpus`` cores.

    A notebook's catalog duration is for the 2-core machine to itself (the suite's own processes
    included: they are about one per core); when other programs keep more processes running than
    there are cores, each gets ``cpus / load`` of a core, and the notebook's wall-clock limit
    stretches by the inverse. Never below 1.
    """
    return max(1.0, load / max(cpus, 1))


def pytest_configure(config):
    global ROOT
    ROOT = Path(config.rootpath).resolve()
    config.addinivalue_line("markers", "expected_seconds(s): how long the test (or its class) takes; "
                                       "longer scopes are scheduled first")


def _is_notebook_item(item) -> bool:
    return str(item.path).endswith(".ipynb")


def scope_of(nodeid: str) -> str:
    """pytest-xdist's ``--dist loadscope`` unit: the class for a method, else the file (a notebook's cells)."""
    return nodeid.rsplit("::", 1)[0]


def expected_seconds(item) -> float:
    """How long an item's scope should take: a notebook's catalog duration, or ``expected_seconds(s)``."""
    mark = item.get_closest_marker("expected_seconds")
    if mark is not None:
        return float(mark.args[0])
    if _is_notebook_item(item):
        seconds = _catalog_seconds(Path(item.path))
        return seconds or 0.0
    return 0.0


def longest_first(items) -> list:
    """``items`` with whole scopes ordered by expected duration, longest first, each scope's items in order.

    With ``--dist loadscope --no-loadscope-reorder`` the processes take scopes in this order, so the
    long notebooks and gradings start first and the many short unit tests fill the gaps at the end
    (xdist's own reordering sorts by the number of tests, which sent the 1-test gradings last).
    """
    first_index, cost = {}, defaultdict(float)
    for i, item in enumerate(items):
        scope = scope_of(item.nodeid)
        first_index.setdefault(scope, i)
        cost[scope] = max(cost[scope], expected_seconds(item))
    return sorted(items, key=lambda it: (-cost[scope_of(it.nodeid)], first_index[scope_of(it.nodeid)]))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    from rtxcourse import runtime
    from rtxcourse.course import catalog

    items[:] = longest_first(items)

    tier, available = runtime.tier(), catalog.available_frameworks()
    for item in items:
        if not _is_notebook_item(item):
            continue
        path = Path(item.path)
        lesson = catalog.by_notebook(path)
        if lesson is None:
            item.add_marker(pytest.mark.skip(reason=f"{path.name} is not in rtxcourse/course/lessons.toml (test_catalog fails on this)"))
            continue
        ok, reason = lesson.can_run(tier, available)
        if not ok:
            item.add_marker(pytest.mark.skip(reason=reason))


def _catalog_seconds(path: Path) -> float | None:
    """The catalog's quick-mode duration of a lesson (or of its exercise's notebooks); None if unknown."""
    from rtxcourse.course import catalog

    lesson = catalog.by_notebook(path)
    if lesson is None:
        return None
    return lesson.quick_seconds if path.stem == lesson.stem else lesson.exercise_seconds


def _limit_s(path: Path) -> float | None:
    seconds = _catalog_seconds(path)
    return None if seconds is None else seconds * DURATION_FACTOR + DURATION_SLACK_S


def pytest_runtest_logreport(report):
    path = Path(report.fspath) if report.fspath else None
    if path is None or path.suffix != ".ipynb":
        return
    path = (ROOT / path).resolve() if not path.is_absolute() else path
    _nb_seconds[path] += report.duration
    _nb_load_seconds[path] += report.duration * machine_load()
    if report.when == "setup" and not report.skipped:
        _nb_runnable.add(path)
    if report.when == "call" and report.passed:
        _nb_passed[path] += 1


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller checks
        return
    problems = []
    for path in sorted(_nb_runnable):
        limit = _limit_s(path)
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if _nb_passed.get(path, 0) == 0 and session.testsfailed == 0:
            problems.append(f"{rel}: ran no cell (a notebook that runs nothing proves nothing)")
        seconds = _nb_seconds.get(path, 0.0)
        load = _nb_load_seconds.get(path, 0.0) / seconds if seconds > 0 else 0.0
        factor = load_factor(load, os.cpu_count() or 1)
        if limit is not None and seconds > limit * factor:
            problems.append(
                f"{rel}: took {seconds:.0f} s in quick mode, over its limit of {limit * factor:.0f} s "
                f"({limit:.0f} s on this machine alone, x{factor:.1f} for a mean load of {load:.1f}) "
                "(shrink the quick sizes or correct quick_seconds in rtxcourse/course/lessons.toml)"
            )
    if problems:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr:
            tr.section("notebook checks", sep="=", red=True)
            for p in problems:
                tr.line(p, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT

