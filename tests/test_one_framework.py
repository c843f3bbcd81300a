"""What a learner who installed one framework sees (runs for real in `make test`'s one-framework venvs).

In the full environment these tests hide a framework with RTXCOURSE_FRAMEWORKS, so they prove the
same behaviour from one environment; in a venv with one extra they check the real install.
"""

import json
import os
import subprocess
import sys

import pytest

from rtxcourse import hardware
from rtxcourse.course import catalog


def _modes():
    installed = {fw for fw, (module, _, _) in hardware.FRAMEWORKS.items() if hardware.importlib.util.find_spec(module)}
    return sorted(installed) if len(installed) > 1 else [None]  # None: this venv is a one-framework install


@pytest.mark.parametrize("only", _modes())
def test_doctor_tells_a_one_framework_learner_the_truth(only):
    env = dict(os.environ, **({"RTXCOURSE_FRAMEWORKS": only} if only else {}))
    env.pop("RTXCOURSE_LESSONS", None)
    out = subprocess.run([sys.executable, "-m", "rtxcourse", "doctor", "--json", "--no-frameworks"],
                         env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    plan = json.loads(out)["lessons"]
    here = {only} if only else hardware.available_frameworks()
    for lesson in catalog.lessons():
        ok, _ = lesson.can_run("cpu", here)
        listed = [x for x in plan["cannot_run"] if x.startswith(f"{lesson.id} ")]
        assert bool(listed) == (not ok), (lesson.id, plan)
        partial = [x for x in plan["in_part"] if x.startswith(f"{lesson.id} ")]
        assert bool(partial) == (ok and bool(lesson.missing_sections(here))), (lesson.id, plan)


def test_every_topic_runs_with_either_framework():
    """No topic is lost to a one-framework learner: each has a lesson that runs with torch alone, and one with TF alone."""
    lost = {fw: [t for t, group in catalog.topics().items() if not any(l.can_run("multi-gpu", {fw})[0] for l in group)]
            for fw in ("torch", "tf")}
    assert lost == {"torch": [], "tf": []}, f"topics a one-framework learner cannot take at all: {lost}"


def test_every_topic_has_an_exercise_for_either_framework():
    missing = {fw: [t for t, group in catalog.topics().items()
                    if not any(l.exercise and l.can_run("multi-gpu", {fw})[0] for l in group)] for fw in ("torch", "tf")}
    assert missing == {"torch": [], "tf": []}, f"topics without an exercise a one-framework learner can do: {missing}"
