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

A lesson's self-check collects claims and fails when any does not hold::

    with ck.Claims("Lesson 03") as c:
        c.check(ratio >= 1.5, "bf16 steps are faster than fp32", f"{ratio:.2f}x")

Each claim is printed with its numbers; leaving the block raises ``AssertionError`` naming
every claim that failed (and fails when no claim was checked at all).
"""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass

PASSED, FAILED, ERROR, NOT_ATTEMPTED = "passed", "failed", "error", "not attempted"


@dataclass
class Result:
    question: str
    points: float
    max_points: float
    status: str
    message: str = ""
    hint: str = ""


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
        _results[self.qid] = Result(self.qid, earned, self.points, status, message, self.hint)
        _print(_results[self.qid])
        return True


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
    """Print the points earned so far, question by question, and return the totals."""
    earned = sum(r.points for r in _results.values())
    total = sum(r.max_points for r in _results.values())
    for r in _results.values():
        print(f"  {r.question:<12} {r.points:g}/{r.max_points:g}  {r.status}")
    print(f"Total: {earned:g}/{total:g} points" if _results else "No question checked yet: run the check cells above.")
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
