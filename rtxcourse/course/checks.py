"""Checks for learners, framework-free: questions with points (exercises), claims (lessons).

In an exercise, each question's check cell is::

    from rtxcourse.course import checks as ck

    with ck.question("q1", points=2, hint="Did you call scaler.update() after scaler.step()?"):
        assert ...  # behaviour of the learner's code: numbers, dtypes, ratios

The block never stops the notebook: a failed assert, an exception or a
``NotImplementedError`` stub is recorded and reported on one line (with the hint), and the
notebook goes on to the next question. :func:`summary` prints the points so far;
:func:`results` is what ``rtxcourse grade`` reads. Points and ids live in the instructor's
source; ``rtxcourse release`` checks that ids are unique.

Framework paths. A check cell that starts with ``%%framework tf`` (or ``torch``) is a question
of that framework's *path*; a check outside any section belongs to every path. A learner who
installed one framework answers one path, so an exercise is scored on its best path
(:func:`best_path`: the largest share of its points, then the most points): a TensorFlow-only
and a PyTorch-only learner can each earn full marks, and answering both paths earns no more
than the better one. An exercise whose checks are all outside sections has one path, every
question. The paths of one exercise are worth the same (``tests/test_one_framework.py``).
The grader takes each question's framework from the instructor's source (``release`` stamps
it in the check cell's metadata); in the learner's kernel :func:`summary` takes it from the
section that ran the check.

A lesson's self-check collects claims and fails when any does not hold::

    with ck.Claims("Lesson 03") as c:
        c.check(ratio >= 1.5, "bf16 steps are faster than fp32", f"{ratio:.2f}x")

Each claim is printed with its numbers; leaving the block raises ``AssertionError`` naming
every claim that failed (and fails when no claim was checked at all).
"""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass
from typing import Mapping

PASSED, FAILED, ERROR, NOT_ATTEMPTED = "passed", "failed", "error", "not attempted"


@dataclass
class Result:
    question: str
    points: float
    max_points: float
    status: str
    message: str = ""
    hint: str = ""
    framework: str | None = None  # the %%framework section the check ran in (None: outside any)


_results: dict[str, Result] = {}


def _validate(qid: str, points: float) -> None:
    if not isinstance(qid, str) or not qid:
        raise ValueError(f"a question id must be a non-empty string, got {qid!r}")
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
        raise ValueError(f"question {qid!r}: points must be a positive number, got {points!r}")


class question:
    """Context manager: the block is question ``qid``'s check, worth ``points`` when it passes."""

    def __init__(self, qid: str, points: float = 1, hint: str = ""):
        _validate(qid, points)
        self.qid, self.points, self.hint = qid, points, hint

    def __enter__(self) -> "question":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and not issubclass(exc_type, Exception):
            return False  # KeyboardInterrupt, SystemExit: not ours to swallow
        if exc_type is None:
            status, message = PASSED, ""
        elif issubclass(exc_type, NotImplementedError):
            status, message = NOT_ATTEMPTED, "not answered yet (the stub still raises NotImplementedError)"
        elif issubclass(exc_type, AssertionError):
            status, message = FAILED, str(exc) or _last_line(exc, tb)
        else:
            status, message = ERROR, f"{exc_type.__name__}: {exc}"
        earned = self.points if status == PASSED else 0
        _results[self.qid] = Result(self.qid, earned, self.points, status, message, self.hint, _section())
        _print(_results[self.qid])
        return True


def _section() -> str | None:
    from rtxcourse import sections  # imports no framework

    return sections.current()


def paths(questions: Mapping[str, Mapping]) -> dict[str | None, tuple[float, float]]:
    """``{framework: (earned, available)}``: the points of each framework path of an exercise.

    ``questions`` maps ids to dicts with ``points``, ``max_points`` and ``framework`` (a
    framework's name, or None / absent for a check outside any section, which counts on every
    path). Without any framework question there is one path, keyed None, holding everything.
    """
    names = sorted({q.get("framework") for q in questions.values()} - {None})
    out = {}
    for name in names or [None]:
        mine = [q for q in questions.values() if q.get("framework") in (None, name)]
        out[name] = (sum(q["points"] for q in mine), sum(q["max_points"] for q in mine))
    return out


def best_path(questions: Mapping[str, Mapping]) -> tuple[str | None, float, float]:
    """``(framework, earned, available)`` of the path that counts: the largest share, then the most points."""
    scored = paths(questions)

    def key(name):
        earned, available = scored[name]
        return (earned / available if available else 0.0, earned, -sorted(scored, key=str).index(name))

    name = max(scored, key=key)
    return (name, *scored[name])


def _last_line(exc, tb) -> str:
    """For a bare ``assert cond``: the source line that failed."""
    frames = traceback.extract_tb(tb)
    return f"assertion failed: {frames[-1].line}" if frames and frames[-1].line else "assertion failed"


def _print(r: Result) -> None:
    mark = "✓" if r.status == PASSED else "✗"
    line = f"{mark} {r.question}: {r.points:g}/{r.max_points:g} points"
    if r.status != PASSED:
        line += f" — {r.status}: {r.message}"
        if r.hint and r.status != NOT_ATTEMPTED:
            line += f"\n  hint: {r.hint}"
    print(line)


def results() -> dict[str, dict]:
    """Every question checked so far in this kernel, JSON-ready, in the order they ran."""
    return {q: asdict(r) for q, r in _results.items()}


def reset() -> None:
    """Forget all recorded questions (the grader calls this before a submission's checks)."""
    _results.clear()


def summary() -> dict[str, float]:
    """Print the points earned so far, question by question, and return the totals (of the best path).

    With questions of several framework paths, each path's points are printed and the total
    is the best path's (what the grader counts, see the module docstring).
    """
    if not _results:
        print("No question checked yet: run the check cells above.")
        return {"points": 0, "max_points": 0}
    for r in _results.values():
        where = f"  ({r.framework} path)" if r.framework else ""
        print(f"  {r.question:<12} {r.points:g}/{r.max_points:g}  {r.status}{where}")
    found = {q: asdict(r) for q, r in _results.items()}
    scored = paths(found)
    name, earned, total = best_path(found)
    if name is None:
        print(f"Total: {earned:g}/{total:g} points")
    else:
        each = ", ".join(f"{n}: {e:g}/{m:g}" for n, (e, m) in scored.items())
        print(f"Total: {earned:g}/{total:g} points, on the {name} path (paths: {each}; the best one counts)")
    return {"points": earned, "max_points": total}


class Claims:
    """Context manager for a lesson's self-check: every claim printed, any failure raises."""

    def __init__(self, title: str):
        self.title = title
        self.passed: list[str] = []
        self.failed: list[str] = []

    def __enter__(self) -> "Claims":
        return self

    def check(self, ok, claim: str, detail: str = "") -> bool:
        """Record one claim; ``ok`` is its truth (anything truthy), ``detail`` the numbers behind it."""
        text = f"{claim} ({detail})" if detail else claim
        (self.passed if ok else self.failed).append(text)
        print(f"{'✓' if ok else '✗'} {text}")
        return bool(ok)

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            return False
        if self.failed:
            raise AssertionError(f"{self.title}: {len(self.failed)} of {len(self.failed) + len(self.passed)} "
                                 "claims do not hold here: " + "; ".join(self.failed))
        if not self.passed:
            raise AssertionError(f"{self.title}: the self-check checked nothing")
        print(f"{self.title}: all {len(self.passed)} claims hold.")
        return False
