"""What a learner who installed one framework sees (runs for real in `make test`'s one-framework venvs).

In the full environment these tests hide a framework with RTXCOURSE_FRAMEWORKS, so they prove the
same behaviour from one environment; in a venv with one extra they check the real install.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rtxcourse import hardware, runtime
from rtxcourse.course import catalog, checks, grade


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


# ---------------------------------------------------------------- points a one-framework learner can earn

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = [lesson for lesson in catalog.lessons() if lesson.exercise]


def _assignment(lesson):
    return grade.Assignment.load(lesson.exercise, source=ROOT / "source" / f"{lesson.exercise}.ipynb")


def _offered(assignment, framework: str) -> float:
    """The points a learner with only ``framework`` can earn: its path's questions and the shared ones."""
    return sum(m for q, m in assignment.max_points.items() if assignment.frameworks.get(q) in (None, framework))


def _learners(lesson) -> list[str]:
    """The one-framework learners who can take this exercise (its lesson runs with that framework alone)."""
    return [fw for fw in ("torch", "tf") if lesson.can_run("multi-gpu", {fw})[0]]


@pytest.mark.parametrize("lesson", EXERCISES, ids=lambda lesson: lesson.exercise)
def test_each_one_framework_learner_has_full_marks_to_earn(lesson):
    """From the check cells' metadata: every framework path is a real set of points, worth as much as the others."""
    assignment = _assignment(lesson)
    offered = {fw: _offered(assignment, fw) for fw in _learners(lesson)}
    assert all(points > 0 for points in offered.values()), f"a one-framework learner can earn nothing: {offered}"
    assert len(set(offered.values())) <= 1, f"the framework paths are worth different points: {offered}"
    strangers = {q: fw for q, fw in assignment.frameworks.items() if fw not in lesson.frameworks}
    assert not strangers, f"checks of a framework the lesson does not list: {strangers}"
    if len(offered) > 1 or assignment.frameworks:  # with several paths, best_path must give each its full marks
        for fw, points in offered.items():
            questions = {q: {"points": m if assignment.frameworks.get(q) in (None, fw) else 0.0, "max_points": m,
                             "framework": assignment.frameworks.get(q)} for q, m in assignment.max_points.items()}
            assert checks.best_path(questions)[1:] == (points, points), (fw, checks.best_path(questions))


def _one_framework_gradings():
    """(exercise, framework) for every exercise with framework checks and each one-framework learner of it."""
    for lesson in EXERCISES:
        if _assignment(lesson).frameworks:
            yield from ((lesson, fw) for fw in _learners(lesson))


@pytest.mark.slow
@pytest.mark.expected_seconds(sum(lesson.exercise_seconds + 3 for lesson, _ in _one_framework_gradings()) / 2)
def test_the_solutions_earn_full_marks_with_one_framework(tmp_path):
    """Graded for real, the other framework hidden: its checks are skipped and the learner's own path earns full marks.

    Two gradings at a time (each its own kernel, with its own RTXCOURSE_FRAMEWORKS). In a
    one-framework venv the full environment's run of this test has already shown both learners.
    """
    if _modes() == [None]:
        pytest.skip("a one-framework install: the full environment grades both one-framework learners")
    tier, here = runtime.tier(), catalog.available_frameworks()
    cases = [(lesson, fw) for lesson, fw in _one_framework_gradings() if lesson.can_run(tier, here)[0]]
    assert {lesson.exercise for lesson, _ in cases} >= {"07_activation_memory", "10_training_best_practices"}

    def run(case):
        lesson, only = case
        assignment = _assignment(lesson)
        limits = grade.Limits(cell_timeout=max(60, 4 * lesson.exercise_seconds), timeout=max(240, 12 * lesson.exercise_seconds))
        batch = grade.Batch(assignment, limits, env={"RTXCOURSE_FRAMEWORKS": only})
        return assignment, batch.grade(grade.Submission("solution", ROOT / "solutions" / f"{lesson.exercise}.ipynb"))

    problems = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (lesson, only), (assignment, result) in zip(cases, pool.map(run, cases)):
            offered = _offered(assignment, only)
            lost = {q: f"{r['status']}: {r['message'][:200]}" for q, r in result.questions.items()
                    if assignment.frameworks.get(q) in (None, only) and r["points"] < r["max_points"]}
            others = {q: r["status"] for q, r in result.questions.items() if assignment.frameworks.get(q) not in (None, only)}
            if (lost or result.status != grade.GRADED or (result.path, result.total, result.max_points) != (only, offered, offered)
                    or not offered or set(others.values()) - {"not run"}):
                problems.append(f"{lesson.exercise} with only {only}: {result.status} {result.total:g}/{result.max_points:g} "
                                f"on path {result.path} (offered {offered:g}); lost {lost}; other framework's checks {others}")
    assert not problems, "\n".join(problems)
