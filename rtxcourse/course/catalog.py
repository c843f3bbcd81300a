"""The lesson catalog (``lessons.toml``): each notebook's frameworks, tier and duration as data.

The tests read it to decide which notebooks can run on this machine (and print why a notebook
is skipped), ``rtxcourse doctor`` reads it to say which lessons run at full size here, which
run in part (a framework's sections skipped) and which cannot run, and ``rtxcourse release``
reads it to find the exercise sources. ``frameworks`` lists what a lesson uses; ``needs``
(default: all of them) what it cannot run without. Every code cell that imports a framework
outside ``needs`` starts with ``%%framework NAME`` (:mod:`rtxcourse.sections`; the tests check it).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rtxcourse.hardware import FRAMEWORKS, available_frameworks
from rtxcourse.runtime import TIERS, tier_rank

__all__ = ["FRAMEWORKS", "CatalogError", "Lesson", "available_frameworks", "by_notebook", "lesson_plan", "lessons", "topics", "workshop_plan"]

_CATALOG = Path(__file__).with_name("lessons.toml")


class CatalogError(ValueError):
    """lessons.toml is malformed: the message names the entry and the field."""


@dataclass(frozen=True)
class Lesson:
    id: str
    notebook: str
    title: str
    frameworks: tuple[str, ...] = ()
    needs: tuple[str, ...] | None = None  # None: every framework in `frameworks`
    topic: str = ""  # lessons teaching one topic in different frameworks share it ("" : the lesson's own)
    min_tier: str = "cpu"
    full_size_tier: str = "cpu"
    quick_seconds: float = 60
    exercise: str | None = None
    exercise_seconds: float = 60

    @property
    def stem(self) -> str:
        return Path(self.notebook).stem

    def full_size_on(self, tier: str) -> bool:
        """True when this lesson runs at its full size on a machine of ``tier``."""
        return tier_rank(tier) >= tier_rank(self.full_size_tier)

    @property
    def required(self) -> tuple[str, ...]:
        """The frameworks without which the lesson cannot run at all."""
        return self.frameworks if self.needs is None else self.needs

    def missing_sections(self, available: set[str]) -> list[str]:
        """Frameworks whose ``%%framework`` sections will be skipped with ``available`` installed."""
        return [f for f in self.frameworks if f not in available and f not in self.required]

    def can_run(self, tier: str, available: set[str]) -> tuple[bool, str]:
        """Return (ok, reason): can this lesson run on ``tier`` with frameworks ``available``?"""
        missing = [f for f in self.required if f not in available]
        if missing:
            extras = " or ".join(f"'.[{m}]'" for m in missing)
            return False, f"lesson {self.id} needs {', '.join(missing)} (pip install -e {extras})"
        if tier_rank(tier) < tier_rank(self.min_tier):
            return False, f"lesson {self.id} needs a {self.min_tier} machine; this one is {tier}"
        return True, ""


def _lesson(entry: dict, index: int) -> Lesson:
    where = f"lessons.toml entry {index + 1} ({entry.get('id', 'no id')})"
    for key in ("id", "notebook", "title"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise CatalogError(f"{where}: '{key}' must be a non-empty string")
    fws = tuple(entry.get("frameworks", ()))
    bad = [f for f in fws if f not in FRAMEWORKS]
    if bad:
        raise CatalogError(f"{where}: unknown framework(s) {bad}; use {sorted(FRAMEWORKS)}")
    needs = None if "needs" not in entry else tuple(entry["needs"])
    if needs is not None and not set(needs) <= set(fws):
        raise CatalogError(f"{where}: 'needs' {list(needs)} must be a subset of 'frameworks' {list(fws)}")
    for key in ("min_tier", "full_size_tier"):
        if entry.get(key, "cpu") not in TIERS:
            raise CatalogError(f"{where}: {key} must be one of {TIERS}, got {entry.get(key)!r}")
    known = set(Lesson.__dataclass_fields__)
    unknown = sorted(set(entry) - known)
    if unknown:  # a typo ("quick_second") must not fall back to a default silently
        raise CatalogError(f"{where}: unknown key(s) {unknown}; known keys are {sorted(known)}")
    return Lesson(**{k: v for k, v in entry.items() if k not in ("frameworks", "needs")}, frameworks=fws, needs=needs)


@lru_cache(maxsize=None)
def lessons(path: str | None = None) -> tuple[Lesson, ...]:
    """All lessons in order, validated (``RTXCOURSE_LESSONS`` may point at another catalog file)."""
    p = Path(path or os.environ.get("RTXCOURSE_LESSONS") or _CATALOG)
    with open(p, "rb") as f:
        data = tomllib.load(f)
    out = tuple(_lesson(e, i) for i, e in enumerate(data.get("lesson", [])))
    ids = [lesson.id for lesson in out]
    if len(set(ids)) != len(ids):
        raise CatalogError(f"{p.name}: duplicate lesson ids in {ids}")
    return out


def topics() -> dict[str, list[Lesson]]:
    """Lessons grouped by topic (a lesson without a topic is a topic of its own)."""
    out: dict[str, list[Lesson]] = {}
    for lesson in lessons():
        out.setdefault(lesson.topic or lesson.id, []).append(lesson)
    return out


def by_notebook(path: str | Path) -> Lesson | None:
    """The lesson whose notebook, exercise or solution is ``path`` (matched by file name)."""
    name = Path(path).stem
    for lesson in lessons():
        if name in (lesson.stem, lesson.exercise):
            return lesson
    return None


def lesson_plan(tier: str, available: set[str] | None = None) -> dict:
    """Which lessons run here at full size, at reduced size, or not at all, as doctor lines."""
    available = available_frameworks() if available is None else available
    full, reduced, partial, cannot = [], [], [], []
    for lesson in lessons():
        ok, why = lesson.can_run(tier, available)
        if not ok:
            twins = [t.id for t in lessons() if t.topic and t.topic == lesson.topic and t.can_run(tier, available)[0]]
            also = f"; its topic runs here in lesson {', '.join(twins)}" if twins else ""
            cannot.append(f"{lesson.id} ({why}{also})")
            continue
        (full if lesson.full_size_on(tier) else reduced).append(lesson.id)
        skipped = lesson.missing_sections(available)
        if skipped:
            names = ", ".join(FRAMEWORKS[f][1] for f in skipped)
            extras = " or ".join(f"'.[{f}]'" for f in skipped)
            partial.append(f"{lesson.id} (skips its {names} sections: pip install -e {extras})")
    lines = [("Full size here", ", ".join(full) or "none")]
    if reduced:
        lines.append(("Reduced size here", ", ".join(reduced) + " (they run, with smaller sizes)"))
    if partial:
        lines.append(("In part here", "; ".join(partial)))
    if cannot:
        lines.append(("Cannot run here", "; ".join(cannot)))
    return {"full_size": full, "reduced_size": reduced, "in_part": partial, "cannot_run": cannot, "lines": lines}



_GPU = {"cpu": "no", "1-gpu": "1 GPU", "multi-gpu": "2+ GPUs"}
PLAN_MARKERS = ("<!-- plan: begin (rtxcourse grade --plan) -->\n", "\n<!-- plan: end -->")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def workshop_plan() -> str:
    """The workshop plan as a Markdown table: per lesson its frameworks, GPU needs and run times.

    docs/instructors.md holds this table verbatim between :data:`PLAN_MARKERS` (a test compares
    them; :func:`refresh_plan` rewrites it) and ``rtxcourse grade --plan`` prints it, so the
    plan follows lessons.toml.
    """
    rows = ["| Lesson | Topic | Frameworks | GPU needed | Full size on | Notebook run, quick (2-core CPU) "
            "| Exercise | Exercise run, quick |", "|---|---|---|---|---|---|---|---|"]
    total = 0.0
    for lesson in lessons():
        if not lesson.frameworks:
            fws = "none"
        elif lesson.required:
            fws = " + ".join(lesson.required) + "".join(f" (+ {f} optional)" for f in lesson.frameworks if f not in lesson.required)
        else:
            fws = " or ".join(lesson.frameworks) + (" (optional)" if len(lesson.frameworks) == 1 else "")
        title = lesson.title.split(":")[0]
        exercise = f"`{lesson.exercise}`" if lesson.exercise else "—"
        ex_time = _minutes(lesson.exercise_seconds) if lesson.exercise else "—"
        total += lesson.quick_seconds + (lesson.exercise_seconds if lesson.exercise else 0)
        rows.append(f"| {lesson.id} | {title} | {fws} | {_GPU[lesson.min_tier]} | {_GPU[lesson.full_size_tier].replace('no', 'CPU')} "
                    f"| {_minutes(lesson.quick_seconds)} | {exercise} | {ex_time} |")
    rows.append(f"\nEvery notebook and exercise once, in quick mode on a 2-core CPU: {_minutes(total)} of machine time.")
    return "\n".join(rows)


def plan_in(text: str) -> str:
    """The workshop plan a document holds between :data:`PLAN_MARKERS` (raises if it has none)."""
    begin, end = PLAN_MARKERS
    if begin not in text or end not in text.split(begin, 1)[1]:
        raise CatalogError(f"no workshop plan between {begin.strip()!r} and {end.strip()!r}")
    return text.split(begin, 1)[1].split(end, 1)[0]


def refresh_plan(path: str | Path) -> bool:
    """Rewrite the workshop plan in the document at ``path`` from lessons.toml; True if it changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    old, new = plan_in(text), workshop_plan()
    if old == new:
        return False
    begin, end = PLAN_MARKERS
    path.write_text(text.replace(begin + old + end, begin + new + end), encoding="utf-8")
    return True
