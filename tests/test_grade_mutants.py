"""The course's own exercises: checks that discriminate, graded by ``rtxcourse grade``.

For each exercise in the catalog, one batch (``-j 2``) grades its solution (full marks), the
copy students receive (0 points, status "graded", a message per question) and every mutant of
tests/fixtures/mutants/NN_name.toml (fewer points on its question, full marks elsewhere).
Exercises whose frameworks are not installed here are skipped, with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rtxcourse import runtime
from rtxcourse.course import catalog, mutants, notebook
from rtxcourse.course import grade as g

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "tests" / "fixtures" / "mutants"
EXERCISES = [lesson for lesson in catalog.lessons() if lesson.exercise]


def test_every_mutant_file_names_an_exercise_and_applies_cleanly():
    """Fast: a typo in a mutant file (a `find` that is not there once) fails here, not after grading."""
    names = {lesson.exercise for lesson in EXERCISES}
    for path in sorted(MUTANTS.glob("*.toml")):
        assert path.stem in names, f"{path.name}: no exercise {path.stem!r} in lessons.toml"
        source = notebook.read(ROOT / "source" / f"{path.stem}.ipynb")
        for m in mutants.load(path):
            mutants.submission(source, m, path.name)


def _discriminate(lesson, tmp_path):
    ok, why = lesson.can_run(runtime.tier(), catalog.available_frameworks())
    if not ok:
        pytest.skip(why)
    assignment = g.Assignment.load(lesson.exercise, source=ROOT / "source" / f"{lesson.exercise}.ipynb")
    if not assignment.max_points:
        pytest.skip(f"source/{lesson.exercise}.ipynb has no ck.question checks yet")
    path = MUTANTS / f"{lesson.exercise}.toml"
    found = mutants.load(path) if path.is_file() else []
    # Generous limits: a busy 2-core machine runs two kernels at once here.
    limits = g.Limits(cell_timeout=max(60, 4 * lesson.exercise_seconds), timeout=max(240, 12 * lesson.exercise_seconds))
    problems = mutants.discriminate(assignment, found, tmp_path, jobs=2, limits=limits)
    assert not problems, "\n".join(problems)


# One class per exercise, so that pytest-xdist (--dist loadscope) spreads them over its processes,
# the longest first (rtxcourse.course.plugin.longest_first).
def _expected_seconds(lesson) -> float:
    """Solution + student copy + mutants, two at a time, each with its catalog duration and a kernel start."""
    path = MUTANTS / f"{lesson.exercise}.toml"
    runs = 2 + (len(mutants.load(path)) if path.is_file() else 0)
    return runs * (lesson.exercise_seconds + 3) / 2


def _exercise_class(lesson):
    @pytest.mark.slow
    @pytest.mark.expected_seconds(_expected_seconds(lesson))
    def test_checks_discriminate(self, tmp_path):
        _discriminate(lesson, tmp_path)

    name = "TestExercise" + lesson.exercise.title().replace("_", "")
    doc = f"source/{lesson.exercise}.ipynb graded with its solution, its student copy and its mutants."
    return name, type(name, (), {"test_checks_discriminate": test_checks_discriminate, "__doc__": doc})


for _name, _cls in map(_exercise_class, EXERCISES):
    globals()[_name] = _cls
