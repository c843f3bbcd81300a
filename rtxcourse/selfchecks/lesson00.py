"""Self-check of lesson 00: the doctor ran, the tier follows the course's rule, precision paid off."""

from __future__ import annotations

from rtxcourse.course.checks import Claims
from rtxcourse.hardware import tier_for


def check(*, doctor_errors: dict, n_gpus: int, tier: str, doctor_tier: str, forced_tier: str | None,
          fast: str, slow: str, speedup: float, floor: float | None, typical: str) -> None:
    """Check lesson 00's claims from its evidence.

    ``n_gpus`` is the number of GPUs the doctor found, ``tier`` the tier the lesson runs at,
    ``doctor_tier`` the doctor's, ``forced_tier`` what ``RTXCOURSE_TIER`` forces (None when
    unset); ``speedup`` is ``fast``'s measured matmul rate over ``slow``'s, ``floor`` the least
    this hardware should show (None: no speed-up expected here) and ``typical`` what it says.
    """
    expected = forced_tier or tier_for(n_gpus)
    with Claims("Lesson 00") as c:
        c.check(not doctor_errors, "the doctor ran without errors", str(doctor_errors or "none"))
        c.check(tier == expected, "the lesson's tier follows the GPUs found (or RTXCOURSE_TIER)",
                f"tier {tier}, {n_gpus} GPU(s), RTXCOURSE_TIER={forced_tier or 'unset'}")
        c.check(doctor_tier == tier, "the doctor and the lesson agree on the tier", f"doctor {doctor_tier}, lesson {tier}")
        if floor is None:
            print(f"  ({fast} vs {slow}: {speedup:.2f}x; {typical})")
        else:
            c.check(speedup >= floor, f"{fast} matmuls beat {slow} as this hardware promises",
                    f"{speedup:.2f}x, at least {floor:g}x expected; {typical}")
