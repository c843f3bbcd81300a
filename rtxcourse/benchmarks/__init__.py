"""Benchmark suites behind `rtxcourse bench <topic>`; each uses the toolkit in rtxcourse.bench."""

from __future__ import annotations

FRAMEWORKS = ("torch", "tf")


def chosen_frameworks(framework: str, topic: str) -> list[str]:
    """The frameworks a ``--framework torch|tf|both`` benchmark runs here, in order.

    ``both`` runs whichever are installed; naming one that is not installed is a one-line error.
    """
    from rtxcourse.hardware import available_frameworks

    wanted = FRAMEWORKS if framework == "both" else (framework,)
    installed = available_frameworks()
    missing = [fw for fw in wanted if fw not in installed]
    if missing and framework != "both":
        raise SystemExit(f"rtxcourse bench {topic}: {', '.join(missing)} is not installed (pip install -e '.[{missing[0]}]')")
    return [fw for fw in wanted if fw in installed]
