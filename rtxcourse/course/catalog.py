"""The lesson catalog (``lessons.toml``): each notebook's frameworks, tier and duration as data.

The tests read it to decide which notebooks can run on this machine (and print why a notebook
is skipped), ``rtxcourse doctor`` reads it to say which lessons run at full size here, and
``rtxcourse release`` reads it to find the exercise sources.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rtxcourse.hardware import FRAMEWORKS, available_frameworks
from rtxcourse.runtime import TIERS, tier_rank

__all__ = ["FRAMEWORKS", "CatalogError", "Lesson", "available_frameworks", "by_notebook", "lesson_plan", "lessons"]

_CATALOG = Path(__file__).with_name("lessons.toml")


class CatalogError(ValueError):
    """lessons.toml is malformed: the message names the entry and the field."""


@dataclass(frozen=True)
class Lesson:
    id: str
    notebook: str
    title: str
    frameworks: tuple[str, ...] = ()
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

    def can_run(self, tier: str, available: set[str]) -> tuple[bool, str]:
        """Return (ok, reason): can this lesson run on ``tier`` with frameworks ``available``?"""
        missing = [f for f in self.frameworks if f not in available]
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
    for key in ("min_tier", "full_size_tier"):
        if entry.get(key, "cpu") not in TIERS:
            raise CatalogError(f"{where}: {key} must be one of {TIERS}, got {entry.get(key)!r}")
    known = set(Lesson.__dataclass_fields__)
    unknown = sorted(set(entry) - known)
    if unknown:  # a typo ("quick_second") must not fall back to a default silently
        raise CatalogError(f"{where}: unknown key(s) {unknown}; known keys are {sorted(known)}")
    return Lesson(**{k: v for k, v in entry.items() if k != "frameworks"}, frameworks=fws)


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
    full, reduced, cannot = [], [], []
    for lesson in lessons():
        ok, why = lesson.can_run(tier, available)
        if not ok:
            cannot.append(f"{lesson.id} ({why})")
        else:
            (full if lesson.full_size_on(tier) else reduced).append(lesson.id)
    lines = [("Full size here", ", ".join(full) or "none")]
    if reduced:
        lines.append(("Reduced size here", ", ".join(reduced) + " (they run, with smaller sizes)"))
    if cannot:
        lines.append(("Cannot run here", "; ".join(cannot)))
    return {"full_size": full, "reduced_size": reduced, "cannot_run": cannot, "lines": lines}

